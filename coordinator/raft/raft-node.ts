/**
 * The Raft core: one node's consensus state machine, with no I/O, no timers and no clock.
 *
 * A driver feeds it peer messages (step), logical clock ticks (tick) and client requests
 * (propose, readIndex, proposeMembershipChange, transferLeadership), and collects the consequences
 * as a Ready batch: what to persist, what to send, what to apply. The core is synchronous and
 * deterministic: the same inputs (and the same injected random numbers) give the same outputs, which
 * is what lets the simulator replay a failing seed exactly.
 *
 * Persist-before-send. Every message in a Ready may depend on the hard state and entries of that
 * same Ready (a vote reply on the vote, an append ack on the entries, a leader's append on its own
 * term), so the driver must make the Ready's persistent part durable before releasing any of its
 * messages; see `Ready` for the exact order. The core hands out one Ready at a time, so "everything
 * earlier is durable" holds by induction. The leader does not exploit the thesis' parallel-append
 * optimisation (§10.2.1): it counts its own unpersisted entries towards commit, which is safe only
 * because no follower can ack an entry before the leader's Ready carrying it was persisted, and
 * committed entries are applied only after their Ready is persisted.
 *
 * Choices (see coordinator/raft/README.md for the reasoning):
 * - PreVote and CheckQuorum are on by default; together with the lease check on votes they keep a
 *   partitioned or removed node from inflating terms and survive partial partitions.
 * - Membership changes are single-server, and a configuration takes effect when its entry is
 *   APPENDED (dissertation §4.1): the voter set is a pure function of the log, so there is no
 *   "committed but not yet applied" configuration to campaign across, and truncating an
 *   uncommitted config entry reverts to the previous one. A leader accepts a change only after it
 *   has committed an entry of its own term and only while no config entry is uncommitted.
 * - A new leader appends an empty entry; commitment counts replicas only for entries of the current
 *   term (earlier ones commit with it), and ReadIndex waits for that entry to commit.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { assert } from './assert.js';
import { Progress, ProgressState } from './progress.js';
import { RaftLog } from './raft-log.js';
import {
  type AppendMessage,
  type AppendResponseMessage,
  type Entry,
  type FollowerStatus,
  type HardState,
  type HeartbeatMessage,
  type HeartbeatResponseMessage,
  type MembershipChange,
  type Message,
  type ProposalPosition,
  type RaftStatus,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotMessage,
  type VoteRequestMessage,
  MessageType,
  NO_NODE,
  Role,
} from './types.js';

/** An integer in [0, maxExclusive): a seeded generator in tests and simulation, a CSPRNG-backed one in production. */
export type RandomInt = (maxExclusive: number) => number;

/**
 * Deliberate bugs, for proving the simulator catches them. Never set outside tests: each one
 * breaks a rule that Raft's safety rests on.
 */
export interface RaftTestBugs {
  /** Reply to a vote request before the vote is durable (the vote reaches storage one Ready later). */
  readonly voteReplyBeforePersist?: boolean;
  /** Commit any entry a majority holds, whatever its term (Raft paper, Figure 8). */
  readonly commitOldTermEntries?: boolean;
  /** Answer ReadIndex at once from the local commit index, without a heartbeat round or the no-op. */
  readonly readWithoutQuorumCheck?: boolean;
  /** Followers drop every entry after an append's last entry, even entries that matched. */
  readonly truncateOnEveryAppend?: boolean;
  /** Count vote responses from earlier terms towards the current election. */
  readonly countStaleVotes?: boolean;
}

/** What the driver read back from storage at start-up. */
export interface RestoredState {
  readonly hardState: HardState;
  /** Always present once a node has run: a new node's first Ready persists a bootstrap snapshot at index 0. */
  readonly snapshot: Snapshot;
  /** The entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  /** The state machine's applied index, if the driver persists it with its state; else the snapshot index. */
  readonly applied?: number;
}

export interface RaftNodeOptions {
  readonly id: number;
  /**
   * A follower that hears no leader for a random number of ticks in [electionTicks, 2·electionTicks)
   * campaigns; a CheckQuorum leader steps down if it has not heard from a quorum in electionTicks.
   */
  readonly electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks; must be < electionTicks. */
  readonly heartbeatTicks: number;
  readonly randomInt: RandomInt;
  /** Default true. */
  readonly preVote?: boolean;
  /** Default true. */
  readonly checkQuorum?: boolean;
  /** Unanswered appends per follower in the replicate state. Default 64. */
  readonly maxInflightAppends?: number;
  /** Default 256. */
  readonly maxEntriesPerAppend?: number;
  /** Soft cap on entry data per append (at least one entry is always sent). Also the largest proposal. Default 1 MiB. */
  readonly maxBytesPerAppend?: number;
  /** Proposals are refused while this many entries are uncommitted. Default 10,000. */
  readonly maxUncommittedEntries?: number;
  /** Reads waiting for the leader's first commit or a heartbeat round. Default 10,000. */
  readonly maxPendingReads?: number;
  /** Default 4,096. */
  readonly maxCommittedEntriesPerReady?: number;
  /** What storage holds; omit for a brand-new node. */
  readonly restored?: RestoredState;
  /**
   * The voters of a brand-new cluster, identical on every founding member; a node that will join
   * later by a membership change starts with []. Ignored when `restored` is given (the persisted
   * bootstrap snapshot carries it).
   */
  readonly initialVoters?: readonly number[];
  readonly testOnlyBugs?: RaftTestBugs;
}

interface PendingRead {
  readonly seq: number;
  readonly index: number;
  readonly context: string;
  readonly from: number;
}

const EMPTY = new Uint8Array(0);

function quorum(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

function notLeader(leaderId: number): StreamBusError {
  return new StreamBusError(
    ErrorCode.NOT_CONTROLLER,
    leaderId === NO_NODE ? 'this node is not the leader and no leader is known' : `this node is not the leader; node ${leaderId} is`,
  );
}

function storageError(message: string): StreamBusError {
  return new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `raft storage is inconsistent, refusing to start: ${message}`);
}

function isNodeId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function validVoters(voters: readonly number[]): boolean {
  for (let i = 0; i < voters.length; i++) {
    if (!isNodeId(voters[i]) || (i > 0 && voters[i]! <= voters[i - 1]!)) return false;
  }
  return true;
}

export class RaftNode {
  readonly #id: number;
  readonly #electionTicks: number;
  readonly #heartbeatTicks: number;
  readonly #randomInt: RandomInt;
  readonly #preVote: boolean;
  readonly #checkQuorum: boolean;
  readonly #maxInflight: number;
  readonly #maxEntriesPerAppend: number;
  readonly #maxBytesPerAppend: number;
  readonly #maxUncommitted: number;
  readonly #maxPendingReads: number;
  readonly #maxCommittedPerReady: number;
  readonly #bugs: RaftTestBugs;

  #term: number;
  #vote: number;
  #role: Role = Role.FOLLOWER;
  #leaderId = NO_NODE;
  readonly #log: RaftLog;
  #voters: readonly number[] = [];
  #configIndex = 0;

  #ticks = 0;
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedElectionTimeout: number;
  readonly #votes = new Map<number, boolean>();
  readonly #progress = new Map<number, Progress>();
  #leadTransferee = NO_NODE;

  #messages: Message[] = [];
  #readStates: ReadState[] = [];
  /** Reads that arrived before this leader committed an entry of its term. */
  #readsAwaitingCommit: { context: string; from: number }[] = [];
  #pendingReads: PendingRead[] = [];
  /** The last ReadIndex heartbeat round started; a round confirms every read queued before it. */
  #readSeq = 0;
  #readRoundWanted = false;
  /** Batching: proposals only mark the followers dirty; one append per follower goes out per Ready. */
  #broadcastWanted = false;
  #commitBroadcastWanted = false;

  /** The hard state handed out in the last Ready (what storage holds once that Ready is persisted). */
  #reportedHardState: HardState;
  #readyOutstanding = false;
  #applied: number;
  #deferVote = false;

  constructor(options: RaftNodeOptions) {
    if (!isNodeId(options.id)) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `raft node id must be a positive integer, got ${String(options.id)}`);
    if (!Number.isSafeInteger(options.heartbeatTicks) || options.heartbeatTicks < 1) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `heartbeatTicks must be a positive integer, got ${options.heartbeatTicks}`);
    }
    if (!Number.isSafeInteger(options.electionTicks) || options.electionTicks <= options.heartbeatTicks) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `electionTicks (${options.electionTicks}) must be an integer greater than heartbeatTicks (${options.heartbeatTicks})`);
    }
    this.#id = options.id;
    this.#electionTicks = options.electionTicks;
    this.#heartbeatTicks = options.heartbeatTicks;
    this.#randomInt = options.randomInt;
    this.#preVote = options.preVote ?? true;
    this.#checkQuorum = options.checkQuorum ?? true;
    this.#maxInflight = positive('maxInflightAppends', options.maxInflightAppends, 64);
    this.#maxEntriesPerAppend = positive('maxEntriesPerAppend', options.maxEntriesPerAppend, 256);
    this.#maxBytesPerAppend = positive('maxBytesPerAppend', options.maxBytesPerAppend, 1024 * 1024);
    this.#maxUncommitted = positive('maxUncommittedEntries', options.maxUncommittedEntries, 10_000);
    this.#maxPendingReads = positive('maxPendingReads', options.maxPendingReads, 10_000);
    this.#maxCommittedPerReady = positive('maxCommittedEntriesPerReady', options.maxCommittedEntriesPerReady, 4096);
    this.#bugs = options.testOnlyBugs ?? {};

    const restored = options.restored;
    if (restored === undefined) {
      const voters = [...(options.initialVoters ?? [])].sort((a, b) => a - b);
      if (!validVoters(voters)) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `initialVoters must be distinct positive integers, got [${voters.join(', ')}]`);
      this.#term = 0;
      this.#vote = NO_NODE;
      this.#log = new RaftLog({ meta: { index: 0, term: 0, voters }, data: EMPTY }, [], 0, 0);
      // The bootstrap configuration must survive a restart like any other state: the first Ready persists it.
      this.#log.markSnapshotPending();
      this.#reportedHardState = { term: 0, vote: NO_NODE, commit: 0 };
      this.#applied = 0;
    } else {
      validateRestored(restored);
      const { hardState, snapshot, entries } = restored;
      const commit = Math.max(hardState.commit, snapshot.meta.index);
      const applied = restored.applied ?? snapshot.meta.index;
      this.#term = hardState.term;
      this.#vote = hardState.vote;
      this.#log = new RaftLog(snapshot, entries, commit, applied);
      this.#reportedHardState = { ...hardState, commit };
      this.#applied = applied;
    }
    this.#refreshConfig();
    this.#randomizedElectionTimeout = this.#newElectionTimeout();
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /**
   * Advances the logical clock by one tick. Followers and candidates campaign after a randomized
   * election timeout without hearing a leader; a leader sends heartbeats and runs CheckQuorum.
   */
  tick(): void {
    this.#ticks++;
    if (this.#role === Role.LEADER) {
      this.#tickLeader();
      return;
    }
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#randomizedElectionTimeout && this.#isPromotable()) {
      this.#electionElapsed = 0;
      this.#campaign(this.#preVote ? 'pre-vote' : 'vote', false);
    }
  }

  /** Starts an election now (as if the election timer fired); ignored by a leader or a non-voter. */
  campaign(): void {
    if (this.#role === Role.LEADER || !this.#isPromotable()) return;
    this.#campaign(this.#preVote ? 'pre-vote' : 'vote', false);
  }

  /**
   * Feeds one message from a peer. Messages from older terms are dropped (or answered with our
   * term, so a deposed leader learns it); a message from a newer term moves this node to it
   * (unless it is a vote request and the node still hears its leader). A malformed message is
   * rejected with INVALID_REQUEST and changes nothing.
   */
  step(m: Message): void {
    checkMessage(m, this.#id);
    if (m.term > this.#term) {
      if (m.type === MessageType.VOTE || m.type === MessageType.PRE_VOTE) {
        // The lease check: while we hear from a leader, a campaigner is cut off from it rather than
        // the leader being gone, so its vote request must not unseat a working leader.
        const inLease = this.#checkQuorum && this.#leaderId !== NO_NODE && this.#electionElapsed < this.#electionTicks;
        if (inLease && !m.transfer) return;
      }
      if (m.type === MessageType.PRE_VOTE) {
        // A pre-vote never changes our term: that is the point of it.
      } else if (m.type === MessageType.PRE_VOTE_RESPONSE && !m.reject) {
        // A grant carries the term we would campaign in, not the voter's current term.
      } else {
        const leader = m.type === MessageType.APPEND || m.type === MessageType.HEARTBEAT || m.type === MessageType.SNAPSHOT ? m.from : NO_NODE;
        this.#becomeFollower(m.term, leader);
      }
    } else if (m.term < this.#term) {
      if (m.type === MessageType.APPEND || m.type === MessageType.HEARTBEAT) {
        // A leader of an older term (back from a partition, or outvoted while paused): answer with
        // our term so it steps down instead of retrying forever. With CheckQuorum it would step
        // down eventually anyway, but only after an election timeout.
        this.#send({ from: this.#id, type: MessageType.APPEND_RESPONSE, to: m.from, term: this.#term, index: 0, reject: false, hintIndex: 0, hintTerm: 0 });
        return;
      }
      if (m.type === MessageType.PRE_VOTE) {
        // Tell a lagging pre-candidate our term: it adopts it and stops campaigning for a stale one.
        this.#send({ from: this.#id, type: MessageType.PRE_VOTE_RESPONSE, to: m.from, term: this.#term, reject: true });
        return;
      }
      if (!(this.#bugs.countStaleVotes === true && m.type === MessageType.VOTE_RESPONSE)) return;
    }

    if (m.type === MessageType.VOTE || m.type === MessageType.PRE_VOTE) {
      this.#handleVoteRequest(m);
      return;
    }
    switch (this.#role) {
      case Role.LEADER:
        this.#stepLeader(m);
        return;
      case Role.CANDIDATE:
      case Role.PRE_CANDIDATE:
        this.#stepCandidate(m);
        return;
      case Role.FOLLOWER:
        this.#stepFollower(m);
        return;
    }
  }

  /**
   * Appends `data` to the log as the leader. Returns where it landed: the proposal is committed iff
   * the entry later applied at `index` has this `term` (another entry there means it was lost).
   * Throws NOT_CONTROLLER (retriable) on a non-leader or during a leadership transfer,
   * MESSAGE_TOO_LARGE above maxBytesPerAppend, THROTTLING_QUOTA_EXCEEDED (retriable) while
   * maxUncommittedEntries are waiting for a quorum.
   */
  propose(data: Uint8Array): ProposalPosition {
    this.#requireLeaderAcceptingWrites();
    if (!(data instanceof Uint8Array)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'a proposal must be a Uint8Array');
    if (data.byteLength > this.#maxBytesPerAppend) {
      throw new StreamBusError(ErrorCode.MESSAGE_TOO_LARGE, `proposal of ${data.byteLength} bytes exceeds maxBytesPerAppend (${this.#maxBytesPerAppend})`);
    }
    this.#checkUncommittedRoom();
    const index = this.#log.lastIndex + 1;
    this.#appendAsLeader({ kind: 'normal', index, term: this.#term, data });
    return { index, term: this.#term };
  }

  /**
   * Proposes adding or removing one voter. The new voter set is used as soon as the entry is
   * appended (on every node that appends it). Refused with LEADER_NOT_AVAILABLE (retriable) until
   * this leader has committed an entry of its term, and with INVALID_REQUEST while another change is
   * uncommitted, for a voter already in (or not in) the set, or for removing the last voter.
   */
  proposeMembershipChange(change: MembershipChange): ProposalPosition {
    this.#requireLeaderAcceptingWrites();
    if (!isNodeId(change.nodeId)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `membership change names node ${String(change.nodeId)}; node ids are positive integers`);
    if (!this.#committedInCurrentTerm()) {
      // The single-server change bug (raft-dev, 2015): a leader that has not committed in its term
      // may hold a stale config; changing it then can produce two disjoint majorities.
      throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, 'the leader has not yet committed an entry of its term; retry shortly');
    }
    if (this.#configIndex > this.#log.committed) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `a membership change is in progress (config entry ${this.#configIndex} is not committed yet)`);
    }
    let voters: number[];
    if (change.type === 'add-voter') {
      if (this.#voters.includes(change.nodeId)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `node ${change.nodeId} is already a voter`);
      voters = [...this.#voters, change.nodeId].sort((a, b) => a - b);
    } else if (change.type === 'remove-voter') {
      if (!this.#voters.includes(change.nodeId)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `node ${change.nodeId} is not a voter`);
      if (this.#voters.length === 1) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'cannot remove the last voter');
      voters = this.#voters.filter((v) => v !== change.nodeId);
    } else {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `unknown membership change type ${String((change as { type: unknown }).type)}`);
    }
    this.#checkUncommittedRoom();
    const index = this.#log.lastIndex + 1;
    this.#appendAsLeader({ kind: 'config', index, term: this.#term, voters });
    return { index, term: this.#term };
  }

  /**
   * Requests a linearizable read. A ReadState with this `context` comes out in a later Ready once
   * the leader has (1) committed an entry of its term and (2) confirmed by a heartbeat round with a
   * quorum that it was still leader after the request; reading the state machine after applying
   * up to its index then sees every write acknowledged before this call. On a follower the request
   * is forwarded to the leader. Nothing comes out if leadership changes first: callers time out
   * and retry. Throws NOT_CONTROLLER (retriable) when no leader is known,
   * THROTTLING_QUOTA_EXCEEDED (retriable) when maxPendingReads are waiting.
   */
  readIndex(context: string): void {
    if (this.#role === Role.LEADER) {
      if (!this.#handleReadRequest(context, this.#id)) {
        throw new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${this.#maxPendingReads} reads are already waiting`);
      }
      return;
    }
    if (this.#leaderId === NO_NODE) throw notLeader(NO_NODE);
    this.#send({ from: this.#id, type: MessageType.READ_INDEX, to: this.#leaderId, term: this.#term, context });
  }

  /**
   * Hands leadership to voter `to`: once its log matches ours, it is told to campaign at once
   * (TimeoutNow), skipping PreVote and the lease check. Proposals are refused meanwhile; the
   * transfer is abandoned after an election timeout. Throws NOT_CONTROLLER on a non-leader,
   * INVALID_REQUEST if `to` is not a voter.
   */
  transferLeadership(to: number): void {
    if (this.#role !== Role.LEADER) throw notLeader(this.#leaderId);
    if (to === this.#id) return;
    if (!this.#voters.includes(to)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `node ${to} is not a voter`);
    if (this.#leadTransferee === to) return;
    this.#leadTransferee = to;
    // The transfer must finish within one election timeout; the leader's timer measures it.
    this.#electionElapsed = 0;
    const pr = this.#progress.get(to);
    if (pr === undefined) return;
    if (pr.match === this.#log.lastIndex) this.#send({ from: this.#id, type: MessageType.TIMEOUT_NOW, to, term: this.#term });
    else this.#sendAppend(to, true);
  }

  /** The transport could not reach `id`: stop pipelining to it and probe instead. */
  reportUnreachable(id: number): void {
    const pr = this.#progress.get(id);
    if (this.#role === Role.LEADER && pr?.state === ProgressState.REPLICATE) pr.becomeProbe();
  }

  /**
   * Compacts the log up to `index`, which must have been handed out for apply, replacing that prefix
   * by `data` (the state machine at `index`). Returns the new snapshot, which the driver persists
   * together with deleting the entries it covers, in one atomic write of its own (losing that write
   * in a crash is harmless); followers that need the dropped entries get this snapshot. Returns
   * undefined when `index` is not past the current snapshot.
   */
  compact(index: number, data: Uint8Array): Snapshot | undefined {
    if (index <= this.#log.snapshotMeta.index) return undefined;
    this.#log.compact(index, data);
    return this.#log.snapshot;
  }

  // ---------------------------------------------------------------------------------------------
  // Outputs

  /** True when ready() would return work and no earlier Ready is waiting for advance(). */
  hasReady(): boolean {
    if (this.#readyOutstanding) return false;
    return (
      this.#messages.length > 0 ||
      this.#readStates.length > 0 ||
      this.#broadcastWanted ||
      this.#commitBroadcastWanted ||
      this.#readRoundWanted ||
      this.#log.hasPendingSnapshot ||
      this.#log.hasUnstableEntries ||
      this.#log.hasUnappliedCommitted ||
      !sameHardState(this.#hardState(), this.#reportedHardState)
    );
  }

  /**
   * The next batch of work (see `Ready` for the persist → send → apply → advance contract).
   * Calling it again before advance() is a driver bug and throws RaftAssertionError.
   */
  ready(): Ready {
    assert(!this.#readyOutstanding, 'ready() called again before advance()');
    this.#flushBroadcasts();
    const current = this.#hardState();
    let reported = current;
    if (this.#deferVote) {
      // Seeded bug: the vote reply goes out in this Ready, the vote itself only in the next one.
      this.#deferVote = false;
      const previous = this.#reportedHardState;
      reported = { ...current, vote: previous.term === current.term ? previous.vote : NO_NODE };
    }
    const hardState = sameHardState(reported, this.#reportedHardState) ? undefined : reported;
    this.#reportedHardState = reported;
    const { snapshot, entries } = this.#log.takeUnstable();
    const committedEntries = this.#log.takeCommitted(this.#maxCommittedPerReady);
    const messages = this.#messages;
    const readStates = this.#readStates;
    this.#messages = [];
    this.#readStates = [];
    this.#readyOutstanding = true;
    return { hardState, snapshot, entries, messages, committedEntries, readStates, softState: { role: this.#role, leaderId: this.#leaderId } };
  }

  /** Acknowledges the last Ready: it is persisted, its messages sent, its entries applied. */
  advance(): void {
    assert(this.#readyOutstanding, 'advance() without an outstanding Ready');
    this.#readyOutstanding = false;
    this.#applied = this.#log.appliedTo;
  }

  // ---------------------------------------------------------------------------------------------
  // Read-only views

  get id(): number {
    return this.#id;
  }

  get role(): Role {
    return this.#role;
  }

  get term(): number {
    return this.#term;
  }

  get leaderId(): number {
    return this.#leaderId;
  }

  get commitIndex(): number {
    return this.#log.committed;
  }

  status(): RaftStatus {
    const followers: FollowerStatus[] = [];
    if (this.#role === Role.LEADER) {
      for (const [id, pr] of this.#progress) {
        followers.push({ id, match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
      }
    }
    return {
      id: this.#id,
      role: this.#role,
      term: this.#term,
      vote: this.#vote,
      leaderId: this.#leaderId,
      commit: this.#log.committed,
      applied: this.#applied,
      firstIndex: this.#log.firstIndex,
      lastIndex: this.#log.lastIndex,
      snapshotIndex: this.#log.snapshotMeta.index,
      voters: this.#voters,
      configIndex: this.#configIndex,
      followers,
      leadTransferee: this.#leadTransferee,
    };
  }

  /** The in-memory log (snapshot metadata and the entries after it), for invariant checks and debugging. Do not mutate. */
  inspectLog(): { readonly snapshotIndex: number; readonly snapshotTerm: number; readonly entries: readonly Entry[] } {
    const meta = this.#log.snapshotMeta;
    return { snapshotIndex: meta.index, snapshotTerm: meta.term, entries: this.#log.entries };
  }

  // ---------------------------------------------------------------------------------------------
  // Roles

  #becomeFollower(term: number, leaderId: number): void {
    this.#reset(term);
    this.#role = Role.FOLLOWER;
    this.#leaderId = leaderId;
  }

  #becomePreCandidate(): void {
    // Term and vote stay: a pre-candidate asks "would you vote for me?" without committing anyone.
    this.#reset(this.#term);
    this.#role = Role.PRE_CANDIDATE;
    this.#leaderId = NO_NODE;
  }

  #becomeCandidate(): void {
    this.#reset(this.#term + 1);
    this.#role = Role.CANDIDATE;
    this.#vote = this.#id;
    this.#leaderId = NO_NODE;
  }

  #becomeLeader(): void {
    assert(this.#role === Role.CANDIDATE, () => `node ${this.#id} became leader from ${this.#role}`);
    this.#reset(this.#term);
    this.#role = Role.LEADER;
    this.#leaderId = this.#id;
    this.#syncProgress();
    // CheckQuorum's first round starts now: only answers from here on count.
    for (const pr of this.#progress.values()) pr.recentActive = false;
    // The no-op: entries of earlier terms commit only indirectly, with an entry of this term.
    this.#appendAsLeader({ kind: 'normal', index: this.#log.lastIndex + 1, term: this.#term, data: EMPTY });
  }

  #reset(term: number): void {
    if (term !== this.#term) {
      this.#term = term;
      this.#vote = NO_NODE;
    }
    this.#leaderId = NO_NODE;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#randomizedElectionTimeout = this.#newElectionTimeout();
    this.#leadTransferee = NO_NODE;
    this.#votes.clear();
    this.#progress.clear();
    this.#readsAwaitingCommit = [];
    this.#pendingReads = [];
    this.#readRoundWanted = false;
    this.#broadcastWanted = false;
    this.#commitBroadcastWanted = false;
  }

  #newElectionTimeout(): number {
    const jitter = this.#randomInt(this.#electionTicks);
    assert(Number.isSafeInteger(jitter) && jitter >= 0 && jitter < this.#electionTicks, () => `randomInt(${this.#electionTicks}) returned ${jitter}`);
    return this.#electionTicks + jitter;
  }

  #isPromotable(): boolean {
    return this.#voters.includes(this.#id);
  }

  // ---------------------------------------------------------------------------------------------
  // Elections

  #campaign(kind: 'pre-vote' | 'vote', transfer: boolean): void {
    let term: number;
    if (kind === 'pre-vote') {
      this.#becomePreCandidate();
      term = this.#term + 1;
    } else {
      this.#becomeCandidate();
      term = this.#term;
    }
    if (this.#poll(this.#id, true) === 'won') {
      // A single voter wins at once.
      if (kind === 'pre-vote') this.#campaign('vote', transfer);
      else this.#becomeLeader();
      return;
    }
    const type = kind === 'pre-vote' ? MessageType.PRE_VOTE : MessageType.VOTE;
    for (const voter of this.#voters) {
      if (voter === this.#id) continue;
      this.#send({ from: this.#id, type, to: voter, term, lastIndex: this.#log.lastIndex, lastTerm: this.#log.lastTerm, transfer });
    }
  }

  #poll(from: number, granted: boolean): 'won' | 'lost' | 'pending' {
    if (this.#voters.includes(from) && !this.#votes.has(from)) this.#votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const voter of this.#voters) {
      const vote = this.#votes.get(voter);
      if (vote === true) yes++;
      else if (vote === false) no++;
    }
    const q = quorum(this.#voters.length);
    if (yes >= q) return 'won';
    if (no >= q) return 'lost';
    return 'pending';
  }

  #handleVoteRequest(m: VoteRequestMessage): void {
    const pre = m.type === MessageType.PRE_VOTE;
    const canVote =
      this.#vote === m.from ||
      (this.#vote === NO_NODE && this.#leaderId === NO_NODE) ||
      // A pre-vote for a future term promises nothing, so it may be granted even after voting.
      (pre && m.term > this.#term);
    const responseType = pre ? MessageType.PRE_VOTE_RESPONSE : MessageType.VOTE_RESPONSE;
    if (canVote && this.#log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.#send({ from: this.#id, type: responseType, to: m.from, term: m.term, reject: false });
      if (!pre) {
        this.#electionElapsed = 0;
        this.#vote = m.from;
        if (this.#bugs.voteReplyBeforePersist === true) this.#deferVote = true;
      }
    } else {
      this.#send({ from: this.#id, type: responseType, to: m.from, term: this.#term, reject: true });
    }
  }

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.APPEND:
      case MessageType.HEARTBEAT:
      case MessageType.SNAPSHOT:
        // Someone already won this term.
        this.#becomeFollower(m.term, m.from);
        this.#stepFollower(m);
        return;
      case MessageType.PRE_VOTE_RESPONSE:
      case MessageType.VOTE_RESPONSE: {
        const mine = this.#role === Role.PRE_CANDIDATE ? MessageType.PRE_VOTE_RESPONSE : MessageType.VOTE_RESPONSE;
        if (m.type !== mine) return;
        const result = this.#poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.#role === Role.PRE_CANDIDATE) this.#campaign('vote', false);
          else this.#becomeLeader();
        } else if (result === 'lost') {
          this.#becomeFollower(this.#term, NO_NODE);
        }
        return;
      }
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Follower

  #stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.APPEND:
        this.#heardFromLeader(m.from);
        this.#handleAppend(m);
        return;
      case MessageType.HEARTBEAT:
        this.#heardFromLeader(m.from);
        this.#handleHeartbeat(m);
        return;
      case MessageType.SNAPSHOT:
        this.#heardFromLeader(m.from);
        this.#handleSnapshot(m);
        return;
      case MessageType.TIMEOUT_NOW:
        if (this.#isPromotable()) this.#campaign('vote', true);
        return;
      case MessageType.READ_INDEX_RESPONSE:
        this.#readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  #heardFromLeader(leaderId: number): void {
    this.#electionElapsed = 0;
    this.#leaderId = leaderId;
  }

  #handleAppend(m: AppendMessage): void {
    const log = this.#log;
    if (m.prevIndex < log.committed) {
      // Our committed prefix is in every later leader's log: say where it ends.
      this.#send({ from: this.#id, type: MessageType.APPEND_RESPONSE, to: m.from, term: this.#term, index: log.committed, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    if (log.matchTerm(m.prevIndex, m.prevTerm)) {
      const configBefore = this.#configIndex;
      const lastNew = log.appendAfterMatch(m.prevIndex, m.entries, this.#bugs.truncateOnEveryAppend === true);
      this.#withdrawAcksForDroppedEntries();
      if (m.entries.some((e) => e.kind === 'config') || this.#configLost(configBefore)) this.#refreshConfig();
      log.commitTo(Math.min(m.commit, lastNew));
      this.#send({ from: this.#id, type: MessageType.APPEND_RESPONSE, to: m.from, term: this.#term, index: lastNew, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const hint = log.findConflictByTerm(Math.min(m.prevIndex, log.lastIndex), m.prevTerm);
    this.#send({ from: this.#id, type: MessageType.APPEND_RESPONSE, to: m.from, term: this.#term, index: m.prevIndex, reject: true, hintIndex: hint.index, hintTerm: hint.term });
  }

  /**
   * An ack queued for this Ready says "entries up to i are on my disk" and goes out once the Ready
   * is persisted. If those entries were replaced before the Ready was even handed out (an older
   * leader's append, then a newer leader's conflicting one, both between two Readys), they will
   * never reach the disk: the ack would invent a replica, and the older leader could count it
   * towards a quorum. Withdraw such acks; the leader retries after its next heartbeat.
   */
  #withdrawAcksForDroppedEntries(): void {
    const droppedFrom = this.#log.takeDroppedFrom();
    if (droppedFrom === Infinity) return;
    this.#messages = this.#messages.filter((m) => !(m.type === MessageType.APPEND_RESPONSE && !m.reject && m.index >= droppedFrom));
  }

  #handleHeartbeat(m: HeartbeatMessage): void {
    // The leader sends min(our match, its commit), and our matched prefix cannot have been truncated
    // in this term, so this never passes our last index.
    this.#log.commitTo(m.commit);
    this.#send({ from: this.#id, type: MessageType.HEARTBEAT_RESPONSE, to: m.from, term: this.#term, readSeq: m.readSeq });
  }

  #handleSnapshot(m: SnapshotMessage): void {
    const log = this.#log;
    const meta = m.snapshot.meta;
    let index: number;
    if (meta.index <= log.committed) {
      index = log.committed;
    } else if (log.matchTerm(meta.index, meta.term)) {
      // We already hold the snapshot's last entry, hence (log matching) everything before it.
      log.commitTo(meta.index);
      index = meta.index;
    } else {
      log.restore(m.snapshot);
      this.#withdrawAcksForDroppedEntries();
      this.#refreshConfig();
      index = meta.index;
    }
    this.#send({ from: this.#id, type: MessageType.APPEND_RESPONSE, to: m.from, term: this.#term, index, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  // ---------------------------------------------------------------------------------------------
  // Leader

  #stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.APPEND_RESPONSE:
        this.#handleAppendResponse(m);
        return;
      case MessageType.HEARTBEAT_RESPONSE:
        this.#handleHeartbeatResponse(m);
        return;
      case MessageType.READ_INDEX:
        // A full queue drops the forwarded read; the follower's caller times out and retries.
        if (this.#progress.has(m.from)) this.#handleReadRequest(m.context, m.from);
        return;
      default:
        // Appends or heartbeats from another node in our own term cannot happen (one leader per
        // term); anything else is a late answer to a campaign we already won.
        return;
    }
  }

  #tickLeader(): void {
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#electionTicks) {
      this.#electionElapsed = 0;
      if (this.#checkQuorum) {
        if (!this.#quorumActive()) {
          // CheckQuorum: a leader cut off from a quorum stops accepting writes and reads rather than
          // serving a minority; the majority side elects a new leader meanwhile.
          this.#becomeFollower(this.#term, NO_NODE);
          return;
        }
        for (const pr of this.#progress.values()) pr.recentActive = false;
      }
      if (this.#leadTransferee !== NO_NODE) this.#leadTransferee = NO_NODE;
    }
    if (this.#heartbeatElapsed >= this.#heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#broadcastHeartbeat();
    }
  }

  #quorumActive(): boolean {
    let active = 0;
    for (const voter of this.#voters) {
      if (voter === this.#id || this.#progress.get(voter)?.recentActive === true) active++;
    }
    return active >= quorum(this.#voters.length);
  }

  #broadcastHeartbeat(): void {
    for (const [to, pr] of this.#progress) {
      this.#send({ from: this.#id, type: MessageType.HEARTBEAT, to, term: this.#term, commit: Math.min(pr.match, this.#log.committed), readSeq: this.#readSeq });
    }
  }

  #appendAsLeader(entry: Entry): void {
    this.#log.truncateAndAppend([entry]);
    if (entry.kind === 'config') this.#refreshConfig();
    this.#broadcastWanted = true;
    // A single voter commits on its own.
    this.#maybeCommit();
  }

  /** Sends appends (and InstallSnapshot where needed) to every follower; the batching point. */
  #flushBroadcasts(): void {
    if (this.#role === Role.LEADER) {
      if (this.#broadcastWanted || this.#commitBroadcastWanted) {
        for (const to of this.#progress.keys()) {
          // Commit news goes out even without new entries; entries go out as far as the window allows.
          if (this.#sendAppend(to, this.#commitBroadcastWanted)) while (this.#sendAppend(to, false));
        }
      }
      if (this.#readRoundWanted) {
        this.#readSeq++;
        this.#broadcastHeartbeat();
      }
    }
    this.#broadcastWanted = false;
    this.#commitBroadcastWanted = false;
    this.#readRoundWanted = false;
  }

  /** Sends the next append to `to` if flow control allows; returns whether anything went out. */
  #sendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.#progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const log = this.#log;
    const prevIndex = pr.next - 1;
    assert(prevIndex <= log.lastIndex, () => `next ${pr.next} for node ${to} is past our last index ${log.lastIndex}`);
    const prevTerm = log.term(prevIndex);
    if (prevTerm === undefined) {
      // The entries it needs are compacted away: send the snapshot instead.
      pr.becomeSnapshot(log.snapshotMeta.index, this.#ticks);
      this.#send({ from: this.#id, type: MessageType.SNAPSHOT, to, term: this.#term, snapshot: log.snapshot });
      return false;
    }
    const entries = pr.next <= log.lastIndex ? log.slice(pr.next, log.lastIndex, this.#maxEntriesPerAppend, this.#maxBytesPerAppend) : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.#send({ from: this.#id, type: MessageType.APPEND, to, term: this.#term, prevIndex, prevTerm, entries, commit: log.committed });
    pr.sentEntries(prevIndex + entries.length, entries.length);
    return true;
  }

  #handleAppendResponse(m: AppendResponseMessage): void {
    const pr = this.#progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      let hint = m.hintIndex;
      if (m.hintTerm > 0) hint = this.#log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
      if (pr.maybeDecreaseTo(m.index, hint)) {
        if (pr.state === ProgressState.REPLICATE) pr.becomeProbe();
        this.#sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.PROBE) pr.becomeReplicate();
    else if (pr.state === ProgressState.SNAPSHOT && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
    else if (pr.state === ProgressState.REPLICATE) pr.freeInflightUpTo(m.index);
    if (!this.#maybeCommit() && wasPaused) this.#sendAppend(m.from, false);
    while (this.#sendAppend(m.from, false));
    if (m.from === this.#leadTransferee && pr.match === this.#log.lastIndex) {
      this.#send({ from: this.#id, type: MessageType.TIMEOUT_NOW, to: m.from, term: this.#term });
    }
  }

  #handleHeartbeatResponse(m: HeartbeatResponseMessage): void {
    const pr = this.#progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === ProgressState.REPLICATE) pr.freeFirstInflight();
    if (pr.state === ProgressState.SNAPSHOT && this.#ticks - pr.snapshotSentAtTick >= this.#electionTicks) {
      // No answer to the snapshot for an election timeout: assume it was lost and try again.
      pr.becomeProbe();
    }
    if (pr.match < this.#log.lastIndex) this.#sendAppend(m.from, true);
    if (m.readSeq > pr.readSeqAcked) {
      pr.readSeqAcked = m.readSeq;
      this.#releaseConfirmedReads();
    }
  }

  #maybeCommit(): boolean {
    if (this.#role !== Role.LEADER) return false;
    const matches: number[] = [];
    for (const voter of this.#voters) {
      matches.push(voter === this.#id ? this.#log.lastIndex : (this.#progress.get(voter)?.match ?? 0));
    }
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const index = matches[quorum(matches.length) - 1]!;
    if (index <= this.#log.committed) return false;
    // Figure 8: counting replicas proves nothing for an entry of an earlier term; it commits only
    // indirectly, once an entry of the current term after it does.
    if (this.#log.term(index) !== this.#term && this.#bugs.commitOldTermEntries !== true) return false;
    this.#log.commitTo(index);
    this.#onCommitAdvanced();
    return true;
  }

  #onCommitAdvanced(): void {
    this.#commitBroadcastWanted = true;
    if (this.#readsAwaitingCommit.length > 0 && this.#committedInCurrentTerm()) {
      const waiting = this.#readsAwaitingCommit;
      this.#readsAwaitingCommit = [];
      for (const read of waiting) this.#handleReadRequest(read.context, read.from);
    }
    if (!this.#voters.includes(this.#id) && this.#log.committed >= this.#configIndex) {
      // We removed ourselves and the change is committed: hand over to an up-to-date voter rather
      // than leaving the cluster to wait out an election timeout.
      let best = NO_NODE;
      for (const [id, pr] of this.#progress) {
        if (pr.match === this.#log.lastIndex) best = id;
      }
      this.#flushBroadcasts();
      if (best !== NO_NODE) this.#send({ from: this.#id, type: MessageType.TIMEOUT_NOW, to: best, term: this.#term });
      this.#becomeFollower(this.#term, NO_NODE);
    }
  }

  #committedInCurrentTerm(): boolean {
    return this.#log.term(this.#log.committed) === this.#term;
  }

  /** Returns false when the read was dropped because too many are waiting. */
  #handleReadRequest(context: string, from: number): boolean {
    const log = this.#log;
    if (this.#bugs.readWithoutQuorumCheck === true) {
      this.#answerRead({ seq: 0, index: log.committed, context, from });
      return true;
    }
    if (this.#readsAwaitingCommit.length + this.#pendingReads.length >= this.#maxPendingReads) return false;
    if (!this.#committedInCurrentTerm()) {
      // Our commit index may lag entries an earlier leader committed; wait for our no-op.
      this.#readsAwaitingCommit.push({ context, from });
      return true;
    }
    if (this.#voters.length === 1 && this.#voters[0] === this.#id) {
      this.#answerRead({ seq: 0, index: log.committed, context, from });
      return true;
    }
    this.#pendingReads.push({ seq: this.#readSeq + 1, index: log.committed, context, from });
    this.#readRoundWanted = true;
    return true;
  }

  #releaseConfirmedReads(): void {
    if (this.#pendingReads.length === 0) return;
    const acked: number[] = [];
    for (const voter of this.#voters) {
      acked.push(voter === this.#id ? Number.MAX_SAFE_INTEGER : (this.#progress.get(voter)?.readSeqAcked ?? 0));
    }
    acked.sort((a, b) => b - a);
    const confirmed = acked[quorum(acked.length) - 1] ?? 0;
    let released = 0;
    while (released < this.#pendingReads.length && this.#pendingReads[released]!.seq <= confirmed) {
      this.#answerRead(this.#pendingReads[released]!);
      released++;
    }
    if (released > 0) this.#pendingReads = this.#pendingReads.slice(released);
  }

  #answerRead(read: PendingRead): void {
    if (read.from === this.#id) this.#readStates.push({ index: read.index, context: read.context });
    else this.#send({ from: this.#id, type: MessageType.READ_INDEX_RESPONSE, to: read.from, term: this.#term, index: read.index, context: read.context });
  }

  #requireLeaderAcceptingWrites(): void {
    if (this.#role !== Role.LEADER) throw notLeader(this.#leaderId);
    if (this.#leadTransferee !== NO_NODE) {
      throw new StreamBusError(ErrorCode.NOT_CONTROLLER, `leadership is being transferred to node ${this.#leadTransferee}`);
    }
  }

  #checkUncommittedRoom(): void {
    const uncommitted = this.#log.lastIndex - this.#log.committed;
    if (uncommitted >= this.#maxUncommitted) {
      throw new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${uncommitted} entries are waiting for a quorum; retry later`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Configuration

  /** Did a truncation remove the config entry our voter set came from? */
  #configLost(configIndex: number): boolean {
    if (configIndex <= this.#log.snapshotMeta.index) return false;
    return this.#log.entry(configIndex)?.kind !== 'config';
  }

  #refreshConfig(): void {
    const config = this.#log.configAt(this.#log.lastIndex);
    this.#voters = config.voters;
    this.#configIndex = config.index;
    if (this.#role === Role.LEADER) this.#syncProgress();
  }

  /** Leader: one Progress per voter other than itself. */
  #syncProgress(): void {
    for (const id of [...this.#progress.keys()]) {
      if (!this.#voters.includes(id)) this.#progress.delete(id);
    }
    for (const voter of this.#voters) {
      if (voter === this.#id || this.#progress.has(voter)) continue;
      const pr = new Progress(this.#log.lastIndex + 1, this.#maxInflight);
      pr.recentActive = true;
      this.#progress.set(voter, pr);
    }
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.#log.committed };
  }

  #send(message: Message): void {
    this.#messages.push(message);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a positive integer, got ${value}`);
  return value;
}

const MESSAGE_TYPES = new Set<string>(Object.values(MessageType));

function checkMessage(m: Message, self: number): void {
  const bad = (why: string): never => {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `raft message rejected: ${why}`);
  };
  if (typeof m !== 'object' || m === null) bad('not an object');
  if (!MESSAGE_TYPES.has(m.type)) bad(`unknown type ${String(m.type)}`);
  if (m.to !== self) bad(`addressed to node ${m.to}, this is node ${self}`);
  if (!isNodeId(m.from) || m.from === self) bad(`bad sender ${m.from}`);
  if (!Number.isSafeInteger(m.term) || m.term < 0) bad(`bad term ${m.term}`);
}

function validateRestored(r: RestoredState): void {
  const { hardState: hs, snapshot, entries } = r;
  const meta = snapshot.meta;
  const nonNegative = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;
  if (!nonNegative(hs.term) || !nonNegative(hs.commit) || !(hs.vote === NO_NODE || isNodeId(hs.vote))) {
    throw storageError(`hard state ${JSON.stringify(hs)} is malformed`);
  }
  if (!nonNegative(meta.index) || !nonNegative(meta.term) || !validVoters(meta.voters) || !(snapshot.data instanceof Uint8Array)) {
    throw storageError(`snapshot metadata ${JSON.stringify(meta)} is malformed`);
  }
  let prevTerm = meta.term;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.index !== meta.index + 1 + i) throw storageError(`entry ${i} after snapshot ${meta.index} has index ${e.index}; the log has a gap`);
    if (!nonNegative(e.term) || e.term < prevTerm) throw storageError(`entry ${e.index} has term ${e.term} after term ${prevTerm}`);
    if (e.kind === 'config' ? !validVoters(e.voters) || e.voters.length === 0 : !(e.data instanceof Uint8Array)) {
      throw storageError(`entry ${e.index} is malformed`);
    }
    prevTerm = e.term;
  }
  if (prevTerm > hs.term) throw storageError(`the last entry's term ${prevTerm} is newer than the stored term ${hs.term}`);
  const lastIndex = meta.index + entries.length;
  if (hs.commit > lastIndex) throw storageError(`commit ${hs.commit} is past the last stored entry ${lastIndex}; the log was truncated`);
  if (r.applied !== undefined && (!nonNegative(r.applied) || r.applied < meta.index || r.applied > Math.max(hs.commit, meta.index))) {
    throw storageError(`applied index ${r.applied} is outside [snapshot ${meta.index}, commit ${hs.commit}]`);
  }
}
