import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogStore } from './log-store.js';
import type { PartitionLog } from './partition-log.js';
import { NOW_MS, batch, errorName, logConfig, openStore, tempDir } from './fixtures/log-fixtures.js';

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

/** Appends one batch per array, records timestamped as given; returns the log. */
async function logWithTimestamps(batches: number[][], config = logConfig()): Promise<PartitionLog> {
  const log = await store.openPartition('t', 0, config);
  for (const timestamps of batches) {
    await log.append(batch(timestamps.map((timestamp, i) => ({ key: `k${i}`, value: `at-${timestamp}`, timestamp }))), { nowMs: NOW_MS });
  }
  return log;
}

describe('log > list offsets', () => {
  it('answers earliest with the log start and latest with the high watermark', async () => {
    const log = await logWithTimestamps([[100, 200], [300]]);
    expect(await log.listOffset(-2)).toEqual({ offset: 0, timestamp: -1 });
    expect(await log.listOffset(-1)).toEqual({ offset: 3, timestamp: -1 });
    await log.deleteRecords(1);
    expect(await log.listOffset(-2)).toEqual({ offset: 1, timestamp: -1 });
  });

  it('finds the exact first record whose timestamp reaches the target, inside a batch', async () => {
    const log = await logWithTimestamps([
      [100, 110, 120],
      [130, 140, 150],
    ]);
    expect(await log.listOffset(0)).toEqual({ offset: 0, timestamp: 100 });
    expect(await log.listOffset(100)).toEqual({ offset: 0, timestamp: 100 });
    expect(await log.listOffset(111)).toEqual({ offset: 2, timestamp: 120 });
    expect(await log.listOffset(121)).toEqual({ offset: 3, timestamp: 130 });
    expect(await log.listOffset(145)).toEqual({ offset: 5, timestamp: 150 });
    expect(await log.listOffset(151)).toEqual({ offset: -1, timestamp: -1 });
  });

  it('follows offset order when timestamps go backwards between batches', async () => {
    const log = await logWithTimestamps([[500], [100], [300], [700], [200]]);
    // The first batch already reaches 150, 400 and 500; only the fourth reaches 600.
    expect(await log.listOffset(150)).toEqual({ offset: 0, timestamp: 500 });
    expect(await log.listOffset(600)).toEqual({ offset: 3, timestamp: 700 });
    expect(await log.listOffset(701)).toEqual({ offset: -1, timestamp: -1 });
  });

  it('reports the record with the largest timestamp for -3', async () => {
    const log = await logWithTimestamps([[100, 900, 300], [200], [900]]);
    expect(await log.listOffset(-3)).toEqual({ offset: 1, timestamp: 900 });
    const empty = await store.openPartition('t', 1, logConfig());
    expect(await empty.listOffset(-3)).toEqual({ offset: -1, timestamp: -1 });
    expect(await empty.listOffset(5)).toEqual({ offset: -1, timestamp: -1 });
  });

  it('stays exact after retention deleted the batches the time index named', async () => {
    const log = await logWithTimestamps([[1000], [100], [200], [300], [50], [400]]);
    await log.deleteRecords(1);
    // Offset 0 (time 1000) is gone; the rest must be found through repaired index entries.
    expect(await log.listOffset(150)).toEqual({ offset: 2, timestamp: 200 });
    expect(await log.listOffset(40)).toEqual({ offset: 1, timestamp: 100 });
    expect(await log.listOffset(350)).toEqual({ offset: 5, timestamp: 400 });
    expect(await log.listOffset(-3)).toEqual({ offset: 5, timestamp: 400 });
    await log.deleteRecords(3);
    expect(await log.listOffset(40)).toEqual({ offset: 3, timestamp: 300 });
    expect(await log.listOffset(301)).toEqual({ offset: 5, timestamp: 400 });
  });

  it('re-covers live batches that only a deleted index entry covered', async () => {
    // Index entries: 100@0, 200@2, 300@4. Deleting offset 0 leaves offset 1 (time 50) covered
    // only by the dead entry 100@0 until the repair adds one for it.
    const log = await logWithTimestamps([[100], [50], [200], [150], [300]]);
    await log.deleteRecords(1);
    expect(await log.listOffset(40)).toEqual({ offset: 1, timestamp: 50 });
    expect(await log.listOffset(60)).toEqual({ offset: 2, timestamp: 200 });
    expect(await log.listOffset(160)).toEqual({ offset: 2, timestamp: 200 });
    expect(await log.listOffset(250)).toEqual({ offset: 4, timestamp: 300 });
  });

  it('keeps the time index covering when the newest entry names a deleted batch', async () => {
    const log = await logWithTimestamps([[1000], [100], [200]]);
    await log.deleteRecords(1);
    expect(await log.listOffset(150)).toEqual({ offset: 2, timestamp: 200 });
    // A later append below the old maximum must still be found.
    await log.append(batch([{ key: 'x', value: 'y', timestamp: 500 }]), { nowMs: NOW_MS });
    expect(await log.listOffset(300)).toEqual({ offset: 3, timestamp: 500 });
    expect(await log.listOffset(-3)).toEqual({ offset: 3, timestamp: 500 });
  });

  it('skips records below a log start inside a batch', async () => {
    const log = await logWithTimestamps([[100, 200, 300]]);
    await log.deleteRecords(2);
    expect(await log.listOffset(150)).toEqual({ offset: 2, timestamp: 300 });
  });

  it('uses the append time on LogAppendTime topics', async () => {
    const log = await store.openPartition('t', 0, logConfig({ timestampType: 'LogAppendTime' }));
    await log.append(batch([{ value: 'a', timestamp: 1 }]), { nowMs: NOW_MS });
    await log.append(batch([{ value: 'b', timestamp: 2 }]), { nowMs: NOW_MS + 10 });
    expect(await log.listOffset(NOW_MS + 5)).toEqual({ offset: 1, timestamp: NOW_MS + 10 });
  });

  it('refuses negative timestamps it does not know', async () => {
    const log = await logWithTimestamps([[100]]);
    expect(await errorName(log.listOffset(-7))).toBe('INVALID_REQUEST');
  });

  it('survives a restart', async () => {
    await logWithTimestamps([[100, 200], [150], [400]]);
    await store.close();
    store = await openStore(dir);
    const log = await store.openPartition('t', 0, logConfig());
    expect(await log.listOffset(120)).toEqual({ offset: 1, timestamp: 200 });
    expect(await log.listOffset(300)).toEqual({ offset: 3, timestamp: 400 });
  });
});
