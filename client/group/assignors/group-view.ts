/**
 * What every assignor does before and after its own algorithm: check the input, put the members in
 * a canonical order, find the topics in play, and build the result in ascending order.
 *
 * The canonical order is what makes an assignor deterministic whatever order the coordinator listed
 * the members in. It is Kafka's (AbstractPartitionAssignor.MemberInfo): static members first, by
 * group.instance.id, then dynamic members by member id. Static members sort by their instance id
 * because a restarted static member comes back with a new member id; sorting by the id that
 * survives the restart keeps range and round-robin giving it the same partitions.
 *
 * Pure: no node:* imports.
 */
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { compareStrings } from './consumer-protocol.js';
import type { GroupAssignment, MemberAssignment, MemberSubscription, TopicInfo, TopicMetadata, TopicPartitions } from './types.js';

const PARTITION_COUNT_MAX = 0x7fff_ffff;

/** One rebalance's input, checked and in canonical order. */
export interface GroupView {
  /** The members in canonical order; assignors refer to a member by its index here. */
  readonly members: readonly MemberSubscription[];
  /** The topics that exist and that at least one member subscribes to, ascending. */
  readonly topics: readonly string[];
  /** Per member (same index), the topics of `topics` it subscribes to. */
  readonly subscribed: readonly ReadonlySet<string>[];
  readonly metadata: TopicMetadata;
}

/** Kafka's member order: static members by instance id first, then dynamic members by member id. */
export function compareMembers(a: MemberSubscription, b: MemberSubscription): number {
  if (a.groupInstanceId !== null && b.groupInstanceId !== null) {
    return compareStrings(a.groupInstanceId, b.groupInstanceId) || compareStrings(a.memberId, b.memberId);
  }
  if (a.groupInstanceId !== null) return -1;
  if (b.groupInstanceId !== null) return 1;
  return compareStrings(a.memberId, b.memberId);
}

/** Checks the input (StreamBusError on a repeated member id or bad topic metadata) and orders it. */
export function groupView(members: readonly MemberSubscription[], metadata: TopicMetadata): GroupView {
  const ids = new Set<string>();
  for (const member of members) {
    if (ids.has(member.memberId)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `member id "${member.memberId}" appears twice in the group`);
    ids.add(member.memberId);
  }
  for (const [topic, info] of metadata) checkTopic(topic, info);
  const sorted = [...members].sort(compareMembers);
  const inPlay = new Set<string>();
  const subscribed = sorted.map((member) => {
    const topics = new Set(member.topics.filter((topic) => metadata.has(topic)));
    for (const topic of topics) inPlay.add(topic);
    return topics;
  });
  return { members: sorted, topics: [...inPlay].sort(compareStrings), subscribed, metadata };
}

/** The partition count of a topic in play (0 if absent, which groupView never lets through). */
export function partitionCount(view: GroupView, topic: string): number {
  return view.metadata.get(topic)?.partitionCount ?? 0;
}

/** Collects partitions per member index and builds the result in ascending order. */
export class AssignmentBuilder {
  readonly #view: GroupView;
  readonly #byMember: Map<string, number[]>[];

  constructor(view: GroupView) {
    this.#view = view;
    this.#byMember = view.members.map(() => new Map<string, number[]>());
  }

  add(memberIndex: number, topic: string, partition: number): void {
    const topics = this.#byMember[memberIndex];
    if (topics === undefined) throw new RangeError(`no member at index ${memberIndex}`);
    const partitions = topics.get(topic);
    if (partitions === undefined) topics.set(topic, [partition]);
    else partitions.push(partition);
  }

  build(pendingRevocation: readonly TopicPartitions[] = []): GroupAssignment {
    const members = new Map<string, MemberAssignment>();
    this.#view.members.forEach((member, index) => {
      const topics = this.#byMember[index] ?? new Map<string, number[]>();
      const partitions = new Map<string, readonly number[]>();
      for (const topic of [...topics.keys()].sort(compareStrings)) {
        partitions.set(topic, [...(topics.get(topic) ?? [])].sort((a, b) => a - b));
      }
      members.set(member.memberId, { partitions, userData: null });
    });
    return { members, pendingRevocation };
  }
}

function checkTopic(topic: string, info: TopicInfo): void {
  const count = info.partitionCount;
  if (!Number.isInteger(count) || count < 0 || count > PARTITION_COUNT_MAX) {
    throw new StreamBusError(ErrorCode.INVALID_PARTITIONS, `topic "${topic}" has partition count ${count}`, { context: { topic } });
  }
  if (info.partitionRacks !== undefined && info.partitionRacks.length !== count) {
    throw new StreamBusError(
      ErrorCode.INVALID_REQUEST,
      `topic "${topic}" has ${count} partitions but rack information for ${info.partitionRacks.length}`,
      { context: { topic } },
    );
  }
}
