/**
 * The consumer (manual assignment; consumer groups come later).
 *
 * A fetch loop keeps at most one long-poll fetch in flight per leader broker, carrying every
 * assigned, unpaused partition that broker leads. Each response is framed right away (batch
 * headers only) so the partition's next fetch offset is known and the next fetch leaves before
 * the records are decoded; decoded records go into a credit-bounded buffer (FetchBuffer) that the
 * iterators drain. Fetches stop while the buffer is full and resume once it drains below half.
 *
 * Positions. `position(tp)` is the offset of the next record the consumer will hand out: it moves
 * past a record when an iterator yields it. Fetch offsets run ahead of positions (prefetch).
 * seek(), pause() and assign() bump the partition's epoch: buffered records and answers to fetches
 * sent before are dropped, so nothing from before a seek is delivered after it.
 */
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type { RequestOf, ResponseOf } from '../../proto/index.js';
import {
  BATCH_HEADER_BYTES,
  decodeRecordBatchesSync,
  readBatchHeader,
} from '../../proto/record-batch/index.js';
import type { Cluster } from '../cluster/cluster.js';
import { isStaleMetadataError } from '../cluster/cluster.js';
import type { Random } from '../policy/random.js';
import { backoffDelayMs, resolveRetryOptions, type ResolvedRetryOptions } from '../policy/retry.js';
import { abortReason } from '../signal.js';
import type { CallOptions, Message, TopicPartition } from '../types.js';
import { FetchBuffer, isChunk, type Chunk } from './fetch-buffer.js';

export type OffsetReset = 'earliest' | 'latest' | 'none';

export interface ConsumerOptions {
  /** Where to start when a partition has no position, or its position fell out of the log. Default 'latest'. */
  readonly autoOffsetReset?: OffsetReset;
  /** Longest the broker holds a fetch waiting for minBytes. Default 500. */
  readonly maxWaitMs?: number;
  /** Default 1: answer as soon as a record is there. */
  readonly minBytes?: number;
  /** Most bytes one fetch response carries. Default 50 MiB. */
  readonly maxBytes?: number;
  /**
   * Most bytes per partition in one fetch (at least one whole batch is always returned). Default
   * 4 MiB, not Kafka's 1 MiB: the broker returns whole stored batches, often 1 MiB each, and
   * several per fetch amortize the round trip and the broker's per-fetch cost (+40-60 % MB/s for
   * 1 KiB records in the native benchmark). A response is decoded in one go, so with small
   * records (~100 B) a smaller value costs the client less GC. Buffered data stays bounded by
   * maxBufferedBytes and maxBufferedRecords (soft by one response) and by maxBytes.
   */
  readonly maxPartitionBytes?: number;
  /** Records buffered ahead of the application before fetching pauses. Default 10 000. */
  readonly maxBufferedRecords?: number;
  /** Bytes buffered ahead of the application before fetching pauses. Default 64 MiB. */
  readonly maxBufferedBytes?: number;
  /** Check every batch's CRC-32C. Default true. */
  readonly verifyCrc?: boolean;
  /** 'read_committed' hides records of open and aborted transactions (once the broker supports it). Default 'read_uncommitted'. */
  readonly isolationLevel?: 'read_uncommitted' | 'read_committed';
  /** First backoff after a failed fetch. Default 100. */
  readonly retryBackoffMs?: number;
  /** Largest backoff. Default 1000. */
  readonly retryBackoffMaxMs?: number;
  /** Per-request timeout, on top of maxWaitMs for fetches. Default: the client's requestTimeoutMs. */
  readonly requestTimeoutMs?: number;
}

export interface AssignedPartition extends TopicPartition {
  /** Start here; default: where autoOffsetReset says. */
  readonly offset?: number | undefined;
}

/** A batch of consecutive records of one partition, as `batches()` and `eachBatch` see it. */
export interface MessageBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly Message[];
  /** The partition's high watermark when fetched: messages up to highWatermark - 1 exist. */
  readonly highWatermark: number;
}

export interface RunOptions extends CallOptions {
  /** Called for each record in order; the next record waits for the returned promise. */
  readonly eachMessage?: (message: Message) => Promise<void> | void;
  /** Called per batch instead of eachMessage when given. */
  readonly eachBatch?: (batch: MessageBatch) => Promise<void> | void;
}

export interface ConsumerDeps {
  readonly cluster: Cluster;
  readonly random: Random;
  readonly now: () => number;
  readonly requestTimeoutMs: number;
}

type Reset = 'earliest' | 'latest' | { readonly timestamp: number };

const EARLIEST_TIMESTAMP = -2;
const LATEST_TIMESTAMP = -1;

class PartitionState {
  readonly topic: string;
  readonly partition: number;
  epoch = 0;
  /** Next offset to hand to the application; undefined until resolved. */
  position: number | undefined;
  /** Next offset to fetch. */
  fetchOffset = 0;
  /** Set while the position must be looked up (ListOffsets) before fetching. */
  reset: Reset | undefined;
  paused = false;
  fetching = false;
  resetting = false;
  /** A non-retriable error was surfaced: no fetching until the next seek. */
  failed = false;
  retryAtMs = 0;
  failures = 0;
  highWatermark = -1;
  logStartOffset = -1;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  /** Invalidates buffered data and answers to requests already sent. */
  bump(): void {
    this.epoch++;
    this.fetching = false;
    this.resetting = false;
    this.failed = false;
    this.failures = 0;
    this.retryAtMs = 0;
  }
}

interface Resolved {
  readonly autoOffsetReset: OffsetReset;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly maxPartitionBytes: number;
  readonly maxBufferedRecords: number;
  readonly maxBufferedBytes: number;
  readonly verifyCrc: boolean;
  readonly isolationLevel: number;
  readonly requestTimeoutMs: number;
  readonly retry: ResolvedRetryOptions;
}

/**
 * Reads records from assigned partitions. Create it with `StreamBus.consumer()`, then assign().
 *
 * Guarantees: records of a partition are handed out in offset order, each once per position
 * (seek back to read again); nothing fetched before a seek(), pause() or assign() is delivered
 * after it. Fetching is bounded by maxBufferedRecords / maxBufferedBytes (soft by one response).
 * One reader at a time is intended: several iterators share one buffer and split the records.
 */
export class Consumer implements AsyncIterable<Message> {
  readonly #cluster: Cluster;
  readonly #random: Random;
  readonly #now: () => number;
  readonly #options: Resolved;
  readonly #buffer: FetchBuffer;
  /** topic → partition → state. */
  readonly #assigned = new Map<string, Map<number, PartitionState>>();
  readonly #busyNodes = new Set<number>();
  #timer: NodeJS.Timeout | undefined;
  #timerAtMs = Number.POSITIVE_INFINITY;
  #pumpQueued = false;
  #lastMetadataRequestMs = Number.NEGATIVE_INFINITY;
  #closed = false;
  readonly #unsubscribe: () => void;

  constructor(deps: ConsumerDeps, options: ConsumerOptions = {}) {
    this.#cluster = deps.cluster;
    this.#random = deps.random;
    this.#now = deps.now;
    this.#options = resolveOptions(options, deps.requestTimeoutMs);
    this.#buffer = new FetchBuffer({
      maxRecords: this.#options.maxBufferedRecords,
      maxBytes: this.#options.maxBufferedBytes,
      onCredit: () => this.#schedulePump(),
    });
    this.#unsubscribe = this.#cluster.onMetadata(() => this.#schedulePump());
  }

  /** Records fetched and not yet handed out. */
  get bufferedRecords(): number {
    return this.#buffer.bufferedRecords;
  }

  get bufferedBytes(): number {
    return this.#buffer.bufferedBytes;
  }

  /**
   * Replaces the assignment. Partitions that stay assigned keep their position unless an offset
   * is given; new ones start at `offset`, or where autoOffsetReset says. Throws StreamBusError
   * INVALID_REQUEST for a malformed entry, or when autoOffsetReset is 'none' and a new partition
   * has no offset.
   */
  assign(partitions: readonly AssignedPartition[]): void {
    this.#assertOpen();
    // Validate everything first: a bad entry leaves the assignment as it was.
    for (const tp of partitions) {
      checkTopicPartition(tp);
      if (tp.offset !== undefined) checkOffset(tp.offset, tp);
      const known = this.#assigned.get(tp.topic)?.get(tp.partition);
      if (tp.offset === undefined && known === undefined && this.#options.autoOffsetReset === 'none') {
        throw new StreamBusError(ErrorCode.INVALID_REQUEST, `no offset given for ${tp.topic}-${tp.partition} and autoOffsetReset is 'none'`, {
          context: { topic: tp.topic, partition: tp.partition },
        });
      }
    }
    const next = new Map<string, Map<number, PartitionState>>();
    for (const tp of partitions) {
      const known = this.#assigned.get(tp.topic)?.get(tp.partition);
      const state = next.get(tp.topic)?.get(tp.partition) ?? known ?? new PartitionState(tp.topic, tp.partition);
      if (tp.offset !== undefined) this.#seekState(state, tp.offset);
      else if (known === undefined && state.position === undefined) state.reset = this.#options.autoOffsetReset as 'earliest' | 'latest';
      let byPartition = next.get(tp.topic);
      if (byPartition === undefined) {
        byPartition = new Map();
        next.set(tp.topic, byPartition);
      }
      byPartition.set(tp.partition, state);
    }
    // Partitions no longer assigned: drop their buffered data and in-flight answers.
    for (const [topic, byPartition] of this.#assigned) {
      for (const [partition, state] of byPartition) {
        if (next.get(topic)?.has(partition) === true) continue;
        state.bump();
        this.#buffer.dropOwner(state);
      }
    }
    this.#cluster.untrack(this.#assigned.keys());
    this.#assigned.clear();
    for (const [topic, byPartition] of next) this.#assigned.set(topic, byPartition);
    this.#cluster.track(this.#assigned.keys());
    this.#schedulePump();
  }

  /** The current assignment. */
  assignment(): TopicPartition[] {
    const out: TopicPartition[] = [];
    for (const [topic, byPartition] of this.#assigned) for (const partition of byPartition.keys()) out.push({ topic, partition });
    return out;
  }

  /**
   * Moves a partition's position: to an offset, or to the log's earliest or latest offset (looked
   * up before the next fetch). Records buffered for the partition are dropped. An offset beyond
   * the log is handled by autoOffsetReset when fetched. Throws StreamBusError INVALID_REQUEST if
   * the partition is not assigned.
   */
  seek(tp: TopicPartition, offset: number | 'earliest' | 'latest'): void {
    this.#assertOpen();
    const state = this.#state(tp);
    if (offset === 'earliest' || offset === 'latest') {
      state.bump();
      this.#buffer.dropOwner(state);
      state.position = undefined;
      state.reset = offset;
    } else {
      checkOffset(offset, tp);
      this.#seekState(state, offset);
    }
    this.#schedulePump();
  }

  /**
   * Moves a partition's position to the first record with a timestamp at or after `timestampMs`
   * (the log end when there is none), and resolves with that offset.
   */
  async seekToTimestamp(tp: TopicPartition, timestampMs: number, options: CallOptions = {}): Promise<number> {
    this.#assertOpen();
    if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `timestamp must be a non-negative integer of ms, got ${String(timestampMs)}`);
    }
    const state = this.#state(tp);
    state.bump();
    this.#buffer.dropOwner(state);
    state.position = undefined;
    state.reset = { timestamp: timestampMs };
    const epoch = state.epoch;
    state.resetting = true;
    try {
      let offset = await this.#listOffset(state, timestampMs, options.signal);
      if (offset < 0) offset = await this.#listOffset(state, LATEST_TIMESTAMP, options.signal);
      if (state.epoch === epoch) {
        state.resetting = false;
        this.#seekState(state, offset);
      }
      return offset;
    } finally {
      if (state.epoch === epoch) state.resetting = false;
      this.#schedulePump();
    }
  }

  /** Stops fetching these partitions; records already buffered for them are dropped (refetched on resume). */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const state = this.#state(tp);
      if (state.paused) continue;
      state.paused = true;
      state.bump();
      this.#buffer.dropOwner(state);
      if (state.position !== undefined) state.fetchOffset = state.position;
    }
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#state(tp).paused = false;
    this.#schedulePump();
  }

  paused(): TopicPartition[] {
    const out: TopicPartition[] = [];
    for (const byPartition of this.#assigned.values()) for (const s of byPartition.values()) if (s.paused) out.push({ topic: s.topic, partition: s.partition });
    return out;
  }

  /**
   * The offset of the next record this consumer will hand out for the partition; undefined while
   * it is still being looked up (earliest/latest/timestamp). Throws INVALID_REQUEST if not assigned.
   */
  position(tp: TopicPartition): number | undefined {
    return this.#state(tp).position;
  }

  /** The partition's high watermark as of the last fetch; -1 before the first. */
  highWatermark(tp: TopicPartition): number {
    return this.#state(tp).highWatermark;
  }

  /**
   * Yields records in offset order per partition (partitions interleave). Ends when the consumer
   * is closed; throws a partition's non-retriable error (e.g. OFFSET_OUT_OF_RANGE with
   * autoOffsetReset 'none') in order, after the records fetched before it.
   */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return this.messages();
  }

  /** The record iterator, with an abort signal. Aborting rejects the pending next() with the signal's reason. */
  async *messages(options: CallOptions = {}): AsyncGenerator<Message, void, undefined> {
    const signal = options.signal;
    for (;;) {
      const item = await this.#buffer.take(signal);
      if (item === undefined) return;
      if (!isChunk(item)) throw item.error;
      const state = item.owner as PartitionState;
      const messages = item.messages;
      try {
        while (item.index < messages.length) {
          if (state.epoch !== item.epoch) break;
          const message = messages[item.index++]!;
          state.position = message.offset + 1;
          this.#buffer.consume(item, 1);
          yield message;
        }
      } finally {
        // A reader that stops mid-chunk (break, return, throw in its loop body) leaves the rest
        // for the next reader instead of losing records that were already fetched past.
        if (item.index < messages.length && state.epoch === item.epoch) this.#buffer.putBack(item);
        else this.#buffer.release(item);
      }
    }
  }

  /**
   * Yields fetched records a batch at a time (one partition each), which costs far less per record
   * than `messages()`. The partition's position moves past the batch when it is yielded.
   */
  async *batches(options: CallOptions = {}): AsyncGenerator<MessageBatch, void, undefined> {
    const signal = options.signal;
    for (;;) {
      const item = await this.#buffer.take(signal);
      if (item === undefined) return;
      if (!isChunk(item)) throw item.error;
      const state = item.owner as PartitionState;
      try {
        if (state.epoch !== item.epoch) continue;
        const messages = item.index === 0 ? item.messages : item.messages.slice(item.index);
        item.index = item.messages.length;
        state.position = messages[messages.length - 1]!.offset + 1;
        yield { topic: item.topic, partition: item.partition, messages, highWatermark: item.highWatermark };
      } finally {
        this.#buffer.release(item);
      }
    }
  }

  /**
   * Feeds records to `eachMessage` (or batches to `eachBatch`) until the consumer is closed, then
   * resolves. If a handler throws, run() rejects with that error and the partition's position is
   * set back to the failed record (or batch), so nothing is skipped when consuming resumes.
   * Aborting the signal rejects with its reason.
   */
  async run(options: RunOptions): Promise<void> {
    const { eachMessage, eachBatch, signal } = options;
    if (eachBatch !== undefined) {
      for await (const batch of this.batches(signal === undefined ? {} : { signal })) {
        try {
          await eachBatch(batch);
        } catch (error) {
          this.#rewind(batch.topic, batch.partition, batch.messages[0]!.offset);
          throw error;
        }
      }
      return;
    }
    if (eachMessage === undefined) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'run() needs eachMessage or eachBatch');
    }
    for await (const message of this.messages(signal === undefined ? {} : { signal })) {
      try {
        await eachMessage(message);
      } catch (error) {
        this.#rewind(message.topic, message.partition, message.offset);
        throw error;
      }
    }
  }

  /** Stops fetching and ends every iterator (after the record it is on). Idempotent. */
  close(_options: CallOptions = {}): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#buffer.close();
    this.#unsubscribe();
    this.#cluster.untrack(this.#assigned.keys());
    return Promise.resolve();
  }

  // ---- internals ----------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'the consumer is closed');
  }

  #state(tp: TopicPartition): PartitionState {
    const state = this.#assigned.get(tp.topic)?.get(tp.partition);
    if (state === undefined) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `${tp.topic}-${tp.partition} is not assigned to this consumer`, {
        context: { topic: tp.topic, partition: tp.partition },
      });
    }
    return state;
  }

  #seekState(state: PartitionState, offset: number): void {
    state.bump();
    this.#buffer.dropOwner(state);
    state.reset = undefined;
    state.position = offset;
    state.fetchOffset = offset;
  }

  #rewind(topic: string, partition: number, offset: number): void {
    const state = this.#assigned.get(topic)?.get(partition);
    if (state !== undefined && !this.#closed) {
      this.#seekState(state, offset);
      this.#schedulePump();
    }
  }

  #schedulePump(): void {
    if (this.#pumpQueued || this.#closed) return;
    this.#pumpQueued = true;
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
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
          pushTo(resetByNode, leader, state);
        } else if (credit && !this.#busyNodes.has(leader)) {
          pushTo(fetchByNode, leader, state);
        }
      }
    }
    for (const [nodeId, states] of resetByNode) void this.#resolveResets(nodeId, states);
    for (const [nodeId, states] of fetchByNode) void this.#fetch(nodeId, states);
    if (leaderUnknown || this.#cluster.stale) {
      const nextAllowedMs = this.#lastMetadataRequestMs + this.#options.retry.backoffMs;
      if (nowMs >= nextAllowedMs) {
        this.#lastMetadataRequestMs = nowMs;
        this.#cluster.refreshMetadata().catch(() => this.#armTimer(this.#now() + this.#options.retry.backoffMs));
      } else {
        wakeMs = Math.min(wakeMs, nextAllowedMs);
      }
    }
    if (wakeMs !== Number.POSITIVE_INFINITY) this.#armTimer(wakeMs);
  }

  #fetchRotation = 0;

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
      partitions.push({ partition: state.partition, fetchOffset: state.fetchOffset, maxBytes: maxPartitionBytes });
    }
    const request: RequestOf<'FETCH'> = {
      maxWaitMs,
      minBytes,
      maxBytes: Math.min(maxBytes, Math.max(maxPartitionBytes, this.#buffer.byteCredit)),
      isolationLevel,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
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
        this.#backoff(state, failure);
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
          this.#partitionError(state, error);
          continue;
        }
        state.highWatermark = result.highWatermark;
        state.logStartOffset = result.logStartOffset;
        state.failures = 0;
        this.#acceptRecords(state, request.offset, result.records, result.highWatermark);
      }
    }
    // Partitions the broker left out of its answer are simply fetched again.
    for (const [state, { epoch }] of sent) if (state.epoch === epoch && !seen.has(state)) state.fetching = false;
  }

  #acceptRecords(state: PartitionState, requestedOffset: number, records: Buffer, highWatermark: number): void {
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
    for (const batch of batches) {
      if (batch.header.isControl) continue;
      const decoded = batch.records;
      for (let i = 0; i < decoded.length; i++) {
        const r = decoded[i]!;
        // Fetch returns whole batches: skip the records before the offset asked for.
        if (r.offset < requestedOffset) continue;
        messages.push({ topic, partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers });
      }
    }
    if (messages.length === 0) return;
    const chunk: Chunk = { owner: state, epoch: state.epoch, topic, partition, messages, index: 0, bytes: end, highWatermark, countedRecords: 0, countedBytes: 0 };
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
    if (error.retriable) {
      this.#backoff(state, error);
      return;
    }
    this.#surface(state, error);
  }

  #backoff(state: PartitionState, error: StreamBusError): void {
    state.failures++;
    state.retryAtMs = this.#now() + backoffDelayMs(state.failures, this.#options.retry, this.#random);
    this.#armTimer(state.retryAtMs);
    if (isStaleMetadataError(error.code)) this.#lastMetadataRequestMs = Number.NEGATIVE_INFINITY;
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

  /** One ListOffsets lookup for seekToTimestamp, with retries through the cluster. */
  async #listOffset(state: PartitionState, timestamp: number, signal: AbortSignal | undefined): Promise<number> {
    const { topic, partition } = state;
    await this.#cluster.topicMetadata(topic, { signal });
    const response = await this.#cluster.requestWithRetry(
      'LIST_OFFSETS',
      { isolationLevel: this.#options.isolationLevel, topics: [{ name: topic, partitions: [{ partition, timestamp }] }] },
      () => this.#cluster.leaderOf(topic, partition),
      { signal, timeoutMs: this.#options.requestTimeoutMs },
    );
    if (signal?.aborted === true) throw abortReason(signal);
    const result = response.topics.find((t) => t.name === topic)?.partitions.find((p) => p.partition === partition);
    if (result === undefined) {
      throw new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `the broker answered ListOffsets without ${topic}-${partition}`, { context: { topic, partition } });
    }
    const error = errorFromCode(result.errorCode, result.errorMessage, { topic, partition });
    if (error !== undefined) throw error;
    return result.offset;
  }
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function checkTopicPartition(tp: TopicPartition): void {
  if (tp === null || typeof tp !== 'object' || typeof tp.topic !== 'string' || tp.topic.length === 0) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'each assigned partition needs a non-empty `topic` string');
  }
  if (!Number.isInteger(tp.partition) || tp.partition < 0) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `partition must be a non-negative integer, got ${String(tp.partition)}`, { context: { topic: tp.topic } });
  }
}

function checkOffset(offset: number, tp: TopicPartition): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `offset must be a non-negative integer, got ${String(offset)}`, {
      context: { topic: tp.topic, partition: tp.partition },
    });
  }
}

/** See ConsumerOptions.maxPartitionBytes for why 4 MiB and not Kafka's 1 MiB. */
const DEFAULT_MAX_PARTITION_BYTES = 4 * 1024 * 1024;

function resolveOptions(options: ConsumerOptions, clientRequestTimeoutMs: number): Resolved {
  const autoOffsetReset = options.autoOffsetReset ?? 'latest';
  if (autoOffsetReset !== 'earliest' && autoOffsetReset !== 'latest' && autoOffsetReset !== 'none') {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `autoOffsetReset must be 'earliest', 'latest' or 'none', got ${String(autoOffsetReset)}`);
  }
  const number = (name: string, value: number | undefined, fallback: number, min: number): number => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < min) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `consumer option ${name} must be a number >= ${min}, got ${String(value)}`);
    }
    return v;
  };
  return {
    autoOffsetReset,
    maxWaitMs: number('maxWaitMs', options.maxWaitMs, 500, 0),
    minBytes: number('minBytes', options.minBytes, 1, 0),
    maxBytes: number('maxBytes', options.maxBytes, 50 * 1024 * 1024, 1),
    maxPartitionBytes: number('maxPartitionBytes', options.maxPartitionBytes, DEFAULT_MAX_PARTITION_BYTES, 1),
    maxBufferedRecords: number('maxBufferedRecords', options.maxBufferedRecords, 10_000, 1),
    maxBufferedBytes: number('maxBufferedBytes', options.maxBufferedBytes, 64 * 1024 * 1024, 1),
    verifyCrc: options.verifyCrc ?? true,
    isolationLevel: options.isolationLevel === 'read_committed' ? 1 : 0,
    requestTimeoutMs: number('requestTimeoutMs', options.requestTimeoutMs, clientRequestTimeoutMs, 1),
    retry: resolveRetryOptions({
      backoffMs: number('retryBackoffMs', options.retryBackoffMs, 100, 0),
      backoffMaxMs: number('retryBackoffMaxMs', options.retryBackoffMaxMs, 1000, 0),
    }),
  };
}
