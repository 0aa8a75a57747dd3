/**
 * The coordinator of a single-node StreamBus: owns the metadata log and runs admin operations.
 *
 * Each admin operation runs the pure controller against the current state, appends the resulting
 * commands to the metadata log, and returns once the commands are committed and applied, with the
 * metadata offset at which their effect is visible. Operations run one at a time: the controller
 * validates against the state its commands will apply to, so two concurrent creations of the same
 * topic cannot both pass validation (the second sees the first and gets TOPIC_ALREADY_EXISTS).
 *
 * The coordinator's own state is a MetadataCache following its log, the same code a broker uses,
 * so a broker's view and the coordinator's can only differ by how far each has read.
 *
 * Broker liveness: brokers send heartbeats (brokerHeartbeat); their times are soft state in a
 * BrokerSessions tracker, and a timer checking every quarter of the session timeout appends a
 * fence-broker command for each broker not heard from within it. Heartbeats and expiry checks go
 * through the same one-at-a-time queue as admin operations, so each decides against the state the
 * previous one left (a broker is never fenced twice for one expiry, nor unfenced by a heartbeat
 * that was decided before its fence applied).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import { abortReason, asError } from './metadata/abort.js';
import { BrokerSessions, DEFAULT_BROKER_SESSION_TIMEOUT_MS } from './metadata/broker-sessions.js';
import { type MetadataFollower, MetadataCache } from './metadata/cache.js';
import { type MetadataCommand, MetadataCommandType } from './metadata/commands.js';
import * as controller from './metadata/controller.js';
import type {
  AlterConfigsRequest,
  BrokerHeartbeatRequest,
  BrokerRegistrationRequest,
  CreatePartitionsRequest,
  CreateTopicRequest,
  CreateTopicResult,
  DescribeConfigsResult,
  TopicDefaults,
  TopicResult,
} from './metadata/controller.js';
import { type RandomSource, randomClusterId } from './metadata/random.js';
import type { MetadataStateView } from './metadata/state.js';
import { type Logger, silentLogger } from './logger.js';
import { LocalMetadataLog } from './metadata-log/local-metadata-log.js';
import type { MetadataLog } from './metadata-log/metadata-log.js';

export interface CoordinatorOptions {
  /** The coordinator's data directory; the metadata log lives in `<dir>/metadata-log`. */
  readonly dir: string;
  readonly nodeId: number;
  /**
   * The cluster id for a new log (default: random, Kafka's 22-character format). For an existing
   * log it must match the stored id, or open() refuses: that catches a node pointed at another
   * cluster's data directory.
   */
  readonly clusterId?: string;
  /** num.partitions and default.replication.factor for creations that leave them out. */
  readonly defaults: TopicDefaults;
  /** Random bytes for topic and cluster ids. Default: node:crypto randomBytes. */
  readonly random?: RandomSource;
  readonly logger?: Logger;
  /**
   * A log to use instead of opening a LocalMetadataLog under `dir` (the Raft-replicated log later;
   * tests). The coordinator owns it from here on and closes it in close().
   */
  readonly log?: MetadataLog;
  /** Default DEFAULT_MAX_PARTITIONS_PER_TOPIC. */
  readonly maxPartitionsPerTopic?: number;
  /** Admin operations waiting for their turn; more fail with THROTTLING_QUOTA_EXCEEDED. Default 256. */
  readonly maxQueuedOperations?: number;
  /**
   * Kafka's broker.session.timeout.ms: a broker with no heartbeat for this long is fenced. Checked
   * every quarter of it. Default 9000.
   */
  readonly sessionTimeoutMs?: number;
  /** A monotonic clock in milliseconds for broker sessions. Default performance.now (tests inject one). */
  readonly nowMs?: () => number;
}

export interface AdminOptions {
  /** Aborts an operation that has not started yet (see MetadataLog.append for one that has). */
  readonly signal?: AbortSignal;
}

export interface ValidateOnlyOptions extends AdminOptions {
  /** Validate and return the results, change nothing. */
  readonly validateOnly?: boolean;
}

export interface CreateTopicsOptions extends ValidateOnlyOptions {
  /** Overrides the coordinator's defaults for this call (a broker passes its own num.partitions). */
  readonly defaults?: TopicDefaults;
}

/** Per-item results, and the metadata offset from which a follower sees their effect. */
export interface AdminOutcome<R> {
  readonly results: R[];
  readonly metadataOffset: number;
}

export interface BrokerRegistrationOutcome {
  /** Fences older incarnations of this broker: requests carrying a smaller epoch are stale. */
  readonly brokerEpoch: number;
  readonly metadataOffset: number;
}

export interface BrokerHeartbeatResult {
  /** Whether the broker is fenced (takes no new replicas) after this heartbeat. */
  readonly fenced: boolean;
  /** The metadata offset at which that is visible to log followers. */
  readonly metadataOffset: number;
}

const CLUSTER_ID_PATTERN = /^[A-Za-z0-9._-]{1,255}$/;
const REPLAY_BATCH_RECORDS = 1000;

function invalidConfig(message: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_CONFIG, message);
}

function checkOptions(options: CoordinatorOptions): void {
  if (!Number.isSafeInteger(options.nodeId) || options.nodeId < 0 || options.nodeId > 2 ** 31 - 1) {
    throw invalidConfig(`nodeId must be a whole number in 0..2147483647, got ${options.nodeId}`);
  }
  const { numPartitions, replicationFactor } = options.defaults;
  if (!Number.isSafeInteger(numPartitions) || numPartitions < 1) {
    throw invalidConfig(`defaults.numPartitions must be a whole number ≥ 1, got ${numPartitions}`);
  }
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1) {
    throw invalidConfig(`defaults.replicationFactor must be a whole number ≥ 1, got ${replicationFactor}`);
  }
  if (options.clusterId !== undefined && !CLUSTER_ID_PATTERN.test(options.clusterId)) {
    throw invalidConfig(`clusterId must be 1..255 characters of letters, digits, '.', '_' and '-', got ${JSON.stringify(options.clusterId)}`);
  }
  const timeout = options.sessionTimeoutMs ?? DEFAULT_BROKER_SESSION_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeout) || timeout < 1) throw invalidConfig(`sessionTimeoutMs must be a whole number ≥ 1, got ${timeout}`);
}

export class Coordinator {
  readonly nodeId: number;
  /** The metadata log: brokers follow it (read from an offset, then onCommit). */
  readonly log: MetadataLog;
  readonly #cache: MetadataCache;
  readonly #follower: MetadataFollower;
  readonly #defaults: TopicDefaults;
  readonly #random: RandomSource;
  readonly #logger: Logger;
  readonly #maxPartitionsPerTopic: number | undefined;
  readonly #maxQueuedOperations: number;
  readonly #sessions: BrokerSessions;
  readonly #nowMs: () => number;
  #sessionTimer: ReturnType<typeof setInterval> | undefined;
  /** An expiry check is queued or running: the timer does not queue another behind it. */
  #checkingSessions = false;
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  #closing: Promise<void> | undefined;
  #failure: unknown;

  private constructor(options: CoordinatorOptions, log: MetadataLog, cache: MetadataCache, follower: MetadataFollower) {
    this.nodeId = options.nodeId;
    this.log = log;
    this.#cache = cache;
    this.#follower = follower;
    this.#defaults = options.defaults;
    this.#random = options.random ?? ((length) => new Uint8Array(randomBytes(length)));
    this.#logger = options.logger ?? silentLogger;
    this.#maxPartitionsPerTopic = options.maxPartitionsPerTopic;
    this.#maxQueuedOperations = options.maxQueuedOperations ?? 256;
    this.#sessions = new BrokerSessions(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs });
    this.#nowMs = options.nowMs ?? (() => performance.now());
    follower.done.catch((error: unknown) => {
      // Applying a committed record failed (a bug) or the log could not be read: stop serving
      // metadata changes rather than validate against a state that no longer matches the log.
      this.#failure = error;
      this.#logger.error({ err: error }, 'the coordinator stopped following its metadata log');
    });
  }

  /**
   * Opens the metadata log, replays it, and initializes the cluster id on a new log. Resolves when
   * the state reflects every committed record. Rejects with INVALID_CONFIG for bad options or a
   * cluster id that differs from the stored one, and with the log's error (KAFKA_STORAGE_ERROR) if
   * the log cannot be opened or is corrupt; nothing is left open on failure.
   */
  static async open(options: CoordinatorOptions): Promise<Coordinator> {
    checkOptions(options);
    const logger = options.logger ?? silentLogger;
    const log = options.log ?? (await LocalMetadataLog.open({ dir: join(options.dir, 'metadata-log'), logger }));
    const cache = new MetadataCache();
    const follower = cache.follow(log, { batchMaxRecords: REPLAY_BATCH_RECORDS });
    let coordinator: Coordinator | undefined;
    try {
      await follower.caughtUp;
      coordinator = new Coordinator(options, log, cache, follower);
      await coordinator.#initClusterId(options.clusterId);
      coordinator.#becomeActive();
    } catch (error) {
      follower.stop();
      await log.close().catch(() => undefined);
      throw error;
    }
    logger.info(
      {
        nodeId: options.nodeId,
        clusterId: cache.state.clusterId,
        metadataOffset: cache.lastAppliedOffset,
        topics: cache.state.topics().length,
        brokers: cache.state.brokers().length,
      },
      'coordinator started',
    );
    return coordinator;
  }

  async #initClusterId(wanted: string | undefined): Promise<void> {
    const stored = this.#cache.state.clusterId;
    if (stored !== null) {
      if (wanted !== undefined && wanted !== stored) {
        throw invalidConfig(
          `the metadata log belongs to cluster ${stored}, but this node was configured for cluster ${wanted}; ` +
            'check the data directory',
        );
      }
      return;
    }
    const clusterId = wanted ?? randomClusterId(this.#random);
    await this.#commit([{ type: MetadataCommandType.INIT_CLUSTER, clusterId }], undefined);
    this.#logger.info({ clusterId }, 'initialized a new cluster');
  }

  /**
   * Starts broker sessions afresh and the expiry timer. A single node is active from open(); a
   * replicated coordinator will call this on each election it wins, since the sessions the previous
   * leader kept died with its leadership.
   */
  #becomeActive(): void {
    this.#sessions.reset(this.state, this.#nowMs());
    const everyMs = Math.max(1, Math.floor(this.#sessions.sessionTimeoutMs / 4));
    this.#sessionTimer = setInterval(() => this.#onSessionTimer(), everyMs);
    this.#sessionTimer.unref();
  }

  #onSessionTimer(): void {
    if (this.#checkingSessions || this.#refusal() !== undefined) return;
    this.fenceExpiredBrokers().catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'broker session check failed; retrying at the next check');
    });
  }

  /** The latest applied metadata. Read-only; changes only through the operations below. */
  get state(): MetadataStateView {
    return this.#cache.state;
  }

  /** Always set once open() has resolved. */
  get clusterId(): string {
    const id = this.#cache.state.clusterId;
    if (id === null) throw new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the cluster id is not initialized');
    return id;
  }

  /** Creates topics; one result per requested topic, in request order. */
  createTopics(topics: readonly CreateTopicRequest[], options: CreateTopicsOptions = {}): Promise<AdminOutcome<CreateTopicResult>> {
    return this.#run(options.signal, async () => {
      const outcome = controller.createTopics(this.state, topics, {
        defaults: options.defaults ?? this.#defaults,
        brokers: this.#placementBrokers(),
        random: this.#random,
        ...(options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
        ...this.#limits(),
      });
      return this.#finish('created topics', outcome, options.signal);
    });
  }

  /** Deletes topics by name; UNKNOWN_TOPIC_OR_PARTITION for names that do not exist. */
  deleteTopics(names: readonly string[], options: AdminOptions = {}): Promise<AdminOutcome<TopicResult>> {
    return this.#run(options.signal, async () => this.#finish('deleted topics', controller.deleteTopics(this.state, names), options.signal));
  }

  /** Incrementally sets and deletes topic config overrides. */
  alterConfigs(requests: readonly AlterConfigsRequest[], options: ValidateOnlyOptions = {}): Promise<AdminOutcome<TopicResult>> {
    return this.#run(options.signal, async () => {
      const outcome = controller.alterConfigs(this.state, requests, options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly });
      return this.#finish('altered topic configs', outcome, options.signal);
    });
  }

  /** Grows topics to new partition counts. */
  createPartitions(requests: readonly CreatePartitionsRequest[], options: ValidateOnlyOptions = {}): Promise<AdminOutcome<TopicResult>> {
    return this.#run(options.signal, async () => {
      const outcome = controller.createPartitions(this.state, requests, {
        brokers: this.#placementBrokers(),
        random: this.#random,
        ...(options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
        ...this.#limits(),
      });
      return this.#finish('created partitions', outcome, options.signal);
    });
  }

  /**
   * Registers (or re-registers) a broker. Rejects with INVALID_REQUEST for a malformed registration.
   * The same incarnation registering again with the same details keeps its epoch.
   */
  registerBroker(request: BrokerRegistrationRequest, options: AdminOptions = {}): Promise<BrokerRegistrationOutcome> {
    return this.#run(options.signal, async () => {
      const outcome = controller.registerBroker(this.state, request);
      if (outcome.command === null) return { brokerEpoch: outcome.brokerEpoch, metadataOffset: this.#cache.lastAppliedOffset };
      const metadataOffset = await this.#commit([outcome.command], options.signal);
      this.#logger.info({ nodeId: request.nodeId, brokerEpoch: metadataOffset, host: request.host, port: request.port }, 'registered broker');
      return { brokerEpoch: metadataOffset, metadataOffset };
    });
  }

  /**
   * Takes a broker's heartbeat: renews its session and, when its fencing changes, appends the
   * fence-broker or unfence-broker command and resolves once it is applied. A fenced broker is
   * unfenced by a heartbeat that shows it caught up (metadataOffset ≥ its broker epoch) and does not
   * ask to be fenced; `wantFence` fences it (controlled shutdown). Rejects with StreamBusError:
   * BROKER_ID_NOT_REGISTERED (register first), STALE_BROKER_EPOCH (register again),
   * INVALID_REQUEST (malformed), and like any operation SHUTTING_DOWN or THROTTLING_QUOTA_EXCEEDED.
   */
  brokerHeartbeat(request: BrokerHeartbeatRequest, options: AdminOptions = {}): Promise<BrokerHeartbeatResult> {
    // The session counts from arrival, not from when the queue reaches the heartbeat: a broker that
    // spoke in time is alive even if a slow admin operation held its heartbeat up, and an expiry
    // check queued ahead of it must see that.
    const receivedMs = this.#nowMs();
    if (this.#refusal() === undefined) this.#sessions.renew(request.nodeId, request.brokerEpoch, receivedMs);
    return this.#run(options.signal, async () => {
      const outcome = this.#sessions.heartbeat(this.state, request, receivedMs);
      if (outcome.command === null) return { fenced: outcome.fenced, metadataOffset: this.#cache.lastAppliedOffset };
      const metadataOffset = await this.#commit([outcome.command], options.signal);
      const fields = { nodeId: request.nodeId, brokerEpoch: request.brokerEpoch, metadataOffset };
      if (outcome.fenced) this.#logger.info(fields, 'fenced broker at its request');
      else this.#logger.info(fields, 'unfenced broker: it has caught up with the metadata log');
      return { fenced: outcome.fenced, metadataOffset };
    });
  }

  /**
   * Fences every unfenced broker whose session expired, now; returns their node ids. The session
   * timer calls this every quarter of the session timeout; tests call it to avoid waiting.
   */
  fenceExpiredBrokers(options: AdminOptions = {}): Promise<number[]> {
    this.#checkingSessions = true;
    const run = this.#run(options.signal, async () => {
      const commands = this.#sessions.expired(this.state, this.#nowMs());
      if (commands.length === 0) return [];
      const metadataOffset = await this.#commit(commands, options.signal);
      const nodeIds = commands.map((c) => c.nodeId);
      this.#logger.warn(
        { nodeIds, sessionTimeoutMs: this.#sessions.sessionTimeoutMs, metadataOffset },
        'fenced brokers whose sessions expired (no heartbeat within the session timeout)',
      );
      return nodeIds;
    });
    return run.finally(() => {
      this.#checkingSessions = false;
    });
  }

  /**
   * Describes topic configs from the applied state: every committed change whose operation has
   * resolved is visible. Does not wait behind queued operations.
   */
  describeConfigs(names: readonly string[], options: AdminOptions = {}): Promise<AdminOutcome<DescribeConfigsResult>> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (options.signal?.aborted === true) return Promise.reject(abortReason(options.signal));
    return Promise.resolve({ results: controller.describeConfigs(this.state, names), metadataOffset: this.#cache.lastAppliedOffset });
  }

  /**
   * Lets the running operation finish, rejects queued ones with SHUTTING_DOWN, stops following and
   * closes the log. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sessionTimer);
      await this.#tail;
      this.#follower.stop();
      await this.log.close();
      this.#logger.info({ nodeId: this.nodeId, metadataOffset: this.#cache.lastAppliedOffset }, 'coordinator closed');
    })();
    return this.#closing;
  }

  #placementBrokers(): controller.PlacementBroker[] {
    return controller.placementBrokers(this.state);
  }

  #limits(): { maxPartitionsPerTopic?: number } {
    return this.#maxPartitionsPerTopic === undefined ? {} : { maxPartitionsPerTopic: this.#maxPartitionsPerTopic };
  }

  async #finish<R extends TopicResult>(
    what: string,
    outcome: controller.ControllerOutcome<R>,
    signal: AbortSignal | undefined,
  ): Promise<AdminOutcome<R>> {
    const metadataOffset = await this.#commit(outcome.commands, signal);
    if (outcome.commands.length > 0) {
      const names = outcome.results.filter((r) => r.errorCode === ErrorCode.NONE).map((r) => r.name);
      this.#logger.info({ topics: names, metadataOffset }, what);
    }
    return { results: outcome.results, metadataOffset };
  }

  /** Appends and waits until applied; returns the last offset (the current one when there is nothing to append). */
  async #commit(commands: readonly MetadataCommand[], signal: AbortSignal | undefined): Promise<number> {
    if (commands.length === 0) return this.#cache.lastAppliedOffset;
    const offsets = await this.log.append(commands, signal === undefined ? {} : { signal });
    const last = offsets[offsets.length - 1] ?? this.#cache.lastAppliedOffset;
    // Committed is not yet applied: with a replicated log the two can be apart. The next operation
    // must validate against a state that includes these commands, so wait (no signal: the commands
    // are committed, and the result must say so).
    await this.#cache.waitForOffset(last);
    return last;
  }

  #refusal(): StreamBusError | undefined {
    if (this.#closing !== undefined) return new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the coordinator is shutting down');
    if (this.#failure !== undefined) {
      return this.#failure instanceof StreamBusError
        ? this.#failure
        : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the coordinator stopped following its metadata log', { cause: this.#failure });
    }
    return undefined;
  }

  /** Runs `operation` after every earlier one has finished. */
  #run<T>(signal: AbortSignal | undefined, operation: () => Promise<T>): Promise<T> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (this.#queued >= this.#maxQueuedOperations) {
      return Promise.reject(
        new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${this.#queued} admin operations are already waiting; retry later`),
      );
    }
    this.#queued++;
    return new Promise<T>((resolve, reject) => {
      let started = false;
      const onAbort = (): void => {
        if (!started && signal !== undefined) reject(abortReason(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#tail = this.#tail.then(async () => {
        this.#queued--;
        started = true;
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted === true) return;
        const refusal = this.#refusal();
        if (refusal !== undefined) {
          reject(refusal);
          return;
        }
        try {
          resolve(await operation());
        } catch (error) {
          reject(asError(error));
        }
      });
    });
  }
}
