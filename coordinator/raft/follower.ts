/**
 * The follower's side of replication: accepting appends, heartbeats and snapshots from the leader
 * of its term, and answering each with how far its log now matches.
 *
 * An append is accepted only where the log matches at (prevIndex, prevTerm); otherwise the reply
 * carries a hint (the last index whose term could still match, with that term) so the leader skips
 * a whole term at a time instead of one entry per round trip. An append that reaches below our
 * commit index is answered with the commit index: that prefix is in every later leader's log.
 *
 * Every ack says "these entries are on my disk" and leaves only after the Ready carrying them is
 * persisted; withdrawAcksForDroppedEntries() keeps that true when a later append in the same Ready
 * replaces entries an earlier ack covered.
 */
import { configLost, refreshConfig } from './membership.js';
import { type NodeState, send } from './node-state.js';
import { type AppendMessage, type HeartbeatMessage, type SnapshotMessage, MessageType } from './types.js';

/** Any message from the leader of our term restarts the election timer and names the leader. */
export function heardFromLeader(s: NodeState, leaderId: number): void {
  s.electionElapsed = 0;
  s.leaderId = leaderId;
}

export function handleAppend(s: NodeState, m: AppendMessage): void {
  const log = s.log;
  if (m.prevIndex < log.committed) {
    // Our committed prefix is in every later leader's log: say where it ends.
    send(s, { from: s.id, type: MessageType.APPEND_RESPONSE, to: m.from, term: s.term, index: log.committed, reject: false, hintIndex: 0, hintTerm: 0 });
    return;
  }
  if (log.matchTerm(m.prevIndex, m.prevTerm)) {
    const configBefore = s.configIndex;
    const lastNew = log.appendAfterMatch(m.prevIndex, m.entries, s.bugs.truncateOnEveryAppend === true);
    withdrawAcksForDroppedEntries(s);
    if (m.entries.some((e) => e.kind === 'config') || configLost(s, configBefore)) refreshConfig(s);
    log.commitTo(Math.min(m.commit, lastNew));
    send(s, { from: s.id, type: MessageType.APPEND_RESPONSE, to: m.from, term: s.term, index: lastNew, reject: false, hintIndex: 0, hintTerm: 0 });
    return;
  }
  const hint = log.findConflictByTerm(Math.min(m.prevIndex, log.lastIndex), m.prevTerm);
  send(s, { from: s.id, type: MessageType.APPEND_RESPONSE, to: m.from, term: s.term, index: m.prevIndex, reject: true, hintIndex: hint.index, hintTerm: hint.term });
}

/**
 * An ack queued for this Ready says "entries up to i are on my disk" and goes out once the Ready
 * is persisted. If those entries were replaced before the Ready was even handed out (an older
 * leader's append, then a newer leader's conflicting one, both between two Readys), they will
 * never reach the disk: the ack would invent a replica, and the older leader could count it
 * towards a quorum. Withdraw such acks; the leader retries after its next heartbeat.
 */
function withdrawAcksForDroppedEntries(s: NodeState): void {
  const droppedFrom = s.log.takeDroppedFrom();
  if (droppedFrom === Infinity) return;
  s.messages = s.messages.filter((m) => !(m.type === MessageType.APPEND_RESPONSE && !m.reject && m.index >= droppedFrom));
}

export function handleHeartbeat(s: NodeState, m: HeartbeatMessage): void {
  // The leader sends min(our match, its commit), and our matched prefix cannot have been truncated
  // in this term, so this never passes our last index.
  s.log.commitTo(m.commit);
  send(s, { from: s.id, type: MessageType.HEARTBEAT_RESPONSE, to: m.from, term: s.term, readSeq: m.readSeq });
}

export function handleSnapshot(s: NodeState, m: SnapshotMessage): void {
  const log = s.log;
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
    withdrawAcksForDroppedEntries(s);
    refreshConfig(s);
    index = meta.index;
  }
  send(s, { from: s.id, type: MessageType.APPEND_RESPONSE, to: m.from, term: s.term, index, reject: false, hintIndex: 0, hintTerm: 0 });
}
