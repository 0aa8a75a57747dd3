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
 * while it leads, by a timer checking every quarter of the session timeout, or a short grace after
 * the connection carrying a broker's heartbeats closes.
 *
 * The controller (partition-ops.ts, metadata/leader-election.ts): every fencing, unfencing and
 * re-registration carries the leader and ISR changes it causes in the same entry; partition leaders
 * commit ISR changes with AlterPartition (a compare-and-set on the partition epoch); operators run
 * preferred or unclean elections (ElectLeaders); and the leader moves leaderships back to
 * preferred replicas every leader.imbalance.check.interval.seconds.
 *
 * The operations live beside this file, one idea each: topic admin (topic-admin.ts), broker
 * sessions (broker-session-ops.ts), partitions (partition-ops.ts), membership, status and peers
 * (coordinator-membership.ts) and follower metadata reads (metadata-fetch.ts); this class wires
 * them and runs leadership.
 *
 * Peers. The Raft transport's peers are the founding voters from the configuration plus every
 * current voter the log has an address for (metadata/coordinator-endpoints.ts). They are worked
 * out again after each batch of applied records, on leader changes and right after a membership
 * change enters the leader's log, so a node added later is reached without editing any config.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ErrorCode, StreamBusError, type StreamBusErrorContext } from '../proto/errors.js';
import { abortReason } from './metadata/abort.js';
import { DEFAULT_BROKER_SESSION_TIMEOUT_MS } from './metadata/broker-sessions.js';
import { MetadataCommandType } from './metadata/commands.js';
import type * as controller from './metadata/controller.js';
import type {
  AlterConfigsRequest,
  BrokerRegistrationRequest,
  CreatePartitionsRequest,
  CreateTopicRequest,
  CreateTopicResult,
  DescribeConfigsResult,
  TopicResult,
} from './metadata/controller.js';
import { coordinatorRecord } from './metadata/coordinator-endpoints.js';
import type { ElectLeadersRequest, ElectionResult } from './metadata/leader-election.js';
import type { AlterPartitionRequest, AlterPartitionResult } from './metadata/partition-change.js';
import type { BrokerMaintenanceRequest } from './metadata/maintenance.js';
import type { OngoingReassignment, ReassignmentListRequest, ReassignmentRequest, ReassignmentResult } from './metadata/reassignment.js';
import type { MetadataStateView } from './metadata/state.js';
import { type Logger, silentLogger } from './logger.js';
import type { RaftMetadataLog } from './metadata-log/raft-metadata-log.js';
import { NO_NODE } from './raft/index.js';
import type { RaftHost } from './raft/host/index.js';
import type {
  BrokerHeartbeatOutcome,
  BrokerHeartbeatRequest,
  CoordinatorApi,
  CoordinatorNodeStatus,
  Endpoint,
  MembershipChangeRequest,
  MetadataFetchResult,
} from './service/coordinator-api.js';
import { BrokerSessionOps } from './broker-session-ops.js';
import { CoordinatorMembership } from './coordinator-membership.js';
import {
  type AdminOptions,
  type AdminOutcome,
  type BrokerRegistrationOutcome,
  type CoordinatorOptions,
  type CreateTopicsOptions,
  type HeartbeatOptions,
  type ValidateOnlyOptions,
  DEFAULT_DISCONNECT_FENCE_MS,
  DEFAULT_FETCH_MAX_WAIT_MS,
  DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS,
  DEFAULT_MAX_PENDING_WRITES,
  checkOptions,
} from './coordinator-options.js';
import { write } from './coordinator-steps.js';
import { GroupCoordinator, groupCoordinatorSettings } from './groups/group-coordinator.js';
import { nativeMarkerSender } from './transactions/marker-sender.js';
import { TransactionCoordinator, transactionSettings } from './transactions/txn-coordinator.js';
import { MetadataFetcher } from './metadata-fetch.js';
import { type BrokerMaintenanceResult, PartitionOps } from './partition-ops.js';
import { TopicAdmin } from './topic-admin.js';
import { WriteLog } from './write-log.js';
import { type WriteStep, WritePipeline } from './write-pipeline.js';

export type {
  AdminOptions,
  AdminOutcome,
  BrokerHeartbeatResult,
  BrokerRegistrationOutcome,
  ControllerSettings,
  CoordinatorOptions,
  CreateTopicsOptions,
  HeartbeatOptions,
  ValidateOnlyOptions,
} from './coordinator-options.js';

/** Pause before a new leader tries its read barrier again (it failed while this node still leads). */
const BARRIER_RETRY_MS = 50;

export class Coordinator implements CoordinatorApi {
  readonly nodeId: number;
  readonly clusterId: string;
  /** The metadata log: brokers in this process follow it (read from an offset, then onCommit). */
  readonly log: RaftMetadataLog;
  readonly #host: RaftHost;
  readonly #logger: Logger;
  readonly #writes: WritePipeline;
  /** The info lines of topic admin writes, one per kind per event-loop turn (write-log.ts). */
  readonly #writeLog: WriteLog;
  readonly #topics: TopicAdmin;
  readonly #sessions: BrokerSessionOps;
  readonly #partitions: PartitionOps;
  readonly #membership: CoordinatorMembership;
  readonly #fetcher: MetadataFetcher;
  /** Consumer groups and offsets, served while this node leads (groups/group-coordinator.ts). */
  readonly groups: GroupCoordinator;
  /** Producer ids and transactions, served while this node leads (transactions/txn-coordinator.ts). */
  readonly transactions: TransactionCoordinator;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #leaderWaiters = new Set<() => void>();
  #closing: Promise<void> | undefined;
  #failure: StreamBusError | undefined;

  private constructor(options: CoordinatorOptions) {
    this.nodeId = options.nodeId;
    this.clusterId = options.clusterId;
    this.log = options.log;
    this.#host = options.host;
    this.#logger = options.logger ?? silentLogger;
    const submit = <T>(signal: AbortSignal | undefined, decide: (state: MetadataStateView) => WriteStep<T>): Promise<T> => this.#submit(signal, decide);
    const refusal = (): StreamBusError | undefined => this.#refusal();
    const election = { uncleanLeaderElectionDefault: options.controller?.uncleanLeaderElectionEnable ?? false };
    this.#sessions = new BrokerSessionOps({
      sessionTimeoutMs: options.sessionTimeoutMs ?? DEFAULT_BROKER_SESSION_TIMEOUT_MS,
      disconnectFenceMs: options.controller?.disconnectFenceMs ?? DEFAULT_DISCONNECT_FENCE_MS,
      election,
      nowMs: options.nowMs ?? (() => performance.now()),
      logger: this.#logger,
      submit,
      leading: () => this.leading,
    });
    this.#partitions = new PartitionOps({
      election,
      autoLeaderRebalance: options.controller?.autoLeaderRebalanceEnable ?? true,
      leaderImbalanceCheckIntervalMs: options.controller?.leaderImbalanceCheckIntervalMs ?? DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS,
      logger: this.#logger,
      submit,
      leading: () => this.leading,
    });
    this.#fetcher = new MetadataFetcher({
      nodeId: options.nodeId,
      log: options.log,
      fetchMaxWaitMs: options.fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS,
      refusal,
    });
    this.#writeLog = new WriteLog(this.#logger);
    this.#topics = new TopicAdmin({
      log: options.log,
      defaults: options.defaults,
      random: options.random ?? ((length) => new Uint8Array(randomBytes(length))),
      maxPartitionsPerTopic: options.maxPartitionsPerTopic,
      writeLog: this.#writeLog,
      submit,
      refusal,
    });
    this.#membership = new CoordinatorMembership({
      nodeId: options.nodeId,
      clusterId: options.clusterId,
      host: options.host,
      log: options.log,
      raft: options.raft,
      api: options.api,
      configuredVoters: options.voters,
      logger: this.#logger,
      submit,
      refusal,
      closing: () => this.#closing !== undefined,
    });
    this.groups = new GroupCoordinator({
      settings: groupCoordinatorSettings(options.groups),
      nowMs: options.nowMs ?? (() => performance.now()),
      wallMs: () => Date.now(),
      newMemberId: (clientId) => `${clientId.slice(0, 200)}-${randomUUID()}`,
      logger: this.#logger,
      submit,
      state: () => this.log.state,
      phase: () => (this.leading ? 'ready' : this.#refusal() === undefined && this.#host.leaderId === this.nodeId ? 'loading' : 'follower'),
      notCoordinator: () => this.#notCoordinator(),
      schedule: (run) => setImmediate(run),
    });
    const groupSettings = groupCoordinatorSettings(options.groups);
    this.transactions = new TransactionCoordinator({
      settings: transactionSettings(options.transactions),
      wallMs: () => Date.now(),
      logger: this.#logger,
      submit,
      state: () => this.log.state,
      phase: () => (this.leading ? 'ready' : this.#refusal() === undefined && this.#host.leaderId === this.nodeId ? 'loading' : 'follower'),
      notCoordinator: () => {
        const refused = this.#notCoordinator();
        return new StreamBusError(refused.code, refused.message.replace('group coordinator', 'transaction coordinator'), { context: refused.context });
      },
      term: () => this.#writes.readyTerm ?? this.#host.status().term,
      sender: options.txnMarkerSender ?? nativeMarkerSender(),
      checkGroupMember: (groupId, who) => this.groups.checkTxnCommit(groupId, who),
      offsetMetadataMaxBytes: groupSettings.offsetMetadataMaxBytes,
    });
    this.#writes = new WritePipeline({
      log: options.log,
      host: options.host,
      notLeader: () => this.#notLeader(),
      onMembershipAppended: () => this.#membership.refreshPeers(),
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
          this.#membership.refreshPeersSoon();
        }
      }),
    );
    this.#membership.refreshPeers();
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
    this.#membership.api = { host: api.host, port: api.port };
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
    this.#sessions.stop();
    this.#partitions.stop();
    this.groups.stop();
    this.transactions.stop(error);
    this.#wakeLeaderWaiters();
  }

  // ---------------------------------------------------------------------------------------------
  // Reads: every node answers them

  status(): CoordinatorNodeStatus {
    return this.#membership.status();
  }

  /**
   * Committed records from `fromOffset`, or the snapshot when that offset was compacted away; a
   * fetch from committedOffset + 1 waits up to maxWaitMs for a commit (long poll) and then answers
   * with none. Rejects OFFSET_OUT_OF_RANGE past committedOffset + 1 (or for a negative offset).
   */
  fetchMetadata(fromOffset: number, maxRecords: number, maxWaitMs: number, options: AdminOptions = {}): Promise<MetadataFetchResult> {
    return this.#fetcher.fetchMetadata(fromOffset, maxRecords, maxWaitMs, options);
  }

  /** Describes topic configs from the applied state. */
  describeConfigs(names: readonly string[]): Promise<AdminOutcome<DescribeConfigsResult>> {
    return this.#topics.describeConfigs(names);
  }

  // ---------------------------------------------------------------------------------------------
  // Writes: the leader

  /** Creates topics; one result per requested topic, in request order. */
  createTopics(topics: readonly CreateTopicRequest[], options: CreateTopicsOptions = {}): Promise<AdminOutcome<CreateTopicResult>> {
    return this.#topics.createTopics(topics, options);
  }

  /** Deletes topics by name; UNKNOWN_TOPIC_OR_PARTITION for names that do not exist. */
  deleteTopics(names: readonly string[], options: AdminOptions = {}): Promise<AdminOutcome<TopicResult>> {
    return this.#topics.deleteTopics(names, options);
  }

  /** Incrementally sets and deletes topic config overrides. */
  alterConfigs(requests: readonly AlterConfigsRequest[], options: ValidateOnlyOptions = {}): Promise<AdminOutcome<TopicResult>> {
    return this.#topics.alterConfigs(requests, options);
  }

  /** Grows topics to new partition counts. */
  createPartitions(requests: readonly CreatePartitionsRequest[], options: ValidateOnlyOptions = {}): Promise<AdminOutcome<TopicResult>> {
    return this.#topics.createPartitions(requests, options);
  }

  /**
   * Registers (or re-registers) a broker; its broker epoch is the offset of its registration.
   * INVALID_REQUEST for a malformed registration. The same incarnation registering again with the
   * same details keeps its epoch.
   */
  registerBroker(request: BrokerRegistrationRequest, options: AdminOptions = {}): Promise<BrokerRegistrationOutcome> {
    return this.#sessions.registerBroker(request, options);
  }

  /**
   * Takes a broker's heartbeat: renews its session and, when its fencing changes, appends the
   * fence-broker or unfence-broker command and resolves once it is applied. Rejects with
   * BROKER_ID_NOT_REGISTERED (register first), STALE_BROKER_EPOCH (register again),
   * INVALID_REQUEST (malformed), NOT_CONTROLLER on a node that does not lead.
   */
  brokerHeartbeat(request: BrokerHeartbeatRequest | controller.BrokerHeartbeatRequest, options: HeartbeatOptions = {}): Promise<BrokerHeartbeatOutcome> {
    return this.#sessions.brokerHeartbeat(request, options);
  }

  /**
   * Fences broker `nodeId` now if connection `connectionId` still carries its heartbeats (none
   * came on another since); resolves with whether it did. The grace timer after a closed
   * connection calls this; tests call it.
   */
  fenceDisconnectedBroker(nodeId: number, connectionId: number, options: AdminOptions = {}): Promise<boolean> {
    return this.#sessions.fenceDisconnectedBroker(nodeId, connectionId, options);
  }

  /**
   * Commits ISR changes a partition leader asks for (Kafka's AlterPartition, a compare-and-set on
   * the leader and partition epochs); one result per partition. INVALID_REQUEST for a malformed
   * request, NOT_CONTROLLER on a node that does not lead.
   */
  alterPartition(request: AlterPartitionRequest, options: AdminOptions = {}): Promise<AdminOutcome<AlterPartitionResult>> {
    return this.#partitions.alterPartition(request, options);
  }

  /** Runs a preferred or unclean leader election (Kafka's ElectLeaders); one result per partition. */
  electLeaders(request: ElectLeadersRequest, options: AdminOptions = {}): Promise<AdminOutcome<ElectionResult>> {
    return this.#partitions.electLeaders(request, options);
  }

  /**
   * Starts, replaces or cancels partition reassignments (Kafka's AlterPartitionReassignments);
   * one result per partition (metadata/reassignment.ts). INVALID_REQUEST for a malformed request.
   */
  alterPartitionReassignments(requests: readonly ReassignmentRequest[], options: AdminOptions = {}): Promise<AdminOutcome<ReassignmentResult>> {
    return this.#partitions.alterPartitionReassignments(requests, options);
  }

  /** The reassignments in progress (Kafka's ListPartitionReassignments), as the leader has them. */
  listPartitionReassignments(request: ReassignmentListRequest, options: AdminOptions = {}): Promise<{ readonly reassignments: OngoingReassignment[]; readonly metadataOffset: number }> {
    return this.#partitions.listPartitionReassignments(request, options);
  }

  /** Drains a broker's leaderships and keeps it out of elections and placements, or ends that (metadata/maintenance.ts). */
  brokerMaintenance(request: BrokerMaintenanceRequest, options: AdminOptions = {}): Promise<BrokerMaintenanceResult> {
    return this.#partitions.brokerMaintenance(request, options);
  }

  /**
   * Moves leadership back to each partition's preferred replica where it is in the ISR and live;
   * resolves with how many partitions moved. The rebalance timer calls this; tests call it.
   */
  rebalanceLeaders(options: AdminOptions = {}): Promise<number> {
    return this.#partitions.rebalanceLeaders(options);
  }

  /**
   * Fences every unfenced broker whose session expired, now; returns their node ids. The session
   * timer calls this every quarter of the session timeout while this node leads; tests call it.
   */
  fenceExpiredBrokers(options: AdminOptions = {}): Promise<number[]> {
    return this.#sessions.fenceExpiredBrokers(options);
  }

  /**
   * Adds or removes one voter; resolves with the voters once the change is applied here. An add
   * first records the node's addresses in the log (so every member can reach it), then adds it.
   * INVALID_REQUEST for a bad node id or address, a node already in (or not in) the voter set, or
   * a change while another is in progress.
   */
  changeMembership(change: MembershipChangeRequest, options: AdminOptions = {}): Promise<{ readonly voters: readonly number[] }> {
    return this.#membership.changeMembership(change, options);
  }

  /** Hands leadership to voter `toNodeId`; resolves once it leads. NOT_CONTROLLER on a non-leader. */
  transferLeadership(toNodeId: number, options: AdminOptions = {}): Promise<{ readonly leaderId: number; readonly term: number }> {
    return this.#membership.transferLeadership(toNodeId, options);
  }

  /**
   * Runs a metadata write of a part that keeps its own commands in the log (the schema registry):
   * `decide` sees the leader's speculative state and returns what to append, in one synchronous
   * step; resolves once the entry is applied here. NOT_CONTROLLER (naming the leader when known) on
   * a node that does not lead; `decide`'s own error as thrown.
   */
  submitWrite<T>(signal: AbortSignal | undefined, decide: (state: MetadataStateView) => WriteStep<T>): Promise<T> {
    return this.#submit(signal, decide);
  }

  /**
   * Stops serving: writes not yet proposed fail with SHUTTING_DOWN, long polls answer, timers stop.
   * Does not close the host or the log (their owner does, after this). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new StreamBusError(ErrorCode.SHUTTING_DOWN, `coordinator node ${this.nodeId} is shutting down`);
      this.#writes.close(closed);
      this.#sessions.stop();
      this.#partitions.stop();
      this.groups.stop();
      await this.transactions.close();
      for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
      this.#wakeLeaderWaiters();
      this.#fetcher.wakeAll();
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
      this.#sessions.stop();
      this.#partitions.stop();
      this.groups.stop();
      this.transactions.stop();
    }
    this.#membership.refreshPeers();
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
    this.#sessions.reset(state);
    this.groups.reset(state);
    this.transactions.reset();
    this.#writes.ready(term);
    this.#sessions.start();
    this.#partitions.start();
    this.groups.start();
    this.transactions.start();
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
      const command = coordinatorRecord(state, this.nodeId, this.#membership.raft, this.#membership.api ?? state.coordinator(this.nodeId)?.api ?? null);
      return write(command === null ? [] : [command], () => undefined);
    });
  }

  /** A write of the coordinator's own; a failure is logged (the next leader tries again). */
  #background(what: string, decide: (state: MetadataStateView) => WriteStep<void>): void {
    this.#writes.submit(undefined, decide).catch((error: unknown) => {
      if (this.#refusal() === undefined) this.#logger.warn({ err: error }, `could not ${what}; the next leader will`);
    });
  }

  #wakeLeaderWaiters(): void {
    for (const wake of [...this.#leaderWaiters]) wake();
    this.#leaderWaiters.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  #submit<T>(signal: AbortSignal | undefined, decide: (state: MetadataStateView) => WriteStep<T>): Promise<T> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return this.#writes.submit(signal, decide);
  }

  #notLeader(): StreamBusError {
    const leaderId = this.#host.leaderId;
    const known = leaderId !== NO_NODE && leaderId !== this.nodeId;
    const context: StreamBusErrorContext | undefined = known ? { leaderId } : undefined;
    const where = known ? `node ${leaderId} leads` : leaderId === this.nodeId ? 'it is still catching up as the new leader' : 'no leader is known right now';
    return new StreamBusError(ErrorCode.NOT_CONTROLLER, `coordinator node ${this.nodeId} does not take writes: ${where}`, context === undefined ? undefined : { context });
  }

  /** A group call on a node that does not lead: Kafka's NOT_COORDINATOR, naming the leader when known. */
  #notCoordinator(): StreamBusError {
    const notLeader = this.#notLeader();
    return new StreamBusError(ErrorCode.NOT_COORDINATOR, notLeader.message.replace('does not take writes', 'is not the group coordinator'), { context: notLeader.context });
  }

  #refusal(): StreamBusError | undefined {
    if (this.#failure !== undefined) return this.#failure;
    if (this.#closing !== undefined) return new StreamBusError(ErrorCode.SHUTTING_DOWN, `coordinator node ${this.nodeId} is shutting down`);
    return undefined;
  }
}
