/**
 * The consumer's fetch loop: prefetching records for every assigned partition into the
 * credit-bounded FetchBuffer that the consumer's iterators drain.
 *
 * At most one long-poll fetch is in flight per leader broker, carrying every assigned, unpaused
 * partition that broker leads. Each response is framed right away (batch headers only) so the
 * partition's next fetch offset is known and the next fetch leaves before the records are decoded.
 * Fetches stop while the buffer is full and resume once it drains below half (FetchBuffer's
 * onCredit calls schedule()). Partitions without a position are first resolved with ListOffsets
 * (earliest, latest or a timestamp), batched per broker the same way.
 *
 * Which broker. The leader, or with `clientRack` set an in-sync follower in the same rack when the
 * metadata shows one (../policy/read-replica.ts); the follower serves what is below its own high
 * watermark. Any error from a follower (including OFFSET_OUT_OF_RANGE: the follower may simply be
 * behind) sends the partition back to its leader at once, for followerFallbackMs. Each fetch
 * carries the partition's leader epoch from the metadata, so a broker with another view answers
 * FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH instead of serving from a stale role.
 *
 * Failures stay per partition: a retriable error backs that partition off (and, when the error
 * says the metadata is stale — a leader moved, a broker is gone — refreshes it); OFFSET_OUT_OF_RANGE
 * from the leader resets it as autoOffsetReset says; a non-retriable error stops it and is handed to
 * the reader after the records buffered before it. UNKNOWN_TOPIC_OR_PARTITION is retried for
 * unknownTopicRetryMs only. Every answer is checked against the partition's epoch, so a seek or
 * pause since the request discards it.
 *
 * Transactions. With read_committed (the default) the broker answers only below the last stable
 * offset and lists the aborted transactions in the range; transaction-filter.ts drops their records.
 * Control batches (markers) are skipped at every isolation level, and the fetch offset, and the
 * position when nothing else is buffered, move past them.
 *
 * Leader changes. A fetch that fails (NOT_LEADER_OR_FOLLOWER, a fenced epoch, a dropped
 * connection) leaves the partition's fetch offset where it was: it advances only when records are
 * accepted. After the refresh the next fetch goes to the new leader from that same offset, so the
 * switch neither skips nor repeats a record. A new leader whose high watermark still trails the
 * old one's answers with no records until it catches up, never with records the reader has had.
 */
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type { RequestOf, ResponseOf } from '../../proto/index.js';
import { BATCH_HEADER_BYTES, decodeRecordBatchesSync, readBatchHeader } from '../../proto/record-batch/index.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Random } from '../policy/random.js';
import { chooseReadReplica } from '../policy/read-replica.js';
import { backoffDelayMs, refreshesMetadata, unknownTopicGaveUp } from '../policy/retry.js';
import type { AbortedTransaction } from '../../proto/messages.js';
import type { Message } from '../types.js';
import type { ResolvedConsumerOptions } from './consumer-options.js';
import type { Chunk, FetchBuffer } from './fetch-buffer.js';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, type PartitionState } from './partition-state.js';
import { visibleBatches } from './transaction-filter.js';

/** FetchRequest.isolation_level of read_committed. */
const READ_COMMITTED = 1;

export interface FetcherDeps {
  readonly cluster: Cluster;
  readonly random: Random;
  readonly now: () => number;
  readonly options: ResolvedConsumerOptions;
  readonly buffer: FetchBuffer;
  /** The consumer's assignment, topic → partition → state: the consumer changes it, the fetcher reads it. */
  readonly assigned: ReadonlyMap<string, ReadonlyMap<number, PartitionState>>;
}

export class Fetcher {
  readonly #cluster: Cluster;
  readonly #random: Random;
  readonly #now: () => number;
  readonly #options: ResolvedConsumerOptions;
  readonly #buffer: FetchBuffer;
  readonly #assigned: ReadonlyMap<string, ReadonlyMap<number, PartitionState>>;
  readonly #busyNodes = new Set<number>();
  #timer: NodeJS.Timeout | undefined;
  #timerAtMs = Number.POSITIVE_INFINITY;
  #pumpQueued = false;
  #lastMetadataRequestMs = Number.NEGATIVE_INFINITY;
  /** A failure said the metadata is stale: refresh on the next pass the rate limit allows. */
  #metadataWanted = false;
  #fetchRotation = 0;
  #closed = false;

  constructor(deps: FetcherDeps) {
    this.#cluster = deps.cluster;
    this.#random = deps.random;
    this.#now = deps.now;
    this.#options = deps.options;
    this.#buffer = deps.buffer;
    this.#assigned = deps.assigned;
  }

  /** Runs a scheduling pass soon (once per microtask however often it is asked for). */
  schedule(): void {
    if (this.#pumpQueued || this.#closed) return;
    this.#pumpQueued = true;
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  /** Stops for good: no more passes, no timer; answers still in flight are dropped when they arrive. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #armTimer(atMs: number): void {
    if (atMs >= this.#timerAtMs || this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAtMs = atMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAtMs = Number.POSITIVE_INFINITY;
      this.#pump();
    }, Math.max(0, atMs - this.#now()));
  }

  /** One scheduling pass: offset lookups and fetches for every broker that is free. */
  #pump(): void {
    if (this.#closed) return;
    const nowMs = this.#now();
    const credit = this.#buffer.canFetch();
    const fetchByNode = new Map<number, PartitionState[]>();
    const resetByNode = new Map<number, PartitionState[]>();
    let leaderUnknown = false;
    let wakeMs = Number.POSITIVE_INFINITY;
    for (const byPartition of this.#assigned.values()) {
      for (const state of byPartition.values()) {
        if (state.paused || state.failed || state.fetching || state.resetting) continue;
        if (state.retryAtMs > nowMs) {
          wakeMs = Math.min(wakeMs, state.retryAtMs);
          continue;
        }
        const leader = this.#cluster.leaderOf(state.topic, state.partition);
        if (leader === undefined) {
          leaderUnknown = true;
          continue;
        }
        if (state.reset !== undefined) {
          // Offset lookups always go to the leader: a follower's log end and time index may trail.
          pushTo(resetByNode, leader, state);
          continue;
        }
        const node = this.#readReplica(state, leader, nowMs);
        if (credit && !this.#busyNodes.has(node)) pushTo(fetchByNode, node, state);
      }
    }
    for (const [nodeId, states] of resetByNode) void this.#resolveResets(nodeId, states);
    for (const [nodeId, states] of fetchByNode) void this.#fetch(nodeId, states);
    if (leaderUnknown || this.#metadataWanted || this.#cluster.stale) {
      const nextAllowedMs = this.#lastMetadataRequestMs + this.#options.retry.backoffMs;
      if (nowMs >= nextAllowedMs) {
        this.#lastMetadataRequestMs = nowMs;
        this.#metadataWanted = false;
        this.#cluster.refreshMetadata().catch(() => {
          this.#metadataWanted = true;
          this.#armTimer(this.#now() + this.#options.retry.backoffMs);
        });
      } else {
        wakeMs = Math.min(wakeMs, nextAllowedMs);
      }
    }
    if (wakeMs !== Number.POSITIVE_INFINITY) this.#armTimer(wakeMs);
  }

  /** The broker to fetch a partition from now: its leader, or a same-rack in-sync follower. */
  #readReplica(state: PartitionState, leader: number, nowMs: number): number {
    const clientRack = this.#options.clientRack;
    if (clientRack === undefined) return leader;
    const partition = this.#cluster.topic(state.topic)?.partitions[state.partition];
    if (partition === undefined) return leader;
    const chosen = chooseReadReplica({
      partition: state.partition,
      leader,
      isr: partition.isr,
      clientRack,
      rackOf: (nodeId) => this.#cluster.broker(nodeId)?.rack,
      leaderOnly: state.leaderOnlyUntilMs > nowMs,
    });
    return chosen ?? leader;
  }

  /** The leader epoch the metadata gives for a partition, or undefined (then the broker does not check it). */
  #leaderEpoch(state: PartitionState): number | undefined {
    const epoch = this.#cluster.topic(state.topic)?.partitions[state.partition]?.leaderEpoch;
    return epoch === undefined || epoch < 0 ? undefined : epoch;
  }

  async #fetch(nodeId: number, states: PartitionState[]): Promise<void> {
    const { maxWaitMs, minBytes, maxBytes, maxPartitionBytes, isolationLevel, requestTimeoutMs } = this.#options;
    this.#busyNodes.add(nodeId);
    const sent = new Map<PartitionState, { epoch: number; offset: number }>();
    const byTopic = new Map<string, RequestOf<'FETCH'>['topics'][number]['partitions']>();
    // The broker lets only the first partition with data exceed the size limits, so a fixed order
    // could starve a later partition whose next batch is large. Rotating the start fixes that.
    const start = states.length === 0 ? 0 : this.#fetchRotation++ % states.length;
    for (const state of [...states.slice(start), ...states.slice(0, start)]) {
      state.fetching = true;
      sent.set(state, { epoch: state.epoch, offset: state.fetchOffset });
      let partitions = byTopic.get(state.topic);
      if (partitions === undefined) {
        partitions = [];
        byTopic.set(state.topic, partitions);
      }
      const currentLeaderEpoch = this.#leaderEpoch(state);
      partitions.push({
        partition: state.partition,
        fetchOffset: state.fetchOffset,
        maxBytes: maxPartitionBytes,
        ...(currentLeaderEpoch === undefined ? {} : { currentLeaderEpoch }),
      });
    }
    const request: RequestOf<'FETCH'> = {
      maxWaitMs,
      minBytes,
      maxBytes: Math.min(maxBytes, Math.max(maxPartitionBytes, this.#buffer.byteCredit)),
      isolationLevel,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
      // A consumer, not a follower: the broker serves it only what is below the high watermark.
      replicaId: -1,
    };
    let response: ResponseOf<'FETCH'> | undefined;
    let failure: StreamBusError | undefined;
    try {
      const connection = await this.#cluster.connection(nodeId);
      response = await connection.request('FETCH', request, { timeoutMs: requestTimeoutMs + maxWaitMs });
    } catch (error) {
      failure =
        error instanceof StreamBusError
          ? error
          : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `fetch from broker ${nodeId} failed: ${String(error)}`, { cause: error });
    }
    this.#busyNodes.delete(nodeId);
    if (this.#closed) return;
    if (failure !== undefined) {
      for (const [state, { epoch }] of sent) {
        if (state.epoch !== epoch) continue;
        state.fetching = false;
        if (!this.#fellBack(state, nodeId)) this.#backoff(state, failure);
      }
    } else if (response !== undefined) {
      this.#handleFetch(nodeId, response, sent);
    }
    this.#pump();
  }

  #handleFetch(nodeId: number, response: ResponseOf<'FETCH'>, sent: Map<PartitionState, { epoch: number; offset: number }>): void {
    const seen = new Set<PartitionState>();
    for (const topic of response.topics) {
      const byPartition = this.#assigned.get(topic.name);
      for (const result of topic.partitions) {
        const state = byPartition?.get(result.partition);
        if (state === undefined) continue;
        const request = sent.get(state);
        if (request === undefined || request.epoch !== state.epoch) continue;
        seen.add(state);
        state.fetching = false;
        const context = { topic: state.topic, partition: state.partition, broker: String(nodeId) };
        const error = errorFromCode(result.errorCode, result.errorMessage, context);
        if (error !== undefined) {
          if (!this.#fellBack(state, nodeId)) this.#partitionError(state, error);
          continue;
        }
        state.highWatermark = result.highWatermark;
        state.logStartOffset = result.logStartOffset;
        state.failures = 0;
        state.unknownTopicSinceMs = undefined;
        this.#acceptRecords(state, request.offset, result.records, result.highWatermark, result.abortedTransactions);
      }
    }
    // Partitions the broker left out of its answer are simply fetched again.
    for (const [state, { epoch }] of sent) if (state.epoch === epoch && !seen.has(state)) state.fetching = false;
  }

  #acceptRecords(state: PartitionState, requestedOffset: number, records: Buffer, highWatermark: number, aborted: readonly AbortedTransaction[] | undefined): void {
    if (records.length === 0) return;
    // Frame complete batches by their headers; a trailing partial batch (cut by maxBytes) is left
    // for the next fetch.
    let end = 0;
    let nextOffset = state.fetchOffset;
    while (end + BATCH_HEADER_BYTES <= records.length) {
      const header = readBatchHeader(records, end);
      if (header.sizeBytes < BATCH_HEADER_BYTES || end + header.sizeBytes > records.length) break;
      end += header.sizeBytes;
      nextOffset = Math.max(nextOffset, header.lastOffset + 1);
    }
    if (end === 0) {
      this.#surface(
        state,
        new StreamBusError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `the batch at offset ${requestedOffset} of ${state.topic}-${state.partition} does not fit in maxPartitionBytes (${this.#options.maxPartitionBytes})`,
          { context: { topic: state.topic, partition: state.partition } },
        ),
      );
      return;
    }
    // Advance before decoding so the next fetch can leave at once.
    state.fetchOffset = nextOffset;
    let batches;
    try {
      batches = decodeRecordBatchesSync(end === records.length ? records : records.subarray(0, end), { verifyCrc: this.#options.verifyCrc });
    } catch (error) {
      const failure =
        error instanceof StreamBusError
          ? error
          : new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `records of ${state.topic}-${state.partition} do not decode`, { cause: error });
      // A corrupt fetch is retried from the same offset (Kafka treats CRC failures as retriable).
      state.fetchOffset = requestedOffset;
      this.#partitionError(state, failure);
      return;
    }
    const { topic, partition } = state;
    const messages: Message[] = [];
    // Control batches never reach the reader; with read_committed neither do aborted transactions.
    for (const batch of visibleBatches(batches, this.#options.isolationLevel === READ_COMMITTED ? aborted : undefined)) {
      const decoded = batch.records;
      for (let i = 0; i < decoded.length; i++) {
        const r = decoded[i]!;
        // Fetch returns whole batches: skip the records before the offset asked for.
        if (r.offset < requestedOffset) continue;
        messages.push({ topic, partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers });
      }
    }
    if (messages.length === 0) {
      // Only markers or aborted records: move the position past them when nothing of the partition
      // is waiting in the buffer (its position is then exactly where this fetch started), so
      // position() and a commit of it do not stay behind a commit marker.
      if (state.position === requestedOffset) state.position = nextOffset;
      return;
    }
    const chunk: Chunk = { owner: state, epoch: state.epoch, topic, partition, messages, endOffset: nextOffset, index: 0, bytes: end, highWatermark, countedRecords: 0, countedBytes: 0 };
    this.#buffer.push(chunk);
  }

  #partitionError(state: PartitionState, error: StreamBusError): void {
    if (error.code === ErrorCode.OFFSET_OUT_OF_RANGE) {
      if (this.#options.autoOffsetReset === 'none') {
        this.#surface(state, error);
        return;
      }
      state.bump();
      this.#buffer.dropOwner(state);
      state.position = undefined;
      state.reset = this.#options.autoOffsetReset;
      return;
    }
    if (error.retriable && !this.#unknownTopicExpired(state, error)) {
      this.#backoff(state, error);
      return;
    }
    this.#surface(state, error);
  }

  /**
   * A fetch from a follower failed (any error, or no answer): the partition reads from its leader
   * for followerFallbackMs, starting now, without a backoff. False when `nodeId` is the leader.
   */
  #fellBack(state: PartitionState, nodeId: number): boolean {
    if (nodeId === this.#cluster.leaderOf(state.topic, state.partition)) return false;
    state.leaderOnlyUntilMs = this.#now() + this.#options.followerFallbackMs;
    return true;
  }

  /** UNKNOWN_TOPIC_OR_PARTITION is retried for unknownTopicRetryMs from its first occurrence in a row. */
  #unknownTopicExpired(state: PartitionState, error: StreamBusError): boolean {
    if (error.code !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) return false;
    const nowMs = this.#now();
    state.unknownTopicSinceMs ??= nowMs;
    return unknownTopicGaveUp(state.unknownTopicSinceMs, nowMs, this.#options.unknownTopicRetryMs);
  }

  #backoff(state: PartitionState, error: StreamBusError): void {
    state.failures++;
    state.retryAtMs = this.#now() + backoffDelayMs(state.failures, this.#options.retry, this.#random);
    this.#armTimer(state.retryAtMs);
    if (refreshesMetadata(error.code)) {
      // Let the next pass refresh at once rather than after the rate limit's backoff.
      this.#lastMetadataRequestMs = Number.NEGATIVE_INFINITY;
      this.#metadataWanted = true;
    }
  }

  /** Stops the partition and hands its error to the reader, after the records already buffered. */
  #surface(state: PartitionState, error: StreamBusError): void {
    state.failed = true;
    this.#buffer.push({ owner: state, epoch: state.epoch, error });
  }

  async #resolveResets(nodeId: number, states: PartitionState[]): Promise<void> {
    const sent = new Map<PartitionState, number>();
    const byTopic = new Map<string, { partition: number; timestamp: number }[]>();
    for (const state of states) {
      const reset = state.reset!;
      state.resetting = true;
      sent.set(state, state.epoch);
      const timestamp = reset === 'earliest' ? EARLIEST_TIMESTAMP : reset === 'latest' ? LATEST_TIMESTAMP : reset.timestamp;
      let partitions = byTopic.get(state.topic);
      if (partitions === undefined) {
        partitions = [];
        byTopic.set(state.topic, partitions);
      }
      partitions.push({ partition: state.partition, timestamp });
    }
    const request: RequestOf<'LIST_OFFSETS'> = {
      isolationLevel: this.#options.isolationLevel,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    };
    try {
      const connection = await this.#cluster.connection(nodeId);
      const response = await connection.request('LIST_OFFSETS', request, { timeoutMs: this.#options.requestTimeoutMs });
      const seen = new Set<PartitionState>();
      for (const topic of response.topics) {
        for (const result of topic.partitions) {
          const state = this.#assigned.get(topic.name)?.get(result.partition);
          if (state === undefined || sent.get(state) !== state.epoch) continue;
          seen.add(state);
          state.resetting = false;
          const error = errorFromCode(result.errorCode, result.errorMessage, { topic: state.topic, partition: state.partition, broker: String(nodeId) });
          if (error !== undefined) {
            if (error.retriable) this.#backoff(state, error);
            else this.#surface(state, error);
            continue;
          }
          if (result.offset < 0) {
            // No record at or after the timestamp: start at the log end.
            state.reset = 'latest';
            continue;
          }
          state.reset = undefined;
          state.position = result.offset;
          state.fetchOffset = result.offset;
          state.failures = 0;
        }
      }
      for (const [state, epoch] of sent) if (state.epoch === epoch && !seen.has(state)) state.resetting = false;
    } catch (error) {
      const failure = error instanceof StreamBusError ? error : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, String(error), { cause: error });
      for (const [state, epoch] of sent) {
        if (state.epoch !== epoch) continue;
        state.resetting = false;
        this.#backoff(state, failure);
      }
    }
    this.#pump();
  }
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
