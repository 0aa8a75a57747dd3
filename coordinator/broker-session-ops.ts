/**
 * The coordinator's broker session operations: registration, heartbeats (which fence and unfence
 * brokers), expiry and disconnection. Sessions are soft state on the leader
 * (metadata/broker-sessions.ts): reset when this node becomes leader, and checked for expiry by a
 * timer every quarter of the session timeout only while it leads.
 *
 * Every transition of a broker carries its partition changes in the same metadata entry
 * (metadata/leader-election.ts), so no committed state has a fenced broker leading:
 * - fenced (session expired, connection closed, or it asked: controlled shutdown): it leaves every
 *   ISR and its leaderships move to live ISR members, before the fence-broker command;
 * - registered again as a new incarnation (a restart faster than the fencing): the same, since
 *   a new registration starts fenced;
 * - unfenced: offline partitions it can lead get it (or another live ISR member) as leader.
 *
 * Fast failure detection. The leader remembers which connection carries each broker's heartbeats.
 * When that connection closes (the peer went away, not this server shutting down) and no heartbeat
 * arrives on another connection within `disconnectFenceMs` (broker.disconnect.fence.ms, 500), the
 * broker is fenced as on session expiry. A killed broker process closes its sockets at once, so
 * its partitions fail over in about that grace plus one metadata commit, not after the 9 s session
 * timeout. A paused broker (SIGSTOP) keeps its socket open: the session timeout covers it.
 */
import { BrokerSessions } from './metadata/broker-sessions.js';
import type { FenceBrokerCommand, MetadataCommand } from './metadata/commands.js';
import * as controller from './metadata/controller.js';
import type { BrokerRegistrationRequest } from './metadata/controller.js';
import { type LeaderElectionOptions, brokerReturns, removeBrokers } from './metadata/leader-election.js';
import type { MetadataStateView } from './metadata/state.js';
import type { Logger } from './logger.js';
import type { BrokerConnection, BrokerHeartbeatOutcome, BrokerHeartbeatRequest } from './service/coordinator-api.js';
import type { AdminOptions, BrokerRegistrationOutcome, HeartbeatOptions } from './coordinator-options.js';
import { read, type Submit, write } from './coordinator-steps.js';

export interface BrokerSessionOpsOptions {
  readonly sessionTimeoutMs: number;
  /** Grace after a broker's heartbeat connection closes before it is fenced. */
  readonly disconnectFenceMs: number;
  readonly election: LeaderElectionOptions;
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly submit: Submit;
  /** Whether this node leads and accepts writes. */
  readonly leading: () => boolean;
}

export class BrokerSessionOps {
  readonly #sessions: BrokerSessions;
  readonly #disconnectFenceMs: number;
  readonly #election: LeaderElectionOptions;
  readonly #nowMs: () => number;
  readonly #logger: Logger;
  readonly #submit: Submit;
  readonly #leading: () => boolean;
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking = false;
  /** Connections whose loss is watched, each with the brokers whose heartbeats it carried. */
  readonly #watched = new Map<number, Set<number>>();
  /** Grace timers of closed connections, so stop() can cancel them. */
  readonly #graceTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(options: BrokerSessionOpsOptions) {
    this.#sessions = new BrokerSessions({ sessionTimeoutMs: options.sessionTimeoutMs });
    this.#disconnectFenceMs = options.disconnectFenceMs;
    this.#election = options.election;
    this.#nowMs = options.nowMs;
    this.#logger = options.logger;
    this.#submit = options.submit;
    this.#leading = options.leading;
  }

  registerBroker(request: BrokerRegistrationRequest, options: AdminOptions): Promise<BrokerRegistrationOutcome> {
    return this.#submit(options.signal, (state) => {
      const outcome = controller.registerBroker(state, request);
      if (outcome.command === null) {
        const brokerEpoch = outcome.brokerEpoch;
        return read((metadataOffset) => ({ brokerEpoch, metadataOffset }));
      }
      // A new incarnation starts fenced: the old one's leaderships and ISR places go first, in the
      // same entry, so the registration's offset is still the broker epoch (it comes first).
      const moved = removeBrokers(state, new Set([request.nodeId]), this.#election);
      return write([outcome.command, ...moved], (offsets) => {
        const brokerEpoch = offsets[0] ?? -1;
        this.#logger.info({ nodeId: request.nodeId, brokerEpoch, host: request.host, port: request.port, partitionsChanged: moved.length }, 'registered broker');
        return { brokerEpoch, metadataOffset: offsets.at(-1) ?? brokerEpoch };
      });
    });
  }

  brokerHeartbeat(request: BrokerHeartbeatRequest | controller.BrokerHeartbeatRequest, options: HeartbeatOptions): Promise<BrokerHeartbeatOutcome> {
    const connection = options.connection;
    // The session counts from arrival: a broker that spoke in time is alive even if its heartbeat
    // waited behind the leader's catch-up, and an expiry check that runs first must see that.
    const receivedMs = this.#nowMs();
    if (this.#leading()) {
      this.#sessions.renew(request.nodeId, request.brokerEpoch, receivedMs, connection?.id);
      if (connection !== undefined) this.#watch(request.nodeId, connection);
    }
    const wantFence = request.wantFence === true || ('wantShutDown' in request && request.wantShutDown);
    const heartbeat: controller.BrokerHeartbeatRequest = {
      nodeId: request.nodeId,
      brokerEpoch: request.brokerEpoch,
      metadataOffset: request.metadataOffset,
      wantFence,
    };
    return this.#submit(options.signal, (state) => {
      const outcome = this.#sessions.heartbeat(state, heartbeat, receivedMs, connection?.id);
      if (outcome.command === null) return read((metadataOffset) => ({ fenced: outcome.fenced, metadataOffset }));
      const fencing = outcome.command.type === 'fence-broker';
      const changes = fencing ? removeBrokers(state, new Set([request.nodeId]), this.#election) : brokerReturns(state, request.nodeId, this.#election);
      const commands: MetadataCommand[] = fencing ? [...changes, outcome.command] : [outcome.command, ...changes];
      return write(commands, (offsets) => {
        const metadataOffset = offsets.at(-1) ?? -1;
        const fields = { nodeId: request.nodeId, brokerEpoch: request.brokerEpoch, metadataOffset, partitionsChanged: changes.length };
        if (outcome.fenced) this.#logger.info(fields, 'fenced broker at its request (controlled shutdown): its leaderships moved and it left every ISR');
        else this.#logger.info(fields, 'unfenced broker: it has caught up with the metadata log');
        return { fenced: outcome.fenced, metadataOffset };
      });
    });
  }

  fenceExpiredBrokers(options: AdminOptions): Promise<number[]> {
    return this.#submit(options.signal, (state) => {
      const fences = this.#sessions.expired(state, this.#nowMs());
      const nodeIds = fences.map((c) => c.nodeId);
      const changes = fences.length === 0 ? [] : removeBrokers(state, new Set(nodeIds), this.#election);
      return write([...changes, ...fences], (offsets) => {
        if (nodeIds.length > 0) {
          this.#logger.warn(
            { nodeIds, sessionTimeoutMs: this.#sessions.sessionTimeoutMs, metadataOffset: offsets.at(-1), partitionsChanged: changes.length },
            'fenced brokers whose sessions expired (no heartbeat within the session timeout)',
          );
        }
        return nodeIds;
      });
    });
  }

  /**
   * Fences broker `nodeId` if connection `connectionId` still carries its session (no heartbeat
   * arrived on another connection since it closed); resolves with whether it did. The grace timer
   * calls this; tests call it.
   */
  fenceDisconnectedBroker(nodeId: number, connectionId: number, options: AdminOptions = {}): Promise<boolean> {
    return this.#submit(options.signal, (state) => {
      const fence: FenceBrokerCommand | null = this.#sessions.disconnected(state, nodeId, connectionId);
      if (fence === null) return read(() => false);
      const changes = removeBrokers(state, new Set([nodeId]), this.#election);
      return write([...changes, fence], (offsets) => {
        this.#logger.warn(
          { nodeId, brokerEpoch: fence.brokerEpoch, disconnectFenceMs: this.#disconnectFenceMs, metadataOffset: offsets.at(-1), partitionsChanged: changes.length },
          'fenced broker: its heartbeat connection closed and no heartbeat came on another one',
        );
        return true;
      });
    });
  }

  /** Forgets the previous leader's sessions: every registered broker starts a fresh one now. */
  reset(state: MetadataStateView): void {
    this.#sessions.reset(state, this.#nowMs());
  }

  /** Starts the expiry timer (this node leads and accepts writes). */
  start(): void {
    this.stop();
    const everyMs = Math.max(1, Math.floor(this.#sessions.sessionTimeoutMs / 4));
    this.#timer = setInterval(() => this.#onTimer(), everyMs);
    this.#timer.unref();
  }

  /** Stops the expiry timer and every grace timer; forgets watched connections. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const timer of this.#graceTimers) clearTimeout(timer);
    this.#graceTimers.clear();
    this.#watched.clear();
  }

  /** Watches `connection` once: when it is lost, each broker it carried gets a grace period. */
  #watch(nodeId: number, connection: BrokerConnection): void {
    const known = this.#watched.get(connection.id);
    if (known !== undefined) {
      known.add(nodeId);
      return;
    }
    const carried = new Set([nodeId]);
    this.#watched.set(connection.id, carried);
    void connection.lost.then(() => {
      // stop() (leadership lost, closing) forgets watched connections: nothing to do then.
      if (this.#watched.get(connection.id) !== carried) return;
      this.#watched.delete(connection.id);
      if (!this.#leading()) return;
      const timer = setTimeout(() => {
        this.#graceTimers.delete(timer);
        for (const broker of carried) this.#fenceAfterGrace(broker, connection.id);
      }, this.#disconnectFenceMs);
      timer.unref();
      this.#graceTimers.add(timer);
    });
  }

  #fenceAfterGrace(nodeId: number, connectionId: number): void {
    if (!this.#leading()) return;
    this.fenceDisconnectedBroker(nodeId, connectionId).catch((error: unknown) =>
      this.#logger.warn({ err: error, nodeId }, 'could not fence a disconnected broker; its session will expire instead'),
    );
  }

  #onTimer(): void {
    if (this.#checking || !this.#leading()) return;
    this.#checking = true;
    this.fenceExpiredBrokers({})
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'broker session check failed; retrying at the next check'))
      .finally(() => {
        this.#checking = false;
      });
  }
}
