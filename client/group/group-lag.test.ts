import { describe, expect, it } from 'vitest';
import { groupLagSummary, partitionLag } from './group-lag.js';

describe('group > lag', () => {
  it('counts the records between the committed offset and the end, and the age of the first of them', () => {
    const lag = partitionLag({ topic: 't', partition: 0, committed: 40, start: 0, end: 100, oldestUnconsumedTimestampMs: 7_000 }, 10_000);
    expect(lag).toEqual({ topic: 't', partition: 0, committed: 40, end: 100, lag: 60, lagSeconds: 3 });
  });

  it('reports zero seconds when nothing is unconsumed, whatever the timestamp', () => {
    expect(partitionLag({ topic: 't', partition: 0, committed: 100, start: 0, end: 100, oldestUnconsumedTimestampMs: 1 }, 10_000).lagSeconds).toBe(0);
  });

  it('counts a partition without a committed offset from the log start', () => {
    expect(partitionLag({ topic: 't', partition: 1, committed: -1, start: 30, end: 50 }, 0).lag).toBe(20);
  });

  it('leaves the seconds unknown when the oldest record could not be read', () => {
    expect(partitionLag({ topic: 't', partition: 1, committed: 0, start: 0, end: 5 }, 0).lagSeconds).toBeUndefined();
  });

  it('never reports negative lag for a committed offset past the end', () => {
    expect(partitionLag({ topic: 't', partition: 0, committed: 9, start: 0, end: 5 }, 0).lag).toBe(0);
  });

  it('sums offsets and takes the largest age over a group', () => {
    const a = partitionLag({ topic: 't', partition: 0, committed: 0, start: 0, end: 5, oldestUnconsumedTimestampMs: 0 }, 4_000);
    const b = partitionLag({ topic: 't', partition: 1, committed: 0, start: 0, end: 7 }, 4_000);
    expect(groupLagSummary([a, b])).toEqual({ lag: 12, maxLagSeconds: 4 });
  });
});
