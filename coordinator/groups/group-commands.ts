/**
 * The metadata commands of consumer groups, and their structural readers.
 *
 * Groups live in the same Raft log as the rest of the metadata (docs/groups.md says why), but only
 * what must survive a change of coordinator leader reaches the log:
 * - `store-group`: a group's state after a completed rebalance (or once it emptied): generation,
 *   protocol, leader and every member with its subscription and assignment. Heartbeats, join and
 *   sync barriers and timers stay soft state on the leader (group.ts).
 * - `delete-group`: the group and its committed offsets go (DeleteGroups).
 * - `commit-offsets`: committed offsets of any number of groups. The leader's batcher
 *   (offset-batcher.ts) coalesces every commit that arrives while the previous entry is in flight
 *   into one such command, so offsets cost a few hundred Raft entries per second, not one each.
 * - `expire-offsets`: offsets of empty groups past offsets.retention.minutes.
 * - `delete-offsets`: offsets removed on request (OffsetDelete).
 *
 * Member subscriptions and assignments are opaque bytes to the coordinator; in the JSON of a
 * command they are base64 strings. Commit and state times are the leader's wall clock in ms,
 * decided once and logged, so every replica applies the same value.
 *
 * Pure: no node:* imports.
 */
import type { ShapeReader } from '../metadata/shape.js';

export const GroupCommandType = {
  STORE_GROUP: 'store-group',
  DELETE_GROUP: 'delete-group',
  COMMIT_OFFSETS: 'commit-offsets',
  EXPIRE_OFFSETS: 'expire-offsets',
  DELETE_OFFSETS: 'delete-offsets',
} as const;
export type GroupCommandType = (typeof GroupCommandType)[keyof typeof GroupCommandType];

/** The longest group id, member id, instance id or client id the coordinator accepts. */
export const MAX_GROUP_ID_LENGTH = 1024;
/** The longest topic name (Kafka's limit). */
export const MAX_TOPIC_LENGTH = 249;
/** A bound for the reader: the coordinator enforces its own offset.metadata.max.bytes below it. */
export const MAX_OFFSET_METADATA_LENGTH = 1024 * 1024;
/** A bound for the reader on one member's subscription or assignment, as base64. */
const MAX_MEMBER_BYTES_BASE64 = 8 * 1024 * 1024;
const MAX_MEMBERS = 100_000;
const MAX_OFFSETS_PER_COMMAND = 1_000_000;
export const MAX_PARTITION = 2 ** 31 - 1;
export const MAX_INT32 = 2 ** 31 - 1;

/** One member of a group as the log keeps it. */
export interface StoredMember {
  readonly memberId: string;
  /** group.instance.id of a static member; null for a dynamic one. */
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** Its metadata for the group's selected protocol (the subscription), base64. */
  readonly subscription: string;
  /** What the group leader assigned it, base64. */
  readonly assignment: string;
}

/** A group after a completed rebalance (members present) or once it emptied (no members). */
export interface StoredGroup {
  readonly groupId: string;
  readonly generation: number;
  /** 'consumer' for consumer groups; null for a group that never had members. */
  readonly protocolType: string | null;
  /** The selected protocol (the assignor); null while the group is empty. */
  readonly protocolName: string | null;
  /** The member id of the group leader; null while the group is empty. */
  readonly leader: string | null;
  /** Wall clock (ms) when the group entered this state: for an empty group, when it emptied. */
  readonly stateTimestampMs: number;
  readonly members: readonly StoredMember[];
}

export interface StoreGroupCommand {
  readonly type: 'store-group';
  readonly group: StoredGroup;
}

export interface DeleteGroupCommand {
  readonly type: 'delete-group';
  readonly groupId: string;
}

/** One committed offset, as the leader's batcher queues it (see commitOffsetsCommand for the logged form). */
export interface OffsetCommitEntry {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The leader epoch of the last consumed record; -1 when unknown. */
  readonly leaderEpoch: number;
  readonly metadata: string;
  /** The leader's wall clock when it accepted the commit, ms. */
  readonly commitTimeMs: number;
}

/** One partition's committed offset, inside a commit-offsets command. */
export interface CommittedPartition {
  readonly partition: number;
  readonly offset: number;
  /** The leader epoch of the last consumed record; -1 when unknown. */
  readonly leaderEpoch: number;
  readonly metadata: string;
  /** The leader's wall clock when it accepted the commit, ms. */
  readonly commitTimeMs: number;
}

/** The offsets one group commits in one entry, by topic. */
export interface GroupOffsetCommits {
  readonly group: string;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly CommittedPartition[] }[];
}

/**
 * Offsets of one or more groups, committed together. Nested by group and topic, so a batch of a
 * few hundred commits names each group and topic once. Later entries for a partition win.
 */
export interface CommitOffsetsCommand {
  readonly type: 'commit-offsets';
  readonly groups: readonly GroupOffsetCommits[];
}

export interface OffsetKey {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
}

/**
 * Offsets past retention. A group left with no members recorded and no offsets is removed with
 * them, as Kafka's offset cleanup removes an empty group whose last offsets expired.
 */
export interface ExpireOffsetsCommand {
  readonly type: 'expire-offsets';
  readonly offsets: readonly OffsetKey[];
}

/** Offsets of one group removed on request (OffsetDelete); the group itself stays. */
export interface DeleteOffsetsCommand {
  readonly type: 'delete-offsets';
  readonly groupId: string;
  readonly partitions: readonly { readonly topic: string; readonly partition: number }[];
}

export type GroupCommand = StoreGroupCommand | DeleteGroupCommand | CommitOffsetsCommand | ExpireOffsetsCommand | DeleteOffsetsCommand;

const groupCommandTypes: ReadonlySet<unknown> = new Set(Object.values(GroupCommandType));

/** Whether `type` names a group command (so commands.ts hands its reading to this file). */
export function isGroupCommandType(type: unknown): type is GroupCommandType {
  return groupCommandTypes.has(type);
}

/** Whether a metadata command is a group command (narrows the command). */
export function isGroupCommand(command: { readonly type: string }): command is GroupCommand {
  return groupCommandTypes.has(command.type);
}

/** The commit-offsets command of a batch of queued commits (grouped by group, then topic, in first-seen order). */
export function commitOffsetsCommand(entries: readonly OffsetCommitEntry[]): CommitOffsetsCommand {
  const groups = new Map<string, Map<string, CommittedPartition[]>>();
  for (const e of entries) {
    let topics = groups.get(e.group);
    if (topics === undefined) {
      topics = new Map();
      groups.set(e.group, topics);
    }
    let partitions = topics.get(e.topic);
    if (partitions === undefined) {
      partitions = [];
      topics.set(e.topic, partitions);
    }
    partitions.push({ partition: e.partition, offset: e.offset, leaderEpoch: e.leaderEpoch, metadata: e.metadata, commitTimeMs: e.commitTimeMs });
  }
  return {
    type: GroupCommandType.COMMIT_OFFSETS,
    groups: [...groups].map(([group, topics]) => ({ group, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) })),
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64(shape: ShapeReader, value: unknown, path: string): string {
  const text = shape.string(value, path, { minLength: 0, maxLength: MAX_MEMBER_BYTES_BASE64 });
  if (text.length % 4 !== 0 || !BASE64.test(text)) shape.fail(path, 'base64', value);
  return text;
}

function id(shape: ShapeReader, value: unknown, path: string, minLength = 1): string {
  return shape.string(value, path, { minLength, maxLength: MAX_GROUP_ID_LENGTH });
}

function topic(shape: ShapeReader, value: unknown, path: string): string {
  return shape.string(value, path, { maxLength: MAX_TOPIC_LENGTH });
}

function readMember(shape: ShapeReader, value: unknown, path: string): StoredMember {
  const m = shape.object(value, path, ['memberId', 'groupInstanceId', 'clientId', 'clientHost', 'sessionTimeoutMs', 'rebalanceTimeoutMs', 'subscription', 'assignment']);
  return {
    memberId: id(shape, m.memberId, `${path}.memberId`),
    groupInstanceId: m.groupInstanceId === null ? null : id(shape, m.groupInstanceId, `${path}.groupInstanceId`),
    clientId: id(shape, m.clientId, `${path}.clientId`, 0),
    clientHost: shape.string(m.clientHost, `${path}.clientHost`, { minLength: 0, maxLength: 255 }),
    sessionTimeoutMs: shape.integer(m.sessionTimeoutMs, `${path}.sessionTimeoutMs`, 1, MAX_INT32),
    rebalanceTimeoutMs: shape.integer(m.rebalanceTimeoutMs, `${path}.rebalanceTimeoutMs`, 1, MAX_INT32),
    subscription: base64(shape, m.subscription, `${path}.subscription`),
    assignment: base64(shape, m.assignment, `${path}.assignment`),
  };
}

/** Reads a stored group (a command's or a snapshot's); member ids must be unique, the leader one of them. */
export function readStoredGroup(shape: ShapeReader, value: unknown, path: string): StoredGroup {
  const g = shape.object(value, path, ['groupId', 'generation', 'protocolType', 'protocolName', 'leader', 'stateTimestampMs', 'members']);
  const members = shape.array(g.members, `${path}.members`, MAX_MEMBERS, (v, at) => readMember(shape, v, at));
  const group: StoredGroup = {
    groupId: id(shape, g.groupId, `${path}.groupId`),
    generation: shape.integer(g.generation, `${path}.generation`, 0, MAX_INT32),
    protocolType: g.protocolType === null ? null : shape.string(g.protocolType, `${path}.protocolType`, { maxLength: 255 }),
    protocolName: g.protocolName === null ? null : shape.string(g.protocolName, `${path}.protocolName`, { maxLength: 255 }),
    leader: g.leader === null ? null : id(shape, g.leader, `${path}.leader`),
    stateTimestampMs: shape.integer(g.stateTimestampMs, `${path}.stateTimestampMs`, 0),
    members,
  };
  if (new Set(members.map((m) => m.memberId)).size !== members.length) shape.fail(`${path}.members`, 'members with distinct ids', members.map((m) => m.memberId));
  const instances = members.flatMap((m) => (m.groupInstanceId === null ? [] : [m.groupInstanceId]));
  if (new Set(instances).size !== instances.length) shape.fail(`${path}.members`, 'members with distinct group instance ids', instances);
  const hasMembers = members.length > 0;
  if (hasMembers !== (group.leader !== null) || (group.leader !== null && !members.some((m) => m.memberId === group.leader))) {
    shape.fail(`${path}.leader`, hasMembers ? 'the member id of one of its members' : 'null for a group without members', g.leader);
  }
  if (hasMembers && (group.protocolType === null || group.protocolName === null)) shape.fail(`${path}.protocolName`, 'set for a group with members', g.protocolName);
  return group;
}

function readOffsetKey(shape: ShapeReader, value: unknown, path: string): OffsetKey {
  const k = shape.object(value, path, ['group', 'topic', 'partition']);
  return {
    group: id(shape, k.group, `${path}.group`),
    topic: topic(shape, k.topic, `${path}.topic`),
    partition: shape.integer(k.partition, `${path}.partition`, 0, MAX_PARTITION),
  };
}

function readGroupCommits(shape: ShapeReader, value: unknown, path: string): GroupOffsetCommits {
  const g = shape.object(value, path, ['group', 'topics']);
  return {
    group: id(shape, g.group, `${path}.group`),
    topics: eachOf(shape, g.topics, `${path}.topics`, (tv, at) => {
      const t = shape.object(tv, at(), ['topic', 'partitions']);
      return { topic: topic(shape, t.topic, `${at()}.topic`), partitions: eachOf(shape, t.partitions, `${at()}.partitions`, (pv, pat) => readCommittedPartition(shape, pv, pat)) };
    }),
  };
}

/**
 * shape.array for the long arrays of commit-offsets (hundreds of items per entry, on every node):
 * an item's path is built only if it fails.
 */
function eachOf<T>(shape: ShapeReader, value: unknown, path: string, item: (value: unknown, path: () => string) => T): T[] {
  if (!Array.isArray(value) || value.length > MAX_OFFSETS_PER_COMMAND) shape.fail(path, `an array of at most ${MAX_OFFSETS_PER_COMMAND} items`, value);
  const items = value as unknown[];
  const out = new Array<T>(items.length);
  for (let i = 0; i < items.length; i++) out[i] = item(items[i], () => `${path}[${i}]`);
  return out;
}

const PARTITION_KEYS = ['partition', 'offset', 'leaderEpoch', 'metadata', 'commitTimeMs'];

/** Whether `n` is a safe integer in min..max (the shape reader's check, without a path). */
function inRange(n: unknown, min: number, max: number): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= min && n <= max;
}

/**
 * One committed partition. The common case (a well-formed item, as the leader wrote it) is checked
 * without building any path string; anything else goes through the shape reader, which names the
 * bad field.
 */
function readCommittedPartition(shape: ShapeReader, value: unknown, path: () => string): CommittedPartition {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const e = value as Record<string, unknown>;
    const keys = Object.keys(e);
    if (
      keys.length === PARTITION_KEYS.length &&
      keys.every((k) => PARTITION_KEYS.includes(k)) &&
      inRange(e.partition, 0, MAX_PARTITION) &&
      inRange(e.offset, 0, Number.MAX_SAFE_INTEGER) &&
      inRange(e.leaderEpoch, -1, MAX_INT32) &&
      typeof e.metadata === 'string' &&
      e.metadata.length <= MAX_OFFSET_METADATA_LENGTH &&
      inRange(e.commitTimeMs, 0, Number.MAX_SAFE_INTEGER)
    ) {
      // -0 reads as 0, as the shape reader makes it.
      return { partition: e.partition + 0, offset: e.offset + 0, leaderEpoch: e.leaderEpoch + 0, metadata: e.metadata, commitTimeMs: e.commitTimeMs + 0 };
    }
  }
  const at = path();
  const e = shape.object(value, at, PARTITION_KEYS);
  return {
    partition: shape.integer(e.partition, `${at}.partition`, 0, MAX_PARTITION),
    offset: shape.integer(e.offset, `${at}.offset`, 0),
    leaderEpoch: shape.integer(e.leaderEpoch, `${at}.leaderEpoch`, -1, MAX_INT32),
    metadata: shape.string(e.metadata, `${at}.metadata`, { minLength: 0, maxLength: MAX_OFFSET_METADATA_LENGTH }),
    commitTimeMs: shape.integer(e.commitTimeMs, `${at}.commitTimeMs`, 0),
  };
}

/**
 * Checks a group command's structure and returns a fresh copy in canonical field order (see
 * readMetadataCommand in ../metadata/commands.ts, which hands group commands here).
 */
export function readGroupCommand(shape: ShapeReader, value: unknown, type: GroupCommandType, path: string): GroupCommand {
  switch (type) {
    case GroupCommandType.STORE_GROUP: {
      const c = shape.object(value, path, ['type', 'group']);
      return { type, group: readStoredGroup(shape, c.group, `${path}.group`) };
    }
    case GroupCommandType.DELETE_GROUP: {
      const c = shape.object(value, path, ['type', 'groupId']);
      return { type, groupId: id(shape, c.groupId, `${path}.groupId`) };
    }
    case GroupCommandType.COMMIT_OFFSETS: {
      const c = shape.object(value, path, ['type', 'groups']);
      return { type, groups: eachOf(shape, c.groups, `${path}.groups`, (v, at) => readGroupCommits(shape, v, at())) };
    }
    case GroupCommandType.EXPIRE_OFFSETS: {
      const c = shape.object(value, path, ['type', 'offsets']);
      return { type, offsets: shape.array(c.offsets, `${path}.offsets`, MAX_OFFSETS_PER_COMMAND, (v, at) => readOffsetKey(shape, v, at)) };
    }
    case GroupCommandType.DELETE_OFFSETS: {
      const c = shape.object(value, path, ['type', 'groupId', 'partitions']);
      return {
        type,
        groupId: id(shape, c.groupId, `${path}.groupId`),
        partitions: shape.array(c.partitions, `${path}.partitions`, MAX_OFFSETS_PER_COMMAND, (v, at) => {
          const p = shape.object(v, at, ['topic', 'partition']);
          return { topic: topic(shape, p.topic, `${at}.topic`), partition: shape.integer(p.partition, `${at}.partition`, 0, MAX_PARTITION) };
        }),
      };
    }
  }
}
