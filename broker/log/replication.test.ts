/**
 * The log's replication parts on a real LevelDB: a follower's append of the leader's batches as
 * they are, truncation of a diverged tail, the leader-epoch history (persisted with the data), and
 * the high watermark checkpoint, each across a close and reopen.
 */
import { describe, expect, it } from 'vitest';
import { patchBaseOffset, patchPartitionLeaderEpoch } from '../../proto/record-batch/index.js';
import { NOW_MS, batch, batchRanges, decode, errorName, logConfig, openStore, tempDir, values } from './fixtures/log-fixtures.js';
import type { LogStore } from './log-store.js';
import type { PartitionLog } from './partition-log.js';

/** One batch stamped with a leader epoch, as the leader's produce path stamps it. */
function epochBatch(epoch: number, count: number, prefix: string): Buffer {
  const bytes = batch(values(count, prefix));
  patchPartitionLeaderEpoch(bytes, 0, epoch);
  return bytes;
}

async function withStore(run: (open: () => Promise<{ store: LogStore; log: PartitionLog }>) => Promise<void>): Promise<void> {
  const { dir, remove } = await tempDir();
  const stores: LogStore[] = [];
  try {
    await run(async () => {
      const store = await openStore(dir);
      stores.push(store);
      return { store, log: await store.openPartition('rep', 0, logConfig()) };
    });
  } finally {
    for (const store of stores) await store.close().catch(() => {});
    await remove();
  }
}

/** A leader's log with epoch 0 for offsets 0-4 and epoch 2 for 5-7; returns its stored batches. */
async function leaderBatches(): Promise<Buffer> {
  let fetched = Buffer.alloc(0);
  await withStore(async (open) => {
    const { store, log } = await open();
    log.autoHighWatermark = false;
    await log.append(epochBatch(0, 3, 'a'), { nowMs: NOW_MS });
    await log.append(epochBatch(0, 2, 'b'), { nowMs: NOW_MS });
    await log.startLeaderEpoch(2);
    await log.append(epochBatch(2, 3, 'c'), { nowMs: NOW_MS });
    fetched = Buffer.from((await log.read(0, 1 << 20, { maxOffset: log.logEndOffset })).records);
    await store.close();
  });
  return fetched;
}

describe('log > replication > leader epochs', () => {
  it('records where each leader epoch starts, durably, with the appends that start it', async () => {
    await withStore(async (open) => {
      const first = await open();
      await first.log.append(epochBatch(0, 3, 'a'), { nowMs: NOW_MS });
      await first.log.startLeaderEpoch(3);
      await first.log.append(epochBatch(3, 2, 'b'), { nowMs: NOW_MS });
      expect(first.log.leaderEpochs).toEqual([
        { epoch: 0, startOffset: 0 },
        { epoch: 3, startOffset: 3 },
      ]);
      await first.store.close();
      const { log } = await open();
      expect(log.leaderEpochs).toEqual([
        { epoch: 0, startOffset: 0 },
        { epoch: 3, startOffset: 3 },
      ]);
      expect(log.latestEpoch).toBe(3);
    });
  });

  it('answers where an epoch ends: the next epoch start, the log end for the latest, -1 before the first', async () => {
    await withStore(async (open) => {
      const { log } = await open();
      await log.append(epochBatch(1, 3, 'a'), { nowMs: NOW_MS });
      await log.append(epochBatch(4, 2, 'b'), { nowMs: NOW_MS });
      expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 3 });
      expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 1, endOffset: 3 });
      expect(log.endOffsetForEpoch(4)).toEqual({ epoch: 4, endOffset: 5 });
      expect(log.endOffsetForEpoch(9)).toEqual({ epoch: 4, endOffset: 5 });
      expect(log.endOffsetForEpoch(0)).toEqual({ epoch: -1, endOffset: -1 });
    });
  });
});

describe('log > replication > follower append', () => {
  it('keeps the offsets and epochs the leader assigned, and the same bytes', async () => {
    const fetched = await leaderBatches();
    await withStore(async (open) => {
      const { log } = await open();
      log.autoHighWatermark = false;
      expect(await log.appendReplicated(fetched)).toBe(8);
      expect(log.logEndOffset).toBe(8);
      expect(log.highWatermark).toBe(0);
      expect(log.leaderEpochs).toEqual([
        { epoch: 0, startOffset: 0 },
        { epoch: 2, startOffset: 5 },
      ]);
      expect((await log.read(0, 1 << 20, { maxOffset: 8 })).records.equals(fetched)).toBe(true);
      expect(decode(fetched).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });
  });

  it('skips batches it already holds and refuses one that overlaps its log end', async () => {
    const fetched = await leaderBatches();
    const [first, second] = batchRanges(fetched);
    await withStore(async (open) => {
      const { log } = await open();
      const firstBytes = fetched.subarray(0, fetched.readInt32BE(8) + 12);
      await log.appendReplicated(firstBytes);
      expect(log.logEndOffset).toBe(first![1] + 1);
      expect(await log.appendReplicated(fetched)).toBe(8);
      expect(second).toEqual([3, 4]);
      // A batch starting before the log end that is not wholly held cannot continue this log.
      await log.truncateTo(4);
      expect(log.logEndOffset).toBe(3);
      const overlapping = Buffer.from(fetched.subarray(firstBytes.length));
      overlapping.writeUInt32BE(0, 0);
      overlapping.writeUInt32BE(2, 4); // base offset 2: overlaps offsets this log already has
      expect(await errorName(log.appendReplicated(overlapping))).toBe('CORRUPT_MESSAGE');
      expect(log.logEndOffset).toBe(3);
    });
  });
});

describe('log > replication > truncation', () => {
  it('removes whole batches from the offset on, with their epochs, and keeps that after a reopen', async () => {
    const fetched = await leaderBatches();
    await withStore(async (open) => {
      const first = await open();
      first.log.autoHighWatermark = false;
      await first.log.appendReplicated(fetched);
      first.log.setHighWatermark(6);
      // Offset 6 falls inside the epoch-2 batch [5, 7]: the whole batch goes, and epoch 2 with it.
      expect(await first.log.truncateTo(6)).toBe(5);
      expect(first.log.logEndOffset).toBe(5);
      expect(first.log.highWatermark).toBe(5);
      expect(first.log.leaderEpochs).toEqual([{ epoch: 0, startOffset: 0 }]);
      expect(decode((await first.log.read(0, 1 << 20, { maxOffset: 5 })).records).map((r) => r.value)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
      await first.store.close();

      const { log } = await open();
      expect(log.logEndOffset).toBe(5);
      expect(log.highWatermark).toBe(5);
      expect(log.leaderEpochs).toEqual([{ epoch: 0, startOffset: 0 }]);
      // The log continues from the new end: the leader's later batches append cleanly.
      log.autoHighWatermark = false;
      expect(await log.appendReplicated(fetched)).toBe(8);
      expect(log.leaderEpochs.at(-1)).toEqual({ epoch: 2, startOffset: 5 });
    });
  });

  it('is a no-op at or beyond the log end and refuses a negative offset with OFFSET_OUT_OF_RANGE', async () => {
    await withStore(async (open) => {
      const { log } = await open();
      await log.append(epochBatch(0, 2, 'a'), { nowMs: NOW_MS });
      expect(await log.truncateTo(2)).toBe(2);
      expect(await log.truncateTo(10)).toBe(2);
      expect(await errorName(log.truncateTo(-1))).toBe('OFFSET_OUT_OF_RANGE');
      expect(log.logEndOffset).toBe(2);
    });
  });

  it('drops the time index entries of the removed batches, so lookups by time stay below the end', async () => {
    await withStore(async (open) => {
      const { log } = await open();
      await log.append(batch(values(2, 'old', NOW_MS)), { nowMs: NOW_MS });
      await log.append(batch(values(2, 'new', NOW_MS + 1000)), { nowMs: NOW_MS });
      await log.truncateTo(2);
      expect(await log.listOffset(NOW_MS + 500)).toEqual({ offset: -1, timestamp: -1 });
      expect(await log.listOffset(-3)).toEqual({ offset: 0, timestamp: NOW_MS });
    });
  });
});

describe('log > replication > restart at the leader\'s log start', () => {
  it('empties the log and continues at the given offset, and keeps that after a reopen', async () => {
    const fetched = await leaderBatches();
    await withStore(async (open) => {
      const first = await open();
      first.log.autoHighWatermark = false;
      await first.log.appendReplicated(fetched);
      await first.log.restartAt(20);
      expect([first.log.logStartOffset, first.log.logEndOffset, first.log.highWatermark]).toEqual([20, 20, 20]);
      expect(first.log.leaderEpochs).toEqual([]);
      expect(await first.log.listOffset(-2)).toEqual({ offset: 20, timestamp: -1 });
      await first.store.close();

      const { log } = await open();
      expect([log.logStartOffset, log.logEndOffset, log.highWatermark]).toEqual([20, 20, 20]);
      expect(log.leaderEpochs).toEqual([]);
      // The leader's batches from its log start on append as they are.
      log.autoHighWatermark = false;
      const next = epochBatch(4, 2, 'z');
      patchBaseOffset(next, 0, 20);
      expect(await log.appendReplicated(next)).toBe(22);
      expect(log.leaderEpochs).toEqual([{ epoch: 4, startOffset: 20 }]);
      expect(decode((await log.read(20, 1 << 20, { maxOffset: 22 })).records).map((r) => [r.offset, r.value])).toEqual([
        [20, 'z0'],
        [21, 'z1'],
      ]);
    });
  });

  it('takes a first batch that straddles its new log start, as the leader serves it when its log start falls inside a batch', async () => {
    const fetched = await leaderBatches();
    await withStore(async (open) => {
      const { log } = await open();
      log.autoHighWatermark = false;
      await log.restartAt(4);
      // The leader's batches [0, 2], [3, 4] and [5, 7]: the first is skipped (below the start), the
      // second straddles it and is kept whole, the third follows.
      expect(await log.appendReplicated(fetched)).toBe(8);
      expect([log.logStartOffset, log.logEndOffset]).toEqual([4, 8]);
      expect(decode((await log.read(4, 1 << 20, { maxOffset: 8 })).records).map((r) => r.offset)).toEqual([3, 4, 5, 6, 7]);
    });
  });

  it('refuses to restart at or below its own log end with OFFSET_OUT_OF_RANGE, and changes nothing', async () => {
    await withStore(async (open) => {
      const { log } = await open();
      await log.append(epochBatch(0, 3, 'a'), { nowMs: NOW_MS });
      expect(await errorName(log.restartAt(3))).toBe('OFFSET_OUT_OF_RANGE');
      expect(await errorName(log.restartAt(1))).toBe('OFFSET_OUT_OF_RANGE');
      expect([log.logStartOffset, log.logEndOffset]).toEqual([0, 3]);
      expect(decode((await log.read(0, 1 << 20, { maxOffset: 3 })).records).map((r) => r.value)).toEqual(['a0', 'a1', 'a2']);
    });
  });
});

describe('log > replication > high watermark', () => {
  it('persists the high watermark set by replication with the next write, and recovers it', async () => {
    await withStore(async (open) => {
      const first = await open();
      first.log.autoHighWatermark = false;
      await first.log.append(epochBatch(0, 4, 'a'), { nowMs: NOW_MS });
      first.log.setHighWatermark(3);
      await first.log.append(epochBatch(0, 1, 'b'), { nowMs: NOW_MS });
      await first.store.close();
      const { log } = await open();
      expect(log.logEndOffset).toBe(5);
      expect(log.highWatermark).toBe(3);
    });
  });
});
