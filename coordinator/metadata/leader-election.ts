/**
 * Leader election and ISR upkeep when brokers come and go: the controller rules that make a
 * cluster fail over by itself (Kafka's KRaft ReplicationControlManager, without eligible leader
 * replicas).
 *
 * - A broker leaves (its session expired, its connection closed, it asked to shut down, or it
 *   registered again as a new incarnation): it leaves every ISR it is in, except that an ISR never
 *   becomes empty: its last member stays, so the one replica known to hold every committed record
 *   is remembered. Where it led, the first replica (in replica order) that is in the ISR and live
 *   becomes leader; with none, the partition is offline (leader -1), unless the topic allows
 *   unclean election: then the first live replica leads with an ISR of itself (committed records
 *   it lacks are lost: that is the trade the setting makes).
 * - A broker comes back (it is unfenced): offline partitions whose ISR holds it get a leader again
 *   (it, or an earlier live ISR member); offline partitions of topics that allow unclean election
 *   get it as leader even when it is not in the ISR.
 * - Preferred election moves leadership to the first replica when it is in the ISR and live;
 *   unclean election on request gives an offline partition any live replica (Kafka's ElectLeaders).
 *
 * A replica is live when its broker is registered and unfenced. Wherever a leader is chosen, a
 * live broker that is not draining (`streambus broker drain`) comes before one that is, and
 * preferred election skips a draining preferred replica. Pure: (state, which brokers change) →
 * change-partition commands; nothing here reads a clock.
 */
import { ErrorCode } from '../../proto/errors.js';
import type { ChangePartitionCommand, PartitionAssignment } from './commands.js';
import { partitionChange, type PartitionTarget } from './partition-change.js';
import { type BrokerStates, brokerStates, eligibleLeader } from './partition-rules.js';
import type { MetadataStateView, TopicImage } from './state.js';

export interface LeaderElectionOptions {
  /** unclean.leader.election.enable for topics that do not set it. Default false. */
  readonly uncleanLeaderElectionDefault?: boolean;
}

export const ElectionType = {
  /** Move leadership to the first replica, when it is in the ISR and live. */
  PREFERRED: 'preferred',
  /** Give a partition without a leader one: an ISR member if one is live, else any live replica. */
  UNCLEAN: 'unclean',
} as const;
export type ElectionType = (typeof ElectionType)[keyof typeof ElectionType];

/** Which partitions to elect for: every partition of every topic, or the ones named. */
export interface ElectLeadersRequest {
  readonly type: ElectionType;
  /** Undefined: every partition. A topic without `partitions`: every partition of it. */
  readonly topics?: readonly { readonly topic: string; readonly partitions?: readonly number[] }[];
}

export interface ElectionResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: ErrorCode;
  readonly errorMessage: string | null;
  /** The leader after the election (or as it is, when none took place); -1 for none or unknown. */
  readonly leader: number;
}

/** Whether the topic allows unclean election: its own setting, else the coordinator's default. */
export function uncleanAllowed(topic: TopicImage, options: LeaderElectionOptions): boolean {
  const own = topic.configs['unclean.leader.election.enable'];
  return own === undefined ? options.uncleanLeaderElectionDefault === true : own === 'true';
}

/** The first live replica (not draining before draining), for unclean elections. */
function anyLive(replicas: readonly number[], brokers: BrokerStates): number | undefined {
  return eligibleLeader(replicas, replicas, brokers);
}

/**
 * Where a partition goes once the brokers in `gone` are no longer live (`live` excludes them):
 * out of the ISR (the last member stays), and a new leader where one of them led or none does.
 */
function withoutBrokers(p: PartitionAssignment, gone: ReadonlySet<number>, brokers: BrokerStates, unclean: boolean): PartitionTarget {
  let isr = p.isr.filter((id) => !gone.has(id));
  // Never empty: keep the member that led (it had everything committed and maybe more), else the
  // first one in ISR order. KRaft removes brokers one by one and so keeps the last one fenced;
  // every ISR member holds every committed record, so either choice is safe.
  if (isr.length === 0) isr = [p.isr.includes(p.leader) ? p.leader : p.isr[0]!];
  let leader = p.leader;
  if (leader === -1 || gone.has(leader)) {
    leader = eligibleLeader(p.replicas, isr, brokers) ?? -1;
    if (leader === -1 && unclean) {
      const live = anyLive(p.replicas, brokers);
      if (live !== undefined) return { leader: live, isr: [live] };
    }
  }
  return { leader, isr };
}

/**
 * Change-partition commands for every partition that changes when the brokers in `gone` stop being
 * live: fenced on session expiry or a closed connection, asking to shut down (controlled shutdown),
 * or registering again as a new incarnation. Decided against `state` with those brokers taken as
 * not live, whatever their registration says; log them in the same entry as the fencing.
 */
export function removeBrokers(state: MetadataStateView, gone: ReadonlySet<number>, options: LeaderElectionOptions = {}): ChangePartitionCommand[] {
  const current = brokerStates(state);
  const brokers: BrokerStates = { live: new Set([...current.live].filter((id) => !gone.has(id))), draining: current.draining };
  const commands: ChangePartitionCommand[] = [];
  for (const topic of state.topics()) {
    const unclean = uncleanAllowed(topic, options);
    for (const p of topic.partitions) {
      if (!p.isr.some((id) => gone.has(id)) && !gone.has(p.leader)) continue;
      const change = partitionChange(topic.topicId, p, withoutBrokers(p, gone, brokers, unclean));
      if (change !== null) commands.push(change);
    }
  }
  return commands;
}

/**
 * Change-partition commands that give offline partitions (leader -1) a leader once broker `nodeId`
 * is live again (it is being unfenced): the first live ISR member in replica order, or, for topics
 * that allow unclean election and have no live ISR member, `nodeId` with an ISR of itself.
 */
export function brokerReturns(state: MetadataStateView, nodeId: number, options: LeaderElectionOptions = {}): ChangePartitionCommand[] {
  const current = brokerStates(state);
  const brokers: BrokerStates = { live: new Set([...current.live, nodeId]), draining: current.draining };
  const commands: ChangePartitionCommand[] = [];
  for (const topic of state.topics()) {
    const unclean = uncleanAllowed(topic, options);
    for (const p of topic.partitions) {
      if (p.leader !== -1 || !p.replicas.includes(nodeId)) continue;
      const leader = eligibleLeader(p.replicas, p.isr, brokers);
      const target: PartitionTarget | undefined = leader !== undefined ? { leader } : unclean ? { leader: nodeId, isr: [nodeId] } : undefined;
      const change = target === undefined ? null : partitionChange(topic.topicId, p, target);
      if (change !== null) commands.push(change);
    }
  }
  return commands;
}

/** One partition's election; the target to move to, or the error code that says why not. */
function elect(type: ElectionType, p: PartitionAssignment, brokers: BrokerStates): PartitionTarget | { errorCode: ErrorCode; errorMessage: string } {
  const live = brokers.live;
  if (type === ElectionType.PREFERRED) {
    const preferred = p.replicas[0] ?? -1;
    if (p.leader === preferred) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: `broker ${preferred}, the preferred leader, leads already` };
    if (!p.isr.includes(preferred) || !live.has(preferred) || brokers.draining.has(preferred)) {
      const why = !live.has(preferred) ? 'is fenced or not registered' : !p.isr.includes(preferred) ? 'is not in the ISR' : 'is draining (broker undrain ends that)';
      return { errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: `the preferred leader, broker ${preferred}, ${why}` };
    }
    return { leader: preferred };
  }
  if (p.leader !== -1) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: `the partition has a leader (broker ${p.leader})` };
  const clean = eligibleLeader(p.replicas, p.isr, brokers);
  if (clean !== undefined) return { leader: clean };
  const fallback = anyLive(p.replicas, brokers);
  if (fallback === undefined) {
    return { errorCode: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, errorMessage: `no replica of [${p.replicas.join(', ')}] is live` };
  }
  return { leader: fallback, isr: [fallback] };
}

/**
 * Kafka's ElectLeaders: a result per named partition (unknown ones: UNKNOWN_TOPIC_OR_PARTITION) and
 * a command for each that gets a new leader. Per partition: ELECTION_NOT_NEEDED (preferred: the
 * preferred replica leads; unclean: the partition has a leader), PREFERRED_LEADER_NOT_AVAILABLE
 * (the preferred replica is out of the ISR or not live), ELIGIBLE_LEADERS_NOT_AVAILABLE (unclean:
 * no replica is live). Asked for every partition (no topics), it reports only the partitions that
 * needed an election, as Kafka does. Unclean election on request ignores the topic's setting: the
 * operator asked for it.
 */
export function electLeaders(state: MetadataStateView, request: ElectLeadersRequest): { results: ElectionResult[]; commands: ChangePartitionCommand[] } {
  const brokers = brokerStates(state);
  const results: ElectionResult[] = [];
  const commands: ChangePartitionCommand[] = [];
  const everything = request.topics === undefined;
  const seen = new Set<string>();
  const one = (topic: TopicImage | undefined, name: string, partition: number): void => {
    const key = `${name}\u0000${partition}`;
    if (seen.has(key)) return;
    seen.add(key);
    const p = topic?.partitions[partition];
    if (topic === undefined || p === undefined) {
      const why = topic === undefined ? `topic '${name}' does not exist` : `topic '${name}' has no partition ${partition}`;
      results.push({ topic: name, partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: why, leader: -1 });
      return;
    }
    const outcome = elect(request.type, p, brokers);
    if ('errorCode' in outcome) {
      if (!everything || outcome.errorCode !== ErrorCode.ELECTION_NOT_NEEDED) {
        results.push({ topic: name, partition, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage, leader: p.leader });
      }
      return;
    }
    const change = partitionChange(topic.topicId, p, outcome);
    if (change !== null) commands.push(change);
    results.push({ topic: name, partition, errorCode: ErrorCode.NONE, errorMessage: null, leader: outcome.leader ?? p.leader });
  };
  if (request.topics === undefined) {
    for (const topic of state.topics()) for (const p of topic.partitions) one(topic, topic.name, p.partition);
  } else {
    for (const wanted of request.topics) {
      const topic = state.topic(wanted.topic);
      const partitions = wanted.partitions ?? topic?.partitions.map((p) => p.partition) ?? [-1];
      for (const partition of partitions) one(topic, wanted.topic, partition);
    }
  }
  return { results, commands };
}

/**
 * The automatic preferred-leader rebalance (auto.leader.rebalance.enable): a change for every
 * partition whose preferred replica is in the ISR, live and not draining, but does not lead.
 */
export function preferredRebalance(state: MetadataStateView): ChangePartitionCommand[] {
  return electLeaders(state, { type: ElectionType.PREFERRED }).commands;
}
