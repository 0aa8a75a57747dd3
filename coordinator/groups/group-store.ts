/**
 * The applied state of consumer groups: each group's last stored membership (store-group) and its
 * committed offsets. Part of MetadataState (../metadata/state.ts), which hands it the group
 * commands in log order and carries it in snapshots; the coordinator leader rebuilds its live
 * groups (group.ts) from it when it takes over.
 *
 * Images are frozen and replaced on change, never mutated, like the rest of the metadata state.
 * Offsets are kept per group as topics sorted by name, each with its partitions sorted by number,
 * so a snapshot is the images themselves and a lookup is a binary search.
 *
 * Copies are cheap. The coordinator's write pipeline clones the metadata state at the start of
 * every burst of writes (its speculative state), and offset commits make bursts frequent, so
 * clone() shares the map of groups and each side copies it on its first change (copy on write):
 * a burst costs one copy of the map of groups, not of every offset.
 *
 * Pure: no node:* imports, no clock; commit times come in the commands.
 */
import type { ShapeReader } from '../metadata/shape.js';
import { deepFreeze } from '../metadata/shape.js';
import {
  type GroupCommand,
  GroupCommandType,
  type GroupOffsetCommits,
  type StoredGroup,
  readStoredGroup,
} from './group-commands.js';

export interface PartitionOffsetImage {
  readonly partition: number;
  readonly offset: number;
  /** -1 when unknown. */
  readonly leaderEpoch: number;
  readonly metadata: string;
  /** The leader's wall clock when it accepted the commit, ms. */
  readonly commitTimeMs: number;
}

export interface TopicOffsetsImage {
  readonly topic: string;
  /** Sorted by partition. */
  readonly partitions: readonly PartitionOffsetImage[];
}

export interface GroupImage {
  readonly groupId: string;
  /** The last stored membership; null for a group known only by its offsets (simple commits). */
  readonly metadata: StoredGroup | null;
  /** Sorted by topic. */
  readonly offsets: readonly TopicOffsetsImage[];
}

/** The read side: what the coordinator and the protocol handler look at. */
export interface GroupStoreView {
  group(groupId: string): GroupImage | undefined;
  /** Sorted by group id. */
  groups(): readonly GroupImage[];
  /** The committed offset of one partition, if any. */
  offset(groupId: string, topic: string, partition: number): PartitionOffsetImage | undefined;
}

/** Whether a partition exists in the metadata (commits to partitions that do not are dropped). */
export type PartitionExists = (topic: string, partition: number) => boolean;

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Index of `topic` in sorted `topics`, or -(insertion point) - 1. */
function findTopic(topics: readonly TopicOffsetsImage[], topic: string): number {
  let lo = 0;
  let hi = topics.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const name = topics[mid]!.topic;
    if (name === topic) return mid;
    if (name < topic) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

function findPartition(partitions: readonly PartitionOffsetImage[], partition: number): number {
  let lo = 0;
  let hi = partitions.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const p = partitions[mid]!.partition;
    if (p === partition) return mid;
    if (p < partition) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/** Changes to one group's offsets: per topic, per partition, the new offset or null to remove it. */
type OffsetChanges = Map<string, Map<number, PartitionOffsetImage | null>>;

/** A topic's partitions with `changes` applied (a copy; each change is a binary search and a splice). */
function changedPartitions(current: readonly PartitionOffsetImage[], changes: ReadonlyMap<number, PartitionOffsetImage | null>): PartitionOffsetImage[] {
  const partitions = current.slice();
  for (const [partition, value] of changes) {
    const at = findPartition(partitions, partition);
    if (at >= 0) {
      if (value === null) partitions.splice(at, 1);
      else partitions[at] = value;
    } else if (value !== null) {
      partitions.splice(-at - 1, 0, value);
    }
  }
  return partitions;
}

/** The group's offsets with `changes` applied; only the topics changed are rebuilt. */
function changedOffsets(current: readonly TopicOffsetsImage[], changes: OffsetChanges): TopicOffsetsImage[] {
  const topics = current.slice();
  for (const [topic, partitionChanges] of changes) {
    const at = findTopic(topics, topic);
    const partitions = changedPartitions(at >= 0 ? topics[at]!.partitions : [], partitionChanges);
    if (at >= 0) {
      if (partitions.length === 0) topics.splice(at, 1);
      else topics[at] = { topic, partitions };
    } else if (partitions.length > 0) {
      topics.splice(-at - 1, 0, { topic, partitions });
    }
  }
  return topics;
}

function change(changes: OffsetChanges, topic: string, partition: number, value: PartitionOffsetImage | null): void {
  let partitions = changes.get(topic);
  if (partitions === undefined) {
    partitions = new Map();
    changes.set(topic, partitions);
  }
  partitions.set(partition, value);
}

/** Whether a group holds nothing worth keeping: no members recorded and no offsets. */
function isHollow(image: GroupImage): boolean {
  return (image.metadata === null || image.metadata.members.length === 0) && image.offsets.length === 0;
}

export class GroupStore implements GroupStoreView {
  #groups: Map<string, GroupImage>;
  /** The map is shared with a clone: copy it before the first change. */
  #shared = false;
  #sorted: readonly GroupImage[] | undefined;

  private constructor(groups: Map<string, GroupImage>) {
    this.#groups = groups;
  }

  static empty(): GroupStore {
    return new GroupStore(new Map());
  }

  /** An independent copy; both share the map until either changes (copy on write). */
  clone(): GroupStore {
    const copy = new GroupStore(this.#groups);
    copy.#shared = true;
    copy.#sorted = this.#sorted;
    this.#shared = true;
    return copy;
  }

  get size(): number {
    return this.#groups.size;
  }

  group(groupId: string): GroupImage | undefined {
    return this.#groups.get(groupId);
  }

  groups(): readonly GroupImage[] {
    this.#sorted ??= Object.freeze([...this.#groups.values()].sort((a, b) => byString(a.groupId, b.groupId)));
    return this.#sorted;
  }

  offset(groupId: string, topic: string, partition: number): PartitionOffsetImage | undefined {
    const offsets = this.#groups.get(groupId)?.offsets;
    if (offsets === undefined) return undefined;
    const t = findTopic(offsets, topic);
    if (t < 0) return undefined;
    const partitions = offsets[t]!.partitions;
    const p = findPartition(partitions, partition);
    return p < 0 ? undefined : partitions[p];
  }

  /** The images, for a snapshot: plain frozen objects, sorted by group id. */
  snapshot(): readonly GroupImage[] {
    return this.groups();
  }

  /**
   * Applies one committed group command. Total: a command decided against a state that a
   * concurrent entry changed first (the group deleted, a topic gone) applies to what is there,
   * identically on every replica.
   */
  apply(command: GroupCommand, partitionExists: PartitionExists): void {
    switch (command.type) {
      case GroupCommandType.STORE_GROUP: {
        const current = this.#groups.get(command.group.groupId);
        this.#put({ groupId: command.group.groupId, metadata: command.group, offsets: current?.offsets ?? [] });
        return;
      }
      case GroupCommandType.DELETE_GROUP:
        this.#delete(command.groupId);
        return;
      case GroupCommandType.COMMIT_OFFSETS:
        for (const commits of command.groups) this.#commit(commits, partitionExists);
        return;
      case GroupCommandType.EXPIRE_OFFSETS: {
        const byGroup = new Map<string, OffsetChanges>();
        for (const key of command.offsets) change(mapOf(byGroup, key.group), key.topic, key.partition, null);
        for (const [groupId, changes] of byGroup) this.#changeOffsets(groupId, changes, true);
        return;
      }
      case GroupCommandType.DELETE_OFFSETS: {
        const changes: OffsetChanges = new Map();
        for (const p of command.partitions) change(changes, p.topic, p.partition, null);
        this.#changeOffsets(command.groupId, changes, false);
        return;
      }
    }
  }

  /** A topic was deleted: every group forgets its offsets (as Kafka's coordinator does). */
  topicDeleted(topic: string): void {
    for (const image of [...this.#groups.values()]) {
      const at = findTopic(image.offsets, topic);
      if (at < 0) continue;
      const offsets = image.offsets.slice();
      offsets.splice(at, 1);
      // A group known only by its offsets is gone with them.
      if (image.metadata === null && offsets.length === 0) this.#delete(image.groupId);
      else this.#put({ groupId: image.groupId, metadata: image.metadata, offsets });
    }
  }

  /**
   * Rebuilds a store from snapshot() output read back from JSON. Throws the reader's error
   * (CORRUPT_MESSAGE) for anything malformed, unsorted or duplicated.
   */
  static restore(shape: ShapeReader, value: unknown, path: string): GroupStore {
    const groups = new Map<string, GroupImage>();
    let previous: string | undefined;
    shape.array(value, path, 10_000_000, (v, at) => {
      const g = shape.object(v, at, ['groupId', 'metadata', 'offsets']);
      const groupId = shape.string(g.groupId, `${at}.groupId`, { maxLength: 1024 });
      if (previous !== undefined && previous >= groupId) shape.fail(`${at}.groupId`, `after ${JSON.stringify(previous)} (sorted, unique)`, groupId);
      previous = groupId;
      const metadata = g.metadata === null ? null : readStoredGroup(shape, g.metadata, `${at}.metadata`);
      if (metadata !== null && metadata.groupId !== groupId) shape.fail(`${at}.metadata.groupId`, groupId, metadata.groupId);
      const offsets = readOffsets(shape, g.offsets, `${at}.offsets`);
      const image: GroupImage = { groupId, metadata, offsets };
      if (isHollow(image) && metadata === null) shape.fail(at, 'a group with a membership record or offsets', v);
      groups.set(groupId, deepFreeze(image));
    });
    return new GroupStore(groups);
  }

  /**
   * Offset commits, the hot path under load: the group's topic and partition arrays are copied once
   * each and changed in place by binary search, and only the new arrays and objects are frozen (the
   * command's partition objects have the image's shape, and are frozen already), where the general
   * path (#changeOffsets) builds maps of changes and freezes the whole image again.
   */
  #commit(commits: GroupOffsetCommits, partitionExists: PartitionExists): void {
    const current = this.#groups.get(commits.group);
    let topics: TopicOffsetsImage[] | undefined;
    for (const t of commits.topics) {
      const working = topics ?? current?.offsets ?? [];
      const at = findTopic(working, t.topic);
      let partitions: PartitionOffsetImage[] | undefined;
      for (const p of t.partitions) {
        if (!partitionExists(t.topic, p.partition)) continue;
        partitions ??= at >= 0 ? working[at]!.partitions.slice() : [];
        // Canonical commands are frozen already; one applied as given is frozen here, as deepFreeze did.
        if (!Object.isFrozen(p)) Object.freeze(p);
        const slot = findPartition(partitions, p.partition);
        if (slot >= 0) partitions[slot] = p;
        else partitions.splice(-slot - 1, 0, p);
      }
      if (partitions === undefined) continue;
      topics ??= working.slice();
      const topic: TopicOffsetsImage = Object.freeze({ topic: t.topic, partitions: Object.freeze(partitions) });
      if (at >= 0) topics[at] = topic;
      else topics.splice(-at - 1, 0, topic);
    }
    if (topics === undefined) return;
    // Frozen here, so #put's deepFreeze stops at the image itself.
    this.#put(Object.freeze({ groupId: commits.group, metadata: current?.metadata ?? null, offsets: Object.freeze(topics) }));
  }

  /** Applies offset changes to a group (creating it for a first commit); `dropHollow` removes it if left with nothing. */
  #changeOffsets(groupId: string, changes: OffsetChanges, dropHollow: boolean): void {
    const current = this.#groups.get(groupId);
    if (current === undefined && ![...changes.values()].some((partitions) => [...partitions.values()].some((v) => v !== null))) return;
    const image: GroupImage = { groupId, metadata: current?.metadata ?? null, offsets: changedOffsets(current?.offsets ?? [], changes) };
    if (isHollow(image) && (dropHollow || image.metadata === null)) this.#delete(groupId);
    else this.#put(image);
  }

  #writable(): Map<string, GroupImage> {
    if (this.#shared) {
      this.#groups = new Map(this.#groups);
      this.#shared = false;
    }
    return this.#groups;
  }

  #put(image: GroupImage): void {
    this.#writable().set(image.groupId, deepFreeze(image));
    this.#sorted = undefined;
  }

  #delete(groupId: string): void {
    if (!this.#groups.has(groupId)) return;
    this.#writable().delete(groupId);
    this.#sorted = undefined;
  }
}

function mapOf(byGroup: Map<string, OffsetChanges>, groupId: string): OffsetChanges {
  let changes = byGroup.get(groupId);
  if (changes === undefined) {
    changes = new Map();
    byGroup.set(groupId, changes);
  }
  return changes;
}

function readOffsets(shape: ShapeReader, value: unknown, path: string): TopicOffsetsImage[] {
  let previousTopic: string | undefined;
  return shape.array(value, path, 1_000_000, (v, at) => {
    const t = shape.object(v, at, ['topic', 'partitions']);
    const topic = shape.string(t.topic, `${at}.topic`, { maxLength: 249 });
    if (previousTopic !== undefined && previousTopic >= topic) shape.fail(`${at}.topic`, `after ${JSON.stringify(previousTopic)} (sorted, unique)`, topic);
    previousTopic = topic;
    let previousPartition = -1;
    const partitions = shape.array(t.partitions, `${at}.partitions`, 1_000_000, (pv, pat) => {
      const p = shape.object(pv, pat, ['partition', 'offset', 'leaderEpoch', 'metadata', 'commitTimeMs']);
      const partition = shape.integer(p.partition, `${pat}.partition`, previousPartition + 1, 2 ** 31 - 1);
      previousPartition = partition;
      return {
        partition,
        offset: shape.integer(p.offset, `${pat}.offset`, 0),
        leaderEpoch: shape.integer(p.leaderEpoch, `${pat}.leaderEpoch`, -1, 2 ** 31 - 1),
        metadata: shape.string(p.metadata, `${pat}.metadata`, { minLength: 0, maxLength: 1024 * 1024 }),
        commitTimeMs: shape.integer(p.commitTimeMs, `${pat}.commitTimeMs`, 0),
      };
    });
    if (partitions.length === 0) shape.fail(`${at}.partitions`, 'non-empty', []);
    return { topic, partitions };
  });
}
