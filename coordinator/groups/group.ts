/**
 * One consumer group's state machine, as Kafka's group coordinator runs it (the classic protocol),
 * as pure code: the caller passes the time and the request, and gets back what to answer and what
 * to store. Nothing here reads a clock, sets a timer or does I/O; group-coordinator.ts is the shell
 * that does, on the coordinator leader.
 *
 * States (Kafka's): Empty (no members) → PreparingRebalance (members (re)join; the join barrier) →
 * CompletingRebalance (the join answered; waiting for the leader's assignment in SyncGroup) →
 * Stable (assignment handed out) → back to PreparingRebalance on any change of membership or
 * subscription; Dead once deleted.
 *
 * Waiting requests. JoinGroup and SyncGroup wait for the other members; the shell gives each
 * request a waiter number and the machine answers it later with a `join-response` or
 * `sync-response` action naming that number (possibly in the same call). A waiter whose request
 * went away is simply never read (as in Kafka, its member still counts as joined).
 *
 * What is stored. A completed rebalance is stored (a `store` action: the shell logs a store-group
 * command) before SyncGroup answers anyone, so an assignment handed out survives a change of
 * coordinator leader; so are a group that emptied, and a static member that took over its
 * instance id without a rebalance. The shell reports each store back with stored().
 *
 * Timers. tick(nowMs) expires sessions, pending members (KIP-394), the initial rebalance delay, the
 * join barrier (rebalance timeout: members that did not rejoin are removed) and the sync barrier
 * (members that did not send SyncGroup within the rebalance timeout are removed).
 *
 * Pure: no node:* imports, no clock, no randomness (new member ids come from the caller).
 */
import { ErrorCode } from '../../proto/errors.js';
import { assert } from '../metadata/assert.js';
import type { StoredGroup, StoredMember } from './group-commands.js';
import { subscribedTopics } from './consumer-protocol.js';
import {
  type CommitIdentity,
  type DescribedGroup,
  type GroupProtocol,
  type GroupSettings,
  GroupState,
  type HeartbeatRequest,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type JoinedMember,
  type LeaveGroupResponse,
  type LeaveResult,
  type LeavingMember,
  NO_GENERATION,
  type SyncGroupRequest,
  type SyncGroupResponse,
  UNKNOWN_MEMBER_ID,
} from './group-types.js';

const EMPTY_BYTES = new Uint8Array(0);

/** What the machine asks of its shell. */
export type GroupAction =
  | { readonly type: 'join-response'; readonly waiter: number; readonly response: JoinGroupResponse }
  | { readonly type: 'sync-response'; readonly waiter: number; readonly response: SyncGroupResponse }
  /** Log a store-group command with `group`, then call stored(token, ...) with the outcome. */
  | { readonly type: 'store'; readonly token: number; readonly group: StoredGroup }
  /** Something an operator wants in the log (a rebalance, a member removed). */
  | { readonly type: 'log'; readonly message: string; readonly fields: Readonly<Record<string, unknown>> };

/** The time and the sources a call needs. */
export interface GroupContext {
  /** A monotonic clock, ms: sessions and barriers. */
  readonly nowMs: number;
  /** The wall clock, ms: the state timestamp stored with the group. */
  readonly wallMs: number;
  /** A fresh member id for a client (Kafka: client id + '-' + a UUID). */
  readonly newMemberId: (clientId: string) => string;
}

interface Member {
  memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: readonly GroupProtocol[];
  assignment: Uint8Array;
  /** The JoinGroup waiting for the join barrier. */
  joinWaiter: number | undefined;
  /** The SyncGroup waiting for the leader's assignment. */
  syncWaiter: number | undefined;
  /** Sent SyncGroup in the current generation. */
  synced: boolean;
  /** The session ends after this (monotonic ms) unless the member is heard from. */
  deadlineMs: number;
}

/** What to do once a store completes. */
type StoreContinuation =
  | { readonly kind: 'assignment'; readonly generation: number }
  | { readonly kind: 'static-rejoin'; readonly waiter: number; readonly memberId: string; readonly generation: number }
  | { readonly kind: 'emptied' };

export class Group {
  readonly groupId: string;
  readonly #settings: GroupSettings;
  #state: GroupState = GroupState.EMPTY;
  #generation = 0;
  #protocolType: string | null = null;
  #protocolName: string | null = null;
  #leader: string | null = null;
  /** In join order: the first remaining member leads when the leader leaves. */
  readonly #members = new Map<string, Member>();
  /** group.instance.id → member id of static members. */
  readonly #instances = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, each with the end of its grace (KIP-394). */
  readonly #pending = new Map<string, number>();
  /** PreparingRebalance: members not rejoined by then are removed. */
  #joinDeadlineMs: number | undefined;
  /** PreparingRebalance of an empty group: the initial rebalance delay (group.initial.rebalance.delay.ms). */
  #initialDelay: { untilMs: number; remainingMs: number; newMemberAdded: boolean } | undefined;
  /** After a join: members that have not sent SyncGroup by then are removed. */
  #syncDeadlineMs: number | undefined;
  /** The generation whose assignment is being stored. */
  #storingGeneration: number | undefined;
  #nextToken = 1;
  readonly #stores = new Map<number, StoreContinuation>();
  /** Assignments being stored, by generation (only the current generation's is ever read). */
  readonly #pendingAssignments = new Map<number, ReadonlyMap<string, Uint8Array>>();
  /** Wall clock ms when the group entered its state (for an empty group: when it emptied). */
  #stateTimestampMs: number;

  constructor(groupId: string, settings: GroupSettings, wallMs: number) {
    this.groupId = groupId;
    this.#settings = settings;
    this.#stateTimestampMs = wallMs;
  }

  /**
   * A group as the log stored it: Stable with its members, or Empty. Every member gets a fresh
   * session from `nowMs` (the previous leader's heartbeat times died with it).
   */
  static fromStored(stored: StoredGroup, settings: GroupSettings, nowMs: number): Group {
    const group = new Group(stored.groupId, settings, stored.stateTimestampMs);
    group.#generation = stored.generation;
    group.#protocolType = stored.protocolType;
    group.#protocolName = stored.protocolName;
    group.#leader = stored.leader;
    for (const m of stored.members) {
      group.#members.set(m.memberId, {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        protocolType: stored.protocolType ?? '',
        protocols: [{ name: stored.protocolName ?? '', metadata: fromBase64(m.subscription) }],
        assignment: fromBase64(m.assignment),
        joinWaiter: undefined,
        syncWaiter: undefined,
        synced: true,
        deadlineMs: nowMs + m.sessionTimeoutMs,
      });
      if (m.groupInstanceId !== null) group.#instances.set(m.groupInstanceId, m.memberId);
    }
    group.#state = stored.members.length > 0 ? GroupState.STABLE : GroupState.EMPTY;
    return group;
  }

  get state(): GroupState {
    return this.#state;
  }

  get generation(): number {
    return this.#generation;
  }

  get protocolType(): string | null {
    return this.#protocolType;
  }

  get protocolName(): string | null {
    return this.#protocolName;
  }

  get leader(): string | null {
    return this.#leader;
  }

  get memberCount(): number {
    return this.#members.size;
  }

  get stateTimestampMs(): number {
    return this.#stateTimestampMs;
  }

  /** The member ids, in join order. */
  memberIds(): string[] {
    return [...this.#members.keys()];
  }

  /** An empty group with nothing in flight: the shell may forget it when nothing is stored for it either. */
  get idle(): boolean {
    return this.#state === GroupState.EMPTY && this.#members.size === 0 && this.#pending.size === 0 && this.#stores.size === 0;
  }

  // ---------------------------------------------------------------------------------------------
  // JoinGroup

  /** A JoinGroup; its answer comes as a join-response action for `waiter`, now or later. */
  join(request: JoinGroupRequest, waiter: number, ctx: GroupContext): GroupAction[] {
    const actions: GroupAction[] = [];
    const fail = (error: ErrorCode, memberId = request.memberId): GroupAction[] => {
      actions.push(joinError(waiter, error, memberId));
      return actions;
    };
    if (request.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
    if (request.sessionTimeoutMs < this.#settings.minSessionTimeoutMs || request.sessionTimeoutMs > this.#settings.maxSessionTimeoutMs) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    if (request.rebalanceTimeoutMs < 1) return fail(ErrorCode.INVALID_REQUEST);
    if (this.#state === GroupState.DEAD) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!this.#supportsProtocols(request.protocolType, request.protocols, request.memberId)) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (request.memberId === UNKNOWN_MEMBER_ID) {
      if (request.groupInstanceId !== null) {
        const existing = this.#instances.get(request.groupInstanceId);
        if (existing !== undefined) return this.#replaceStaticMember(existing, request, waiter, ctx, actions);
      }
      if (this.#members.size + this.#pending.size >= this.#settings.maxSize) return fail(ErrorCode.GROUP_MAX_SIZE_REACHED);
      const memberId = ctx.newMemberId(request.clientId);
      if (request.groupInstanceId === null && request.requireKnownMemberId) {
        // KIP-394: the member must come back with this id, within its session timeout.
        this.#pending.set(memberId, ctx.nowMs + request.sessionTimeoutMs);
        return fail(ErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
      this.#addMember(memberId, request, waiter, ctx, actions);
      return actions;
    }
    if (this.#pending.has(request.memberId)) {
      this.#pending.delete(request.memberId);
      this.#addMember(request.memberId, request, waiter, ctx, actions);
      return actions;
    }
    if (this.#fenced(request.memberId, request.groupInstanceId)) return fail(ErrorCode.FENCED_INSTANCE_ID);
    const member = this.#members.get(request.memberId);
    if (member === undefined || (request.groupInstanceId !== null && !this.#instances.has(request.groupInstanceId))) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    switch (this.#state) {
      case GroupState.PREPARING_REBALANCE:
        this.#updateMember(member, request, waiter, ctx, actions);
        this.#tryCompleteJoin(ctx, actions);
        return actions;
      case GroupState.COMPLETING_REBALANCE:
        if (sameProtocols(member.protocols, request.protocols)) {
          // A repeated join (its answer was lost): the same answer again.
          actions.push({ type: 'join-response', waiter, response: this.#joinAnswer(member.memberId, false) });
          return actions;
        }
        this.#updateMember(member, request, waiter, ctx, actions);
        this.#prepareRebalance(`member ${member.memberId} rejoined with changed protocols`, ctx, actions);
        return actions;
      case GroupState.STABLE:
        if (member.memberId !== this.#leader && sameProtocols(member.protocols, request.protocols)) {
          // A follower with nothing new: the current generation, so it can sync again.
          member.deadlineMs = ctx.nowMs + member.sessionTimeoutMs;
          actions.push({ type: 'join-response', waiter, response: this.#joinAnswer(member.memberId, false) });
          return actions;
        }
        this.#updateMember(member, request, waiter, ctx, actions);
        this.#prepareRebalance(
          member.memberId === this.#leader ? `the leader ${member.memberId} rejoined${reasonSuffix(request.reason)}` : `member ${member.memberId} rejoined with changed protocols${reasonSuffix(request.reason)}`,
          ctx,
          actions,
        );
        return actions;
      case GroupState.EMPTY:
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  #addMember(memberId: string, request: JoinGroupRequest, waiter: number, ctx: GroupContext, actions: GroupAction[]): void {
    const member: Member = {
      memberId,
      groupInstanceId: request.groupInstanceId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols,
      assignment: EMPTY_BYTES,
      joinWaiter: waiter,
      syncWaiter: undefined,
      synced: false,
      deadlineMs: ctx.nowMs + request.sessionTimeoutMs,
    };
    if (this.#members.size === 0) this.#protocolType = request.protocolType;
    this.#members.set(memberId, member);
    if (request.groupInstanceId !== null) this.#instances.set(request.groupInstanceId, memberId);
    this.#leader ??= memberId;
    if (this.#initialDelay !== undefined) this.#initialDelay.newMemberAdded = true;
    actions.push({ type: 'log', message: 'member joined the group', fields: { groupId: this.groupId, memberId, groupInstanceId: request.groupInstanceId, clientId: request.clientId } });
    if (this.#state === GroupState.PREPARING_REBALANCE) this.#tryCompleteJoin(ctx, actions);
    else this.#prepareRebalance(`member ${memberId} joined${reasonSuffix(request.reason)}`, ctx, actions);
  }

  #updateMember(member: Member, request: JoinGroupRequest, waiter: number, ctx: GroupContext, actions: GroupAction[]): void {
    if (member.joinWaiter !== undefined && member.joinWaiter !== waiter) {
      // The member asked again: its earlier request is answered now so it does not hang.
      actions.push(joinError(member.joinWaiter, ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    }
    member.protocols = request.protocols;
    member.protocolType = request.protocolType;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
    member.joinWaiter = waiter;
    // A group's only member may change the protocol type; with others it was checked to match.
    if (this.#members.size === 1) this.#protocolType = request.protocolType;
    member.deadlineMs = ctx.nowMs + member.sessionTimeoutMs;
  }

  /**
   * A static member joins again with no member id (it restarted): it takes over its instance id
   * under a new member id, and the old id is fenced. In a Stable group with the same subscription
   * for the selected protocol there is no rebalance: the new id is stored, then the member gets
   * the current generation (a leader gets the members, with skipAssignment) and syncs to get its
   * old assignment. Otherwise the group rebalances.
   */
  #replaceStaticMember(oldId: string, request: JoinGroupRequest, waiter: number, ctx: GroupContext, actions: GroupAction[]): GroupAction[] {
    const old = this.#members.get(oldId);
    assert(old !== undefined, () => `group ${this.groupId}: instance ${request.groupInstanceId} maps to missing member ${oldId}`);
    if (old.joinWaiter !== undefined) actions.push(joinError(old.joinWaiter, ErrorCode.FENCED_INSTANCE_ID, oldId));
    if (old.syncWaiter !== undefined) actions.push(syncError(old.syncWaiter, ErrorCode.FENCED_INSTANCE_ID));
    const memberId = ctx.newMemberId(request.clientId);
    const previousMetadata = this.#protocolName === null ? undefined : metadataFor(old, this.#protocolName);
    const member: Member = { ...old, memberId, joinWaiter: undefined, syncWaiter: undefined };
    this.#members.delete(oldId);
    this.#members.set(memberId, member);
    this.#instances.set(request.groupInstanceId!, memberId);
    if (this.#leader === oldId) this.#leader = memberId;
    const changed = this.#protocolName === null || !bytesEqual(previousMetadata, metadataFor({ protocols: request.protocols }, this.#protocolName));
    member.protocols = request.protocols;
    member.protocolType = request.protocolType;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
    member.deadlineMs = ctx.nowMs + request.sessionTimeoutMs;
    actions.push({ type: 'log', message: 'static member rejoined under a new member id; the old one is fenced', fields: { groupId: this.groupId, groupInstanceId: request.groupInstanceId, oldMemberId: oldId, memberId } });
    switch (this.#state) {
      case GroupState.STABLE:
        if (!changed && this.#selectProtocol() === this.#protocolName) {
          this.#store({ kind: 'static-rejoin', waiter, memberId, generation: this.#generation }, ctx, actions, this.#assignments());
          return actions;
        }
        member.joinWaiter = waiter;
        this.#prepareRebalance(`static member ${request.groupInstanceId} rejoined with a changed subscription`, ctx, actions);
        return actions;
      case GroupState.COMPLETING_REBALANCE:
        member.joinWaiter = waiter;
        this.#prepareRebalance(`static member ${request.groupInstanceId} rejoined during the sync: every member must learn its new id`, ctx, actions);
        return actions;
      case GroupState.PREPARING_REBALANCE:
        member.joinWaiter = waiter;
        this.#tryCompleteJoin(ctx, actions);
        return actions;
      case GroupState.EMPTY:
      case GroupState.DEAD:
        assert(false, () => `group ${this.groupId} is ${this.#state} but has member ${oldId}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // SyncGroup

  /** A SyncGroup; its answer comes as a sync-response action for `waiter`, now or later. */
  sync(request: SyncGroupRequest, waiter: number, ctx: GroupContext): GroupAction[] {
    const actions: GroupAction[] = [];
    const fail = (error: ErrorCode): GroupAction[] => {
      actions.push(syncError(waiter, error));
      return actions;
    };
    if (this.#state === GroupState.DEAD) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (this.#fenced(request.memberId, request.groupInstanceId)) return fail(ErrorCode.FENCED_INSTANCE_ID);
    const member = this.#members.get(request.memberId);
    if (member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (request.generation !== this.#generation) return fail(ErrorCode.ILLEGAL_GENERATION);
    if ((request.protocolType !== null && request.protocolType !== this.#protocolType) || (request.protocolName !== null && request.protocolName !== this.#protocolName)) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    switch (this.#state) {
      case GroupState.EMPTY:
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      case GroupState.PREPARING_REBALANCE:
        return fail(ErrorCode.REBALANCE_IN_PROGRESS);
      case GroupState.STABLE:
        member.synced = true;
        member.deadlineMs = ctx.nowMs + member.sessionTimeoutMs;
        actions.push({ type: 'sync-response', waiter, response: this.#syncAnswer(member) });
        return actions;
      case GroupState.COMPLETING_REBALANCE: {
        const seen = new Set<string>();
        for (const a of request.assignments) {
          if (seen.has(a.memberId)) return fail(ErrorCode.INVALID_REQUEST);
          seen.add(a.memberId);
        }
        if (member.syncWaiter !== undefined && member.syncWaiter !== waiter) actions.push(syncError(member.syncWaiter, ErrorCode.REBALANCE_IN_PROGRESS));
        member.syncWaiter = waiter;
        member.synced = true;
        member.deadlineMs = ctx.nowMs + member.sessionTimeoutMs;
        if (member.memberId === this.#leader && this.#storingGeneration === undefined) {
          const given = new Map(request.assignments.map((a) => [a.memberId, a.assignment]));
          const assignments = new Map([...this.#members.keys()].map((id) => [id, given.get(id) ?? EMPTY_BYTES]));
          this.#storingGeneration = this.#generation;
          this.#store({ kind: 'assignment', generation: this.#generation }, ctx, actions, assignments);
        }
        return actions;
      }
    }
  }

  /**
   * A store the machine asked for completed: `error` undefined when it committed, else the code
   * to answer with (the shell maps "no longer the leader" to NOT_COORDINATOR).
   */
  stored(token: number, error: ErrorCode | undefined, ctx: GroupContext): GroupAction[] {
    const actions: GroupAction[] = [];
    const continuation = this.#stores.get(token);
    if (continuation === undefined) return actions;
    this.#stores.delete(token);
    switch (continuation.kind) {
      case 'assignment':
        this.#assignmentStored(continuation.generation, error, ctx, actions);
        return actions;
      case 'static-rejoin':
        if (error !== undefined) actions.push(joinError(continuation.waiter, error, continuation.memberId));
        else actions.push({ type: 'join-response', waiter: continuation.waiter, response: this.#joinAnswer(continuation.memberId, this.#leader === continuation.memberId) });
        return actions;
      case 'emptied':
        if (error !== undefined) actions.push({ type: 'log', message: 'could not store the emptied group; the next change stores it', fields: { groupId: this.groupId, error } });
        return actions;
    }
  }

  #assignmentStored(generation: number, error: ErrorCode | undefined, ctx: GroupContext, actions: GroupAction[]): void {
    if (this.#storingGeneration === generation) this.#storingGeneration = undefined;
    if (this.#state !== GroupState.COMPLETING_REBALANCE || this.#generation !== generation) return;
    if (error !== undefined) {
      this.#resetAssignments(error, actions);
      this.#prepareRebalance(`the assignment of generation ${generation} could not be stored`, ctx, actions);
      return;
    }
    const stored = this.#pendingAssignments.get(generation);
    this.#pendingAssignments.delete(generation);
    for (const member of this.#members.values()) member.assignment = stored?.get(member.memberId) ?? EMPTY_BYTES;
    this.#state = GroupState.STABLE;
    this.#stateTimestampMs = ctx.wallMs;
    for (const member of this.#members.values()) {
      if (member.syncWaiter === undefined) continue;
      actions.push({ type: 'sync-response', waiter: member.syncWaiter, response: this.#syncAnswer(member) });
      member.syncWaiter = undefined;
    }
    actions.push({
      type: 'log',
      message: 'rebalance completed: the group is stable',
      fields: { groupId: this.groupId, generation, protocol: this.#protocolName, leader: this.#leader, members: this.#members.size },
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Heartbeat, LeaveGroup, commits

  /** A Heartbeat: NONE keeps the session; REBALANCE_IN_PROGRESS tells the member to rejoin. */
  heartbeat(request: HeartbeatRequest, ctx: GroupContext): ErrorCode {
    if (this.#state === GroupState.DEAD) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (this.#fenced(request.memberId, request.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    const member = this.#members.get(request.memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (request.generation !== this.#generation) return ErrorCode.ILLEGAL_GENERATION;
    switch (this.#state) {
      case GroupState.EMPTY:
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case GroupState.PREPARING_REBALANCE:
        member.deadlineMs = ctx.nowMs + member.sessionTimeoutMs;
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case GroupState.COMPLETING_REBALANCE:
      case GroupState.STABLE:
        member.deadlineMs = ctx.nowMs + member.sessionTimeoutMs;
        return ErrorCode.NONE;
    }
  }

  /** A LeaveGroup of one or more members (by member id, or a static member by instance id). */
  leave(members: readonly LeavingMember[], ctx: GroupContext): { readonly response: LeaveGroupResponse; readonly actions: GroupAction[] } {
    const actions: GroupAction[] = [];
    if (this.#state === GroupState.DEAD) return { response: { error: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] }, actions };
    const results: LeaveResult[] = members.map((leaving) => {
      const result = (error: ErrorCode): LeaveResult => ({ memberId: leaving.memberId, groupInstanceId: leaving.groupInstanceId, error });
      if (leaving.groupInstanceId !== null) {
        const current = this.#instances.get(leaving.groupInstanceId);
        if (current === undefined) return result(ErrorCode.UNKNOWN_MEMBER_ID);
        if (leaving.memberId !== UNKNOWN_MEMBER_ID && leaving.memberId !== current) return result(ErrorCode.FENCED_INSTANCE_ID);
        this.#remove(this.#members.get(current)!, `static member ${leaving.groupInstanceId} left the group${reasonSuffix(leaving.reason)}`, ctx, actions);
        return result(ErrorCode.NONE);
      }
      if (this.#pending.delete(leaving.memberId)) {
        this.#tryCompleteJoin(ctx, actions);
        return result(ErrorCode.NONE);
      }
      const member = this.#members.get(leaving.memberId);
      if (member === undefined) return result(ErrorCode.UNKNOWN_MEMBER_ID);
      this.#remove(member, `member ${leaving.memberId} left the group${reasonSuffix(leaving.reason)}`, ctx, actions);
      return result(ErrorCode.NONE);
    });
    return { response: { error: ErrorCode.NONE, members: results }, actions };
  }

  /**
   * Whether `who` may commit offsets now: NONE, or the error to answer with. A member of the
   * current generation may commit in Stable and PreparingRebalance (the cooperative protocol
   * commits while it rebalances; its session is renewed), not in CompletingRebalance
   * (REBALANCE_IN_PROGRESS). A group with no members takes simple commits (generation -1).
   */
  checkCommit(who: CommitIdentity, ctx: GroupContext): ErrorCode {
    if (this.#state === GroupState.DEAD) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (who.generation < 0 && this.#state === GroupState.EMPTY) return ErrorCode.NONE;
    if (this.#fenced(who.memberId, who.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    const member = this.#members.get(who.memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (who.generation !== this.#generation) return ErrorCode.ILLEGAL_GENERATION;
    switch (this.#state) {
      case GroupState.STABLE:
      case GroupState.PREPARING_REBALANCE:
        member.deadlineMs = ctx.nowMs + member.sessionTimeoutMs;
        return ErrorCode.NONE;
      case GroupState.COMPLETING_REBALANCE:
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case GroupState.EMPTY:
        return ErrorCode.UNKNOWN_MEMBER_ID;
    }
  }

  /**
   * Whether offsets of `topic` may be deleted (OffsetDelete): always in an empty group; in a
   * consumer group with members only when none of them subscribes to it
   * (GROUP_SUBSCRIBED_TO_TOPIC); never in another group with members (NON_EMPTY_GROUP).
   */
  checkOffsetDelete(topic: string): ErrorCode {
    if (this.#state === GroupState.DEAD) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (this.#state === GroupState.EMPTY) return ErrorCode.NONE;
    if (this.#protocolType !== 'consumer') return ErrorCode.NON_EMPTY_GROUP;
    for (const member of this.#members.values()) {
      const metadata = this.#protocolName === null ? member.protocols[0]?.metadata : metadataFor(member, this.#protocolName);
      const topics = metadata === undefined ? undefined : subscribedTopics(metadata);
      if (topics === undefined || topics.includes(topic)) return ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
    }
    return ErrorCode.NONE;
  }

  /** DeleteGroups: an empty group becomes Dead (NONE); one with members answers NON_EMPTY_GROUP. */
  markDead(): ErrorCode {
    if (this.#state === GroupState.DEAD) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (this.#state !== GroupState.EMPTY || this.#members.size > 0 || this.#pending.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    this.#state = GroupState.DEAD;
    return ErrorCode.NONE;
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  /** Expires what is due at ctx.nowMs: pending members, sessions, the initial delay, the join and sync barriers. */
  tick(ctx: GroupContext): GroupAction[] {
    const actions: GroupAction[] = [];
    const now = ctx.nowMs;
    for (const [memberId, deadline] of [...this.#pending]) {
      if (now <= deadline) continue;
      this.#pending.delete(memberId);
      actions.push({ type: 'log', message: 'a new member did not come back with its member id in time', fields: { groupId: this.groupId, memberId } });
      this.#tryCompleteJoin(ctx, actions);
    }
    for (const member of [...this.#members.values()]) {
      if (!this.#members.has(member.memberId)) continue;
      const waiting = member.joinWaiter !== undefined || member.syncWaiter !== undefined;
      if (waiting || now <= member.deadlineMs) continue;
      this.#remove(member, `member ${member.memberId} sent no heartbeat within its session timeout (${member.sessionTimeoutMs} ms)`, ctx, actions);
    }
    const delay = this.#initialDelay;
    if (delay !== undefined && now >= delay.untilMs) {
      if (delay.newMemberAdded && delay.remainingMs > 0) {
        const extra = Math.min(this.#settings.initialRebalanceDelayMs, delay.remainingMs);
        this.#initialDelay = { untilMs: now + extra, remainingMs: delay.remainingMs - extra, newMemberAdded: false };
      } else {
        this.#initialDelay = undefined;
        this.#completeJoin(ctx, actions);
      }
    } else if (this.#state === GroupState.PREPARING_REBALANCE && this.#joinDeadlineMs !== undefined && now >= this.#joinDeadlineMs) {
      this.#completeJoin(ctx, actions);
    }
    if ((this.#state === GroupState.COMPLETING_REBALANCE || this.#state === GroupState.STABLE) && this.#syncDeadlineMs !== undefined && now >= this.#syncDeadlineMs) {
      this.#syncDeadlineMs = undefined;
      for (const member of [...this.#members.values()]) {
        if (member.synced || !this.#members.has(member.memberId)) continue;
        this.#remove(member, `member ${member.memberId} sent no SyncGroup within its rebalance timeout`, ctx, actions);
      }
    }
    return actions;
  }

  // ---------------------------------------------------------------------------------------------
  // Views

  describe(): DescribedGroup {
    const stable = this.#state === GroupState.STABLE;
    return {
      groupId: this.groupId,
      error: ErrorCode.NONE,
      state: this.#state,
      protocolType: this.#protocolType ?? '',
      protocolName: this.#protocolName ?? '',
      members: [...this.#members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable && this.#protocolName !== null ? (metadataFor(m, this.#protocolName) ?? EMPTY_BYTES) : EMPTY_BYTES,
        assignment: stable ? m.assignment : EMPTY_BYTES,
      })),
    };
  }

  /** The group as a store-group record, with `assignments` (default: the members' current ones). */
  toStored(wallMs: number, assignments: ReadonlyMap<string, Uint8Array> = this.#assignments()): StoredGroup {
    const members: StoredMember[] = [...this.#members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      subscription: toBase64((this.#protocolName === null ? undefined : metadataFor(m, this.#protocolName)) ?? EMPTY_BYTES),
      assignment: toBase64(assignments.get(m.memberId) ?? EMPTY_BYTES),
    }));
    const empty = members.length === 0;
    return {
      groupId: this.groupId,
      generation: this.#generation,
      protocolType: this.#protocolType,
      protocolName: empty ? null : this.#protocolName,
      leader: empty ? null : this.#leader,
      stateTimestampMs: empty ? this.#stateTimestampMs : wallMs,
      members,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // The rebalance

  #prepareRebalance(reason: string, ctx: GroupContext, actions: GroupAction[]): void {
    if (this.#state === GroupState.COMPLETING_REBALANCE) this.#resetAssignments(ErrorCode.REBALANCE_IN_PROGRESS, actions);
    const wasEmpty = this.#state === GroupState.EMPTY;
    this.#state = GroupState.PREPARING_REBALANCE;
    this.#stateTimestampMs = ctx.wallMs;
    this.#syncDeadlineMs = undefined;
    const rebalanceTimeoutMs = this.#rebalanceTimeoutMs();
    const initialDelayMs = this.#settings.initialRebalanceDelayMs;
    if (wasEmpty && initialDelayMs > 0) {
      // An empty group waits a little for more members, so a starting application that brings
      // them up one by one rebalances once, not once per member.
      this.#initialDelay = { untilMs: ctx.nowMs + initialDelayMs, remainingMs: Math.max(rebalanceTimeoutMs - initialDelayMs, 0), newMemberAdded: false };
      this.#joinDeadlineMs = undefined;
    } else {
      this.#initialDelay = undefined;
      this.#joinDeadlineMs = ctx.nowMs + rebalanceTimeoutMs;
    }
    actions.push({ type: 'log', message: 'preparing to rebalance', fields: { groupId: this.groupId, generation: this.#generation, reason, members: this.#members.size } });
    this.#tryCompleteJoin(ctx, actions);
  }

  /** Completes the join barrier once every member has rejoined and no new member is expected back. */
  #tryCompleteJoin(ctx: GroupContext, actions: GroupAction[]): void {
    if (this.#state !== GroupState.PREPARING_REBALANCE || this.#initialDelay !== undefined) return;
    if (this.#pending.size > 0) return;
    for (const member of this.#members.values()) if (member.joinWaiter === undefined) return;
    this.#completeJoin(ctx, actions);
  }

  /** Ends the join barrier: members that did not rejoin leave, the next generation starts. */
  #completeJoin(ctx: GroupContext, actions: GroupAction[]): void {
    if (this.#state !== GroupState.PREPARING_REBALANCE) return;
    this.#initialDelay = undefined;
    this.#joinDeadlineMs = undefined;
    for (const member of [...this.#members.values()]) {
      if (member.joinWaiter !== undefined) continue;
      this.#dropMember(member);
      actions.push({ type: 'log', message: 'removed a member that did not rejoin within the rebalance timeout', fields: { groupId: this.groupId, memberId: member.memberId, groupInstanceId: member.groupInstanceId } });
    }
    this.#generation++;
    if (this.#members.size === 0) {
      this.#state = GroupState.EMPTY;
      this.#protocolName = null;
      this.#leader = null;
      this.#stateTimestampMs = ctx.wallMs;
      actions.push({ type: 'log', message: 'the group is empty', fields: { groupId: this.groupId, generation: this.#generation } });
      this.#store({ kind: 'emptied' }, ctx, actions, new Map());
      return;
    }
    this.#protocolName = this.#selectProtocol();
    if (this.#leader === null || !this.#members.has(this.#leader)) this.#leader = this.#members.keys().next().value ?? null;
    this.#state = GroupState.COMPLETING_REBALANCE;
    this.#stateTimestampMs = ctx.wallMs;
    this.#syncDeadlineMs = ctx.nowMs + this.#rebalanceTimeoutMs();
    for (const member of this.#members.values()) {
      member.synced = false;
      member.assignment = EMPTY_BYTES;
      member.deadlineMs = ctx.nowMs + member.sessionTimeoutMs;
    }
    for (const member of this.#members.values()) {
      const waiter = member.joinWaiter!;
      member.joinWaiter = undefined;
      actions.push({ type: 'join-response', waiter, response: this.#joinAnswer(member.memberId, false) });
    }
    actions.push({
      type: 'log',
      message: 'join completed: waiting for the leader\'s assignment',
      fields: { groupId: this.groupId, generation: this.#generation, protocol: this.#protocolName, leader: this.#leader, members: this.#members.size },
    });
  }

  /** Removes a member (it left, expired or missed a barrier) and moves the group on. */
  #remove(member: Member, reason: string, ctx: GroupContext, actions: GroupAction[]): void {
    if (member.joinWaiter !== undefined) actions.push(joinError(member.joinWaiter, ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    if (member.syncWaiter !== undefined) actions.push(syncError(member.syncWaiter, ErrorCode.UNKNOWN_MEMBER_ID));
    member.joinWaiter = undefined;
    member.syncWaiter = undefined;
    this.#dropMember(member);
    actions.push({ type: 'log', message: 'member removed from the group', fields: { groupId: this.groupId, memberId: member.memberId, reason } });
    switch (this.#state) {
      case GroupState.STABLE:
      case GroupState.COMPLETING_REBALANCE:
        this.#prepareRebalance(reason, ctx, actions);
        return;
      case GroupState.PREPARING_REBALANCE:
        this.#tryCompleteJoin(ctx, actions);
        return;
      case GroupState.EMPTY:
      case GroupState.DEAD:
        return;
    }
  }

  #dropMember(member: Member): void {
    this.#members.delete(member.memberId);
    if (member.groupInstanceId !== null && this.#instances.get(member.groupInstanceId) === member.memberId) this.#instances.delete(member.groupInstanceId);
    if (this.#leader === member.memberId) this.#leader = this.#members.keys().next().value ?? null;
  }

  /** Answers every waiting SyncGroup with `error` and forgets the assignment being handed out. */
  #resetAssignments(error: ErrorCode, actions: GroupAction[]): void {
    this.#storingGeneration = undefined;
    this.#pendingAssignments.clear();
    for (const member of this.#members.values()) {
      member.assignment = EMPTY_BYTES;
      if (member.syncWaiter === undefined) continue;
      actions.push(syncError(member.syncWaiter, error));
      member.syncWaiter = undefined;
    }
  }

  #store(continuation: StoreContinuation, ctx: GroupContext, actions: GroupAction[], assignments: ReadonlyMap<string, Uint8Array>): void {
    const token = this.#nextToken++;
    this.#stores.set(token, continuation);
    if (continuation.kind === 'assignment') this.#pendingAssignments.set(continuation.generation, assignments);
    actions.push({ type: 'store', token, group: this.toStored(ctx.wallMs, assignments) });
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  #assignments(): Map<string, Uint8Array> {
    return new Map([...this.#members.values()].map((m) => [m.memberId, m.assignment]));
  }

  #joinAnswer(memberId: string, skipAssignment: boolean): JoinGroupResponse {
    const isLeader = memberId === this.#leader;
    const members: JoinedMember[] = isLeader
      ? [...this.#members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: metadataFor(m, this.#protocolName ?? '') ?? EMPTY_BYTES }))
      : [];
    return {
      error: ErrorCode.NONE,
      generation: this.#generation,
      protocolType: this.#protocolType,
      protocolName: this.#protocolName,
      leader: this.#leader ?? '',
      memberId,
      skipAssignment: isLeader && skipAssignment,
      members,
    };
  }

  #syncAnswer(member: Member): SyncGroupResponse {
    return { error: ErrorCode.NONE, protocolType: this.#protocolType, protocolName: this.#protocolName, assignment: member.assignment };
  }

  /** A static member's old id: its instance id now belongs to another member id. */
  #fenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const current = this.#instances.get(groupInstanceId);
    return current !== undefined && current !== memberId;
  }

  /**
   * Whether a member with these protocols may be in the group: in an empty group, any type and at
   * least one protocol; otherwise the group's protocol type and a protocol every other member
   * supports too.
   */
  #supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[], memberId: string): boolean {
    if (protocolType === '' || protocols.length === 0) return false;
    const others = [...this.#members.values()].filter((m) => m.memberId !== memberId);
    if (others.length === 0) return true;
    if (protocolType !== this.#protocolType) return false;
    return protocols.some((p) => others.every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  /**
   * The protocol for the next generation: among those every member supports, the one most members
   * rank first among them; ties go to the one the leader prefers.
   */
  #selectProtocol(): string {
    const members = [...this.#members.values()];
    const leader = (this.#leader === null ? undefined : this.#members.get(this.#leader)) ?? members[0]!;
    const candidates = leader.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((q) => q.name === name)));
    assert(candidates.length > 0, () => `group ${this.groupId}: no protocol every member supports`);
    const votes = new Map<string, number>(candidates.map((name) => [name, 0]));
    for (const member of members) {
      const vote = member.protocols.find((p) => votes.has(p.name))!.name;
      votes.set(vote, votes.get(vote)! + 1);
    }
    let best = candidates[0]!;
    for (const name of candidates) if (votes.get(name)! > votes.get(best)!) best = name;
    return best;
  }

  #rebalanceTimeoutMs(): number {
    let longest = 0;
    for (const member of this.#members.values()) longest = Math.max(longest, member.rebalanceTimeoutMs);
    return longest;
  }
}

function joinError(waiter: number, error: ErrorCode, memberId: string): GroupAction {
  return {
    type: 'join-response',
    waiter,
    response: { error, generation: NO_GENERATION, protocolType: null, protocolName: null, leader: '', memberId, skipAssignment: false, members: [] },
  };
}

function syncError(waiter: number, error: ErrorCode): GroupAction {
  return { type: 'sync-response', waiter, response: { error, protocolType: null, protocolName: null, assignment: EMPTY_BYTES } };
}

function metadataFor(member: { readonly protocols: readonly GroupProtocol[] }, protocolName: string): Uint8Array | undefined {
  return member.protocols.find((p) => p.name === protocolName)?.metadata;
}

function sameProtocols(a: readonly GroupProtocol[], b: readonly GroupProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && bytesEqual(p.metadata, b[i]!.metadata));
}

function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function reasonSuffix(reason: string | undefined): string {
  return reason === undefined || reason === '' ? '' : ` (${reason})`;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
