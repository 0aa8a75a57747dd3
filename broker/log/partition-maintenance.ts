/**
 * The deleting side of one partition's log: delete-records, and the retention and compaction steps
 * the store's maintenance pass runs on it (./retention.ts plans retention, ./compaction.ts plans
 * compaction; this file writes their results). All of it runs under the partition lock.
 *
 * The log start offset moves up BEFORE the batches below it are deleted (as Kafka does): a read
 * below it is refused from that moment, so no reader can see the deletion half done. After a
 * prefix is gone the time index is repaired (layout.ts states its invariant).
 */
import assert from 'node:assert/strict';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { WriteOp } from './committer.js';
import { KeyTag, decodeOffsetValue, encodeBatchIndexValue, encodeOffsetValue, type BatchIndexEntry } from './layout.js';
import { compactPartition, type BatchChange, type CompactionFinish, type CompactionResult } from './compaction.js';
import type { PartitionCore } from './partition-core.js';
import { RetentionPlanner } from './retention.js';
import type { MaintenanceReport } from './types.js';

/** Batches deleted per write when retention or delete-records removes a long prefix. */
const DELETE_CHUNK_BATCHES = 4096;

/** PartitionLog.deleteRecords: see its JSDoc. */
export function deleteRecords(core: PartitionCore, beforeOffset: number): Promise<number> {
  return core.exclusive(async () => {
    const refused = core.refusal();
    if (refused !== undefined) throw refused;
    const target = beforeOffset === -1 ? core.highWatermark : beforeOffset;
    if (!Number.isSafeInteger(target) || target < 0 || target > core.highWatermark) {
      throw new StreamBusError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `cannot delete records before offset ${beforeOffset}: the high watermark of ${core.topicId}-${core.partition} is ${core.highWatermark}`,
        { context: core.errorContext },
      );
    }
    if (target <= core.spec.logStartOffset) return core.spec.logStartOffset;
    try {
      const doomed: BatchIndexEntry[] = [];
      for await (const entry of core.scanBatchIndex(core.spec.logStartOffset, target)) doomed.push(entry);
      await deleteBatches(core, doomed, target);
      core.logger.info({ logStartOffset: target, deletedBatches: doomed.length }, 'deleted records');
      return core.spec.logStartOffset;
    } catch (error) {
      throw core.storageError(error, `delete records before ${beforeOffset}`);
    }
  });
}

/** PartitionLog.maintain: one retention and compaction pass over the partition. */
export function maintain(core: PartitionCore, nowMs: number, report: MaintenanceReport): Promise<void> {
  return core.exclusive(async () => {
    if (core.refusal() !== undefined) return;
    report.partitions++;
    if (core.config.cleanupDelete) await applyRetention(core, nowMs, report);
    if (core.config.cleanupCompact) {
      const result = await compact(core, nowMs);
      if (result !== undefined) {
        report.compactedPartitions++;
        report.rewrittenBatches += result.rewrittenBatches;
        report.removedBatches += result.removedBatches;
        report.removedRecords += result.removedRecords;
        report.reclaimedBytes += result.reclaimedBytes;
      }
    }
  });
}

async function applyRetention(core: PartitionCore, nowMs: number, report: MaintenanceReport): Promise<void> {
  const planner = new RetentionPlanner(core.config, nowMs, core.spec.sizeBytes);
  if (!planner.active) return;
  const doomed: BatchIndexEntry[] = [];
  // Only batches below the high watermark: replicas may still need the rest.
  for await (const entry of core.scanBatchIndex(core.spec.logStartOffset, core.highWatermark)) {
    if (!planner.deletes(entry)) break;
    doomed.push(entry);
  }
  const last = doomed.at(-1);
  if (last === undefined) return;
  const bytes = await deleteBatches(core, doomed, last.lastOffset + 1);
  report.deletedBatches += doomed.length;
  report.deletedBytes += bytes;
  core.logger.info(
    { deletedBatches: doomed.length, deletedBytes: bytes, logStartOffset: core.spec.logStartOffset },
    'retention deleted old batches',
  );
}

async function compact(core: PartitionCore, nowMs: number): Promise<CompactionResult | undefined> {
  return compactPartition({
    nowMs,
    config: core.config,
    minCleanableDirtyRatio: core.ctx.minCleanableDirtyRatio,
    state: core.spec,
    highWatermark: core.highWatermark,
    crc32c: core.ctx.crc32c,
    scanBatchIndex: (from, to) => core.scanBatchIndex(from, to),
    scanBatches: (from, to) => core.scanBatches(from, to),
    write: (changes, finish) => writeCompaction(core, changes, finish),
  });
}

function writeCompaction(core: PartitionCore, changes: readonly BatchChange[], finish: CompactionFinish | undefined): Promise<void> {
  let bytes = 0;
  for (const change of changes) bytes += change.value?.length ?? 0;
  return core.submit(bytes, () => {
    const refused = core.refusal();
    if (refused !== undefined) throw refused;
    // Compaction rewrites or removes batches the tail cache may hold: reads go to LevelDB until
    // appends refill it.
    core.tail.clear();
    const ops: WriteOp[] = [];
    let delta = 0;
    for (const { entry, value, maxTimestamp } of changes) {
      // Under the partition lock nothing else deletes or rewrites batches; only appends run.
      assert.ok(entry.lastOffset >= core.spec.logStartOffset, 'compaction rewrote a batch below the log start');
      if (value === undefined) {
        ops.push({ type: 'del', key: core.keys.batch(entry.lastOffset) }, { type: 'del', key: core.keys.batchIndex(entry.lastOffset) });
        delta -= entry.sizeBytes;
      } else {
        ops.push(
          { type: 'put', key: core.keys.batch(entry.lastOffset), value },
          { type: 'put', key: core.keys.batchIndex(entry.lastOffset), value: encodeBatchIndexValue(entry.baseOffset, maxTimestamp, value.length) },
        );
        delta += value.length - entry.sizeBytes;
      }
    }
    core.spec.sizeBytes += delta;
    if (finish !== undefined) {
      core.spec.cleanedOffset = finish.cleanedOffset;
      core.spec.tombstoneExpiryMs = finish.tombstoneExpiryMs;
    }
    ops.push(core.stateOp());
    return {
      lane: core.lane,
      ops,
      bytes,
      result: undefined,
      onCommitted: () => {
        core.sizeBytes += delta;
      },
    };
  });
}

/**
 * Deletes `doomed` (a prefix of the log, ascending) and moves the log start to `newLogStart`.
 * Returns the bytes deleted. Caller holds the partition lock.
 */
async function deleteBatches(core: PartitionCore, doomed: readonly BatchIndexEntry[], newLogStart: number): Promise<number> {
  let deletedBytes = 0;
  let from = 0;
  do {
    const chunk = doomed.slice(from, from + DELETE_CHUNK_BATCHES);
    from += chunk.length;
    const isLast = from >= doomed.length;
    const chunkStart = isLast ? newLogStart : chunk.at(-1)!.lastOffset + 1;
    let chunkBytes = 0;
    for (const entry of chunk) chunkBytes += entry.sizeBytes;
    deletedBytes += chunkBytes;
    await core.submit(0, () => {
      const refused = core.refusal();
      if (refused !== undefined) throw refused;
      const ops: WriteOp[] = [];
      for (const entry of chunk) {
        ops.push({ type: 'del', key: core.keys.batch(entry.lastOffset) }, { type: 'del', key: core.keys.batchIndex(entry.lastOffset) });
      }
      core.spec.logStartOffset = Math.max(core.spec.logStartOffset, chunkStart);
      core.spec.sizeBytes -= chunkBytes;
      // Visible at once: reads below the new start are refused before the batches go.
      core.logStartOffset = core.spec.logStartOffset;
      ops.push(core.stateOp());
      return {
        lane: core.lane,
        ops,
        bytes: 0,
        result: undefined,
        onCommitted: () => {
          core.sizeBytes -= chunkBytes;
        },
      };
    });
  } while (from < doomed.length);
  await repairTimeIndex(core);
  return deletedBytes;
}

/**
 * After a prefix of the log is gone, drops the time-index entries that name deleted batches and
 * re-covers the live batches those entries covered (layout.ts states the invariant).
 *
 * Entries rise in both timestamp and offset, so the dead ones are a prefix. Let S be the first
 * live entry. Live batches at or after S's batch are covered by S or later entries (S's timestamp
 * exceeds every dead entry's). Live batches before S's batch were covered only by dead entries,
 * so they get fresh entries from a running maximum over [logStart, S). That range is fully
 * written (S is on disk), so no in-flight append races with it. When no live entry exists the
 * newest dead entry is kept: it still covers every batch, including ones in flight.
 */
async function repairTimeIndex(core: PartitionCore): Promise<void> {
  const logStartOffset = core.spec.logStartOffset;
  const dead: Buffer[] = [];
  let firstLive: number | undefined;
  for await (const [key, value] of core.ctx.db.iterator({
    gte: core.keys.rangeStart(KeyTag.timeIndex),
    lt: core.keys.rangeEnd(KeyTag.timeIndex),
  })) {
    const offset = decodeOffsetValue(value) ?? -1;
    if (offset >= logStartOffset) {
      firstLive = offset;
      break;
    }
    dead.push(key);
  }
  if (dead.length === 0) return;
  const ops: WriteOp[] = [];
  if (firstLive === undefined) {
    dead.pop();
  } else {
    let runningMax = Number.NEGATIVE_INFINITY;
    for await (const entry of core.scanBatchIndex(logStartOffset, firstLive)) {
      if (entry.maxTimestamp <= runningMax) continue;
      runningMax = entry.maxTimestamp;
      ops.push({ type: 'put', key: core.keys.timeIndex(entry.maxTimestamp), value: encodeOffsetValue(entry.lastOffset) });
    }
  }
  // Deletes first: a fresh entry may reuse a dead entry's timestamp (the batch order decides).
  ops.unshift(...dead.map((key): WriteOp => ({ type: 'del', key })));
  if (ops.length === 0) return;
  await core.submit(0, () => ({ lane: core.lane, ops, bytes: 0, result: undefined, onCommitted: () => {} }));
}
