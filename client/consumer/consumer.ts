/**
 * The consumer (manual assignment; consumer groups come later).
 *
 * A fetch loop (fetcher.ts) prefetches records of every assigned, unpaused partition, one
 * long-poll fetch in flight per leader broker, into a credit-bounded buffer (FetchBuffer) that the
 * iterators drain. Fetches stop while the buffer is full and resume once it drains below half.
 *
 * Positions. `position(tp)` is the offset of the next record the consumer will hand out: it moves
 * past a record when an iterator yields it, and past the control batches (transaction markers) and
 * aborted records that followed it in the fetch. Fetch offsets run ahead of positions (prefetch).
 * seek(), pause() and assign() bump the partition's epoch: buffered records and answers to fetches
 * sent before are dropped, so nothing from before a seek is delivered after it.
 *
 * This file holds the public API: assignment, seeks, pause/resume and the iteration APIs
 * (messages(), batches(), run()). The fetch loop is in fetcher.ts, the per-partition position
 * state in partition-state.ts, the buffer in fetch-buffer.ts and the options in consumer-options.ts.
 */
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Random } from '../policy/random.js';
import { abortReason } from '../signal.js';
import type { CallOptions, Message, TopicPartition } from '../types.js';
import { type ConsumerOptions, type ResolvedConsumerOptions, resolveConsumerOptions } from './consumer-options.js';
import { FetchBuffer, isChunk } from './fetch-buffer.js';
import { Fetcher } from './fetcher.js';
import { LATEST_TIMESTAMP, PartitionState, checkOffset, checkTopicPartition } from './partition-state.js';

export type { ConsumerOptions, OffsetReset } from './consumer-options.js';

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
  /** How long UNKNOWN_TOPIC_OR_PARTITION is retried before the reader gets it. Default 10 000. */
  readonly unknownTopicRetryMs?: number;
}

/**
 * Reads records from assigned partitions. Create it with `StreamBus.consumer()`, then assign().
 *
 * Guarantees: records of a partition are handed out in offset order, each once per position
 * (seek back to read again); nothing fetched before a seek(), pause() or assign() is delivered
 * after it. Fetching is bounded by maxBufferedRecords / maxBufferedBytes (soft by one response).
 * One reader at a time is intended: several iterators share one buffer and split the records.
 *
 * Failover: when a partition's leader moves (or its broker dies and comes back), the consumer
 * refreshes its metadata and goes on fetching from the new leader at its own position: no record
 * is skipped or handed out twice by the switch. With `clientRack` it reads from a same-rack
 * in-sync follower and falls back to the leader on any error from it (see docs/clients.md).
 */
export class Consumer implements AsyncIterable<Message> {
  readonly #cluster: Cluster;
  readonly #options: ResolvedConsumerOptions;
  readonly #buffer: FetchBuffer;
  /** topic → partition → state. */
  readonly #assigned = new Map<string, Map<number, PartitionState>>();
  readonly #fetcher: Fetcher;
  #closed = false;
  readonly #unsubscribe: () => void;

  constructor(deps: ConsumerDeps, options: ConsumerOptions = {}) {
    this.#cluster = deps.cluster;
    this.#options = resolveConsumerOptions(options, deps.requestTimeoutMs, deps.unknownTopicRetryMs);
    this.#buffer = new FetchBuffer({
      maxRecords: this.#options.maxBufferedRecords,
      maxBytes: this.#options.maxBufferedBytes,
      onCredit: () => this.#fetcher.schedule(),
    });
    this.#fetcher = new Fetcher({
      cluster: deps.cluster,
      random: deps.random,
      now: deps.now,
      options: this.#options,
      buffer: this.#buffer,
      assigned: this.#assigned,
    });
    this.#unsubscribe = this.#cluster.onMetadata(() => this.#fetcher.schedule());
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
    this.#fetcher.schedule();
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
    this.#fetcher.schedule();
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
      this.#fetcher.schedule();
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
    this.#fetcher.schedule();
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
          // After a chunk's last record the position skips what followed it in the fetch (markers).
          state.position = item.index === messages.length ? Math.max(message.offset + 1, item.endOffset) : message.offset + 1;
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
        state.position = Math.max(messages[messages.length - 1]!.offset + 1, item.endOffset);
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
    this.#fetcher.close();
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
      this.#fetcher.schedule();
    }
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
