/**
 * Builds metadata states for the controller's unit tests: registered brokers (fenced or not) and
 * topics with exactly the partitions a test describes, through the same commands the coordinator
 * logs, so every state a test starts from is one the state machine could reach.
 */
import type { MetadataCommand, PartitionAssignment } from '../commands.js';
import { MetadataState } from '../state.js';

export interface TestPartition {
  readonly replicas: readonly number[];
  /** Default: every replica. */
  readonly isr?: readonly number[];
  /** Default: the first ISR member. */
  readonly leader?: number;
}

export interface TestCluster {
  /** Registered and unfenced. */
  readonly live: readonly number[];
  /** Registered and fenced. */
  readonly fenced?: readonly number[];
  /** In maintenance (any of the above). */
  readonly draining?: readonly number[];
  readonly topics: Readonly<Record<string, { readonly partitions: readonly TestPartition[]; readonly configs?: Readonly<Record<string, string>> }>>;
}

/** Applies `commands` at the offsets after the last applied one. */
export function applyCommands(state: MetadataState, commands: readonly MetadataCommand[]): MetadataState {
  for (const command of commands) state.apply({ offset: state.lastAppliedOffset + 1, command });
  return state;
}

/** A state with the brokers and topics of `cluster`; topic ids are `id-<name>`. */
export function clusterState(cluster: TestCluster): MetadataState {
  const state = MetadataState.empty();
  applyCommands(state, [{ type: 'init-cluster', clusterId: 'test-cluster' }]);
  for (const nodeId of [...cluster.live, ...(cluster.fenced ?? [])].sort((a, b) => a - b)) {
    applyCommands(state, [{ type: 'register-broker', nodeId, incarnationId: `inc-${nodeId}`, host: `127.0.0.${nodeId}`, port: 9093, rack: null, listeners: [] }]);
    const brokerEpoch = state.broker(nodeId)!.brokerEpoch;
    if (cluster.live.includes(nodeId)) applyCommands(state, [{ type: 'unfence-broker', nodeId, brokerEpoch }]);
    if (cluster.draining?.includes(nodeId) === true) applyCommands(state, [{ type: 'broker-maintenance', nodeId, draining: true }]);
  }
  for (const [name, topic] of Object.entries(cluster.topics)) {
    const partitions: PartitionAssignment[] = topic.partitions.map((p, partition) => {
      const isr = [...(p.isr ?? p.replicas)];
      return { partition, replicas: [...p.replicas], isr, leader: p.leader ?? isr[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0 };
    });
    applyCommands(state, [{ type: 'create-topic', name, topicId: `id-${name}`, partitions, configs: { ...(topic.configs ?? {}) } }]);
  }
  return state;
}
