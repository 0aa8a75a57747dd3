/**
 * The record accumulator: per-partition queues of batches waiting to be sent.
 *
 * It holds no timers and reads no clock; the producer passes `nowMs` and asks when to wake up
 * next. That keeps linger, batch-size and retry-backoff rules testable without waiting.
 *
 * A batch is ready to drain when any of these holds, and its retry backoff (if any) has passed:
 *   - it is closed: the next record would not fit (batchBytes or the topic's max.message.bytes);
 *   - it has lingered lingerMs since its first record;
 *   - a flush or close is in progress.
 * A retried batch whose last attempt failed on a broker that has since stopped leading its
 * partition (ProducerBatch.failedOnNode) is ready at once: its backoff is not waited out.
 * The producer may hold a partition back (`partitionReady`): an idempotent producer limits the
 * batches in flight per partition and resends a retried batch alone; a transactional one sends
 * nothing to a partition before the coordinator has added it to the transaction.
 * A drain takes at most one batch per partition (the head of its queue), as Kafka does: a second
 * batch of the same partition waits for the next request, which keeps a partition's batches in
 * order on the wire when only one request is in flight.
 */
import type { RecordInput } from '../../proto/record-batch/index.js';
import { BATCH_OVERHEAD_BYTES, ProducerBatch, type RecordSink } from './batch.js';

export interface AccumulatorOptions {
  readonly lingerMs: number;
  readonly deliveryTimeoutMs: number;
}

export interface AppendResult {
  readonly batch: ProducerBatch;
  /** The record's position in the batch (for ProducerBatch.recordPromise). */
  readonly position: number;
  /** The record started a new batch (the producer arms the linger timer). */
  readonly newBatch: boolean;
  /** A batch of this partition was closed by this append (it is ready now). */
  readonly closedBatch: boolean;
}

export interface DrainResult {
  /** Batches to send, grouped by the leader's node id. Each list becomes one produce request. */
  readonly byNode: Map<number, ProducerBatch[]>;
  /** Some ready batch has no known leader: refresh metadata. */
  readonly leaderUnknown: boolean;
  /**
   * Some batch waits out its backoff after failing on the broker the metadata still names as its
   * partition's leader (or no leader is known): fresh metadata may show the new leader, which
   * would end the wait.
   */
  readonly awaitingLeader: boolean;
}

interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  /** Oldest first. Only the last one may be open for appends. */
  readonly batches: ProducerBatch[];
}

export class RecordAccumulator {
  readonly #lingerMs: number;
  readonly #deliveryTimeoutMs: number;
  /** topic → queues indexed by partition (sparse). */
  readonly #byTopic = new Map<string, (PartitionQueue | undefined)[]>();
  /** Every queue, for scans; drains start at a rotating index so no partition is always last. */
  readonly #queues: PartitionQueue[] = [];
  #drainStart = 0;
  #flushes = 0;
  #batchCount = 0;

  constructor(options: AccumulatorOptions) {
    this.#lingerMs = options.lingerMs;
    this.#deliveryTimeoutMs = options.deliveryTimeoutMs;
  }

  /** Batches queued (not yet drained, or put back for a retry). */
  get batchCount(): number {
    return this.#batchCount;
  }

  /**
   * Adds a record to its partition's open batch, or opens a new one when it would not fit in
   * `maxBatchBytes`. A record alone larger than maxBatchBytes still gets a batch of its own: the
   * caller has already rejected records that exceed the topic's hard limit. Without a sink, the
   * caller takes the record's promise from the batch (ProducerBatch.recordPromise).
   */
  append(
    topic: string,
    partition: number,
    record: RecordInput,
    recordBytes: number,
    sink: RecordSink | undefined,
    index: number,
    maxBatchBytes: number,
    nowMs: number,
  ): AppendResult {
    const queue = this.#queue(topic, partition);
    const batches = queue.batches;
    const last = batches[batches.length - 1];
    let closedBatch = false;
    if (last !== undefined && !last.closed) {
      if (last.sizeBytes + recordBytes <= maxBatchBytes) {
        const position = last.add(record, recordBytes, sink, index);
        // Close as soon as another record of this size would not fit, so a full batch leaves now
        // rather than after lingerMs or with the next record.
        if (last.sizeBytes + recordBytes > maxBatchBytes) {
          last.closed = true;
          closedBatch = true;
        }
        return { batch: last, position, newBatch: false, closedBatch };
      }
      last.closed = true;
      closedBatch = true;
    }
    const batch = new ProducerBatch(topic, partition, nowMs, this.#deliveryTimeoutMs);
    const position = batch.add(record, recordBytes, sink, index);
    if (BATCH_OVERHEAD_BYTES + 2 * recordBytes > maxBatchBytes) {
      batch.closed = true;
      closedBatch = true;
    }
    batches.push(batch);
    this.#batchCount++;
    return { batch, position, newBatch: true, closedBatch };
  }

  /**
   * Puts a batch that failed retriably back at the front of its queue, to be sent at retryAtMs,
   * in creation order among the batches already put back. Several batches of one partition fail
   * together when their connection drops or their leader moves, and their failures arrive in any
   * order; sorting them by sequence re-sends them in the order they were first sent, so a leader
   * change does not reorder a partition.
   */
  reenqueue(batch: ProducerBatch): void {
    batch.closed = true;
    const batches = this.#queue(batch.topic, batch.partition).batches;
    let at = 0;
    while (at < batches.length && batches[at]!.sequence < batch.sequence) at++;
    batches.splice(at, 0, batch);
    this.#batchCount++;
  }

  /** While at least one flush is in progress, every batch is ready at once (lingerMs is ignored). */
  beginFlush(): void {
    this.#flushes++;
  }

  endFlush(): void {
    this.#flushes = Math.max(0, this.#flushes - 1);
  }

  get flushing(): boolean {
    return this.#flushes > 0;
  }

  /**
   * Removes and returns the ready head batches whose leader is known and whose node can take a
   * request now (`canSend`). Requests are capped near maxRequestBytes, always carrying at least
   * one batch.
   */
  drain(
    nowMs: number,
    leaderOf: (topic: string, partition: number) => number | undefined,
    canSend: (nodeId: number) => boolean,
    maxRequestBytes: number,
    partitionReady?: (head: ProducerBatch) => boolean,
  ): DrainResult {
    const byNode = new Map<number, ProducerBatch[]>();
    const bytesByNode = new Map<number, number>();
    let leaderUnknown = false;
    let awaitingLeader = false;
    const queues = this.#queues;
    const count = queues.length;
    if (count === 0) return { byNode, leaderUnknown, awaitingLeader };
    const start = this.#drainStart % count;
    this.#drainStart = start + 1;
    for (let n = 0; n < count; n++) {
      const queue = queues[(start + n) % count]!;
      const head = queue.batches[0];
      if (head === undefined) continue;
      const nodeId = leaderOf(queue.topic, queue.partition);
      if (!this.#isReady(head, nowMs)) {
        const failedOn = head.failedOnNode;
        if (failedOn === undefined) continue;
        if (nodeId === undefined || nodeId === failedOn) {
          awaitingLeader = true;
          continue;
        }
        // The leader moved since the attempt failed: send now, whatever the backoff says.
      }
      if (nodeId === undefined) {
        leaderUnknown = true;
        continue;
      }
      if (!canSend(nodeId)) continue;
      if (partitionReady !== undefined && !partitionReady(head)) continue;
      const used = bytesByNode.get(nodeId) ?? 0;
      if (used > 0 && used + head.sizeBytes > maxRequestBytes) continue;
      queue.batches.shift();
      this.#batchCount--;
      head.closed = true;
      bytesByNode.set(nodeId, used + head.sizeBytes);
      let list = byNode.get(nodeId);
      if (list === undefined) {
        list = [];
        byNode.set(nodeId, list);
      }
      list.push(head);
    }
    return { byNode, leaderUnknown, awaitingLeader };
  }

  /** Removes and returns queued batches whose delivery deadline has passed. */
  expire(nowMs: number): ProducerBatch[] {
    const expired: ProducerBatch[] = [];
    for (const queue of this.#queues) {
      const batches = queue.batches;
      if (batches.length === 0) continue;
      let kept = 0;
      for (let i = 0; i < batches.length; i++) {
        const batch = batches[i]!;
        if (batch.deadlineMs <= nowMs) expired.push(batch);
        else batches[kept++] = batch;
      }
      batches.length = kept;
    }
    this.#batchCount -= expired.length;
    return expired;
  }

  /**
   * The earliest future time at which a queued batch becomes ready or expires; undefined when no
   * batch waits on time. Batches that are ready now but blocked (no leader, node busy) are not
   * counted: the events that unblock them (metadata, a response) wake the producer instead.
   */
  nextWakeMs(nowMs: number): number | undefined {
    let wake = Number.POSITIVE_INFINITY;
    for (const queue of this.#queues) {
      const batches = queue.batches;
      const head = batches[0];
      if (head === undefined) continue;
      const readyMs = this.#readyAtMs(head);
      if (readyMs > nowMs && readyMs < wake) wake = readyMs;
      for (const batch of batches) if (batch.deadlineMs > nowMs && batch.deadlineMs < wake) wake = batch.deadlineMs;
    }
    return wake === Number.POSITIVE_INFINITY ? undefined : wake;
  }

  /** The partitions that have batches queued, in no particular order. */
  queuedPartitions(): { topic: string; partition: number }[] {
    return this.#queues.filter((q) => q.batches.length > 0).map((q) => ({ topic: q.topic, partition: q.partition }));
  }

  /** Removes and returns every queued batch (close with an error, an unrecoverable topic, an aborted transaction). */
  takeAll(topic?: string, partition?: number): ProducerBatch[] {
    const taken: ProducerBatch[] = [];
    for (const queue of this.#queues) {
      if (topic !== undefined && queue.topic !== topic) continue;
      if (partition !== undefined && queue.partition !== partition) continue;
      for (const batch of queue.batches) taken.push(batch);
      queue.batches.length = 0;
    }
    this.#batchCount -= taken.length;
    return taken;
  }

  #readyAtMs(batch: ProducerBatch): number {
    if (batch.closed || this.#flushes > 0) return batch.retryAtMs;
    return Math.max(batch.retryAtMs, batch.createdMs + this.#lingerMs);
  }

  #isReady(batch: ProducerBatch, nowMs: number): boolean {
    return this.#readyAtMs(batch) <= nowMs;
  }

  #queue(topic: string, partition: number): PartitionQueue {
    let byPartition = this.#byTopic.get(topic);
    if (byPartition === undefined) {
      byPartition = [];
      this.#byTopic.set(topic, byPartition);
    }
    let queue = byPartition[partition];
    if (queue === undefined) {
      queue = { topic, partition, batches: [] };
      byPartition[partition] = queue;
      this.#queues.push(queue);
    }
    return queue;
  }
}
