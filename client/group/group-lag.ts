/**
 * Consumer lag, in offsets and in seconds, as `streambus group describe` and the lag metrics
 * report it (docs/groups.md, "Reading lag").
 *
 * - Lag in offsets: the partition's end offset (high watermark) minus the group's committed offset;
 *   a partition the group has no offset for counts from the log start, since that many records are
 *   unread by the group (Kafka's tools show "-" there; a number alerts better).
 * - Lag in seconds: the age of the oldest unconsumed record, that is now minus the timestamp of
 *   the record at the committed offset; 0 when nothing is unconsumed. It grows by one second per
 *   second while a consumer is stuck, however fast or slow the topic is written, which is what an
 *   alert on "consumers are behind" wants; offsets alone mean different delays on different topics.
 *
 * Pure: the caller fetches offsets and timestamps, these functions do the arithmetic.
 */
import type { TopicPartition } from '../types.js';

export interface PartitionLagInput extends TopicPartition {
  /** The group's committed offset; -1 when it has none. */
  readonly committed: number;
  /** The partition's log start offset (where a group without an offset is counted from). */
  readonly start: number;
  /** The partition's end offset (high watermark). */
  readonly end: number;
  /** The timestamp (ms) of the record at the first unconsumed offset; undefined when unknown. */
  readonly oldestUnconsumedTimestampMs?: number | undefined;
}

export interface PartitionLag extends TopicPartition {
  readonly committed: number;
  readonly end: number;
  /** Records the group has not consumed; never negative. */
  readonly lag: number;
  /** Age in seconds of the oldest unconsumed record; 0 without lag; undefined when its timestamp is unknown. */
  readonly lagSeconds: number | undefined;
}

/** One partition's lag. */
export function partitionLag(input: PartitionLagInput, nowMs: number): PartitionLag {
  const from = input.committed >= 0 ? input.committed : input.start;
  const lag = Math.max(0, input.end - Math.max(from, 0));
  let lagSeconds: number | undefined;
  if (lag === 0) lagSeconds = 0;
  else if (input.oldestUnconsumedTimestampMs !== undefined && input.oldestUnconsumedTimestampMs >= 0) {
    lagSeconds = Math.max(0, nowMs - input.oldestUnconsumedTimestampMs) / 1000;
  }
  return { topic: input.topic, partition: input.partition, committed: input.committed, end: input.end, lag, lagSeconds };
}

/** A group's total lag in offsets and its largest lag in seconds. */
export function groupLagSummary(partitions: readonly PartitionLag[]): { lag: number; maxLagSeconds: number | undefined } {
  let lag = 0;
  let maxLagSeconds: number | undefined;
  for (const p of partitions) {
    lag += p.lag;
    if (p.lagSeconds !== undefined) maxLagSeconds = Math.max(maxLagSeconds ?? 0, p.lagSeconds);
  }
  return { lag, maxLagSeconds };
}
