/**
 * Retention policy for cleanup.policy=delete: which batches, from the start of the log, go.
 *
 * Pure: it sees batch index entries in offset order and answers per batch, with `nowMs` given.
 * Deletion is always a prefix (the log start only moves up), so the first batch that survives
 * ends the pass, as Kafka stops at the first segment it keeps.
 *
 * - retention.ms: a batch goes when its maxTimestamp is more than retentionMs before nowMs.
 *   A batch with a timestamp in the future therefore holds back everything after it, as in Kafka.
 * - retention.bytes: the oldest batches go while the partition holds more than retentionBytes,
 *   so a pass ends with the partition at or under the limit. (Kafka deletes whole segments only
 *   while the rest stays at or above the limit; with batch granularity the stricter reading costs
 *   at most one batch more and keeps the setting a true upper bound.)
 */
import type { BatchIndexEntry } from './layout.js';
import type { LogConfig } from './types.js';

export class RetentionPlanner {
  readonly #expiryBeforeMs: number | undefined;
  readonly #retentionBytes: number | undefined;
  #remainingBytes: number;

  constructor(config: Pick<LogConfig, 'retentionMs' | 'retentionBytes'>, nowMs: number, sizeBytes: number) {
    this.#expiryBeforeMs = config.retentionMs >= 0 ? nowMs - config.retentionMs : undefined;
    this.#retentionBytes = config.retentionBytes >= 0 ? config.retentionBytes : undefined;
    this.#remainingBytes = sizeBytes;
  }

  /** False when neither limit is set: nothing can be deleted. */
  get active(): boolean {
    return this.#expiryBeforeMs !== undefined || this.#retentionBytes !== undefined;
  }

  /** Whether `entry` (the oldest batch not yet deleted) is deleted. Call in offset order. */
  deletes(entry: BatchIndexEntry): boolean {
    const expired = this.#expiryBeforeMs !== undefined && entry.maxTimestamp < this.#expiryBeforeMs;
    const oversized = this.#retentionBytes !== undefined && this.#remainingBytes > this.#retentionBytes;
    if (!expired && !oversized) return false;
    this.#remainingBytes -= entry.sizeBytes;
    return true;
  }
}
