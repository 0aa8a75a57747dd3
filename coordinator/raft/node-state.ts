/**
 * One Raft node's mutable state, and the role transitions that every part of the core shares.
 *
 * RaftNode keeps a NodeState in a private field and hands it to the functions in elections.ts,
 * follower.ts, replication.ts, read-index.ts and membership.ts: each of those holds one idea of
 * the protocol, while the state they all read and write lives here in one place. Nothing outside
 * the core sees it (index.ts exports RaftNode, not this), so the fields are plain and mutable.
 *
 * Every role change goes through reset(), which clears everything that belongs to one term and one
 * role: votes, the leader's per-follower progress, queued reads, pending broadcasts.
 */
import { assert } from './assert.js';
import type { Progress } from './progress.js';
import type { RaftLog } from './raft-log.js';
import type { NodeConfig } from './raft-options.js';
import type { AwaitingRead, PendingRead } from './read-index.js';
import { type HardState, type Message, type ReadState, NO_NODE, Role } from './types.js';

export interface NodeState extends NodeConfig {
  term: number;
  vote: number;
  role: Role;
  leaderId: number;
  readonly log: RaftLog;
  voters: readonly number[];
  configIndex: number;

  ticks: number;
  electionElapsed: number;
  heartbeatElapsed: number;
  randomizedElectionTimeout: number;
  readonly votes: Map<number, boolean>;
  readonly progress: Map<number, Progress>;
  leadTransferee: number;

  messages: Message[];
  readStates: ReadState[];
  /** Reads that arrived before this leader committed an entry of its term. */
  readsAwaitingCommit: AwaitingRead[];
  pendingReads: PendingRead[];
  /** The last ReadIndex heartbeat round started; a round confirms every read queued before it. */
  readSeq: number;
  readRoundWanted: boolean;
  /** Batching: proposals only mark the followers dirty; one append per follower goes out per Ready. */
  broadcastWanted: boolean;
  commitBroadcastWanted: boolean;

  /** The hard state handed out in the last Ready (what storage holds once that Ready is persisted). */
  reportedHardState: HardState;
  readyOutstanding: boolean;
  applied: number;
  deferVote: boolean;
}

/** The data of a leader's no-op entry and of the bootstrap snapshot. */
export const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------------------------
// Roles

export function becomeFollower(s: NodeState, term: number, leaderId: number): void {
  reset(s, term);
  s.role = Role.FOLLOWER;
  s.leaderId = leaderId;
}

export function becomePreCandidate(s: NodeState): void {
  // Term and vote stay: a pre-candidate asks "would you vote for me?" without committing anyone.
  reset(s, s.term);
  s.role = Role.PRE_CANDIDATE;
  s.leaderId = NO_NODE;
}

export function becomeCandidate(s: NodeState): void {
  reset(s, s.term + 1);
  s.role = Role.CANDIDATE;
  s.vote = s.id;
  s.leaderId = NO_NODE;
}

/** Clears everything that belongs to one term and one role; moving to a new term also clears the vote. */
export function reset(s: NodeState, term: number): void {
  if (term !== s.term) {
    s.term = term;
    s.vote = NO_NODE;
  }
  s.leaderId = NO_NODE;
  s.electionElapsed = 0;
  s.heartbeatElapsed = 0;
  s.randomizedElectionTimeout = newElectionTimeout(s);
  s.leadTransferee = NO_NODE;
  s.votes.clear();
  s.progress.clear();
  s.readsAwaitingCommit = [];
  s.pendingReads = [];
  s.readRoundWanted = false;
  s.broadcastWanted = false;
  s.commitBroadcastWanted = false;
}

/** A random election timeout in [electionTicks, 2·electionTicks), drawn afresh on every role change. */
export function newElectionTimeout(s: NodeState): number {
  const jitter = s.randomInt(s.electionTicks);
  assert(Number.isSafeInteger(jitter) && jitter >= 0 && jitter < s.electionTicks, () => `randomInt(${s.electionTicks}) returned ${jitter}`);
  return s.electionTicks + jitter;
}

/** Only a voter may campaign. */
export function isPromotable(s: NodeState): boolean {
  return s.voters.includes(s.id);
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

export function quorum(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

export function committedInCurrentTerm(s: NodeState): boolean {
  return s.log.term(s.log.committed) === s.term;
}

export function hardStateOf(s: NodeState): HardState {
  return { term: s.term, vote: s.vote, commit: s.log.committed };
}

export function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Queues a message for the next Ready; it leaves only after that Ready is persisted. */
export function send(s: NodeState, message: Message): void {
  s.messages.push(message);
}
