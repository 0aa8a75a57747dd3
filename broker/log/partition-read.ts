/**
 * The read side of one partition's log: fetches of whole stored batches (from the tail cache when
 * it holds the range, else one LevelDB range read from one snapshot, bounded by the high watermark) and Kafka's ListOffsets lookup by time through
 * the time index. PartitionLog.read, readChunks and listOffset delegate here.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { decodeRecordBatches, type DecodedRecord } from '../../proto/record-batch/index.js';
import { KeyTag, decodeOffsetValue, keyTimestamp, type BatchIndexEntry } from './layout.js';
import type { PartitionCore } from './partition-core.js';
import type { ChunkedReadResult } from './types.js';

/** Sentinel timestamps of listOffset (Kafka's ListOffsets). */
export const ListOffsetTimestamp = {
  latest: -1,
  earliest: -2,
  maxTimestamp: -3,
  /** Earliest offset on local storage: the log start, as nothing is tiered. */
  earliestLocal: -4,
} as const;

/** nextv() asks for at most this many entries; the byte limit usually stops it first. */
const NEXTV_MAX_ENTRIES = 1000;
/** LevelDB's iterator takes the read-ahead byte limit as a uint32. */
const MAX_HIGH_WATER_BYTES = 0x7fff_ffff;

/** PartitionLog.readChunks: see its JSDoc for the guarantees and errors. */
export async function readChunks(core: PartitionCore, offset: number, maxBytes: number, options?: { maxOffset?: number }): Promise<ChunkedReadResult> {
  const refused = core.refusal();
  if (refused !== undefined) throw refused;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new StreamBusError(ErrorCode.INVALID_FETCH_SIZE, `maxBytes must be a non-negative integer, got ${maxBytes}`, {
      context: core.errorContext,
    });
  }
  // Read every bound now, in the same tick the iterator takes its snapshot, so they agree.
  const logStartOffset = core.logStartOffset;
  const logEndOffset = core.logEndOffset;
  const highWatermark = core.highWatermark;
  if (!Number.isSafeInteger(offset) || offset < logStartOffset || offset > logEndOffset) {
    throw new StreamBusError(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `offset ${offset} is outside the log of ${core.topicId}-${core.partition}: [${logStartOffset}, ${logEndOffset}]`,
      { context: core.errorContext },
    );
  }
  const maxOffset = Math.min(options?.maxOffset ?? highWatermark, logEndOffset);
  const result = { highWatermark, logStartOffset, logEndOffset };
  if (offset >= maxOffset) {
    // A reader at the end (a long poll about to wait): the tail cache keeps the next batches for it.
    core.tail.readAtEnd();
    return { chunks: [], bytes: 0, ...result };
  }
  // A read at the tail is answered from memory when the cache holds the whole range (./tail-cache.ts).
  const cached = core.tail.read(offset, maxOffset, maxBytes);
  if (cached !== undefined) return { chunks: cached.chunks, bytes: cached.bytes, ...result };
  const iterator = core.ctx.db.iterator({
    gte: core.keys.batch(offset),
    lt: core.keys.batch(maxOffset),
    highWaterMarkBytes: Math.min(Math.max(maxBytes, 1), MAX_HIGH_WATER_BYTES),
  });
  const chunks: Buffer[] = [];
  let totalBytes = 0;
  let previousLastOffset = -1;
  try {
    for (;;) {
      const entries = await iterator.nextv(NEXTV_MAX_ENTRIES);
      if (entries.length === 0) break;
      let full = false;
      for (const [key, value] of entries) {
        if (chunks.length > 0 && totalBytes + value.length > maxBytes) {
          full = true;
          break;
        }
        previousLastOffset = core.checkStoredBatch(key, value, previousLastOffset);
        chunks.push(value);
        totalBytes += value.length;
      }
      if (full) break;
    }
  } catch (error) {
    throw core.storageError(error, `read at offset ${offset}`);
  } finally {
    await iterator.close();
  }
  return { chunks, bytes: totalBytes, ...result };
}

/** PartitionLog.listOffset: see its JSDoc for the sentinels and errors. */
export async function listOffset(core: PartitionCore, timestamp: number): Promise<{ offset: number; timestamp: number }> {
  const refused = core.refusal();
  if (refused !== undefined) throw refused;
  if (timestamp === ListOffsetTimestamp.earliest || timestamp === ListOffsetTimestamp.earliestLocal) {
    return { offset: core.logStartOffset, timestamp: -1 };
  }
  if (timestamp === ListOffsetTimestamp.latest) return { offset: core.highWatermark, timestamp: -1 };
  try {
    if (timestamp === ListOffsetTimestamp.maxTimestamp) return await offsetOfMaxTimestamp(core);
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `unsupported list-offsets timestamp ${timestamp}`, {
        context: core.errorContext,
      });
    }
    const [entry] = await core.ctx.db
      .iterator({ gte: core.keys.timeIndex(timestamp), lt: core.keys.rangeEnd(KeyTag.timeIndex), limit: 1 })
      .all();
    if (entry === undefined) return { offset: -1, timestamp: -1 };
    const candidate = decodeOffsetValue(entry[1]) ?? core.logStartOffset;
    // The time index invariant (layout.ts) guarantees no live batch before `candidate` reaches
    // `timestamp`; compaction and retention can only make the first match lie further on.
    const found = await scanForRecord(core, candidate, (e) => e.maxTimestamp >= timestamp, (records) =>
      records.find((record) => record.timestamp >= timestamp),
    );
    return found ?? { offset: -1, timestamp: -1 };
  } catch (error) {
    throw core.storageError(error, `list offsets for timestamp ${timestamp}`);
  }
}

async function offsetOfMaxTimestamp(core: PartitionCore): Promise<{ offset: number; timestamp: number }> {
  const [newest] = await core.ctx.db
    .iterator({ gte: core.keys.rangeStart(KeyTag.timeIndex), lt: core.keys.rangeEnd(KeyTag.timeIndex), reverse: true, limit: 1 })
    .all();
  if (newest === undefined) return { offset: -1, timestamp: -1 };
  const maxTimestamp = keyTimestamp(newest[0]);
  const candidate = decodeOffsetValue(newest[1]) ?? core.logStartOffset;
  const found = await scanForRecord(core, candidate, (e) => e.maxTimestamp >= maxTimestamp, latestRecord);
  if (found !== undefined) return found;
  // The batch holding the maximum was compacted or deleted: find the largest that is left.
  let best: BatchIndexEntry | undefined;
  for await (const e of core.scanBatchIndex(core.logStartOffset, core.highWatermark)) {
    if (best === undefined || e.maxTimestamp > best.maxTimestamp) best = e;
  }
  if (best === undefined) return { offset: -1, timestamp: -1 };
  const fallback = await scanForRecord(core, best.lastOffset, (e) => e.lastOffset === best.lastOffset, latestRecord);
  return fallback ?? { offset: -1, timestamp: -1 };
}

/**
 * Walks the batch index from the batch ending at or after `fromOffset` (below the high
 * watermark); for each batch that `matches`, decodes it and returns the record `pick` chooses
 * among its records at or after the log start.
 */
async function scanForRecord(
  core: PartitionCore,
  fromOffset: number,
  matches: (entry: BatchIndexEntry) => boolean,
  pick: (records: DecodedRecord[]) => DecodedRecord | undefined,
): Promise<{ offset: number; timestamp: number } | undefined> {
  const logStartOffset = core.logStartOffset;
  for await (const entry of core.scanBatchIndex(Math.max(fromOffset, logStartOffset), core.highWatermark)) {
    if (!matches(entry)) continue;
    const value = await core.ctx.db.get(core.keys.batch(entry.lastOffset));
    if (value === undefined) continue; // deleted since the index scan began
    const [batch] = await decodeRecordBatches(value, { crc32c: core.ctx.crc32c });
    const record = pick((batch?.records ?? []).filter((r) => r.offset >= logStartOffset));
    if (record !== undefined) return { offset: record.offset, timestamp: record.timestamp };
  }
  return undefined;
}

/** The record with the largest timestamp (the first of equals), as ListOffsets -3 reports. */
function latestRecord(records: DecodedRecord[]): DecodedRecord | undefined {
  let best: DecodedRecord | undefined;
  for (const record of records) if (best === undefined || record.timestamp > best.timestamp) best = record;
  return best;
}
