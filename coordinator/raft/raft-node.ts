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
 * same Ready (a vote reply on the vote, an append ack on the entries), so the driver makes the
 * Ready's persistent part durable before releasing its messages; see `Ready` for the exact order.
 * The core hands out one Ready at a time, so "everything earlier is durable" holds by induction.
 *
 * The one exception is the thesis' parallel append (§10.2.1): a leader's appends under a term that
 * is already durable (Ready.leaderAppends) may leave before the leader's own write is synced, so
 * the followers' disks and the leader's work at the same time instead of one after the other. It
 * is safe because the leader counts itself towards commit only up to what it has persisted
 * (RaftLog.durableTo, raised at advance()); a follower's ack still follows the follower's own
 * persist. If the leader crashes before its write lands, the entries live only where a quorum's
 * acks say they do, exactly as for any entry that was never committed. (With one Ready at a time,
 * a commit counted early could not leave the node before the write anyway; durableTo makes the
 * rule the core's own instead of resting on how drivers sequence their Readies.)
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
 *
 * This file holds the public surface, the term rules every message passes through, the dispatch by
 * role and the Ready cycle. The protocol's parts work on one shared NodeState (node-state.ts):
 * elections.ts (campaigns, votes, PreVote), follower.ts (accepting appends and snapshots),
 * replication.ts (the leader's appends, flow control, commit, heartbeats, CheckQuorum),
 * read-index.ts (linearizable reads) and membership.ts (voter sets and their changes).
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { assert } from './assert.js';
import { campaign, handleVoteRequest, handleVoteResponse } from './elections.js';
import { handleAppend, handleHeartbeat, handleSnapshot, heardFromLeader } from './follower.js';
import { refreshConfig, votersAfter } from './membership.js';
import { type NodeState, EMPTY, becomeFollower, hardStateOf, isPromotable, newElectionTimeout, sameHardState, send } from './node-state.js';
import { ProgressState } from './progress.js';
import { RaftLog } from './raft-log.js';
import { type RaftNodeOptions, resolveNodeConfig } from './raft-options.js';
import { handleReadRequest } from './read-index.js';
import { appendAsLeader, flushBroadcasts, handleAppendResponse, handleHeartbeatResponse, maybeCommit, sendAppend, splitLeaderAppends, tickLeader } from './replication.js';
import {
  type Entry,
  type FollowerStatus,
  type HardState,
  type MembershipChange,
  type Message,
  type ProposalPosition,
  type RaftStatus,
  type Ready,
  type Snapshot,
  MessageType,
  NO_NODE,
  Role,
} from './types.js';
import { checkMessage, validVoters, validateRestored } from './validation.js';

export type { RandomInt, RaftNodeOptions, RaftTestBugs, RestoredState } from './raft-options.js';

function notLeader(leaderId: number): StreamBusError {
  return new StreamBusError(
    ErrorCode.NOT_CONTROLLER,
    leaderId === NO_NODE ? 'this node is not the leader and no leader is known' : `this node is not the leader; node ${leaderId} is`,
  );
}

export class RaftNode {
  /** Everything the node knows; the protocol's parts (elections, follower, replication, read-index, membership) work on it. */
  readonly #s: NodeState;

  constructor(options: RaftNodeOptions) {
    this.#s = createNodeState(options);
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /**
   * Advances the logical clock by one tick. Followers and candidates campaign after a randomized
   * election timeout without hearing a leader; a leader sends heartbeats and runs CheckQuorum.
   */
  tick(): void {
    const s = this.#s;
    s.ticks++;
    if (s.role === Role.LEADER) {
      tickLeader(s);
      return;
    }
    s.electionElapsed++;
    if (s.electionElapsed >= s.randomizedElectionTimeout && isPromotable(s)) {
      s.electionElapsed = 0;
      campaign(s, s.preVote ? 'pre-vote' : 'vote', false);
    }
  }

  /** Starts an election now (as if the election timer fired); ignored by a leader or a non-voter. */
  campaign(): void {
    const s = this.#s;
    if (s.role === Role.LEADER || !isPromotable(s)) return;
    campaign(s, s.preVote ? 'pre-vote' : 'vote', false);
  }

  /**
   * Feeds one message from a peer. Messages from older terms are dropped (or answered with our
   * term, so a deposed leader learns it); a message from a newer term moves this node to it
   * (unless it is a vote request and the node still hears its leader). A malformed message is
   * rejected with INVALID_REQUEST and changes nothing.
   */
  step(m: Message): void {
    const s = this.#s;
    checkMessage(m, s.id);
    if (m.term > s.term) {
      if (m.type === MessageType.VOTE || m.type === MessageType.PRE_VOTE) {
        // The lease check: while we hear from a leader, a campaigner is cut off from it rather than
        // the leader being gone, so its vote request must not unseat a working leader.
        const inLease = s.checkQuorum && s.leaderId !== NO_NODE && s.electionElapsed < s.electionTicks;
        if (inLease && !m.transfer) return;
      }
      if (m.type === MessageType.PRE_VOTE) {
        // A pre-vote never changes our term: that is the point of it.
      } else if (m.type === MessageType.PRE_VOTE_RESPONSE && !m.reject) {
        // A grant carries the term we would campaign in, not the voter's current term.
      } else {
        const leader = m.type === MessageType.APPEND || m.type === MessageType.HEARTBEAT || m.type === MessageType.SNAPSHOT ? m.from : NO_NODE;
        becomeFollower(s, m.term, leader);
      }
    } else if (m.term < s.term) {
      if (m.type === MessageType.APPEND || m.type === MessageType.HEARTBEAT) {
        // A leader of an older term (back from a partition, or outvoted while paused): answer with
        // our term so it steps down instead of retrying forever. With CheckQuorum it would step
        // down eventually anyway, but only after an election timeout.
        send(s, { from: s.id, type: MessageType.APPEND_RESPONSE, to: m.from, term: s.term, index: 0, reject: false, hintIndex: 0, hintTerm: 0 });
        return;
      }
      if (m.type === MessageType.PRE_VOTE) {
        // Tell a lagging pre-candidate our term: it adopts it and stops campaigning for a stale one.
        send(s, { from: s.id, type: MessageType.PRE_VOTE_RESPONSE, to: m.from, term: s.term, reject: true });
        return;
      }
      if (!(s.bugs.countStaleVotes === true && m.type === MessageType.VOTE_RESPONSE)) return;
    }

    if (m.type === MessageType.VOTE || m.type === MessageType.PRE_VOTE) {
      handleVoteRequest(s, m);
      return;
    }
    switch (s.role) {
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
    const s = this.#s;
    this.#requireLeaderAcceptingWrites();
    if (!(data instanceof Uint8Array)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'a proposal must be a Uint8Array');
    if (data.byteLength > s.maxBytesPerAppend) {
      throw new StreamBusError(ErrorCode.MESSAGE_TOO_LARGE, `proposal of ${data.byteLength} bytes exceeds maxBytesPerAppend (${s.maxBytesPerAppend})`);
    }
    this.#checkUncommittedRoom();
    const index = s.log.lastIndex + 1;
    appendAsLeader(s, { kind: 'normal', index, term: s.term, data });
    return { index, term: s.term };
  }

  /**
   * Proposes adding or removing one voter. The new voter set is used as soon as the entry is
   * appended (on every node that appends it). Refused with LEADER_NOT_AVAILABLE (retriable) until
   * this leader has committed an entry of its term, and with INVALID_REQUEST while another change is
   * uncommitted, for a voter already in (or not in) the set, or for removing the last voter.
   */
  proposeMembershipChange(change: MembershipChange): ProposalPosition {
    const s = this.#s;
    this.#requireLeaderAcceptingWrites();
    const voters = votersAfter(s, change);
    this.#checkUncommittedRoom();
    const index = s.log.lastIndex + 1;
    appendAsLeader(s, { kind: 'config', index, term: s.term, voters });
    return { index, term: s.term };
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
    const s = this.#s;
    if (s.role === Role.LEADER) {
      if (!handleReadRequest(s, context, s.id)) {
        throw new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${s.maxPendingReads} reads are already waiting`);
      }
      return;
    }
    if (s.leaderId === NO_NODE) throw notLeader(NO_NODE);
    send(s, { from: s.id, type: MessageType.READ_INDEX, to: s.leaderId, term: s.term, context });
  }

  /**
   * Hands leadership to voter `to`: once its log matches ours, it is told to campaign at once
   * (TimeoutNow), skipping PreVote and the lease check. Proposals are refused meanwhile; the
   * transfer is abandoned after an election timeout. Throws NOT_CONTROLLER on a non-leader,
   * INVALID_REQUEST if `to` is not a voter.
   */
  transferLeadership(to: number): void {
    const s = this.#s;
    if (s.role !== Role.LEADER) throw notLeader(s.leaderId);
    if (to === s.id) return;
    if (!s.voters.includes(to)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `node ${to} is not a voter`);
    if (s.leadTransferee === to) return;
    s.leadTransferee = to;
    // The transfer must finish within one election timeout; the leader's timer measures it.
    s.electionElapsed = 0;
    const pr = s.progress.get(to);
    if (pr === undefined) return;
    if (pr.match === s.log.lastIndex) send(s, { from: s.id, type: MessageType.TIMEOUT_NOW, to, term: s.term });
    else sendAppend(s, to, true);
  }

  /** The transport could not reach `id`: stop pipelining to it and probe instead. */
  reportUnreachable(id: number): void {
    const s = this.#s;
    const pr = s.progress.get(id);
    if (s.role === Role.LEADER && pr?.state === ProgressState.REPLICATE) pr.becomeProbe();
  }

  /**
   * Compacts the log up to `index`, which must have been handed out for apply, replacing that prefix
   * by `data` (the state machine at `index`). Returns the new snapshot, which the driver persists
   * together with deleting the entries it covers, in one atomic write of its own (losing that write
   * in a crash is harmless); followers that need the dropped entries get this snapshot. Returns
   * undefined when `index` is not past the current snapshot.
   */
  compact(index: number, data: Uint8Array): Snapshot | undefined {
    const log = this.#s.log;
    if (index <= log.snapshotMeta.index) return undefined;
    log.compact(index, data);
    return log.snapshot;
  }

  // ---------------------------------------------------------------------------------------------
  // Outputs

  /** True when ready() would return work and no earlier Ready is waiting for advance(). */
  hasReady(): boolean {
    const s = this.#s;
    if (s.readyOutstanding) return false;
    return (
      s.messages.length > 0 ||
      s.readStates.length > 0 ||
      s.broadcastWanted ||
      s.commitBroadcastWanted ||
      s.readRoundWanted ||
      s.log.hasPendingSnapshot ||
      s.log.hasUnstableEntries ||
      s.log.hasUnappliedCommitted ||
      !sameHardState(hardStateOf(s), s.reportedHardState)
    );
  }

  /**
   * The next batch of work (see `Ready` for the persist → send → apply → advance contract).
   * Calling it again before advance() is a driver bug and throws RaftAssertionError.
   */
  ready(): Ready {
    const s = this.#s;
    assert(!s.readyOutstanding, 'ready() called again before advance()');
    flushBroadcasts(s);
    const current = hardStateOf(s);
    const previous = s.reportedHardState;
    let reported = current;
    if (s.deferVote) {
      // Seeded bug: the vote reply goes out in this Ready, the vote itself only in the next one.
      s.deferVote = false;
      reported = { ...current, vote: previous.term === current.term ? previous.vote : NO_NODE };
    }
    const hardState = sameHardState(reported, previous) ? undefined : reported;
    // A commit index alone is not what a leader's append depends on; its term and vote are.
    const termDurable = reported.term === previous.term && reported.vote === previous.vote;
    s.reportedHardState = reported;
    const { snapshot, entries } = s.log.takeUnstable();
    const committedEntries = s.log.takeCommitted(s.maxCommittedPerReady);
    const { leaderAppends, messages } = splitLeaderAppends(s, termDurable);
    const readStates = s.readStates;
    s.messages = [];
    s.readStates = [];
    s.readyOutstanding = true;
    return { hardState, snapshot, entries, leaderAppends, messages, committedEntries, readStates, softState: { role: s.role, leaderId: s.leaderId } };
  }

  /** Acknowledges the last Ready: it is persisted, its messages sent, its entries applied. */
  advance(): void {
    const s = this.#s;
    assert(s.readyOutstanding, 'advance() without an outstanding Ready');
    s.readyOutstanding = false;
    s.applied = s.log.appliedTo;
    s.log.markHandedOutDurable();
    // The leader's own copy now counts: with a quorum of acks already in, this commits.
    maybeCommit(s);
  }

  // ---------------------------------------------------------------------------------------------
  // Read-only views

  get id(): number {
    return this.#s.id;
  }

  get role(): Role {
    return this.#s.role;
  }

  get term(): number {
    return this.#s.term;
  }

  get leaderId(): number {
    return this.#s.leaderId;
  }

  get commitIndex(): number {
    return this.#s.log.committed;
  }

  status(): RaftStatus {
    const s = this.#s;
    const followers: FollowerStatus[] = [];
    if (s.role === Role.LEADER) {
      for (const [id, pr] of s.progress) {
        followers.push({ id, match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
      }
    }
    return {
      id: s.id,
      role: s.role,
      term: s.term,
      vote: s.vote,
      leaderId: s.leaderId,
      commit: s.log.committed,
      applied: s.applied,
      firstIndex: s.log.firstIndex,
      lastIndex: s.log.lastIndex,
      snapshotIndex: s.log.snapshotMeta.index,
      voters: s.voters,
      configIndex: s.configIndex,
      followers,
      leadTransferee: s.leadTransferee,
    };
  }

  /** The in-memory log (snapshot metadata and the entries after it), for invariant checks and debugging. Do not mutate. */
  inspectLog(): { readonly snapshotIndex: number; readonly snapshotTerm: number; readonly entries: readonly Entry[] } {
    const meta = this.#s.log.snapshotMeta;
    return { snapshotIndex: meta.index, snapshotTerm: meta.term, entries: this.#s.log.entries };
  }

  // ---------------------------------------------------------------------------------------------
  // Step dispatch by role (term checks and vote requests are handled in step())

  #stepLeader(m: Message): void {
    const s = this.#s;
    switch (m.type) {
      case MessageType.APPEND_RESPONSE:
        handleAppendResponse(s, m);
        return;
      case MessageType.HEARTBEAT_RESPONSE:
        handleHeartbeatResponse(s, m);
        return;
      case MessageType.READ_INDEX:
        // A full queue drops the forwarded read; the follower's caller times out and retries.
        if (s.progress.has(m.from)) handleReadRequest(s, m.context, m.from);
        return;
      default:
        // Appends or heartbeats from another node in our own term cannot happen (one leader per
        // term); anything else is a late answer to a campaign we already won.
        return;
    }
  }

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.APPEND:
      case MessageType.HEARTBEAT:
      case MessageType.SNAPSHOT:
        // Someone already won this term.
        becomeFollower(this.#s, m.term, m.from);
        this.#stepFollower(m);
        return;
      case MessageType.PRE_VOTE_RESPONSE:
      case MessageType.VOTE_RESPONSE:
        handleVoteResponse(this.#s, m);
        return;
      default:
        return;
    }
  }

  #stepFollower(m: Message): void {
    const s = this.#s;
    switch (m.type) {
      case MessageType.APPEND:
        heardFromLeader(s, m.from);
        handleAppend(s, m);
        return;
      case MessageType.HEARTBEAT:
        heardFromLeader(s, m.from);
        handleHeartbeat(s, m);
        return;
      case MessageType.SNAPSHOT:
        heardFromLeader(s, m.from);
        handleSnapshot(s, m);
        return;
      case MessageType.TIMEOUT_NOW:
        if (isPromotable(s)) campaign(s, 'vote', true);
        return;
      case MessageType.READ_INDEX_RESPONSE:
        s.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Admission of writes

  #requireLeaderAcceptingWrites(): void {
    const s = this.#s;
    if (s.role !== Role.LEADER) throw notLeader(s.leaderId);
    if (s.leadTransferee !== NO_NODE) {
      throw new StreamBusError(ErrorCode.NOT_CONTROLLER, `leadership is being transferred to node ${s.leadTransferee}`);
    }
  }

  #checkUncommittedRoom(): void {
    const log = this.#s.log;
    const uncommitted = log.lastIndex - log.committed;
    if (uncommitted >= this.#s.maxUncommitted) {
      throw new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${uncommitted} entries are waiting for a quorum; retry later`);
    }
  }
}

/**
 * A node's state at start-up: brand new (its first Ready persists a bootstrap snapshot holding the
 * initial voters) or restored from storage. Throws INVALID_CONFIG for bad options and
 * KAFKA_STORAGE_ERROR for inconsistent restored state.
 */
function createNodeState(options: RaftNodeOptions): NodeState {
  const config = resolveNodeConfig(options);
  let term: number;
  let vote: number;
  let log: RaftLog;
  let reportedHardState: HardState;
  let applied: number;
  const restored = options.restored;
  if (restored === undefined) {
    const voters = [...(options.initialVoters ?? [])].sort((a, b) => a - b);
    if (!validVoters(voters)) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `initialVoters must be distinct positive integers, got [${voters.join(', ')}]`);
    term = 0;
    vote = NO_NODE;
    log = new RaftLog({ meta: { index: 0, term: 0, voters }, data: EMPTY }, [], 0, 0);
    // The bootstrap configuration must survive a restart like any other state: the first Ready persists it.
    log.markSnapshotPending();
    reportedHardState = { term: 0, vote: NO_NODE, commit: 0 };
    applied = 0;
  } else {
    validateRestored(restored);
    const { hardState, snapshot, entries } = restored;
    const commit = Math.max(hardState.commit, snapshot.meta.index);
    applied = restored.applied ?? snapshot.meta.index;
    term = hardState.term;
    vote = hardState.vote;
    log = new RaftLog(snapshot, entries, commit, applied);
    reportedHardState = { ...hardState, commit };
  }
  // Every field is written out rather than spreading `config`: V8 then keeps all of them inside the
  // object. With a spread most fields went to a separate backing store, and the simulator ran
  // about 10 % slower.
  const s: NodeState = {
    id: config.id,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    randomInt: config.randomInt,
    preVote: config.preVote,
    checkQuorum: config.checkQuorum,
    maxInflight: config.maxInflight,
    maxEntriesPerAppend: config.maxEntriesPerAppend,
    maxBytesPerAppend: config.maxBytesPerAppend,
    maxUncommitted: config.maxUncommitted,
    maxPendingReads: config.maxPendingReads,
    maxCommittedPerReady: config.maxCommittedPerReady,
    bugs: config.bugs,
    term,
    vote,
    role: Role.FOLLOWER,
    leaderId: NO_NODE,
    log,
    voters: [],
    configIndex: 0,
    ticks: 0,
    electionElapsed: 0,
    heartbeatElapsed: 0,
    randomizedElectionTimeout: 0,
    votes: new Map(),
    progress: new Map(),
    leadTransferee: NO_NODE,
    messages: [],
    readStates: [],
    readsAwaitingCommit: [],
    pendingReads: [],
    readSeq: 0,
    readRoundWanted: false,
    broadcastWanted: false,
    commitBroadcastWanted: false,
    reportedHardState,
    readyOutstanding: false,
    applied,
    deferVote: false,
  };
  refreshConfig(s);
  s.randomizedElectionTimeout = newElectionTimeout(s);
  return s;
}
