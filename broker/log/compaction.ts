/**
 * Log compaction (cleanup.policy=compact): keep the latest record per key.
 *
 * The cleanable range is the prefix of the log from the log start up to the first batch that is
 * at or above the high watermark or younger than min.compaction.lag.ms (maxTimestamp after
 * nowMs - lag): like Kafka's "first uncleanable offset", nothing after it is touched, and records
 * after it do not supersede records before it yet.
 *
 * A pass runs when the dirty part (batches past the last pass's range) is at least
 * minCleanableDirtyRatio of the cleanable bytes, or when a kept tombstone has expired. It reads
 * the range twice: pass one maps each key to its latest offset, pass two rewrites each batch that
 * lost records, at the same offsets (surviving records keep their offsetDelta, the batch keeps its
 * baseOffset and lastOffsetDelta, so it stays under the same key) with the same codec and header
 * fields. Rules, per record:
 * - a record whose key has a later record in the range goes;
 * - a tombstone (null value) that is the latest for its key stays until its timestamp is
 *   deleteRetentionMs old, then goes (Kafka counts from when the cleaner first saw it, with a delete
 *   horizon in the batch header; we count from the record's own timestamp);
 * - records with a null key stay (the broker refuses them on compacted topics at produce time);
 * - control batches (transaction markers) stay untouched.
 * A batch left with no records goes, except the last batch of an idempotent producer in the range,
 * which stays as an empty batch so the producer's sequence state survives (as Kafka keeps it).
 *
 * The key map holds every key of the range in memory (as a latin1 string of its bytes).
 */
import {
  decodeRecordBatches,
  encodeRecordBatch,
  readBatchHeader,
  TimestampType,
  type BatchHeader,
  type Compression,
  type Crc32c,
  type DecodedRecord,
  type EncodeRecordBatchOptions,
} from '../../proto/record-batch/index.js';
import type { BatchIndexEntry, PartitionState } from './layout.js';
import type { LogConfig } from './types.js';

/** One batch rewritten (value) or removed (value undefined). */
export interface BatchChange {
  readonly entry: BatchIndexEntry;
  readonly value: Buffer | undefined;
  readonly maxTimestamp: number;
}

export interface CompactionFinish {
  readonly cleanedOffset: number;
  readonly tombstoneExpiryMs: number;
}

export interface CompactionInput {
  readonly nowMs: number;
  readonly config: Readonly<LogConfig>;
  readonly minCleanableDirtyRatio: number;
  readonly state: Readonly<PartitionState>;
  readonly highWatermark: number;
  readonly crc32c: Crc32c;
  readonly scanBatchIndex: (fromOffset: number, toOffset: number) => AsyncIterable<BatchIndexEntry>;
  readonly scanBatches: (fromOffset: number, toOffset: number) => AsyncIterable<[number, Buffer]>;
  /** Writes a chunk of changes; the last call carries `finish` (the partition's new compaction state). */
  readonly write: (changes: readonly BatchChange[], finish: CompactionFinish | undefined) => Promise<void>;
}

export interface CompactionResult {
  readonly rewrittenBatches: number;
  readonly removedBatches: number;
  readonly removedRecords: number;
  readonly reclaimedBytes: number;
}

/** Rewrites are written in chunks of about this many bytes. */
const WRITE_CHUNK_BYTES = 4 << 20;
const WRITE_CHUNK_BATCHES = 1024;

/** Runs one compaction pass if it is due; undefined when it was not. */
export async function compactPartition(input: CompactionInput): Promise<CompactionResult | undefined> {
  const { state, config, nowMs } = input;
  const logStartOffset = state.logStartOffset;
  const lagBoundMs = nowMs - config.minCompactionLagMs;
  let endOffset: number | undefined;
  let cleanableBytes = 0;
  let dirtyBytes = 0;
  for await (const entry of input.scanBatchIndex(logStartOffset, input.highWatermark)) {
    if (entry.maxTimestamp > lagBoundMs) break;
    endOffset = entry.lastOffset + 1;
    cleanableBytes += entry.sizeBytes;
    if (entry.lastOffset >= state.cleanedOffset) dirtyBytes += entry.sizeBytes;
  }
  if (endOffset === undefined) return undefined;
  const tombstoneDue = state.tombstoneExpiryMs >= 0 && state.tombstoneExpiryMs <= nowMs;
  const dirtyEnough = dirtyBytes > 0 && dirtyBytes >= cleanableBytes * input.minCleanableDirtyRatio;
  if (!dirtyEnough && !tombstoneDue) return undefined;

  // Pass one: the latest offset of every key, and each producer's last batch.
  const latest = new Map<string, number>();
  const producerLastBatch = new Map<number, number>();
  for await (const [lastOffset, value] of input.scanBatches(logStartOffset, endOffset)) {
    const [batch] = await decodeRecordBatches(value, { crc32c: input.crc32c });
    if (batch === undefined) continue;
    if (batch.header.producerId >= 0) producerLastBatch.set(batch.header.producerId, lastOffset);
    if (batch.header.isControl) continue;
    for (const record of batch.records) if (record.key !== null) latest.set(record.key.toString('latin1'), record.offset);
  }

  // Pass two: rewrite what lost records.
  let rewrittenBatches = 0;
  let removedBatches = 0;
  let removedRecords = 0;
  let reclaimedBytes = 0;
  let tombstoneExpiryMs = -1;
  let changes: BatchChange[] = [];
  let chunkBytes = 0;
  for await (const [lastOffset, value] of input.scanBatches(logStartOffset, endOffset)) {
    const [batch] = await decodeRecordBatches(value, { crc32c: input.crc32c });
    if (batch === undefined || batch.header.isControl) continue;
    const header = batch.header;
    const kept: DecodedRecord[] = [];
    for (const record of batch.records) {
      if (record.key === null) {
        kept.push(record);
        continue;
      }
      if (latest.get(record.key.toString('latin1')) !== record.offset) continue;
      if (record.value === null) {
        const expiryMs = record.timestamp + config.deleteRetentionMs;
        if (expiryMs <= nowMs) continue;
        tombstoneExpiryMs = tombstoneExpiryMs < 0 ? expiryMs : Math.min(tombstoneExpiryMs, expiryMs);
      }
      kept.push(record);
    }
    const removed = batch.records.length - kept.length;
    if (removed === 0) continue;
    removedRecords += removed;
    const entry: BatchIndexEntry = { lastOffset, baseOffset: header.baseOffset, maxTimestamp: header.maxTimestamp, sizeBytes: value.length };
    const keepEmpty = header.producerId >= 0 && producerLastBatch.get(header.producerId) === lastOffset;
    if (kept.length === 0 && !keepEmpty) {
      changes.push({ entry, value: undefined, maxTimestamp: header.maxTimestamp });
      removedBatches++;
      reclaimedBytes += value.length;
    } else {
      const rewritten = await encodeRecordBatch(rewriteOptions(header, kept, nowMs, input.crc32c));
      changes.push({ entry, value: rewritten, maxTimestamp: readBatchHeader(rewritten).maxTimestamp });
      rewrittenBatches++;
      reclaimedBytes += value.length - rewritten.length;
      chunkBytes += rewritten.length;
    }
    if (chunkBytes >= WRITE_CHUNK_BYTES || changes.length >= WRITE_CHUNK_BATCHES) {
      await input.write(changes, undefined);
      changes = [];
      chunkBytes = 0;
    }
  }
  await input.write(changes, { cleanedOffset: endOffset, tombstoneExpiryMs });
  return { rewrittenBatches, removedBatches, removedRecords, reclaimedBytes };
}

/** The same batch with fewer records: same offsets, codec, producer fields and timestamp type. */
function rewriteOptions(header: BatchHeader, kept: readonly DecodedRecord[], nowMs: number, crc32c: Crc32c): EncodeRecordBatchOptions {
  const logAppendTime = header.timestampType === TimestampType.logAppendTime;
  return {
    records: kept.map((record) => ({
      key: record.key,
      value: record.value,
      headers: record.headers,
      timestamp: record.timestamp,
      offsetDelta: record.offset - header.baseOffset,
    })),
    nowMs,
    compression: header.compression as Compression,
    baseOffset: header.baseOffset,
    lastOffsetDelta: header.lastOffsetDelta,
    timestampType: header.timestampType,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    isTransactional: header.isTransactional,
    isControl: header.isControl,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    crc32c,
    // LogAppendTime batches carry the append time as maxTimestamp; keep it.
    ...(logAppendTime ? { maxTimestamp: header.maxTimestamp } : {}),
  };
}
