/**
 * Start-up recovery of one partition: trust the state checkpoint, verify the tail.
 *
 * The state key (layout.ts) is written in the same atomic LevelDB batch as every data change, so
 * it is exactly as current as the data and start-up does not scan the log to find its end or size.
 * What a checkpoint cannot vouch for is the bytes themselves: a torn or bit-rotted value. LevelDB
 * drops a torn write-ahead-log record whole on recovery, so a torn batch should never appear;
 * we check anyway, because serving a corrupt batch is the one thing a log must not do.
 *
 * The newest batches of each partition (16 after a crash, 1 after a clean shutdown, bounded by
 * bytes too) are checked: one whole v2 batch, the last offset its key names, not beyond the
 * checkpointed log end, and a matching CRC-32C. From the oldest bad one on, everything is dropped:
 * a log has no holes, so the log end moves back to just after the newest good batch before it.
 * That rare path then rebuilds size and time index from the batch index, and writes the repair
 * in one synced batch before the partition serves anything. Each drop is logged.
 *
 * Older batches are not CRC-checked here; reads check that every batch matches its key, and
 * consumers check CRCs (Kafka clients do by default), as Kafka relies on too.
 */
import type { Logger } from 'pino';
import {
  BATCH_HEADER_BYTES,
  MAGIC_V2,
  computeBatchCrc,
  readBatchHeader,
  type Crc32c,
} from '../../proto/record-batch/index.js';
import type { LogDatabase, WriteOp } from './committer.js';
import {
  KeyTag,
  decodeBatchIndexEntry,
  decodePartitionState,
  encodeOffsetValue,
  encodePartitionState,
  keyOffset,
  type PartitionKeys,
  type PartitionState,
} from './layout.js';

export interface TailCheck {
  /** Newest batches checked per partition. */
  readonly batches: number;
  /** Stop after this many bytes of batches (the newest batch is always checked). */
  readonly bytes: number;
}

export interface RecoveredPartition {
  readonly state: PartitionState;
  readonly droppedBatches: number;
}

/** Whether `value` is a whole, intact v2 batch ending at `lastOffset`. */
export function isIntactBatch(value: Buffer, lastOffset: number, crc32c: Crc32c): boolean {
  if (value.length < BATCH_HEADER_BYTES) return false;
  const header = readBatchHeader(value);
  return (
    header.magic === MAGIC_V2 &&
    header.sizeBytes === value.length &&
    header.lastOffset === lastOffset &&
    computeBatchCrc(value, 0, value.length, crc32c) === header.crc
  );
}

export async function recoverPartition(
  db: LogDatabase,
  keys: PartitionKeys,
  stateValue: Buffer,
  tail: TailCheck,
  crc32c: Crc32c,
  logger: Logger,
): Promise<RecoveredPartition> {
  const checkpoint = decodePartitionState(stateValue);
  if (checkpoint === undefined) {
    logger.warn('partition state checkpoint is unreadable; rebuilding it from the batch index');
  }
  // A lost checkpoint is rebuilt as if the whole log were suspect from its newest batch on.
  const state: PartitionState = checkpoint ?? (await rebuildState(db, keys, undefined));

  // Newest first, then judged oldest first: the oldest bad batch decides where the log ends.
  const newest: [number, Buffer][] = [];
  let bytes = 0;
  for await (const [key, value] of db.iterator({
    gte: keys.rangeStart(KeyTag.batch),
    lt: keys.rangeEnd(KeyTag.batch),
    reverse: true,
    highWaterMarkBytes: Math.min(tail.bytes, 0x7fff_ffff),
  })) {
    newest.push([keyOffset(key), value]);
    bytes += value.length;
    if (newest.length >= tail.batches || bytes >= tail.bytes) break;
  }
  newest.reverse();
  const badIndex = newest.findIndex(
    ([lastOffset, value]) => lastOffset >= state.logEndOffset || !isIntactBatch(value, lastOffset, crc32c),
  );
  if (badIndex < 0 && checkpoint !== undefined) return { state, droppedBatches: 0 };

  let truncateAt = state.logEndOffset;
  if (badIndex >= 0) {
    const firstBad = newest[badIndex]![0];
    const [older] = await db.keys({ gte: keys.rangeStart(KeyTag.batch), lt: keys.batch(firstBad), reverse: true, limit: 1 }).all();
    truncateAt = older === undefined ? state.logStartOffset : keyOffset(older) + 1;
  }
  const repaired = await rebuildState(db, keys, truncateAt, state);
  const ops: WriteOp[] = [];
  let droppedBatches = 0;
  for (const tag of [KeyTag.batch, KeyTag.batchIndex] as const) {
    const from = tag === KeyTag.batch ? keys.batch(truncateAt) : keys.batchIndex(truncateAt);
    for await (const key of db.keys({ gte: from, lt: keys.rangeEnd(tag) })) {
      ops.push({ type: 'del', key });
      if (tag === KeyTag.batch) droppedBatches++;
    }
  }
  for await (const key of db.keys({ gte: keys.rangeStart(KeyTag.timeIndex), lt: keys.rangeEnd(KeyTag.timeIndex) })) {
    ops.push({ type: 'del', key });
  }
  for (const [timestamp, lastOffset] of repaired.timeIndex) {
    ops.push({ type: 'put', key: keys.timeIndex(timestamp), value: encodeOffsetValue(lastOffset) });
  }
  ops.push({ type: 'put', key: keys.state(), value: encodePartitionState(repaired.state) });
  await db.batch(ops, { sync: true });
  if (droppedBatches > 0) {
    logger.warn(
      { droppedBatches, logEndOffset: repaired.state.logEndOffset, previousLogEndOffset: state.logEndOffset },
      'dropped corrupt or torn batches at the log tail',
    );
  }
  return { state: repaired.state, droppedBatches };
}

interface RebuiltState {
  readonly state: PartitionState;
  /** [timestamp, lastOffset] entries of a fresh time index. */
  readonly timeIndex: [number, number][];
}

/**
 * Recomputes a partition's state from its batch index, keeping only batches ending below
 * `truncateAt` (all when undefined). `previous` supplies what the index cannot (log start, the
 * log end when nothing is cut, compaction progress).
 */
async function rebuildState(db: LogDatabase, keys: PartitionKeys, truncateAt: number, previous: PartitionState): Promise<RebuiltState>;
async function rebuildState(db: LogDatabase, keys: PartitionKeys, truncateAt: undefined): Promise<PartitionState>;
async function rebuildState(
  db: LogDatabase,
  keys: PartitionKeys,
  truncateAt: number | undefined,
  previous?: PartitionState,
): Promise<RebuiltState | PartitionState> {
  const timeIndex: [number, number][] = [];
  let sizeBytes = 0;
  let firstBase: number | undefined;
  let lastOffset = -1;
  let maxTimestamp = -1;
  let runningMax = Number.NEGATIVE_INFINITY;
  const upper = truncateAt === undefined ? keys.rangeEnd(KeyTag.batchIndex) : keys.batchIndex(truncateAt);
  for await (const [key, value] of db.iterator({ gte: keys.rangeStart(KeyTag.batchIndex), lt: upper })) {
    const entry = decodeBatchIndexEntry(keyOffset(key), value);
    if (entry === undefined) continue;
    firstBase ??= entry.baseOffset;
    sizeBytes += entry.sizeBytes;
    lastOffset = entry.lastOffset;
    if (entry.maxTimestamp > runningMax) {
      runningMax = entry.maxTimestamp;
      maxTimestamp = entry.maxTimestamp;
      timeIndex.push([entry.maxTimestamp, entry.lastOffset]);
    }
  }
  if (previous === undefined || truncateAt === undefined) {
    // No checkpoint: the log starts at its first batch and ends after its last one.
    const logEndOffset = lastOffset + 1;
    return {
      logStartOffset: firstBase ?? logEndOffset,
      logEndOffset,
      highWatermark: logEndOffset,
      sizeBytes,
      maxTimestamp,
      cleanedOffset: 0,
      tombstoneExpiryMs: -1,
    };
  }
  const logEndOffset = Math.max(truncateAt, previous.logStartOffset);
  return {
    state: {
      logStartOffset: previous.logStartOffset,
      logEndOffset,
      highWatermark: Math.min(previous.highWatermark, logEndOffset),
      sizeBytes,
      maxTimestamp,
      cleanedOffset: Math.min(previous.cleanedOffset, logEndOffset),
      tombstoneExpiryMs: previous.tombstoneExpiryMs,
    },
    timeIndex,
  };
}
