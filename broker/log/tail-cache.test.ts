import { describe, expect, it } from 'vitest';
import { patchBaseOffset, readBatchHeader } from '../../proto/record-batch/index.js';
import { LogStore } from './log-store.js';
import { NOW_MS, batch, batchRanges, decode, errorName, logConfig, openStore, sized, useTempDir, values } from './fixtures/log-fixtures.js';
import { IDLE_COMMITS, TailBudget, TailCache, type TailBatch } from './tail-cache.js';

/** A stored-looking batch of `count` records starting at `baseOffset`. */
function at(baseOffset: number, count: number, valueBytes = 10): Buffer {
  const bytes = batch(Array.from({ length: count }, () => sized(valueBytes)));
  patchBaseOffset(bytes, 0, baseOffset);
  return bytes;
}

/** `at`'s batch as an append hands it to the cache, with its offsets. */
function committedAt(baseOffset: number, count: number, valueBytes = 10): TailBatch {
  const value = at(baseOffset, count, valueBytes);
  return { value, baseOffset, lastOffset: readBatchHeader(value).lastOffset };
}

const ranges = (chunks: readonly Buffer[]): [number, number][] => chunks.map((c) => [readBatchHeader(c).baseOffset, readBatchHeader(c).lastOffset]);

describe('log > tail cache > rules', () => {
  it('answers a range it holds whole, as a LevelDB range read of the batch keys would', () => {
    const cache = new TailCache(new TailBudget(1 << 20), 1 << 20);
    for (const [base, count] of [[0, 3], [3, 2], [5, 4]] as const) cache.committed(committedAt(base, count));
    // The batch containing offset 4 first, then up to (not including) batches ending at or after 9.
    expect(ranges(cache.read(4, 9, 1 << 20)!.chunks)).toEqual([[3, 4], [5, 8]]);
    // The high watermark below the last batch's end leaves that batch out.
    expect(ranges(cache.read(0, 8, 1 << 20)!.chunks)).toEqual([[0, 2], [3, 4]]);
    // The first batch comes whole even past maxBytes; no second one then.
    expect(ranges(cache.read(0, 9, 1)!.chunks)).toEqual([[0, 2]]);
  });

  it('stops keeping batches after IDLE_COMMITS commits without a read at the tail, and keeps them again once a reader reaches the end', () => {
    const budget = new TailBudget(1 << 20);
    const cache = new TailCache(budget, 1 << 20);
    let next = 0;
    const commit = (): void => {
      cache.committed(committedAt(next, 1));
      next++;
    };
    for (let i = 0; i < IDLE_COMMITS; i++) commit();
    expect(cache.size).toBe(IDLE_COMMITS);
    commit();
    // Nobody read: the memory goes back to the budget and nothing more is kept.
    expect([cache.armed, cache.size, budget.usedBytes]).toEqual([false, 0, 0]);
    commit();
    expect(cache.read(next - 1, next, 1 << 20)).toBeUndefined();
    // A long poll at the end arms it: the next commits are kept and answer the reader.
    cache.readAtEnd();
    commit();
    commit();
    expect(ranges(cache.read(next - 2, next, 1 << 20)!.chunks)).toEqual([[next - 2, next - 2], [next - 1, next - 1]]);
    // A reader that keeps up keeps it armed however many commits go by.
    for (let i = 0; i < IDLE_COMMITS * 3; i++) {
      commit();
      expect(cache.read(next - 1, next, 1 << 20)).toBeDefined();
    }
    expect(cache.armed).toBe(true);
  });

  it('refuses a range reaching past what it holds, so the caller reads LevelDB', () => {
    const cache = new TailCache(new TailBudget(1 << 20), 1 << 20);
    cache.committed(committedAt(10, 5));
    expect(cache.read(9, 15, 1 << 20)).toBeUndefined();
    expect(cache.read(10, 16, 1 << 20)).toBeUndefined();
    expect(ranges(cache.read(10, 15, 1 << 20)!.chunks)).toEqual([[10, 14]]);
  });

  it('restarts its run when a commit does not continue it', () => {
    const cache = new TailCache(new TailBudget(1 << 20), 1 << 20);
    cache.committed(committedAt(0, 5));
    cache.committed(committedAt(3, 2)); // after a truncation to 3
    expect(cache.size).toBe(1);
    expect(cache.read(0, 5, 1 << 20)).toBeUndefined();
    expect(ranges(cache.read(3, 5, 1 << 20)!.chunks)).toEqual([[3, 4]]);
  });

  it('drops its oldest batches beyond its own limit and no longer answers for them', () => {
    const one = at(0, 1, 100).length;
    const cache = new TailCache(new TailBudget(1 << 20), one * 2);
    for (let offset = 0; offset < 5; offset++) cache.committed(committedAt(offset, 1, 100));
    expect(cache.size).toBe(2);
    expect(cache.bytes).toBe(one * 2);
    expect(cache.read(2, 5, 1 << 20)).toBeUndefined();
    expect(ranges(cache.read(3, 5, 1 << 20)!.chunks)).toEqual([[3, 3], [4, 4]]);
  });

  it('keeps nothing when the shared budget is spent, and gets room again when another partition clears', () => {
    const one = at(0, 1, 100).length;
    const budget = new TailBudget(one);
    const first = new TailCache(budget, 1 << 20);
    const second = new TailCache(budget, 1 << 20);
    first.committed(committedAt(0, 1, 100));
    second.committed(committedAt(0, 1, 100));
    expect([first.size, second.size, budget.usedBytes]).toEqual([1, 0, one]);
    expect(second.read(0, 1, 1 << 20)).toBeUndefined();
    first.clear();
    expect(budget.usedBytes).toBe(0);
    second.committed(committedAt(1, 1, 100));
    expect(ranges(second.read(1, 2, 1 << 20)!.chunks)).toEqual([[1, 1]]);
  });

  it('skips a batch larger than its limit, leaving no run that would miss it', () => {
    const cache = new TailCache(new TailBudget(1 << 20), 200);
    cache.committed(committedAt(0, 1, 10));
    cache.committed(committedAt(1, 1, 500));
    expect(cache.size).toBe(0);
    expect(cache.read(0, 2, 1 << 20)).toBeUndefined();
  });
});

describe('log > tail cache > in the log', () => {
  const temp = useTempDir();

  it('serves tail reads with the very bytes LevelDB stored, patches included', async () => {
    const store = await openStore(temp.dir, 'interval');
    const log = await store.openPartition('t', 0, logConfig({ timestampType: 'LogAppendTime' }));
    await log.append(batch(values(3)), { nowMs: NOW_MS + 5 });
    await log.append(Buffer.concat([batch(values(2)), batch(values(4))]), { nowMs: NOW_MS + 6 });
    const fromMemory = await log.read(3, 1 << 20);
    await store.close();
    // Reopened, the cache is empty: the same read comes from LevelDB.
    const reopened = await openStore(temp.dir, 'interval');
    const again = await reopened.openPartition('t', 0, logConfig({ timestampType: 'LogAppendTime' }));
    const fromDisk = await again.read(3, 1 << 20);
    await reopened.close();
    expect(batchRanges(fromMemory.records)).toEqual([
      [3, 4],
      [5, 8],
    ]);
    expect(fromMemory.records.equals(fromDisk.records)).toBe(true);
    expect(decode(fromMemory.records).map((r) => r.timestamp)).toEqual(Array.from({ length: 6 }, () => NOW_MS + 6));
  });

  it('never serves a batch a truncation removed, even when new batches reuse its offsets', async () => {
    const store = await openStore(temp.dir, 'interval');
    try {
      const log = await store.openPartition('t', 0, logConfig());
      await log.append(batch(values(3, 'old')), { nowMs: NOW_MS });
      await log.append(batch(values(3, 'old')), { nowMs: NOW_MS });
      expect(await log.truncateTo(3)).toBe(3);
      expect(batchRanges((await log.read(0, 1 << 20)).records)).toEqual([[0, 2]]);
      await log.append(batch(values(2, 'new')), { nowMs: NOW_MS });
      expect(decode((await log.read(3, 1 << 20)).records).map((r) => r.value)).toEqual(['new0', 'new1']);
    } finally {
      await store.close();
    }
  });

  it('gives the same answers with the cache turned off', async () => {
    const store = await openStore(temp.dir, 'interval', { tailCacheBytes: 0 });
    try {
      const log = await store.openPartition('t', 0, logConfig());
      await log.append(batch(values(3)), { nowMs: NOW_MS });
      await log.append(batch(values(2)), { nowMs: NOW_MS });
      expect(batchRanges((await log.read(1, 1 << 20)).records)).toEqual([
        [0, 2],
        [3, 4],
      ]);
    } finally {
      await store.close();
    }
  });

  it('refuses a tailCacheBytes that is not a non-negative integer', async () => {
    for (const tailCacheBytes of [-1, 1.5, Number.NaN]) {
      expect(await errorName(LogStore.open({ dir: temp.dir, durability: { mode: 'interval' }, tailCacheBytes }))).toBe('INVALID_CONFIG');
    }
  });
});
