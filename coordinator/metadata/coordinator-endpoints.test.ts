import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { coordinatorRecord, raftPeers, samePeers } from './coordinator-endpoints.js';
import { MetadataState } from './state.js';

const at = (port: number): { host: string; port: number } => ({ host: '127.0.0.1', port });

function stateWith(...records: [number, number][]): MetadataState {
  const state = MetadataState.empty();
  records.forEach(([nodeId, port], offset) => state.apply({ offset, command: { type: 'register-coordinator', nodeId, raft: at(port), api: null } }));
  return state;
}

describe('metadata > coordinator endpoints', () => {
  it('records a node only when the state lacks its addresses or has others', () => {
    const state = stateWith([1, 9095]);
    expect(coordinatorRecord(state, 1, at(9095), null)).toBeNull();
    expect(coordinatorRecord(state, 1, at(9095), at(9094))).toEqual({ type: 'register-coordinator', nodeId: 1, raft: at(9095), api: at(9094) });
    expect(coordinatorRecord(state, 2, at(9195), null)).toMatchObject({ nodeId: 2 });
  });

  it('refuses node id 0, an empty host and a port outside 1..65535 with INVALID_REQUEST', () => {
    const state = MetadataState.empty();
    for (const [nodeId, raft] of [
      [0, at(9095)],
      [1, { host: '', port: 9095 }],
      [1, at(0)],
    ] as const) {
      expect(() => coordinatorRecord(state, nodeId, raft, null)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST }));
    }
  });

  it('makes the peers the configured voters plus the recorded addresses of current voters, the record winning, never itself', () => {
    const configured = new Map([
      [1, at(1)],
      [2, at(2)],
      [3, at(3)],
    ]);
    const state = stateWith([2, 22], [4, 44], [5, 55]);
    const peers = raftPeers(1, configured, [1, 2, 3, 4], state);
    expect([...peers].sort(([a], [b]) => a - b)).toEqual([
      [2, at(22)],
      [3, at(3)],
      [4, at(44)],
    ]);
    expect(samePeers(peers, new Map(peers))).toBe(true);
    expect(samePeers(peers, raftPeers(1, configured, [1, 2, 3], state))).toBe(false);
  });
});
