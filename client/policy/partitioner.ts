/**
 * Which partition a produced record goes to. Pure: no I/O, no clock, randomness injected.
 *
 * Order of precedence, as in Kafka's Java producer (2.4 and later):
 *   1. an explicit partition wins;
 *   2. a key picks toPositive(murmur2(key)) % numPartitions over ALL partitions, available or not,
 *      so a key always maps to the same partition while the partition count is unchanged;
 *   3. without a key the record joins the topic's "sticky" partition, and keeps doing so until the
 *      batch being filled there is closed (sent or full); then a new sticky partition is drawn at
 *      random among the partitions that have a leader, different from the last one when there is
 *      a choice. Sticky partitioning fills fewer, bigger batches than round robin, which is what
 *      makes unkeyed throughput high at small linger times.
 */
import { partitionForKey } from './murmur2.js';
import { randomInt, type Random } from './random.js';

export interface PartitionChoice {
  readonly topic: string;
  /** The key's bytes; null or undefined for an unkeyed record. */
  readonly key?: Uint8Array | null | undefined;
  readonly partition?: number | undefined;
}

export class Partitioner {
  readonly #random: Random;
  /** topic → the current sticky partition. */
  readonly #sticky = new Map<string, number>();

  constructor(random: Random) {
    this.#random = random;
  }

  /**
   * The partition for one record. `available` lists the partitions that currently have a leader
   * (empty or undefined: treat every partition as a candidate). An explicit partition is returned
   * unchecked: the caller validates it against metadata.
   */
  choose(record: PartitionChoice, numPartitions: number, available?: readonly number[]): number {
    if (record.partition !== undefined) return record.partition;
    if (record.key !== undefined && record.key !== null) return partitionForKey(record.key, numPartitions);
    return this.stickyPartition(record.topic, numPartitions, available);
  }

  /** The topic's current sticky partition, drawing one if there is none (or it is out of range). */
  stickyPartition(topic: string, numPartitions: number, available?: readonly number[]): number {
    const current = this.#sticky.get(topic);
    if (current !== undefined && current < numPartitions) return current;
    return this.#draw(topic, -1, numPartitions, available);
  }

  /**
   * Tells the partitioner that the batch being filled on `partition` was closed. If that was the
   * topic's sticky partition, the next unkeyed record goes elsewhere; otherwise nothing changes
   * (a keyed or explicit batch closing must not move unkeyed traffic).
   */
  onBatchClosed(topic: string, partition: number, numPartitions: number, available?: readonly number[]): void {
    if (this.#sticky.get(topic) !== partition) return;
    this.#draw(topic, partition, numPartitions, available);
  }

  /** Forgets a topic's sticky partition (the topic was deleted or its metadata changed shape). */
  forget(topic: string): void {
    this.#sticky.delete(topic);
  }

  #draw(topic: string, previous: number, numPartitions: number, available?: readonly number[]): number {
    let next: number;
    if (available !== undefined && available.length > 0) {
      next = pickDifferent(available, previous, this.#random);
    } else {
      next = randomInt(this.#random, numPartitions);
      if (next === previous && numPartitions > 1) next = (next + 1 + randomInt(this.#random, numPartitions - 1)) % numPartitions;
    }
    this.#sticky.set(topic, next);
    return next;
  }
}

/** A random element of `candidates`, other than `previous` whenever another one exists. */
function pickDifferent(candidates: readonly number[], previous: number, random: Random): number {
  if (candidates.length === 1) return candidates[0]!;
  const index = randomInt(random, candidates.length);
  const picked = candidates[index]!;
  if (picked !== previous) return picked;
  // Skip over `previous` by drawing among the others: one draw, no retry loop.
  const offset = 1 + randomInt(random, candidates.length - 1);
  return candidates[(index + offset) % candidates.length]!;
}
