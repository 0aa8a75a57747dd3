/**
 * The coordinator's broker session operations: registration, heartbeats (which fence and unfence
 * brokers) and expiry. Sessions are soft state on the leader (metadata/broker-sessions.ts): reset
 * when this node becomes leader, and checked for expiry by a timer every quarter of the session
 * timeout only while it leads.
 */
import { BrokerSessions } from './metadata/broker-sessions.js';
import * as controller from './metadata/controller.js';
import type { BrokerRegistrationRequest } from './metadata/controller.js';
import type { MetadataStateView } from './metadata/state.js';
import type { Logger } from './logger.js';
import type { BrokerHeartbeatOutcome, BrokerHeartbeatRequest } from './service/coordinator-api.js';
import type { AdminOptions, BrokerRegistrationOutcome } from './coordinator-options.js';
import { read, type Submit, write } from './coordinator-steps.js';

export interface BrokerSessionOpsOptions {
  readonly sessionTimeoutMs: number;
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly submit: Submit;
  /** Whether this node leads and accepts writes. */
  readonly leading: () => boolean;
}

export class BrokerSessionOps {
  readonly #sessions: BrokerSessions;
  readonly #nowMs: () => number;
  readonly #logger: Logger;
  readonly #submit: Submit;
  readonly #leading: () => boolean;
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking = false;

  constructor(options: BrokerSessionOpsOptions) {
    this.#sessions = new BrokerSessions({ sessionTimeoutMs: options.sessionTimeoutMs });
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
      return write([outcome.command], (offsets) => {
        const brokerEpoch = offsets[0] ?? -1;
        this.#logger.info({ nodeId: request.nodeId, brokerEpoch, host: request.host, port: request.port }, 'registered broker');
        return { brokerEpoch, metadataOffset: brokerEpoch };
      });
    });
  }

  brokerHeartbeat(request: BrokerHeartbeatRequest | controller.BrokerHeartbeatRequest, options: AdminOptions): Promise<BrokerHeartbeatOutcome> {
    // The session counts from arrival: a broker that spoke in time is alive even if its heartbeat
    // waited behind the leader's catch-up, and an expiry check that runs first must see that.
    const receivedMs = this.#nowMs();
    if (this.#leading()) this.#sessions.renew(request.nodeId, request.brokerEpoch, receivedMs);
    const wantFence = request.wantFence === true || ('wantShutDown' in request && request.wantShutDown);
    const heartbeat: controller.BrokerHeartbeatRequest = {
      nodeId: request.nodeId,
      brokerEpoch: request.brokerEpoch,
      metadataOffset: request.metadataOffset,
      wantFence,
    };
    return this.#submit(options.signal, (state) => {
      const outcome = this.#sessions.heartbeat(state, heartbeat, receivedMs);
      if (outcome.command === null) return read((metadataOffset) => ({ fenced: outcome.fenced, metadataOffset }));
      return write([outcome.command], (offsets) => {
        const metadataOffset = offsets[0] ?? -1;
        const fields = { nodeId: request.nodeId, brokerEpoch: request.brokerEpoch, metadataOffset };
        if (outcome.fenced) this.#logger.info(fields, 'fenced broker at its request');
        else this.#logger.info(fields, 'unfenced broker: it has caught up with the metadata log');
        return { fenced: outcome.fenced, metadataOffset };
      });
    });
  }

  fenceExpiredBrokers(options: AdminOptions): Promise<number[]> {
    return this.#submit(options.signal, (state) => {
      const commands = this.#sessions.expired(state, this.#nowMs());
      const nodeIds = commands.map((c) => c.nodeId);
      return write(commands, (offsets) => {
        if (nodeIds.length > 0) {
          this.#logger.warn(
            { nodeIds, sessionTimeoutMs: this.#sessions.sessionTimeoutMs, metadataOffset: offsets.at(-1) },
            'fenced brokers whose sessions expired (no heartbeat within the session timeout)',
          );
        }
        return nodeIds;
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

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
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
