import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { OffsetCommitEntry } from './group-commands.js';
import { OffsetBatcher } from './offset-batcher.js';

const entry = (group: string, partition: number, offset: number): OffsetCommitEntry => ({ group, topic: 't', partition, offset, leaderEpoch: -1, metadata: '', commitTimeMs: 1 });

/** A batcher whose writes and scheduled flushes the test completes by hand. */
function harness(limits: { maxBatchOffsets?: number; maxBatchBytes?: number; maxQueuedOffsets?: number } = {}) {
  const writes: { offsets: readonly OffsetCommitEntry[]; resolve: () => void; reject: (e: Error) => void }[] = [];
  const scheduled: (() => void)[] = [];
  const batcher = new OffsetBatcher({
    write: (offsets) => new Promise<void>((resolve, reject) => writes.push({ offsets, resolve, reject })),
    schedule: (flush) => scheduled.push(flush),
    maxBatchOffsets: limits.maxBatchOffsets ?? 1_000,
    maxBatchBytes: limits.maxBatchBytes ?? 1_000_000,
    maxQueuedOffsets: limits.maxQueuedOffsets ?? 10_000,
  });
  const runScheduled = (): void => {
    for (const flush of scheduled.splice(0)) flush();
  };
  return { batcher, writes, runScheduled };
}

const settled = async (promise: Promise<unknown>): Promise<string> => {
  let state = 'pending';
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return state;
};

describe('groups > offset batcher', () => {
  it('sends the commits of one loop turn as one entry, and coalesces every commit that arrives while it is in flight into the next', async () => {
    const { batcher, writes, runScheduled } = harness();
    const first = [batcher.commit([entry('a', 0, 1)]), batcher.commit([entry('b', 0, 1), entry('b', 1, 1)])];
    expect(writes).toHaveLength(0);
    runScheduled();
    expect(writes.map((w) => w.offsets.length)).toEqual([3]);
    const later = Array.from({ length: 50 }, (_, i) => batcher.commit([entry(`g${i}`, 0, i)]));
    runScheduled();
    expect(writes).toHaveLength(1);
    expect(await settled(first[0]!)).toBe('pending');
    writes[0]!.resolve();
    await Promise.all(first);
    expect(writes.map((w) => w.offsets.length)).toEqual([3, 50]);
    expect(await settled(later[0]!)).toBe('pending');
    writes[1]!.resolve();
    await Promise.all(later);
    expect(batcher.stats).toEqual({ batches: 2, offsets: 53, commits: 52 });
  });

  it('writes only the latest offset of a partition still queued, and answers both callers when it is applied', async () => {
    const { batcher, writes, runScheduled } = harness();
    const inFlight = batcher.commit([entry('a', 9, 0)]);
    runScheduled();
    const older = batcher.commit([entry('a', 0, 5), entry('a', 1, 5)]);
    const newer = batcher.commit([entry('a', 0, 7)]);
    writes[0]!.resolve();
    await inFlight;
    expect(writes[1]!.offsets.map((o) => [o.partition, o.offset])).toEqual([
      [0, 7],
      [1, 5],
    ]);
    writes[1]!.resolve();
    await Promise.all([older, newer]);
  });

  it('splits a long queue into entries of at most maxBatchOffsets, answering each caller once all its offsets are in', async () => {
    const { batcher, writes, runScheduled } = harness({ maxBatchOffsets: 2 });
    const big = batcher.commit([entry('a', 0, 1), entry('a', 1, 1), entry('a', 2, 1)]);
    runScheduled();
    expect(writes[0]!.offsets).toHaveLength(2);
    writes[0]!.resolve();
    expect(await settled(big)).toBe('pending');
    expect(writes[1]!.offsets).toHaveLength(1);
    writes[1]!.resolve();
    expect(await settled(big)).toBe('resolved');
  });

  it('keeps an entry within maxBatchBytes, sending a single oversized offset alone', async () => {
    const { batcher, writes, runScheduled } = harness({ maxBatchBytes: 1_000 });
    const big = (partition: number): OffsetCommitEntry => ({ ...entry('a', partition, 1), metadata: 'm'.repeat(200) });
    const done = batcher.commit([big(0), big(1), entry('a', 2, 1), { ...entry('a', 3, 1), metadata: 'x'.repeat(2_000) }]);
    runScheduled();
    // Each entry goes out when the previous one is applied.
    for (let i = 0; i < 3; i++) {
      writes[i]!.resolve();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await done;
    expect(writes.map((w) => w.offsets.map((o) => o.partition))).toEqual([[0], [1, 2], [3]]);
  });

  it('fails every waiting commit with the entry\'s error, then carries on with new ones', async () => {
    const { batcher, writes, runScheduled } = harness();
    const a = batcher.commit([entry('a', 0, 1)]);
    runScheduled();
    const b = batcher.commit([entry('b', 0, 1)]);
    writes[0]!.reject(new StreamBusError(ErrorCode.NOT_CONTROLLER, 'lost it'));
    await expect(a).rejects.toMatchObject({ code: ErrorCode.NOT_CONTROLLER });
    await expect(b).rejects.toMatchObject({ code: ErrorCode.NOT_CONTROLLER });
    const c = batcher.commit([entry('c', 0, 1)]);
    runScheduled();
    expect(writes).toHaveLength(2);
    writes[1]!.resolve();
    await c;
  });

  it('refuses commits beyond maxQueuedOffsets with THROTTLING_QUOTA_EXCEEDED, and all of them once stopped', async () => {
    const { batcher, runScheduled } = harness({ maxQueuedOffsets: 3 });
    const kept = batcher.commit([entry('a', 0, 1), entry('a', 1, 1)]);
    await expect(batcher.commit([entry('b', 0, 1), entry('b', 1, 1)])).rejects.toMatchObject({ code: ErrorCode.THROTTLING_QUOTA_EXCEEDED });
    runScheduled();
    batcher.stop(new StreamBusError(ErrorCode.NOT_COORDINATOR, 'stepped down'));
    await expect(kept).rejects.toMatchObject({ code: ErrorCode.NOT_COORDINATOR });
    await expect(batcher.commit([entry('c', 0, 1)])).rejects.toMatchObject({ code: ErrorCode.NOT_COORDINATOR });
    batcher.start();
    expect(batcher.pending).toBe(0);
  });
});
