import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { placementBrokers } from './controller.js';
import { ElectionType, electLeaders, preferredRebalance, removeBrokers } from './leader-election.js';
import { brokerMaintenance } from './maintenance.js';
import { alterPartition } from './partition-change.js';
import { MetadataState } from './state.js';
import { applyCommands, clusterState, type TestCluster } from './testing/cluster-state.js';

/**
 * Brokers 1-3 live. orders-0 [1, 2, 3] led by 1; orders-1 [2, 1, 3] led by 2; orders-2 [1, 2] led
 * by 1 with ISR [1] (no one to hand over to).
 */
function cluster(overrides: Partial<TestCluster> = {}): MetadataState {
  return clusterState({
    live: [1, 2, 3],
    topics: { orders: { partitions: [{ replicas: [1, 2, 3] }, { replicas: [2, 1, 3] }, { replicas: [1, 2], isr: [1] }] } },
    ...overrides,
  });
}

function leaders(state: MetadataState): number[] {
  return state.topic('orders')!.partitions.map((p) => p.leader);
}

describe('controller > maintenance > drain', () => {
  it('marks the broker draining and moves each leadership to the first other in-sync replica, in one set of commands', () => {
    const state = cluster();
    const outcome = brokerMaintenance(state, { nodeId: 1, enable: true });
    expect(outcome.commands).toEqual([
      { type: 'broker-maintenance', nodeId: 1, draining: true },
      { type: 'change-partition', topicId: 'id-orders', partition: 0, leader: 2 },
    ]);
    expect(outcome.leadersMoved).toBe(1);
    expect(outcome.leadersKept).toEqual([{ topic: 'orders', partition: 2 }]);
    applyCommands(state, outcome.commands);
    expect(state.broker(1)!.draining).toBe(true);
    expect(leaders(state)).toEqual([2, 2, 1]);
    // It keeps its replicas and its ISR places.
    expect(state.topic('orders')!.partitions[0]).toMatchObject({ replicas: [1, 2, 3], isr: [1, 2, 3] });
  });

  it('skips draining and fenced replicas when choosing where a leadership goes', () => {
    const state = cluster({ live: [1, 2, 3, 4], topics: { orders: { partitions: [{ replicas: [1, 2, 3, 4] }] } }, draining: [2] });
    applyCommands(state, removeBrokers(state, new Set([3])));
    const outcome = brokerMaintenance(state, { nodeId: 1, enable: true });
    expect(outcome.commands.at(-1)).toEqual({ type: 'change-partition', topicId: 'id-orders', partition: 0, leader: 4 });
  });

  it('hands a kept leadership over in the AlterPartition that brings another replica into the ISR', () => {
    const state = cluster();
    applyCommands(state, brokerMaintenance(state, { nodeId: 1, enable: true }).commands);
    const p = state.topic('orders')!.partitions[2]!;
    const { commands, results } = alterPartition(state, {
      brokerId: 1,
      brokerEpoch: state.broker(1)!.brokerEpoch,
      partitions: [{ topicId: 'id-orders', partition: 2, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [1, 2] }],
    });
    expect(commands).toEqual([{ type: 'change-partition', topicId: 'id-orders', partition: 2, leader: 2, isr: [1, 2] }]);
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.NONE, leader: 2, leaderEpoch: 1, isr: [1, 2] });
  });

  it('draining again logs no second record but moves leaderships the broker took since', () => {
    const state = cluster();
    applyCommands(state, brokerMaintenance(state, { nodeId: 1, enable: true }).commands);
    // 2 and 3 fail: failover has nobody but 1 left for orders-0 and orders-1.
    applyCommands(state, removeBrokers(state, new Set([2, 3])));
    expect(leaders(state)).toEqual([1, 1, 1]);
    applyCommands(state, [
      { type: 'unfence-broker', nodeId: 2, brokerEpoch: state.broker(2)!.brokerEpoch },
      { type: 'change-partition', topicId: 'id-orders', partition: 0, isr: [1, 2] },
    ]);
    const again = brokerMaintenance(state, { nodeId: 1, enable: true });
    expect(again.commands).toEqual([{ type: 'change-partition', topicId: 'id-orders', partition: 0, leader: 2 }]);
    expect(again.leadersKept).toEqual([
      { topic: 'orders', partition: 1 },
      { topic: 'orders', partition: 2 },
    ]);
  });

  it('refuses a broker id no broker registered with BROKER_ID_NOT_REGISTERED', () => {
    expect(() => brokerMaintenance(cluster(), { nodeId: 9, enable: true })).toThrow(
      expect.objectContaining({ code: ErrorCode.BROKER_ID_NOT_REGISTERED, message: 'broker 9 is not registered' }),
    );
  });
});

describe('controller > maintenance > what draining changes elsewhere', () => {
  it('skips a draining preferred replica in preferred elections and the automatic rebalance', () => {
    const state = cluster();
    applyCommands(state, brokerMaintenance(state, { nodeId: 1, enable: true }).commands);
    const { results, commands } = electLeaders(state, { type: ElectionType.PREFERRED, topics: [{ topic: 'orders', partitions: [0] }] });
    expect(commands).toEqual([]);
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: 'the preferred leader, broker 1, is draining (broker undrain ends that)' });
    expect(preferredRebalance(state)).toEqual([]);
  });

  it('lets preferred election bring leaderships back once the broker is undrained', () => {
    const state = cluster();
    applyCommands(state, brokerMaintenance(state, { nodeId: 1, enable: true }).commands);
    const undrain = brokerMaintenance(state, { nodeId: 1, enable: false });
    expect(undrain).toEqual({ commands: [{ type: 'broker-maintenance', nodeId: 1, draining: false }], leadersMoved: 0, leadersKept: [] });
    applyCommands(state, undrain.commands);
    expect(state.broker(1)).not.toHaveProperty('draining');
    applyCommands(state, preferredRebalance(state));
    expect(leaders(state)).toEqual([1, 2, 1]);
    expect(brokerMaintenance(state, { nodeId: 1, enable: false }).commands).toEqual([]);
  });

  it('prefers a live replica that is not draining when failing over, and takes a draining one when it is the only choice', () => {
    const state = cluster({ draining: [2], topics: { orders: { partitions: [{ replicas: [1, 2, 3] }, { replicas: [1, 2] }] } } });
    applyCommands(state, removeBrokers(state, new Set([1])));
    expect(leaders(state)).toEqual([3, 2]);
  });

  it('places no new replica on a draining broker', () => {
    expect(placementBrokers(cluster({ draining: [2] })).map((b) => b.nodeId)).toEqual([1, 3]);
  });

  it('keeps a broker draining across a new registration of the same node id', () => {
    const state = cluster({ draining: [2] });
    applyCommands(state, [{ type: 'register-broker', nodeId: 2, incarnationId: 'restarted', host: '127.0.0.2', port: 9093, rack: null, listeners: [] }]);
    expect(state.broker(2)).toMatchObject({ incarnationId: 'restarted', fenced: true, draining: true });
    const snapshot = JSON.parse(JSON.stringify(state.snapshot())) as { version: number };
    const restored = MetadataState.restore(snapshot);
    expect(restored.broker(2)!.draining).toBe(true);
    expect(restored.broker(1)).not.toHaveProperty('draining');
    // A snapshot from before maintenance existed cannot name it.
    expect(() => MetadataState.restore({ ...snapshot, version: 4 })).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE, message: expect.stringContaining('snapshot.brokers[1].draining') }));
  });
});
