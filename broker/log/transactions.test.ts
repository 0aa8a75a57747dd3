import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogStore } from './log-store.js';
import type { PartitionLog } from './partition-log.js';
import { NOW_MS, batch, decode, errorName, logConfig, openStore, tempDir, values, type BatchSpec } from './fixtures/log-fixtures.js';

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

/** A batch of `count` records from producer `producerId` starting at sequence `seq`. */
function seqBatch(producerId: number, seq: number, count = 1, more: Omit<BatchSpec, 'records' | 'producerId' | 'baseSequence'> = {}): Buffer {
  return batch(values(count, `p${producerId}-s${seq}-`), { producerId, baseSequence: seq, ...more });
}

function append(log: PartitionLog, bytes: Buffer): ReturnType<PartitionLog['append']> {
  return log.append(bytes, { nowMs: NOW_MS });
}

function marker(log: PartitionLog, producerId: number, committed: boolean, coordinatorEpoch = 0, producerEpoch = 0): ReturnType<PartitionLog['appendMarker']> {
  return log.appendMarker({ producerId, producerEpoch, committed, coordinatorEpoch }, { nowMs: NOW_MS, leaderEpoch: 0 });
}

async function reopen(): Promise<PartitionLog> {
  await store.close();
  store = await openStore(dir);
  return store.openPartition('t', 0, logConfig());
}

describe('log > idempotent append', () => {
  it('answers an exact retry of each of the last five batches with its original offsets and writes nothing', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    const first: number[] = [];
    for (let i = 0; i < 6; i++) first.push((await append(log, seqBatch(1, i * 2, 2))).baseOffset);
    const end = log.logEndOffset;
    for (let i = 1; i < 6; i++) {
      const retry = await append(log, seqBatch(1, i * 2, 2));
      expect([retry.baseOffset, retry.lastOffset]).toEqual([first[i], first[i]! + 1]);
    }
    expect(log.logEndOffset).toBe(end);
    expect(decode((await log.read(0, 1 << 20)).records)).toHaveLength(12);
  });

  it('refuses an older retry, a gap and an old epoch with their typed errors, writing nothing', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    await append(log, seqBatch(1, 0, 1, { producerEpoch: 2 }));
    for (let i = 1; i < 7; i++) await append(log, seqBatch(1, i, 1, { producerEpoch: 2 }));
    const end = log.logEndOffset;
    expect(await errorName(append(log, seqBatch(1, 0, 1, { producerEpoch: 2 })))).toBe('DUPLICATE_SEQUENCE_NUMBER');
    expect(await errorName(append(log, seqBatch(1, 9, 1, { producerEpoch: 2 })))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(await errorName(append(log, seqBatch(1, 7, 1, { producerEpoch: 1 })))).toBe('INVALID_PRODUCER_EPOCH');
    expect(await errorName(append(log, seqBatch(1, 7, 1, { producerEpoch: 1, isTransactional: true })))).toBe('PRODUCER_FENCED');
    expect(await errorName(append(log, seqBatch(2, 3)))).toBe('UNKNOWN_PRODUCER_ID');
    expect(log.logEndOffset).toBe(end);
  });

  it('writes none of an append whose second batch fails its check', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    await append(log, seqBatch(1, 0));
    expect(await errorName(append(log, Buffer.concat([seqBatch(1, 1), seqBatch(1, 5)])))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(log.logEndOffset).toBe(1);
    expect((await append(log, seqBatch(1, 1))).baseOffset).toBe(1);
  });

  it('keeps the producer state across a restart of the store', async () => {
    let log = await store.openPartition('t', 0, logConfig());
    await append(log, seqBatch(1, 0, 3));
    await append(log, seqBatch(1, 3, 2));
    log = await reopen();
    expect((await append(log, seqBatch(1, 3, 2))).baseOffset).toBe(3);
    expect(await errorName(append(log, seqBatch(1, 6)))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect((await append(log, seqBatch(1, 5))).baseOffset).toBe(5);
    expect(log.producers().map((p) => [p.producerId, p.batches.at(-1)?.lastSequence])).toEqual([[1, 5]]);
  });

  it('forgets a producer idle longer than the expiration unless its transaction is open', async () => {
    await store.close();
    store = await openStore(dir, 'group', { producerExpirationMs: 1_000 });
    const log = await store.openPartition('t', 0, logConfig());
    await append(log, seqBatch(1, 0));
    await append(log, seqBatch(2, 0, 1, { isTransactional: true }));
    await store.runMaintenance(NOW_MS + 5_000);
    expect(log.producers().map((p) => p.producerId)).toEqual([2]);
    const reopened = await reopen();
    expect(reopened.producers().map((p) => p.producerId)).toEqual([2]);
  });
});

describe('log > transactions', () => {
  it('holds the last stable offset at an open transaction and moves it once the marker is written', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    await append(log, seqBatch(9, 0));
    await append(log, seqBatch(1, 0, 2, { isTransactional: true }));
    await append(log, seqBatch(9, 1));
    expect([log.highWatermark, log.lastStableOffset]).toEqual([4, 1]);
    const written = await marker(log, 1, true, 3);
    expect(written.baseOffset).toBe(4);
    expect([log.highWatermark, log.lastStableOffset]).toEqual([5, 5]);
    expect(log.abortedTransactions(0, 5)).toEqual([]);
    expect(log.producers().find((p) => p.producerId === 1)).toMatchObject({ coordinatorEpoch: 3, txnFirstOffset: -1 });
  });

  it('indexes an aborted transaction and keeps the index and the open transactions across a restart', async () => {
    let log = await store.openPartition('t', 0, logConfig());
    await append(log, seqBatch(1, 0, 2, { isTransactional: true }));
    await marker(log, 1, false);
    await append(log, seqBatch(1, 2, 1, { isTransactional: true }));
    expect(log.abortedTransactions(0, 10)).toEqual([{ producerId: 1, firstOffset: 0, lastOffset: 2 }]);
    expect(log.lastStableOffset).toBe(3);
    log = await reopen();
    expect(log.abortedTransactions(0, 10)).toEqual([{ producerId: 1, firstOffset: 0, lastOffset: 2 }]);
    expect(log.lastStableOffset).toBe(3);
    expect((await append(log, seqBatch(1, 2, 1, { isTransactional: true }))).baseOffset).toBe(3);
  });

  it('refuses a marker from an older coordinator epoch or for an older producer epoch, and one without a producer id, writing nothing', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    await append(log, seqBatch(1, 0, 1, { isTransactional: true, producerEpoch: 4 }));
    await marker(log, 1, true, 7, 4);
    const end = log.logEndOffset;
    expect(await errorName(marker(log, 1, false, 6, 4))).toBe('TRANSACTION_COORDINATOR_FENCED');
    expect(await errorName(marker(log, 1, false, 7, 3))).toBe('INVALID_PRODUCER_EPOCH');
    expect(await errorName(marker(log, -1, false, 7, 4))).toBe('INVALID_REQUEST');
    expect(log.logEndOffset).toBe(end);
  });

  it('drops aborted transactions that retention deleted', async () => {
    const log = await store.openPartition('t', 0, logConfig());
    await append(log, seqBatch(1, 0, 1, { isTransactional: true }));
    await marker(log, 1, false);
    await append(log, seqBatch(2, 0));
    await log.deleteRecords(2);
    await store.runMaintenance(NOW_MS);
    expect(log.abortedTransactions(0, 10)).toEqual([]);
    expect((await reopen()).abortedTransactions(0, 10)).toEqual([]);
  });
});

describe('log > producer state on a follower', () => {
  it('matches the leader\'s after appendReplicated, and is rebuilt when truncation removes a marker', async () => {
    const leader = await store.openPartition('t', 0, logConfig());
    const follower = await store.openPartition('t', 1, logConfig());
    await append(leader, seqBatch(1, 0, 2, { isTransactional: true }));
    await append(leader, seqBatch(2, 0));
    await marker(leader, 1, false, 2);
    await append(leader, seqBatch(2, 1));
    await follower.appendReplicated((await leader.read(0, 1 << 20)).records);
    expect(follower.producers()).toEqual(leader.producers());
    expect(follower.abortedTransactions(0, 10)).toEqual(leader.abortedTransactions(0, 10));

    // The marker (offset 3) and what follows go: the transaction is open again, producer 2 back at sequence 0.
    expect(await follower.truncateTo(3)).toBe(3);
    expect(follower.abortedTransactions(0, 10)).toEqual([]);
    expect(follower.lastStableOffset).toBe(0);
    const p1 = follower.producers().find((p) => p.producerId === 1);
    const p2 = follower.producers().find((p) => p.producerId === 2);
    expect(p1).toMatchObject({ txnFirstOffset: 0, lastOffset: 1, coordinatorEpoch: -1 });
    expect(p2?.batches).toEqual([{ firstSequence: 0, lastSequence: 0, firstOffset: 2, lastOffset: 2 }]);
    await store.close();
    store = await openStore(dir);
    const reopened = await store.openPartition('t', 1, logConfig());
    expect(reopened.producers()).toEqual(follower.producers());
    expect(reopened.lastStableOffset).toBe(0);
  });
});
