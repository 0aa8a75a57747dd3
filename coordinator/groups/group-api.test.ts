import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import type { CoordinatorNodeStatus } from '../service/coordinator-api.js';
import { findCoordinator } from './group-api.js';

const status = (leaderId: number, leaderApi: { host: string; port: number } | undefined): CoordinatorNodeStatus => ({
  clusterId: 'c',
  nodeId: 2,
  role: 'follower',
  leaderId,
  leaderApi,
  term: 3,
  commitIndex: 0,
  appliedIndex: 0,
  lastIndex: 0,
  snapshotIndex: 0,
  metadataOffset: 0,
  members: [],
});

describe('groups > find coordinator', () => {
  it('names the coordinator leader and its API address, from any node', () => {
    expect(findCoordinator({ key: 'billing', keyType: 0 }, status(1, { host: '10.0.0.1', port: 9094 }))).toEqual({ errorCode: ErrorCode.NONE, errorMessage: '', nodeId: 1, host: '10.0.0.1', port: 9094 });
  });

  it('answers COORDINATOR_NOT_AVAILABLE while no leader (or no leader address) is known', () => {
    expect(findCoordinator({ key: 'billing', keyType: 0 }, status(0, undefined)).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(findCoordinator({ key: 'billing', keyType: 0 }, status(1, undefined)).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

  it('names the same leader for a transactional id (key type 1): both coordinators run on the Raft leader', () => {
    expect(findCoordinator({ key: 'txn-1', keyType: 1 }, status(1, { host: '10.0.0.1', port: 9094 }))).toEqual({ errorCode: ErrorCode.NONE, errorMessage: '', nodeId: 1, host: '10.0.0.1', port: 9094 });
  });

  it('refuses an empty group id with INVALID_GROUP_ID, an empty transactional id and other key types with INVALID_REQUEST', () => {
    const known = status(1, { host: 'h', port: 1 });
    expect(findCoordinator({ key: '', keyType: 0 }, known).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(findCoordinator({ key: '', keyType: 1 }, known).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(findCoordinator({ key: 'x', keyType: 2 }, known)).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, nodeId: -1, host: '', port: 0 });
  });
});
