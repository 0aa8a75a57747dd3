/**
 * Replication on one broker (docs/replication.md): for every partition this broker holds, it is
 * either the leader or a follower, as the followed metadata says.
 *
 * Leader: keeps a LeaderState per partition (follower positions, caught-up times), answers
 * follower fetches (divergence check, position update, high watermark), and advances the high
 * watermark to the lowest log end over the ISR. It also decides which followers should leave or
 * join the ISR (LeaderState.isrChanges) and asks the coordinator to commit that (AlterPartition,
 * through ReplicationOptions.alterPartition): one change in flight per partition, checked after
 * every follower fetch (a follower that caught up rejoins at once) and every isrCheckIntervalMs
 * (one that lags past replica.lag.time.max.ms leaves). While a change is pending, the high
 * watermark counts the union of the metadata's ISR and the proposed one (isr-update.ts).
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
import { IsrUpdate, type IsrProposal } from './isr-update.js';
import { LeaderState, type FollowerState, type IsrChanges } from './leader-state.js';
import { ReplicaFetcher, partitionKey, type FollowedPartition, type ReplicaFetchObserver } from './replica-fetcher.js';

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
  /** Told what each follower fetch brought or why it failed (replica fetcher metrics). */
  readonly fetchObserver?: ReplicaFetchObserver;
  /**
   * Sends AlterPartition to the coordinator leader; resolves with each partition's answer, rejects
   * when the request as a whole failed. Absent: this broker never changes an ISR (the ISR stays
   * as the metadata says; tests of the data plane alone).
   */
  readonly alterPartition?: (request: AlterPartitionCall) => Promise<AlterPartitionReply>;
  /** The epoch of this broker's current registration; undefined while (re)registering. */
  readonly brokerEpoch?: () => number | undefined;
  /** How often leaders look for followers that fell behind. Default: replicaLagTimeMaxMs / 2, at most 1000. */
  readonly isrCheckIntervalMs?: number;
  /** First pause before an AlterPartition is tried again; doubles up to 2 000. Default 100. */
  readonly alterPartitionBackoffMs?: number;
}

/** An AlterPartition request as the broker sends it (the coordinator's AlterPartitionRequest). */
export interface AlterPartitionCall {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly partitions: readonly {
    readonly topicId: string;
    readonly partition: number;
    readonly leaderEpoch: number;
    readonly partitionEpoch: number;
    readonly newIsr: readonly number[];
  }[];
}

/** The coordinator's answer, per partition: undefined error and the committed ISR on success. */
export interface AlterPartitionReply {
  readonly partitions: readonly {
    readonly topicId: string;
    readonly partition: number;
    readonly error: StreamBusError | undefined;
    readonly isr: readonly number[];
  }[];
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
  /** Leader only: which followers should leave or join the ISR now. */
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
  readonly isr: IsrUpdate;
  readonly unsubscribe: () => void;
}

/** Most partitions in one AlterPartition request. */
const MAX_ALTER_PARTITION_ITEMS = 1000;

export class ReplicaManager {
  readonly #nodeId: number;
  readonly #options: ReplicationOptions;
  readonly #logger: Logger;
  readonly #nowMs: () => number;
  readonly #brokers: () => Iterable<BrokerView>;
  readonly #led = new Map<string, Led>();
  readonly #followed = new Map<string, FollowedPartition & { leaderId: number }>();
  readonly #fetchers = new Map<number, ReplicaFetcher>();
  /** ISR changes decided and not yet sent, by partition key. */
  readonly #outbox = new Map<string, { led: Led; proposal: IsrProposal }>();
  #flushing = false;
  #isrTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

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
          if (!same) this.#logger.info({ topic, partition: view.partition, leaderId: view.leader, leaderEpoch: view.leaderEpoch, logEndOffset: log.logEndOffset }, 'following partition');
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
    const replicated = view.replicas.length > 1;
    // The same leadership: the replica set may still change under it (a reassignment adds or
    // removes followers). Going from one replica to several or back switches the high watermark
    // rule, so that starts the leadership afresh (same epoch: startLeaderEpoch is then a no-op).
    if (current !== undefined && current.log === log && current.view.leaderEpoch === view.leaderEpoch && (current.view.replicas.length > 1) === replicated) {
      current.view = view;
      current.state.setReplicas(view.replicas, this.#nowMs());
      this.#advance(current);
      this.#considerIsr(current);
      return;
    }
    this.#stopLeading(key);
    log.autoHighWatermark = !replicated;
    if (replicated) await log.startLeaderEpoch(view.leaderEpoch);
    // Alone now (the others were reassigned away), the leader's own log end is the high watermark.
    else if (log.highWatermark < log.logEndOffset) log.setHighWatermark(log.logEndOffset);
    const led: Led = {
      topic,
      view,
      log,
      state: new LeaderState(this.#nodeId, view.replicas, this.#nowMs()),
      isr: new IsrUpdate({ initialBackoffMs: this.#options.alterPartitionBackoffMs ?? 100, maxBackoffMs: 2000 }),
      unsubscribe: log.onLogEnd(() => this.#advance(led)),
    };
    this.#led.set(key, led);
    this.#advance(led);
    this.#startIsrChecks();
    this.#logger.info({ topic, partition: view.partition, leaderEpoch: view.leaderEpoch, logEndOffset: log.logEndOffset }, 'leading partition');
  }

  #stopLeading(key: string): void {
    const led = this.#led.get(key);
    if (led === undefined) return;
    led.unsubscribe();
    this.#led.delete(key);
  }

  /**
   * Moves the high watermark of a led, replicated partition to the lowest log end over the ISR:
   * the metadata's, widened by an ISR change whose outcome is pending (isr-update.ts).
   */
  #advance(led: Led): void {
    if (led.view.replicas.length <= 1) return;
    const { log } = led;
    const epoch = led.view.partitionEpoch;
    if (epoch !== undefined) led.isr.observe(epoch);
    const next = led.state.highWatermark(led.isr.maximalIsr(led.view.isr), log.logEndOffset, log.highWatermark);
    if (next > log.highWatermark) log.setHighWatermark(next);
  }

  // ---- ISR changes (AlterPartition)

  /** Decides whether the partition's ISR should change and queues the request if so. */
  #considerIsr(led: Led): void {
    const { view, log } = led;
    const partitionEpoch = view.partitionEpoch;
    if (this.#options.alterPartition === undefined || partitionEpoch === undefined || view.replicas.length <= 1 || this.#closed) return;
    if (this.#led.get(partitionKey(led.topic, view.partition)) !== led) return;
    const nowMs = this.#nowMs();
    const changes = led.state.isrChanges(view.isr, log.highWatermark, nowMs, this.#lagMaxMs());
    const proposal = led.isr.next({ replicas: view.replicas, isr: view.isr, leaderEpoch: view.leaderEpoch, partitionEpoch }, changes, nowMs);
    if (proposal === undefined) return;
    this.#logger.info(
      { topic: led.topic, partition: view.partition, isr: view.isr, newIsr: proposal.newIsr, shouldLeave: changes.shouldLeave, shouldJoin: changes.shouldJoin },
      'asking the coordinator to change the ISR',
    );
    // The high watermark now counts the proposed members too.
    this.#advance(led);
    this.#outbox.set(partitionKey(led.topic, view.partition), { led, proposal });
    queueMicrotask(() => void this.#flush());
  }

  /** Sends every queued ISR change in one AlterPartition request, one request at a time. */
  async #flush(): Promise<void> {
    if (this.#flushing || this.#outbox.size === 0) return;
    const alterPartition = this.#options.alterPartition;
    const brokerEpoch = this.#options.brokerEpoch?.();
    const items = [...this.#outbox.values()].slice(0, MAX_ALTER_PARTITION_ITEMS);
    for (const { led } of items) this.#outbox.delete(partitionKey(led.topic, led.view.partition));
    if (alterPartition === undefined || brokerEpoch === undefined) {
      const error = new StreamBusError(ErrorCode.BROKER_ID_NOT_REGISTERED, `broker ${this.#nodeId} is registering; its ISR changes wait`);
      for (const item of items) this.#answer(item, error, []);
      return;
    }
    this.#flushing = true;
    try {
      const reply = await alterPartition({
        brokerId: this.#nodeId,
        brokerEpoch,
        partitions: items.map(({ led, proposal }) => ({
          topicId: led.log.topicId,
          partition: led.view.partition,
          leaderEpoch: proposal.leaderEpoch,
          partitionEpoch: proposal.partitionEpoch,
          newIsr: proposal.newIsr,
        })),
      });
      for (const item of items) {
        const answer = reply.partitions.find((p) => p.topicId === item.led.log.topicId && p.partition === item.led.view.partition);
        const missing = new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the AlterPartition answer left this partition out');
        this.#answer(item, answer === undefined ? missing : answer.error, answer?.isr ?? []);
      }
    } catch (error) {
      const failure = error instanceof StreamBusError ? error : new StreamBusError(ErrorCode.NETWORK_EXCEPTION, String(error), { cause: error });
      for (const item of items) this.#answer(item, failure, []);
    } finally {
      this.#flushing = false;
    }
    if (this.#outbox.size > 0) await this.#flush();
  }

  #answer(item: { led: Led; proposal: IsrProposal }, error: StreamBusError | undefined, isr: readonly number[]): void {
    const { led, proposal } = item;
    led.isr.answered(proposal, { error, isr }, this.#nowMs());
    const fields = { topic: led.topic, partition: led.view.partition, newIsr: proposal.newIsr, partitionEpoch: proposal.partitionEpoch };
    if (error === undefined) this.#logger.info(fields, 'the coordinator committed the ISR change');
    else this.#logger.info({ ...fields, error: error.codeName, reason: error.message }, 'the coordinator did not commit the ISR change');
    // A partition this broker stopped leading meanwhile keeps its log as the new role left it.
    if (this.#led.get(partitionKey(led.topic, led.view.partition)) === led) this.#advance(led);
  }

  #lagMaxMs(): number {
    return this.#options.replicaLagTimeMaxMs ?? 30_000;
  }

  /** Checks every led partition for followers that fell behind (or retries), while any is led. */
  #startIsrChecks(): void {
    if (this.#isrTimer !== undefined || this.#options.alterPartition === undefined || this.#closed) return;
    const everyMs = this.#options.isrCheckIntervalMs ?? Math.max(10, Math.min(1000, Math.floor(this.#lagMaxMs() / 2)));
    this.#isrTimer = setInterval(() => {
      for (const led of this.#led.values()) this.#considerIsr(led);
    }, everyMs);
    this.#isrTimer.unref();
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
          observer: this.#options.fetchObserver,
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
    // A follower that just caught up rejoins the ISR without waiting for the next check.
    if (!led.view.isr.includes(replicaId)) this.#considerIsr(led);
    return { maxOffset: log.logEndOffset };
  }

  /**
   * acks=all: resolves once the high watermark covers `endOffset` (every ISR member has the
   * batch), rejects with REQUEST_TIMED_OUT after `timeoutMs` (the batch stays written: a retry may
   * duplicate it), or with NOT_LEADER_OR_FOLLOWER once this broker no longer leads the partition
   * under `leaderEpoch`, the epoch the batch was written in.
   *
   * Leadership is checked before the high watermark, and that order matters: a leader that was
   * paused and replaced becomes a follower, truncates the batch it wrote under its old epoch, and
   * then takes the new leader's high watermark, which soon passes `endOffset` with other records
   * at those offsets. Judged by the high watermark alone, the lost batch would be acknowledged.
   */
  waitForHighWatermark(topic: string, partition: number, log: PartitionLog, endOffset: number, timeoutMs: number, leaderEpoch: number): Promise<void> {
    const key = partitionKey(topic, partition);
    // The batch was written in `leaderEpoch` as the produce's metadata said. Reconcile may lag that
    // metadata (no entry yet, or an older epoch): that still counts as leading, since only a
    // follower fetcher moves a high watermark that is not this leader's own, and it starts after
    // reconcile. What ends the wait is being a follower, or leading in a later epoch (this broker
    // lost the partition in between, and the batch with it, possibly).
    const stillLeads = (): boolean => {
      if (this.#followed.has(key)) return false;
      const led = this.#led.get(key);
      return led === undefined || led.view.leaderEpoch <= leaderEpoch;
    };
    const notLeader = (): StreamBusError =>
      new StreamBusError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${this.#nodeId} no longer leads ${topic}-${partition} in leader epoch ${leaderEpoch}`, {
        context: { topic, partition },
      });
    if (!stillLeads()) return Promise.reject(notLeader());
    if (log.highWatermark >= endOffset) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!stillLeads()) finish(notLeader());
        else if (log.highWatermark >= endOffset) finish();
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

  /** Per partition: role, positions and what the ISR should become. */
  status(): PartitionReplicationStatus[] {
    const nowMs = this.#nowMs();
    const lagMaxMs = this.#lagMaxMs();
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
    this.#closed = true;
    if (this.#isrTimer !== undefined) clearInterval(this.#isrTimer);
    this.#isrTimer = undefined;
    this.#outbox.clear();
    for (const key of [...this.#led.keys()]) this.#stopLeading(key);
    this.#followed.clear();
    const fetchers = [...this.#fetchers.values()];
    this.#fetchers.clear();
    await Promise.all(fetchers.map((fetcher) => fetcher.close()));
  }
}
