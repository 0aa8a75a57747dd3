/**
 * Checks on what reaches the Raft core from outside its own reasoning: messages from peers and the
 * state read back from storage. Neither is trusted. A malformed message is refused with
 * INVALID_REQUEST before it changes anything; inconsistent stored state refuses to start the node
 * with KAFKA_STORAGE_ERROR rather than letting it vote or lead on a log it cannot vouch for.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { RestoredState } from './raft-options.js';
import { type Message, MessageType, NO_NODE } from './types.js';

/** Node ids are positive safe integers; 0 is NO_NODE. */
export function isNodeId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** A voter set as the core keeps it: node ids, strictly ascending. */
export function validVoters(voters: readonly number[]): boolean {
  for (let i = 0; i < voters.length; i++) {
    if (!isNodeId(voters[i]) || (i > 0 && voters[i]! <= voters[i - 1]!)) return false;
  }
  return true;
}

const MESSAGE_TYPES = new Set<string>(Object.values(MessageType));

/** Refuses a message that is not for node `self`, or whose envelope is malformed. */
export function checkMessage(m: Message, self: number): void {
  const bad = (why: string): never => {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `raft message rejected: ${why}`);
  };
  if (typeof m !== 'object' || m === null) bad('not an object');
  if (!MESSAGE_TYPES.has(m.type)) bad(`unknown type ${String(m.type)}`);
  if (m.to !== self) bad(`addressed to node ${m.to}, this is node ${self}`);
  if (!isNodeId(m.from) || m.from === self) bad(`bad sender ${m.from}`);
  if (!Number.isSafeInteger(m.term) || m.term < 0) bad(`bad term ${m.term}`);
}

function storageError(message: string): StreamBusError {
  return new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `raft storage is inconsistent, refusing to start: ${message}`);
}

/** Refuses restored state that no correct run could have persisted: gaps, terms going back, commit past the log. */
export function validateRestored(r: RestoredState): void {
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
