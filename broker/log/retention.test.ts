import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogStore } from './log-store.js';
import { RetentionPlanner } from './retention.js';
import { NOW_MS, batch, batchRanges, decode, errorName, logConfig, openStore, sized, tempDir, values } from './fixtures/log-fixtures.js';

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

const HOUR_MS = 3_600_000;

describe('log > retention', () => {
  it('deletes batches older than retention.ms from the start and moves the log start', async () => {
    const log = await store.openPartition('t', 0, logConfig({ retentionMs: HOUR_MS }));
    for (const ageHours of [5, 4, 0.5, 3, 0]) {
      await log.append(batch(values(2, 'v', NOW_MS - ageHours * HOUR_MS)), { nowMs: NOW_MS });
    }
    const report = await store.runMaintenance(NOW_MS);
    // The third batch is young, so the old fourth one waits behind it (deletion is a prefix).
    expect(report).toMatchObject({ partitions: 1, deletedBatches: 2 });
    expect(log.logStartOffset).toBe(4);
    expect(batchRanges((await log.read(4, 1 << 20)).records)[0]).toEqual([4, 5]);
    expect(await errorName(log.read(3, 1 << 20))).toBe('OFFSET_OUT_OF_RANGE');
  });

  it('deletes the oldest batches until the partition fits retention.bytes', async () => {
    const log = await store.openPartition('t', 0, logConfig({ retentionBytes: 3500 }));
    for (let i = 0; i < 6; i++) await log.append(batch([sized(1000)]), { nowMs: NOW_MS });
    const batchBytes = log.sizeBytes / 6;
    const report = await store.runMaintenance(NOW_MS);
    expect(report.deletedBatches).toBe(3);
    expect(report.deletedBytes).toBe(batchBytes * 3);
    expect(log.sizeBytes).toBe(batchBytes * 3);
    expect(log.sizeBytes).toBeLessThanOrEqual(3500);
    expect(log.logStartOffset).toBe(3);
  });

  it('keeps the log end and the size accounting across a restart', async () => {
    let log = await store.openPartition('t', 0, logConfig({ retentionBytes: 2500 }));
    for (let i = 0; i < 5; i++) await log.append(batch([sized(1000)]), { nowMs: NOW_MS });
    await store.runMaintenance(NOW_MS);
    const before = { start: log.logStartOffset, end: log.logEndOffset, size: log.sizeBytes };
    await store.close();
    store = await openStore(dir);
    log = await store.openPartition('t', 0, logConfig({ retentionBytes: 2500 }));
    expect({ start: log.logStartOffset, end: log.logEndOffset, size: log.sizeBytes }).toEqual(before);
    expect(before).toMatchObject({ start: 3, end: 5 });
  });

  it('keeps the next offset when every batch expires, across a restart', async () => {
    let log = await store.openPartition('t', 0, logConfig({ retentionMs: HOUR_MS }));
    await log.append(batch(values(3, 'v', NOW_MS - 2 * HOUR_MS)), { nowMs: NOW_MS });
    await log.append(batch(values(2, 'v', NOW_MS - 2 * HOUR_MS)), { nowMs: NOW_MS });
    await store.runMaintenance(NOW_MS);
    expect([log.logStartOffset, log.logEndOffset, log.sizeBytes]).toEqual([5, 5, 0]);
    await store.close();
    store = await openStore(dir);
    log = await store.openPartition('t', 0, logConfig({ retentionMs: HOUR_MS }));
    expect([log.logStartOffset, log.logEndOffset, log.highWatermark]).toEqual([5, 5, 5]);
    const appended = await log.append(batch(values(1)), { nowMs: NOW_MS });
    expect(appended.baseOffset).toBe(5);
    expect(decode((await log.read(5, 1 << 20)).records).map((r) => r.offset)).toEqual([5]);
  });

  it('leaves topics without the delete policy alone', async () => {
    const log = await store.openPartition('t', 0, logConfig({ cleanupDelete: false, retentionMs: 1, retentionBytes: 1 }));
    await log.append(batch(values(2, 'v', NOW_MS - HOUR_MS)), { nowMs: NOW_MS });
    expect((await store.runMaintenance(NOW_MS)).deletedBatches).toBe(0);
    expect(log.logStartOffset).toBe(0);
  });

  it('applies a config change from the next pass', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    await log.append(batch(values(2, 'v', NOW_MS - HOUR_MS)), { nowMs: NOW_MS });
    expect((await store.runMaintenance(NOW_MS)).deletedBatches).toBe(0);
    log.updateConfig(logConfig({ retentionMs: 1000 }));
    expect((await store.runMaintenance(NOW_MS)).deletedBatches).toBe(1);
    expect(await errorName(Promise.resolve().then(() => log.updateConfig(logConfig({ retentionBytes: -2 }))))).toBe('INVALID_CONFIG');
  });

  it('never deletes at or above the high watermark', async () => {
    const log = await store.openPartition('t', 0, logConfig({ retentionMs: 0 }));
    await log.append(batch(values(1, 'v', NOW_MS - HOUR_MS)), { nowMs: NOW_MS });
    log.autoHighWatermark = false;
    await log.append(batch(values(1, 'v', NOW_MS - HOUR_MS)), { nowMs: NOW_MS });
    expect((await store.runMaintenance(NOW_MS)).deletedBatches).toBe(1);
    expect([log.logStartOffset, log.highWatermark, log.logEndOffset]).toEqual([1, 1, 2]);
  });
});

describe('log > retention planner', () => {
  const entry = (maxTimestamp: number, sizeBytes = 100) => ({ lastOffset: 0, baseOffset: 0, maxTimestamp, sizeBytes });

  it('deletes nothing when both limits are unlimited', () => {
    const planner = new RetentionPlanner({ retentionMs: -1, retentionBytes: -1 }, NOW_MS, 1e9);
    expect(planner.active).toBe(false);
    expect(planner.deletes(entry(0))).toBe(false);
  });

  it('deletes strictly older batches by time and stops at the limit by size', () => {
    const byTime = new RetentionPlanner({ retentionMs: 1000, retentionBytes: -1 }, NOW_MS, 0);
    expect([byTime.deletes(entry(NOW_MS - 1001)), byTime.deletes(entry(NOW_MS - 1000))]).toEqual([true, false]);
    const bySize = new RetentionPlanner({ retentionMs: -1, retentionBytes: 250 }, NOW_MS, 400);
    expect([bySize.deletes(entry(NOW_MS)), bySize.deletes(entry(NOW_MS)), bySize.deletes(entry(NOW_MS))]).toEqual([true, true, false]);
  });
});

describe('log > delete records', () => {
  it('moves the log start inside a batch and deletes the batches wholly below it', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    for (let i = 0; i < 3; i++) await log.append(batch(values(3)), { nowMs: NOW_MS });
    const sizeBefore = log.sizeBytes;
    expect(await log.deleteRecords(4)).toBe(4);
    expect(log.logStartOffset).toBe(4);
    expect(log.sizeBytes).toBe((sizeBefore / 3) * 2);
    expect(batchRanges((await log.read(4, 1 << 20)).records)).toEqual([
      [3, 5],
      [6, 8],
    ]);
    expect(await errorName(log.read(3, 100))).toBe('OFFSET_OUT_OF_RANGE');
  });

  it('treats -1 as the high watermark and never moves the start back', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    await log.append(batch(values(3)), { nowMs: NOW_MS });
    expect(await log.deleteRecords(-1)).toBe(3);
    expect(await log.deleteRecords(1)).toBe(3);
    expect([log.logStartOffset, log.logEndOffset, log.sizeBytes]).toEqual([3, 3, 0]);
  });

  it('refuses an offset beyond the high watermark with OFFSET_OUT_OF_RANGE', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    await log.append(batch(values(3)), { nowMs: NOW_MS });
    expect(await errorName(log.deleteRecords(4))).toBe('OFFSET_OUT_OF_RANGE');
    expect(await errorName(log.deleteRecords(-2))).toBe('OFFSET_OUT_OF_RANGE');
    expect(log.logStartOffset).toBe(0);
  });

  it('survives a restart', async () => {
    let log = await store.openPartition('t', 0, logConfig());
    for (let i = 0; i < 3; i++) await log.append(batch(values(3)), { nowMs: NOW_MS });
    await log.deleteRecords(5);
    await store.close();
    store = await openStore(dir);
    log = await store.openPartition('t', 0, logConfig());
    expect([log.logStartOffset, log.logEndOffset]).toEqual([5, 9]);
    expect(batchRanges((await log.read(5, 1 << 20)).records)[0]).toEqual([3, 5]);
  });
});
