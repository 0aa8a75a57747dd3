/**
 * The coordinator: one node of the Raft group that owns cluster metadata. It serves the
 * coordinator API (service/coordinator-api.ts) from a RaftMetadataLog replicated by a RaftHost.
 *
 * - Writes (topic admin, broker registrations and heartbeats, membership) run on the leader only;
 *   elsewhere they fail with NOT_CONTROLLER naming the leader. They go through the write pipeline
 *   (write-pipeline.ts): validated one at a time against a speculative state, proposed without
 *   waiting for the previous write to commit, answered once applied.
 * - Reads (status, fetchMetadata) answer on any node from what it has applied.
 *
 * Leadership. When this node becomes leader of a term it first applies a read barrier, so its
 * state holds every entry of earlier terms, then starts accepting writes. On a new cluster (no
 * init-cluster record yet) its first write is init-cluster with the configured cluster id; it also
 * records its own Raft and API addresses (register-coordinator) when the log lacks or differs.
 *
 * Broker sessions are soft state on the leader (metadata/broker-sessions.ts): reset when this node
 * becomes leader (the previous leader's heartbeat times died with it), and fenced for expiry only
 * while it leads, by a timer checking every quarter of the session timeout.
 *
 * Peers. The Raft transport's peers are the founding voters from the configuration plus every
 * current voter the log has an address for (metadata/coordinator-endpoints.ts). They are worked
 * out again after each batch of applied records, on leader changes and right after a membership
 * change enters the leader's log, so a node added later is reached without editing any config.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, StreamBusError, type StreamBusErrorContext } from '../proto/errors.js';
import { abortReason } from './metadata/abort.js';
import { BrokerSessions, DEFAULT_BROKER_SESSION_TIMEOUT_MS } from './metadata/broker-sessions.js';
import { type MetadataCommand, MetadataCommandType } from './metadata/commands.js';
import * as controller from './metadata/controller.js';
import type {
  AlterConfigsRequest,
  BrokerRegistrationRequest,
  CreatePartitionsRequest,
  CreateTopicRequest,
  CreateTopicResult,
  DescribeConfigsResult,
  TopicDefaults,
  TopicResult,
} from './metadata/controller.js';
import { coordinatorRecord, raftPeers, samePeers } from './metadata/coordinator-endpoints.js';
import type { RandomSource } from './metadata/random.js';
import type { MetadataStateView } from './metadata/state.js';
import { type Logger, silentLogger } from './logger.js';
import type { RaftMetadataLog } from './metadata-log/raft-metadata-log.js';
import { MAX_READ_RECORDS } from './metadata-log/metadata-log.js';
import { NO_NODE } from './raft/index.js';
import type { RaftHost } from './raft/host/index.js';
import type {
  BrokerHeartbeatOutcome,
  BrokerHeartbeatRequest,
  CoordinatorApi,
  CoordinatorMemberStatus,
  CoordinatorNodeStatus,
  Endpoint,
  MembershipChangeRequest,
  MetadataFetchResult,
} from './service/coordinator-api.js';
import { WriteLog } from './write-log.js';
import { type WriteStep, WritePipeline } from './write-pipeline.js';

export interface CoordinatorOptions {
  /** This node's Raft id (1 or more). */
  readonly nodeId: number;
  /** The cluster this node belongs to; the first leader writes it in init-cluster. */
  readonly clusterId: string;
  /** The Raft host replicating `log`, started with `log` as its state machine. Not owned. */
  readonly host: RaftHost;
  /** Not owned. */
  readonly log: RaftMetadataLog;
  /** This node's Raft address, as its peers reach it. */
  readonly raft: Endpoint;
  /** This node's coordinator API address, when known at start; see setApiEndpoint(). */
  readonly api?: Endpoint;
  /** The founding voters and their Raft addresses (the coordinator.voters setting). */
  readonly voters: ReadonlyMap<number, Endpoint>;
  /** num.partitions and default.replication.factor for creations that leave them out. */
  readonly defaults: TopicDefaults;
  /** Random bytes for topic ids. Default: node:crypto randomBytes. */
  readonly random?: RandomSource;
  readonly logger?: Logger;
  /** Default DEFAULT_MAX_PARTITIONS_PER_TOPIC. */
  readonly maxPartitionsPerTopic?: number;
  /** Writes waiting or in flight at once; more fail with THROTTLING_QUOTA_EXCEEDED. Default 1024. */
  readonly maxPendingWrites?: number;
  /** Kafka's broker.session.timeout.ms. Default 9000. */
  readonly sessionTimeoutMs?: number;
  /** A monotonic clock in milliseconds for broker sessions. Default performance.now. */
  readonly nowMs?: () => number;
  /** The longest a fetchMetadata long poll waits, whatever it asks. Default 30 000. */
  readonly fetchMaxWaitMs?: number;
}

export interface AdminOptions {
  /** Aborts an operation that has not been proposed yet; once proposed, it reports its real outcome. */
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

/** The CoordinatorApi's heartbeat answer, kept under the name the broker side uses. */
export type BrokerHeartbeatResult = BrokerHeartbeatOutcome;

const DEFAULT_MAX_PENDING_WRITES = 1024;
const DEFAULT_FETCH_MAX_WAIT_MS = 30_000;
/** Pause before a new leader tries its read barrier again (it failed while this node still leads). */
const BARRIER_RETRY_MS = 50;

function invalidConfig(message: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_CONFIG, message);
}

function checkOptions(options: CoordinatorOptions): void {
  if (!Number.isSafeInteger(options.nodeId) || options.nodeId < 1 || options.nodeId > 2 ** 31 - 1) {
    throw invalidConfig(`a coordinator node id must be a whole number in 1..2147483647, got ${options.nodeId}`);
  }
  const { numPartitions, replicationFactor } = options.defaults;
  if (!Number.isSafeInteger(numPartitions) || numPartitions < 1) {
    throw invalidConfig(`defaults.numPartitions must be a whole number ≥ 1, got ${numPartitions}`);
  }
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1) {
    throw invalidConfig(`defaults.replicationFactor must be a whole number ≥ 1, got ${replicationFactor}`);
  }
  const limit = options.maxPendingWrites ?? DEFAULT_MAX_PENDING_WRITES;
  if (!Number.isSafeInteger(limit) || limit < 1) throw invalidConfig(`maxPendingWrites must be a whole number ≥ 1, got ${limit}`);
}

function read<T>(answer: (metadataOffset: number) => T): WriteStep<T> {
  return { kind: 'read', answer };
}

function write<T>(commands: readonly MetadataCommand[], answer: (offsets: readonly number[]) => T): WriteStep<T> {
  return commands.length === 0 ? { kind: 'read', answer: () => answer([]) } : { kind: 'write', commands, answer };
}

export class Coordinator implements CoordinatorApi {
  readonly nodeId: number;
  readonly clusterId: string;
  /** The metadata log: brokers in this process follow it (read from an offset, then onCommit). */
  readonly log: RaftMetadataLog;
  readonly #host: RaftHost;
  readonly #raft: Endpoint;
  #api: Endpoint | undefined;
  readonly #configuredVoters: ReadonlyMap<number, Endpoint>;
  readonly #defaults: TopicDefaults;
  readonly #random: RandomSource;
  readonly #logger: Logger;
  readonly #maxPartitionsPerTopic: number | undefined;
  readonly #sessions: BrokerSessions;
  readonly #nowMs: () => number;
  readonly #fetchMaxWaitMs: number;
  readonly #writes: WritePipeline;
  /** The info lines of topic admin writes, one per kind per event-loop turn (write-log.ts). */
  readonly #writeLog: WriteLog;
  readonly #unsubscribe: (() => void)[] = [];
  #peers: ReadonlyMap<number, Endpoint> = new Map();
  #peersDue = false;
  #sessionTimer: ReturnType<typeof setInterval> | undefined;
  #checkingSessions = false;
  readonly #leaderWaiters = new Set<() => void>();
  /** Long polls of fetchMetadata, woken early on close. */
  readonly #polls = new Set<() => void>();
  #closing: Promise<void> | undefined;
  #failure: StreamBusError | undefined;

  private constructor(options: CoordinatorOptions) {
    this.nodeId = options.nodeId;
    this.clusterId = options.clusterId;
    this.log = options.log;
    this.#host = options.host;
    this.#raft = options.raft;
    this.#api = options.api;
    this.#configuredVoters = options.voters;
    this.#defaults = options.defaults;
    this.#random = options.random ?? ((length) => new Uint8Array(randomBytes(length)));
    this.#logger = options.logger ?? silentLogger;
    this.#maxPartitionsPerTopic = options.maxPartitionsPerTopic;
    this.#sessions = new BrokerSessions({ sessionTimeoutMs: options.sessionTimeoutMs ?? DEFAULT_BROKER_SESSION_TIMEOUT_MS });
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#fetchMaxWaitMs = options.fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS;
    this.#writeLog = new WriteLog(this.#logger);
    this.#writes = new WritePipeline({
      log: options.log,
      host: options.host,
      notLeader: () => this.#notLeader(),
      onMembershipAppended: () => this.#refreshPeers(),
      maxPending: options.maxPendingWrites ?? DEFAULT_MAX_PENDING_WRITES,
      logger: this.#logger,
    });
  }

  /**
   * Starts serving on a started host: follows leadership and the log, and sets the transport's
   * peers. A node that leads already (or later) catches up and then accepts writes. Throws
   * INVALID_CONFIG for bad options.
   */
  static start(options: CoordinatorOptions): Coordinator {
    checkOptions(options);
    const coordinator = new Coordinator(options);
    coordinator.#begin();
    return coordinator;
  }

  #begin(): void {
    this.#unsubscribe.push(this.#host.onLeaderChange((leaderId, term) => this.#onLeaderChange(leaderId, term)));
    // Peers change with a recorded address, a membership change (applied as a no-op record) or a
    // snapshot from the leader (an empty batch); other records cannot move them.
    this.#unsubscribe.push(
      this.log.onCommit((records) => {
        if (records.length === 0 || records.some((r) => r.command.type === MetadataCommandType.REGISTER_COORDINATOR || r.command.type === MetadataCommandType.NO_OP)) {
          this.#refreshPeersSoon();
        }
      }),
    );
    this.#refreshPeers();
    const status = this.#host.status();
    if (status.role === 'leader') this.#onLeaderChange(status.leaderId, status.term);
  }

  /** The latest applied (committed) metadata on this node. */
  get state(): MetadataStateView {
    return this.log.state;
  }

  /** Whether this node leads and accepts writes. */
  get leading(): boolean {
    return this.#writes.readyTerm !== undefined;
  }

  /**
   * Resolves once this node leads and accepts writes (a one-node group at start). Rejects with
   * the signal's reason, or SHUTTING_DOWN on close.
   */
  whenLeading(options: AdminOptions = {}): Promise<void> {
    if (this.leading) return Promise.resolve();
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#leaderWaiters.delete(wake);
        if (signal !== undefined) reject(abortReason(signal));
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        const refusal = this.#refusal();
        if (refusal === undefined) resolve();
        else reject(refusal);
      };
      this.#leaderWaiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Sets this node's API address (known once its listener is bound); recorded in the log when it leads. */
  setApiEndpoint(api: Endpoint): void {
    this.#api = { host: api.host, port: api.port };
    if (this.leading) this.#recordSelf();
  }

  /**
   * Stops serving for good with `error` (the host failed: the disk, or a broken invariant): every
   * later call rejects with it. Called by the node assembly from the host's onFatal.
   */
  fail(error: StreamBusError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#writes.close(error);
    this.#stopSessions();
    this.#wakeLeaderWaiters();
  }

  // ---------------------------------------------------------------------------------------------
  // Reads: every node answers them

  status(): CoordinatorNodeStatus {
    const raft = this.#host.status();
    const state = this.log.state;
    const leading = raft.role === 'leader';
    const ids = new Set<number>([...raft.voters, this.nodeId]);
    const members: CoordinatorMemberStatus[] = [];
    for (const id of [...ids].sort((a, b) => a - b)) {
      const raftAddress = this.#raftAddressOf(id);
      if (raftAddress === undefined) continue;
      const member = raft.members.find((m) => m.id === id);
      const follower = raft.followers.find((f) => f.id === id);
      members.push({
        nodeId: id,
        raft: raftAddress,
        api: this.#apiAddressOf(id),
        voter: raft.voters.includes(id),
        matchIndex: leading ? member?.match : undefined,
        lag: leading ? member?.lag : undefined,
        active: leading ? id === this.nodeId || follower?.recentActive === true : undefined,
      });
    }
    return {
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      role: raft.role,
      leaderId: raft.leaderId,
      leaderApi: raft.leaderId === NO_NODE ? undefined : this.#apiAddressOf(raft.leaderId),
      term: raft.term,
      commitIndex: raft.commit,
      appliedIndex: raft.applied,
      lastIndex: raft.lastIndex,
      snapshotIndex: raft.snapshotIndex,
      metadataOffset: state.lastAppliedOffset,
      members,
    };
  }

  /**
   * Committed records from `fromOffset`, or the snapshot when that offset was compacted away; a
   * fetch from committedOffset + 1 waits up to maxWaitMs for a commit (long poll) and then answers
   * with none. Rejects OFFSET_OUT_OF_RANGE past committedOffset + 1 (or for a negative offset).
   */
  async fetchMetadata(fromOffset: number, maxRecords: number, maxWaitMs: number, options: AdminOptions = {}): Promise<MetadataFetchResult> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    if (!Number.isSafeInteger(fromOffset) || fromOffset < 0) {
      throw new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, `metadata offset ${fromOffset} is not a whole number ≥ 0`);
    }
    const wait = Math.min(Math.max(0, Number.isFinite(maxWaitMs) ? maxWaitMs : 0), this.#fetchMaxWaitMs);
    if (fromOffset === this.log.committedOffset + 1 && wait > 0) await this.#nextCommit(wait, options.signal);
    return this.#readFrom(fromOffset, maxRecords);
  }

  async #readFrom(fromOffset: number, maxRecords: number): Promise<MetadataFetchResult> {
    const log = this.log;
    if (fromOffset < log.startOffset) {
      const found = await log.snapshot();
      if (found === undefined) {
        throw new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `the metadata log starts at ${log.startOffset} but holds no snapshot`);
      }
      return { kind: 'snapshot', startOffset: log.startOffset, committedOffset: log.committedOffset, offset: found.offset, snapshot: found.snapshot };
    }
    if (fromOffset > log.committedOffset + 1) {
      throw new StreamBusError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `metadata offset ${fromOffset} is past the end of node ${this.nodeId}'s committed log (next offset ${log.committedOffset + 1})`,
      );
    }
    const count = Math.min(Math.max(1, Number.isSafeInteger(maxRecords) ? maxRecords : 1), MAX_READ_RECORDS);
    const records = await log.read(fromOffset, count);
    return { kind: 'records', startOffset: log.startOffset, committedOffset: log.committedOffset, records };
  }

  /** Resolves at the next commit (or snapshot install), after `ms`, on abort, or on close. */
  #nextCommit(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', done);
        this.#polls.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const unsubscribe = this.log.onCommit(done);
      signal?.addEventListener('abort', done, { once: true });
      this.#polls.add(done);
    });
  }

  /** Describes topic configs from the applied state. */
  describeConfigs(names: readonly string[]): Promise<AdminOutcome<DescribeConfigsResult>> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return Promise.resolve({ results: controller.describeConfigs(this.state, names), metadataOffset: this.log.committedOffset });
  }

  // ---------------------------------------------------------------------------------------------
  // Writes: the leader

  /** Creates topics; one result per requested topic, in request order. */
  createTopics(topics: readonly CreateTopicRequest[], options: CreateTopicsOptions = {}): Promise<AdminOutcome<CreateTopicResult>> {
    return this.#topicWrite('created topics', options.signal, (state) =>
      controller.createTopics(state, topics, {
        defaults: options.defaults ?? this.#defaults,
        brokers: controller.placementBrokers(state),
        random: this.#random,
        ...(options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
        ...this.#limits(),
      }),
    );
  }

  /** Deletes topics by name; UNKNOWN_TOPIC_OR_PARTITION for names that do not exist. */
  deleteTopics(names: readonly string[], options: AdminOptions = {}): Promise<AdminOutcome<TopicResult>> {
    return this.#topicWrite('deleted topics', options.signal, (state) => controller.deleteTopics(state, names));
  }

  /** Incrementally sets and deletes topic config overrides. */
  alterConfigs(requests: readonly AlterConfigsRequest[], options: ValidateOnlyOptions = {}): Promise<AdminOutcome<TopicResult>> {
    return this.#topicWrite('altered topic configs', options.signal, (state) =>
      controller.alterConfigs(state, requests, options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
    );
  }

  /** Grows topics to new partition counts. */
  createPartitions(requests: readonly CreatePartitionsRequest[], options: ValidateOnlyOptions = {}): Promise<AdminOutcome<TopicResult>> {
    return this.#topicWrite('created partitions', options.signal, (state) =>
      controller.createPartitions(state, requests, {
        brokers: controller.placementBrokers(state),
        random: this.#random,
        ...(options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
        ...this.#limits(),
      }),
    );
  }

  /**
   * Registers (or re-registers) a broker; its broker epoch is the offset of its registration.
   * INVALID_REQUEST for a malformed registration. The same incarnation registering again with the
   * same details keeps its epoch.
   */
  registerBroker(request: BrokerRegistrationRequest, options: AdminOptions = {}): Promise<BrokerRegistrationOutcome> {
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

  /**
   * Takes a broker's heartbeat: renews its session and, when its fencing changes, appends the
   * fence-broker or unfence-broker command and resolves once it is applied. Rejects with
   * BROKER_ID_NOT_REGISTERED (register first), STALE_BROKER_EPOCH (register again),
   * INVALID_REQUEST (malformed), NOT_CONTROLLER on a node that does not lead.
   */
  brokerHeartbeat(request: BrokerHeartbeatRequest | controller.BrokerHeartbeatRequest, options: AdminOptions = {}): Promise<BrokerHeartbeatOutcome> {
    // The session counts from arrival: a broker that spoke in time is alive even if its heartbeat
    // waited behind the leader's catch-up, and an expiry check that runs first must see that.
    const receivedMs = this.#nowMs();
    if (this.leading) this.#sessions.renew(request.nodeId, request.brokerEpoch, receivedMs);
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

  /**
   * Fences every unfenced broker whose session expired, now; returns their node ids. The session
   * timer calls this every quarter of the session timeout while this node leads; tests call it.
   */
  fenceExpiredBrokers(options: AdminOptions = {}): Promise<number[]> {
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

  /**
   * Adds or removes one voter; resolves with the voters once the change is applied here. An add
   * first records the node's addresses in the log (so every member can reach it), then adds it.
   * INVALID_REQUEST for a bad node id or address, a node already in (or not in) the voter set, or
   * a change while another is in progress.
   */
  async changeMembership(change: MembershipChangeRequest, options: AdminOptions = {}): Promise<{ readonly voters: readonly number[] }> {
    const nodeId = checkNodeId(change.nodeId);
    if (change.op === 'add') {
      await this.#submit(options.signal, (state) => {
        if (this.#host.status().voters.includes(nodeId)) {
          throw new StreamBusError(ErrorCode.INVALID_REQUEST, `coordinator node ${nodeId} is already a voter`);
        }
        const api = change.api ?? state.coordinator(nodeId)?.api ?? null;
        const command = coordinatorRecord(state, nodeId, change.raft, api);
        return write(command === null ? [] : [command], () => undefined);
      });
    } else if (change.op !== 'remove') {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `membership change op must be "add" or "remove", got ${JSON.stringify((change as { op: unknown }).op)}`);
    }
    const type = change.op === 'add' ? 'add-voter' : 'remove-voter';
    const voters = await this.#submit(options.signal, () => ({
      kind: 'membership',
      change: { type, nodeId },
      answer: () => this.#host.status().voters,
    }));
    this.#logger.info({ op: change.op, nodeId, voters }, 'changed coordinator membership');
    return { voters };
  }

  /** Hands leadership to voter `toNodeId`; resolves once it leads. NOT_CONTROLLER on a non-leader. */
  async transferLeadership(toNodeId: number, options: AdminOptions = {}): Promise<{ readonly leaderId: number; readonly term: number }> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const to = checkNodeId(toNodeId);
    await this.#host.transferLeadership(to, options.signal === undefined ? {} : { signal: options.signal });
    return { leaderId: to, term: this.#host.status().term };
  }

  /**
   * Stops serving: writes not yet proposed fail with SHUTTING_DOWN, long polls answer, timers stop.
   * Does not close the host or the log (their owner does, after this). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new StreamBusError(ErrorCode.SHUTTING_DOWN, `coordinator node ${this.nodeId} is shutting down`);
      this.#writes.close(closed);
      this.#stopSessions();
      for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
      this.#wakeLeaderWaiters();
      for (const wake of [...this.#polls]) wake();
      this.#writeLog.flush();
      await Promise.resolve();
      this.#logger.info({ nodeId: this.nodeId, metadataOffset: this.log.committedOffset }, 'coordinator closed');
    })();
    return this.#closing;
  }

  // ---------------------------------------------------------------------------------------------
  // Leadership

  #onLeaderChange(leaderId: number, term: number): void {
    if (this.#refusal() !== undefined) return;
    if (leaderId === this.nodeId) {
      if (this.#writes.lead(term)) {
        this.#logger.info({ nodeId: this.nodeId, term }, 'leading the coordinator group; catching up before accepting writes');
        void this.#prepare(term);
      }
    } else {
      this.#writes.stepDown(this.#notLeader());
      this.#stopSessions();
    }
    this.#refreshPeers();
  }

  /** Catches up as leader of `term` (a read barrier), then accepts writes and bootstraps. */
  async #prepare(term: number): Promise<void> {
    while (this.#stillLeads(term)) {
      try {
        await this.#host.readBarrier();
        break;
      } catch (error) {
        if (!this.#stillLeads(term)) return;
        this.#logger.warn({ err: error, term }, 'the new leader\'s read barrier failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, BARRIER_RETRY_MS));
      }
    }
    if (!this.#stillLeads(term)) return;
    const state = this.log.state;
    if (state.clusterId !== null && state.clusterId !== this.clusterId) {
      this.fail(
        new StreamBusError(
          ErrorCode.INCONSISTENT_CLUSTER_ID,
          `the metadata log belongs to cluster ${state.clusterId}, but this node is configured for cluster ${this.clusterId}`,
        ),
      );
      return;
    }
    this.#sessions.reset(state, this.#nowMs());
    this.#writes.ready(term);
    this.#startSessions();
    this.#logger.info({ nodeId: this.nodeId, term, metadataOffset: state.lastAppliedOffset }, 'coordinator leader ready: accepting writes');
    // Proposed before any write that waited for readiness runs (those resume in microtasks).
    this.#initCluster();
    this.#recordSelf();
    this.#wakeLeaderWaiters();
  }

  #stillLeads(term: number): boolean {
    if (this.#refusal() !== undefined) return false;
    const status = this.#host.status();
    return !status.failed && status.role === 'leader' && status.term === term;
  }

  #initCluster(): void {
    const clusterId = this.clusterId;
    this.#background('initialize the cluster', (state) =>
      write(state.clusterId === null ? [{ type: MetadataCommandType.INIT_CLUSTER, clusterId }] : [], () => {
        this.#logger.info({ clusterId }, 'initialized a new cluster');
      }),
    );
  }

  #recordSelf(): void {
    this.#background('record this node\'s addresses', (state) => {
      const command = coordinatorRecord(state, this.nodeId, this.#raft, this.#api ?? state.coordinator(this.nodeId)?.api ?? null);
      return write(command === null ? [] : [command], () => undefined);
    });
  }

  /** A write of the coordinator's own; a failure is logged (the next leader tries again). */
  #background(what: string, decide: (state: MetadataStateView) => WriteStep<void>): void {
    this.#writes.submit(undefined, decide).catch((error: unknown) => {
      if (this.#refusal() === undefined) this.#logger.warn({ err: error }, `could not ${what}; the next leader will`);
    });
  }

  #startSessions(): void {
    this.#stopSessions();
    const everyMs = Math.max(1, Math.floor(this.#sessions.sessionTimeoutMs / 4));
    this.#sessionTimer = setInterval(() => this.#onSessionTimer(), everyMs);
    this.#sessionTimer.unref();
  }

  #stopSessions(): void {
    if (this.#sessionTimer !== undefined) clearInterval(this.#sessionTimer);
    this.#sessionTimer = undefined;
  }

  #onSessionTimer(): void {
    if (this.#checkingSessions || !this.leading) return;
    this.#checkingSessions = true;
    this.fenceExpiredBrokers()
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'broker session check failed; retrying at the next check'))
      .finally(() => {
        this.#checkingSessions = false;
      });
  }

  #wakeLeaderWaiters(): void {
    for (const wake of [...this.#leaderWaiters]) wake();
    this.#leaderWaiters.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // Peers and addresses

  #refreshPeersSoon(): void {
    if (this.#peersDue) return;
    this.#peersDue = true;
    queueMicrotask(() => {
      this.#peersDue = false;
      if (this.#closing === undefined) this.#refreshPeers();
    });
  }

  #refreshPeers(): void {
    const peers = raftPeers(this.nodeId, this.#configuredVoters, this.#host.status().voters, this.log.state);
    if (samePeers(peers, this.#peers)) return;
    this.#peers = peers;
    this.#host.setPeers(peers);
    this.#logger.info({ nodeId: this.nodeId, peers: [...peers].map(([id, e]) => `${id}@${e.host}:${e.port}`) }, 'raft peers set');
  }

  #raftAddressOf(id: number): Endpoint | undefined {
    if (id === this.nodeId) return this.#raft;
    return this.log.state.coordinator(id)?.raft ?? this.#configuredVoters.get(id);
  }

  #apiAddressOf(id: number): Endpoint | undefined {
    if (id === this.nodeId && this.#api !== undefined) return this.#api;
    return this.log.state.coordinator(id)?.api ?? undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  #topicWrite<R extends TopicResult>(
    what: string,
    signal: AbortSignal | undefined,
    decide: (state: MetadataStateView) => controller.ControllerOutcome<R>,
  ): Promise<AdminOutcome<R>> {
    return this.#submit(signal, (state) => {
      const outcome = decide(state);
      if (outcome.commands.length === 0) return read((metadataOffset) => ({ results: outcome.results, metadataOffset }));
      return write(outcome.commands, (offsets) => {
        const metadataOffset = offsets.at(-1) ?? -1;
        const names = outcome.results.filter((r) => r.errorCode === ErrorCode.NONE).map((r) => r.name);
        this.#writeLog.record(what, names, metadataOffset);
        return { results: outcome.results, metadataOffset };
      });
    });
  }

  #submit<T>(signal: AbortSignal | undefined, decide: (state: MetadataStateView) => WriteStep<T>): Promise<T> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return this.#writes.submit(signal, decide);
  }

  #limits(): { maxPartitionsPerTopic?: number } {
    return this.#maxPartitionsPerTopic === undefined ? {} : { maxPartitionsPerTopic: this.#maxPartitionsPerTopic };
  }

  #notLeader(): StreamBusError {
    const leaderId = this.#host.leaderId;
    const known = leaderId !== NO_NODE && leaderId !== this.nodeId;
    const context: StreamBusErrorContext | undefined = known ? { leaderId } : undefined;
    const where = known ? `node ${leaderId} leads` : leaderId === this.nodeId ? 'it is still catching up as the new leader' : 'no leader is known right now';
    return new StreamBusError(ErrorCode.NOT_CONTROLLER, `coordinator node ${this.nodeId} does not take writes: ${where}`, context === undefined ? undefined : { context });
  }

  #refusal(): StreamBusError | undefined {
    if (this.#failure !== undefined) return this.#failure;
    if (this.#closing !== undefined) return new StreamBusError(ErrorCode.SHUTTING_DOWN, `coordinator node ${this.nodeId} is shutting down`);
    return undefined;
  }
}

function checkNodeId(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 2 ** 31 - 1) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `a coordinator node id must be a whole number in 1..2147483647, got ${JSON.stringify(value)}`);
  }
  return value;
}
