/**
 * One producer batch: the records bound for one partition that will travel as one RecordBatch.
 *
 * Records keep a (sink, index) pair instead of a callback each, so `send()` allocates no closure
 * per record and `sendBatch()` shares one sink among all its records.
 */
import type { RecordInput } from '../../proto/record-batch/index.js';

/** Where a record's outcome goes. Called exactly once per record. */
export interface RecordSink {
  succeeded(index: number, topic: string, partition: number, offset: number, timestamp: number): void;
  failed(index: number, error: unknown): void;
}

/** The fixed RecordBatch v2 header: 61 bytes. */
export const BATCH_OVERHEAD_BYTES = 61;

let nextSequence = 0;

export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly createdMs: number;
  /** The batch fails with REQUEST_TIMED_OUT if not acknowledged by then (deliveryTimeoutMs). */
  readonly deadlineMs: number;
  /** Creation order, for fairness and for tests. */
  readonly sequence = nextSequence++;
  readonly records: RecordInput[] = [];
  readonly sinks: RecordSink[] = [];
  readonly sinkIndexes: number[] = [];
  /** Estimated wire size: header plus each record's upper-bound size. Never below the real size. */
  sizeBytes = BATCH_OVERHEAD_BYTES;
  /** Buffer-budget bytes held by the records, released when the batch completes. */
  reservedBytes = 0;
  /** No more records are added once closed (full, drained, or retried). */
  closed = false;
  retriesDone = 0;
  /** Not sent again before this time (retry backoff). */
  retryAtMs = 0;
  /** The encoded bytes, kept so a retry resends exactly what was sent before. */
  encoded: Buffer | undefined;
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
    return this.records.length;
  }

  get completed(): boolean {
    return this.#completed;
  }

  add(record: RecordInput, recordBytes: number, sink: RecordSink, index: number): void {
    this.records.push(record);
    this.sinks.push(sink);
    this.sinkIndexes.push(index);
    this.sizeBytes += recordBytes;
    this.reservedBytes += recordBytes;
  }

  /**
   * Resolves every record: offsets are consecutive from baseOffset (-1 for all when acks=0).
   * The timestamp is the broker's append time when it sets one, else the record's create time.
   */
  succeed(baseOffset: number, logAppendTimeMs: number): void {
    if (this.#completed) return;
    this.#completed = true;
    const { records, sinks, sinkIndexes, topic, partition } = this;
    for (let i = 0; i < records.length; i++) {
      const offset = baseOffset < 0 ? -1 : baseOffset + i;
      const timestamp = logAppendTimeMs >= 0 ? logAppendTimeMs : (records[i]!.timestamp ?? this.createdMs);
      sinks[i]!.succeeded(sinkIndexes[i]!, topic, partition, offset, timestamp);
    }
    this.#finish();
  }

  /** Rejects every record with `error`. */
  fail(error: Error): void {
    if (this.#completed) return;
    this.#completed = true;
    const { sinks, sinkIndexes } = this;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.failed(sinkIndexes[i]!, error);
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
    // Drop references so a completed batch held by a slow flush() waiter frees its payloads.
    this.records.length = 0;
    this.sinks.length = 0;
    this.sinkIndexes.length = 0;
    this.encoded = undefined;
    this.#resolveDone?.();
  }
}
