import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import type { PartitionAssignment } from './commands.js';
import { createPartitions, placementBrokers } from './controller.js';
import { removeBrokers } from './leader-election.js';
import { alterPartition } from './partition-change.js';
import { seededRandomSource } from './random.js';
import { type ReassignmentRequest, alterPartitionReassignments, listPartitionReassignments } from './reassignment.js';
import { MetadataState } from './state.js';
import { applyCommands, clusterState, type TestCluster } from './testing/cluster-state.js';

/** Brokers 1-4 live and 5 fenced; orders-0 on [1, 2, 3] led by 1, orders-1 on [1] alone. */
function cluster(overrides: Partial<TestCluster> = {}): MetadataState {
  return clusterState({ live: [1, 2, 3, 4], fenced: [5], topics: { orders: { partitions: [{ replicas: [1, 2, 3] }, { replicas: [1] }] } }, ...overrides });
}

function partition(state: MetadataState, index = 0): PartitionAssignment {
  return state.topic('orders')!.partitions[index]!;
}

/** Runs the reassignment and applies its commands; returns the results. */
function reassign(state: MetadataState, requests: readonly ReassignmentRequest[]) {
  const outcome = alterPartitionReassignments(state, requests);
  applyCommands(state, outcome.commands);
  return outcome;
}

/** The leader of orders-`index` asks for `newIsr`; applies what the controller decides. */
function leaderAsks(state: MetadataState, newIsr: readonly number[], index = 0) {
  const p = partition(state, index);
  const outcome = alterPartition(state, {
    brokerId: p.leader,
    brokerEpoch: state.broker(p.leader)!.brokerEpoch,
    partitions: [{ topicId: 'id-orders', partition: index, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr }],
  });
  applyCommands(state, outcome.commands);
  return outcome;
}

describe('controller > reassignment > start', () => {
  it('writes replicas = target then the removed ones, with adding and removing, and leaves leader and ISR alone', () => {
    const state = cluster();
    const { results, commands } = reassign(state, [{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    expect(results).toEqual([{ topic: 'orders', partition: 0, errorCode: ErrorCode.NONE, errorMessage: null }]);
    expect(commands).toEqual([{ type: 'change-partition', topicId: 'id-orders', partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] }]);
    expect(partition(state)).toEqual({
      partition: 0,
      replicas: [2, 3, 4, 1],
      isr: [1, 2, 3],
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 1,
      addingReplicas: [4],
      removingReplicas: [1],
    });
  });

  it('completes at once when nothing needs copying: a removed leader hands over to the first in-sync target replica', () => {
    const state = cluster();
    const { commands } = reassign(state, [{ topic: 'orders', partition: 0, replicas: [3, 2] }]);
    expect(commands).toEqual([{ type: 'change-partition', topicId: 'id-orders', partition: 0, leader: 3, isr: [2, 3], replicas: [3, 2] }]);
    expect(partition(state)).toEqual({ partition: 0, replicas: [3, 2], isr: [2, 3], leader: 3, leaderEpoch: 1, partitionEpoch: 1 });
  });

  it('reorders replicas (a new preferred leader) without moving data or the current leader', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [3, 1, 2] }]);
    expect(partition(state)).toEqual({ partition: 0, replicas: [3, 1, 2], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 1 });
  });

  it('lets the replication factor change: one replica to three adds two', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 1, replicas: [1, 2, 3] }]);
    expect(partition(state, 1)).toMatchObject({ replicas: [1, 2, 3], isr: [1], addingReplicas: [2, 3] });
    expect(partition(state, 1).removingReplicas).toBeUndefined();
  });

  it('accepts a registered but fenced broker as a target: it copies once it is back', () => {
    const state = cluster();
    const { results } = reassign(state, [{ topic: 'orders', partition: 0, replicas: [1, 2, 5] }]);
    expect(results[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(partition(state)).toMatchObject({ replicas: [1, 2, 5, 3], addingReplicas: [5], removingReplicas: [3] });
  });

  it('answers the target in progress, sent again, with success and no command', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    const again = alterPartitionReassignments(state, [{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    expect(again).toEqual({ results: [{ topic: 'orders', partition: 0, errorCode: ErrorCode.NONE, errorMessage: null }], commands: [] });
    expect(alterPartitionReassignments(cluster(), [{ topic: 'orders', partition: 0, replicas: [1, 2, 3] }]).commands).toEqual([]);
  });

  it('replaces a reassignment in progress, computing from the replicas before it', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    leaderAsks(state, [1, 2, 3]);
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [1, 2, 4] }]);
    expect(partition(state)).toMatchObject({ replicas: [1, 2, 4, 3], isr: [1, 2, 3], leader: 1, addingReplicas: [4], removingReplicas: [3] });
  });
});

describe('controller > reassignment > completion', () => {
  it('completes in the AlterPartition that puts the last adding replica in the ISR, with a new leader from the target', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    const { results, commands } = leaderAsks(state, [1, 2, 3, 4]);
    expect(commands).toEqual([{ type: 'change-partition', topicId: 'id-orders', partition: 0, leader: 2, isr: [2, 3, 4], replicas: [2, 3, 4] }]);
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.NONE, leader: 2, leaderEpoch: 1, isr: [2, 3, 4], partitionEpoch: 2 });
    expect(partition(state)).toEqual({ partition: 0, replicas: [2, 3, 4], isr: [2, 3, 4], leader: 2, leaderEpoch: 1, partitionEpoch: 2 });
  });

  it('waits while any adding replica is still out of the ISR', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 1, replicas: [2, 3] }]);
    leaderAsks(state, [1, 2], 1);
    expect(partition(state, 1)).toMatchObject({ replicas: [2, 3, 1], isr: [1, 2], leader: 1, addingReplicas: [2, 3], removingReplicas: [1] });
    leaderAsks(state, [1, 2, 3], 1);
    expect(partition(state, 1)).toEqual({ partition: 1, replicas: [2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, partitionEpoch: 3 });
  });

  it('keeps the leader when it stays in the target', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [1, 2, 4] }]);
    leaderAsks(state, [1, 2, 3, 4]);
    expect(partition(state)).toEqual({ partition: 0, replicas: [1, 2, 4], isr: [1, 2, 4], leader: 1, leaderEpoch: 0, partitionEpoch: 2 });
  });

  it('gives the leadership to a target replica that is not draining when one is in sync', () => {
    const state = cluster({ draining: [2] });
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    leaderAsks(state, [1, 2, 3, 4]);
    expect(partition(state)).toMatchObject({ replicas: [2, 3, 4], leader: 3 });
  });
});

describe('controller > reassignment > cancel', () => {
  it('reverts to the replicas before it: adding replicas leave the replicas and the ISR', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 1, replicas: [1, 2, 3] }]);
    leaderAsks(state, [1, 2], 1);
    const { results, commands } = reassign(state, [{ topic: 'orders', partition: 1, replicas: null }]);
    expect(results[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(commands).toEqual([{ type: 'change-partition', topicId: 'id-orders', partition: 1, isr: [1], replicas: [1] }]);
    expect(partition(state, 1)).toEqual({ partition: 1, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 3 });
  });

  it('moves the leadership off an adding replica that had taken it', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [4, 5, 2] }]);
    leaderAsks(state, [1, 2, 3, 4]);
    // Broker 1 fails; 5 (fenced) has not copied, so the reassignment runs on and 4 leads.
    applyCommands(state, removeBrokers(state, new Set([1])));
    expect(partition(state)).toMatchObject({ replicas: [4, 5, 2, 1, 3], leader: 4, isr: [2, 3, 4], addingReplicas: [4, 5] });
    reassign(state, [{ topic: 'orders', partition: 0, replicas: null }]);
    // The replicas before it, in the order the merged list kept them (as in Kafka).
    expect(partition(state)).toEqual({ partition: 0, replicas: [2, 1, 3], isr: [2, 3], leader: 2, leaderEpoch: 2, partitionEpoch: 4 });
  });

  it('refuses with NO_REASSIGNMENT_IN_PROGRESS when there is nothing to cancel', () => {
    const { results, commands } = alterPartitionReassignments(cluster(), [{ topic: 'orders', partition: 0, replicas: null }]);
    expect(commands).toEqual([]);
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, errorMessage: 'no reassignment of orders-0 is in progress' });
  });

  it('refuses with INVALID_REPLICA_ASSIGNMENT when only adding replicas are left in the ISR', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 1, replicas: [2, 3] }]);
    leaderAsks(state, [1, 2], 1);
    applyCommands(state, removeBrokers(state, new Set([1])));
    expect(partition(state, 1)).toMatchObject({ leader: 2, isr: [2] });
    const { results, commands } = alterPartitionReassignments(state, [{ topic: 'orders', partition: 1, replicas: null }]);
    expect(commands).toEqual([]);
    expect(results[0]!.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    expect(results[0]!.errorMessage).toContain('no in-sync replica of orders-1');
  });
});

describe('controller > reassignment > errors', () => {
  it.each([
    ['an empty target', [], 'are empty'],
    ['a broker named twice', [2, 3, 2], 'name broker 2 more than once'],
    ['an unregistered broker', [2, 3, 9], 'name broker 9, which is not registered'],
    ['a negative id', [2, -1], 'name -1, which is not a broker id'],
  ])('refuses %s with INVALID_REPLICA_ASSIGNMENT and changes nothing', (_what, replicas, message) => {
    const state = cluster();
    const { results, commands } = alterPartitionReassignments(state, [{ topic: 'orders', partition: 0, replicas }]);
    expect(commands).toEqual([]);
    expect(results[0]!.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    expect(results[0]!.errorMessage).toContain(message);
  });

  it('refuses unknown topics and partitions with UNKNOWN_TOPIC_OR_PARTITION and a partition named twice with INVALID_REQUEST, moving the others', () => {
    const state = cluster();
    const { results, commands } = alterPartitionReassignments(state, [
      { topic: 'ghost', partition: 0, replicas: [1] },
      { topic: 'orders', partition: 7, replicas: [1] },
      { topic: 'orders', partition: 1, replicas: [2] },
      { topic: 'orders', partition: 1, replicas: [3] },
      { topic: 'orders', partition: 0, replicas: [2, 3, 4] },
    ]);
    expect(results.map((r) => r.errorCode)).toEqual([
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.NONE,
    ]);
    expect(commands).toHaveLength(1);
  });
});

describe('controller > reassignment > list', () => {
  it('lists only the partitions being reassigned, of every topic or of those named', () => {
    const state = cluster();
    expect(listPartitionReassignments(state, undefined)).toEqual([]);
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    const ongoing = { topic: 'orders', partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] };
    expect(listPartitionReassignments(state, undefined)).toEqual([ongoing]);
    expect(listPartitionReassignments(state, [{ topic: 'orders' }])).toEqual([ongoing]);
    expect(listPartitionReassignments(state, [{ topic: 'orders', partitions: [1] }])).toEqual([]);
  });

  it('fails as a whole with UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not exist', () => {
    const state = cluster();
    expect(() => listPartitionReassignments(state, [{ topic: 'ghost' }])).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }));
    expect(() => listPartitionReassignments(state, [{ topic: 'orders', partitions: [9] }])).toThrow(
      expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: "topic 'orders' has no partition 9" }),
    );
  });
});

describe('controller > reassignment > elsewhere', () => {
  it('gives new partitions the replication factor partition 0 is moving to, not its merged replica set', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    const { commands } = createPartitions(state, [{ name: 'orders', count: 3 }], { brokers: placementBrokers(state), random: seededRandomSource(7) });
    applyCommands(state, commands);
    expect(partition(state, 2).replicas).toHaveLength(3);
  });
});

describe('controller > reassignment > state', () => {
  it('keeps a reassignment through a snapshot, and reads partitions without the fields as not reassigning', () => {
    const state = cluster();
    reassign(state, [{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    const restored = MetadataState.restore(JSON.parse(JSON.stringify(state.snapshot())));
    expect(restored.topic('orders')!.partitions[0]).toEqual(partition(state));
    expect(restored.topic('orders')!.partitions[1]).not.toHaveProperty('addingReplicas');
  });

  it('refuses a partition whose adding replicas are outside its replicas, as a broken invariant', () => {
    const state = cluster();
    expect(() => applyCommands(state, [{ type: 'change-partition', topicId: 'id-orders', partition: 0, replicas: [1, 2, 3], addingReplicas: [4] }])).toThrow(
      'reassigns a broker outside its replicas',
    );
    expect(partition(state).partitionEpoch).toBe(0);
  });
});
