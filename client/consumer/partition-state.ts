/**
 * Position tracking: the consumer's state for one assigned partition, and the checks on the
 * partitions and offsets a caller names.
 *
 * Two offsets per partition. `position` is the next record the application will be handed: it
 * moves when an iterator yields a record. `fetchOffset` is the next record to fetch: it runs ahead
 * (prefetch). `epoch` is bumped by anything that invalidates what is buffered or in flight (seek,
 * pause, a reassignment, an offset reset): buffered chunks and fetch answers carry the epoch they
 * were made in, and anything from an older epoch is dropped, so nothing from before a seek is
 * delivered after it.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { TopicPartition } from '../types.js';

/** Where a partition without a usable position starts: looked up with ListOffsets before fetching. */
export type Reset = 'earliest' | 'latest' | { readonly timestamp: number };

/** ListOffsets' special timestamps. */
export const EARLIEST_TIMESTAMP = -2;
export const LATEST_TIMESTAMP = -1;

export class PartitionState {
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
  /** Until then the partition is fetched from its leader even when a same-rack follower exists. */
  leaderOnlyUntilMs = 0;
  /** When UNKNOWN_TOPIC_OR_PARTITION first came back in the current run of failures. */
  unknownTopicSinceMs: number | undefined;

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

/** Refuses a malformed topic-partition with INVALID_REQUEST. */
export function checkTopicPartition(tp: TopicPartition): void {
  if (tp === null || typeof tp !== 'object' || typeof tp.topic !== 'string' || tp.topic.length === 0) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'each assigned partition needs a non-empty `topic` string');
  }
  if (!Number.isInteger(tp.partition) || tp.partition < 0) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `partition must be a non-negative integer, got ${String(tp.partition)}`, { context: { topic: tp.topic } });
  }
}

/** Refuses an offset that is not a non-negative safe integer with INVALID_REQUEST. */
export function checkOffset(offset: number, tp: TopicPartition): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `offset must be a non-negative integer, got ${String(offset)}`, {
      context: { topic: tp.topic, partition: tp.partition },
    });
  }
}
