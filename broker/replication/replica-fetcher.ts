/**
 * The follower side of replication: one fetcher per leader broker. It keeps one connection to
 * that broker and long-polls FETCH for every partition this broker follows there, batched in one
 * request, as a follower (replica_id = this broker's id): it reads up to the leader's log end and
 * appends what comes back as it is (PartitionLog.appendReplicated), then takes the leader's high
 * watermark (capped at its own log end).
 *
 * Divergence: each fetch carries the follower's last fetched epoch (the newest epoch in its log).
 * When the leader answers with diverging_epoch { epoch, end_offset }, the follower truncates to
 * the lower of that end offset and where that epoch ends in its own log, then fetches again; the
 * next answer checks the shortened log the same way, so the loop ends at the last offset both
 * logs agree on. The high watermark is never used to guess the point (docs/replication.md).
 *
 * One fetch is in flight per fetcher; the partitions it serves are replaced with set() whenever
 * metadata changes, and a partition removed while a fetch is in flight ignores that answer.
 */
import type { Logger } from 'pino';
import type { Connection, ConnectionOptions } from '../../client/index.js';
import type * as M from '../../proto/messages.js';
import { ErrorCode, StreamBusError, errorFromCode, errorName } from '../../proto/errors.js';
import type { EpochEndOffset, PartitionLog } from '../log/index.js';

export interface FollowedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly leaderEpoch: number;
  readonly log: PartitionLog;
}

export interface ReplicaFetcherOptions {
  /** This broker's id, sent as replica_id. */
  readonly nodeId: number;
  readonly leaderId: number;
  /** The leader's native listener as the metadata gives it now; undefined while unknown. */
  readonly address: () => { host: string; port: number } | undefined;
  readonly connect: (options: ConnectionOptions) => Promise<Connection>;
  readonly logger: Logger;
  /** Long-poll wait per fetch. */
  readonly maxWaitMs: number;
  /** Bytes per partition per fetch. */
  readonly partitionMaxBytes: number;
  /** Pause after a failed fetch or a partition error before the next try. */
  readonly backoffMs: number;
  /** Told what each fetch brought or why it failed (metrics); never changes what the fetcher does. */
  readonly observer?: ReplicaFetchObserver | undefined;
}

/** Watches a fetcher for metrics. Its calls are synchronous and must not throw. */
export interface ReplicaFetchObserver {
  /** The batches one partition's answer from `leaderId` carried (some may already be held here). */
  fetched(leaderId: number, batches: Buffer): void;
  /** A fetch round, or one partition's answer, failed with this error (a StreamBusError or any thrown value). */
  failed(leaderId: number, error: unknown): void;
}

/** Fetch responses larger than this are not asked for (the leader still sends one batch at least). */
const FETCH_MAX_BYTES = 16 << 20;

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * Where a follower truncates when the leader reports `diverging` (the largest leader epoch <= the
 * follower's last fetched epoch, and where it ends on the leader): the lower of that end and where
 * the same epoch lookup ends in the follower's own log (`own`). 0 when either side has no epoch.
 */
export function truncationOffset(diverging: M.FetchEpochEndOffset, own: EpochEndOffset): number {
  if (diverging.epoch < 0 || own.epoch < 0) return 0;
  return Math.max(0, Math.min(diverging.endOffset, own.endOffset));
}

export class ReplicaFetcher {
  readonly leaderId: number;
  readonly #options: ReplicaFetcherOptions;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #partitions = new Map<string, FollowedPartition>();
  #connection: Connection | undefined;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;

  constructor(options: ReplicaFetcherOptions) {
    this.leaderId = options.leaderId;
    this.#options = options;
    this.#log = options.logger.child({ component: 'replica-fetcher', leaderId: options.leaderId });
  }

  get size(): number {
    return this.#partitions.size;
  }

  /** Replaces the partitions fetched from this leader. Starts the loop on first use. */
  set(partitions: Map<string, FollowedPartition>): void {
    this.#partitions = partitions;
    this.#wake?.();
    this.#running ??= this.#loop();
  }

  /** Stops fetching: aborts the fetch in flight, closes the connection, resolves when the loop ended. */
  async close(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#running;
    await this.#connection?.close();
    this.#connection = undefined;
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      if (this.#partitions.size === 0) {
        await this.#sleep(60_000);
        continue;
      }
      try {
        const healthy = await this.#fetchOnce(signal);
        if (!healthy) await this.#sleep(this.#options.backoffMs);
      } catch (error) {
        if (signal.aborted) break;
        this.#options.observer?.failed(this.leaderId, error);
        this.#log.warn({ err: error }, 'replica fetch failed; reconnecting');
        await this.#connection?.close().catch(() => {});
        this.#connection = undefined;
        await this.#sleep(this.#options.backoffMs);
      }
    }
  }

  /** One fetch round. Returns false when a partition needs a pause before the next round. */
  async #fetchOnce(signal: AbortSignal): Promise<boolean> {
    const connection = await this.#connect();
    const sent = this.#partitions;
    const byTopic = new Map<string, M.FetchPartition[]>();
    for (const followed of sent.values()) {
      const list = byTopic.get(followed.topic) ?? [];
      list.push({
        partition: followed.partition,
        fetchOffset: followed.log.logEndOffset,
        maxBytes: this.#options.partitionMaxBytes,
        currentLeaderEpoch: followed.leaderEpoch,
        lastFetchedEpoch: followed.log.latestEpoch,
      });
      byTopic.set(followed.topic, list);
    }
    const response = await connection.request(
      'FETCH',
      {
        maxWaitMs: this.#options.maxWaitMs,
        minBytes: 1,
        maxBytes: FETCH_MAX_BYTES,
        isolationLevel: 0,
        topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
        replicaId: this.#options.nodeId,
      },
      { signal, timeoutMs: this.#options.maxWaitMs + 15_000 },
    );
    let healthy = true;
    for (const topic of response.topics) {
      for (const result of topic.partitions) {
        const followed = this.#partitions.get(partitionKey(topic.name, result.partition));
        // Removed or replaced (a new epoch) while the fetch was in flight: its answer is stale.
        if (followed === undefined || followed !== sent.get(partitionKey(topic.name, result.partition))) continue;
        if (!(await this.#apply(followed, result))) healthy = false;
      }
    }
    return healthy;
  }

  async #apply(followed: FollowedPartition, result: M.FetchPartitionResult): Promise<boolean> {
    const { log } = followed;
    const diverging = result.divergingEpoch;
    if (diverging !== undefined) {
      const logEnd = await log.truncateTo(truncationOffset(diverging, log.endOffsetForEpoch(diverging.epoch)));
      this.#log.warn(
        { topic: followed.topic, partition: followed.partition, divergingEpoch: diverging.epoch, leaderEndOffset: diverging.endOffset, logEndOffset: logEnd },
        'follower log diverged from the leader; truncated',
      );
      return true;
    }
    if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && result.logStartOffset > log.logEndOffset) {
      // The leader no longer holds what this replica would fetch next: start over at its log start.
      await log.restartAt(result.logStartOffset);
      this.#log.warn(
        { topic: followed.topic, partition: followed.partition, leaderLogStartOffset: result.logStartOffset },
        'the leader no longer holds this replica\'s next offset; restarted the log at the leader\'s log start',
      );
      return true;
    }
    if (result.errorCode !== ErrorCode.NONE) {
      this.#options.observer?.failed(this.leaderId, errorFromCode(result.errorCode, result.errorMessage));
      this.#log.info(
        { topic: followed.topic, partition: followed.partition, error: errorName(result.errorCode), message: result.errorMessage },
        'leader refused a replica fetch',
      );
      return false;
    }
    if (result.records.length > 0) {
      await log.appendReplicated(result.records);
      this.#options.observer?.fetched(this.leaderId, result.records);
    }
    const highWatermark = Math.min(result.highWatermark, log.logEndOffset);
    if (highWatermark > log.highWatermark) log.setHighWatermark(highWatermark);
    return true;
  }

  async #connect(): Promise<Connection> {
    if (this.#connection?.connected === true) return this.#connection;
    const address = this.#options.address();
    if (address === undefined) {
      throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `broker ${this.leaderId} has no known address`);
    }
    this.#connection = await this.#options.connect({
      host: address.host,
      port: address.port,
      clientId: `streambus-replica-${this.#options.nodeId}`,
      maxInFlight: 1,
      signal: this.#abort.signal,
    });
    return this.#connection;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}
