import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { commitOffsetsCommand, type StoredGroup } from '../groups/group-commands.js';
import type { MetadataCommand, MetadataRecord } from '../metadata/commands.js';
import { MetadataState } from '../metadata/state.js';
import { GroupLagMetrics, lagInputs, lagSnapshot, offsetKey, partitionKey, type PartitionLogReader, type PartitionLogs } from './group-lag-metrics.js';

const group = (groupId: string, members: number): StoredGroup => ({
  groupId,
  generation: 1,
  protocolType: 'consumer',
  protocolName: 'range',
  leader: 'm-0',
  stateTimestampMs: 0,
  members: Array.from({ length: members }, (_, i) => ({
    memberId: `m-${i}`,
    groupInstanceId: null,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 60_000,
    subscription: '',
    assignment: '',
  })),
});

function state(): MetadataState {
  const commands: MetadataCommand[] = [
    { type: 'init-cluster', clusterId: 'c' },
    {
      type: 'create-topic',
      name: 'orders',
      topicId: 't-orders',
      partitions: [0, 1].map((partition) => ({ partition, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 })),
      configs: {},
    },
    { type: 'store-group', group: group('billing', 2) },
    commitOffsetsCommand([
      { group: 'billing', topic: 'orders', partition: 0, offset: 40, leaderEpoch: -1, metadata: '', commitTimeMs: 1 },
      { group: 'billing', topic: 'orders', partition: 1, offset: 10, leaderEpoch: -1, metadata: '', commitTimeMs: 1 },
    ]),
  ];
  const s = MetadataState.empty();
  commands.forEach((command, offset) => s.apply({ offset, command } satisfies MetadataRecord));
  return s;
}

/** The brokers' side, as the metrics read it: partition 0 ends at 100 (record 40 written at t=4 s), partition 1 at 10. */
const brokers: PartitionLogs = {
  logs: new Map([
    [partitionKey('orders', 0), { start: 0, end: 100 }],
    [partitionKey('orders', 1), { start: 0, end: 10 }],
  ]),
  timestamps: new Map([[offsetKey('orders', 0, 40), 4_000]]),
};

function reader(asked: { topic: string; partition: number; offset: number }[][]): PartitionLogReader {
  return {
    read: (partitions) => {
      asked.push([...partitions]);
      return Promise.resolve(brokers);
    },
    close: () => Promise.resolve(),
  };
}

describe('coordinator > group lag metrics', () => {
  it('reads each group\'s stored members and committed offsets from the applied state', () => {
    expect(lagInputs(state())).toEqual([
      { groupId: 'billing', members: 2, offsets: [{ topic: 'orders', partition: 0, offset: 40 }, { topic: 'orders', partition: 1, offset: 10 }] },
    ]);
  });

  it('computes lag in offsets and seconds per partition', () => {
    const snapshot = lagSnapshot(lagInputs(state()), brokers, 10_000);
    expect(snapshot.groups[0]!.partitions).toEqual([
      { topic: 'orders', partition: 0, committed: 40, end: 100, lag: 60, lagSeconds: 6 },
      { topic: 'orders', partition: 1, committed: 10, end: 10, lag: 0, lagSeconds: 0 },
    ]);
  });

  it('exports kafka_exporter\'s series on the leader after a refresh', async () => {
    const registry = new Registry();
    const asked: { topic: string; partition: number; offset: number }[][] = [];
    const metrics = new GroupLagMetrics({ registry, state, isLeader: () => true, reader: reader(asked), now: () => 10_000 });
    await metrics.refresh();
    const text = await registry.metrics();
    expect(text).toContain('kafka_consumergroup_lag{consumergroup="billing",topic="orders",partition="0"} 60');
    expect(text).toContain('kafka_consumergroup_lag{consumergroup="billing",topic="orders",partition="1"} 0');
    expect(text).toContain('kafka_consumergroup_lag_sum{consumergroup="billing",topic="orders"} 60');
    expect(text).toContain('kafka_consumergroup_members{consumergroup="billing"} 2');
    expect(text).toContain('kafka_consumergroup_current_offset{consumergroup="billing",topic="orders",partition="0"} 40');
    expect(text).toContain('kafka_consumergroup_lag_seconds{consumergroup="billing",topic="orders",partition="0"} 6');
    expect(text).toContain('kafka_topic_partition_current_offset{topic="orders",partition="0"} 100');
    expect(asked).toEqual([[{ topic: 'orders', partition: 0, offset: 40 }, { topic: 'orders', partition: 1, offset: 10 }]]);
    await metrics.close();
  });

  it('exports nothing and asks the brokers nothing on a follower', async () => {
    const registry = new Registry();
    const asked: { topic: string; partition: number; offset: number }[][] = [];
    const metrics = new GroupLagMetrics({ registry, state, isLeader: () => false, reader: reader(asked) });
    await metrics.refresh();
    expect(await registry.metrics()).not.toContain('consumergroup="billing"');
    expect(asked).toEqual([]);
    await metrics.close();
  });
});
