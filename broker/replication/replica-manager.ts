/**
 * Replication on one broker (docs/replication.md): for every partition this broker holds, it is
 * either the leader or a follower, as the followed metadata says.
 *
 * Leader: keeps a LeaderState per partition (follower positions, caught-up times), answers
 * follower fetches (divergence check, position update, high watermark), and advances the high
 * watermark to the lowest log end over the ISR the metadata gives. It also computes which
 * followers should leave or join the ISR (isrChanges) for the controller work that will commit
 * such changes through the coordinator; it does not change the ISR itself.
 *
 * Follower: one ReplicaFetcher per leader broker, started, re-pointed and stopped as leadership
 * changes in the metadata.
 *
 * Partitions with one replica keep the single-node behaviour: the high watermark follows the log
 * end (PartitionLog.autoHighWatermark).
 */
import type { Logger } from 'pino';
import type { Connection, ConnectionOptions } from '../../client/index.js';
import type * as M from '../../proto/messages.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { PartitionLog } from '../log/index.js';
import type { BrokerView, PartitionView } from '../server/metadata-view.js';
import { LeaderState, type FollowerState, type IsrChanges } from './leader-state.js';
import { ReplicaFetcher, partitionKey, type FollowedPartition } from './replica-fetcher.js';

export interface ReplicationOptions {
  /** How the fetchers reach leaders. The native client's connect(), or a test's. */
  readonly connect: (options: ConnectionOptions) => Promise<Connection>;
  /** replica.lag.time.max.ms: a follower not caught up for this long should leave the ISR. Default 30 000. */
  readonly replicaLagTimeMaxMs?: number;
  /** Long-poll wait of a follower's fetch. Default 500. */
  readonly fetchMaxWaitMs?: number;
  /** Bytes per partition per follower fetch. Default 1 MiB. */
  readonly fetchPartitionMaxBytes?: number;
  /** Pause after a failed follower fetch. Default 200. */
  readonly fetchBackoffMs?: number;
}

export interface PartitionReplicationStatus {
  readonly topic: string;
  readonly partition: number;
  readonly role: 'leader' | 'follower';
  readonly leaderEpoch: number;
  readonly logEndOffset: number;
  readonly highWatermark: number;
  readonly isr: readonly number[];
  /** Leader only: per follower, its log end and caught-up time. */
  readonly followers: readonly FollowerState[];
  /** Leader only: what the ISR should become (not applied here; see the file comment). */
  readonly isrChanges: IsrChanges;
  /** Leader only: ISR members below the leader's log end, in offsets (replica lag). */
  readonly maxLagOffsets: number;
}

/** What the manager needs to know about one partition this broker holds. */
export interface HeldPartition {
  readonly topic: string;
  readonly view: PartitionView;
  readonly log: PartitionLog;
}

interface Led {
  readonly topic: string;
  view: PartitionView;
  readonly log: PartitionLog;
  readonly state: LeaderState;
  readonly unsubscribe: () => void;
}

export class ReplicaManager {
  readonly #nodeId: number;
  readonly #options: ReplicationOptions;
  readonly #logger: Logger;
  readonly #nowMs: () => number;
  readonly #brokers: () => Iterable<BrokerView>;
  readonly #led = new Map<string, Led>();
  readonly #followed = new Map<string, FollowedPartition & { leaderId: number }>();
  readonly #fetchers = new Map<number, ReplicaFetcher>();

  constructor(nodeId: number, options: ReplicationOptions, brokers: () => Iterable<BrokerView>, logger: Logger, nowMs: () => number) {
    this.#nodeId = nodeId;
    this.#options = options;
    this.#brokers = brokers;
    this.#logger = logger.child({ component: 'replication' });
    this.#nowMs = nowMs;
  }

  /**
   * Applies the metadata's roles to every partition this broker holds: becomes leader (records
   * the new leader epoch in the log first), follower (fetcher of the leader), or neither (no
   * leader: stops fetching). Partitions not in `held` stop being led or followed.
   */
  async reconcile(held: readonly HeldPartition[]): Promise<void> {
    const keep = new Set<string>();
    const followed = new Map<string, FollowedPartition & { leaderId: number }>();
    for (const { topic, view, log } of held) {
      const key = partitionKey(topic, view.partition);
      keep.add(key);
      if (view.leader === this.#nodeId) {
        await this.#lead(key, topic, view, log);
      } else {
        this.#stopLeading(key);
        log.autoHighWatermark = false;
        if (view.leader > 0) {
          const previous = this.#followed.get(key);
          const same = previous !== undefined && previous.log === log && previous.leaderEpoch === view.leaderEpoch && previous.leaderId === view.leader;
          followed.set(key, same ? previous : { topic, partition: view.partition, leaderEpoch: view.leaderEpoch, log, leaderId: view.leader });
        }
      }
    }
    for (const key of this.#led.keys()) if (!keep.has(key)) this.#stopLeading(key);
    this.#followed.clear();
    for (const [key, value] of followed) this.#followed.set(key, value);
    await this.#updateFetchers();
  }

  async #lead(key: string, topic: string, view: PartitionView, log: PartitionLog): Promise<void> {
    const current = this.#led.get(key);
    if (current !== undefined && current.log === log && current.view.leaderEpoch === view.leaderEpoch) {
      current.view = view;
      this.#advance(current);
      return;
    }
    this.#stopLeading(key);
    const replicated = view.replicas.length > 1;
    log.autoHighWatermark = !replicated;
    if (replicated) await log.startLeaderEpoch(view.leaderEpoch);
    const led: Led = {
      topic,
      view,
      log,
      state: new LeaderState(this.#nodeId, view.replicas, this.#nowMs()),
      unsubscribe: log.onLogEnd(() => this.#advance(led)),
    };
    this.#led.set(key, led);
    this.#advance(led);
    this.#logger.info({ topic, partition: view.partition, leaderEpoch: view.leaderEpoch, logEndOffset: log.logEndOffset }, 'leading partition');
  }

  #stopLeading(key: string): void {
    const led = this.#led.get(key);
    if (led === undefined) return;
    led.unsubscribe();
    this.#led.delete(key);
  }

  /** Moves the high watermark of a led, replicated partition to the lowest log end over the ISR. */
  #advance(led: Led): void {
    if (led.view.replicas.length <= 1) return;
    const { log } = led;
    const next = led.state.highWatermark(led.view.isr, log.logEndOffset, log.highWatermark);
    if (next > log.highWatermark) log.setHighWatermark(next);
  }

  async #updateFetchers(): Promise<void> {
    const byLeader = new Map<number, Map<string, FollowedPartition>>();
    for (const [key, followed] of this.#followed) {
      let map = byLeader.get(followed.leaderId);
      if (map === undefined) byLeader.set(followed.leaderId, (map = new Map<string, FollowedPartition>()));
      map.set(key, followed);
    }
    for (const [leaderId, fetcher] of this.#fetchers) {
      if (byLeader.has(leaderId)) continue;
      this.#fetchers.delete(leaderId);
      await fetcher.close();
    }
    for (const [leaderId, partitions] of byLeader) {
      let fetcher = this.#fetchers.get(leaderId);
      if (fetcher === undefined) {
        fetcher = new ReplicaFetcher({
          nodeId: this.#nodeId,
          leaderId,
          address: () => {
            for (const broker of this.#brokers()) if (broker.nodeId === leaderId) return { host: broker.host, port: broker.port };
            return undefined;
          },
          connect: this.#options.connect,
          logger: this.#logger,
          maxWaitMs: this.#options.fetchMaxWaitMs ?? 500,
          partitionMaxBytes: this.#options.fetchPartitionMaxBytes ?? 1 << 20,
          backoffMs: this.#options.fetchBackoffMs ?? 200,
        });
        this.#fetchers.set(leaderId, fetcher);
      }
      fetcher.set(partitions);
    }
  }

  /**
   * Leader side of one partition of a fetch: checks the request's leader epoch, and for a
   * follower the divergence of its log and its place in the replica set, then records its
   * position (which may advance the high watermark). Returns the answer to send instead of
   * records (an error or a diverging epoch), or the offset up to which the fetch may read.
   */
  checkFetch(
    topic: string,
    view: PartitionView,
    log: PartitionLog,
    replicaId: number,
    request: M.FetchPartition,
  ): { refuse: StreamBusError } | { diverging: M.FetchEpochEndOffset } | { maxOffset: number } {
    const context = { topic, partition: view.partition };
    const epoch = request.currentLeaderEpoch ?? -1;
    if (epoch >= 0 && epoch < view.leaderEpoch) {
      return { refuse: new StreamBusError(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${epoch} is older than ${view.leaderEpoch}`, { context }) };
    }
    if (epoch > view.leaderEpoch) {
      return { refuse: new StreamBusError(ErrorCode.UNKNOWN_LEADER_EPOCH, `leader epoch ${epoch} is newer than ${view.leaderEpoch}`, { context }) };
    }
    if (replicaId <= 0) return { maxOffset: log.highWatermark };
    const led = this.#led.get(partitionKey(topic, view.partition));
    if (led === undefined || !led.state.isFollower(replicaId)) {
      return {
        refuse: new StreamBusError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${replicaId} is not a follower of ${topic}-${view.partition} here`, { context }),
      };
    }
    const lastFetchedEpoch = request.lastFetchedEpoch ?? -1;
    if (lastFetchedEpoch >= 0) {
      const end = log.endOffsetForEpoch(lastFetchedEpoch);
      if (end.epoch !== lastFetchedEpoch || end.endOffset < request.fetchOffset) return { diverging: end };
    }
    led.state.recordFetch(replicaId, request.fetchOffset, log.logEndOffset, this.#nowMs());
    this.#advance(led);
    return { maxOffset: log.logEndOffset };
  }

  /**
   * acks=all: resolves once the high watermark covers `endOffset` (every ISR member has the
   * batch), rejects with REQUEST_TIMED_OUT after `timeoutMs` (the batch stays written: a retry may
   * duplicate it), or with NOT_LEADER_OR_FOLLOWER if this broker stops leading meanwhile.
   */
  waitForHighWatermark(topic: string, partition: number, log: PartitionLog, endOffset: number, timeoutMs: number): Promise<void> {
    if (log.highWatermark >= endOffset) return Promise.resolve();
    const key = partitionKey(topic, partition);
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (log.highWatermark >= endOffset) finish();
        else if (!this.#led.has(key)) finish(new StreamBusError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${this.#nodeId} stopped leading ${topic}-${partition}`));
      };
      const finish = (error?: StreamBusError): void => {
        clearTimeout(timer);
        clearInterval(poll);
        unsubscribe();
        if (error === undefined) resolve();
        else reject(error);
      };
      const unsubscribe = log.onAppend(check);
      const timer = setTimeout(
        () =>
          finish(
            new StreamBusError(
              ErrorCode.REQUEST_TIMED_OUT,
              `the in-sync replicas of ${topic}-${partition} did not all acknowledge offset ${endOffset - 1} within ${timeoutMs} ms`,
              { context: { topic, partition } },
            ),
          ),
        timeoutMs,
      );
      // Leadership loss has no event of its own on the log; checked a few times a second.
      const poll = setInterval(check, 250);
    });
  }

  /** Per partition: role, positions and what the ISR should become (the method the controller work will call). */
  status(): PartitionReplicationStatus[] {
    const nowMs = this.#nowMs();
    const lagMaxMs = this.#options.replicaLagTimeMaxMs ?? 30_000;
    const result: PartitionReplicationStatus[] = [];
    for (const led of this.#led.values()) {
      const { log, view } = led;
      const followers = led.state.followers();
      let maxLagOffsets = 0;
      for (const follower of followers) {
        if (view.isr.includes(follower.replicaId)) maxLagOffsets = Math.max(maxLagOffsets, log.logEndOffset - Math.max(0, follower.logEndOffset));
      }
      result.push({
        topic: led.topic,
        partition: view.partition,
        role: 'leader',
        leaderEpoch: view.leaderEpoch,
        logEndOffset: log.logEndOffset,
        highWatermark: log.highWatermark,
        isr: view.isr,
        followers,
        isrChanges: led.state.isrChanges(view.isr, log.highWatermark, nowMs, lagMaxMs),
        maxLagOffsets,
      });
    }
    for (const followed of this.#followed.values()) {
      result.push({
        topic: followed.topic,
        partition: followed.partition,
        role: 'follower',
        leaderEpoch: followed.leaderEpoch,
        logEndOffset: followed.log.logEndOffset,
        highWatermark: followed.log.highWatermark,
        isr: [],
        followers: [],
        isrChanges: { shouldLeave: [], shouldJoin: [] },
        maxLagOffsets: 0,
      });
    }
    return result;
  }

  /** Stops every fetcher and forgets every role. */
  async close(): Promise<void> {
    for (const key of [...this.#led.keys()]) this.#stopLeading(key);
    this.#followed.clear();
    const fetchers = [...this.#fetchers.values()];
    this.#fetchers.clear();
    await Promise.all(fetchers.map((fetcher) => fetcher.close()));
  }
}
