import { describe, expect, it } from 'vitest';
import { chooseReadReplica, type ReadReplicaInput } from './read-replica.js';

const racks: Record<number, string> = { 1: 'a', 2: 'b', 3: 'c', 4: 'b' };
const base: ReadReplicaInput = {
  partition: 0,
  leader: 1,
  isr: [1, 2, 3],
  clientRack: 'b',
  rackOf: (nodeId) => racks[nodeId],
  leaderOnly: false,
};

describe('policy > read replica', () => {
  it('reads from the leader when no client rack is set', () => {
    expect(chooseReadReplica({ ...base, clientRack: undefined })).toBe(1);
    expect(chooseReadReplica({ ...base, clientRack: '' })).toBe(1);
  });

  it('reads from the in-sync follower in the client\'s rack', () => {
    expect(chooseReadReplica(base)).toBe(2);
  });

  it('keeps the leader when the leader itself is in the client\'s rack', () => {
    expect(chooseReadReplica({ ...base, clientRack: 'a' })).toBe(1);
  });

  it('keeps the leader when no in-sync replica is in the rack (an out-of-sync one does not count)', () => {
    expect(chooseReadReplica({ ...base, clientRack: 'z' })).toBe(1);
    expect(chooseReadReplica({ ...base, isr: [1, 3] })).toBe(1);
  });

  it('keeps the leader while the partition is in its fallback period', () => {
    expect(chooseReadReplica({ ...base, leaderOnly: true })).toBe(1);
  });

  it('spreads partitions over several same-rack replicas, stably per partition', () => {
    const input = { ...base, isr: [1, 4, 2, 3] };
    expect(chooseReadReplica({ ...input, partition: 0 })).toBe(2);
    expect(chooseReadReplica({ ...input, partition: 1 })).toBe(4);
    expect(chooseReadReplica({ ...input, partition: 2 })).toBe(2);
  });

  it('has no answer for a leaderless partition', () => {
    expect(chooseReadReplica({ ...base, leader: -1 })).toBeUndefined();
  });
});
