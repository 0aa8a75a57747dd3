import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Compression, decodeRecordBatchesSync, validateBatches, type RecordInput } from '../../proto/record-batch/index.js';
import type { LogStore } from './log-store.js';
import type { PartitionLog } from './partition-log.js';
import { NOW_MS, batch, batchRanges, decode, logConfig, openStore, tempDir } from './fixtures/log-fixtures.js';

let dir: string;
let remove: () => Promise<void>;
let store: LogStore;

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
  store = await openStore(dir);
});

afterEach(async () => {
  await store.close();
  await remove();
});

const DAY_MS = 86_400_000;
const compacted = (overrides = {}) => logConfig({ cleanupDelete: false, cleanupCompact: true, ...overrides });
const rec = (key: string | null, value: string | null, timestamp = NOW_MS): RecordInput => ({ key, value, timestamp });

async function readAll(log: PartitionLog) {
  return decode((await log.read(log.logStartOffset, 1 << 24)).records);
}

describe('log > compaction', () => {
  it('keeps the latest value per key at its original offset, and readers see the compacted view', async () => {
    const log = await store.openPartition('t', 0, compacted());
    await log.append(batch([rec('a', 'a1'), rec('b', 'b1'), rec('c', 'c1')]), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'a2'), rec('b', 'b2')]), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'a3')]), { nowMs: NOW_MS });
    const sizeBefore = log.sizeBytes;
    const report = await store.runMaintenance(NOW_MS + 1000);
    expect(report).toMatchObject({ compactedPartitions: 1, removedRecords: 3, rewrittenBatches: 2, removedBatches: 0 });
    expect(await readAll(log)).toEqual([
      { offset: 2, key: 'c', value: 'c1', timestamp: NOW_MS },
      { offset: 4, key: 'b', value: 'b2', timestamp: NOW_MS },
      { offset: 5, key: 'a', value: 'a3', timestamp: NOW_MS },
    ]);
    // Batches keep their offset ranges, so fetches by offset and the log end are unchanged.
    expect(batchRanges((await log.read(0, 1 << 20)).records)).toEqual([
      [0, 2],
      [3, 4],
      [5, 5],
    ]);
    expect(batchRanges((await log.read(3, 1 << 20)).records)[0]).toEqual([3, 4]);
    expect(log.logEndOffset).toBe(6);
    expect(log.sizeBytes).toBeLessThan(sizeBefore);
    expect(log.sizeBytes).toBe((await log.read(0, 1 << 24)).records.length);
    // Stored rewrites are valid batches for consumers that check everything.
    const stored = (await log.read(0, 1 << 24)).records;
    expect(validateBatches(stored, { maxBatchBytes: 1 << 20, allowCompacted: true })).toHaveLength(3);
  });

  it('removes a batch left without records and keeps reading past the gap', async () => {
    const log = await store.openPartition('t', 0, compacted());
    await log.append(batch([rec('a', 'a1'), rec('b', 'b1')]), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'a2'), rec('b', 'b2')]), { nowMs: NOW_MS });
    const report = await store.runMaintenance(NOW_MS);
    expect(report).toMatchObject({ removedBatches: 1, rewrittenBatches: 0, removedRecords: 2 });
    expect(batchRanges((await log.read(0, 1 << 20)).records)).toEqual([[2, 3]]);
    expect(await readAll(log)).toEqual([rec('a', 'a2'), rec('b', 'b2')].map((r, i) => ({ ...r, offset: 2 + i })));
  });

  it('keeps tombstones until delete.retention.ms has passed, then removes them', async () => {
    const log = await store.openPartition('t', 0, compacted({ deleteRetentionMs: DAY_MS }));
    await log.append(batch([rec('a', 'a1'), rec('b', 'b1')]), { nowMs: NOW_MS });
    await log.append(batch([rec('a', null)]), { nowMs: NOW_MS });
    await store.runMaintenance(NOW_MS + 1000);
    expect(await readAll(log)).toEqual([
      { offset: 1, key: 'b', value: 'b1', timestamp: NOW_MS },
      { offset: 2, key: 'a', value: null, timestamp: NOW_MS },
    ]);
    // Nothing new was written, but the tombstone's expiry makes the log due for another pass.
    const later = await store.runMaintenance(NOW_MS + DAY_MS);
    expect(later.removedRecords).toBe(1);
    expect(await readAll(log)).toEqual([{ offset: 1, key: 'b', value: 'b1', timestamp: NOW_MS }]);
    expect(log.logEndOffset).toBe(3);
  });

  it('leaves batches younger than min.compaction.lag.ms and the high watermark alone', async () => {
    const log = await store.openPartition('t', 0, compacted({ minCompactionLagMs: 10_000 }));
    await log.append(batch([rec('a', 'old', NOW_MS - 20_000)]), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'young', NOW_MS - 5_000)]), { nowMs: NOW_MS });
    expect((await store.runMaintenance(NOW_MS)).removedRecords).toBe(0);
    expect((await readAll(log)).map((r) => r.value)).toEqual(['old', 'young']);
    const report = await store.runMaintenance(NOW_MS + 6_000);
    expect(report.removedRecords).toBe(1);
    expect((await readAll(log)).map((r) => r.value)).toEqual(['young']);
  });

  it('keeps records with null keys', async () => {
    const log = await store.openPartition('t', 0, compacted());
    await log.append(batch([rec(null, 'n1'), rec('a', 'a1')]), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'a2'), rec(null, 'n2')]), { nowMs: NOW_MS });
    await store.runMaintenance(NOW_MS);
    expect((await readAll(log)).map((r) => r.value)).toEqual(['n1', 'a2', 'n2']);
  });

  it('rewrites compressed batches with the same codec', async () => {
    const log = await store.openPartition('t', 0, compacted());
    await log.append(batch([rec('a', 'a1'), rec('b', 'b1'), rec('c', 'c1')], { compression: 'gzip' }), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'a2')], { compression: 'gzip' }), { nowMs: NOW_MS });
    await store.runMaintenance(NOW_MS);
    const stored = decodeRecordBatchesSync((await log.read(0, 1 << 20)).records);
    expect(stored.map((b) => b.header.compression)).toEqual([Compression.gzip, Compression.gzip]);
    expect(stored.flatMap((b) => b.records.map((r) => r.offset))).toEqual([1, 2, 3]);
  });

  it('compacts again only when the dirty share reaches min.cleanable.dirty.ratio', async () => {
    const log = await store.openPartition('t', 0, compacted());
    await log.append(batch([rec('a', 'a1'), rec('b', 'b1')]), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'a2')]), { nowMs: NOW_MS });
    expect((await store.runMaintenance(NOW_MS)).compactedPartitions).toBe(1);
    expect((await store.runMaintenance(NOW_MS)).compactedPartitions).toBe(0);
    // One new batch of three is a third dirty: below the default ratio of 0.5.
    await log.append(batch([rec('b', 'b2')]), { nowMs: NOW_MS });
    expect((await store.runMaintenance(NOW_MS)).compactedPartitions).toBe(0);
    await log.append(batch([rec('c', 'c1')]), { nowMs: NOW_MS });
    expect((await store.runMaintenance(NOW_MS)).compactedPartitions).toBe(1);
    expect((await readAll(log)).map((r) => r.value)).toEqual(['a2', 'b2', 'c1']);
  });

  it('keeps list offsets exact after compaction lowered batch timestamps', async () => {
    const log = await store.openPartition('t', 0, compacted());
    await log.append(batch([rec('a', 'a1', 100), rec('b', 'b1', 500)]), { nowMs: NOW_MS });
    await log.append(batch([rec('c', 'c1', 200)]), { nowMs: NOW_MS });
    await log.append(batch([rec('b', 'b2', 300)]), { nowMs: NOW_MS });
    await store.runMaintenance(NOW_MS);
    // The time index still says the first batch reaches 500; it now only reaches 100.
    expect(await log.listOffset(150)).toEqual({ offset: 2, timestamp: 200 });
    expect(await log.listOffset(250)).toEqual({ offset: 3, timestamp: 300 });
    expect(await log.listOffset(-3)).toEqual({ offset: 3, timestamp: 300 });
  });

  it('keeps the last batch of an idempotent producer as an empty batch', async () => {
    const log = await store.openPartition('t', 0, compacted());
    await log.append(batch([rec('a', 'a1')], { producerId: 7 }), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'a2')], { producerId: 8 }), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'a3')], { producerId: 8, baseSequence: 1 }), { nowMs: NOW_MS });
    await store.runMaintenance(NOW_MS);
    const stored = decodeRecordBatchesSync((await log.read(0, 1 << 20)).records);
    expect(stored.map((b) => [b.header.producerId, b.header.baseOffset, b.records.length])).toEqual([
      [7, 0, 0],
      [8, 2, 1],
    ]);
  });

  it('survives a restart with the compacted view and size', async () => {
    let log = await store.openPartition('t', 0, compacted());
    await log.append(batch([rec('a', 'a1'), rec('b', 'b1')]), { nowMs: NOW_MS });
    await log.append(batch([rec('a', 'a2')]), { nowMs: NOW_MS });
    await store.runMaintenance(NOW_MS);
    const size = log.sizeBytes;
    await store.close();
    store = await openStore(dir);
    log = await store.openPartition('t', 0, compacted());
    expect(log.sizeBytes).toBe(size);
    expect((await readAll(log)).map((r) => r.value)).toEqual(['b1', 'a2']);
    expect((await store.runMaintenance(NOW_MS)).compactedPartitions).toBe(0);
  });
});
