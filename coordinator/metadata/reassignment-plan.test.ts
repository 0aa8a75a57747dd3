import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { proposeReassignment, type PlannedPartition } from './reassignment-plan.js';
import { clusterState } from './testing/cluster-state.js';

function loads(plan: readonly PlannedPartition[]): { replicas: Record<number, number>; leaders: Record<number, number> } {
  const replicas: Record<number, number> = {};
  const leaders: Record<number, number> = {};
  for (const p of plan) {
    for (const id of p.replicas) replicas[id] = (replicas[id] ?? 0) + 1;
    leaders[p.replicas[0]!] = (leaders[p.replicas[0]!] ?? 0) + 1;
  }
  return { replicas, leaders };
}

describe('controller > reassignment plan', () => {
  it('moves the replicas off a broker that leaves, keeping the others where they are and leaders spread', () => {
    const state = clusterState({
      live: [1, 2, 3, 4],
      topics: { orders: { partitions: [{ replicas: [1, 2, 3] }, { replicas: [2, 3, 1] }, { replicas: [3, 1, 2] }] } },
    });
    const plan = proposeReassignment(state.topics(), [2, 3, 4]);
    expect(plan).toEqual([
      { topic: 'orders', partition: 0, replicas: [2, 3, 4] },
      { topic: 'orders', partition: 1, replicas: [3, 2, 4] },
      { topic: 'orders', partition: 2, replicas: [4, 3, 2] },
    ]);
    expect(loads(plan)).toEqual({ replicas: { 2: 3, 3: 3, 4: 3 }, leaders: { 2: 1, 3: 1, 4: 1 } });
  });

  it('spreads replicas and leaders evenly onto a broker that joins', () => {
    const state = clusterState({
      live: [1, 2, 3],
      topics: { a: { partitions: Array.from({ length: 6 }, () => ({ replicas: [1, 2] })) }, b: { partitions: [{ replicas: [3] }, { replicas: [3] }] } },
    });
    const plan = proposeReassignment(state.topics(), [1, 2, 3, 4]);
    expect(plan.map((p) => p.topic)).toEqual(['a', 'a', 'a', 'a', 'a', 'a', 'b', 'b']);
    expect(plan.every((p) => p.replicas.length === (p.topic === 'a' ? 2 : 1))).toBe(true);
    const { replicas, leaders } = loads(plan);
    expect(Object.values(replicas).every((n) => n >= 3 && n <= 4)).toBe(true);
    expect(Object.values(leaders).every((n) => n === 2)).toBe(true);
    expect(proposeReassignment(state.topics(), [4, 3, 2, 1])).toEqual(plan);
  });

  it('refuses more replicas than brokers with INVALID_REPLICATION_FACTOR, and an empty or repeated broker list with INVALID_REQUEST', () => {
    const state = clusterState({ live: [1, 2, 3], topics: { orders: { partitions: [{ replicas: [1, 2, 3] }] } } });
    expect(() => proposeReassignment(state.topics(), [1, 2])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REPLICATION_FACTOR }));
    expect(() => proposeReassignment(state.topics(), [])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST }));
    expect(() => proposeReassignment(state.topics(), [1, 2, 2])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST, message: 'broker 2 is listed more than once' }));
  });
});
