import { describe, expect, it } from 'vitest';
import { CommitTracker, byTopic, diffAssignment, toTopicPartitions } from './commit-tracker.js';

const a0 = { topic: 'a', partition: 0 };
const a1 = { topic: 'a', partition: 1 };
const b0 = { topic: 'b', partition: 0 };

describe('group > commit tracker', () => {
  it('commits the offset after the last processed record, never one only fetched', () => {
    const tracker = new CommitTracker();
    expect(tracker.pending()).toEqual([]);
    tracker.processed(a0, 4);
    tracker.processed(a0, 5);
    expect(tracker.pending()).toEqual([{ ...a0, offset: 6 }]);
  });

  it('does not move a position back when an older record finishes later', () => {
    const tracker = new CommitTracker();
    tracker.processed(a0, 9);
    tracker.processed(a0, 3);
    expect(tracker.position(a0)).toBe(10);
  });

  it('leaves acknowledged positions out of the next commit until they move again', () => {
    const tracker = new CommitTracker();
    tracker.processed(a0, 1);
    tracker.processed(b0, 7);
    tracker.acknowledged(tracker.pending());
    expect(tracker.pending()).toEqual([]);
    tracker.processed(b0, 8);
    expect(tracker.pending()).toEqual([{ ...b0, offset: 9 }]);
  });

  it('returns only the named partitions when asked for some', () => {
    const tracker = new CommitTracker();
    tracker.processed(a0, 1);
    tracker.processed(a1, 2);
    expect(tracker.pending([a1])).toEqual([{ ...a1, offset: 3 }]);
  });

  it('forgets partitions that left the member', () => {
    const tracker = new CommitTracker();
    tracker.processed(a0, 1);
    tracker.forget([a0]);
    expect(tracker.pending()).toEqual([]);
    expect(tracker.position(a0)).toBeUndefined();
  });

  it('treats a reset position as acknowledged only once the group says so', () => {
    const tracker = new CommitTracker();
    tracker.reset(a0, 0);
    expect(tracker.pending()).toEqual([{ ...a0, offset: 0 }]);
    tracker.acknowledged([{ ...a0, offset: 0 }]);
    expect(tracker.pending()).toEqual([]);
  });
});

describe('group > revocation sets', () => {
  it('revokes only the partitions that moved away and adds only the new ones', () => {
    const diff = diffAssignment([a0, a1, b0], [b0, { topic: 'a', partition: 2 }]);
    expect(diff.kept).toEqual([b0]);
    expect(diff.added).toEqual([{ topic: 'a', partition: 2 }]);
    expect(diff.revoked).toEqual([a0, a1]);
  });

  it('revokes nothing when the assignment is unchanged', () => {
    expect(diffAssignment([a1, a0], [a0, a1])).toEqual({ kept: [a0, a1], added: [], revoked: [] });
  });

  it('converts between the assignor map and topic-partition lists in order', () => {
    const list = toTopicPartitions(new Map([['b', [0]], ['a', [1, 0]]]));
    expect(list).toEqual([a0, a1, b0]);
    expect(byTopic([b0, a1, a0])).toEqual([{ topic: 'a', partitions: [0, 1] }, { topic: 'b', partitions: [0] }]);
  });
});
