/**
 * The leader's side of log replication: appending its own entries, sending appends (or the
 * snapshot) to each follower under flow control, counting acknowledgements to advance the commit
 * index, heartbeats, CheckQuorum and the end of a leadership transfer.
 *
 * Batching. A proposal only marks the followers dirty (broadcastWanted); flushBroadcasts(), called
 * when the driver takes a Ready, sends one round of appends per follower for everything proposed
 * since. Commit news (commitBroadcastWanted) goes out the same way, even without new entries.
 *
 * Commitment (Raft paper, Figure 8). The leader counts replicas only for entries of its current
 * term; entries of earlier terms commit indirectly, with the first entry of this term after them.
 * The leader counts itself only up to what it has persisted (RaftLog.durableTo), because its
 * appends may leave before its own write is synced (splitLeaderAppends; raft-node.ts explains why
 * that is safe). It re-counts when the driver acknowledges a Ready (advance calls maybeCommit).
 */
import { assert } from './assert.js';
import { refreshConfig } from './membership.js';
import { type NodeState, becomeFollower, quorum, send } from './node-state.js';
import { ProgressState } from './progress.js';
import { admitReadsAwaitingCommit, releaseConfirmedReads } from './read-index.js';
import { type AppendResponseMessage, type Entry, type HeartbeatResponseMessage, type Message, MessageType, NO_NODE, Role } from './types.js';

/** Appends one entry of the leader's own (a proposal, a config change, the no-op) and marks followers dirty. */
export function appendAsLeader(s: NodeState, entry: Entry): void {
  s.log.truncateAndAppend([entry]);
  if (entry.kind === 'config') refreshConfig(s);
  s.broadcastWanted = true;
  // A single voter commits on its own.
  maybeCommit(s);
}

/** Sends appends (and InstallSnapshot where needed) to every follower; the batching point. */
export function flushBroadcasts(s: NodeState): void {
  if (s.role === Role.LEADER) {
    if (s.broadcastWanted || s.commitBroadcastWanted) {
      for (const to of s.progress.keys()) {
        // Commit news goes out even without new entries; entries go out as far as the window allows.
        if (sendAppend(s, to, s.commitBroadcastWanted)) while (sendAppend(s, to, false));
      }
    }
    if (s.readRoundWanted) {
      s.readSeq++;
      broadcastHeartbeat(s);
    }
  }
  s.broadcastWanted = false;
  s.commitBroadcastWanted = false;
  s.readRoundWanted = false;
}

/** Sends the next append to `to` if flow control allows; returns whether anything went out. */
export function sendAppend(s: NodeState, to: number, sendIfEmpty: boolean): boolean {
  const pr = s.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const log = s.log;
  const prevIndex = pr.next - 1;
  assert(prevIndex <= log.lastIndex, () => `next ${pr.next} for node ${to} is past our last index ${log.lastIndex}`);
  const prevTerm = log.term(prevIndex);
  if (prevTerm === undefined) {
    // The entries it needs are compacted away: send the snapshot instead.
    pr.becomeSnapshot(log.snapshotMeta.index, s.ticks);
    send(s, { from: s.id, type: MessageType.SNAPSHOT, to, term: s.term, snapshot: log.snapshot });
    return false;
  }
  const entries = pr.next <= log.lastIndex ? log.slice(pr.next, log.lastIndex, s.maxEntriesPerAppend, s.maxBytesPerAppend) : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  send(s, { from: s.id, type: MessageType.APPEND, to, term: s.term, prevIndex, prevTerm, entries, commit: log.committed });
  pr.sentEntries(prevIndex + entries.length, entries.length);
  return true;
}

function broadcastHeartbeat(s: NodeState): void {
  for (const [to, pr] of s.progress) {
    send(s, { from: s.id, type: MessageType.HEARTBEAT, to, term: s.term, commit: Math.min(pr.match, s.log.committed), readSeq: s.readSeq });
  }
}

export function handleAppendResponse(s: NodeState, m: AppendResponseMessage): void {
  const pr = s.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (m.reject) {
    let hint = m.hintIndex;
    if (m.hintTerm > 0) hint = s.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
    if (pr.maybeDecreaseTo(m.index, hint)) {
      if (pr.state === ProgressState.REPLICATE) pr.becomeProbe();
      sendAppend(s, m.from, true);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) return;
  if (pr.state === ProgressState.PROBE) pr.becomeReplicate();
  else if (pr.state === ProgressState.SNAPSHOT && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
  else if (pr.state === ProgressState.REPLICATE) pr.freeInflightUpTo(m.index);
  if (!maybeCommit(s) && wasPaused) sendAppend(s, m.from, false);
  while (sendAppend(s, m.from, false));
  if (m.from === s.leadTransferee && pr.match === s.log.lastIndex) {
    send(s, { from: s.id, type: MessageType.TIMEOUT_NOW, to: m.from, term: s.term });
  }
}

export function handleHeartbeatResponse(s: NodeState, m: HeartbeatResponseMessage): void {
  const pr = s.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === ProgressState.REPLICATE) pr.freeFirstInflight();
  if (pr.state === ProgressState.SNAPSHOT && s.ticks - pr.snapshotSentAtTick >= s.electionTicks) {
    // No answer to the snapshot for an election timeout: assume it was lost and try again.
    pr.becomeProbe();
  }
  if (pr.match < s.log.lastIndex) sendAppend(s, m.from, true);
  if (m.readSeq > pr.readSeqAcked) {
    pr.readSeqAcked = m.readSeq;
    releaseConfirmedReads(s);
  }
}

/**
 * Splits the messages of a Ready. A leader's appends may go out before the Ready is persisted when
 * the Ready carries no new hard state (`termDurable`): its term is then already on disk, and the
 * entries they carry count for the leader only once durable. Everything else waits for the persist.
 */
export function splitLeaderAppends(s: NodeState, termDurable: boolean): { leaderAppends: Message[]; messages: Message[] } {
  if (s.role !== Role.LEADER || !termDurable) return { leaderAppends: [], messages: s.messages };
  const leaderAppends: Message[] = [];
  const messages: Message[] = [];
  for (const m of s.messages) (m.type === MessageType.APPEND ? leaderAppends : messages).push(m);
  return { leaderAppends, messages };
}

/** Advances the commit index to what a quorum holds, if that is an entry of this term. Returns whether it moved. */
export function maybeCommit(s: NodeState): boolean {
  if (s.role !== Role.LEADER) return false;
  const self = s.log.durableTo;
  const matches: number[] = [];
  for (const voter of s.voters) {
    matches.push(voter === s.id ? self : (s.progress.get(voter)?.match ?? 0));
  }
  if (matches.length === 0) return false;
  matches.sort((a, b) => b - a);
  const index = matches[quorum(matches.length) - 1]!;
  if (index <= s.log.committed) return false;
  // Figure 8: counting replicas proves nothing for an entry of an earlier term; it commits only
  // indirectly, once an entry of the current term after it does.
  if (s.log.term(index) !== s.term && s.bugs.commitOldTermEntries !== true) return false;
  s.log.commitTo(index);
  onCommitAdvanced(s);
  return true;
}

function onCommitAdvanced(s: NodeState): void {
  s.commitBroadcastWanted = true;
  admitReadsAwaitingCommit(s);
  if (!s.voters.includes(s.id) && s.log.committed >= s.configIndex) {
    // We removed ourselves and the change is committed: hand over to an up-to-date voter rather
    // than leaving the cluster to wait out an election timeout.
    let best = NO_NODE;
    for (const [id, pr] of s.progress) {
      if (pr.match === s.log.lastIndex) best = id;
    }
    flushBroadcasts(s);
    if (best !== NO_NODE) send(s, { from: s.id, type: MessageType.TIMEOUT_NOW, to: best, term: s.term });
    becomeFollower(s, s.term, NO_NODE);
  }
}

/** The leader's clock: heartbeats every heartbeatTicks; CheckQuorum and the transfer deadline every electionTicks. */
export function tickLeader(s: NodeState): void {
  s.heartbeatElapsed++;
  s.electionElapsed++;
  if (s.electionElapsed >= s.electionTicks) {
    s.electionElapsed = 0;
    if (s.checkQuorum) {
      if (!quorumActive(s)) {
        // CheckQuorum: a leader cut off from a quorum stops accepting writes and reads rather than
        // serving a minority; the majority side elects a new leader meanwhile.
        becomeFollower(s, s.term, NO_NODE);
        return;
      }
      for (const pr of s.progress.values()) pr.recentActive = false;
    }
    if (s.leadTransferee !== NO_NODE) s.leadTransferee = NO_NODE;
  }
  if (s.heartbeatElapsed >= s.heartbeatTicks) {
    s.heartbeatElapsed = 0;
    broadcastHeartbeat(s);
  }
}

function quorumActive(s: NodeState): boolean {
  let active = 0;
  for (const voter of s.voters) {
    if (voter === s.id || s.progress.get(voter)?.recentActive === true) active++;
  }
  return active >= quorum(s.voters.length);
}
