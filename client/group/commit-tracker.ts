/**
 * The pure bookkeeping behind a group consumer's commits and rebalances.
 *
 * CommitTracker remembers, per owned partition, the offset after the last record whose handler
 * returned (Kafka's "next offset to consume"), and which of those the group has not been told yet.
 * Only processed records count: a record that was fetched, or handed to a handler that has not
 * returned, never moves the committed offset, so a crash re-delivers it (at-least-once) instead of
 * skipping it.
 *
 * diffAssignment splits a new assignment against what a member owns into kept, added and revoked
 * partitions: under the eager protocol everything owned was revoked before the join, under the
 * cooperative protocol (KIP-429) only `revoked` is given up, after the sync.
 *
 * Pure: no node:* imports, no clock.
 */
import type { TopicPartition } from '../types.js';

/** One partition's offset to commit: the next record to consume there. */
export interface TrackedOffset extends TopicPartition {
  readonly offset: number;
}

function keyOf(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

export class CommitTracker {
  /** key → the processed position (next offset). */
  readonly #processed = new Map<string, TrackedOffset>();
  /** key → the offset the coordinator last acknowledged. */
  readonly #committed = new Map<string, number>();

  /**
   * Records that the handler of the record at `offset` returned; the position to commit becomes
   * offset + 1. An older offset than one already recorded is ignored (positions never move back
   * here; a seek back is a new start, see `reset`).
   */
  processed(tp: TopicPartition, offset: number): void {
    const key = keyOf(tp);
    const next = offset + 1;
    const known = this.#processed.get(key);
    if (known !== undefined && known.offset >= next) return;
    this.#processed.set(key, { topic: tp.topic, partition: tp.partition, offset: next });
  }

  /** Sets a partition's position outright (a seek, or the committed offset it started from). */
  reset(tp: TopicPartition, offset: number): void {
    this.#processed.set(keyOf(tp), { topic: tp.topic, partition: tp.partition, offset });
  }

  /** The processed position of a partition, if any record of it was processed (or it was reset). */
  position(tp: TopicPartition): number | undefined {
    return this.#processed.get(keyOf(tp))?.offset;
  }

  /**
   * Positions not yet acknowledged by the group, optionally only of `partitions`; in ascending
   * topic and partition order.
   */
  pending(partitions?: readonly TopicPartition[]): TrackedOffset[] {
    const only = partitions === undefined ? undefined : new Set(partitions.map(keyOf));
    const out: TrackedOffset[] = [];
    for (const [key, tracked] of this.#processed) {
      if (only !== undefined && !only.has(key)) continue;
      if (this.#committed.get(key) === tracked.offset) continue;
      out.push(tracked);
    }
    return out.sort(compareTopicPartitions);
  }

  /** The group acknowledged these offsets. */
  acknowledged(offsets: readonly TrackedOffset[]): void {
    for (const o of offsets) {
      const key = keyOf(o);
      const known = this.#committed.get(key);
      if (known === undefined || known < o.offset) this.#committed.set(key, o.offset);
    }
  }

  /** The partitions left this member: forget them (a later owner starts from the group's offset). */
  forget(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const key = keyOf(tp);
      this.#processed.delete(key);
      this.#committed.delete(key);
    }
  }
}

export interface AssignmentDiff {
  readonly kept: TopicPartition[];
  readonly added: TopicPartition[];
  readonly revoked: TopicPartition[];
}

/** Splits `assigned` against `owned`; each list in ascending topic and partition order. */
export function diffAssignment(owned: readonly TopicPartition[], assigned: readonly TopicPartition[]): AssignmentDiff {
  const ownedKeys = new Set(owned.map(keyOf));
  const assignedKeys = new Set(assigned.map(keyOf));
  const kept = assigned.filter((tp) => ownedKeys.has(keyOf(tp)));
  const added = assigned.filter((tp) => !ownedKeys.has(keyOf(tp)));
  const revoked = owned.filter((tp) => !assignedKeys.has(keyOf(tp)));
  return { kept: kept.sort(compareTopicPartitions), added: added.sort(compareTopicPartitions), revoked: revoked.sort(compareTopicPartitions) };
}

/** Flattens an assignor's topic → partitions map into topic-partitions, in ascending order. */
export function toTopicPartitions(partitions: ReadonlyMap<string, readonly number[]>): TopicPartition[] {
  const out: TopicPartition[] = [];
  for (const [topic, list] of partitions) for (const partition of list) out.push({ topic, partition });
  return out.sort(compareTopicPartitions);
}

/** Groups topic-partitions by topic, as the consumer protocol's owned partitions carry them. */
export function byTopic(partitions: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const map = new Map<string, number[]>();
  for (const tp of partitions) {
    const list = map.get(tp.topic) ?? [];
    list.push(tp.partition);
    map.set(tp.topic, list);
  }
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([topic, list]) => ({ topic, partitions: list.sort((a, b) => a - b) }));
}

export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}
