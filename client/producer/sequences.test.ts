import { describe, expect, it } from 'vitest';
import { MAX_SEQUENCE, SequenceTracker, addSequence, type SequencedBatch } from './sequences.js';

function batch(partition: number, recordCount: number): SequencedBatch {
  return { topic: 't', partition, recordCount, baseSequence: -1, producerId: -1, producerEpoch: -1 };
}

describe('producer > sequences', () => {
  it('wraps a sequence past 2^31-1 to 0', () => {
    expect(addSequence(MAX_SEQUENCE, 1)).toBe(0);
    expect(addSequence(MAX_SEQUENCE - 1, 3)).toBe(1);
    expect(addSequence(5, 10)).toBe(15);
  });

  it('gives each partition its own sequence, counting records, and stamps the current id and epoch', () => {
    const tracker = new SequenceTracker(5);
    tracker.setIdentity({ producerId: 7, producerEpoch: 2 });
    const a = batch(0, 3);
    const b = batch(0, 2);
    const c = batch(1, 4);
    for (const x of [a, b, c]) tracker.send(x);
    expect([a.baseSequence, b.baseSequence, c.baseSequence]).toEqual([0, 3, 0]);
    expect([a.producerId, a.producerEpoch]).toEqual([7, 2]);
  });

  it('keeps the sequence of a batch that is resent under the same epoch', () => {
    const tracker = new SequenceTracker(5);
    tracker.setIdentity({ producerId: 7, producerEpoch: 0 });
    const a = batch(0, 3);
    tracker.send(a);
    tracker.returned(a);
    tracker.send(a);
    expect(a.baseSequence).toBe(0);
    const b = batch(0, 1);
    tracker.send(b);
    expect(b.baseSequence).toBe(3);
  });

  it('lets at most maxInFlight first attempts of a partition leave, and a resend only when none is in flight', () => {
    const tracker = new SequenceTracker(2);
    tracker.setIdentity({ producerId: 1, producerEpoch: 0 });
    const first = batch(0, 1);
    const second = batch(0, 1);
    tracker.send(first);
    tracker.send(second);
    expect(tracker.canSend(batch(0, 1))).toBe(false);
    expect(tracker.canSend(batch(1, 1))).toBe(true);
    tracker.returned(first);
    // `first` failed and waits for a resend: it may not overtake `second`, still in flight.
    expect(tracker.canSend(first)).toBe(false);
    tracker.returned(second);
    expect(tracker.canSend(first)).toBe(true);
  });

  it('knows the first unacknowledged batch of a partition', () => {
    const tracker = new SequenceTracker(5);
    tracker.setIdentity({ producerId: 1, producerEpoch: 0 });
    const a = batch(0, 2);
    const b = batch(0, 2);
    tracker.send(a);
    tracker.send(b);
    expect(tracker.isFirstUnacknowledged(a)).toBe(true);
    expect(tracker.isFirstUnacknowledged(b)).toBe(false);
    tracker.acknowledged(a);
    expect(tracker.isFirstUnacknowledged(b)).toBe(true);
  });

  it('starts every partition again at 0 after an epoch bump and restamps batches from the old epoch', () => {
    const tracker = new SequenceTracker(5);
    tracker.setIdentity({ producerId: 1, producerEpoch: 0 });
    const a = batch(0, 4);
    const b = batch(0, 1);
    tracker.send(a);
    tracker.send(b);
    tracker.acknowledged(a);
    tracker.returned(a);
    tracker.returned(b);
    tracker.setIdentity({ producerId: 1, producerEpoch: 1 });
    tracker.send(b);
    expect([b.baseSequence, b.producerEpoch]).toEqual([0, 1]);
    expect(tracker.isFirstUnacknowledged(b)).toBe(true);
  });

  it('refuses to stamp before a producer id is known', () => {
    expect(() => new SequenceTracker(5).send(batch(0, 1))).toThrow(/before a producer id/);
  });
});
