import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { ElectionType, brokerReturns, electLeaders, preferredRebalance, removeBrokers } from './leader-election.js';
import type { MetadataState } from './state.js';
import { applyCommands, clusterState } from './testing/cluster-state.js';

function partition(state: MetadataState, topic: string, p = 0) {
  return state.topic(topic)!.partitions[p]!;
}

function fence(state: MetadataState, nodeId: number): MetadataState {
  applyCommands(state, [...removeBrokers(state, new Set([nodeId])), { type: 'fence-broker', nodeId, brokerEpoch: state.broker(nodeId)!.brokerEpoch }]);
  return state;
}

function unfence(state: MetadataState, nodeId: number, options = {}): MetadataState {
  const commands = brokerReturns(state, nodeId, options);
  applyCommands(state, [{ type: 'unfence-broker', nodeId, brokerEpoch: state.broker(nodeId)!.brokerEpoch }, ...commands]);
  return state;
}

describe('controller > a broker leaves (fenced, shut down or re-registered)', () => {
  it('elects the first replica, in replica order, that is in the ISR and live, and takes the broker out of the ISR', () => {
    const state = clusterState({ live: [1, 2, 3], topics: { orders: { partitions: [{ replicas: [1, 3, 2] }] } } });
    fence(state, 1);
    expect(partition(state, 'orders')).toEqual({ partition: 0, replicas: [1, 3, 2], isr: [3, 2], leader: 3, leaderEpoch: 1, partitionEpoch: 1 });
  });

  it('skips ISR members that are fenced, and leaves a follower\'s partitions with their leader', () => {
    const state = clusterState({ live: [1, 2, 3], topics: { a: { partitions: [{ replicas: [1, 2, 3], isr: [1, 3] }] }, b: { partitions: [{ replicas: [2, 1] }] } } });
    fence(state, 3);
    fence(state, 1);
    expect(partition(state, 'a')).toMatchObject({ leader: -1, isr: [1] });
    expect(partition(state, 'b')).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 0, partitionEpoch: 1 });
  });

  it('keeps the last ISR member, with no leader (offline), when no other ISR member is live', () => {
    const state = clusterState({ live: [1, 2], topics: { orders: { partitions: [{ replicas: [1, 2], isr: [1] }] } } });
    const changes = removeBrokers(state, new Set([1]));
    expect(changes).toEqual([{ type: 'change-partition', topicId: 'id-orders', partition: 0, leader: -1 }]);
    fence(state, 1);
    expect(partition(state, 'orders')).toMatchObject({ leader: -1, isr: [1], leaderEpoch: 1 });
    // Leaving again (it registers once more before it comes back) changes nothing.
    expect(removeBrokers(state, new Set([1]))).toEqual([]);
  });

  it('elects the first live replica with an ISR of itself when the topic allows unclean election', () => {
    const state = clusterState({
      live: [1, 2, 3],
      topics: { orders: { partitions: [{ replicas: [1, 3, 2], isr: [1] }], configs: { 'unclean.leader.election.enable': 'true' } } },
    });
    fence(state, 1);
    expect(partition(state, 'orders')).toMatchObject({ leader: 3, isr: [3] });
  });

  it('applies the coordinator\'s unclean default to topics without the setting, and a topic\'s false over it', () => {
    const state = clusterState({
      live: [1, 2],
      topics: { loose: { partitions: [{ replicas: [1, 2], isr: [1] }] }, strict: { partitions: [{ replicas: [1, 2], isr: [1] }], configs: { 'unclean.leader.election.enable': 'false' } } },
    });
    const changes = removeBrokers(state, new Set([1]), { uncleanLeaderElectionDefault: true });
    expect(changes).toEqual([
      { type: 'change-partition', topicId: 'id-loose', partition: 0, leader: 2, isr: [2] },
      { type: 'change-partition', topicId: 'id-strict', partition: 0, leader: -1 },
    ]);
  });

  it('handles several brokers leaving at once, keeping the member that led when the ISR would empty', () => {
    const state = clusterState({ live: [1, 2, 3], topics: { orders: { partitions: [{ replicas: [2, 1, 3], isr: [2, 1] }, { replicas: [3, 1, 2] }] } } });
    applyCommands(state, removeBrokers(state, new Set([1, 2])));
    expect(partition(state, 'orders', 0)).toMatchObject({ leader: -1, isr: [2] });
    expect(partition(state, 'orders', 1)).toMatchObject({ leader: 3, isr: [3] });
  });
});

describe('controller > a broker comes back (unfenced)', () => {
  it('gives offline partitions whose ISR holds it a leader again', () => {
    const state = clusterState({ live: [1, 2], topics: { orders: { partitions: [{ replicas: [2, 1], isr: [1] }] } } });
    fence(state, 1);
    expect(partition(state, 'orders')).toMatchObject({ leader: -1, isr: [1], leaderEpoch: 1 });
    unfence(state, 1);
    expect(partition(state, 'orders')).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 2 });
  });

  it('leaves offline partitions whose ISR does not hold it offline, unless the topic allows unclean election', () => {
    const state = clusterState({
      live: [1, 2, 3],
      topics: {
        strict: { partitions: [{ replicas: [1, 2], isr: [1] }] },
        loose: { partitions: [{ replicas: [1, 2], isr: [1] }], configs: { 'unclean.leader.election.enable': 'true' } },
      },
    });
    fence(state, 2);
    fence(state, 1);
    expect(partition(state, 'strict')).toMatchObject({ leader: -1, isr: [1] });
    expect(partition(state, 'loose')).toMatchObject({ leader: -1, isr: [1] });
    unfence(state, 2);
    expect(partition(state, 'strict')).toMatchObject({ leader: -1, isr: [1] });
    expect(partition(state, 'loose')).toMatchObject({ leader: 2, isr: [2] });
  });

  it('changes nothing for partitions that have a leader', () => {
    const state = clusterState({ live: [1, 2, 3], topics: { orders: { partitions: [{ replicas: [1, 2, 3] }] } } });
    fence(state, 1);
    expect(brokerReturns(state, 1)).toEqual([]);
  });
});

describe('controller > electLeaders', () => {
  it('moves leadership back to the preferred replica when it is in the ISR and live', () => {
    const state = clusterState({ live: [1, 2, 3], topics: { orders: { partitions: [{ replicas: [1, 2, 3], isr: [1, 2, 3], leader: 2 }] } } });
    const { results, commands } = electLeaders(state, { type: ElectionType.PREFERRED, topics: [{ topic: 'orders' }] });
    expect(results).toEqual([{ topic: 'orders', partition: 0, errorCode: ErrorCode.NONE, errorMessage: null, leader: 1 }]);
    applyCommands(state, commands);
    expect(partition(state, 'orders')).toMatchObject({ leader: 1, isr: [1, 2, 3], leaderEpoch: 1 });
  });

  it('answers ELECTION_NOT_NEEDED where the preferred replica leads, and PREFERRED_LEADER_NOT_AVAILABLE where it is out of the ISR or fenced', () => {
    const state = clusterState({
      live: [1, 2, 3],
      fenced: [4],
      topics: { orders: { partitions: [{ replicas: [1, 2] }, { replicas: [3, 1], isr: [1] }, { replicas: [4, 1], isr: [4, 1], leader: 1 }] } },
    });
    const { results, commands } = electLeaders(state, { type: ElectionType.PREFERRED, topics: [{ topic: 'orders', partitions: [0, 1, 2] }] });
    expect(results.map((r) => [r.partition, r.errorCode, r.leader])).toEqual([
      [0, ErrorCode.ELECTION_NOT_NEEDED, 1],
      [1, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, 1],
      [2, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, 1],
    ]);
    expect(results[2]!.errorMessage).toMatch(/fenced/);
    expect(commands).toEqual([]);
  });

  it('elects a live replica for a leaderless partition on an unclean request, whatever the topic says', () => {
    const state = clusterState({ live: [1, 2, 3], topics: { orders: { partitions: [{ replicas: [1, 2, 3], isr: [1] }, { replicas: [2, 3] }] } } });
    fence(state, 1);
    const { results, commands } = electLeaders(state, { type: ElectionType.UNCLEAN, topics: [{ topic: 'orders' }] });
    expect(results.map((r) => [r.partition, r.errorCode, r.leader])).toEqual([
      [0, ErrorCode.NONE, 2],
      [1, ErrorCode.ELECTION_NOT_NEEDED, 2],
    ]);
    applyCommands(state, commands);
    expect(partition(state, 'orders')).toMatchObject({ leader: 2, isr: [2] });
  });

  it('answers ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live, and UNKNOWN_TOPIC_OR_PARTITION for what does not exist', () => {
    const state = clusterState({ live: [1, 2], topics: { orders: { partitions: [{ replicas: [1], isr: [1] }] } } });
    fence(state, 1);
    const { results } = electLeaders(state, { type: ElectionType.UNCLEAN, topics: [{ topic: 'orders', partitions: [0, 3] }, { topic: 'nope' }] });
    expect(results.map((r) => [r.topic, r.partition, r.errorCode])).toEqual([
      ['orders', 0, ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE],
      ['orders', 3, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ['nope', -1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
  });

  it('considers every partition when no topic is named, and lists only those that needed an election', () => {
    const state = clusterState({ live: [1, 2], topics: { a: { partitions: [{ replicas: [1, 2], leader: 2 }, { replicas: [2, 1] }] }, b: { partitions: [{ replicas: [1, 2] }] } } });
    const { results, commands } = electLeaders(state, { type: ElectionType.PREFERRED });
    expect(results.map((r) => `${r.topic}-${r.partition}:${r.leader}`)).toEqual(['a-0:1']);
    expect(commands).toHaveLength(1);
    expect(preferredRebalance(state)).toEqual(commands);
  });
});
