/**
 * Linearizable reads without log writes (ReadIndex, dissertation §6.4), on the leader's side.
 *
 * A read is answered with the leader's commit index once two things hold: (1) the leader has
 * committed an entry of its own term, so its commit index covers everything an earlier leader
 * committed; (2) a heartbeat round that started after the read arrived has been answered by a
 * quorum, so the leader was still the leader when the read came in. Reads queue in the order they
 * arrive, each stamped with the next round's sequence number; one round confirms every read queued
 * before it, so many reads share one heartbeat.
 *
 * Both queues are bounded by maxPendingReads and emptied on every role change: a read that was
 * queued when leadership was lost gets no answer, and its caller times out and retries.
 */
import { type NodeState, committedInCurrentTerm, quorum, send } from './node-state.js';
import { MessageType } from './types.js';

/** A read waiting for its heartbeat round (`seq`) to be confirmed by a quorum. */
export interface PendingRead {
  readonly seq: number;
  readonly index: number;
  readonly context: string;
  readonly from: number;
}

/** A read that arrived before the leader committed an entry of its term. */
export interface AwaitingRead {
  readonly context: string;
  readonly from: number;
}

/** Leader: queues a read from itself or a follower. Returns false when it was dropped because too many are waiting. */
export function handleReadRequest(s: NodeState, context: string, from: number): boolean {
  const log = s.log;
  if (s.bugs.readWithoutQuorumCheck === true) {
    answerRead(s, { seq: 0, index: log.committed, context, from });
    return true;
  }
  if (s.readsAwaitingCommit.length + s.pendingReads.length >= s.maxPendingReads) return false;
  if (!committedInCurrentTerm(s)) {
    // Our commit index may lag entries an earlier leader committed; wait for our no-op.
    s.readsAwaitingCommit.push({ context, from });
    return true;
  }
  if (s.voters.length === 1 && s.voters[0] === s.id) {
    answerRead(s, { seq: 0, index: log.committed, context, from });
    return true;
  }
  s.pendingReads.push({ seq: s.readSeq + 1, index: log.committed, context, from });
  s.readRoundWanted = true;
  return true;
}

/** Leader, after its first commit in the term: the reads that waited for it join the queue. */
export function admitReadsAwaitingCommit(s: NodeState): void {
  if (s.readsAwaitingCommit.length === 0 || !committedInCurrentTerm(s)) return;
  const waiting = s.readsAwaitingCommit;
  s.readsAwaitingCommit = [];
  for (const read of waiting) handleReadRequest(s, read.context, read.from);
}

/** Leader: answers every queued read whose heartbeat round a quorum has acknowledged. */
export function releaseConfirmedReads(s: NodeState): void {
  if (s.pendingReads.length === 0) return;
  const acked: number[] = [];
  for (const voter of s.voters) {
    acked.push(voter === s.id ? Number.MAX_SAFE_INTEGER : (s.progress.get(voter)?.readSeqAcked ?? 0));
  }
  acked.sort((a, b) => b - a);
  const confirmed = acked[quorum(acked.length) - 1] ?? 0;
  let released = 0;
  while (released < s.pendingReads.length && s.pendingReads[released]!.seq <= confirmed) {
    answerRead(s, s.pendingReads[released]!);
    released++;
  }
  if (released > 0) s.pendingReads = s.pendingReads.slice(released);
}

function answerRead(s: NodeState, read: PendingRead): void {
  if (read.from === s.id) s.readStates.push({ index: read.index, context: read.context });
  else send(s, { from: s.id, type: MessageType.READ_INDEX_RESPONSE, to: read.from, term: s.term, index: read.index, context: read.context });
}
