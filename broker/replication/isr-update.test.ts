import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { IsrUpdate, type IsrView } from './isr-update.js';

const view = (over: Partial<IsrView> = {}): IsrView => ({ replicas: [1, 2, 3], isr: [1, 2], leaderEpoch: 4, partitionEpoch: 10, ...over });
const none = { shouldLeave: [], shouldJoin: [] };
const error = (code: ErrorCode): StreamBusError => new StreamBusError(code, 'refused');

function updater(): IsrUpdate {
  return new IsrUpdate({ initialBackoffMs: 100, maxBackoffMs: 400 });
}

describe('replication > ISR updates', () => {
  it('proposes leaves and joins (joins in replica order) based on the metadata it saw, one at a time', () => {
    const isr = updater();
    expect(isr.next(view(), none, 0)).toBeUndefined();
    const proposal = isr.next(view({ isr: [1, 3] }), { shouldLeave: [3], shouldJoin: [2] }, 0);
    expect(proposal).toEqual({ leaderEpoch: 4, partitionEpoch: 10, newIsr: [1, 2] });
    expect(isr.next(view({ isr: [1, 3] }), { shouldLeave: [3], shouldJoin: [2] }, 0)).toBeUndefined();
    expect(isr.pending).toBe(true);
  });

  it('counts the union of the metadata ISR and a pending proposal for the high watermark, then the committed ISR', () => {
    const isr = updater();
    const proposal = isr.next(view(), { shouldLeave: [2], shouldJoin: [3] }, 0)!;
    expect(isr.maximalIsr([1, 2])).toEqual([1, 2, 3]);
    isr.answered(proposal, { error: undefined, isr: [1, 3] }, 5);
    expect(isr.maximalIsr([1, 2])).toEqual([1, 3]);
    // The followed metadata reaches the committed partition epoch: the metadata is the truth again.
    isr.observe(11);
    expect(isr.pending).toBe(false);
    expect(isr.maximalIsr([1, 3])).toEqual([1, 3]);
  });

  it('waits for newer metadata after a failed compare-and-set instead of retrying blindly', () => {
    const isr = updater();
    const proposal = isr.next(view(), { shouldLeave: [2], shouldJoin: [] }, 0)!;
    isr.answered(proposal, { error: error(ErrorCode.INVALID_UPDATE_VERSION), isr: [] }, 1);
    expect(isr.maximalIsr([1, 2])).toEqual([1, 2]);
    expect(isr.next(view(), { shouldLeave: [2], shouldJoin: [] }, 10_000)).toBeUndefined();
    expect(isr.next(view({ partitionEpoch: 11 }), { shouldLeave: [2], shouldJoin: [] }, 10_000)).toEqual({ leaderEpoch: 4, partitionEpoch: 11, newIsr: [1] });
  });

  it('keeps the union and repeats the same request after a backoff when the outcome is unknown', () => {
    const isr = updater();
    const proposal = isr.next(view(), { shouldLeave: [2], shouldJoin: [] }, 0)!;
    isr.answered(proposal, { error: error(ErrorCode.REQUEST_TIMED_OUT), isr: [] }, 0);
    expect(isr.maximalIsr([1, 2])).toEqual([1, 2]);
    expect(isr.next(view(), none, 50)).toBeUndefined();
    expect(isr.next(view(), none, 100)).toBe(proposal);
    // The repeat finds its own earlier attempt committed: still pending until the metadata shows it.
    isr.answered(proposal, { error: error(ErrorCode.INVALID_UPDATE_VERSION), isr: [] }, 100);
    expect(isr.pending).toBe(true);
    isr.observe(11);
    expect(isr.pending).toBe(false);
  });

  it('pauses joins, but not leaves, after INELIGIBLE_REPLICA', () => {
    const isr = updater();
    const proposal = isr.next(view(), { shouldLeave: [], shouldJoin: [3] }, 0)!;
    isr.answered(proposal, { error: error(ErrorCode.INELIGIBLE_REPLICA), isr: [] }, 0);
    expect(isr.pending).toBe(false);
    expect(isr.next(view(), { shouldLeave: [], shouldJoin: [3] }, 50)).toBeUndefined();
    expect(isr.next(view(), { shouldLeave: [2], shouldJoin: [3] }, 50)).toEqual({ leaderEpoch: 4, partitionEpoch: 10, newIsr: [1] });
  });

  it('backs off, doubling up to the limit, after other refusals such as STALE_BROKER_EPOCH, and resets on success', () => {
    const isr = updater();
    const leave = { shouldLeave: [2], shouldJoin: [] };
    const tried: number[] = [];
    for (let at = 0; at <= 1200; at += 10) {
      const proposal = isr.next(view(), leave, at);
      if (proposal === undefined) continue;
      tried.push(at);
      isr.answered(proposal, { error: error(tried.length < 5 ? ErrorCode.STALE_BROKER_EPOCH : ErrorCode.NOT_CONTROLLER), isr: [] }, at);
    }
    expect(tried.slice(0, 5)).toEqual([0, 100, 300, 700, 1100]);
    const success = updater();
    const first = success.next(view(), leave, 0)!;
    success.answered(first, { error: error(ErrorCode.STALE_BROKER_EPOCH), isr: [] }, 0);
    const second = success.next(view(), leave, 100)!;
    success.answered(second, { error: undefined, isr: [1] }, 100);
    success.observe(11);
    const third = success.next(view({ partitionEpoch: 11 }), leave, 100)!;
    success.answered(third, { error: error(ErrorCode.STALE_BROKER_EPOCH), isr: [] }, 100);
    expect(success.next(view({ partitionEpoch: 11 }), leave, 199)).toBeUndefined();
    expect(success.next(view({ partitionEpoch: 11 }), leave, 200)).toBeDefined();
  });
});
