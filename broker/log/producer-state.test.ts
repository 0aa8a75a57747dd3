import { describe, expect, it } from 'vitest';
import { StreamBusError, type ErrorName } from '../../proto/errors.js';
import { ProducerState, lastSequenceOf, type ProducerBatch } from './producer-state.js';

/** A data batch of `records` records from sequence `seq`, to be written at `offset`. */
function data(producerId: number, epoch: number, seq: number, offset: number, records = 1, more: Partial<ProducerBatch> = {}): ProducerBatch {
  return {
    producerId,
    producerEpoch: epoch,
    baseSequence: seq,
    lastOffsetDelta: records - 1,
    isTransactional: false,
    isControl: false,
    maxTimestamp: 1_000,
    baseOffset: offset,
    lastOffset: offset + records - 1,
    ...more,
  };
}

function marker(producerId: number, epoch: number, offset: number): ProducerBatch {
  return { ...data(producerId, epoch, -1, offset), isControl: true, isTransactional: true };
}

function refusal(run: () => unknown): ErrorName | 'passed' {
  try {
    run();
    return 'passed';
  } catch (error) {
    if (error instanceof StreamBusError) return error.codeName;
    throw error;
  }
}

/** Checks then applies, as the leader does; returns the check's answer. */
function write(state: ProducerState, batch: ProducerBatch): ReturnType<ProducerState['check']> {
  const answer = state.check(batch);
  if (answer.kind === 'append') state.apply(batch);
  return answer;
}

describe('producer state > sequence checks', () => {
  it('answers a retry of each of the last five batches with its original offsets', () => {
    const state = new ProducerState();
    for (let i = 0; i < 6; i++) expect(write(state, data(1, 0, i * 2, 100 + i * 2, 2))).toEqual({ kind: 'append' });
    for (let i = 1; i < 6; i++) {
      expect(state.check(data(1, 0, i * 2, 999, 2))).toEqual({ kind: 'duplicate', firstOffset: 100 + i * 2, lastOffset: 101 + i * 2 });
    }
  });

  it('refuses a retry older than the last five batches with DUPLICATE_SEQUENCE_NUMBER', () => {
    const state = new ProducerState();
    for (let i = 0; i < 6; i++) write(state, data(1, 0, i, i));
    expect(refusal(() => state.check(data(1, 0, 0, 99)))).toBe('DUPLICATE_SEQUENCE_NUMBER');
  });

  it('refuses a gap with OUT_OF_ORDER_SEQUENCE_NUMBER, and a batch overlapping the last one too', () => {
    const state = new ProducerState();
    write(state, data(1, 0, 0, 0, 3));
    expect(refusal(() => state.check(data(1, 0, 4, 3)))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(refusal(() => state.check(data(1, 0, 2, 3, 2)))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(state.check(data(1, 0, 3, 3))).toEqual({ kind: 'append' });
  });

  it('refuses an older epoch: INVALID_PRODUCER_EPOCH, or PRODUCER_FENCED for a transactional batch', () => {
    const state = new ProducerState();
    write(state, data(1, 3, 0, 0));
    expect(refusal(() => state.check(data(1, 2, 1, 1)))).toBe('INVALID_PRODUCER_EPOCH');
    expect(refusal(() => state.check(data(1, 2, 1, 1, 1, { isTransactional: true })))).toBe('PRODUCER_FENCED');
  });

  it('requires a new epoch to start at sequence 0 and forgets the old epoch\'s sequences', () => {
    const state = new ProducerState();
    write(state, data(1, 0, 0, 0, 5));
    expect(refusal(() => state.check(data(1, 1, 5, 5)))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(write(state, data(1, 1, 0, 5))).toEqual({ kind: 'append' });
    expect(state.get(1)?.batches).toEqual([{ firstSequence: 0, lastSequence: 0, firstOffset: 5, lastOffset: 5 }]);
  });

  it('answers an unknown producer with a sequence other than 0 with UNKNOWN_PRODUCER_ID', () => {
    expect(refusal(() => new ProducerState().check(data(9, 0, 7, 0)))).toBe('UNKNOWN_PRODUCER_ID');
  });

  it('wraps sequences at 2^31-1 to 0', () => {
    const state = new ProducerState();
    state.apply(data(1, 0, 0x7fff_fffe, 0, 2));
    expect(lastSequenceOf(0x7fff_fffe, 1)).toBe(0x7fff_ffff);
    expect(lastSequenceOf(0x7fff_ffff, 2)).toBe(1);
    expect(state.check(data(1, 0, 0, 2))).toEqual({ kind: 'append' });
    expect(refusal(() => state.check(data(1, 0, 1, 2)))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
  });

  it('refuses a transactional batch without a producer id and a plain batch inside an open transaction', () => {
    const state = new ProducerState();
    expect(refusal(() => state.check(data(-1, -1, -1, 0, 1, { isTransactional: true })))).toBe('INVALID_RECORD');
    write(state, data(1, 0, 0, 0, 1, { isTransactional: true }));
    expect(refusal(() => state.check(data(1, 0, 1, 1)))).toBe('INVALID_TXN_STATE');
  });
});

describe('producer state > transactions', () => {
  it('holds the last stable offset at the first offset of an open transaction until its marker is below the high watermark', () => {
    const state = new ProducerState();
    write(state, data(1, 0, 0, 10, 2, { isTransactional: true }));
    write(state, data(2, 0, 0, 12, 1));
    expect(state.lastStableOffset(13)).toBe(10);
    state.apply(marker(1, 0, 13), { committed: true, coordinatorEpoch: 4 });
    expect(state.lastStableOffset(13)).toBe(10);
    expect(state.lastStableOffset(14)).toBe(14);
    expect(state.get(1)?.coordinatorEpoch).toBe(4);
    expect(state.aborted).toEqual([]);
  });

  it('records an aborted transaction and lists it for the ranges it overlaps', () => {
    const state = new ProducerState();
    write(state, data(1, 0, 0, 10, 2, { isTransactional: true }));
    state.apply(marker(1, 0, 12), { committed: false, coordinatorEpoch: 0 });
    expect(state.aborted).toEqual([{ producerId: 1, firstOffset: 10, lastOffset: 12 }]);
    expect(state.abortedIn(0, 10)).toEqual([]);
    expect(state.abortedIn(0, 11)).toHaveLength(1);
    expect(state.abortedIn(12, 20)).toHaveLength(1);
    expect(state.abortedIn(13, 20)).toEqual([]);
    expect(state.trimAborted(13)).toHaveLength(1);
    expect(state.aborted).toEqual([]);
  });

  it('refuses a marker from an older coordinator epoch or for an older producer epoch', () => {
    const state = new ProducerState();
    write(state, data(1, 2, 0, 0, 1, { isTransactional: true }));
    state.apply(marker(1, 2, 1), { committed: true, coordinatorEpoch: 5 });
    expect(refusal(() => state.checkMarker(1, 2, 4))).toBe('TRANSACTION_COORDINATOR_FENCED');
    expect(refusal(() => state.checkMarker(1, 1, 5))).toBe('INVALID_PRODUCER_EPOCH');
    expect(refusal(() => state.checkMarker(1, 3, 6))).toBe('passed');
  });

  it('expires idle producers, but never one with an open transaction', () => {
    const state = new ProducerState();
    write(state, data(1, 0, 0, 0, 1, { maxTimestamp: 1_000 }));
    write(state, data(2, 0, 0, 1, 1, { maxTimestamp: 1_000, isTransactional: true }));
    write(state, data(3, 0, 0, 2, 1, { maxTimestamp: 9_000 }));
    expect(state.expire(10_000, 5_000)).toEqual([1]);
    expect([...state.entries()].map((e) => e.producerId).sort()).toEqual([2, 3]);
  });

  it('leaves the state untouched when a fork is not adopted', () => {
    const state = new ProducerState();
    write(state, data(1, 0, 0, 0));
    const fork = state.fork([1]);
    fork.apply(data(1, 0, 1, 1));
    expect(state.get(1)?.batches).toHaveLength(1);
    state.adopt(fork);
    expect(state.get(1)?.batches).toHaveLength(2);
  });
});
