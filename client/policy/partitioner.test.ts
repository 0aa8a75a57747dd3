import { describe, expect, it } from 'vitest';
import { partitionForKey } from './murmur2.js';
import { Partitioner } from './partitioner.js';
import { seededRandom } from './random.js';

const key = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('policy > partitioner > choices', () => {
  it('uses an explicit partition over the key', () => {
    const partitioner = new Partitioner(seededRandom(1));
    expect(partitioner.choose({ topic: 't', key: key('foobar'), partition: 3 }, 8)).toBe(3);
  });

  it('places a keyed record by murmur2 over all partitions, even leaderless ones', () => {
    const partitioner = new Partitioner(seededRandom(1));
    const expected = partitionForKey(key('foobar'), 8);
    // Only partition 0 has a leader, but a key must still map where a Kafka client would put it.
    expect(partitioner.choose({ topic: 't', key: key('foobar') }, 8, [0])).toBe(expected);
  });

  it('treats a null key as unkeyed', () => {
    const partitioner = new Partitioner(seededRandom(1));
    const first = partitioner.choose({ topic: 't', key: null }, 8);
    expect(partitioner.choose({ topic: 't' }, 8)).toBe(first);
  });
});

describe('policy > partitioner > sticky', () => {
  it('keeps unkeyed records on one partition until its batch closes', () => {
    const partitioner = new Partitioner(seededRandom(7));
    const first = partitioner.choose({ topic: 't' }, 6);
    for (let i = 0; i < 100; i++) expect(partitioner.choose({ topic: 't' }, 6)).toBe(first);
  });

  it('switches to a different partition when the sticky batch closes', () => {
    const partitioner = new Partitioner(seededRandom(7));
    let current = partitioner.choose({ topic: 't' }, 6);
    for (let i = 0; i < 50; i++) {
      partitioner.onBatchClosed('t', current, 6);
      const next = partitioner.choose({ topic: 't' }, 6);
      expect(next).not.toBe(current);
      current = next;
    }
  });

  it('does not move when some other partition\'s batch closes', () => {
    const partitioner = new Partitioner(seededRandom(7));
    const sticky = partitioner.choose({ topic: 't' }, 6);
    partitioner.onBatchClosed('t', (sticky + 1) % 6, 6);
    expect(partitioner.choose({ topic: 't' }, 6)).toBe(sticky);
  });

  it('draws only among partitions that have a leader', () => {
    const partitioner = new Partitioner(seededRandom(3));
    const available = [1, 4];
    let current = partitioner.choose({ topic: 't' }, 6, available);
    const seen = new Set<number>([current]);
    for (let i = 0; i < 20; i++) {
      partitioner.onBatchClosed('t', current, 6, available);
      current = partitioner.choose({ topic: 't' }, 6, available);
      seen.add(current);
    }
    expect([...seen].sort()).toEqual([1, 4]);
  });

  it('stays on the only available partition', () => {
    const partitioner = new Partitioner(seededRandom(3));
    expect(partitioner.choose({ topic: 't' }, 6, [2])).toBe(2);
    partitioner.onBatchClosed('t', 2, 6, [2]);
    expect(partitioner.choose({ topic: 't' }, 6, [2])).toBe(2);
  });

  it('spreads sticky choices over every partition in the long run', () => {
    const partitioner = new Partitioner(seededRandom(11));
    const counts = new Array<number>(4).fill(0);
    for (let i = 0; i < 400; i++) {
      const p = partitioner.choose({ topic: 't' }, 4);
      counts[p]!++;
      partitioner.onBatchClosed('t', p, 4);
    }
    for (const count of counts) expect(count).toBeGreaterThan(50);
  });

  it('keeps a separate sticky partition per topic', () => {
    const partitioner = new Partitioner(seededRandom(5));
    const a = partitioner.choose({ topic: 'a' }, 100);
    const b = partitioner.choose({ topic: 'b' }, 100);
    partitioner.onBatchClosed('a', a, 100);
    expect(partitioner.choose({ topic: 'b' }, 100)).toBe(b);
  });

  it('makes the same choices for the same seed', () => {
    const run = (): number[] => {
      const partitioner = new Partitioner(seededRandom(42));
      const out: number[] = [];
      for (let i = 0; i < 20; i++) {
        const p = partitioner.choose({ topic: 't' }, 9);
        out.push(p);
        partitioner.onBatchClosed('t', p, 9);
      }
      return out;
    };
    expect(run()).toEqual(run());
  });

  it('redraws when the partition count shrank below the sticky partition', () => {
    const partitioner = new Partitioner(seededRandom(5));
    let p = partitioner.choose({ topic: 't' }, 50);
    while (p < 10) {
      partitioner.onBatchClosed('t', p, 50);
      p = partitioner.choose({ topic: 't' }, 50);
    }
    expect(partitioner.choose({ topic: 't' }, 10)).toBeLessThan(10);
  });
});
