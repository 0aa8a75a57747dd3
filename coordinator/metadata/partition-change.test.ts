import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { type AlterPartitionItem, alterPartition, partitionChange } from './partition-change.js';
import { applyCommands, clusterState } from './testing/cluster-state.js';

/** Brokers 1-3 live, 4 fenced; orders-0 led by 1 with ISR [1, 2] of replicas [1, 2, 3, 4]. */
function cluster() {
  return clusterState({ live: [1, 2, 3], fenced: [4], topics: { orders: { partitions: [{ replicas: [1, 2, 3, 4], isr: [1, 2] }, { replicas: [2, 1] }] } } });
}

function item(overrides: Partial<AlterPartitionItem> = {}): AlterPartitionItem {
  return { topicId: 'id-orders', partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1, 2, 3], ...overrides };
}

function brokerEpochOf(state: ReturnType<typeof cluster>, nodeId: number): number {
  return state.broker(nodeId)!.brokerEpoch;
}

describe('controller > partitionChange', () => {
  it('names only the fields that differ, and nothing when nothing does', () => {
    const p = cluster().topic('orders')!.partitions[0]!;
    expect(partitionChange('id-orders', p, { leader: 1, isr: [1, 2] })).toBeNull();
    expect(partitionChange('id-orders', p, { leader: 2 })).toEqual({ type: 'change-partition', topicId: 'id-orders', partition: 0, leader: 2 });
    expect(partitionChange('id-orders', p, { leader: 1, isr: [1] })).toEqual({ type: 'change-partition', topicId: 'id-orders', partition: 0, isr: [1] });
  });
});

describe('controller > alterPartition', () => {
  it('commits an ISR expansion from the leader with the current epochs, answering the partition after it', () => {
    const state = cluster();
    const { results, commands } = alterPartition(state, { brokerId: 1, brokerEpoch: brokerEpochOf(state, 1), partitions: [item()] });
    expect(commands).toEqual([{ type: 'change-partition', topicId: 'id-orders', partition: 0, isr: [1, 2, 3] }]);
    expect(results).toEqual([
      { topicId: 'id-orders', partition: 0, errorCode: ErrorCode.NONE, errorMessage: null, leader: 1, leaderEpoch: 0, isr: [1, 2, 3], partitionEpoch: 1 },
    ]);
    applyCommands(state, commands);
    expect(state.topic('orders')!.partitions[0]).toMatchObject({ isr: [1, 2, 3], leaderEpoch: 0, partitionEpoch: 1 });
  });

  it('commits a shrink, and answers an unchanged ISR with success and no command', () => {
    const state = cluster();
    const epoch = brokerEpochOf(state, 1);
    expect(alterPartition(state, { brokerId: 1, brokerEpoch: epoch, partitions: [item({ newIsr: [1] })] }).commands).toEqual([
      { type: 'change-partition', topicId: 'id-orders', partition: 0, isr: [1] },
    ]);
    const same = alterPartition(state, { brokerId: 1, brokerEpoch: epoch, partitions: [item({ newIsr: [1, 2] })] });
    expect(same.commands).toEqual([]);
    expect(same.results[0]).toMatchObject({ errorCode: ErrorCode.NONE, partitionEpoch: 0, isr: [1, 2] });
  });

  it('refuses a stale partition epoch with INVALID_UPDATE_VERSION: a compare-and-set, so a repeat changes nothing', () => {
    const state = cluster();
    const request = { brokerId: 1, brokerEpoch: brokerEpochOf(state, 1), partitions: [item()] };
    applyCommands(state, alterPartition(state, request).commands);
    const repeat = alterPartition(state, request);
    expect(repeat.commands).toEqual([]);
    expect(repeat.results[0]).toMatchObject({ errorCode: ErrorCode.INVALID_UPDATE_VERSION, partitionEpoch: 1, isr: [1, 2, 3] });
  });

  it('refuses a deposed leader with FENCED_LEADER_EPOCH and a broker that does not lead with NOT_LEADER_OR_FOLLOWER', () => {
    const state = cluster();
    applyCommands(state, [{ type: 'change-partition', topicId: 'id-orders', partition: 0, leader: 2 }]);
    const deposed = alterPartition(state, { brokerId: 1, brokerEpoch: brokerEpochOf(state, 1), partitions: [item({ partitionEpoch: 1 })] });
    expect(deposed.results[0]!.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    const follower = alterPartition(state, { brokerId: 1, brokerEpoch: brokerEpochOf(state, 1), partitions: [item({ leaderEpoch: 1, partitionEpoch: 1 })] });
    expect(follower.results[0]!.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect([...deposed.commands, ...follower.commands]).toEqual([]);
  });

  it('refuses every partition of a broker epoch that is not the current registration with STALE_BROKER_EPOCH', () => {
    const state = cluster();
    const stale = alterPartition(state, { brokerId: 1, brokerEpoch: brokerEpochOf(state, 1) + 100, partitions: [item(), item({ partition: 1 })] });
    expect(stale.results.map((r) => r.errorCode)).toEqual([ErrorCode.STALE_BROKER_EPOCH, ErrorCode.STALE_BROKER_EPOCH]);
    expect(alterPartition(state, { brokerId: 9, brokerEpoch: 0, partitions: [item()] }).results[0]!.errorMessage).toMatch(/not registered/);
  });

  it('refuses an unknown topic id or partition with UNKNOWN_TOPIC_OR_PARTITION', () => {
    const state = cluster();
    const epoch = brokerEpochOf(state, 1);
    const { results } = alterPartition(state, { brokerId: 1, brokerEpoch: epoch, partitions: [item({ topicId: 'id-nope' }), item({ partition: 7 })] });
    expect(results.map((r) => [r.errorCode, r.leader])).toEqual([
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1],
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1],
    ]);
  });

  it.each([
    ['names a broker outside the replicas', [1, 2, 5]],
    ['leaves out the leader', [2, 3]],
    ['names a broker twice', [1, 2, 2]],
    ['is empty', []],
  ])('refuses a new ISR that %s with INVALID_REQUEST', (_what, newIsr) => {
    const state = cluster();
    const { results, commands } = alterPartition(state, { brokerId: 1, brokerEpoch: brokerEpochOf(state, 1), partitions: [item({ newIsr })] });
    expect(results[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(commands).toEqual([]);
  });

  it('refuses to add a fenced (starting or shutting-down) broker with INELIGIBLE_REPLICA', () => {
    const state = cluster();
    const { results, commands } = alterPartition(state, { brokerId: 1, brokerEpoch: brokerEpochOf(state, 1), partitions: [item({ newIsr: [1, 2, 4] })] });
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.INELIGIBLE_REPLICA, errorMessage: expect.stringContaining('broker 4') });
    expect(commands).toEqual([]);
  });

  it('answers each partition on its own, and refuses a partition named twice with INVALID_REQUEST', () => {
    const state = cluster();
    const epoch = brokerEpochOf(state, 2);
    const { results, commands } = alterPartition(state, {
      brokerId: 2,
      brokerEpoch: epoch,
      partitions: [item({ partition: 1, newIsr: [2] }), item(), item({ topicId: 'id-x' }), item({ topicId: 'id-x' })],
    });
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
    expect(commands).toEqual([{ type: 'change-partition', topicId: 'id-orders', partition: 1, isr: [2] }]);
  });
});
