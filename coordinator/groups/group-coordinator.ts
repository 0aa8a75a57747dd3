/**
 * The group coordinator: consumer groups and their committed offsets, served by the coordinator
 * (Raft) leader. Kafka's semantics (DESIGN.md decision 7), so the Kafka listener maps onto it one
 * to one; docs/groups.md explains the design.
 *
 * Soft state on the leader. Each group's live state machine (group.ts: members, sessions, the join
 * and sync barriers) exists only on the leader, like broker sessions (../broker-session-ops.ts).
 * What must survive a change of leader goes in the metadata log: a group's state after each
 * completed rebalance (store-group), its deletion, and committed offsets. A node that becomes
 * leader rebuilds its groups from the applied state (reset()) and gives every member a fresh
 * session timeout; its members carry on with their next heartbeat. A node that stops leading drops
 * its groups and answers every waiting JoinGroup and SyncGroup with NOT_COORDINATOR, which sends
 * clients to look for the new leader (FIND_COORDINATOR names it).
 *
 * Writes go through the coordinator's write pipeline like every metadata write. Offset commits go
 * through the batcher (offset-batcher.ts): at most one commit-offsets entry in flight, carrying
 * every commit that arrived while the previous one was being replicated. A commit is answered once
 * its entry is applied here, so a commit acknowledged is on a quorum and survives the leader.
 *
 * Timers (only while leading): every TICK_MS the groups expire sessions and barriers; every
 * offsets.retention.check.interval.ms the offsets of empty groups past offsets.retention.minutes
 * are expired (expire-offsets) and empty groups left with nothing are deleted (delete-group).
 *
 * Reads. OffsetFetch, ListGroups and DescribeGroups answer on the leader only (as Kafka's
 * coordinator does), from its live groups and the applied offsets.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { Logger } from '../logger.js';
import { abortReason } from '../metadata/abort.js';
import type { MetadataCommand } from '../metadata/commands.js';
import type { MetadataStateView } from '../metadata/state.js';
import { TxnState } from '../transactions/txn-types.js';
import { type Submit, write } from '../coordinator-steps.js';
import { type OffsetCommitEntry, type OffsetKey, commitOffsetsCommand } from './group-commands.js';
import { Group, type GroupAction, type GroupContext } from './group.js';
import { OffsetBatcher, type OffsetBatcherStats } from './offset-batcher.js';
import {
  type CommitIdentity,
  DEFAULT_GROUP_SETTINGS,
  type DescribedGroup,
  type FetchedOffset,
  type GroupResult,
  type GroupSettings,
  GroupState,
  type HeartbeatRequest,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type LeaveGroupResponse,
  type LeavingMember,
  type ListedGroup,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetDeleteResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type PartitionError,
  type SyncGroupRequest,
  type SyncGroupResponse,
} from './group-types.js';
import { MAX_GROUP_ID_LENGTH } from './group-commands.js';

/** How often groups look at their timers. */
const TICK_MS = 100;
/**
 * Longest a heartbeat is held (see heartbeat()): a client asking for longer is answered sooner.
 * Well under any session timeout the coordinator accepts, so a held member never expires.
 */
const HEARTBEAT_HOLD_MAX_MS = 5_000;
/** Offsets in one commit-offsets entry. */
const MAX_BATCH_OFFSETS = 20_000;
/** Bytes of offsets in one entry: well under the log's 4 MiB record limit, whatever the metadata. */
const MAX_BATCH_BYTES = 2 * 1024 * 1024;
/** Offsets waiting to be committed on the leader, in all. */
const MAX_QUEUED_OFFSETS = 500_000;
/** How often an OffsetFetch waiting for a transaction's pending offsets looks again. */
const STABLE_POLL_MS = 10;
/** Longest an OffsetFetch waits for pending transactional offsets before answering a retriable error. */
const STABLE_WAIT_MAX_MS = 5_000;

export interface GroupCoordinatorSettings extends GroupSettings {
  /** offsets.retention.minutes, in ms: offsets of an empty group live this long. Kafka's default 7 days. */
  readonly offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms: how often the leader expires offsets. Kafka's default 600 000. */
  readonly offsetsRetentionCheckIntervalMs: number;
  /** offset.metadata.max.bytes: the longest metadata a commit may carry. Kafka's default 4096. */
  readonly offsetMetadataMaxBytes: number;
}

export const DEFAULT_GROUP_COORDINATOR_SETTINGS: GroupCoordinatorSettings = {
  ...DEFAULT_GROUP_SETTINGS,
  offsetsRetentionMs: 10_080 * 60_000,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetMetadataMaxBytes: 4096,
};

/**
 * The settings with every unset one at its default. Throws INVALID_CONFIG for a value out of range
 * (a session range that is empty, a negative delay, a retention or interval below 1 ms...).
 */
export function groupCoordinatorSettings(given: Partial<GroupCoordinatorSettings> = {}): GroupCoordinatorSettings {
  const settings: GroupCoordinatorSettings = { ...DEFAULT_GROUP_COORDINATOR_SETTINGS, ...withoutUndefined(given) };
  const whole = (name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `groups.${name} must be a whole number in ${min}..${max}, got ${value}`);
    }
  };
  whole('minSessionTimeoutMs', settings.minSessionTimeoutMs, 1);
  whole('maxSessionTimeoutMs', settings.maxSessionTimeoutMs, settings.minSessionTimeoutMs);
  whole('initialRebalanceDelayMs', settings.initialRebalanceDelayMs, 0);
  whole('maxSize', settings.maxSize, 1);
  whole('offsetsRetentionMs', settings.offsetsRetentionMs, 1);
  whole('offsetsRetentionCheckIntervalMs', settings.offsetsRetentionCheckIntervalMs, 1, 2 ** 31 - 1);
  whole('offsetMetadataMaxBytes', settings.offsetMetadataMaxBytes, 0, 1024 * 1024);
  return settings;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Where this node stands: it leads and serves groups, it leads but is still catching up, or it does not lead. */
export type CoordinatorPhase = 'ready' | 'loading' | 'follower';

export interface GroupCoordinatorOptions {
  readonly settings: GroupCoordinatorSettings;
  /** Monotonic ms (sessions, barriers). */
  readonly nowMs: () => number;
  /** Wall clock ms (commit times, retention). */
  readonly wallMs: () => number;
  /** A fresh member id for a client id (Kafka: client id + '-' + a UUID). */
  readonly newMemberId: (clientId: string) => string;
  readonly logger: Logger;
  readonly submit: Submit;
  /** The applied (committed) metadata state. */
  readonly state: () => MetadataStateView;
  readonly phase: () => CoordinatorPhase;
  /** The NOT_COORDINATOR refusal of a node that does not lead (naming the leader when known). */
  readonly notCoordinator: () => StreamBusError;
  /** Runs a function soon after the current I/O (setImmediate); the batcher's scheduler. */
  readonly schedule: (run: () => void) => void;
}

export interface GroupCallOptions {
  /** JoinGroup and SyncGroup wait for other members: aborting stops the wait (the member stays joined). */
  readonly signal?: AbortSignal | undefined;
}

export interface ListGroupsFilter {
  /** Kafka's state names (case-insensitive); empty: every state. */
  readonly states?: readonly string[];
  /** Protocol types; empty: every type. */
  readonly types?: readonly string[];
}

/** What the protocol handler asks of the group coordinator (group-api.ts). */
export type GroupCoordinatorApi = Pick<
  GroupCoordinator,
  'joinGroup' | 'syncGroup' | 'heartbeat' | 'leaveGroup' | 'commitOffsets' | 'fetchOffsets' | 'listGroups' | 'describeGroups' | 'deleteGroups' | 'deleteOffsets'
>;

type Settle<T> = { readonly resolve: (value: T) => void; readonly reject: (error: Error) => void };

/** A heartbeat held until its group starts a rebalance or its hold ends. */
interface HeldHeartbeat {
  readonly request: HeartbeatRequest;
  readonly settle: Settle<ErrorCode>;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class GroupCoordinator {
  readonly #options: GroupCoordinatorOptions;
  readonly #settings: GroupCoordinatorSettings;
  readonly #logger: Logger;
  /** The live groups: only while this node leads and is ready. */
  readonly #groups = new Map<string, Group>();
  readonly #joins = new Map<number, Settle<JoinGroupResponse>>();
  readonly #syncs = new Map<number, Settle<SyncGroupResponse>>();
  /** Held heartbeats per live group (heartbeat() with holdMs). */
  readonly #held = new Map<Group, Set<HeldHeartbeat>>();
  #nextWaiter = 1;
  /** Bumped on every reset and stop: completions of an earlier leadership are ignored. */
  #epoch = 0;
  readonly #batcher: OffsetBatcher;
  #tick: ReturnType<typeof setInterval> | undefined;
  #expiry: ReturnType<typeof setInterval> | undefined;
  #expiring = false;

  constructor(options: GroupCoordinatorOptions) {
    this.#options = options;
    this.#settings = options.settings;
    this.#logger = options.logger;
    this.#batcher = new OffsetBatcher({
      write: (offsets) => this.#writeOffsets(offsets),
      schedule: options.schedule,
      maxBatchOffsets: MAX_BATCH_OFFSETS,
      maxBatchBytes: MAX_BATCH_BYTES,
      maxQueuedOffsets: MAX_QUEUED_OFFSETS,
    });
    this.#batcher.stop(options.notCoordinator());
  }

  /** Entries and offsets the batcher has written while this node led. */
  get offsetStats(): OffsetBatcherStats {
    return this.#batcher.stats;
  }

  /** The live groups' ids (tests, metrics). */
  get groupIds(): string[] {
    return [...this.#groups.keys()];
  }

  // ---------------------------------------------------------------------------------------------
  // Leadership

  /** This node leads and has applied every earlier entry: rebuild the groups from `state`. */
  reset(state: MetadataStateView): void {
    this.#drop(this.#options.notCoordinator());
    const nowMs = this.#options.nowMs();
    for (const image of state.groups.groups()) {
      const group = image.metadata === null ? new Group(image.groupId, this.#settings, 0) : Group.fromStored(image.metadata, this.#settings, nowMs);
      this.#groups.set(image.groupId, group);
    }
    this.#batcher.start();
    if (this.#groups.size > 0) this.#logger.info({ groups: this.#groups.size }, 'group coordinator loaded its groups; every member has a fresh session');
  }

  /** Starts the timers (this node leads and accepts writes). */
  start(): void {
    this.#stopTimers();
    this.#tick = setInterval(() => this.#onTick(), TICK_MS);
    this.#tick.unref();
    this.#expiry = setInterval(() => this.#onExpiryTimer(), this.#settings.offsetsRetentionCheckIntervalMs);
    this.#expiry.unref();
  }

  /** Leadership lost or closing: every waiting call fails with `reason`, the groups are dropped. */
  stop(reason: StreamBusError = this.#options.notCoordinator()): void {
    this.#stopTimers();
    this.#drop(reason);
  }

  #drop(reason: StreamBusError): void {
    this.#epoch++;
    this.#groups.clear();
    this.#batcher.stop(reason);
    for (const waiter of this.#joins.values()) waiter.reject(reason);
    for (const waiter of this.#syncs.values()) waiter.reject(reason);
    this.#joins.clear();
    this.#syncs.clear();
    for (const held of this.#held.values()) {
      for (const heartbeat of held) {
        clearTimeout(heartbeat.timer);
        heartbeat.settle.reject(reason);
      }
    }
    this.#held.clear();
  }

  #stopTimers(): void {
    if (this.#tick !== undefined) clearInterval(this.#tick);
    if (this.#expiry !== undefined) clearInterval(this.#expiry);
    this.#tick = undefined;
    this.#expiry = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Membership

  /**
   * JoinGroup: resolves when the join barrier completes for this member (or at once with an
   * error code in the answer). Rejects with NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS when
   * this node does not serve groups, and the signal's reason when aborted.
   */
  joinGroup(request: JoinGroupRequest, options: GroupCallOptions = {}): Promise<JoinGroupResponse> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const invalid = groupIdProblem(request.groupId) ?? joinProblem(request);
    if (invalid !== undefined) {
      return Promise.resolve({ error: invalid, generation: -1, protocolType: null, protocolName: null, leader: '', memberId: request.memberId, skipAssignment: false, members: [] });
    }
    // Client id and host only describe the member: they are clipped to what the log keeps.
    const join: JoinGroupRequest = { ...request, clientId: request.clientId.slice(0, MAX_GROUP_ID_LENGTH), clientHost: request.clientHost.slice(0, 255) };
    return this.#wait(this.#joins, options.signal, (waiter) => {
      const created = !this.#groups.has(join.groupId);
      const group = this.#groupFor(join.groupId);
      this.#dispatch(group, group.join(join, waiter, this.#ctx()));
      if (created) this.#forgetIfHollow(group);
    });
  }

  /** SyncGroup: resolves with the member's assignment once the leader's is stored (or an error code). */
  syncGroup(request: SyncGroupRequest, options: GroupCallOptions = {}): Promise<SyncGroupResponse> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const group = this.#groups.get(request.groupId);
    if (group === undefined) {
      const error = groupIdProblem(request.groupId) ?? ErrorCode.UNKNOWN_MEMBER_ID;
      return Promise.resolve({ error, protocolType: null, protocolName: null, assignment: new Uint8Array(0) });
    }
    return this.#wait(this.#syncs, options.signal, (waiter) => this.#dispatch(group, group.sync(request, waiter, this.#ctx())));
  }

  /**
   * Heartbeat: NONE, REBALANCE_IN_PROGRESS (rejoin), or why the member is not in the group.
   *
   * With `holdMs` (native clients send their heartbeat interval), a heartbeat that would answer
   * NONE in a Stable group is held instead: it answers as soon as the group starts a rebalance (a
   * member joins, leaves or expires), or NONE when the hold ends. Members then learn of a
   * rebalance at once rather than at their next heartbeat, which is what makes a rebalance take
   * well under a second with the default 3 s heartbeat interval, for no more requests than
   * Kafka's periodic heartbeats. Kafka clients send no hold and get Kafka's behaviour.
   */
  heartbeat(request: HeartbeatRequest, options: GroupCallOptions & { readonly holdMs?: number } = {}): Promise<ErrorCode> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const group = this.#groups.get(request.groupId);
    if (group === undefined) return Promise.resolve(groupIdProblem(request.groupId) ?? ErrorCode.UNKNOWN_MEMBER_ID);
    const answer = group.heartbeat(request, this.#ctx());
    const holdMs = Math.min(options.holdMs ?? 0, HEARTBEAT_HOLD_MAX_MS);
    if (answer !== ErrorCode.NONE || holdMs <= 0 || group.state !== GroupState.STABLE) return Promise.resolve(answer);
    if (options.signal?.aborted === true) return Promise.reject(abortReason(options.signal));
    return this.#hold(group, request, holdMs, options.signal);
  }

  #hold(group: Group, request: HeartbeatRequest, holdMs: number, signal: AbortSignal | undefined): Promise<ErrorCode> {
    return new Promise<ErrorCode>((resolve, reject) => {
      let held = this.#held.get(group);
      if (held === undefined) this.#held.set(group, (held = new Set()));
      const heldSet = held;
      const onAbort = (): void => {
        if (!heldSet.delete(heartbeat)) return;
        clearTimeout(heartbeat.timer);
        reject(abortReason(signal!));
      };
      const heartbeat: HeldHeartbeat = {
        request,
        settle: {
          resolve: (value) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(value);
          },
          reject: (error) => {
            signal?.removeEventListener('abort', onAbort);
            reject(error);
          },
        },
        // At the end of the hold the heartbeat counts again (it refreshes the session).
        timer: setTimeout(() => {
          if (heldSet.delete(heartbeat)) heartbeat.settle.resolve(group.heartbeat(request, this.#ctx()));
        }, holdMs),
      };
      heldSet.add(heartbeat);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Answers the held heartbeats of a group that is no longer Stable (or no longer live). */
  #releaseHeld(group: Group): void {
    const held = this.#held.get(group);
    if (held === undefined) return;
    const live = this.#groups.get(group.groupId) === group;
    if (live && group.state === GroupState.STABLE) return;
    this.#held.delete(group);
    const ctx = this.#ctx();
    for (const heartbeat of held) {
      clearTimeout(heartbeat.timer);
      heartbeat.settle.resolve(live ? group.heartbeat(heartbeat.request, ctx) : ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  /** LeaveGroup: each member's result. */
  leaveGroup(groupId: string, members: readonly LeavingMember[]): Promise<LeaveGroupResponse> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const invalid = groupIdProblem(groupId);
    if (invalid !== undefined) return Promise.resolve({ error: invalid, members: [] });
    const group = this.#groups.get(groupId);
    if (group === undefined) {
      return Promise.resolve({ error: ErrorCode.NONE, members: members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, error: ErrorCode.UNKNOWN_MEMBER_ID })) });
    }
    const { response, actions } = group.leave(members, this.#ctx());
    this.#dispatch(group, actions);
    return Promise.resolve(response);
  }

  // ---------------------------------------------------------------------------------------------
  // Offsets

  /**
   * OffsetCommit: validates the committer against its group (generation, member, instance id),
   * then each partition (it exists; its metadata fits), and resolves once the valid ones are
   * applied on a quorum. The answer carries the group's refusal as `error` and in every partition.
   */
  async commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitResponse> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const whole = (error: ErrorCode): OffsetCommitResponse => ({
      error,
      topics: request.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, error })) })),
    });
    const invalid = groupIdProblem(request.groupId);
    if (invalid !== undefined) return whole(invalid);
    let group = this.#groups.get(request.groupId);
    if (group === undefined) {
      // A commit from outside any generation needs no group: it creates one (a "simple" group).
      if (request.generation >= 0) return whole(ErrorCode.ILLEGAL_GENERATION);
      group = this.#groupFor(request.groupId);
    }
    const check = group.checkCommit(request, this.#ctx());
    if (check !== ErrorCode.NONE) return whole(check);
    const state = this.#options.state();
    const commitTimeMs = Math.max(0, Math.floor(this.#options.wallMs()));
    const entries: OffsetCommitEntry[] = [];
    const answers = request.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p): { partition: number; error: ErrorCode; queued: boolean } => {
        const error = this.#partitionProblem(state, t.topic, p.partition, p.offset, p.metadata);
        if (error !== ErrorCode.NONE) return { partition: p.partition, error, queued: false };
        entries.push({ group: request.groupId, topic: t.topic, partition: p.partition, offset: p.offset, leaderEpoch: Math.max(-1, p.leaderEpoch), metadata: p.metadata ?? '', commitTimeMs });
        return { partition: p.partition, error: ErrorCode.NONE, queued: true };
      }),
    }));
    let failure: ErrorCode = ErrorCode.NONE;
    try {
      await this.#batcher.commit(entries);
    } catch (error) {
      failure = this.#codeOf(error);
    }
    return {
      error: failure,
      topics: answers.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p): PartitionError => ({ partition: p.partition, error: p.queued ? failure : p.error })),
      })),
    };
  }

  /**
   * Whether `who` may commit offsets of `groupId` now, inside a transaction (TxnOffsetCommit with
   * the consumer's group metadata, KIP-447): the check an OffsetCommit gets, against the live
   * group. A group this leader does not know takes only commits from outside any generation.
   */
  checkTxnCommit(groupId: string, who: CommitIdentity): ErrorCode {
    if (this.#refusal() !== undefined) return ErrorCode.NOT_COORDINATOR;
    const group = this.#groups.get(groupId);
    if (group === undefined) return who.generation >= 0 ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.NONE;
    return group.checkCommit(who, this.#ctx());
  }

  /**
   * OffsetFetch: the committed offsets (-1 where none), from the applied state, once they are
   * stable. A partition whose offsets a transaction holds pending (Ongoing or PrepareCommit: the
   * offsets of TxnOffsetCommit, published only when the commit completes, after its markers) is
   * waited for, as Kafka's consumers wait with require_stable (KIP-447): answered now, a member
   * that takes over the partition in a rebalance, or the committing member itself after an
   * abort, would start from the offset before that transaction and process its input again.
   * After STABLE_WAIT_MAX_MS it answers COORDINATOR_LOAD_IN_PROGRESS, which clients retry.
   */
  async fetchOffsets(request: OffsetFetchRequest): Promise<OffsetFetchResponse> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const invalid = groupIdProblem(request.groupId);
    if (invalid !== undefined) return { error: invalid, topics: [] };
    for (let waited = 0; this.#pendingTxnOffsets(request); waited += STABLE_POLL_MS) {
      if (waited >= STABLE_WAIT_MAX_MS) return { error: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, topics: [] };
      await new Promise((resolve) => setTimeout(resolve, STABLE_POLL_MS));
      const stillLeading = this.#refusal();
      if (stillLeading !== undefined) throw stillLeading;
    }
    return this.#committedOffsets(request);
  }

  /** Whether a transaction that may still commit holds offsets of the fetched group and partitions. */
  #pendingTxnOffsets(request: OffsetFetchRequest): boolean {
    const wanted = request.topics === null ? undefined : new Set(request.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}\u0000${p}`)));
    return this.#options
      .state()
      .transactions.transactions()
      .some(
        (t) =>
          (t.state === TxnState.ONGOING || t.state === TxnState.PREPARE_COMMIT) &&
          t.pendingOffsets.some((o) => o.group === request.groupId && (wanted === undefined || wanted.has(`${o.topic}\u0000${o.partition}`))),
      );
  }

  #committedOffsets(request: OffsetFetchRequest): OffsetFetchResponse {
    const store = this.#options.state().groups;
    const image = store.group(request.groupId);
    const found = (partition: number, offset: { offset: number; leaderEpoch: number; metadata: string } | undefined): FetchedOffset => ({
      partition,
      offset: offset?.offset ?? -1,
      leaderEpoch: offset?.leaderEpoch ?? -1,
      metadata: offset?.metadata ?? '',
      error: ErrorCode.NONE,
    });
    if (request.topics === null) {
      const topics = (image?.offsets ?? []).map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => found(p.partition, p)) }));
      return { error: ErrorCode.NONE, topics };
    }
    const topics = request.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => found(p, store.offset(request.groupId, t.topic, p))) }));
    return { error: ErrorCode.NONE, topics };
  }

  /** OffsetDelete: removes a group's offsets of the named partitions where the group allows it. */
  async deleteOffsets(groupId: string, topics: readonly { readonly topic: string; readonly partitions: readonly number[] }[]): Promise<OffsetDeleteResponse> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const invalid = groupIdProblem(groupId);
    if (invalid !== undefined) return { error: invalid, topics: [] };
    const live = this.#groups.get(groupId);
    const state = this.#options.state();
    if (live === undefined && state.groups.group(groupId) === undefined) return { error: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    const partitions: { topic: string; partition: number }[] = [];
    const answers = topics.map((t) => {
      const allowed = live?.checkOffsetDelete(t.topic) ?? ErrorCode.NONE;
      return {
        topic: t.topic,
        partitions: t.partitions.map((partition): PartitionError => {
          const exists = (state.topic(t.topic)?.partitions.length ?? 0) > partition;
          const error = !exists ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : allowed;
          if (error === ErrorCode.NONE) partitions.push({ topic: t.topic, partition });
          return { partition, error };
        }),
      };
    });
    const refusedAll = answers.flatMap((t) => t.partitions).find((p) => p.error === ErrorCode.NON_EMPTY_GROUP || p.error === ErrorCode.GROUP_ID_NOT_FOUND);
    if (refusedAll !== undefined) return { error: refusedAll.error, topics: [] };
    if (partitions.length > 0) {
      try {
        await this.#options.submit(undefined, () => write([{ type: 'delete-offsets', groupId, partitions }], () => undefined));
      } catch (error) {
        return { error: this.#codeOf(error), topics: [] };
      }
    }
    return { error: ErrorCode.NONE, topics: answers };
  }

  /**
   * Expires, now, the offsets of empty groups whose retention passed (an offset lives
   * offsets.retention.minutes from the later of its commit and the moment its group emptied),
   * and deletes empty groups left with nothing; resolves with how many offsets expired. The
   * retention timer calls this; tests call it.
   */
  async expireOffsets(): Promise<number> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const epoch = this.#epoch;
    const nowWallMs = this.#options.wallMs();
    const decided = await this.#options.submit(undefined, (state) => {
      const expired: OffsetKey[] = [];
      const deleted: string[] = [];
      for (const image of state.groups.groups()) {
        const live = this.#groups.get(image.groupId);
        const empty = live === undefined ? image.metadata === null || image.metadata.members.length === 0 : live.state === GroupState.EMPTY && live.memberCount === 0;
        if (!empty) continue;
        const emptySinceMs = live?.stateTimestampMs ?? image.metadata?.stateTimestampMs ?? 0;
        let kept = 0;
        for (const topic of image.offsets) {
          for (const p of topic.partitions) {
            if (Math.max(emptySinceMs, p.commitTimeMs) + this.#settings.offsetsRetentionMs <= nowWallMs) expired.push({ group: image.groupId, topic: topic.topic, partition: p.partition });
            else kept++;
          }
        }
        if (kept === 0 && (live === undefined || live.idle)) deleted.push(image.groupId);
      }
      const commands: MetadataCommand[] = [];
      if (expired.length > 0) commands.push({ type: 'expire-offsets', offsets: expired });
      for (const groupId of deleted) commands.push({ type: 'delete-group', groupId });
      return write(commands, () => ({ expired, deleted }));
    });
    if (epoch !== this.#epoch) return decided.expired.length;
    for (const groupId of decided.deleted) {
      const live = this.#groups.get(groupId);
      if (live?.idle === true && this.#options.state().groups.group(groupId) === undefined) this.#groups.delete(groupId);
    }
    for (const [groupId, group] of [...this.#groups]) this.#forgetIfHollow(group, groupId);
    if (decided.expired.length > 0 || decided.deleted.length > 0) {
      this.#logger.info({ offsets: decided.expired.length, groupsDeleted: decided.deleted.length, retentionMs: this.#settings.offsetsRetentionMs }, 'expired the offsets of empty groups');
    }
    return decided.expired.length;
  }

  // ---------------------------------------------------------------------------------------------
  // Administration

  /** ListGroups: every group this coordinator knows, optionally filtered by state and protocol type. */
  listGroups(filter: ListGroupsFilter = {}): Promise<ListedGroup[]> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const states = new Set((filter.states ?? []).map((s) => s.toLowerCase()));
    const types = new Set(filter.types ?? []);
    const listed: ListedGroup[] = [];
    for (const group of [...this.#groups.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))) {
      const protocolType = group.protocolType ?? '';
      if (states.size > 0 && !states.has(group.state.toLowerCase())) continue;
      if (types.size > 0 && !types.has(protocolType)) continue;
      listed.push({ groupId: group.groupId, protocolType, state: group.state });
    }
    return Promise.resolve(listed);
  }

  /** DescribeGroups: each group's state, protocol and members; an unknown group reads as Dead. */
  describeGroups(groupIds: readonly string[]): Promise<DescribedGroup[]> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return Promise.resolve(
      groupIds.map((groupId) => {
        const invalid = groupIdProblem(groupId);
        const group = this.#groups.get(groupId);
        if (invalid === undefined && group !== undefined) return group.describe();
        return { groupId, error: invalid ?? ErrorCode.NONE, state: GroupState.DEAD, protocolType: '', protocolName: '', members: [] };
      }),
    );
  }

  /** DeleteGroups: deletes empty groups with their offsets (NON_EMPTY_GROUP for a group with members). */
  async deleteGroups(groupIds: readonly string[]): Promise<GroupResult[]> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const state = this.#options.state();
    const commands: MetadataCommand[] = [];
    const results = groupIds.map((groupId): GroupResult => {
      const invalid = groupIdProblem(groupId);
      if (invalid !== undefined) return { groupId, error: invalid };
      const live = this.#groups.get(groupId);
      if (live === undefined && state.groups.group(groupId) === undefined) return { groupId, error: ErrorCode.GROUP_ID_NOT_FOUND };
      const error = live?.markDead() ?? ErrorCode.NONE;
      if (error !== ErrorCode.NONE) return { groupId, error };
      this.#groups.delete(groupId);
      if (!commands.some((c) => c.type === 'delete-group' && c.groupId === groupId)) commands.push({ type: 'delete-group', groupId });
      return { groupId, error: ErrorCode.NONE };
    });
    if (commands.length === 0) return results;
    try {
      await this.#options.submit(undefined, () => write(commands, () => undefined));
    } catch (error) {
      const code = this.#codeOf(error);
      return results.map((r) => (r.error === ErrorCode.NONE ? { groupId: r.groupId, error: code } : r));
    }
    this.#logger.info({ groups: commands.length }, 'deleted groups and their offsets');
    return results;
  }

  // ---------------------------------------------------------------------------------------------
  // The shell around the state machines

  #ctx(): GroupContext {
    return { nowMs: this.#options.nowMs(), wallMs: Math.max(0, Math.floor(this.#options.wallMs())), newMemberId: this.#options.newMemberId };
  }

  #groupFor(groupId: string): Group {
    let group = this.#groups.get(groupId);
    if (group === undefined) {
      group = new Group(groupId, this.#settings, Math.max(0, Math.floor(this.#options.wallMs())));
      this.#groups.set(groupId, group);
    }
    return group;
  }

  /** Forgets a live group that holds nothing and has nothing stored. */
  #forgetIfHollow(group: Group, groupId = group.groupId): void {
    if (group.idle && this.#groups.get(groupId) === group && this.#options.state().groups.group(groupId) === undefined) this.#groups.delete(groupId);
  }

  /** Registers a waiter, runs `start` with its number, and settles with the answer the group sends it. */
  #wait<T>(waiters: Map<number, Settle<T>>, signal: AbortSignal | undefined, start: (waiter: number) => void): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    const waiter = this.#nextWaiter++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        // The member stays as the group has it (joined, or waiting for its assignment); only
        // this request stops waiting, as when a Kafka client's connection drops.
        if (waiters.delete(waiter) && signal !== undefined) reject(abortReason(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.set(waiter, {
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      start(waiter);
    });
  }

  /** Carries out what a group decided. */
  #dispatch(group: Group, actions: readonly GroupAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'join-response': {
          const waiter = this.#joins.get(action.waiter);
          this.#joins.delete(action.waiter);
          waiter?.resolve(action.response);
          break;
        }
        case 'sync-response': {
          const waiter = this.#syncs.get(action.waiter);
          this.#syncs.delete(action.waiter);
          waiter?.resolve(action.response);
          break;
        }
        case 'store':
          this.#store(group, action.token, action);
          break;
        case 'log':
          this.#logger.info(action.fields, action.message);
          break;
      }
    }
    this.#releaseHeld(group);
  }

  #store(group: Group, token: number, action: Extract<GroupAction, { type: 'store' }>): void {
    const epoch = this.#epoch;
    const after = (error: ErrorCode | undefined): void => {
      // A group of an earlier leadership, or one deleted meanwhile, has nobody left to answer.
      if (epoch !== this.#epoch || this.#groups.get(group.groupId) !== group) return;
      this.#dispatch(group, group.stored(token, error, this.#ctx()));
    };
    this.#options.submit(undefined, () => write([{ type: 'store-group', group: action.group }], () => undefined)).then(
      () => after(undefined),
      (error: unknown) => {
        if (epoch === this.#epoch) this.#logger.warn({ err: error, groupId: group.groupId, generation: action.group.generation }, 'could not store the group');
        after(this.#codeOf(error));
      },
    );
  }

  #writeOffsets(offsets: readonly OffsetCommitEntry[]): Promise<void> {
    return this.#options.submit(undefined, () => write([commitOffsetsCommand(offsets)], () => undefined));
  }

  #onTick(): void {
    if (this.#refusal() !== undefined) return;
    const ctx = this.#ctx();
    for (const group of [...this.#groups.values()]) this.#dispatch(group, group.tick(ctx));
  }

  #onExpiryTimer(): void {
    if (this.#expiring || this.#refusal() !== undefined) return;
    this.#expiring = true;
    this.expireOffsets()
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'offset expiry failed; retrying at the next check'))
      .finally(() => {
        this.#expiring = false;
      });
  }

  /** Why this node does not serve groups now, if it does not. */
  #refusal(): StreamBusError | undefined {
    switch (this.#options.phase()) {
      case 'ready':
        return undefined;
      case 'loading':
        return new StreamBusError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'this node has just become the coordinator leader and is still loading its groups');
      case 'follower':
        return this.#options.notCoordinator();
    }
  }

  /** The code a failed write is answered with: a lost leadership sends the client to the new leader. */
  #codeOf(error: unknown): ErrorCode {
    if (!(error instanceof StreamBusError)) return ErrorCode.UNKNOWN_SERVER_ERROR;
    if (error.code === ErrorCode.NOT_CONTROLLER || error.code === ErrorCode.SHUTTING_DOWN) return ErrorCode.NOT_COORDINATOR;
    return error.code;
  }

  #partitionProblem(state: MetadataStateView, topic: string, partition: number, offset: number, metadata: string | null): ErrorCode {
    if ((state.topic(topic)?.partitions.length ?? 0) <= partition || partition < 0) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (!Number.isSafeInteger(offset) || offset < 0) return ErrorCode.INVALID_REQUEST;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes: most metadata needs no encoding to be measured.
    if (metadata !== null && metadata.length * 3 > this.#settings.offsetMetadataMaxBytes && utf8.encode(metadata).length > this.#settings.offsetMetadataMaxBytes) {
      return ErrorCode.OFFSET_METADATA_TOO_LARGE;
    }
    return ErrorCode.NONE;
  }
}

const utf8 = new TextEncoder();

/**
 * INVALID_REQUEST for what the log could not keep: an empty or overlong group.instance.id or member
 * id, a protocol type or name longer than 255 characters.
 */
function joinProblem(request: JoinGroupRequest): ErrorCode | undefined {
  const instance = request.groupInstanceId;
  if (instance !== null && (instance === '' || instance.length > MAX_GROUP_ID_LENGTH)) return ErrorCode.INVALID_REQUEST;
  if (request.memberId.length > MAX_GROUP_ID_LENGTH || request.protocolType.length > 255) return ErrorCode.INVALID_REQUEST;
  if (request.protocols.some((p) => p.name === '' || p.name.length > 255)) return ErrorCode.INVALID_REQUEST;
  return undefined;
}

/** INVALID_GROUP_ID for an empty or overlong group id. */
function groupIdProblem(groupId: string): ErrorCode | undefined {
  return groupId === '' || groupId.length > MAX_GROUP_ID_LENGTH ? ErrorCode.INVALID_GROUP_ID : undefined;
}
