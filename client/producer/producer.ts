/**
 * The producer: send() appends a record to its partition's batch and returns a promise that
 * settles when that batch is acknowledged (or fails for good). A sender step, run on a timer and
 * whenever a batch fills or a response returns, drains ready batches into one produce request
 * per leader broker.
 *
 * Ordering. Records sent to one partition are written in send() order while each partition has
 * at most one request in flight. With retries and maxInFlightRequests > 1, a failed batch that is
 * retried can land after a later batch of the same partition that succeeded: without idempotence
 * (a later release) the producer cannot prevent that. Set maxInFlightRequests to 1 when per-partition
 * order matters more than throughput.
 *
 * Delivery. A retried request may have been written the first time (the answer was lost), so a
 * record can be written twice: at-least-once. A rejected promise means the record was not
 * acknowledged, not that it was not written.
 */
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type { RequestOf, ResponseOf } from '../../proto/index.js';
import { encodeRecordBatch, encodeRecordBatchSync, type CompressionName } from '../../proto/record-batch/index.js';
import type { Cluster } from '../cluster/cluster.js';
import { DeliveryTimeoutError } from '../errors.js';
import { Partitioner } from '../policy/partitioner.js';
import type { Random } from '../policy/random.js';
import { RetryClass, classifyError, decideRetry, resolveRetryOptions, unknownTopicGaveUp, type ResolvedRetryOptions } from '../policy/retry.js';
import { abortReason, raceSignal } from '../signal.js';
import type { CallOptions, ProducerRecord, RecordMetadata } from '../types.js';
import { RecordAccumulator, type AppendResult } from './accumulator.js';
import { BATCH_OVERHEAD_BYTES, type ProducerBatch, type RecordSink } from './batch.js';
import { ByteBudget } from './byte-budget.js';
import { prepareRecord, type PreparedRecord } from './record.js';

/** Acknowledgement levels: 0 none, 1 the leader wrote it, -1 / 'all' every in-sync replica has it durably. */
export type Acks = 0 | 1 | -1 | 'all';

export interface ProducerOptions {
  /** Default 'all' (-1): a record is acknowledged once every in-sync replica has it, durably. */
  readonly acks?: Acks;
  /** How long a batch waits for more records before it is sent. Default 5. */
  readonly lingerMs?: number;
  /** Largest batch per partition (also capped by the topic's max.message.bytes). Default 1 MiB. */
  readonly batchBytes?: number;
  /** Default 'none'. */
  readonly compression?: CompressionName;
  /** Memory for records not yet acknowledged; send() waits when it is spent. Default 32 MiB. */
  readonly bufferBytes?: number;
  /** Longest send() waits for buffer space or topic metadata before failing. Default 60 000. */
  readonly maxBlockMs?: number;
  /** Produce requests in flight per broker. Default 5. */
  readonly maxInFlightRequests?: number;
  /** Retries of a batch after retriable errors. Default unlimited, bounded by deliveryTimeoutMs. */
  readonly retries?: number;
  /**
   * Upper bound from send() to the record's final outcome. Retriable failures (a leader moving, a
   * broker down, NOT_ENOUGH_REPLICAS) are retried until then; past it the record's promise rejects
   * with DeliveryTimeoutError naming the partition and the last error. Default 120 000.
   */
  readonly deliveryTimeoutMs?: number;
  /** First retry backoff. Default 100. */
  readonly retryBackoffMs?: number;
  /** Largest retry backoff. Default 1000. */
  readonly retryBackoffMaxMs?: number;
  /** How long the broker may take to acknowledge (its timeout_ms). Default: the client's requestTimeoutMs. */
  readonly requestTimeoutMs?: number;
  /** A produce request carries ready batches up to about this size. Default 16 MiB. */
  readonly maxRequestBytes?: number;
}

/** Kafka's default max.message.bytes, used when the topic's config cannot be read. */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
/** Extra time the client waits beyond the broker's own timeout before declaring a request lost. */
const REQUEST_TIMEOUT_SLACK_MS = 5_000;

interface ResolvedOptions {
  readonly acks: 0 | 1 | -1;
  readonly lingerMs: number;
  readonly batchBytes: number;
  readonly compression: CompressionName;
  readonly bufferBytes: number;
  readonly maxBlockMs: number;
  readonly maxInFlightRequests: number;
  readonly deliveryTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly retry: ResolvedRetryOptions;
}

interface TopicLimits {
  readonly maxMessageBytes: number;
}

export interface ProducerDeps {
  readonly cluster: Cluster;
  readonly random: Random;
  readonly now: () => number;
  readonly requestTimeoutMs: number;
  /** How long UNKNOWN_TOPIC_OR_PARTITION is retried (metadata still spreading after a create). Default 10 000. */
  readonly unknownTopicRetryMs?: number;
}

/** The sink of one send() that had to wait (slow path) before its record could join a batch. */
class RecordPromise implements RecordSink {
  readonly promise: Promise<RecordMetadata>;
  #resolve!: (metadata: RecordMetadata) => void;
  #reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<RecordMetadata>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  succeeded(_index: number, topic: string, partition: number, offset: number, timestamp: number): void {
    this.#resolve({ topic, partition, offset, timestamp });
  }

  failed(_index: number, error: unknown): void {
    this.#reject(error);
  }
}

/** One promise for a whole sendBatch(): resolves when all records succeed, rejects on the first failure. */
class BatchPromise implements RecordSink {
  readonly promise: Promise<RecordMetadata[]>;
  readonly #results: RecordMetadata[];
  #remaining: number;
  #settled = false;
  #resolve!: (metadata: RecordMetadata[]) => void;
  #reject!: (error: unknown) => void;

  constructor(count: number) {
    this.#results = new Array<RecordMetadata>(count);
    this.#remaining = count;
    this.promise = new Promise<RecordMetadata[]>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (count === 0) {
      this.#settled = true;
      this.#resolve([]);
    }
  }

  succeeded(index: number, topic: string, partition: number, offset: number, timestamp: number): void {
    this.#results[index] = { topic, partition, offset, timestamp };
    if (--this.#remaining === 0 && !this.#settled) {
      this.#settled = true;
      this.#resolve(this.#results);
    }
  }

  failed(_index: number, error: unknown): void {
    this.#remaining--;
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }
}

/**
 * Produces records in batches. Create it with `StreamBus.producer()`.
 *
 * Guarantees: a resolved send() means the record is acknowledged at the producer's acks level
 * (with the default 'all': durable on every in-sync replica) at the offset given. Delivery is
 * at-least-once: a retry after a lost answer can write a record twice. Records of one partition
 * are written in send() order unless a retry overtakes a later batch, which only happens with
 * maxInFlightRequests > 1 (idempotence, which removes both caveats, comes in a later release).
 * Memory is bounded by bufferBytes; send() waits (backpressure) when it is spent.
 */
export class Producer {
  readonly #cluster: Cluster;
  readonly #random: Random;
  readonly #now: () => number;
  readonly #options: ResolvedOptions;
  readonly #unknownTopicRetryMs: number;
  readonly #accumulator: RecordAccumulator;
  readonly #budget: ByteBudget;
  readonly #partitioner: Partitioner;
  readonly #inFlight = new Map<number, number>();
  /** Every batch not yet completed: queued, being encoded, or in flight. flush() waits on these. */
  readonly #incomplete = new Set<ProducerBatch>();
  readonly #limits = new Map<string, TopicLimits>();
  readonly #limitsLoading = new Map<string, Promise<TopicLimits>>();
  /** Sends on the slow path (waiting for metadata or buffer space). While any is pending, every send takes it, to keep order. */
  readonly #slow = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #timerAtMs = Number.POSITIVE_INFINITY;
  #drainQueued = false;
  #lastMetadataRequestMs = Number.NEGATIVE_INFINITY;
  /** A failure asked for fresh metadata that the rate limit has not let through yet. */
  #metadataWanted = false;
  #closing = false;
  /** close() has finished: nothing more is sent. */
  #stopped = false;
  #closed: Promise<void> | undefined;
  readonly #unsubscribe: () => void;

  constructor(deps: ProducerDeps, options: ProducerOptions = {}) {
    this.#cluster = deps.cluster;
    this.#random = deps.random;
    this.#now = deps.now;
    this.#options = resolveOptions(options, deps.requestTimeoutMs);
    this.#unknownTopicRetryMs = deps.unknownTopicRetryMs ?? 10_000;
    this.#accumulator = new RecordAccumulator({ lingerMs: this.#options.lingerMs, deliveryTimeoutMs: this.#options.deliveryTimeoutMs });
    this.#budget = new ByteBudget(this.#options.bufferBytes);
    this.#partitioner = new Partitioner(deps.random);
    this.#unsubscribe = this.#cluster.onMetadata(() => this.#scheduleDrain());
  }

  /** Bytes held by records not yet acknowledged (at most bufferBytes). */
  get bufferedBytes(): number {
    return this.#budget.usedBytes;
  }

  /**
   * Produces one record. Resolves with its partition and offset once acknowledged at the
   * producer's acks level: with 'all', once every in-sync replica has it durably; with 1, once the
   * leader wrote it; with 0, once the request left (offset -1).
   *
   * Rejects with a StreamBusError: INVALID_RECORD / INVALID_TIMESTAMP / INVALID_TOPIC for a bad
   * record (at once), MESSAGE_TOO_LARGE when the record alone exceeds the topic's
   * max.message.bytes or bufferBytes (at once), REQUEST_TIMED_OUT when buffer space or metadata
   * did not come within maxBlockMs, or the broker's error when it is not retriable or retries ran
   * out within deliveryTimeoutMs. Aborting the signal before the record joins a batch means it is
   * never sent; after that the promise still rejects with the signal's reason, but the record may
   * be written.
   */
  send(record: ProducerRecord, options: CallOptions = {}): Promise<RecordMetadata> {
    // Without a sink #submit always returns the record's promise.
    const promise = this.#submit(record, undefined, 0, options.signal)!;
    return withSignal(promise, options.signal);
  }

  /**
   * Produces several records (any topics and partitions). Resolves with their metadata in input
   * order once all are acknowledged; rejects with the first failure, in which case other records
   * may still have been written.
   */
  sendBatch(records: readonly ProducerRecord[], options: CallOptions = {}): Promise<RecordMetadata[]> {
    const sink = new BatchPromise(records.length);
    for (let i = 0; i < records.length; i++) void this.#submit(records[i]!, sink, i, options.signal);
    return withSignal(sink.promise, options.signal);
  }

  /**
   * Sends every record handed to send()/sendBatch() before this call without waiting for lingerMs,
   * and resolves once each of them has its final outcome (acknowledged or failed; flush() itself
   * does not reject for failed records: their own promises do).
   */
  async flush(options: CallOptions = {}): Promise<void> {
    this.#accumulator.beginFlush();
    this.#scheduleDrain();
    try {
      await raceSignal(this.#settled(), options.signal);
    } finally {
      this.#accumulator.endFlush();
    }
  }

  /**
   * Flushes, then stops. send() after close() rejects. Aborting the signal stops waiting: records
   * still pending then fail with NETWORK_EXCEPTION.
   */
  close(options: CallOptions = {}): Promise<void> {
    this.#closed ??= this.#close(options.signal);
    return this.#closed;
  }

  async #close(signal?: AbortSignal): Promise<void> {
    this.#closing = true;
    try {
      await this.flush(signal === undefined ? {} : { signal });
    } finally {
      this.#stopped = true;
      const error = new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the producer was closed before the record was acknowledged');
      for (const batch of this.#accumulator.takeAll()) this.#fail(batch, error);
      this.#budget.failAll(error);
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#unsubscribe();
      this.#cluster.untrack(this.#limits.keys());
    }
  }

  /** Resolves when every record submitted so far has its outcome. */
  async #settled(): Promise<void> {
    while (this.#slow.size > 0) await Promise.all(this.#slow);
    const pending = [...this.#incomplete].map((batch) => batch.whenDone());
    await Promise.all(pending);
  }

  /**
   * Checks a record and adds it to its partition's batch: at once when metadata, topic limits and
   * buffer space are at hand, else after waiting for them. With a sink the outcome goes there and
   * this returns undefined; without one (send()) this returns the record's promise.
   */
  #submit(record: ProducerRecord, sink: RecordSink | undefined, index: number, signal: AbortSignal | undefined): Promise<RecordMetadata> | undefined {
    if (this.#closing) return refuse(sink, index, new StreamBusError(ErrorCode.INVALID_REQUEST, 'send() after the producer was closed'));
    if (signal?.aborted === true) return refuse(sink, index, abortReason(signal));
    let prepared: PreparedRecord;
    const nowMs = this.#now();
    try {
      prepared = prepareRecord(record, nowMs);
    } catch (error) {
      // prepareRecord throws only StreamBusErrors; anything else is wrapped rather than lost.
      return refuse(sink, index, error instanceof Error ? error : new StreamBusError(ErrorCode.INVALID_RECORD, String(error), { cause: error }));
    }
    const topic = record.topic;
    const limits = this.#limits.get(topic);
    const metadata = this.#cluster.topic(topic);
    // The fast path: metadata and limits known, nothing queued ahead, buffer space free.
    if (limits !== undefined && metadata !== undefined && this.#slow.size === 0) {
      const partition = this.#partitioner.choose({ topic, key: prepared.keyBytes, partition: record.partition }, metadata.partitions.length, metadata.available);
      // An explicit partition beyond the cached count takes the slow path, which re-reads metadata.
      if (partition < metadata.partitions.length) {
        const tooLarge = this.#sizeError(prepared, limits, topic);
        if (tooLarge !== undefined) return refuse(sink, index, tooLarge);
        if (this.#budget.tryAcquire(prepared.sizeBytes)) {
          const appended = this.#append(topic, partition, prepared, limits, sink, index, nowMs);
          return sink === undefined ? appended.batch.recordPromise(appended.position) : undefined;
        }
      }
    }
    // The slow path waits before the record has a batch, so a send() needs a promise of its own.
    let slowSink = sink;
    let promise: Promise<RecordMetadata> | undefined;
    if (slowSink === undefined) {
      const deferred = new RecordPromise();
      slowSink = deferred;
      promise = deferred.promise;
    }
    const slow = this.#submitSlow(record, prepared, slowSink, index, signal);
    this.#slow.add(slow);
    void slow.finally(() => this.#slow.delete(slow));
    return promise;
  }

  async #submitSlow(record: ProducerRecord, prepared: PreparedRecord, sink: RecordSink, index: number, signal: AbortSignal | undefined): Promise<void> {
    const topic = record.topic;
    const deadlineMs = this.#now() + this.#options.maxBlockMs;
    try {
      let metadata = await this.#cluster.topicMetadata(topic, { signal, deadlineMs, allowAutoCreate: true });
      const limits = await this.#topicLimits(topic, deadlineMs, signal);
      if (record.partition !== undefined && record.partition >= metadata.partitions.length) {
        // Partitions may have been added since the cache was filled: look once more.
        await this.#cluster.refreshMetadata(signal);
        metadata = await this.#cluster.topicMetadata(topic, { signal, deadlineMs });
        if (record.partition >= metadata.partitions.length) {
          throw new StreamBusError(
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            `partition ${record.partition} does not exist: topic "${topic}" has ${metadata.partitions.length} partitions`,
            { context: { topic, partition: record.partition } },
          );
        }
      }
      const tooLarge = this.#sizeError(prepared, limits, topic);
      if (tooLarge !== undefined) {
        sink.failed(index, tooLarge);
        return;
      }
      await this.#budget.acquire(prepared.sizeBytes, Math.max(0, deadlineMs - this.#now()), signal);
      // Submitted before close(), but close() gave up waiting (its signal aborted) meanwhile.
      if (this.#stopped) {
        this.#budget.release(prepared.sizeBytes);
        throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the producer was closed before the record was acknowledged');
      }
      // Re-read: metadata may have changed while this send waited.
      const current = this.#cluster.topic(topic) ?? metadata;
      const partition = this.#partitioner.choose({ topic, key: prepared.keyBytes, partition: record.partition }, current.partitions.length, current.available);
      this.#append(topic, partition, prepared, limits, sink, index, this.#now());
    } catch (error) {
      sink.failed(index, error);
    }
  }

  /** The error for a record that can never be sent (too large), or undefined. */
  #sizeError(prepared: PreparedRecord, limits: TopicLimits, topic: string): StreamBusError | undefined {
    const batchBytes = BATCH_OVERHEAD_BYTES + prepared.sizeBytes;
    if (batchBytes > limits.maxMessageBytes) {
      return new StreamBusError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `the record needs up to ${batchBytes} bytes as a batch, more than topic "${topic}" accepts (max.message.bytes ${limits.maxMessageBytes})`,
        { context: { topic } },
      );
    }
    if (prepared.sizeBytes > this.#options.bufferBytes) {
      return new StreamBusError(ErrorCode.MESSAGE_TOO_LARGE, `the record needs up to ${prepared.sizeBytes} bytes, more than bufferBytes (${this.#options.bufferBytes})`, {
        context: { topic },
      });
    }
    return undefined;
  }

  #append(
    topic: string,
    partition: number,
    prepared: PreparedRecord,
    limits: TopicLimits,
    sink: RecordSink | undefined,
    index: number,
    nowMs: number,
  ): AppendResult {
    const maxBatchBytes = Math.min(this.#options.batchBytes, limits.maxMessageBytes);
    const result = this.#accumulator.append(topic, partition, prepared.input, prepared.sizeBytes, sink, index, maxBatchBytes, nowMs);
    if (result.newBatch) this.#incomplete.add(result.batch);
    if (result.closedBatch) {
      const metadata = this.#cluster.topic(topic);
      if (metadata !== undefined) this.#partitioner.onBatchClosed(topic, partition, metadata.partitions.length, metadata.available);
      this.#scheduleDrain();
    } else if (result.newBatch) {
      this.#armTimer(this.#accumulator.flushing ? nowMs : nowMs + this.#options.lingerMs);
    }
    return result;
  }

  /** max.message.bytes of a topic, read once per topic. Unreadable config falls back to Kafka's default. */
  #topicLimits(topic: string, deadlineMs: number, signal: AbortSignal | undefined): Promise<TopicLimits> {
    const known = this.#limits.get(topic);
    if (known !== undefined) return Promise.resolve(known);
    let loading = this.#limitsLoading.get(topic);
    if (loading === undefined) {
      this.#cluster.track([topic]);
      loading = this.#loadLimits(topic, deadlineMs).finally(() => this.#limitsLoading.delete(topic));
      this.#limitsLoading.set(topic, loading);
    }
    return raceSignal(loading, signal);
  }

  async #loadLimits(topic: string, deadlineMs: number): Promise<TopicLimits> {
    let maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
    try {
      const response = await this.#cluster.requestWithRetry('DESCRIBE_CONFIGS', { topics: [topic] }, 'any', { deadlineMs });
      const entry = response.topics.find((t) => t.name === topic)?.entries.find((e) => e.name === 'max.message.bytes');
      const value = Number(entry?.value ?? Number.NaN);
      if (Number.isSafeInteger(value) && value > 0) maxMessageBytes = value;
    } catch {
      // A broker without DescribeConfigs (or a transient failure) leaves the default; the broker
      // still enforces its real limit and answers MESSAGE_TOO_LARGE.
    }
    const limits = { maxMessageBytes };
    this.#limits.set(topic, limits);
    return limits;
  }

  // ---- The sender -------------------------------------------------------------------------

  #scheduleDrain(): void {
    if (this.#drainQueued) return;
    this.#drainQueued = true;
    // setImmediate, not a microtask: a synchronous burst of send() calls fills batches first.
    setImmediate(() => {
      this.#drainQueued = false;
      this.#drain();
    });
  }

  #armTimer(atMs: number): void {
    if (atMs >= this.#timerAtMs) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAtMs = atMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAtMs = Number.POSITIVE_INFINITY;
      this.#drain();
    }, Math.max(0, atMs - this.#now()));
  }

  #drain(): void {
    const nowMs = this.#now();
    for (const batch of this.#accumulator.expire(nowMs)) {
      this.#fail(batch, new DeliveryTimeoutError(batch.topic, batch.partition, batch.recordCount, this.#options.deliveryTimeoutMs, batch.lastError));
    }
    const max = this.#options.maxInFlightRequests;
    const { byNode, leaderUnknown, awaitingLeader } = this.#accumulator.drain(
      nowMs,
      (topic, partition) => this.#cluster.leaderOf(topic, partition),
      (nodeId) => (this.#inFlight.get(nodeId) ?? 0) < max,
      this.#options.maxRequestBytes,
    );
    for (const [nodeId, batches] of byNode) {
      for (const batch of batches) {
        const metadata = this.#cluster.topic(batch.topic);
        if (metadata !== undefined) this.#partitioner.onBatchClosed(batch.topic, batch.partition, metadata.partitions.length, metadata.available);
      }
      this.#inFlight.set(nodeId, (this.#inFlight.get(nodeId) ?? 0) + 1);
      void this.#produce(nodeId, batches);
    }
    // A batch waiting for its partition's leader to move keeps metadata coming, one refresh per
    // retryBackoffMs, so it leaves for the new leader soon after the move rather than at the end
    // of a backoff that may have grown to retryBackoffMaxMs.
    if (leaderUnknown || awaitingLeader || this.#metadataWanted || this.#cluster.stale) this.#refreshMetadata(nowMs);
    const wakeMs = this.#accumulator.nextWakeMs(nowMs);
    if (wakeMs !== undefined) this.#armTimer(wakeMs);
  }

  /**
   * Asks the cluster for fresh metadata (single-flight there), at most once per retryBackoffMs: a
   * leaderless partition must not turn the sender into a metadata busy loop. A request that comes
   * too soon is remembered and made by the drain the timer runs.
   */
  #refreshMetadata(nowMs: number): void {
    const nextAllowedMs = this.#lastMetadataRequestMs + this.#options.retry.backoffMs;
    if (nowMs < nextAllowedMs) {
      this.#metadataWanted = true;
      this.#armTimer(nextAllowedMs);
      return;
    }
    this.#metadataWanted = false;
    this.#lastMetadataRequestMs = nowMs;
    this.#cluster.refreshMetadata().then(
      () => this.#scheduleDrain(),
      () => {
        // Try again only while some batch still needs it; an idle producer stops asking.
        if (this.#accumulator.batchCount === 0) return;
        this.#metadataWanted = true;
        this.#armTimer(this.#now() + this.#options.retry.backoffMs);
      },
    );
  }

  async #produce(nodeId: number, batches: ProducerBatch[]): Promise<void> {
    const { acks } = this.#options;
    try {
      const request = await this.#buildRequest(batches);
      const connection = await this.#cluster.connection(nodeId);
      if (acks === 0) {
        await connection.send('PRODUCE', request);
        for (const batch of batches) this.#succeed(batch, -1, -1);
        return;
      }
      const response = await connection.request('PRODUCE', request, { timeoutMs: this.#options.requestTimeoutMs + REQUEST_TIMEOUT_SLACK_MS });
      this.#handleResponse(nodeId, batches, response);
    } catch (error) {
      const failure =
        error instanceof StreamBusError
          ? error
          : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `producing to broker ${nodeId} failed: ${String(error)}`, { cause: error });
      for (const batch of batches) this.#retryOrFail(batch, failure, nodeId);
    } finally {
      this.#inFlight.set(nodeId, (this.#inFlight.get(nodeId) ?? 1) - 1);
      this.#scheduleDrain();
    }
  }

  async #buildRequest(batches: ProducerBatch[]): Promise<RequestOf<'PRODUCE'>> {
    const { compression } = this.#options;
    const nowMs = this.#now();
    const byTopic = new Map<string, { partition: number; records: Buffer }[]>();
    for (const batch of batches) {
      let encoded = batch.encoded;
      if (encoded === undefined) {
        const options = { records: batch.records, nowMs, compression };
        encoded = compression === 'none' ? encodeRecordBatchSync(options) : await encodeRecordBatch(options);
        batch.markEncoded(encoded);
      }
      let partitions = byTopic.get(batch.topic);
      if (partitions === undefined) {
        partitions = [];
        byTopic.set(batch.topic, partitions);
      }
      partitions.push({ partition: batch.partition, records: encoded });
    }
    const topics: { name: string; partitions: { partition: number; records: Buffer }[] }[] = [];
    for (const [name, partitions] of byTopic) topics.push({ name, partitions });
    return { acks: this.#options.acks, timeoutMs: this.#options.requestTimeoutMs, topics };
  }

  #handleResponse(nodeId: number, batches: ProducerBatch[], response: ResponseOf<'PRODUCE'>): void {
    const results = new Map<string, ResponseOf<'PRODUCE'>['topics'][number]['partitions'][number]>();
    for (const topic of response.topics) {
      for (const partition of topic.partitions) results.set(`${topic.name}\u0000${partition.partition}`, partition);
    }
    for (const batch of batches) {
      const result = results.get(`${batch.topic}\u0000${batch.partition}`);
      const context = { topic: batch.topic, partition: batch.partition, broker: String(nodeId) };
      if (result === undefined) {
        this.#retryOrFail(batch, new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `broker ${nodeId} answered without partition ${batch.topic}-${batch.partition}`, { context }), nodeId);
        continue;
      }
      const error = errorFromCode(result.errorCode, result.errorMessage, context);
      if (error === undefined) {
        this.#succeed(batch, result.baseOffset, result.logAppendTimeMs);
        continue;
      }
      this.#retryOrFail(batch, error, nodeId);
    }
  }

  /**
   * A batch failed: back into its queue (in sequence order, see RecordAccumulator.reenqueue) to be
   * re-sent after a backoff to whoever leads its partition then, refreshing metadata first when
   * the error says the leader moved or the broker is gone; or failed for good when the error is
   * not retriable, the retry budget is spent, or the delivery deadline would pass first
   * (DeliveryTimeoutError naming the partition and this last error). After an error of the
   * refresh class the backoff lasts only until the metadata names another leader than `nodeId`,
   * the broker that failed (see RecordAccumulator.drain).
   */
  #retryOrFail(batch: ProducerBatch, error: StreamBusError, nodeId: number): void {
    if (batch.completed) return;
    const nowMs = this.#now();
    batch.lastError = error;
    let retriable = error.retriable;
    if (error.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
      batch.unknownTopicSinceMs ??= nowMs;
      if (unknownTopicGaveUp(batch.unknownTopicSinceMs, nowMs, this.#unknownTopicRetryMs)) retriable = false;
    }
    const decision = decideRetry({ retriesDone: batch.retriesDone, retriable, nowMs, deadlineMs: batch.deadlineMs }, this.#options.retry, this.#random);
    if (decision.retry && !this.#closing) {
      const refresh = classifyError(error.code, retriable) === RetryClass.REFRESH_AND_RETRY;
      batch.retriesDone++;
      batch.retryAtMs = nowMs + decision.delayMs;
      batch.failedOnNode = refresh ? nodeId : undefined;
      this.#accumulator.reenqueue(batch);
      this.#armTimer(batch.retryAtMs);
      if (refresh) this.#refreshMetadata(nowMs);
      return;
    }
    if (!decision.retry && decision.reason === 'deadline') {
      this.#fail(batch, new DeliveryTimeoutError(batch.topic, batch.partition, batch.recordCount, this.#options.deliveryTimeoutMs, error));
      return;
    }
    const context = { topic: batch.topic, partition: batch.partition, ...error.context };
    const final =
      decision.retry || decision.reason === 'not-retriable'
        ? error
        : new StreamBusError(error.code, `${error.message} (gave up after ${batch.retriesDone} retries: ${decision.reason})`, { cause: error, context });
    this.#fail(batch, final);
  }

  #succeed(batch: ProducerBatch, baseOffset: number, logAppendTimeMs: number): void {
    const reserved = batch.reservedBytes;
    batch.succeed(baseOffset, logAppendTimeMs);
    this.#incomplete.delete(batch);
    this.#budget.release(reserved);
  }

  #fail(batch: ProducerBatch, error: Error): void {
    const reserved = batch.reservedBytes;
    batch.fail(error);
    this.#incomplete.delete(batch);
    this.#budget.release(reserved);
  }
}

/** Fails a record that never joined a batch: through its sink, or as a rejected promise for send(). */
function refuse(sink: RecordSink | undefined, index: number, error: Error): Promise<RecordMetadata> | undefined {
  if (sink === undefined) return Promise.reject(error);
  sink.failed(index, error);
  return undefined;
}

/**
 * The caller's view of a record promise: rejects early when the signal aborts. The record's own
 * promise still settles later; it is marked handled so that outcome is not an unhandled rejection.
 */
function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  promise.catch(() => undefined);
  return raceSignal(promise, signal);
}

function resolveOptions(options: ProducerOptions, clientRequestTimeoutMs: number): ResolvedOptions {
  const acks = options.acks === 'all' || options.acks === undefined ? -1 : options.acks;
  if (acks !== 0 && acks !== 1 && acks !== -1) {
    throw new StreamBusError(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be 0, 1, -1 or 'all', got ${String(options.acks)}`);
  }
  const positive = (name: string, value: number | undefined, fallback: number, min = 1): number => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < min) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `producer option ${name} must be a number >= ${min}, got ${String(value)}`);
    }
    return v;
  };
  return {
    acks,
    lingerMs: positive('lingerMs', options.lingerMs, 5, 0),
    batchBytes: positive('batchBytes', options.batchBytes, 1024 * 1024, BATCH_OVERHEAD_BYTES + 1),
    compression: options.compression ?? 'none',
    bufferBytes: positive('bufferBytes', options.bufferBytes, 32 * 1024 * 1024),
    maxBlockMs: positive('maxBlockMs', options.maxBlockMs, 60_000, 0),
    maxInFlightRequests: positive('maxInFlightRequests', options.maxInFlightRequests, 5),
    deliveryTimeoutMs: positive('deliveryTimeoutMs', options.deliveryTimeoutMs, 120_000),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, clientRequestTimeoutMs),
    maxRequestBytes: positive('maxRequestBytes', options.maxRequestBytes, 16 * 1024 * 1024),
    retry: resolveRetryOptions({
      backoffMs: positive('retryBackoffMs', options.retryBackoffMs, 100, 0),
      backoffMaxMs: positive('retryBackoffMaxMs', options.retryBackoffMaxMs, 1000, 0),
      ...(options.retries === undefined ? {} : { retries: positive('retries', options.retries, 0, 0) }),
    }),
  };
}
