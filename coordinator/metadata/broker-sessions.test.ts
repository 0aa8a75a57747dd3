import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { BrokerSessions, DEFAULT_BROKER_SESSION_TIMEOUT_MS } from './broker-sessions.js';
import type { MetadataCommand } from './commands.js';
import { MetadataState } from './state.js';

const register = (nodeId: number, incarnationId = `inc-${nodeId}`): MetadataCommand => ({
  type: 'register-broker',
  nodeId,
  incarnationId,
  host: '127.0.0.1',
  port: 9000 + nodeId,
  rack: null,
  listeners: [],
});

function apply(state: MetadataState, commands: readonly MetadataCommand[]): void {
  for (const command of commands) state.apply({ offset: state.lastAppliedOffset + 1, command });
}

/** Brokers 1 and 2 registered at offsets 0 and 1 and unfenced through heartbeats at time 0. */
function twoLiveBrokers(sessions: BrokerSessions): MetadataState {
  const state = MetadataState.empty();
  apply(state, [register(1), register(2)]);
  for (const nodeId of [1, 2]) {
    const outcome = sessions.heartbeat(state, { nodeId, brokerEpoch: nodeId - 1, metadataOffset: 1 }, 0);
    apply(state, outcome.command === null ? [] : [outcome.command]);
  }
  return state;
}

describe('metadata > broker sessions > heartbeat', () => {
  it('unfences a caught-up broker and renews its session', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    expect(state.brokers().map((b) => b.fenced)).toEqual([false, false]);
    expect(sessions.session(1)).toEqual({ nodeId: 1, brokerEpoch: 0, lastHeartbeatMs: 0 });
    expect(sessions.heartbeat(state, { nodeId: 1, brokerEpoch: 0, metadataOffset: 3 }, 700)).toEqual({ command: null, fenced: false });
    expect(sessions.session(1)?.lastHeartbeatMs).toBe(700);
  });

  it('never moves a session back in time for a heartbeat handled late', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    sessions.heartbeat(state, { nodeId: 1, brokerEpoch: 0, metadataOffset: 3 }, 900);
    sessions.heartbeat(state, { nodeId: 1, brokerEpoch: 0, metadataOffset: 3 }, 400);
    expect(sessions.session(1)?.lastHeartbeatMs).toBe(900);
  });

  it('renews nothing for a rejected heartbeat', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    apply(state, [register(1, 'restarted')]);
    expect(() => sessions.heartbeat(state, { nodeId: 1, brokerEpoch: 0, metadataOffset: 3 }, 500)).toThrow(
      expect.objectContaining({ code: ErrorCode.STALE_BROKER_EPOCH }),
    );
    expect(() => sessions.heartbeat(state, { nodeId: 3, brokerEpoch: 0, metadataOffset: 3 }, 500)).toThrow(
      expect.objectContaining({ code: ErrorCode.BROKER_ID_NOT_REGISTERED }),
    );
    expect(sessions.session(1)?.lastHeartbeatMs).toBe(0);
    expect(sessions.session(3)).toBeUndefined();
  });

  it('renews a session on arrival only for the epoch it already has, ahead of validation', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    expect(sessions.renew(1, 0, 900)).toBe(true);
    expect(sessions.expired(state, 1500)).toEqual([{ type: 'fence-broker', nodeId: 2, brokerEpoch: 1 }]);
    expect(sessions.renew(1, 5, 1800)).toBe(false);
    expect(sessions.renew(7, 0, 1800)).toBe(false);
    expect(sessions.session(7)).toBeUndefined();
    expect(sessions.session(1)?.lastHeartbeatMs).toBe(900);
  });

  it('refuses a session timeout that is not a whole number of at least 1 ms with INVALID_CONFIG', () => {
    expect(new BrokerSessions().sessionTimeoutMs).toBe(DEFAULT_BROKER_SESSION_TIMEOUT_MS);
    for (const sessionTimeoutMs of [0, -5, 1.5, Number.NaN]) {
      expect(() => new BrokerSessions({ sessionTimeoutMs })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }));
    }
  });
});

describe('metadata > broker sessions > expiry', () => {
  it('fences exactly the unfenced brokers not heard from within the timeout', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    sessions.heartbeat(state, { nodeId: 2, brokerEpoch: 1, metadataOffset: 3 }, 800);
    expect(sessions.expired(state, 1000)).toEqual([]);
    expect(sessions.expired(state, 1001)).toEqual([{ type: 'fence-broker', nodeId: 1, brokerEpoch: 0 }]);
    expect(sessions.expired(state, 1801)).toEqual([
      { type: 'fence-broker', nodeId: 1, brokerEpoch: 0 },
      { type: 'fence-broker', nodeId: 2, brokerEpoch: 1 },
    ]);
  });

  it('does not fence again a broker that is already fenced', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    apply(state, sessions.expired(state, 5000));
    expect(state.brokers().map((b) => b.fenced)).toEqual([true, true]);
    expect(sessions.expired(state, 9000)).toEqual([]);
  });

  it('gives an unfenced broker it has no session for a fresh one instead of fencing it', () => {
    const leader = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(leader);
    const successor = new BrokerSessions({ sessionTimeoutMs: 1000 });
    expect(successor.expired(state, 50_000)).toEqual([]);
    expect(successor.expired(state, 51_000)).toEqual([]);
    expect(successor.expired(state, 51_001)).toHaveLength(2);
  });

  it('drops the session of a broker that registered again, and does not let it keep the new registration alive', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    apply(state, [register(1, 'restarted')]);
    expect(sessions.expired(state, 10_000).map((c) => c.nodeId)).toEqual([2]);
    expect(sessions.session(1)).toBeUndefined();
  });
});

describe('metadata > broker sessions > reset', () => {
  it('gives every registered broker a fresh session, as a newly elected coordinator must', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    sessions.reset(state, 20_000);
    expect(sessions.session(1)).toEqual({ nodeId: 1, brokerEpoch: 0, lastHeartbeatMs: 20_000 });
    expect(sessions.expired(state, 21_000)).toEqual([]);
    expect(sessions.expired(state, 21_001).map((c) => c.nodeId)).toEqual([1, 2]);
  });
});

describe('metadata > broker sessions > disconnection', () => {
  it('fences a broker whose heartbeat connection closed when no heartbeat came on another since', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    sessions.heartbeat(state, { nodeId: 1, brokerEpoch: 0, metadataOffset: 3 }, 100, 7);
    expect(sessions.session(1)?.connectionId).toBe(7);
    expect(sessions.disconnected(state, 1, 7)).toEqual({ type: 'fence-broker', nodeId: 1, brokerEpoch: 0 });
  });

  it('does not fence a broker that reconnected and sent a heartbeat on the new connection', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    sessions.heartbeat(state, { nodeId: 1, brokerEpoch: 0, metadataOffset: 3 }, 100, 7);
    expect(sessions.renew(1, 0, 150, 8)).toBe(true);
    expect(sessions.disconnected(state, 1, 7)).toBeNull();
    // A heartbeat from the same process without a known connection keeps the one it had.
    sessions.heartbeat(state, { nodeId: 1, brokerEpoch: 0, metadataOffset: 3 }, 200);
    expect(sessions.session(1)?.connectionId).toBe(8);
  });

  it('does not fence a broker that is fenced already, registered again, or never spoke on that connection', () => {
    const sessions = new BrokerSessions({ sessionTimeoutMs: 1000 });
    const state = twoLiveBrokers(sessions);
    sessions.heartbeat(state, { nodeId: 1, brokerEpoch: 0, metadataOffset: 3 }, 100, 7);
    expect(sessions.disconnected(state, 2, 7)).toBeNull();
    apply(state, [{ type: 'fence-broker', nodeId: 1, brokerEpoch: 0 }]);
    expect(sessions.disconnected(state, 1, 7)).toBeNull();
    apply(state, [register(1, 'restarted')]);
    expect(sessions.disconnected(state, 1, 7)).toBeNull();
  });
});
