/**
 * The replication side of one partition's log (docs/replication.md): a leader records where its
 * epoch starts (startLeaderEpoch), a follower appends the leader's batches as they are
 * (appendReplicated: offsets kept, contiguity checked), and a follower truncates its tail where
 * its history diverged from the leader's (truncateTo). Each write carries the leader-epoch history
 * changes (./leader-epochs.ts) in the same write batch as the data. PartitionLog delegates here.
 */
import assert from 'node:assert/strict';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { BATCH_HEADER_BYTES, MAGIC_V2, readBatchHeader } from '../../proto/record-batch/index.js';
import type { CommitEntry, WriteOp } from './committer.js';
import { KeyTag, decodeOffsetValue, encodeBatchIndexValue, encodeOffsetValue, keyTimestamp, type BatchIndexEntry } from './layout.js';
import { LeaderEpochHistory, type EpochEntry } from './leader-epochs.js';
import { decodeMarker } from './control-batch.js';
import type { PartitionCore } from './partition-core.js';
import type { MarkerInfo } from './producer-state.js';
import { abortedPut, producerPut } from './producer-state-store.js';

type TimeIndexEntry = { key: Buffer; timestamp: number; lastOffset: number };

/** PartitionLog.startLeaderEpoch: see its JSDoc. */
export function startLeaderEpoch(core: PartitionCore, epoch: number): Promise<void> {
  const refused = core.refusal();
  if (refused !== undefined) return Promise.reject(refused);
  return core.submit(0, () => {
    const ops: WriteOp[] = [];
    const added: EpochEntry[] = [];
    core.recordEpoch(ops, epoch, core.spec.logEndOffset, added);
    return {
      lane: core.lane,
      ops,
      bytes: 0,
      result: undefined,
      onCommitted: () => {
        for (const entry of added) core.epochs.add(entry);
      },
    };
  });
}

/** PartitionLog.appendReplicated: see its JSDoc. */
export function appendReplicated(core: PartitionCore, batches: Buffer): Promise<number> {
  const refused = core.refusal();
  if (refused !== undefined) return Promise.reject(refused);
  return core.submit(batches.length, () => buildReplicated(core, batches));
}

function buildReplicated(core: PartitionCore, batches: Buffer): CommitEntry<number> {
  const refused = core.refusal();
  if (refused !== undefined) throw refused;
  const spec = core.spec;
  const startEnd = spec.logEndOffset;
  const ops: WriteOp[] = [];
  const newEpochs: EpochEntry[] = [];
  /** The stored batches, for the tail cache once they are committed. */
  const tail = core.tailBatches();
  const epochs = new LeaderEpochHistory(core.specEpochs.entries);
  let nextOffset = startEnd;
  let maxTimestamp = spec.maxTimestamp;
  let sizeBytes = 0;
  // A log that holds no batch and starts at its end (restartAt: the leader's log start) takes a
  // first batch that straddles that start: the leader's log start may fall inside a batch, and the
  // leader serves the whole batch, so the follower stores it as the leader does.
  const emptyFrom = spec.sizeBytes === 0 && spec.logStartOffset === startEnd ? startEnd : -1;
  // The follower's producer state follows its log (./producer-state.ts): the batches are applied,
  // never checked (the leader did that), on a fork adopted only if the whole entry is built.
  const producers = core.producers.fork(producerIdsOf(batches));
  for (let position = 0; position < batches.length; ) {
    const header = batches.length - position >= BATCH_HEADER_BYTES ? readBatchHeader(batches, position) : undefined;
    if (header === undefined || header.magic !== MAGIC_V2 || header.sizeBytes < BATCH_HEADER_BYTES || position + header.sizeBytes > batches.length) {
      throw replicationError(core, `a replicated batch at byte ${position} is not a whole v2 batch`);
    }
    const value = batches.subarray(position, position + header.sizeBytes);
    position += header.sizeBytes;
    if (header.lastOffset < nextOffset && nextOffset === startEnd) continue; // already held
    const straddlesStart = nextOffset === emptyFrom && header.lastOffset >= nextOffset;
    if (header.baseOffset < nextOffset && !straddlesStart) {
      throw replicationError(core, `replicated batch [${header.baseOffset}, ${header.lastOffset}] overlaps the log end ${nextOffset}`);
    }
    const entry = epochs.entryFor(header.partitionLeaderEpoch, header.baseOffset);
    if (entry !== undefined) {
      epochs.add(entry);
      newEpochs.push(entry);
      ops.push({ type: 'put', key: core.keys.leaderEpoch(entry.epoch), value: encodeOffsetValue(entry.startOffset) });
    }
    ops.push(
      { type: 'put', key: core.keys.batch(header.lastOffset), value },
      { type: 'put', key: core.keys.batchIndex(header.lastOffset), value: encodeBatchIndexValue(header.baseOffset, header.maxTimestamp, header.sizeBytes) },
    );
    tail?.push({ value, baseOffset: header.baseOffset, lastOffset: header.lastOffset });
    if (header.maxTimestamp > maxTimestamp) {
      ops.push({ type: 'put', key: core.keys.timeIndex(header.maxTimestamp), value: encodeOffsetValue(header.lastOffset) });
      maxTimestamp = header.maxTimestamp;
    }
    if (header.producerId >= 0) {
      const marker = header.isControl ? decodeReplicatedMarker(core, value) : undefined;
      producers.apply(header, marker);
    }
    sizeBytes += header.sizeBytes;
    nextOffset = header.lastOffset + 1;
  }
  core.producers.adopt(producers);
  for (const entry of producers.entries()) ops.push(producerPut(core.keys, entry));
  for (const txn of producers.aborted) ops.push(abortedPut(core.keys, txn));
  for (const entry of newEpochs) core.specEpochs.add(entry);
  spec.logEndOffset = nextOffset;
  spec.sizeBytes += sizeBytes;
  spec.maxTimestamp = maxTimestamp;
  if (core.owner.autoHighWatermark) spec.highWatermark = nextOffset;
  if (nextOffset !== startEnd) ops.push(core.stateOp());
  return {
    lane: core.lane,
    ops,
    bytes: sizeBytes,
    result: nextOffset,
    onCommitted: () => {
      assert.equal(core.logEndOffset, startEnd, `${core.topicId}-${core.partition}: replicated append committed out of order`);
      core.logEndOffset = nextOffset;
      core.sizeBytes += sizeBytes;
      if (tail !== undefined) core.cacheTail(tail);
      for (const entry of newEpochs) core.epochs.add(entry);
      if (core.owner.autoHighWatermark) core.advanceHighWatermark(nextOffset);
      if (nextOffset !== startEnd) core.notify(core.logEndListeners);
    },
  };
}

/** PartitionLog.truncateTo: see its JSDoc. */
export function truncateTo(core: PartitionCore, offset: number): Promise<number> {
  return core.exclusive(async () => {
    const refused = core.refusal();
    if (refused !== undefined) throw refused;
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, `cannot truncate ${core.topicId}-${core.partition} to ${offset}`, {
        context: core.errorContext,
      });
    }
    await core.lastWrite;
    // Nothing to remove, unless an epoch starts at the log end: a leader that wrote nothing in it
    // recorded it there, and a follower must drop it when the new leader does not know it, or it
    // would present it at every fetch and be told it diverged again.
    if (offset >= core.spec.logEndOffset && core.specEpochs.removedBy(offset).length === 0) return core.spec.logEndOffset;
    try {
      const doomed: BatchIndexEntry[] = [];
      for await (const entry of core.scanBatchIndex(offset, Number.MAX_SAFE_INTEGER)) doomed.push(entry);
      const timeEntries: TimeIndexEntry[] = [];
      for await (const [key, value] of core.ctx.db.iterator({ gte: core.keys.rangeStart(KeyTag.timeIndex), lt: core.keys.rangeEnd(KeyTag.timeIndex) })) {
        timeEntries.push({ key, timestamp: keyTimestamp(key), lastOffset: decodeOffsetValue(value) ?? -1 });
      }
      const newEnd = await core.submit(0, () => buildTruncation(core, offset, doomed, timeEntries));
      await core.repairProducers();
      return newEnd;
    } catch (error) {
      throw core.storageError(error, `truncate to ${offset}`);
    }
  });
}

function buildTruncation(
  core: PartitionCore,
  offset: number,
  doomed: readonly BatchIndexEntry[],
  timeEntries: readonly TimeIndexEntry[],
): CommitEntry<number> {
  const refused = core.refusal();
  if (refused !== undefined) throw refused;
  // The cached tail may hold batches this removes: reads go to LevelDB until appends refill it.
  core.tail.clear();
  const spec = core.spec;
  const newEnd = Math.min(offset, doomed[0]?.baseOffset ?? offset);
  const ops: WriteOp[] = [];
  let removedBytes = 0;
  for (const entry of doomed) {
    ops.push({ type: 'del', key: core.keys.batch(entry.lastOffset) }, { type: 'del', key: core.keys.batchIndex(entry.lastOffset) });
    removedBytes += entry.sizeBytes;
  }
  let maxTimestamp = -1;
  for (const entry of timeEntries) {
    if (entry.lastOffset >= newEnd) ops.push({ type: 'del', key: entry.key });
    else maxTimestamp = Math.max(maxTimestamp, entry.timestamp);
  }
  for (const entry of core.specEpochs.removedBy(newEnd)) ops.push({ type: 'del', key: core.keys.leaderEpoch(entry.epoch) });
  core.specEpochs.truncateFromEnd(newEnd);
  const previousEnd = spec.logEndOffset;
  spec.logEndOffset = newEnd;
  spec.logStartOffset = Math.min(spec.logStartOffset, newEnd);
  spec.highWatermark = Math.min(spec.highWatermark, newEnd);
  spec.sizeBytes -= removedBytes;
  spec.maxTimestamp = maxTimestamp;
  spec.cleanedOffset = Math.min(spec.cleanedOffset, newEnd);
  // Visible at once, as the log start is for deletes: nothing past the new end is served again.
  core.logStartOffset = spec.logStartOffset;
  core.highWatermark = Math.min(core.highWatermark, newEnd);
  core.logEndOffset = Math.min(core.logEndOffset, newEnd);
  ops.push(core.stateOp());
  core.logger.warn({ requestedOffset: offset, logEndOffset: newEnd, previousLogEndOffset: previousEnd, removedBatches: doomed.length }, 'truncated the log tail');
  return {
    lane: core.lane,
    ops,
    bytes: 0,
    result: newEnd,
    onCommitted: () => {
      core.sizeBytes -= removedBytes;
      core.epochs.truncateFromEnd(newEnd);
    },
  };
}

/** PartitionLog.restartAt: see its JSDoc. */
export function restartAt(core: PartitionCore, offset: number): Promise<void> {
  return core.exclusive(async () => {
    const refused = core.refusal();
    if (refused !== undefined) throw refused;
    await core.lastWrite;
    if (!Number.isSafeInteger(offset) || offset <= core.spec.logEndOffset) {
      throw new StreamBusError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `cannot restart ${core.topicId}-${core.partition} at ${offset}: its log already reaches ${core.spec.logEndOffset}`,
        { context: core.errorContext },
      );
    }
    try {
      const doomed: BatchIndexEntry[] = [];
      for await (const entry of core.scanBatchIndex(0, Number.MAX_SAFE_INTEGER)) doomed.push(entry);
      const timeKeys: Buffer[] = [];
      for await (const key of core.ctx.db.keys({ gte: core.keys.rangeStart(KeyTag.timeIndex), lt: core.keys.rangeEnd(KeyTag.timeIndex) })) timeKeys.push(key);
      await core.submit(0, () => buildRestart(core, offset, doomed, timeKeys));
      await core.repairProducers();
    } catch (error) {
      throw core.storageError(error, `restart at ${offset}`);
    }
  });
}

function buildRestart(core: PartitionCore, offset: number, doomed: readonly BatchIndexEntry[], timeKeys: readonly Buffer[]): CommitEntry<void> {
  const refused = core.refusal();
  if (refused !== undefined) throw refused;
  core.tail.clear();
  const spec = core.spec;
  const ops: WriteOp[] = [];
  for (const entry of doomed) ops.push({ type: 'del', key: core.keys.batch(entry.lastOffset) }, { type: 'del', key: core.keys.batchIndex(entry.lastOffset) });
  for (const key of timeKeys) ops.push({ type: 'del', key });
  for (const entry of core.specEpochs.removedBy(0)) ops.push({ type: 'del', key: core.keys.leaderEpoch(entry.epoch) });
  core.specEpochs.truncateFromEnd(0);
  const previous = { logStartOffset: spec.logStartOffset, logEndOffset: spec.logEndOffset };
  spec.logStartOffset = offset;
  spec.logEndOffset = offset;
  // Everything below the leader's log start was committed there (it deletes only below its high
  // watermark): this replica's high watermark may start at it.
  spec.highWatermark = offset;
  spec.sizeBytes = 0;
  spec.maxTimestamp = -1;
  spec.cleanedOffset = offset;
  // Visible at once, as after a truncation: nothing of the old log is served again.
  core.logStartOffset = offset;
  core.logEndOffset = offset;
  core.highWatermark = offset;
  ops.push(core.stateOp());
  core.logger.warn({ ...previous, newLogStartOffset: offset, removedBatches: doomed.length }, 'restarted the log at the leader\'s log start');
  return {
    lane: core.lane,
    ops,
    bytes: 0,
    result: undefined,
    onCommitted: () => {
      core.sizeBytes = 0;
      core.epochs.truncateFromEnd(0);
    },
  };
}

/** The producer ids of the batches in `batches` (whole v2 headers only; the caller checks framing). */
function producerIdsOf(batches: Buffer): number[] {
  const ids: number[] = [];
  for (let position = 0; batches.length - position >= BATCH_HEADER_BYTES; ) {
    const header = readBatchHeader(batches, position);
    if (header.sizeBytes < BATCH_HEADER_BYTES) break;
    if (header.producerId >= 0) ids.push(header.producerId);
    position += header.sizeBytes;
  }
  return ids;
}

function decodeReplicatedMarker(core: PartitionCore, value: Buffer): MarkerInfo {
  try {
    return decodeMarker(value, core.ctx.crc32c);
  } catch (error) {
    throw replicationError(core, `a replicated control batch has no readable marker: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function replicationError(core: PartitionCore, message: string): StreamBusError {
  return new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `${core.topicId}-${core.partition}: ${message}`, { context: core.errorContext });
}
