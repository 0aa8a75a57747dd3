import { describe, expect, it } from 'vitest';
import type { LogStore } from './log-store.js';
import type { DurabilityMode } from './types.js';
import { NOW_MS, batch, decode, logConfig, openStore, useTempDir, values, waitFor } from './fixtures/log-fixtures.js';

const temp = useTempDir();

/** 10 concurrent appends to each of 4 partitions; returns the store's write counters before and after. */
async function appendConcurrently(store: LogStore) {
  const logs = await Promise.all([0, 1, 2, 3].map((p) => store.openPartition('t', p, logConfig())));
  const before = { ...store.stats };
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => logs.map((log) => log.append(batch(values(2, `${log.partition}-${i}-`)), { nowMs: NOW_MS }))).flat(),
  );
  expect(results).toHaveLength(40);
  for (const log of logs) expect([log.logEndOffset, log.highWatermark]).toEqual([20, 20]);
  return { before, after: { ...store.stats } };
}

async function expectAllBackAfterRestart(mode: DurabilityMode): Promise<void> {
  const store = await openStore(temp.dir, mode);
  try {
    for (const p of [0, 1, 2, 3]) {
      const log = await store.openPartition('t', p, logConfig());
      const seen = decode((await log.read(0, 1 << 20)).records).map((r) => r.value);
      expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => [`${p}-${i}-0`, `${p}-${i}-1`]).flat());
    }
  } finally {
    await store.close();
  }
}

describe('log > durability', () => {
  it('sync: every append is its own synced write', async () => {
    const store = await openStore(temp.dir, 'sync');
    const { before, after } = await appendConcurrently(store);
    expect(after.entries - before.entries).toBe(40);
    expect(after.writes - before.writes).toBe(40);
    expect(after.syncedWrites - before.syncedWrites).toBe(40);
    await store.close();
    await expectAllBackAfterRestart('sync');
  });

  it('group: concurrent appends across partitions share synced writes', async () => {
    const store = await openStore(temp.dir, 'group');
    const { before, after } = await appendConcurrently(store);
    const writes = after.writes - before.writes;
    expect(after.entries - before.entries).toBe(40);
    // All 40 are issued in one tick: the first write takes them together.
    expect(writes).toBeLessThan(5);
    expect(after.syncedWrites - before.syncedWrites).toBe(writes);
    await store.close();
    await expectAllBackAfterRestart('group');
  });

  it('interval: appends resolve on unsynced writes and a synced write follows within the interval', async () => {
    const store = await openIntervalStore();
    const { before, after } = await appendConcurrently(store);
    expect(after.writes - before.writes).toBeGreaterThan(0);
    expect(after.syncedWrites - before.syncedWrites).toBe(0);
    await waitFor(() => store.stats.syncedWrites > after.syncedWrites, 2000, 'the interval sync');
    await store.close();
    await expectAllBackAfterRestart('interval');
  });
});

function openIntervalStore(): Promise<LogStore> {
  return openStore(temp.dir, 'interval', { durability: { mode: 'interval', intervalMs: 50 } });
}
