/**
 * Elections: campaigning (with PreVote), granting votes, counting them, and taking office.
 *
 * PreVote (dissertation §9.6). A node whose election timer fires first asks "would you vote for me
 * in term t+1?" without changing its term; only a quorum of yeses starts the real election. A
 * partitioned or removed node therefore cannot inflate the cluster's term. A pre-vote for a future
 * term promises nothing, so it may be granted even by a node that already voted in this term.
 *
 * A vote is granted at most once per term, and only to a candidate whose log is at least as
 * up-to-date as ours; the vote is durable before the reply leaves (persist-before-send). The lease
 * check on vote requests (a node that hears from its leader ignores them) sits in RaftNode.step,
 * because it must run before a higher term is adopted.
 */
import { assert } from './assert.js';
import { syncProgress } from './membership.js';
import { type NodeState, EMPTY, becomeCandidate, becomeFollower, becomePreCandidate, quorum, reset, send } from './node-state.js';
import { appendAsLeader } from './replication.js';
import { type VoteRequestMessage, type VoteResponseMessage, MessageType, NO_NODE, Role } from './types.js';

/** Starts a pre-vote or a real election; a single voter wins at once. `transfer` marks a leadership transfer, which bypasses the lease check. */
export function campaign(s: NodeState, kind: 'pre-vote' | 'vote', transfer: boolean): void {
  let term: number;
  if (kind === 'pre-vote') {
    becomePreCandidate(s);
    term = s.term + 1;
  } else {
    becomeCandidate(s);
    term = s.term;
  }
  if (poll(s, s.id, true) === 'won') {
    // A single voter wins at once.
    if (kind === 'pre-vote') campaign(s, 'vote', transfer);
    else becomeLeader(s);
    return;
  }
  const type = kind === 'pre-vote' ? MessageType.PRE_VOTE : MessageType.VOTE;
  for (const voter of s.voters) {
    if (voter === s.id) continue;
    send(s, { from: s.id, type, to: voter, term, lastIndex: s.log.lastIndex, lastTerm: s.log.lastTerm, transfer });
  }
}

/** Records one voter's answer (the first one counts) and tallies the election. */
function poll(s: NodeState, from: number, granted: boolean): 'won' | 'lost' | 'pending' {
  if (s.voters.includes(from) && !s.votes.has(from)) s.votes.set(from, granted);
  let yes = 0;
  let no = 0;
  for (const voter of s.voters) {
    const vote = s.votes.get(voter);
    if (vote === true) yes++;
    else if (vote === false) no++;
  }
  const q = quorum(s.voters.length);
  if (yes >= q) return 'won';
  if (no >= q) return 'lost';
  return 'pending';
}

/** Answers a vote or pre-vote request (whose term the caller has already handled). */
export function handleVoteRequest(s: NodeState, m: VoteRequestMessage): void {
  const pre = m.type === MessageType.PRE_VOTE;
  const canVote =
    s.vote === m.from ||
    (s.vote === NO_NODE && s.leaderId === NO_NODE) ||
    // A pre-vote for a future term promises nothing, so it may be granted even after voting.
    (pre && m.term > s.term);
  const responseType = pre ? MessageType.PRE_VOTE_RESPONSE : MessageType.VOTE_RESPONSE;
  if (canVote && s.log.isUpToDate(m.lastIndex, m.lastTerm)) {
    send(s, { from: s.id, type: responseType, to: m.from, term: m.term, reject: false });
    if (!pre) {
      s.electionElapsed = 0;
      s.vote = m.from;
      if (s.bugs.voteReplyBeforePersist === true) s.deferVote = true;
    }
  } else {
    send(s, { from: s.id, type: responseType, to: m.from, term: s.term, reject: true });
  }
}

/** A (pre-)candidate counts an answer to its own campaign: a won pre-vote starts the real election. */
export function handleVoteResponse(s: NodeState, m: VoteResponseMessage): void {
  const mine = s.role === Role.PRE_CANDIDATE ? MessageType.PRE_VOTE_RESPONSE : MessageType.VOTE_RESPONSE;
  if (m.type !== mine) return;
  const result = poll(s, m.from, !m.reject);
  if (result === 'won') {
    if (s.role === Role.PRE_CANDIDATE) campaign(s, 'vote', false);
    else becomeLeader(s);
  } else if (result === 'lost') {
    becomeFollower(s, s.term, NO_NODE);
  }
}

function becomeLeader(s: NodeState): void {
  assert(s.role === Role.CANDIDATE, () => `node ${s.id} became leader from ${s.role}`);
  reset(s, s.term);
  s.role = Role.LEADER;
  s.leaderId = s.id;
  syncProgress(s);
  // CheckQuorum's first round starts now: only answers from here on count.
  for (const pr of s.progress.values()) pr.recentActive = false;
  // The no-op: entries of earlier terms commit only indirectly, with an entry of this term.
  appendAsLeader(s, { kind: 'normal', index: s.log.lastIndex + 1, term: s.term, data: EMPTY });
}
