/**
 * One producer batch: the records bound for one partition that will travel as one RecordBatch.
 *
 * Memory per record matters here: a busy producer holds every record from send() to its ack, a
 * few milliseconds to seconds, so whatever a record keeps alive survives young-generation GCs and
 * is copied (then promoted) by each of them. Hence:
 * - a record sent with send() keeps no callback and no promise of its own inside the batch. Its
 *   promise is derived from the batch's one outcome promise with a reaction function shared by
 *   every record at the same position (see `recordPromise`), so it costs the derived promise and
 *   its reaction only;
 * - records of sendBatch() (and sends that had to wait) report through a RecordSink, a (sink,
 *   index) pair that one sendBatch() shares among all its records;
 * - once the batch is encoded the record objects (and with them the caller's key and value
 *   Buffers) are dropped: a retry resends the encoded bytes, and an ack needs only each record's
 *   timestamp, kept as a plain number.
 */
import type { StreamBusError } from '../../proto/errors.js';
import type { RecordInput } from '../../proto/record-batch/index.js';
import type { RecordMetadata } from '../types.js';

/** Where a record's outcome goes. Called exactly once per record. */
export interface RecordSink {
  succeeded(index: number, topic: string, partition: number, offset: number, timestamp: number): void;
  failed(index: number, error: unknown): void;
}

/** What a batch's outcome promise resolves with: enough to derive each record's metadata. */
export interface BatchOutcome {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the first record, or -1 when the producer does not wait for acks. */
  readonly baseOffset: number;
  /** The broker's append time when it set one, else -1 (each record keeps its create time). */
  readonly logAppendTimeMs: number;
  /** Each record's create time, by position in the batch. */
  readonly timestamps: readonly number[];
}

/** The fixed RecordBatch v2 header: 61 bytes. */
export const BATCH_OVERHEAD_BYTES = 61;

/**
 * Positions below this share one cached reaction function each (created on first use, kept for
 * the process's life); a batch of more records makes a fresh one for the positions beyond, so the
 * cache stays bounded whatever the batch size.
 */
const CACHED_POSITIONS = 1 << 16;
const metadataAt: ((outcome: BatchOutcome) => RecordMetadata)[] = [];

function makeMetadataAt(position: number): (outcome: BatchOutcome) => RecordMetadata {
  return (outcome) => ({
    topic: outcome.topic,
    partition: outcome.partition,
    offset: outcome.baseOffset < 0 ? -1 : outcome.baseOffset + position,
    timestamp: outcome.logAppendTimeMs >= 0 ? outcome.logAppendTimeMs : outcome.timestamps[position]!,
  });
}

/** The reaction that turns a batch outcome into the metadata of the record at `position`. */
function metadataReaction(position: number): (outcome: BatchOutcome) => RecordMetadata {
  if (position >= CACHED_POSITIONS) return makeMetadataAt(position);
  let reaction = metadataAt[position];
  if (reaction === undefined) {
    reaction = makeMetadataAt(position);
    metadataAt[position] = reaction;
  }
  return reaction;
}

function ignore(): void {}

let nextSequence = 0;

export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly createdMs: number;
  /** The batch fails with DeliveryTimeoutError if not acknowledged by then (deliveryTimeoutMs). */
  readonly deadlineMs: number;
  /** Creation order, for fairness and for tests. */
  readonly sequence = nextSequence++;
  /** The records to encode; emptied once `encoded` is set (see markEncoded). */
  readonly records: RecordInput[] = [];
  /** Estimated wire size: header plus each record's upper-bound size. Never below the real size. */
  sizeBytes = BATCH_OVERHEAD_BYTES;
  /** Buffer-budget bytes held by the records, released when the batch completes. */
  reservedBytes = 0;
  /** No more records are added once closed (full, drained, or retried). */
  closed = false;
  retriesDone = 0;
  /** Not sent again before this time (retry backoff)... */
  retryAtMs = 0;
  /**
   * ...unless the metadata names another leader than this broker: the one the last attempt went
   * to, when it failed in a way that says the leader moved or the broker is gone (undefined
   * otherwise). The backoff protects a broker that is busy or recovering; a new leader has seen
   * nothing of this batch yet, so it gets the batch at once (Kafka's KIP-951 does the same).
   */
  failedOnNode: number | undefined;
  /** The last retriable failure, named in the DeliveryTimeoutError if the deadline passes. */
  lastError: StreamBusError | undefined;
  /** When this batch first got UNKNOWN_TOPIC_OR_PARTITION (retried only for a while). */
  unknownTopicSinceMs: number | undefined;
  /** Idempotence (sequences.ts): the stamp it carries, -1 until it first leaves; kept on retries. */
  producerId = -1;
  producerEpoch = -1;
  baseSequence = -1;
  /** It left at least once, so the leader may have written it. */
  sent = false;
  #encoded: Buffer | undefined;
  /** Create time of each record, by position. Outlives the records: acks report it. */
  #timestamps: number[] = [];
  /** Sinks of the records that report through one (sendBatch, waited sends), with their index. */
  #sinks: RecordSink[] = [];
  #sinkIndexes: number[] = [];
  #sinkPositions: number[] = [];
  #outcome: Promise<BatchOutcome> | undefined;
  #resolveOutcome: ((outcome: BatchOutcome) => void) | undefined;
  #rejectOutcome: ((error: unknown) => void) | undefined;
  #completed = false;
  #done: Promise<void> | undefined;
  #resolveDone: (() => void) | undefined;

  constructor(topic: string, partition: number, nowMs: number, deliveryTimeoutMs: number) {
    this.topic = topic;
    this.partition = partition;
    this.createdMs = nowMs;
    this.deadlineMs = nowMs + deliveryTimeoutMs;
  }

  get recordCount(): number {
    return this.#timestamps.length;
  }

  get completed(): boolean {
    return this.#completed;
  }

  /** The encoded RecordBatch, kept so a retry resends exactly what was sent before. */
  get encoded(): Buffer | undefined {
    return this.#encoded;
  }

  /**
   * Records the encoded bytes and drops the record objects: from here on the batch holds its
   * payload once, as bytes, and the caller's key and value Buffers can be collected.
   */
  markEncoded(encoded: Buffer): void {
    this.#encoded = encoded;
    this.records.length = 0;
  }

  /**
   * Adds a record and returns its position in the batch. With a sink, the record's outcome goes to
   * `sink` under `index`; without one, the caller takes its promise from recordPromise(position).
   */
  add(record: RecordInput, recordBytes: number, sink: RecordSink | undefined, index: number): number {
    const position = this.#timestamps.length;
    this.records.push(record);
    this.#timestamps.push(record.timestamp ?? this.createdMs);
    if (sink !== undefined) {
      this.#sinks.push(sink);
      this.#sinkIndexes.push(index);
      this.#sinkPositions.push(position);
    }
    this.sizeBytes += recordBytes;
    this.reservedBytes += recordBytes;
    return position;
  }

  /**
   * The promise of the record at `position` (added without a sink): resolves with its metadata when
   * the batch succeeds, rejects with the batch's error when it fails.
   */
  recordPromise(position: number): Promise<RecordMetadata> {
    return this.#outcomePromise().then(metadataReaction(position));
  }

  #outcomePromise(): Promise<BatchOutcome> {
    if (this.#outcome === undefined) {
      this.#outcome = new Promise<BatchOutcome>((resolve, reject) => {
        this.#resolveOutcome = resolve;
        this.#rejectOutcome = reject;
      });
      // The records' derived promises carry a failure to their callers; this one must not also
      // surface as an unhandled rejection.
      this.#outcome.catch(ignore);
    }
    return this.#outcome;
  }

  /**
   * Resolves every record: offsets are consecutive from baseOffset (-1 for all when acks=0).
   * The timestamp is the broker's append time when it sets one, else the record's create time.
   */
  succeed(baseOffset: number, logAppendTimeMs: number): void {
    if (this.#completed) return;
    this.#completed = true;
    const { topic, partition } = this;
    const timestamps = this.#timestamps;
    const sinks = this.#sinks;
    const sinkIndexes = this.#sinkIndexes;
    const positions = this.#sinkPositions;
    for (let i = 0; i < sinks.length; i++) {
      const position = positions[i]!;
      const offset = baseOffset < 0 ? -1 : baseOffset + position;
      const timestamp = logAppendTimeMs >= 0 ? logAppendTimeMs : timestamps[position]!;
      sinks[i]!.succeeded(sinkIndexes[i]!, topic, partition, offset, timestamp);
    }
    this.#resolveOutcome?.({ topic, partition, baseOffset, logAppendTimeMs, timestamps });
    this.#finish();
  }

  /** Rejects every record with `error`. */
  fail(error: Error): void {
    if (this.#completed) return;
    this.#completed = true;
    const sinks = this.#sinks;
    const sinkIndexes = this.#sinkIndexes;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.failed(sinkIndexes[i]!, error);
    this.#rejectOutcome?.(error);
    this.#finish();
  }

  /** Settles (never rejects) when the batch has succeeded or failed. */
  whenDone(): Promise<void> {
    if (this.#completed) return Promise.resolve();
    this.#done ??= new Promise<void>((resolve) => {
      this.#resolveDone = resolve;
    });
    return this.#done;
  }

  #finish(): void {
    // Drop references so a completed batch held by a slow flush() waiter frees its payloads. The
    // timestamps array now belongs to the outcome the records' reactions read.
    this.records.length = 0;
    this.#timestamps = [];
    this.#sinks = [];
    this.#sinkIndexes = [];
    this.#sinkPositions = [];
    this.#encoded = undefined;
    this.#resolveOutcome = undefined;
    this.#rejectOutcome = undefined;
    this.#resolveDone?.();
  }
}
