/**
 * Coordinator responses are network input: each malformed one becomes a typed error, and the
 * retry rules send again only what is safe to send again.
 */
import { describe, expect, it } from 'vitest';
import { MetadataState, encodeMetadataCommand } from '../../coordinator/index.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { metadataUpdateFromWire, statusFromWire } from './from-wire.js';
import { FailureVerdict, judgeFailure } from './retry-rules.js';

const from = { host: '127.0.0.1', port: 9094 };

function status(overrides: Partial<M.CoordinatorStatusResponse> = {}): M.CoordinatorStatusResponse {
  return {
    errorCode: 0,
    errorMessage: '',
    clusterId: 'c',
    nodeId: 2,
    role: 'follower',
    leaderId: 1,
    leaderApiHost: '127.0.0.1',
    leaderApiPort: 9095,
    term: 4,
    commitIndex: 10,
    appliedIndex: 10,
    lastIndex: 11,
    snapshotIndex: 0,
    metadataOffset: 9,
    members: [{ nodeId: 1, raftHost: '127.0.0.1', raftPort: 9195, apiHost: '', apiPort: 0, voter: true, matchIndex: -1, lag: -1, active: false }],
    ...overrides,
  };
}

function fetched(overrides: Partial<M.FetchMetadataResponse> = {}): M.FetchMetadataResponse {
  return { errorCode: 0, errorMessage: '', startOffset: 0, committedOffset: 5, records: [], hasSnapshot: false, snapshotOffset: -1, snapshot: Buffer.alloc(0), ...overrides };
}

const noOp = Buffer.from(encodeMetadataCommand({ type: 'no-op' }));

function codeOf(run: () => unknown): number | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return (error as StreamBusError).code;
  }
  return undefined;
}

describe('coordinator client > responses > status', () => {
  it('reads "unknown" stand-ins as undefined: no api address, no match or lag outside a leader', () => {
    const view = statusFromWire(status(), from);
    expect(view.members[0]).toEqual({ nodeId: 1, raft: { host: '127.0.0.1', port: 9195 }, api: undefined, voter: true, matchIndex: undefined, lag: undefined, active: undefined });
    expect(view.leaderApi).toEqual({ host: '127.0.0.1', port: 9095 });
    expect(statusFromWire(status({ leaderId: 0 }), from).leaderApi).toBeUndefined();
  });

  it('refuses an unknown role or a member without a raft address with MALFORMED_FRAME', () => {
    expect(codeOf(() => statusFromWire(status({ role: 'king' }), from))).toBe(ErrorCode.MALFORMED_FRAME);
    const member = { nodeId: 1, raftHost: '', raftPort: 0, apiHost: '', apiPort: 0, voter: true, matchIndex: -1, lag: -1, active: false };
    expect(codeOf(() => statusFromWire(status({ members: [member] }), from))).toBe(ErrorCode.MALFORMED_FRAME);
  });

  it('throws the typed error a body carries', () => {
    expect(codeOf(() => statusFromWire(status({ errorCode: ErrorCode.SHUTTING_DOWN, errorMessage: 'bye' }), from))).toBe(ErrorCode.SHUTTING_DOWN);
  });
});

describe('coordinator client > responses > metadata fetch', () => {
  it('decodes records and yields nothing for an empty long poll', () => {
    expect(metadataUpdateFromWire(fetched(), 3, from)).toBeUndefined();
    const update = metadataUpdateFromWire(fetched({ records: [{ offset: 3, command: noOp }, { offset: 5, command: noOp }] }), 3, from);
    expect(update).toEqual({ kind: 'records', committedOffset: 5, records: [{ offset: 3, command: { type: 'no-op' } }, { offset: 5, command: { type: 'no-op' } }] });
  });

  it('refuses records before the requested offset or out of order with MALFORMED_FRAME', () => {
    expect(codeOf(() => metadataUpdateFromWire(fetched({ records: [{ offset: 2, command: noOp }] }), 3, from))).toBe(ErrorCode.MALFORMED_FRAME);
    const unordered = [{ offset: 4, command: noOp }, { offset: 4, command: noOp }];
    expect(codeOf(() => metadataUpdateFromWire(fetched({ records: unordered }), 3, from))).toBe(ErrorCode.MALFORMED_FRAME);
  });

  it('refuses command bytes the metadata codec cannot read: CORRUPT_MESSAGE, or UNSUPPORTED_VERSION for an unknown command', () => {
    expect(codeOf(() => metadataUpdateFromWire(fetched({ records: [{ offset: 3, command: Buffer.from('{"v":1') }] }), 3, from))).toBe(ErrorCode.CORRUPT_MESSAGE);
    const unknownType = Buffer.from('{"v":1,"command":{"type":"launch-rockets"}}');
    expect(codeOf(() => metadataUpdateFromWire(fetched({ records: [{ offset: 3, command: unknownType }] }), 3, from))).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });

  it('checks a snapshot field by field: not JSON, wrong shape and a stated offset before its contents all fail', () => {
    const good = Buffer.from(JSON.stringify({ ...MetadataState.empty().snapshot(), lastAppliedOffset: 7 }));
    const update = metadataUpdateFromWire(fetched({ hasSnapshot: true, snapshotOffset: 7, snapshot: good }), 0, from);
    expect(update?.kind === 'snapshot' ? update.snapshot.lastAppliedOffset : undefined).toBe(7);
    expect(codeOf(() => metadataUpdateFromWire(fetched({ hasSnapshot: true, snapshotOffset: 7, snapshot: Buffer.from('{') }), 0, from))).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(codeOf(() => metadataUpdateFromWire(fetched({ hasSnapshot: true, snapshotOffset: 7, snapshot: Buffer.from('{"topics":1}') }), 0, from))).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(codeOf(() => metadataUpdateFromWire(fetched({ hasSnapshot: true, snapshotOffset: 6, snapshot: good }), 0, from))).toBe(ErrorCode.MALFORMED_FRAME);
  });

  it('throws OFFSET_OUT_OF_RANGE when the server says the offset is past the end', () => {
    expect(codeOf(() => metadataUpdateFromWire(fetched({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }), 99, from))).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });
});

describe('coordinator client > retry rules', () => {
  const error = (code: ErrorCode): StreamBusError => new StreamBusError(code);

  it('sends again whatever never left, and every refusal', () => {
    expect(judgeFailure({ error: error(ErrorCode.NETWORK_EXCEPTION), sent: false, idempotent: false })).toBe(FailureVerdict.RETRY);
    expect(judgeFailure({ error: error(ErrorCode.NOT_CONTROLLER), sent: true, idempotent: false })).toBe(FailureVerdict.RETRY);
    expect(judgeFailure({ error: error(ErrorCode.THROTTLING_QUOTA_EXCEEDED), sent: true, idempotent: false })).toBe(FailureVerdict.RETRY);
  });

  it('sends a maybe-applied request again only when it is idempotent', () => {
    for (const code of [ErrorCode.NETWORK_EXCEPTION, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.SHUTTING_DOWN]) {
      expect(judgeFailure({ error: error(code), sent: true, idempotent: true })).toBe(FailureVerdict.RETRY);
      expect(judgeFailure({ error: error(code), sent: true, idempotent: false })).toBe(FailureVerdict.OUTCOME_UNKNOWN);
    }
  });

  it('hands every other answer back, retriable or not', () => {
    for (const code of [ErrorCode.INVALID_CONFIG, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.BROKER_ID_NOT_REGISTERED, ErrorCode.STALE_BROKER_EPOCH]) {
      expect(judgeFailure({ error: error(code), sent: true, idempotent: true })).toBe(FailureVerdict.GIVE_UP);
    }
  });
});
