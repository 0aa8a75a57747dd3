/**
 * The producer: send() appends a record to its partition's batch and returns a promise that
 * settles when that batch is acknowledged (or fails for good). A sender step, run on a timer and
 * whenever a batch fills or a response returns, drains ready batches into one produce request
 * per leader broker.
 *
 * Idempotence (default on, KIP-98). The producer gets a producer id and epoch from the coordinator
 * (INIT_PRODUCER_ID) before its first batch leaves, and stamps every batch with them and a base
 * sequence per partition (sequences.ts). A retried batch keeps its sequence, so a leader that
 * already wrote it answers with the original offset instead of writing it again: no duplicates
 * from retries. Up to 5 batches per partition are in flight; a retried batch is resent alone, after
 * the ones behind it came back, so order holds across retries. UNKNOWN_PRODUCER_ID, or
 * OUT_OF_ORDER_SEQUENCE_NUMBER for the first unacknowledged batch (the leader lost our state), bump
 * the epoch once nothing is in flight and restart every partition's sequence at 0 (KIP-360), as
 * does a batch that failed for good after it left (its sequence would leave a gap).
 * DUPLICATE_SEQUENCE_NUMBER counts as success. Idempotence needs acks 'all' and at most 5 requests
 * in flight; `idempotent: false` turns it off. Left at its default it also turns itself off when
 * acks is 0 or 1, when maxInFlightRequests is above 5, or when the server does not serve
 * INIT_PRODUCER_ID.
 *
 * Transactions (KIP-98, with a `transactionalId`). `transaction(fn)` runs fn with a `tx` whose sends
 * and offset commits are atomic: fn returning commits, fn throwing aborts (and transaction()
 * rethrows). A partition joins the transaction (ADD_PARTITIONS_TO_TXN) before its first batch
 * leaves; sendOffsets adds the group (ADD_OFFSETS_TO_TXN) and commits its offsets in the
 * transaction (TXN_OFFSET_COMMIT). Commit flushes every record, then sends END_TXN. A newer
 * instance with the same transactionalId fences this one: PRODUCER_FENCED (ProducerFencedError)
 * is final and the producer refuses every later send.
 *
 * Ordering. With idempotence, records sent to one partition are written in send() order. Without
 * it, a failed batch that is retried can land after a later batch of the same partition when
 * maxInFlightRequests > 1; set it to 1 when order matters more than throughput.
 *
 * Delivery. With idempotence a retry never writes a record twice; a record is still written at most
 * once per send() only while the producer lives (a new producer has a new id). Without it a retried
 * request may have been written the first time (the answer was lost): at-least-once. A rejected
 * promise means the record was not acknowledged, not that it was not written.
 */
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type { RequestOf, ResponseOf } from '../../proto/index.js';
import { encodeRecordBatch, encodeRecordBatchSync, type CompressionName } from '../../proto/record-batch/index.js';
import type { Cluster } from '../cluster/cluster.js';
import type { TxnCalls } from '../coordinator/txn-calls.js';
import { DeliveryTimeoutError, ProducerFencedError } from '../errors.js';
import { Partitioner } from '../policy/partitioner.js';
import type { Random } from '../policy/random.js';
import { RetryClass, classifyError, decideRetry, resolveRetryOptions, unknownTopicGaveUp, type ResolvedRetryOptions } from '../policy/retry.js';
import { abortReason, raceSignal } from '../signal.js';
import type { CallOptions, ProducerRecord, RecordMetadata } from '../types.js';
import { RecordAccumulator, type AppendResult } from './accumulator.js';
import { BATCH_OVERHEAD_BYTES, type ProducerBatch, type RecordSink } from './batch.js';
import { ByteBudget } from './byte-budget.js';
import { prepareRecord, type PreparedRecord } from './record.js';
import { SequenceTracker, type ProducerIdentity } from './sequences.js';
import { stampBatch } from './stamp.js';
import { OpenTransaction, type SendOffsetsSpec, type Transaction } from './transaction.js';

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
  /**
   * Default true: retries never write a record twice and keep each partition's order (see the file
   * comment). Needs acks 'all' and maxInFlightRequests <= 5; left at its default, idempotence turns
   * itself off when those do not hold or the server lacks it; set to true, a mismatch is an error.
   */
  readonly idempotent?: boolean;
  /**
   * Makes the producer transactional: records go out only through `transaction()`. One live
   * producer per id: a new one with the same id fences the old one and aborts its open transaction.
   */
  readonly transactionalId?: string;
  /** The coordinator aborts a transaction of this producer left open longer than this. Default 60 000. */
  readonly transactionTimeoutMs?: number;
}

/** Kafka's bound on requests in flight per connection with idempotence. */
const MAX_IDEMPOTENT_IN_FLIGHT = 5;

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
  /** 'auto': the default, which gives way when the server does not serve INIT_PRODUCER_ID. */
  readonly idempotence: 'off' | 'on' | 'auto';
  readonly transactionalId: string | undefined;
  readonly transactionTimeoutMs: number;
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
  /** The coordinator's transaction calls; without them the producer cannot be idempotent or transactional. */
  readonly transactions?: TxnCalls;
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
 * (with the default 'all': durable on every in-sync replica) at the offset given. With idempotence
 * (the default) a retry never writes a record twice and records of one partition are written in
 * send() order. With `idempotent: false` delivery is at-least-once (a retry after a lost answer can
 * write a record twice) and a retry can overtake a later batch when maxInFlightRequests > 1. With a
 * transactionalId, transaction() makes records and consumer offsets atomic (exactly-once
 * consume-transform-produce, see runTransactional). Memory is bounded by bufferBytes; send() waits
 * (backpressure) when it is spent.
 */
export class Producer {
  readonly #cluster: Cluster;
  readonly #txnCalls: TxnCalls | undefined;
  /** Idempotence bookkeeping; undefined when idempotence is off. */
  #sequences: SequenceTracker | undefined;
  /** The InitProducerId call in flight (single-flight). */
  #initializing: Promise<void> | undefined;
  /** A sequence error asked for a new epoch: nothing leaves until it is in place. */
  #bumpWanted = false;
  /** PRODUCER_FENCED: final. */
  #fatal: StreamBusError | undefined;
  #txn: OpenTransaction | undefined;
  /** transaction() calls run one after another. */
  #txnChain: Promise<unknown> = Promise.resolve();
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
  /** The last slow send submitted: the next one appends only after it (see #submitSlow). */
  #slowTail: Promise<void> = Promise.resolve();
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
    this.#options = resolveOptions(options, deps.requestTimeoutMs, deps.transactions !== undefined);
    this.#txnCalls = deps.transactions;
    if (this.#options.idempotence !== 'off') this.#sequences = new SequenceTracker(Math.min(this.#options.maxInFlightRequests, MAX_IDEMPOTENT_IN_FLIGHT));
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
    const promise = this.#submit(record, undefined, 0, options.signal, this.#txn)!;
    return withSignal(promise, options.signal);
  }

  /**
   * Produces several records (any topics and partitions). Resolves with their metadata in input
   * order once all are acknowledged; rejects with the first failure, in which case other records
   * may still have been written.
   */
  sendBatch(records: readonly ProducerRecord[], options: CallOptions = {}): Promise<RecordMetadata[]> {
    return this.#sendBatch(records, options.signal, this.#txn);
  }

  #sendBatch(records: readonly ProducerRecord[], signal: AbortSignal | undefined, txn: OpenTransaction | undefined): Promise<RecordMetadata[]> {
    const sink = new BatchPromise(records.length);
    for (let i = 0; i < records.length; i++) void this.#submit(records[i]!, sink, i, signal, txn);
    return withSignal(sink.promise, signal);
  }

  /** The transactionalId option; undefined for a producer without transactions. */
  get transactionalId(): string | undefined {
    return this.#options.transactionalId;
  }

  /** Whether batches are stamped for idempotence (it can turn itself off, see ProducerOptions.idempotent). */
  get idempotent(): boolean {
    return this.#sequences !== undefined;
  }

  /**
   * Runs `fn` in a transaction (a producer with a transactionalId only). Everything sent with
   * `tx.send()`/`tx.sendBatch()` and committed with `tx.sendOffsets()` becomes visible atomically:
   * when `fn` returns, the producer flushes its records and commits, and transaction() resolves with
   * fn's result once the commit is decided; when `fn` throws (or a record of the transaction failed,
   * or the commit was refused), the transaction is aborted and transaction() rejects with that error.
   * Transactions run one at a time; calls made meanwhile wait their turn. Coordinator hiccups
   * (NOT_COORDINATOR, CONCURRENT_TRANSACTIONS) are retried. ProducerFencedError is final.
   *
   * A read_committed consumer sees the records once the commit markers reach their partitions,
   * shortly after this resolves; it never sees those of an aborted transaction.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T> | T, options: CallOptions = {}): Promise<T> {
    if (this.#options.transactionalId === undefined) {
      return Promise.reject(new StreamBusError(ErrorCode.INVALID_REQUEST, 'transaction() needs a producer created with the transactionalId option'));
    }
    if (typeof fn !== 'function') return Promise.reject(new StreamBusError(ErrorCode.INVALID_REQUEST, 'transaction() needs a function'));
    const run = (): Promise<T> => this.#runTransaction(fn, options.signal);
    const next = this.#txnChain.then(run, run);
    this.#txnChain = next.catch(() => undefined);
    return next;
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
   * still pending then fail with NETWORK_EXCEPTION. A transaction still open (its callback has not
   * returned) is not committed by close(): the coordinator aborts it after transactionTimeoutMs, or
   * the next producer with the same transactionalId aborts it at once.
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
  #submit(
    record: ProducerRecord,
    sink: RecordSink | undefined,
    index: number,
    signal: AbortSignal | undefined,
    txn: OpenTransaction | undefined,
  ): Promise<RecordMetadata> | undefined {
    const refusal = this.#sendRefusal(txn);
    if (refusal !== undefined) return refuse(sink, index, refusal);
    if (signal?.aborted === true) return refuse(sink, index, abortReason(signal));
    let prepared: PreparedRecord;
    const nowMs = this.#now();
    try {
      prepared = prepareRecord(record, nowMs);
    } catch (error) {
      // prepareRecord throws only StreamBusErrors; anything else is wrapped rather than lost.
      const invalid = error instanceof StreamBusError ? error : new StreamBusError(ErrorCode.INVALID_RECORD, String(error), { cause: error });
      // A record of a transaction that cannot be sent dooms the transaction: it must not commit without it.
      txn?.doom(invalid);
      return refuse(sink, index, invalid);
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
        if (tooLarge !== undefined) {
          txn?.doom(tooLarge);
          return refuse(sink, index, tooLarge);
        }
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
    const slow = this.#submitSlow(record, prepared, slowSink, index, signal, txn, this.#slowTail);
    this.#slowTail = slow;
    this.#slow.add(slow);
    void slow.finally(() => this.#slow.delete(slow));
    return promise;
  }

  async #submitSlow(
    record: ProducerRecord,
    prepared: PreparedRecord,
    sink: RecordSink,
    index: number,
    signal: AbortSignal | undefined,
    txn: OpenTransaction | undefined,
    previous: Promise<void>,
  ): Promise<void> {
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
        txn?.doom(tooLarge);
        sink.failed(index, tooLarge);
        return;
      }
      await this.#budget.acquire(prepared.sizeBytes, Math.max(0, deadlineMs - this.#now()), signal);
      // Slow sends join batches in send() order: their waits above take different numbers of turns
      // (the first one loads the metadata the later ones find ready), so each waits for the one
      // submitted before it. It never rejects (failures go to the sink).
      await previous;
      // Submitted before close(), but close() gave up waiting (its signal aborted) meanwhile.
      if (this.#stopped) {
        this.#budget.release(prepared.sizeBytes);
        throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the producer was closed before the record was acknowledged');
      }
      // The transaction may have been aborted (or the producer fenced) while this send waited. A
      // commit begun meanwhile does not refuse it (it was sent before the commit, which flushes it),
      // nor does a close() (which flushes what was sent before it).
      const refusal = this.#txnRefusal(txn, true);
      if (refusal !== undefined) {
        this.#budget.release(prepared.sizeBytes);
        throw refusal;
      }
      // Re-read: metadata may have changed while this send waited.
      const current = this.#cluster.topic(topic) ?? metadata;
      const partition = this.#partitioner.choose({ topic, key: prepared.keyBytes, partition: record.partition }, current.partitions.length, current.available);
      this.#append(topic, partition, prepared, limits, sink, index, this.#now());
    } catch (error) {
      if (txn !== undefined) txn.doom(error instanceof StreamBusError ? error : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, String(error), { cause: error }));
      sink.failed(index, error);
    }
  }

  /** Why a send() cannot be taken now (closed, fenced, outside its transaction), or undefined. */
  #sendRefusal(txn: OpenTransaction | undefined): StreamBusError | undefined {
    if (this.#closing) return new StreamBusError(ErrorCode.INVALID_REQUEST, 'send() after the producer was closed');
    return this.#txnRefusal(txn);
  }

  /**
   * Why a record cannot join `txn` (or, for a producer without transactions, be sent) now: fenced,
   * or its transaction ended. `submitted`: the record was handed to send() before, while the
   * transaction was open, and only joins its batch now; a commit in progress still takes it.
   */
  #txnRefusal(txn: OpenTransaction | undefined, submitted = false): StreamBusError | undefined {
    if (this.#fatal !== undefined) return this.#fatal;
    if (this.#options.transactionalId === undefined) return undefined;
    if (txn === undefined) return new StreamBusError(ErrorCode.INVALID_TXN_STATE, 'a transactional producer sends inside transaction(): use tx.send()');
    const ended = submitted ? txn.aborting : txn.ending;
    if (txn !== this.#txn || ended) return new StreamBusError(ErrorCode.INVALID_TXN_STATE, 'the transaction this record was sent in has ended');
    return undefined;
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
      const error = new DeliveryTimeoutError(batch.topic, batch.partition, batch.recordCount, this.#options.deliveryTimeoutMs, batch.lastError);
      this.#lostForGood(batch, error);
      this.#fail(batch, error);
    }
    if (!this.#idempotenceReady()) {
      const wakeMs = this.#accumulator.nextWakeMs(nowMs);
      if (wakeMs !== undefined) this.#armTimer(wakeMs);
      return;
    }
    const txn = this.#txn;
    if (txn !== undefined) this.#addPartitions(txn);
    const max = this.#options.maxInFlightRequests;
    const { byNode, leaderUnknown, awaitingLeader } = this.#accumulator.drain(
      nowMs,
      (topic, partition) => this.#cluster.leaderOf(topic, partition),
      (nodeId) => (this.#inFlight.get(nodeId) ?? 0) < max,
      this.#options.maxRequestBytes,
      this.#partitionGate(txn),
    );
    for (const [nodeId, batches] of byNode) {
      for (const batch of batches) {
        this.#sequences?.send(batch);
        batch.sent = true;
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
      let response: ResponseOf<'PRODUCE'> | undefined;
      let failure: StreamBusError | undefined;
      try {
        const request = await this.#buildRequest(batches);
        const connection = await this.#cluster.connection(nodeId);
        if (acks === 0) await connection.send('PRODUCE', request);
        else response = await connection.request('PRODUCE', request, { timeoutMs: this.#options.requestTimeoutMs + REQUEST_TIMEOUT_SLACK_MS });
      } catch (error) {
        failure =
          error instanceof StreamBusError
            ? error
            : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `producing to broker ${nodeId} failed: ${String(error)}`, { cause: error });
      }
      // Counted back before any answer is acted on: a resend decided below waits for the rest.
      if (this.#sequences !== undefined) for (const batch of batches) this.#sequences.returned(batch);
      if (failure !== undefined) {
        for (const batch of batches) this.#retryOrFail(batch, failure, nodeId);
      } else if (response === undefined) {
        for (const batch of batches) this.#succeed(batch, -1, -1);
      } else {
        this.#handleResponse(nodeId, batches, response);
      }
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
      const stamp = this.#stampOf(batch);
      if (encoded === undefined) {
        const options = { records: batch.records, nowMs, compression, ...stamp };
        encoded = compression === 'none' ? encodeRecordBatchSync(options) : await encodeRecordBatch(options);
        batch.markEncoded(encoded);
      } else if (stamp !== undefined) {
        // A resend: same sequence under the same epoch, or a new stamp after an epoch bump.
        stampBatch(encoded, stamp);
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
        this.#sequences?.acknowledged(batch);
        this.#succeed(batch, result.baseOffset, result.logAppendTimeMs);
        continue;
      }
      if (this.#sequences !== undefined && this.#sequenceAnswer(batch, error, result.baseOffset, nodeId)) continue;
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
  #retryOrFail(batch: ProducerBatch, error: StreamBusError, nodeId: number, resend = false): void {
    if (batch.completed) return;
    const nowMs = this.#now();
    batch.lastError = error;
    // `resend`: a sequence answer that a resend (in order, or under a new epoch) will settle.
    let retriable = error.retriable || resend;
    // An aborting transaction sends nothing more.
    if (this.#txn?.aborting === true) retriable = false;
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
      const timedOut = new DeliveryTimeoutError(batch.topic, batch.partition, batch.recordCount, this.#options.deliveryTimeoutMs, error);
      this.#lostForGood(batch, timedOut);
      this.#fail(batch, timedOut);
      return;
    }
    const context = { topic: batch.topic, partition: batch.partition, ...error.context };
    const final =
      decision.retry || decision.reason === 'not-retriable'
        ? error
        : new StreamBusError(error.code, `${error.message} (gave up after ${batch.retriesDone} retries: ${decision.reason})`, { cause: error, context });
    this.#lostForGood(batch, final);
    this.#fail(batch, final);
  }

  // ---- Idempotence and transactions --------------------------------------------------------

  /** The stamp a batch leaves with, or undefined without idempotence. */
  #stampOf(batch: ProducerBatch): { producerId: number; producerEpoch: number; baseSequence: number; isTransactional: boolean } | undefined {
    if (this.#sequences === undefined || batch.baseSequence < 0) return undefined;
    return {
      producerId: batch.producerId,
      producerEpoch: batch.producerEpoch,
      baseSequence: batch.baseSequence,
      isTransactional: this.#options.transactionalId !== undefined,
    };
  }

  /**
   * Holds back partitions that may not get a batch now: an idempotent producer's limit per
   * partition (and a resend goes alone), and a transaction's partitions not yet added.
   */
  #partitionGate(txn: OpenTransaction | undefined): ((head: ProducerBatch) => boolean) | undefined {
    const sequences = this.#sequences;
    const transactional = this.#options.transactionalId !== undefined;
    if (sequences === undefined && !transactional) return undefined;
    return (head) => {
      if (sequences !== undefined && !sequences.canSend(head)) return false;
      if (!transactional) return true;
      return txn !== undefined && !txn.aborting && txn.added.has(partitionKey(head.topic, head.partition));
    };
  }

  /**
   * Whether batches may leave: without idempotence always; with it once the producer has an id and
   * no epoch bump is pending. Starts the InitProducerId that is missing once nothing is in flight
   * (a bump must not overtake answers still on their way).
   */
  #idempotenceReady(): boolean {
    const sequences = this.#sequences;
    if (sequences === undefined) return true;
    if (this.#fatal !== undefined) {
      for (const batch of this.#accumulator.takeAll()) this.#fail(batch, this.#fatal);
      return false;
    }
    if (sequences.identity !== undefined && !this.#bumpWanted) return true;
    if (this.#accumulator.batchCount > 0 && sequences.inFlight === 0) this.#ensureIdentity().catch(() => undefined);
    return false;
  }

  /** Gets a producer id (or bumps the epoch when one is wanted); single-flight. */
  #ensureIdentity(): Promise<void> {
    this.#initializing ??= this.#initIdentity().finally(() => {
      this.#initializing = undefined;
      this.#scheduleDrain();
    });
    return this.#initializing;
  }

  async #initIdentity(): Promise<void> {
    const calls = this.#txnCalls!;
    const current = this.#bumpWanted ? this.#sequences?.identity : undefined;
    const spec = { transactionalId: this.#options.transactionalId, transactionTimeoutMs: this.#options.transactionTimeoutMs };
    const timeoutMs = this.#options.maxBlockMs > 0 ? this.#options.maxBlockMs : this.#options.requestTimeoutMs;
    let grant: ProducerIdentity;
    try {
      try {
        grant = await calls.initProducerId({ ...spec, current }, { timeoutMs });
      } catch (error) {
        // A coordinator that cannot bump this id (it no longer knows it) is asked for a fresh one.
        if (current === undefined || this.#options.transactionalId !== undefined || !(error instanceof StreamBusError) || !reissued.has(error.code)) throw error;
        grant = await calls.initProducerId(spec, { timeoutMs });
      }
    } catch (error) {
      const failure = error instanceof StreamBusError ? error : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `InitProducerId failed: ${String(error)}`, { cause: error });
      if (this.#options.idempotence === 'auto' && unsupported.has(failure.code)) {
        // The server predates idempotence: carry on without it, as the default allows.
        this.#sequences = undefined;
        this.#bumpWanted = false;
        return;
      }
      if (this.#options.transactionalId !== undefined && fenced.has(failure.code)) {
        throw this.#fence(failure);
      }
      // The records waiting for an id fail with the reason; the next send asks again.
      for (const batch of this.#accumulator.takeAll()) this.#fail(batch, failure);
      throw failure;
    }
    this.#sequences?.setIdentity(grant);
    this.#bumpWanted = false;
  }

  /**
   * Answers that concern the producer's id, epoch or sequences; true when handled here (the batch is
   * settled or requeued), false for the ordinary retry rules.
   */
  #sequenceAnswer(batch: ProducerBatch, error: StreamBusError, baseOffset: number, nodeId: number): boolean {
    const sequences = this.#sequences!;
    const transactional = this.#options.transactionalId !== undefined;
    const code = error.code;
    if (code === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
      // The leader has the batch already (from an earlier attempt): a success.
      sequences.acknowledged(batch);
      this.#succeed(batch, baseOffset, -1);
      return true;
    }
    const stampedBeforeBump = batch.producerId !== sequences.identity?.producerId || batch.producerEpoch !== sequences.identity.producerEpoch;
    if (code === ErrorCode.PRODUCER_FENCED || (code === ErrorCode.INVALID_PRODUCER_EPOCH && transactional && !stampedBeforeBump)) {
      this.#fail(batch, this.#fence(error));
      return true;
    }
    if (code === ErrorCode.INVALID_PRODUCER_EPOCH) {
      // Stamped under an epoch we have since left (resend with the new stamp), or, for a producer
      // without transactions, an epoch the leader no longer takes: bump it.
      if (!stampedBeforeBump) this.#bumpWanted = true;
      this.#retryOrFail(batch, error, nodeId, true);
      return true;
    }
    const sequenceCode = code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER || code === ErrorCode.UNKNOWN_PRODUCER_ID;
    if (sequenceCode && (stampedBeforeBump || !sequences.isFirstUnacknowledged(batch))) {
      // An earlier batch of the partition is being resent (or was not yet written when this one
      // arrived); this one follows it, in order.
      this.#retryOrFail(batch, error, nodeId, true);
      return true;
    }
    if (code !== ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && code !== ErrorCode.UNKNOWN_PRODUCER_ID) return false;
    // The leader lost this producer's state (KIP-360).
    if (transactional) {
      // Inside a transaction the epoch cannot change: the transaction aborts, then the epoch is bumped.
      const txn = this.#txn;
      if (txn !== undefined) txn.sequenceGap = true;
      this.#retryOrFail(batch, error, nodeId);
      return true;
    }
    this.#bumpWanted = true;
    this.#retryOrFail(batch, error, nodeId, true);
    return true;
  }

  /**
   * A batch failed for good. If it had left, the leader may hold its sequence or not, so the
   * sequence has a gap: an idempotent producer bumps its epoch, a transaction must abort (and bumps
   * after). A transaction with a failed record cannot commit.
   */
  #lostForGood(batch: ProducerBatch, error: StreamBusError): void {
    const txn = this.#txn;
    if (this.#options.transactionalId !== undefined) {
      if (txn === undefined) return;
      txn.doom(error);
      if (batch.sent) txn.sequenceGap = true;
      return;
    }
    if (batch.sent && this.#sequences !== undefined) this.#bumpWanted = true;
  }

  /** A newer instance took the transactional id: final. Every queued record fails with ProducerFencedError. */
  #fence(cause: StreamBusError): StreamBusError {
    const fatal = this.#fatal ?? (cause instanceof ProducerFencedError ? cause : new ProducerFencedError(this.#options.transactionalId ?? '', cause.message, cause));
    this.#fatal = fatal;
    this.#txn?.doom(fatal);
    for (const batch of this.#accumulator.takeAll()) this.#fail(batch, fatal);
    return fatal;
  }

  /** A coordinator's fencing answer becomes the final ProducerFencedError; other errors pass. */
  #txnFailure(error: unknown): StreamBusError {
    const failure = error instanceof StreamBusError ? error : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, String(error), { cause: error });
    return fenced.has(failure.code) ? this.#fence(failure) : failure;
  }

  #member(): { transactionalId: string; producerId: number; producerEpoch: number } {
    const identity = this.#sequences!.identity!;
    return { transactionalId: this.#options.transactionalId!, producerId: identity.producerId, producerEpoch: identity.producerEpoch };
  }

  async #runTransaction<T>(fn: (tx: Transaction) => Promise<T> | T, signal: AbortSignal | undefined): Promise<T> {
    if (this.#closing) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'transaction() after the producer was closed');
    if (this.#fatal !== undefined) throw this.#fatal;
    if (signal?.aborted === true) throw abortReason(signal);
    if (this.#sequences?.identity === undefined || this.#bumpWanted) await raceSignal(this.#ensureIdentity(), signal);
    const fatal = this.#fatal as StreamBusError | undefined;
    if (fatal !== undefined) throw fatal;
    const txn = new OpenTransaction();
    this.#txn = txn;
    const tx: Transaction = {
      send: (record, options = {}) => withSignal(this.#submit(record, undefined, 0, options.signal, txn)!, options.signal),
      sendBatch: (records, options = {}) => this.#sendBatch(records, options.signal, txn),
      sendOffsets: (spec, options = {}) => this.#sendOffsets(txn, spec, options.signal),
    };
    let result: T;
    try {
      result = await fn(tx);
    } catch (error) {
      // The caller's error is what transaction() rejects with; an abort that fails as well (the
      // coordinator unreachable) leaves the transaction to the coordinator's timeout.
      await this.#abort(txn).catch(() => undefined);
      throw error;
    }
    try {
      await this.#commit(txn);
    } catch (error) {
      await this.#abort(txn).catch(() => undefined);
      throw error;
    }
    return result;
  }

  /** Flushes the transaction's records, then commits it (if anything joined it). */
  async #commit(txn: OpenTransaction): Promise<void> {
    txn.ending = true;
    await this.flush();
    while (txn.adding !== undefined) await txn.adding;
    if (this.#fatal !== undefined) throw this.#fatal;
    if (txn.error !== undefined) throw txn.error;
    if (txn.touched) {
      try {
        await this.#txnCalls!.endTxn(this.#member(), true);
      } catch (error) {
        throw this.#txnFailure(error);
      }
    }
    if (this.#txn === txn) this.#txn = undefined;
  }

  /**
   * Aborts: records not yet sent fail, the ones in flight are waited for (they are not retried),
   * then the coordinator writes the abort markers. A sequence gap left behind bumps the epoch before
   * the next transaction.
   */
  async #abort(txn: OpenTransaction): Promise<void> {
    txn.ending = true;
    txn.aborting = true;
    const aborted = new StreamBusError(ErrorCode.INVALID_TXN_STATE, 'the transaction was aborted before this record was written');
    for (const batch of this.#accumulator.takeAll()) {
      if (batch.sent) txn.sequenceGap = true;
      this.#fail(batch, aborted);
    }
    try {
      await this.#settled();
      while (txn.adding !== undefined) await txn.adding;
      if (txn.touched && this.#fatal === undefined) {
        try {
          await this.#txnCalls!.endTxn(this.#member(), false);
        } catch (error) {
          // The coordinator may still hold the transaction open: the next one must not join it,
          // so re-initialise first (InitProducerId bumps the epoch and aborts what is open).
          txn.sequenceGap = true;
          throw this.#txnFailure(error);
        }
      }
    } finally {
      if (this.#txn === txn) this.#txn = undefined;
      if (txn.sequenceGap) this.#bumpWanted = true;
    }
  }

  /** Adds the partitions that have records queued to the transaction, one call at a time. */
  #addPartitions(txn: OpenTransaction): void {
    if (txn.adding !== undefined || txn.aborting || this.#fatal !== undefined) return;
    const wanted = this.#accumulator.queuedPartitions().filter((tp) => !txn.added.has(partitionKey(tp.topic, tp.partition)));
    if (wanted.length === 0) return;
    txn.touched = true;
    txn.adding = this.#txnCalls!.addPartitionsToTxn(this.#member(), wanted)
      .then(
        () => {
          for (const tp of wanted) txn.added.add(partitionKey(tp.topic, tp.partition));
        },
        (error: unknown) => {
          const failure = this.#txnFailure(error);
          txn.doom(failure);
          for (const tp of wanted) for (const batch of this.#accumulator.takeAll(tp.topic, tp.partition)) this.#fail(batch, failure);
        },
      )
      .finally(() => {
        txn.adding = undefined;
        this.#scheduleDrain();
      });
  }

  async #sendOffsets(txn: OpenTransaction, spec: SendOffsetsSpec, signal: AbortSignal | undefined): Promise<void> {
    if (this.#fatal !== undefined) throw this.#fatal;
    if (txn !== this.#txn || txn.ending) throw new StreamBusError(ErrorCode.INVALID_TXN_STATE, 'sendOffsets() after its transaction ended');
    if (spec === null || typeof spec !== 'object') throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'sendOffsets() needs { consumer | groupId, offsets }');
    const group =
      'consumer' in spec
        ? spec.consumer.groupMetadata()
        : { groupId: spec.groupId, generation: spec.generation ?? -1, memberId: spec.memberId ?? '', groupInstanceId: spec.groupInstanceId };
    const calls = this.#txnCalls!;
    const options = signal === undefined ? {} : { signal };
    txn.touched = true;
    try {
      if (!txn.groups.has(group.groupId)) {
        await calls.addOffsetsToTxn(this.#member(), group.groupId, options);
        txn.groups.add(group.groupId);
      }
      await calls.txnOffsetCommit(
        {
          ...this.#member(),
          groupId: group.groupId,
          generation: group.generation,
          memberId: group.memberId,
          groupInstanceId: group.groupInstanceId,
          offsets: spec.offsets,
        },
        options,
      );
    } catch (error) {
      const failure = this.#txnFailure(error);
      txn.doom(failure);
      throw failure;
    }
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

/** Codes that mean no server reachable serves INIT_PRODUCER_ID (an older server, or only brokers given as coordinators). */
const unsupported: ReadonlySet<number> = new Set([ErrorCode.UNSUPPORTED_VERSION, ErrorCode.UNKNOWN_API]);
/** Coordinator answers that say a newer instance owns the transactional id. */
const fenced: ReadonlySet<number> = new Set([ErrorCode.PRODUCER_FENCED, ErrorCode.INVALID_PRODUCER_EPOCH]);
/** Answers to an epoch bump of an id the coordinator cannot bump: ask for a fresh id instead. */
const reissued: ReadonlySet<number> = new Set([ErrorCode.INVALID_PRODUCER_ID_MAPPING, ErrorCode.UNKNOWN_PRODUCER_ID, ErrorCode.INVALID_PRODUCER_EPOCH]);

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
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

function resolveOptions(options: ProducerOptions, clientRequestTimeoutMs: number, coordinatorKnown: boolean): ResolvedOptions {
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
  const maxInFlightRequests = positive('maxInFlightRequests', options.maxInFlightRequests, 5);
  const transactionalId = options.transactionalId;
  if (transactionalId !== undefined && (typeof transactionalId !== 'string' || transactionalId === '')) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `producer option transactionalId must be a non-empty string, got ${JSON.stringify(transactionalId)}`);
  }
  const idempotence = resolveIdempotence(options.idempotent, transactionalId, acks, maxInFlightRequests, coordinatorKnown);
  return {
    acks,
    idempotence,
    transactionalId,
    transactionTimeoutMs: positive('transactionTimeoutMs', options.transactionTimeoutMs, 60_000),
    lingerMs: positive('lingerMs', options.lingerMs, 5, 0),
    batchBytes: positive('batchBytes', options.batchBytes, 1024 * 1024, BATCH_OVERHEAD_BYTES + 1),
    compression: options.compression ?? 'none',
    bufferBytes: positive('bufferBytes', options.bufferBytes, 32 * 1024 * 1024),
    maxBlockMs: positive('maxBlockMs', options.maxBlockMs, 60_000, 0),
    maxInFlightRequests,
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

/**
 * Whether the producer is idempotent: 'on' when asked for (or transactional), which requires acks
 * 'all', at most 5 requests in flight and a coordinator; 'auto' by default when those hold; 'off'
 * otherwise. Throws INVALID_CONFIG for a combination that cannot work.
 */
function resolveIdempotence(idempotent: boolean | undefined, transactionalId: string | undefined, acks: 0 | 1 | -1, maxInFlight: number, coordinatorKnown: boolean): 'off' | 'on' | 'auto' {
  if (idempotent !== undefined && typeof idempotent !== 'boolean') {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `producer option idempotent must be a boolean, got ${String(idempotent)}`);
  }
  if (idempotent === false) {
    if (transactionalId !== undefined) throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'a transactional producer is idempotent: drop idempotent: false or transactionalId');
    return 'off';
  }
  const fits = acks === -1 && maxInFlight <= MAX_IDEMPOTENT_IN_FLIGHT && coordinatorKnown;
  if (idempotent === undefined && transactionalId === undefined) return fits ? 'auto' : 'off';
  const why = transactionalId === undefined ? 'idempotent: true' : 'transactionalId';
  if (acks !== -1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${why} needs acks 'all', got ${acks}`);
  if (maxInFlight > MAX_IDEMPOTENT_IN_FLIGHT) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${why} needs maxInFlightRequests <= ${MAX_IDEMPOTENT_IN_FLIGHT}, got ${maxInFlight}`);
  }
  if (!coordinatorKnown) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${why} needs the coordinator (create the producer with StreamBus.producer())`);
  return 'on';
}
