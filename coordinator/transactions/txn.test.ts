import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import {
  addOffsets,
  addPartitions,
  commitTxnOffsets,
  completed,
  endTransaction,
  expired,
  fenceAndAbort,
  initTransactional,
  timedOut,
  type TxnStep,
} from './txn.js';
import { EXHAUSTED_PRODUCER_EPOCH, type TransactionImage, TxnState } from './txn-types.js';

const T0 = 1_000_000;
const ids = (...list: number[]): (() => number | undefined) => () => list.shift();
const fresh = (init = { transactionalId: 'tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }): TransactionImage => stored(initTransactional(undefined, init, T0, ids(7)));

function stored(step: TxnStep): TransactionImage {
  if (step.kind !== 'store') throw new Error(`expected a store, got ${JSON.stringify(step)}`);
  return step.image;
}

function refused(step: TxnStep): ErrorCode {
  if (step.kind !== 'refuse') throw new Error(`expected a refusal, got ${JSON.stringify(step)}`);
  return step.error;
}

const caller = (image: TransactionImage, over: Partial<{ producerId: number; producerEpoch: number }> = {}): { transactionalId: string; producerId: number; producerEpoch: number } => ({
  transactionalId: image.transactionalId,
  producerId: image.producerId,
  producerEpoch: image.producerEpoch,
  ...over,
});

const ongoing = (): TransactionImage => {
  const empty = fresh();
  return stored(addPartitions(empty, caller(empty), [{ topic: 'orders', partitions: [1, 0] }], T0 + 10));
};

describe('transactions > init', () => {
  it('binds a new transactional id to a fresh producer id at epoch 0, Empty', () => {
    const image = fresh();
    expect(image).toMatchObject({ transactionalId: 'tx', producerId: 7, producerEpoch: 0, lastProducerEpoch: -1, state: TxnState.EMPTY, timeoutMs: 60_000, startTimeMs: -1, updateTimeMs: T0 });
  });

  it('asks for a block of producer ids when the leader has none left', () => {
    expect(initTransactional(undefined, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 }, T0, ids())).toEqual({ kind: 'needs-producer-id' });
  });

  it('bumps the epoch of a known id, which fences the previous instance, and keeps the producer id', () => {
    const first = fresh();
    const second = stored(initTransactional(first, { transactionalId: 'tx', transactionTimeoutMs: 5000, producerId: -1, producerEpoch: -1 }, T0 + 1, ids(99)));
    expect(second).toMatchObject({ producerId: 7, producerEpoch: 1, lastProducerEpoch: 0, timeoutMs: 5000, state: TxnState.EMPTY });
    expect(refused(addPartitions(second, caller(first), [{ topic: 'a', partitions: [0] }], T0 + 2))).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('moves an exhausted epoch to a fresh producer id at epoch 0', () => {
    const worn = { ...fresh(), producerEpoch: EXHAUSTED_PRODUCER_EPOCH };
    expect(stored(initTransactional(worn, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 }, T0, ids(8)))).toMatchObject({ producerId: 8, producerEpoch: 0 });
  });

  it('aborts an open transaction first with a bumped epoch and answers CONCURRENT_TRANSACTIONS', () => {
    const open = ongoing();
    const step = initTransactional(open, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 }, T0 + 5, ids());
    expect(step).toMatchObject({ kind: 'store', error: ErrorCode.CONCURRENT_TRANSACTIONS, image: { state: TxnState.PREPARE_ABORT, producerEpoch: 1, lastProducerEpoch: -1 } });
    expect(stored(step).topics).toEqual([{ topic: 'orders', partitions: [0, 1] }]);
  });

  it('answers CONCURRENT_TRANSACTIONS while a transaction completes', () => {
    const open = ongoing();
    const prepared = stored(endTransaction(open, caller(open), true, T0 + 20));
    expect(refused(initTransactional(prepared, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 }, T0, ids()))).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
  });

  it('bumps on a KIP-360 request naming the current producer and epoch, and answers a retry of it unchanged', () => {
    const image = fresh();
    const bumped = stored(initTransactional(image, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: 7, producerEpoch: 0 }, T0, ids()));
    expect(bumped).toMatchObject({ producerId: 7, producerEpoch: 1, lastProducerEpoch: 0 });
    expect(initTransactional(bumped, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: 7, producerEpoch: 0 }, T0, ids())).toEqual({ kind: 'keep', image: bumped });
  });

  it('refuses a KIP-360 request for another producer id (INVALID_PRODUCER_ID_MAPPING) or an old epoch (PRODUCER_FENCED)', () => {
    const image = { ...fresh(), producerEpoch: 5, lastProducerEpoch: 4 };
    expect(refused(initTransactional(image, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: 8, producerEpoch: 5 }, T0, ids()))).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect(refused(initTransactional(image, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: 7, producerEpoch: 3 }, T0, ids()))).toBe(ErrorCode.PRODUCER_FENCED);
    expect(refused(initTransactional(undefined, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: 7, producerEpoch: 0 }, T0, ids(1)))).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });

  it('does not let the instance fenced by a timeout recover with its old epoch', () => {
    const fenced = completed(fenceAndAbort(ongoing(), T0 + 100), T0 + 200).image;
    expect(fenced.producerEpoch).toBe(1);
    expect(refused(initTransactional(fenced, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: 7, producerEpoch: 0 }, T0, ids()))).toBe(ErrorCode.PRODUCER_FENCED);
  });
});

describe('transactions > add partitions and offsets', () => {
  it('opens a transaction on the first partition, starting its clock, and merges later partitions', () => {
    const open = ongoing();
    expect(open).toMatchObject({ state: TxnState.ONGOING, startTimeMs: T0 + 10, topics: [{ topic: 'orders', partitions: [0, 1] }] });
    const more = stored(addPartitions(open, caller(open), [{ topic: 'audit', partitions: [2] }, { topic: 'orders', partitions: [3, 1] }], T0 + 30));
    expect(more.topics).toEqual([{ topic: 'audit', partitions: [2] }, { topic: 'orders', partitions: [0, 1, 3] }]);
    expect(more.startTimeMs).toBe(T0 + 10);
  });

  it('writes nothing when every partition is in already', () => {
    const open = ongoing();
    expect(addPartitions(open, caller(open), [{ topic: 'orders', partitions: [0] }], T0 + 30)).toEqual({ kind: 'keep', image: open });
  });

  it('refuses an unknown id or another producer id with INVALID_PRODUCER_ID_MAPPING, an old epoch with PRODUCER_FENCED', () => {
    const open = ongoing();
    expect(refused(addPartitions(undefined, caller(open), [], T0))).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect(refused(addPartitions(open, caller(open, { producerId: 8 }), [], T0))).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect(refused(addPartitions(open, caller(open, { producerEpoch: 3 }), [], T0))).toBe(ErrorCode.PRODUCER_FENCED);
    expect(refused(addOffsets(open, caller(open, { producerEpoch: 3 }), 'g', T0))).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('answers CONCURRENT_TRANSACTIONS while the previous transaction completes', () => {
    const open = ongoing();
    const prepared = stored(endTransaction(open, caller(open), false, T0));
    expect(refused(addPartitions(prepared, caller(prepared), [{ topic: 'a', partitions: [0] }], T0))).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    expect(refused(addOffsets(prepared, caller(prepared), 'g', T0))).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
  });

  it('starts a new transaction after a completed one, holding nothing from it', () => {
    const done = completed(stored(endTransaction(ongoing(), caller(ongoing()), true, T0 + 50)), T0 + 60).image;
    const next = stored(addOffsets(done, caller(done), 'billing', T0 + 70));
    expect(next).toMatchObject({ state: TxnState.ONGOING, startTimeMs: T0 + 70, topics: [], groups: ['billing'], pendingOffsets: [] });
  });
});

describe('transactions > offsets', () => {
  const offset = { group: 'billing', topic: 'orders', partition: 0, offset: 42, leaderEpoch: 3, metadata: '' };

  it('keeps offsets pending in the transaction, a later one for a partition replacing the earlier', () => {
    const open = ongoing();
    const withGroup = stored(addOffsets(open, caller(open), 'billing', T0 + 20));
    const once = stored(commitTxnOffsets(withGroup, caller(withGroup), [offset], T0 + 30));
    const twice = stored(commitTxnOffsets(once, caller(once), [{ ...offset, offset: 50 }, { ...offset, partition: 1, offset: 7 }], T0 + 40));
    expect(twice.pendingOffsets.map((o) => [o.partition, o.offset])).toEqual([
      [0, 50],
      [1, 7],
    ]);
  });

  it('refuses offsets of a group not added to the transaction, or outside an open one, with INVALID_TXN_STATE', () => {
    const open = ongoing();
    expect(refused(commitTxnOffsets(open, caller(open), [offset], T0))).toBe(ErrorCode.INVALID_TXN_STATE);
    const empty = fresh();
    expect(refused(commitTxnOffsets(empty, caller(empty), [offset], T0))).toBe(ErrorCode.INVALID_TXN_STATE);
  });

  it('publishes the pending offsets on commit and discards them on abort', () => {
    const withGroup = stored(addOffsets(ongoing(), caller(ongoing()), 'billing', T0 + 20));
    const pending = stored(commitTxnOffsets(withGroup, caller(withGroup), [offset], T0 + 30));
    const commit = completed(stored(endTransaction(pending, caller(pending), true, T0 + 40)), T0 + 50);
    expect(commit.offsets).toEqual([offset]);
    expect(commit.image).toMatchObject({ state: TxnState.COMPLETE_COMMIT, startTimeMs: -1, topics: [], groups: [], pendingOffsets: [] });
    const abort = completed(stored(endTransaction(pending, caller(pending), false, T0 + 40)), T0 + 50);
    expect(abort.offsets).toEqual([]);
    expect(abort.image.state).toBe(TxnState.COMPLETE_ABORT);
  });
});

describe('transactions > end', () => {
  it('moves Ongoing to PrepareCommit or PrepareAbort', () => {
    const open = ongoing();
    expect(stored(endTransaction(open, caller(open), true, T0)).state).toBe(TxnState.PREPARE_COMMIT);
    expect(stored(endTransaction(open, caller(open), false, T0)).state).toBe(TxnState.PREPARE_ABORT);
  });

  it('answers a retry CONCURRENT_TRANSACTIONS while completing and NONE once complete; the opposite outcome INVALID_TXN_STATE', () => {
    const open = ongoing();
    const commit = stored(endTransaction(open, caller(open), true, T0));
    expect(refused(endTransaction(commit, caller(commit), true, T0))).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    expect(refused(endTransaction(commit, caller(commit), false, T0))).toBe(ErrorCode.INVALID_TXN_STATE);
    const committed = completed(commit, T0).image;
    expect(endTransaction(committed, caller(committed), true, T0).kind).toBe('keep');
    expect(refused(endTransaction(committed, caller(committed), false, T0))).toBe(ErrorCode.INVALID_TXN_STATE);
    const abort = stored(endTransaction(open, caller(open), false, T0));
    expect(refused(endTransaction(abort, caller(abort), false, T0))).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    expect(refused(endTransaction(abort, caller(abort), true, T0))).toBe(ErrorCode.INVALID_TXN_STATE);
    const aborted = completed(abort, T0).image;
    expect(endTransaction(aborted, caller(aborted), false, T0).kind).toBe('keep');
    expect(refused(endTransaction(aborted, caller(aborted), true, T0))).toBe(ErrorCode.INVALID_TXN_STATE);
  });

  it('refuses an end without a transaction (INVALID_TXN_STATE), for an unknown producer (INVALID_PRODUCER_ID_MAPPING) or an old epoch (PRODUCER_FENCED)', () => {
    const empty = fresh();
    expect(refused(endTransaction(empty, caller(empty), true, T0))).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(refused(endTransaction(undefined, caller(empty), true, T0))).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    const open = ongoing();
    expect(refused(endTransaction(open, caller(open, { producerEpoch: 9 }), true, T0))).toBe(ErrorCode.PRODUCER_FENCED);
  });
});

describe('transactions > timeouts and expiry', () => {
  it('times out an Ongoing transaction at its start plus its timeout, not before', () => {
    const open = ongoing();
    expect(timedOut(open, open.startTimeMs + open.timeoutMs - 1)).toBe(false);
    expect(timedOut(open, open.startTimeMs + open.timeoutMs)).toBe(true);
    expect(timedOut(fresh(), T0 + 10 ** 9)).toBe(false);
  });

  it('aborts a timed-out transaction with a bumped epoch, so its producer is fenced', () => {
    const open = ongoing();
    const aborted = fenceAndAbort(open, T0 + 70_000);
    expect(aborted).toMatchObject({ state: TxnState.PREPARE_ABORT, producerEpoch: open.producerEpoch + 1, lastProducerEpoch: -1 });
    expect(refused(endTransaction(aborted, caller(open), true, T0))).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('expires an idle id after the expiration, never one with an open transaction', () => {
    const idle = fresh();
    expect(expired(idle, T0 + 999, 1000)).toBe(false);
    expect(expired(idle, T0 + 1000, 1000)).toBe(true);
    expect(expired(ongoing(), T0 + 10 ** 9, 1000)).toBe(false);
  });
});
