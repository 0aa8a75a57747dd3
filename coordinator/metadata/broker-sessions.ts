/**
 * Broker sessions: when each broker last sent a heartbeat, kept only on the active coordinator.
 *
 * This is soft state, as in Kafka's KRaft controller: heartbeat times never enter the metadata log
 * (that would write a record per broker every two seconds), only the transitions they cause do
 * (fence-broker, unfence-broker). A coordinator that becomes active knows nothing about when brokers
 * last spoke to the previous one, so `reset()` gives every registered broker a fresh session: a
 * live broker heartbeats again well within the timeout, a dead one is fenced one timeout later.
 *
 * Pure: the caller passes the state to validate against and `nowMs` (a monotonic clock), and
 * appends the commands it gets back. Sessions are keyed by node id and remember the broker epoch
 * they belong to, so a heartbeat of an older incarnation never keeps a newer one alive.
 *
 * Sessions also remember which connection carried the broker's latest heartbeat (the server's
 * connection id; none for a broker in the same process). A broker process that dies closes that
 * connection at once, long before its session would expire: `disconnected` lets the coordinator
 * fence it a short grace after the close, unless a heartbeat arrived on another connection
 * meanwhile (a broker that only reconnected). A paused process keeps its socket open, so the
 * session timeout still covers that case.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { FenceBrokerCommand } from './commands.js';
import { type BrokerHeartbeatOutcome, type BrokerHeartbeatRequest, brokerHeartbeat, fenceBroker } from './controller.js';
import type { MetadataStateView } from './state.js';

/** Kafka's broker.session.timeout.ms default. */
export const DEFAULT_BROKER_SESSION_TIMEOUT_MS = 9000;

export interface BrokerSession {
  readonly nodeId: number;
  readonly brokerEpoch: number;
  /** The nowMs of the last accepted heartbeat (or of the reset that started the session). */
  readonly lastHeartbeatMs: number;
  /** The connection that carried the latest heartbeat; undefined when unknown or in-process. */
  readonly connectionId: number | undefined;
}

export interface BrokerSessionsOptions {
  /** A broker not heard from for longer than this is fenced. Default 9000. */
  readonly sessionTimeoutMs?: number;
}

export class BrokerSessions {
  readonly sessionTimeoutMs: number;
  readonly #sessions = new Map<number, BrokerSession>();

  /** Throws StreamBusError INVALID_CONFIG for a session timeout that is not a whole number ≥ 1. */
  constructor(options: BrokerSessionsOptions = {}) {
    const timeout = options.sessionTimeoutMs ?? DEFAULT_BROKER_SESSION_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeout) || timeout < 1) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `sessionTimeoutMs must be a whole number ≥ 1, got ${timeout}`);
    }
    this.sessionTimeoutMs = timeout;
  }

  /**
   * Accepts a heartbeat received at `nowMs`: validates it against `state` (see
   * controller.brokerHeartbeat for the errors it throws), renews the broker's session, and returns
   * the command to append, if any, and whether the broker is fenced once it is applied. A rejected
   * heartbeat renews nothing.
   */
  heartbeat(state: MetadataStateView, request: BrokerHeartbeatRequest, nowMs: number, connectionId?: number): BrokerHeartbeatOutcome {
    const outcome = brokerHeartbeat(state, request);
    const previous = this.#sessions.get(request.nodeId);
    // Heartbeats may be handled out of arrival order (they queue behind other operations), so a
    // session only moves forward in time.
    const same = previous?.brokerEpoch === request.brokerEpoch;
    const last = same ? Math.max(previous.lastHeartbeatMs, nowMs) : nowMs;
    const connection = connectionId ?? (same ? previous.connectionId : undefined);
    this.#sessions.set(request.nodeId, { nodeId: request.nodeId, brokerEpoch: request.brokerEpoch, lastHeartbeatMs: last, connectionId: connection });
    return outcome;
  }

  /**
   * Renews the session of (nodeId, brokerEpoch) at `nowMs` if one exists for exactly that epoch,
   * without validating anything else; returns whether it did. For a heartbeat that must wait its
   * turn before heartbeat() can judge it: its arrival already proves the broker alive, and an
   * expiry check that runs first must not fence it. A session exists only for an epoch a heartbeat
   * was accepted for, so this never starts one.
   */
  renew(nodeId: number, brokerEpoch: number, nowMs: number, connectionId?: number): boolean {
    const session = this.#sessions.get(nodeId);
    if (session?.brokerEpoch !== brokerEpoch) return false;
    this.#sessions.set(nodeId, { ...session, lastHeartbeatMs: Math.max(session.lastHeartbeatMs, nowMs), connectionId: connectionId ?? session.connectionId });
    return true;
  }

  /**
   * The fence command for broker `nodeId` when connection `connectionId` has closed and still is
   * the one that carried its latest heartbeat (none arrived on another since), the session is of
   * the broker's current registration, and the broker is unfenced; null otherwise.
   */
  disconnected(state: MetadataStateView, nodeId: number, connectionId: number): FenceBrokerCommand | null {
    const session = this.#sessions.get(nodeId);
    const broker = state.broker(nodeId);
    if (session === undefined || broker === undefined || session.connectionId !== connectionId || session.brokerEpoch !== broker.brokerEpoch) return null;
    return fenceBroker(state, nodeId, broker.brokerEpoch);
  }

  /**
   * Fence commands for every unfenced broker whose session is older than the timeout at `nowMs`, in
   * node id order. An unfenced broker without a session of its current epoch (this coordinator has
   * not heard from it since it became active) gets a fresh session instead: absence of evidence is
   * not expiry. Sessions of brokers that are gone or re-registered are dropped.
   */
  expired(state: MetadataStateView, nowMs: number): FenceBrokerCommand[] {
    const commands: FenceBrokerCommand[] = [];
    for (const [nodeId, session] of this.#sessions) {
      if (state.broker(nodeId)?.brokerEpoch !== session.brokerEpoch) this.#sessions.delete(nodeId);
    }
    for (const broker of state.brokers()) {
      if (broker.fenced) continue;
      const session = this.#sessions.get(broker.nodeId);
      if (session === undefined) {
        this.#sessions.set(broker.nodeId, { nodeId: broker.nodeId, brokerEpoch: broker.brokerEpoch, lastHeartbeatMs: nowMs, connectionId: undefined });
        continue;
      }
      if (nowMs - session.lastHeartbeatMs <= this.sessionTimeoutMs) continue;
      const command = fenceBroker(state, broker.nodeId, broker.brokerEpoch);
      if (command !== null) commands.push(command);
    }
    return commands;
  }

  /** Forgets every session and starts a fresh one at `nowMs` for each registered broker. */
  reset(state: MetadataStateView, nowMs: number): void {
    this.#sessions.clear();
    for (const broker of state.brokers()) {
      this.#sessions.set(broker.nodeId, { nodeId: broker.nodeId, brokerEpoch: broker.brokerEpoch, lastHeartbeatMs: nowMs, connectionId: undefined });
    }
  }

  /** The session of a broker, if this coordinator has one. */
  session(nodeId: number): BrokerSession | undefined {
    return this.#sessions.get(nodeId);
  }
}
