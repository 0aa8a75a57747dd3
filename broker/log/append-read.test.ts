import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBatchHeader, validateBatches } from '../../proto/record-batch/index.js';
import type { LogStore } from './log-store.js';
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

describe('log > append', () => {
  it('assigns contiguous offsets across the batches of one append and across appends', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    const first = await log.append(Buffer.concat([batch(values(3)), batch(values(2))]), { nowMs: NOW_MS });
    const second = await log.append(batch(values(4)), { nowMs: NOW_MS });
    expect(first).toMatchObject({ baseOffset: 0, lastOffset: 4, logAppendTimeMs: -1, logStartOffset: 0 });
    expect(second).toMatchObject({ baseOffset: 5, lastOffset: 8 });
    expect([log.logEndOffset, log.highWatermark]).toEqual([9, 9]);
    const read = await log.read(0, 1 << 20);
    expect(batchRanges(read.records)).toEqual([
      [0, 2],
      [3, 4],
      [5, 8],
    ]);
    expect(decode(read.records).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('gives concurrent appends to one partition offsets in call order', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(batch(values(i + 1, `a${i}-`)), { nowMs: NOW_MS })));
    let next = 0;
    for (const [i, result] of results.entries()) {
      expect(result.baseOffset).toBe(next);
      next += i + 1;
      expect(result.lastOffset).toBe(next - 1);
    }
    const read = await log.read(0, 1 << 20);
    expect(decode(read.records).map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => values(i + 1, `a${i}-`).map((r) => r.value)).flat());
  });

  it('patches the base offset outside the CRC, so stored batches still validate', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    await log.append(batch(values(2)), { nowMs: NOW_MS });
    const input = batch(values(3));
    await log.append(input, { nowMs: NOW_MS });
    expect(readBatchHeader(input).baseOffset).toBe(2);
    const read = await log.read(0, 1 << 20);
    expect(validateBatches(read.records, { maxBatchBytes: 1 << 20 }).map((h) => h.baseOffset)).toEqual([0, 2]);
  });

  it('stamps LogAppendTime topics with the append time and reports it', async () => {
    const log = await store.openPartition('t1', 0, logConfig({ timestampType: 'LogAppendTime' }));
    const result = await log.append(batch(values(2, 'v', 5)), { nowMs: NOW_MS + 1234 });
    expect(result.logAppendTimeMs).toBe(NOW_MS + 1234);
    const read = await log.read(0, 1 << 20);
    expect(decode(read.records).map((r) => r.timestamp)).toEqual([NOW_MS + 1234, NOW_MS + 1234]);
    expect(validateBatches(read.records, { maxBatchBytes: 1 << 20 })).toHaveLength(1);
  });

  it('keeps partitions and topics with prefix-sharing ids apart', async () => {
    const logs = [
      await store.openPartition('a', 1, logConfig()),
      await store.openPartition('a', 10, logConfig()),
      await store.openPartition('ab', 1, logConfig()),
    ];
    for (const [i, log] of logs.entries()) await log.append(batch(values(i + 1, `${i}-`)), { nowMs: NOW_MS });
    for (const [i, log] of logs.entries()) {
      const read = await log.read(0, 1 << 20);
      expect(decode(read.records).map((r) => r.value)).toEqual(values(i + 1, `${i}-`).map((r) => r.value));
    }
  });

  it('returns the same instance when a partition is opened again, even concurrently', async () => {
    const [a, b] = await Promise.all([store.openPartition('t1', 0, logConfig()), store.openPartition('t1', 0, logConfig())]);
    expect(a).toBe(b);
    expect(await store.openPartition('t1', 0, logConfig())).toBe(a);
    expect(store.getPartition('t1', 0)).toBe(a);
    expect(store.getPartition('t1', 1)).toBeUndefined();
    expect([...store.partitions()]).toEqual([a]);
  });

  it('refuses a config it cannot apply', async () => {
    expect(await errorName(store.openPartition('t1', 0, logConfig({ retentionMs: -5 })))).toBe('INVALID_CONFIG');
    expect(await errorName(store.openPartition('', 0, logConfig()))).toBe('INVALID_TOPIC');
  });

  it('wakes append listeners when the high watermark advances, until they unsubscribe', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    const seen: number[] = [];
    const unsubscribe = log.onAppend(() => seen.push(log.highWatermark));
    await log.append(batch(values(2)), { nowMs: NOW_MS });
    unsubscribe();
    await log.append(batch(values(2)), { nowMs: NOW_MS });
    expect(seen).toEqual([2]);
  });
});

describe('log > fetch', () => {
  it('returns the batch that contains the requested offset', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    for (let i = 0; i < 4; i++) await log.append(batch(values(5)), { nowMs: NOW_MS });
    const read = await log.read(7, 1);
    expect(batchRanges(read.records)).toEqual([[5, 9]]);
    expect(read).toMatchObject({ highWatermark: 20, logStartOffset: 0, logEndOffset: 20 });
  });

  it('adds following batches only while the total stays within maxBytes', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    for (let i = 0; i < 5; i++) await log.append(batch([sized(1000)]), { nowMs: NOW_MS });
    const one = (await log.read(0, 1 << 20)).records.length / 5;
    const read = await log.read(1, Math.floor(one * 3.5));
    expect(batchRanges(read.records)).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(read.records.length).toBeLessThanOrEqual(one * 3.5);
  });

  it('returns one whole batch even when it alone exceeds maxBytes', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    await log.append(batch([sized(5000)]), { nowMs: NOW_MS });
    await log.append(batch([sized(10)]), { nowMs: NOW_MS });
    const read = await log.read(0, 100);
    expect(batchRanges(read.records)).toEqual([[0, 0]]);
    expect(read.records.length).toBeGreaterThan(5000);
    expect(batchRanges((await log.read(0, 0)).records)).toEqual([[0, 0]]);
  });

  it('stops before maxOffset and returns nothing at the high watermark', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    for (let i = 0; i < 3; i++) await log.append(batch(values(2)), { nowMs: NOW_MS });
    expect(batchRanges((await log.read(0, 1 << 20, { maxOffset: 4 })).records)).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(batchRanges((await log.read(0, 1 << 20, { maxOffset: 3 })).records)).toEqual([[0, 1]]);
    const atEnd = await log.read(6, 1 << 20);
    expect(atEnd.records.length).toBe(0);
    expect(atEnd.highWatermark).toBe(6);
  });

  it('stops at the high watermark when the replication layer holds it back', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    await log.append(batch(values(2)), { nowMs: NOW_MS });
    log.autoHighWatermark = false;
    await log.append(batch(values(2)), { nowMs: NOW_MS });
    expect([log.highWatermark, log.logEndOffset]).toEqual([2, 4]);
    expect(batchRanges((await log.read(0, 1 << 20)).records)).toEqual([[0, 1]]);
    expect(batchRanges((await log.read(2, 1 << 20, { maxOffset: 4 })).records)).toEqual([[2, 3]]);
    log.setHighWatermark(4);
    expect(batchRanges((await log.read(0, 1 << 20)).records)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  it('refuses offsets outside the log with OFFSET_OUT_OF_RANGE', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    await log.append(batch(values(2)), { nowMs: NOW_MS });
    expect(await errorName(log.read(3, 100))).toBe('OFFSET_OUT_OF_RANGE');
    expect(await errorName(log.read(-1, 100))).toBe('OFFSET_OUT_OF_RANGE');
    expect(await errorName(log.read(0.5, 100))).toBe('OFFSET_OUT_OF_RANGE');
    expect(await errorName(log.read(0, -1))).toBe('INVALID_FETCH_SIZE');
  });

  it('gives readChunks the batches read returns, one Buffer per stored batch, not concatenated', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    for (let i = 0; i < 4; i++) await log.append(batch([sized(1000 + i)]), { nowMs: NOW_MS });
    const one = (await log.read(0, 1 << 20)).records.length / 4;
    for (const [offset, maxBytes] of [
      [0, 1 << 20],
      [1, Math.floor(one * 2.5)],
      [3, 1],
      [4, 1 << 20],
    ] as const) {
      const read = await log.read(offset, maxBytes);
      const { chunks, bytes, ...bounds } = await log.readChunks(offset, maxBytes);
      expect(Buffer.concat(chunks).equals(read.records)).toBe(true);
      expect(bytes).toBe(read.records.length);
      expect(chunks.map((chunk) => batchRanges(chunk).length)).toEqual(chunks.map(() => 1));
      expect(bounds).toEqual({ highWatermark: read.highWatermark, logStartOffset: read.logStartOffset, logEndOffset: read.logEndOffset });
    }
    expect(await errorName(log.readChunks(5, 100))).toBe('OFFSET_OUT_OF_RANGE');
  });

  it('answers every offset and limit with the longest run of whole batches within maxBytes, the first batch always', async () => {
    // Without a tail cache every read is a LevelDB range read.
    await store.close();
    store = await openStore(dir, 'group', { tailCacheBytes: 0 });
    const log = await store.openPartition('t1', 0, logConfig());
    // 70 batches of uneven sizes (more than a read plans from the index), then 30 tiny ones.
    const sizes: number[] = [];
    for (let i = 0; i < 100; i++) {
      await log.append(batch([sized(i < 70 ? 200 + ((i * 7919) % 3000) : 1)]), { nowMs: NOW_MS });
    }
    const all = await log.readChunks(0, 1 << 30);
    for (const chunk of all.chunks) sizes.push(chunk.length);
    expect(sizes).toHaveLength(100);
    const expected = (from: number, maxBytes: number): number[] => {
      const out: number[] = [];
      let bytes = 0;
      for (let i = from; i < sizes.length; i++) {
        if (out.length > 0 && bytes + sizes[i]! > maxBytes) break;
        out.push(i);
        bytes += sizes[i]!;
      }
      return out;
    };
    for (const offset of [0, 1, 33, 64, 65, 69, 70, 99]) {
      for (const maxBytes of [1, sizes[offset]!, sizes[offset]! + 1, 5_000, 20_000, 100_000, 1 << 30]) {
        const { chunks, bytes } = await log.readChunks(offset, maxBytes);
        const want = expected(offset, maxBytes);
        expect(chunks.map((chunk) => readBatchHeader(chunk).baseOffset)).toEqual(want);
        expect(bytes).toBe(want.reduce((sum, i) => sum + sizes[i]!, 0));
        expect(chunks.every((chunk, i) => chunk.equals(all.chunks[want[i]!]!))).toBe(true);
      }
    }
  });

  it('reads an empty new partition as empty at offset 0', async () => {
    const log = await store.openPartition('t1', 0, logConfig());
    const read = await log.read(0, 100);
    expect(read).toMatchObject({ highWatermark: 0, logStartOffset: 0, logEndOffset: 0 });
    expect(read.records.length).toBe(0);
  });
});
