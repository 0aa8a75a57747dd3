/**
 * The leader's view of its followers: the high watermark as the lowest log end over the ISR, and
 * which followers are caught up or should leave or join the ISR (Kafka's caught-up rule).
 */
import { describe, expect, it } from 'vitest';
import { LeaderState } from './leader-state.js';

const LAG_MS = 10_000;

describe('replication > leader state > high watermark', () => {
  it('is the lowest log end over the ISR, the leader included', () => {
    const state = new LeaderState(1, [1, 2, 3], 0);
    state.recordFetch(2, 7, 10, 100);
    state.recordFetch(3, 9, 10, 100);
    expect(state.highWatermark([1, 2, 3], 10, 0)).toBe(7);
    expect(state.highWatermark([1, 3], 10, 0)).toBe(9);
    expect(state.highWatermark([1], 10, 0)).toBe(10);
  });

  it('holds where it is while an ISR member has not fetched yet, and never moves back', () => {
    const state = new LeaderState(1, [1, 2, 3], 0);
    state.recordFetch(2, 8, 10, 100);
    expect(state.highWatermark([1, 2, 3], 10, 5)).toBe(5);
    state.recordFetch(3, 3, 10, 100);
    expect(state.highWatermark([1, 2, 3], 10, 5)).toBe(5);
  });
});

describe('replication > leader state > ISR changes', () => {
  it('names an ISR member not caught up for longer than the lag limit as one that should leave', () => {
    const state = new LeaderState(1, [1, 2, 3], 0);
    state.recordFetch(2, 10, 10, 5_000);
    state.recordFetch(3, 4, 10, 5_000);
    expect(state.isrChanges([1, 2, 3], 4, 9_000, LAG_MS)).toEqual({ shouldLeave: [], shouldJoin: [] });
    state.recordFetch(2, 10, 10, 12_000);
    state.recordFetch(3, 4, 10, 12_000);
    expect(state.isrChanges([1, 2, 3], 4, 12_000, LAG_MS)).toEqual({ shouldLeave: [3], shouldJoin: [] });
  });

  it('counts a follower that reached the previous fetch-time log end as caught up at that fetch', () => {
    const state = new LeaderState(1, [1, 2], 0);
    state.recordFetch(2, 10, 10, 1_000);
    state.recordFetch(2, 10, 20, 8_000); // the leader moved on; the follower had all of 10 then
    state.recordFetch(2, 20, 30, 15_000);
    expect(state.followers()[0]!.lastCaughtUpMs).toBe(8_000);
    expect(state.isrChanges([1, 2], 20, 15_000, LAG_MS).shouldLeave).toEqual([]);
  });

  it('names a caught-up replica outside the ISR as one that should join', () => {
    const state = new LeaderState(1, [1, 2, 3], 0);
    state.recordFetch(3, 10, 10, 1_000);
    expect(state.isrChanges([1, 2], 10, 1_000, LAG_MS).shouldJoin).toEqual([3]);
    expect(state.isFollower(3)).toBe(true);
    expect(state.isFollower(4)).toBe(false);
  });
});

describe('replication > leader state > replica set changes', () => {
  it('takes a new follower as one that has not fetched yet, and forgets a removed one', () => {
    const state = new LeaderState(1, [1, 2, 3], 0);
    state.recordFetch(2, 10, 10, 100);
    state.setReplicas([1, 2, 4], 200);
    expect(state.isFollower(3)).toBe(false);
    expect(state.isFollower(4)).toBe(true);
    expect(state.followers()).toEqual([
      { replicaId: 2, logEndOffset: 10, lastFetchMs: 100, lastCaughtUpMs: 100 },
      { replicaId: 4, logEndOffset: -1, lastFetchMs: -1, lastCaughtUpMs: 200 },
    ]);
    // Not in the ISR and not caught up yet: it does not join until it has copied up to the high watermark.
    expect(state.isrChanges([1, 2], 10, 300, LAG_MS).shouldJoin).toEqual([]);
    state.recordFetch(4, 10, 10, 400);
    expect(state.isrChanges([1, 2], 10, 400, LAG_MS).shouldJoin).toEqual([4]);
  });
});
