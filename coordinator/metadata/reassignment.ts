/**
 * Partition reassignment (Kafka's KIP-455, AlterPartitionReassignments and
 * ListPartitionReassignments): moving a partition's replicas to another set of brokers with the
 * data copied before the switch.
 *
 * Starting one writes, in one change-partition command, replicas = target ∪ current (target
 * first, in its order; then the replicas it removes), addingReplicas = target − current and
 * removingReplicas = current − target. Brokers follow the metadata: an adding replica opens an
 * empty log and fetches from the leader, from its log start, like any follower. When every adding
 * replica has joined the ISR (through its leader's AlterPartition), the controller completes it in
 * the entry that commits that ISR (partition-rules.ts): replicas = target, the ISR keeps its target
 * members, a target replica in sync leads if the old leader is removed, and adding and removing are
 * cleared. Removed replicas stop following and delete their copy once they see that.
 *
 * A reassignment that needs no copy (the target only drops or reorders replicas) completes at once.
 * A new target replaces the one in progress: it is computed from the replicas before the first
 * (the replicas without those being added), so cancelling afterwards reverts to them. Cancelling
 * (a null target) reverts: replicas = the original set, the ISR keeps its members in it, and the
 * leader moves back if it was one of the replicas being added. The replication factor may change.
 *
 * Errors per partition, with Kafka's codes: INVALID_REQUEST (named twice), UNKNOWN_TOPIC_OR_PARTITION,
 * NO_REASSIGNMENT_IN_PROGRESS (85: cancel without one), INVALID_REPLICA_ASSIGNMENT (39: an empty
 * target, a broker named twice or not registered, or a change that would leave no in-sync replica
 * or no replica able to lead). A repeat of the target in progress succeeds and logs nothing.
 *
 * Pure: (state, request) → per-partition results and the commands to log.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { ChangePartitionCommand, PartitionAssignment } from './commands.js';
import type { ControllerOutcome } from './controller.js';
import { type PartitionTarget, partitionChange, sameList } from './partition-change.js';
import { type BrokerStates, brokerStates, eligibleLeader, isReassigning, reassignmentOrigin, reassignmentTarget, settled } from './partition-rules.js';
import type { MetadataStateView, TopicImage } from './state.js';

/** One partition to reassign: its target replicas (the preferred leader first), or null to cancel. */
export interface ReassignmentRequest {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[] | null;
}

export interface ReassignmentResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: ErrorCode;
  /** null on success. */
  readonly errorMessage: string | null;
}

/** A reassignment in progress, as ListPartitionReassignments reports it. */
export interface OngoingReassignment {
  readonly topic: string;
  readonly partition: number;
  /** Every replica now: the target first, then the ones being removed. */
  readonly replicas: readonly number[];
  readonly addingReplicas: readonly number[];
  readonly removingReplicas: readonly number[];
}

/** Which partitions to list: every one, or those of the topics named (all of a topic's without `partitions`). */
export type ReassignmentListRequest = readonly { readonly topic: string; readonly partitions?: readonly number[] }[] | undefined;

function refuse(code: ErrorCode, message: string, topic: string, partition: number): never {
  throw new StreamBusError(code, message, { context: { topic, partition } });
}

/** INVALID_REPLICA_ASSIGNMENT unless `replicas` is a non-empty list of distinct registered brokers. */
function checkTarget(state: MetadataStateView, replicas: readonly number[], name: string, topic: string, partition: number): void {
  const invalid = (why: string): never => refuse(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `the target replicas of ${name} ${why}`, topic, partition);
  if (!Array.isArray(replicas) || replicas.length === 0) invalid('are empty');
  const bad = replicas.find((id) => !Number.isSafeInteger(id) || id < 0);
  if (bad !== undefined) invalid(`name ${String(bad)}, which is not a broker id`);
  const twice = replicas.find((id, i) => replicas.indexOf(id) !== i);
  if (twice !== undefined) invalid(`name broker ${twice} more than once`);
  const unknown = replicas.filter((id) => state.broker(id) === undefined);
  if (unknown.length > 0) invalid(`name broker ${unknown.join(', ')}, which is not registered`);
}

/**
 * Where a partition goes when its replica set becomes `replicas` (with `adding` and `removing` as
 * its reassignment): the ISR keeps its members in the new set, the leader stays if it is in it (or
 * the partition is offline), else the first in-sync live replica leads. INVALID_REPLICA_ASSIGNMENT
 * when no ISR member or no possible leader would remain.
 */
function moveTo(p: PartitionAssignment, replicas: readonly number[], adding: readonly number[], removing: readonly number[], brokers: BrokerStates, name: string, topic: string): PartitionTarget {
  const isr = p.isr.filter((id) => replicas.includes(id));
  if (isr.length === 0) {
    refuse(
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      `no in-sync replica of ${name} (ISR [${p.isr.join(', ')}]) would remain in [${replicas.join(', ')}]: wait for the reassignment in progress to complete, or keep one of them`,
      topic,
      p.partition,
    );
  }
  const leader = p.leader === -1 || replicas.includes(p.leader) ? p.leader : eligibleLeader(replicas, isr, brokers);
  if (leader === undefined) {
    refuse(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `no replica of [${replicas.join(', ')}] that is in sync and live could lead ${name}`, topic, p.partition);
  }
  return { leader, isr, replicas: { replicas, addingReplicas: adding, removingReplicas: removing } };
}

/** Cancelling: back to the replicas before the reassignment. */
function revert(p: PartitionAssignment, brokers: BrokerStates, name: string, topic: string): PartitionTarget {
  return moveTo(p, reassignmentOrigin(p), [], [], brokers, name, topic);
}

/** The target for one partition, or undefined when nothing changes (the same target again). */
function reassign(state: MetadataStateView, p: PartitionAssignment, request: ReassignmentRequest, brokers: BrokerStates, name: string): PartitionTarget | undefined {
  const { topic, partition } = request;
  if (request.replicas === null) {
    if (!isReassigning(p)) refuse(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, `no reassignment of ${name} is in progress`, topic, partition);
    return revert(p, brokers, name, topic);
  }
  const target = request.replicas;
  checkTarget(state, target, name, topic, partition);
  if (isReassigning(p) && sameList(target, reassignmentTarget(p))) return undefined;
  const origin = reassignmentOrigin(p);
  if (sameList(target, origin)) return isReassigning(p) ? revert(p, brokers, name, topic) : undefined;
  const adding = target.filter((id) => !origin.includes(id));
  const removing = origin.filter((id) => !target.includes(id));
  return moveTo(p, [...target, ...removing], adding, removing, brokers, name, topic);
}

/**
 * Starts, replaces or cancels partition reassignments; one result per requested partition and a
 * change-partition command for each that changes (see the file comment for the rules and errors).
 * A reassignment that can complete at once (nothing to copy) completes in the same command.
 */
export function alterPartitionReassignments(state: MetadataStateView, requests: readonly ReassignmentRequest[]): ControllerOutcome<ReassignmentResult> {
  const brokers = brokerStates(state);
  const keys = requests.map((r) => `${r.topic}\u0000${r.partition}`);
  const twice = new Set(keys.filter((key, i) => keys.indexOf(key) !== i));
  const commands: ChangePartitionCommand[] = [];
  const results = requests.map((request, i): ReassignmentResult => {
    const { topic, partition } = request;
    try {
      const name = `${topic}-${partition}`;
      if (twice.has(keys[i]!)) refuse(ErrorCode.INVALID_REQUEST, `${name} appears more than once in the request`, topic, partition);
      const image = state.topic(topic);
      const p = image?.partitions[partition];
      if (image === undefined || p === undefined) {
        refuse(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, image === undefined ? `topic '${topic}' does not exist` : `topic '${topic}' has no partition ${partition}`, topic, partition);
      }
      const target = reassign(state, p, request, brokers, name);
      const change = target === undefined ? null : partitionChange(image.topicId, p, settled(p, target, brokers));
      if (change !== null) commands.push(change);
      return { topic, partition, errorCode: ErrorCode.NONE, errorMessage: null };
    } catch (error) {
      if (!(error instanceof StreamBusError)) throw error;
      return { topic, partition, errorCode: error.code, errorMessage: error.message };
    }
  });
  return { results, commands };
}

function ongoing(topic: TopicImage, p: PartitionAssignment): OngoingReassignment {
  return { topic: topic.name, partition: p.partition, replicas: p.replicas, addingReplicas: p.addingReplicas ?? [], removingReplicas: p.removingReplicas ?? [] };
}

/**
 * The reassignments in progress, by topic name and partition: of every partition, or of those
 * named. Throws UNKNOWN_TOPIC_OR_PARTITION for a named topic or partition that does not exist
 * (Kafka's ListPartitionReassignments fails as a whole on one).
 */
export function listPartitionReassignments(state: MetadataStateView, request: ReassignmentListRequest): OngoingReassignment[] {
  const out: OngoingReassignment[] = [];
  if (request === undefined) {
    for (const topic of state.topics()) for (const p of topic.partitions) if (isReassigning(p)) out.push(ongoing(topic, p));
    return out;
  }
  const seen = new Set<string>();
  for (const wanted of request) {
    const topic = state.topic(wanted.topic);
    if (topic === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${wanted.topic}' does not exist`, { context: { topic: wanted.topic } });
    for (const partition of wanted.partitions ?? topic.partitions.map((p) => p.partition)) {
      const p = topic.partitions[partition];
      if (p === undefined) {
        throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic.name}' has no partition ${partition}`, { context: { topic: topic.name, partition } });
      }
      const key = `${topic.name}\u0000${partition}`;
      if (seen.has(key) || !isReassigning(p)) continue;
      seen.add(key);
      out.push(ongoing(topic, p));
    }
  }
  return out;
}
