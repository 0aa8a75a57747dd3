/**
 * Partition changes: the change-partition command that moves a partition from its current leader
 * and ISR to a target, and AlterPartition, the request a partition leader sends to commit an ISR
 * change it decided (a follower fell behind, or caught up).
 *
 * AlterPartition follows Kafka's KRaft controller: a compare-and-set on the leader epoch and the
 * partition epoch the leader last saw, so a leader that was deposed, or that decided on a stale
 * view, changes nothing; and KIP-841: a fenced or shutting-down broker (here both are fenced: a
 * broker asking to shut down is fenced in the same entry that moves its leaderships) may not
 * enter the ISR, so a broker on its way out is never counted on for acks=all.
 *
 * Pure: (state, request) → per-partition results and the commands to log.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type ChangePartitionCommand, type PartitionAssignment, MetadataCommandType } from './commands.js';
import type { ControllerOutcome } from './controller.js';
import { brokerStates, settled } from './partition-rules.js';
import type { MetadataStateView } from './state.js';

/** What a partition should become; a field left out stays as it is. */
export interface PartitionTarget {
  readonly leader?: number;
  readonly isr?: readonly number[];
  /**
   * The replica set, with the reassignment that goes with it: `addingReplicas` and
   * `removingReplicas` left out mean none (the reassignment is over, or there is none).
   */
  readonly replicas?: {
    readonly replicas: readonly number[];
    readonly addingReplicas?: readonly number[];
    readonly removingReplicas?: readonly number[];
  };
}

/**
 * The change-partition command that takes `current` (partition of topic `topicId`) to `target`,
 * naming only the fields that differ; null when nothing differs.
 */
export function partitionChange(topicId: string, current: PartitionAssignment, target: PartitionTarget): ChangePartitionCommand | null {
  const leaderChanges = target.leader !== undefined && target.leader !== current.leader;
  const isrChanges = target.isr !== undefined && !sameList(target.isr, current.isr);
  const set = target.replicas;
  const adding = set?.addingReplicas ?? [];
  const removing = set?.removingReplicas ?? [];
  const replicasChange =
    set !== undefined &&
    (!sameList(set.replicas, current.replicas) || !sameList(adding, current.addingReplicas ?? []) || !sameList(removing, current.removingReplicas ?? []));
  if (!leaderChanges && !isrChanges && !replicasChange) return null;
  return {
    type: MetadataCommandType.CHANGE_PARTITION,
    topicId,
    partition: current.partition,
    ...(leaderChanges ? { leader: target.leader } : {}),
    ...(isrChanges ? { isr: [...(target.isr ?? [])] } : {}),
    ...(replicasChange && set !== undefined ? { replicas: [...set.replicas] } : {}),
    ...(replicasChange && adding.length > 0 ? { addingReplicas: [...adding] } : {}),
    ...(replicasChange && removing.length > 0 ? { removingReplicas: [...removing] } : {}),
  };
}

/** The partition as it is once `change` is applied (the state machine's rule, for answers). */
export function afterChange(current: PartitionAssignment, change: ChangePartitionCommand | null): PartitionAssignment {
  if (change === null) return current;
  const leader = change.leader ?? current.leader;
  const reassignment = change.replicas === undefined ? current : change;
  return {
    partition: current.partition,
    replicas: change.replicas ?? current.replicas,
    isr: change.isr ?? current.isr,
    leader,
    leaderEpoch: leader === current.leader ? current.leaderEpoch : current.leaderEpoch + 1,
    partitionEpoch: current.partitionEpoch + 1,
    ...(reassignment.addingReplicas === undefined ? {} : { addingReplicas: reassignment.addingReplicas }),
    ...(reassignment.removingReplicas === undefined ? {} : { removingReplicas: reassignment.removingReplicas }),
  };
}

export function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Node ids of the registered, unfenced brokers: the ones that may lead or join an ISR. */
export function liveBrokerIds(state: MetadataStateView): Set<number> {
  const live = new Set<number>();
  for (const broker of state.brokers()) if (!broker.fenced) live.add(broker.nodeId);
  return live;
}

/** One partition's ISR change, as its leader proposes it (Kafka's AlterPartition PartitionData). */
export interface AlterPartitionItem {
  readonly topicId: string;
  readonly partition: number;
  /** The leader epoch the leader holds: the change applies only while it is current. */
  readonly leaderEpoch: number;
  /** The partition epoch the leader last saw: the compare-and-set token. */
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
}

export interface AlterPartitionRequest {
  /** The partition leader sending the request. */
  readonly brokerId: number;
  /** Its current registration's epoch. */
  readonly brokerEpoch: number;
  readonly partitions: readonly AlterPartitionItem[];
}

/** The outcome for one partition; on success (and where it is known, on failure) its state after. */
export interface AlterPartitionResult {
  readonly topicId: string;
  readonly partition: number;
  readonly errorCode: ErrorCode;
  readonly errorMessage: string | null;
  /** -1 when unknown (unknown topic or partition). */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
  readonly partitionEpoch: number;
}

function failed(item: AlterPartitionItem, error: StreamBusError, current?: PartitionAssignment): AlterPartitionResult {
  return {
    topicId: item.topicId,
    partition: item.partition,
    errorCode: error.code,
    errorMessage: error.message,
    leader: current?.leader ?? -1,
    leaderEpoch: current?.leaderEpoch ?? -1,
    isr: current?.isr ?? [],
    partitionEpoch: current?.partitionEpoch ?? -1,
  };
}

function refuse(code: ErrorCode, message: string, topic?: string, partition?: number): never {
  throw new StreamBusError(code, message, { context: { ...(topic === undefined ? {} : { topic }), ...(partition === undefined ? {} : { partition }) } });
}

/**
 * Validates ISR changes from a partition leader and returns a change-partition command (ISR only)
 * per accepted partition that changes. Errors per partition, with Kafka's codes and in its order:
 * STALE_BROKER_EPOCH (the sender is not the registration it names), UNKNOWN_TOPIC_OR_PARTITION,
 * FENCED_LEADER_EPOCH (not the current leader epoch: the sender was deposed, or decided on an old
 * view), NOT_LEADER_OR_FOLLOWER (the sender does not lead the partition), INVALID_UPDATE_VERSION
 * (the partition changed since the sender last saw it: it waits for newer metadata),
 * INVALID_REQUEST (a partition named twice, an ISR member outside the replicas or named twice, an
 * empty ISR, or one without the leader), INELIGIBLE_REPLICA (an ISR member that is not registered,
 * or fenced: starting, shutting down or gone). An ISR equal to the current one succeeds and logs
 * nothing. A committed change may also complete the partition's reassignment, or move its
 * leadership off a draining leader (partition-rules.ts): the result then shows the leader, ISR and
 * epochs after both.
 */
export function alterPartition(state: MetadataStateView, request: AlterPartitionRequest): ControllerOutcome<AlterPartitionResult> {
  const broker = state.broker(request.brokerId);
  const staleEpoch = broker === undefined || broker.brokerEpoch !== request.brokerEpoch;
  const live = liveBrokerIds(state);
  const brokers = brokerStates(state);
  const keys = request.partitions.map((p) => `${p.topicId}:${p.partition}`);
  const twice = new Set(keys.filter((key, i) => keys.indexOf(key) !== i));
  const commands: ChangePartitionCommand[] = [];
  const results = request.partitions.map((item, i): AlterPartitionResult => {
    const topic = state.topicById(item.topicId);
    const current = topic?.partitions[item.partition];
    try {
      if (staleEpoch) {
        refuse(
          ErrorCode.STALE_BROKER_EPOCH,
          broker === undefined
            ? `broker ${request.brokerId} is not registered`
            : `broker ${request.brokerId} sent epoch ${request.brokerEpoch}, but its registration has epoch ${broker.brokerEpoch}`,
        );
      }
      if (twice.has(keys[i]!)) refuse(ErrorCode.INVALID_REQUEST, `partition ${item.partition} of topic id ${item.topicId} appears more than once in the request`);
      if (topic === undefined || current === undefined) {
        refuse(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic id ${item.topicId} has no partition ${item.partition}`);
      }
      const name = `${topic.name}-${item.partition}`;
      if (item.leaderEpoch !== current.leaderEpoch) {
        refuse(ErrorCode.FENCED_LEADER_EPOCH, `${name} is at leader epoch ${current.leaderEpoch}, the request names ${item.leaderEpoch}`, topic.name, item.partition);
      }
      if (current.leader !== request.brokerId) {
        refuse(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${request.brokerId} does not lead ${name} (its leader is ${current.leader})`, topic.name, item.partition);
      }
      if (item.partitionEpoch !== current.partitionEpoch) {
        refuse(
          ErrorCode.INVALID_UPDATE_VERSION,
          `${name} is at partition epoch ${current.partitionEpoch}, the request names ${item.partitionEpoch}: it changed since the leader last saw it`,
          topic.name,
          item.partition,
        );
      }
      checkNewIsr(item.newIsr, current, request.brokerId, name, topic.name);
      const ineligible = item.newIsr.filter((id) => !live.has(id));
      if (ineligible.length > 0) {
        refuse(
          ErrorCode.INELIGIBLE_REPLICA,
          `the new ISR of ${name} names broker ${ineligible.join(', ')}, which is fenced or not registered (starting, shutting down or gone)`,
          topic.name,
          item.partition,
        );
      }
      // The new ISR may complete a reassignment (its last adding replica caught up), or give a
      // draining leader someone to hand over to: both ride in the same command (partition-rules.ts).
      const change = partitionChange(item.topicId, current, settled(current, { isr: item.newIsr }, brokers));
      if (change !== null) commands.push(change);
      const after = afterChange(current, change);
      return {
        topicId: item.topicId,
        partition: item.partition,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        leader: after.leader,
        leaderEpoch: after.leaderEpoch,
        isr: after.isr,
        partitionEpoch: after.partitionEpoch,
      };
    } catch (error) {
      if (error instanceof StreamBusError) return failed(item, error, current);
      throw error;
    }
  });
  return { results, commands };
}

function checkNewIsr(newIsr: readonly number[], current: PartitionAssignment, leader: number, name: string, topic: string): void {
  const invalid = (why: string): never => refuse(ErrorCode.INVALID_REQUEST, `the new ISR of ${name} ${why}`, topic, current.partition);
  if (!Array.isArray(newIsr) || newIsr.length === 0) invalid('is empty');
  if (new Set(newIsr).size !== newIsr.length) invalid(`names a broker twice: [${newIsr.join(', ')}]`);
  const outside = newIsr.filter((id) => !current.replicas.includes(id));
  if (outside.length > 0) invalid(`names broker ${outside.join(', ')}, which is not a replica (replicas [${current.replicas.join(', ')}])`);
  if (!newIsr.includes(leader)) invalid(`leaves out its leader ${leader}`);
}
