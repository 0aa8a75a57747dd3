/**
 * Membership: which nodes vote, and how that set changes one server at a time.
 *
 * A configuration takes effect when its entry is APPENDED (dissertation §4.1), so the voter set is
 * a pure function of the log: refreshConfig() reads it from the last config entry (or the
 * snapshot) after anything that changes the log's tail. Truncating an uncommitted config entry
 * therefore reverts to the previous configuration without any extra bookkeeping.
 *
 * A leader accepts a change only after it has committed an entry of its own term and only while no
 * config entry is uncommitted: together these rule out two disjoint majorities (the single-server
 * change bug reported on raft-dev in 2015).
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type NodeState, committedInCurrentTerm } from './node-state.js';
import { Progress } from './progress.js';
import { type MembershipChange, Role } from './types.js';
import { isNodeId } from './validation.js';

/**
 * The voter set `change` leads to, after checking that this leader may make it now. Throws
 * LEADER_NOT_AVAILABLE (retriable) before the leader's first commit in its term, and
 * INVALID_REQUEST while another change is uncommitted, for a voter already in (or not in) the set,
 * or for removing the last voter.
 */
export function votersAfter(s: NodeState, change: MembershipChange): number[] {
  if (!isNodeId(change.nodeId)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `membership change names node ${String(change.nodeId)}; node ids are positive integers`);
  if (!committedInCurrentTerm(s)) {
    // The single-server change bug (raft-dev, 2015): a leader that has not committed in its term
    // may hold a stale config; changing it then can produce two disjoint majorities.
    throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, 'the leader has not yet committed an entry of its term; retry shortly');
  }
  if (s.configIndex > s.log.committed) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `a membership change is in progress (config entry ${s.configIndex} is not committed yet)`);
  }
  if (change.type === 'add-voter') {
    if (s.voters.includes(change.nodeId)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `node ${change.nodeId} is already a voter`);
    return [...s.voters, change.nodeId].sort((a, b) => a - b);
  }
  if (change.type === 'remove-voter') {
    if (!s.voters.includes(change.nodeId)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `node ${change.nodeId} is not a voter`);
    if (s.voters.length === 1) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'cannot remove the last voter');
    return s.voters.filter((v) => v !== change.nodeId);
  }
  throw new StreamBusError(ErrorCode.INVALID_REQUEST, `unknown membership change type ${String((change as { type: unknown }).type)}`);
}

/** Did a truncation remove the config entry our voter set came from? */
export function configLost(s: NodeState, configIndex: number): boolean {
  if (configIndex <= s.log.snapshotMeta.index) return false;
  return s.log.entry(configIndex)?.kind !== 'config';
}

/** Re-reads the voter set from the log; a leader then tracks exactly the new voters. */
export function refreshConfig(s: NodeState): void {
  const config = s.log.configAt(s.log.lastIndex);
  s.voters = config.voters;
  s.configIndex = config.index;
  if (s.role === Role.LEADER) syncProgress(s);
}

/** Leader: one Progress per voter other than itself. */
export function syncProgress(s: NodeState): void {
  for (const id of [...s.progress.keys()]) {
    if (!s.voters.includes(id)) s.progress.delete(id);
  }
  for (const voter of s.voters) {
    if (voter === s.id || s.progress.has(voter)) continue;
    const pr = new Progress(s.log.lastIndex + 1, s.maxInflight);
    pr.recentActive = true;
    s.progress.set(voter, pr);
  }
}
