/**
 * The client of the coordinator group (the Raft group that owns cluster metadata): its status,
 * topic administration, the broker calls (registration, heartbeat), membership changes,
 * leadership transfer, and a follower of the committed metadata log.
 *
 * ```ts
 * const coordinators = new CoordinatorClient({ bootstrap: ['127.0.0.1:9094', '127.0.0.2:9094'] });
 * const status = await coordinators.clusterStatus();          // the leader's view, members with lag
 * await coordinators.alterConfigs([{ topic: 'orders', set: { 'retention.ms': '3600000' } }]);
 * for await (const update of coordinators.followMetadata(0, { signal })) console.log(update);
 * await coordinators.close();
 * ```
 *
 * Finding the leader. Writes must reach the Raft leader; any node answers COORDINATOR_STATUS
 * with its role and, when it knows one, the leader's id and API address. The client asks every
 * known node at once (the bootstrap list plus the API addresses the group reports) and takes the
 * first that says it leads, or else goes where the answers point. The search is single-flight:
 * concurrent calls that need the leader share one. The leader found is used until a call fails in
 * a way that says it no longer leads (NOT_CONTROLLER, a dropped connection, a timeout).
 *
 * Retries. Every call runs until its deadline (timeoutMs, default requestTimeoutMs): a failed
 * attempt is sent again, to the leader found anew, after an exponential backoff with jitter, when
 * the request definitely was not applied, or when applying it twice is harmless (./retry-rules.ts
 * has the rules). Per call:
 *   - always retried (idempotent): status(), clusterStatus(), followMetadata()'s fetches (reads);
 *     alterConfigs() (setting or removing the same values again leaves the same state, though a
 *     retry may overwrite a change another client made in between); registerBroker() (the same
 *     incarnation registering again keeps its epoch); brokerHeartbeat(); transferLeadership() (a
 *     transfer to the node that already leads succeeds at once); alterPartition() (a compare-and-set:
 *     a change applied once makes its repeat fail with INVALID_UPDATE_VERSION, changing nothing);
 *     electLeaders() (a repeat finds ELECTION_NOT_NEEDED); reassignPartitions() (the target in
 *     progress, sent again, changes nothing; a repeated cancel finds NO_REASSIGNMENT_IN_PROGRESS);
 *     listPartitionReassignments() (a read); brokerMaintenance() (draining a drained broker again
 *     only moves leaderships it took since).
 *   - retried only when definitely not applied: createTopics(), deleteTopics(),
 *     createPartitions(), changeMembership(). When the outcome is unknown they reject with the
 *     failure's code (NETWORK_EXCEPTION, REQUEST_TIMED_OUT...) and a message saying that it may
 *     have been applied.
 * Topic calls are retried per topic: the coordinator reports a request-level failure (NOT_CONTROLLER,
 * REQUEST_TIMED_OUT...) in each topic's result, and only the topics that carry one are judged by the
 * rules above and sent again; a topic the leader already answered is not.
 *
 * Errors. Every operating error is a StreamBusError; topic calls that fail for some of their
 * topics reject with AdminError naming each. Bad arguments reject with INVALID_REQUEST before
 * anything is sent.
 */
import type { MetadataRecord } from '../../coordinator/index.js';
import type { ApiName, RequestOf, ResponseOf } from '../../proto/api.js';
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import type { ConfigChange, NewTopicSpec, PartitionIncrease } from '../admin/admin.js';
import type { ConnectFn } from '../cluster/cluster.js';
import { AdminError, type ItemFailure } from '../errors.js';
import { connect as defaultConnect } from '../network/connection.js';
import type { Connection } from '../network/types.js';
import type { Random } from '../policy/random.js';
import { decideRetry, resolveRetryOptions, type ResolvedRetryOptions } from '../policy/retry.js';
import { delay, raceSignal, throwIfAborted } from '../signal.js';
import { candidateEndpoints, formatEndpoint, sameEndpoint, toEndpoint } from './endpoints.js';
import { metadataUpdateFromWire, statusFromWire, throwIfError } from './from-wire.js';
import { FailureVerdict, isRequestLevel, judgeFailure, outcomeUnknown, shouldRediscover } from './retry-rules.js';
import { GroupCalls, type GroupTransport } from './group-calls.js';
import { TxnCalls } from './txn-calls.js';
import type {
  AlterPartitionOutcome,
  AlterPartitionSpec,
  BrokerMaintenanceOutcome,
  BrokerHeartbeatResult,
  BrokerHeartbeatSpec,
  BrokerRegistration,
  BrokerRegistrationSpec,
  CoordinatorCallOptions,
  CoordinatorClientLogger,
  CoordinatorClientOptions,
  CoordinatorStatus,
  CoordinatorValidateOptions,
  CreatedTopics,
  ElectLeadersOutcome,
  ElectLeadersSpec,
  Endpoint,
  FollowMetadataOptions,
  LeadershipTransfer,
  MembershipChange,
  MetadataUpdate,
  MetadataWrite,
  PartitionReassignmentSpec,
  PartitionReassignments,
  ReassignPartitionsOutcome,
} from './types.js';

const CLIENT_SOFTWARE = 'streambus-js';
/** Addresses probed at once while looking for the leader; Raft groups have 3, 5, at most 7 voters. */
const MAX_CANDIDATES = 16;
const DEFAULT_MAX_RECORDS = 1_000;
const DEFAULT_MAX_WAIT_MS = 5_000;
/** Beyond its long-poll wait, how long one metadata fetch may take before another node is asked. */
const FETCH_MARGIN_MS = 2_000;
const CONFIG_SET = 0;
const CONFIG_DELETE = 1;
const NO_NODE = 0;

const silentLogger: CoordinatorClientLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined };

interface ResolvedOptions {
  readonly clientId: string;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly probeTimeoutMs: number;
  readonly maxInFlightPerConnection: number;
  readonly retry: ResolvedRetryOptions;
  readonly logger: CoordinatorClientLogger;
  readonly random: Random;
  readonly connect: ConnectFn;
}

interface KnownLeader {
  readonly nodeId: number;
  readonly term: number;
  readonly api: Endpoint;
}

/** Where an attempt goes: the leader, a given node, any node in turn, or the leader when one is known. */
type Target = { readonly kind: 'leader' } | { readonly kind: 'node'; readonly endpoint: Endpoint } | { readonly kind: 'any' } | { readonly kind: 'reader' };

interface RunPlan {
  readonly operation: string;
  readonly idempotent: boolean;
  readonly target: Target;
  /** Caps one attempt (the whole call is capped by its deadline). */
  readonly attemptTimeoutMs?: number;
}

type Attempt<T> = (endpoint: Endpoint, timeoutMs: number) => Promise<T>;

export class CoordinatorClient {
  /** Consumer group calls (./group-calls.ts): the group protocol, offsets and group administration. */
  readonly groups: GroupCalls;
  /** Transaction calls (./txn-calls.ts): producer ids, the transaction protocol, transaction administration. */
  readonly transactions: TxnCalls;
  readonly #options: ResolvedOptions;
  readonly #bootstrap: readonly Endpoint[];
  /** API addresses of the group's members, from the newest status seen. */
  #learned: readonly Endpoint[] = [];
  #learnedTerm = -1;
  #leader: KnownLeader | undefined;
  #discovery: Promise<KnownLeader> | undefined;
  #anyIndex = 0;
  readonly #connections = new Map<string, Promise<Connection>>();
  /** Errors of requests that never left this process: safe to send again whatever the API. */
  readonly #unsent = new WeakSet<StreamBusError>();
  #closed = false;

  /**
   * Validates the options; connects lazily, on first use. Throws StreamBusError INVALID_REQUEST
   * for a missing or malformed address and INVALID_CONFIG for an out-of-range option.
   */
  constructor(options: CoordinatorClientOptions) {
    if (options === null || typeof options !== 'object' || !Array.isArray(options.bootstrap) || options.bootstrap.length === 0) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'CoordinatorClient needs { bootstrap: ["host:port", ...] } with at least one address');
    }
    this.#bootstrap = options.bootstrap.map(toEndpoint);
    const positive = (name: string, value: number | undefined, fallback: number): number => {
      const v = value ?? fallback;
      if (!Number.isFinite(v) || v <= 0) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a positive number, got ${String(value)}`);
      return v;
    };
    const maxInFlight = positive('maxInFlightPerConnection', options.maxInFlightPerConnection, 64);
    if (!Number.isInteger(maxInFlight)) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `maxInFlightPerConnection must be an integer, got ${maxInFlight}`);
    this.#options = {
      clientId: options.clientId ?? 'streambus-coordinator-client',
      requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 30_000),
      connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 5_000),
      probeTimeoutMs: positive('probeTimeoutMs', options.probeTimeoutMs, 1_000),
      maxInFlightPerConnection: maxInFlight,
      retry: resolveRetryOptions({
        backoffMs: positive('retryBackoffMs', options.retryBackoffMs, 50),
        backoffMaxMs: positive('retryBackoffMaxMs', options.retryBackoffMaxMs, 250),
      }),
      logger: options.logger ?? silentLogger,
      random: options.random ?? Math.random,
      connect: options.connect ?? defaultConnect,
    };
    const resolved = this.#options;
    const transport: GroupTransport = {
      request: (endpoint, api, body, timeoutMs, signal) => this.#request(endpoint, api, body, timeoutMs, signal),
      unsent: (error) => this.#unsent.has(error),
      candidates: () => candidateEndpoints([[this.#leader?.api], this.#learned, this.#bootstrap], MAX_CANDIDATES),
      requestTimeoutMs: resolved.requestTimeoutMs,
      probeTimeoutMs: resolved.probeTimeoutMs,
      retry: resolved.retry,
      random: resolved.random,
      logger: resolved.logger,
    };
    this.groups = new GroupCalls(transport);
    this.transactions = new TxnCalls(transport, this.groups);
  }

  /** The leader this client last found, if it still trusts it. */
  get knownLeader(): { readonly nodeId: number; readonly term: number; readonly api: Endpoint } | undefined {
    return this.#leader;
  }

  // ---- Status

  /**
   * One node's own view (role, term, indexes, the members it knows). Without `node`, the first
   * known node that answers. Member match, lag and activity are known only in a leader's view.
   */
  async status(node?: Endpoint | string, options: CoordinatorCallOptions = {}): Promise<CoordinatorStatus> {
    const target: Target = node === undefined ? { kind: 'any' } : { kind: 'node', endpoint: toEndpoint(node) };
    return this.#run({ operation: 'status', idempotent: true, target, attemptTimeoutMs: this.#options.probeTimeoutMs }, options, (endpoint, timeoutMs) =>
      this.#askStatus(endpoint, timeoutMs, options.signal),
    );
  }

  /**
   * The leader's view of the group: every member with its match index, lag and whether the leader
   * hears from it. Rejects (NOT_CONTROLLER) when no leader is found before the deadline.
   */
  async clusterStatus(options: CoordinatorCallOptions = {}): Promise<CoordinatorStatus> {
    return this.#run({ operation: 'clusterStatus', idempotent: true, target: { kind: 'leader' }, attemptTimeoutMs: this.#options.probeTimeoutMs }, options, async (endpoint, timeoutMs) => {
      const status = await this.#askStatus(endpoint, timeoutMs, options.signal);
      if (status.role !== 'leader') {
        throw new StreamBusError(ErrorCode.NOT_CONTROLLER, `node ${status.nodeId} at ${formatEndpoint(endpoint)} no longer leads`, { context: { broker: formatEndpoint(endpoint) } });
      }
      return status;
    });
  }

  // ---- Topic administration (leader only)

  /**
   * Creates topics. Resolves once the leader has committed the creation, with each topic's id and
   * the metadata offset from which followers see it. Rejects with AdminError naming each topic
   * that failed (TOPIC_ALREADY_EXISTS, INVALID_CONFIG...); the others were created.
   */
  async createTopics(topics: readonly NewTopicSpec[], options: CoordinatorValidateOptions = {}): Promise<CreatedTopics> {
    const wire = checkList(topics, 'createTopics', 'topics').map((spec): M.NewTopic => {
      const name = checkTopicName(spec?.topic);
      return {
        name,
        partitions: optionalCount(spec.partitions, 'partitions', name),
        replicationFactor: optionalCount(spec.replicationFactor, 'replicationFactor', name),
        configs: { ...(spec.configs ?? {}) },
      };
    });
    const validateOnly = options.validateOnly ?? false;
    const { results, metadataOffset } = await this.#topicWrite('createTopics', false, wire, options, (items, endpoint, timeoutMs) =>
      this.#request(endpoint, 'CREATE_TOPICS', { topics: [...items], timeoutMs, validateOnly }, timeoutMs, options.signal),
    );
    return { topics: wire.map((t) => ({ topic: t.name, topicId: results.get(t.name)?.topicId ?? '' })), metadataOffset };
  }

  /** Deletes topics. Rejects with AdminError naming each topic that failed (UNKNOWN_TOPIC_OR_PARTITION...). */
  async deleteTopics(names: readonly string[], options: CoordinatorCallOptions = {}): Promise<MetadataWrite> {
    const items = checkList(names, 'deleteTopics', 'names').map((name) => ({ name: checkTopicName(name) }));
    const { metadataOffset } = await this.#topicWrite('deleteTopics', false, items, options, (pending, endpoint, timeoutMs) =>
      this.#request(endpoint, 'DELETE_TOPICS', { names: pending.map((p) => p.name), timeoutMs }, timeoutMs, options.signal),
    );
    return { metadataOffset };
  }

  /** Sets and removes topic configs. Rejects with AdminError naming each topic that failed. */
  async alterConfigs(changes: readonly ConfigChange[], options: CoordinatorValidateOptions = {}): Promise<MetadataWrite> {
    const items = checkList(changes, 'alterConfigs', 'changes').map((change): M.AlterTopicConfigs => {
      const name = checkTopicName(change?.topic);
      const ops: M.ConfigOp[] = [];
      for (const [key, value] of Object.entries(change.set ?? {})) ops.push({ name: key, value, op: CONFIG_SET });
      for (const key of change.delete ?? []) ops.push({ name: key, op: CONFIG_DELETE });
      if (ops.length === 0) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `alterConfigs: no config to set or delete for topic "${name}"`, { context: { topic: name } });
      return { name, ops };
    });
    const validateOnly = options.validateOnly ?? false;
    const { metadataOffset } = await this.#topicWrite('alterConfigs', true, items, options, (pending, endpoint, timeoutMs) =>
      this.#request(endpoint, 'ALTER_CONFIGS', { topics: [...pending], validateOnly }, timeoutMs, options.signal),
    );
    return { metadataOffset };
  }

  /** Raises partition counts. Rejects with AdminError naming each topic that failed (INVALID_PARTITIONS...). */
  async createPartitions(increases: readonly PartitionIncrease[], options: CoordinatorValidateOptions = {}): Promise<MetadataWrite> {
    const items = checkList(increases, 'createPartitions', 'increases').map((increase): M.PartitionCount => {
      const name = checkTopicName(increase?.topic);
      return { name, count: requiredCount(increase.count, 'count', name) };
    });
    const validateOnly = options.validateOnly ?? false;
    const { metadataOffset } = await this.#topicWrite('createPartitions', false, items, options, (pending, endpoint, timeoutMs) =>
      this.#request(endpoint, 'CREATE_PARTITIONS', { topics: [...pending], timeoutMs, validateOnly }, timeoutMs, options.signal),
    );
    return { metadataOffset };
  }

  // ---- Brokers (leader only)

  /** Registers a broker process; resolves with its broker epoch once the registration is committed. */
  async registerBroker(spec: BrokerRegistrationSpec, options: CoordinatorCallOptions = {}): Promise<BrokerRegistration> {
    const body: M.BrokerRegistrationRequest = {
      nodeId: checkNodeId(spec?.nodeId, 'registerBroker'),
      incarnationId: checkText(spec.incarnationId, 'incarnationId'),
      clusterId: checkText(spec.clusterId, 'clusterId'),
      host: checkText(spec.host, 'host'),
      port: toEndpoint({ host: spec.host, port: spec.port }).port,
      rack: spec.rack ?? '',
      listeners: (spec.listeners ?? []).map((l) => ({ name: checkText(l.name, 'listener name'), ...toEndpoint({ host: l.host, port: l.port }) })),
    };
    return this.#run({ operation: 'registerBroker', idempotent: true, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'BROKER_REGISTRATION', body, timeoutMs, options.signal);
      throwIfError(response, endpoint);
      return { brokerEpoch: response.brokerEpoch, metadataOffset: response.metadataOffset };
    });
  }

  /** A broker's heartbeat: keeps its session, asks to be fenced or shut down. */
  async brokerHeartbeat(spec: BrokerHeartbeatSpec, options: CoordinatorCallOptions = {}): Promise<BrokerHeartbeatResult> {
    const body: M.BrokerHeartbeatRequest = {
      nodeId: checkNodeId(spec?.nodeId, 'brokerHeartbeat'),
      brokerEpoch: checkOffset(spec.brokerEpoch, 'brokerEpoch'),
      metadataOffset: checkOffset(spec.metadataOffset, 'metadataOffset', -1),
      wantFence: spec.wantFence ?? false,
      wantShutDown: spec.wantShutDown ?? false,
    };
    return this.#run({ operation: 'brokerHeartbeat', idempotent: true, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'BROKER_HEARTBEAT', body, timeoutMs, options.signal);
      throwIfError(response, endpoint);
      return { fenced: response.fenced, metadataOffset: response.metadataOffset };
    });
  }

  // ---- The controller (leader only)

  /**
   * A partition leader's ISR changes (AlterPartition): resolves with each partition's outcome
   * (errors per partition, not thrown) and the metadata offset from which followers see the
   * changes. Rejects with the request's failure (NOT_CONTROLLER past the deadline, INVALID_REQUEST).
   */
  async alterPartition(spec: AlterPartitionSpec, options: CoordinatorCallOptions = {}): Promise<AlterPartitionOutcome> {
    const body: M.AlterPartitionRequest = {
      brokerId: checkNodeId(spec?.brokerId, 'alterPartition'),
      brokerEpoch: checkOffset(spec.brokerEpoch, 'brokerEpoch'),
      partitions: checkList(spec.partitions, 'alterPartition', 'partitions').map((p) => ({
        topicId: checkText(p?.topicId, 'topicId'),
        partition: checkOffset(p.partition, 'partition'),
        leaderEpoch: checkOffset(p.leaderEpoch, 'leaderEpoch'),
        partitionEpoch: checkOffset(p.partitionEpoch, 'partitionEpoch'),
        newIsr: checkList(p.newIsr, 'alterPartition', 'newIsr').map((id) => checkNodeId(id, 'alterPartition')),
      })),
    };
    return this.#run({ operation: 'alterPartition', idempotent: true, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'ALTER_PARTITION', body, timeoutMs, options.signal);
      throwIfError(response, endpoint);
      return {
        metadataOffset: response.metadataOffset,
        partitions: response.partitions.map((p) => ({
          topicId: p.topicId,
          partition: p.partition,
          error: errorFromCode(p.errorCode, p.errorMessage, { partition: p.partition }),
          leader: p.leader,
          leaderEpoch: p.leaderEpoch,
          isr: p.isr,
          partitionEpoch: p.partitionEpoch,
        })),
      };
    });
  }

  /**
   * Runs a preferred or unclean leader election; resolves with each partition's outcome (errors
   * per partition, not thrown: ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE,
   * ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION). Without topics, every partition,
   * and the answer lists only those that needed an election.
   */
  async electLeaders(spec: ElectLeadersSpec, options: CoordinatorCallOptions = {}): Promise<ElectLeadersOutcome> {
    const type: unknown = spec?.type;
    if (type !== 'preferred' && type !== 'unclean') throw invalid(`electLeaders: type must be "preferred" or "unclean", got ${JSON.stringify(type)}`);
    const body: M.ElectLeadersRequest = {
      electionType: type === 'preferred' ? 0 : 1,
      topics: (spec.topics ?? []).map((t) => ({
        name: checkTopicName(t?.topic),
        partitions: (t.partitions ?? []).map((p) => checkOffset(p, 'partition')),
      })),
    };
    return this.#run({ operation: 'electLeaders', idempotent: true, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'ELECT_LEADERS', body, timeoutMs, options.signal);
      throwIfError(response, endpoint);
      return {
        metadataOffset: response.metadataOffset,
        results: response.results.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          error: errorFromCode(r.errorCode, r.errorMessage, { topic: r.topic, partition: r.partition }),
          leader: r.leader,
        })),
      };
    });
  }

  // ---- Operating a cluster: reassignments and maintenance (leader only)

  /**
   * Starts, replaces or cancels partition reassignments (Kafka's AlterPartitionReassignments):
   * resolves once the changes are applied, with each partition's outcome (errors per partition,
   * not thrown: INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION).
   * The data moves afterwards; listPartitionReassignments() shows what is still in progress.
   */
  async reassignPartitions(partitions: readonly PartitionReassignmentSpec[], options: CoordinatorCallOptions = {}): Promise<ReassignPartitionsOutcome> {
    const byTopic = new Map<string, M.ReassignablePartition[]>();
    for (const p of checkList(partitions, 'reassignPartitions', 'partitions')) {
      const topic = checkTopicName(p?.topic);
      const replicas = p.replicas === null ? null : checkList(p.replicas, 'reassignPartitions', `the replicas of ${topic}-${String(p.partition)}`).map((id) => checkOffset(id, 'broker id'));
      const list = byTopic.get(topic) ?? [];
      list.push({ partition: checkOffset(p.partition, 'partition'), replicas: replicas ?? [], cancel: replicas === null });
      byTopic.set(topic, list);
    }
    const body: M.AlterPartitionReassignmentsRequest = { topics: [...byTopic].map(([name, list]) => ({ name, partitions: list })) };
    return this.#run({ operation: 'reassignPartitions', idempotent: true, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'ALTER_PARTITION_REASSIGNMENTS', body, timeoutMs, options.signal);
      throwIfError(response, endpoint);
      return {
        metadataOffset: response.metadataOffset,
        results: response.results.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          error: errorFromCode(r.errorCode, r.errorMessage, { topic: r.topic, partition: r.partition }),
        })),
      };
    });
  }

  /**
   * The reassignments in progress (Kafka's ListPartitionReassignments), as the leader has them:
   * of every partition, or of the topics named. Rejects UNKNOWN_TOPIC_OR_PARTITION for a named
   * topic or partition that does not exist.
   */
  async listPartitionReassignments(
    topics?: readonly { readonly topic: string; readonly partitions?: readonly number[] | undefined }[],
    options: CoordinatorCallOptions = {},
  ): Promise<PartitionReassignments> {
    const body: M.ListPartitionReassignmentsRequest = {
      topics: (topics ?? []).map((t) => ({ name: checkTopicName(t?.topic), partitions: (t.partitions ?? []).map((p) => checkOffset(p, 'partition')) })),
    };
    return this.#run({ operation: 'listPartitionReassignments', idempotent: true, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'LIST_PARTITION_REASSIGNMENTS', body, timeoutMs, options.signal);
      throwIfError(response, endpoint);
      return { metadataOffset: response.metadataOffset, reassignments: response.reassignments.map((r) => ({ ...r })) };
    });
  }

  /**
   * Puts broker `brokerId` in maintenance (`enable`: its leaderships move to other in-sync
   * replicas; elections and new placements skip it) or takes it out. Resolves once applied.
   * Rejects BROKER_ID_NOT_REGISTERED for a broker id no broker registered.
   */
  async brokerMaintenance(brokerId: number, enable: boolean, options: CoordinatorCallOptions = {}): Promise<BrokerMaintenanceOutcome> {
    const body: M.BrokerMaintenanceRequest = { brokerId: checkOffset(brokerId, 'brokerId'), enable: enable === true };
    return this.#run({ operation: 'brokerMaintenance', idempotent: true, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'BROKER_MAINTENANCE', body, timeoutMs, options.signal);
      throwIfError(response, endpoint);
      return {
        metadataOffset: response.metadataOffset,
        brokerId: body.brokerId,
        draining: response.draining,
        leadersMoved: response.leadersMoved,
        leadersKept: response.leadersKept.map((p) => ({ topic: p.topic, partition: p.partition })),
      };
    });
  }

  // ---- The Raft group (leader only)

  /** Adds or removes one voter; resolves with the voters once the change is applied on the leader. */
  async changeMembership(change: MembershipChange, options: CoordinatorCallOptions = {}): Promise<{ readonly voters: readonly number[] }> {
    const body = membershipBody(change);
    return this.#run({ operation: 'changeMembership', idempotent: false, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'CHANGE_MEMBERSHIP', body, timeoutMs, options.signal);
      throwIfError(response, endpoint);
      if (change.op === 'remove' && this.#leader?.nodeId === change.nodeId) this.#leader = undefined;
      return { voters: [...response.voters].sort((a, b) => a - b) };
    });
  }

  /**
   * Hands leadership to voter `toNodeId`; resolves once it leads. Rejects REQUEST_TIMED_OUT when it
   * did not take over in time, INVALID_REQUEST for a node that is not a voter.
   */
  async transferLeadership(toNodeId: number, options: CoordinatorCallOptions = {}): Promise<LeadershipTransfer> {
    const body: M.TransferLeadershipRequest = { toNodeId: checkNodeId(toNodeId, 'transferLeadership') };
    return this.#run({ operation: 'transferLeadership', idempotent: true, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'TRANSFER_LEADERSHIP', body, timeoutMs, options.signal);
      throwIfError(response, endpoint);
      // The old leader's address no longer takes writes: look the new one up on the next write.
      this.#leader = undefined;
      return { leaderId: response.leaderId, term: response.term };
    });
  }

  // ---- The metadata log

  /**
   * Follows the committed metadata log from `fromOffset`: yields records in offset order, or a
   * snapshot when the offset was compacted away (records then continue after the snapshot's
   * offset). Each fetch long-polls up to maxWaitMs; empty polls yield nothing. Reads from the
   * leader when one is known and from any node otherwise (every node serves only committed
   * records), moving to another node on failure. Aborting `signal` or closing the client ends the
   * iteration; a fetch that no node answers within requestTimeoutMs throws its last error.
   */
  async *followMetadata(fromOffset: number, options: FollowMetadataOptions = {}): AsyncGenerator<MetadataUpdate, void, undefined> {
    let next = checkOffset(fromOffset, 'fromOffset');
    const maxRecords = optionalPositive(options.maxRecords, 'maxRecords', DEFAULT_MAX_RECORDS);
    const maxWaitMs = optionalPositive(options.maxWaitMs, 'maxWaitMs', DEFAULT_MAX_WAIT_MS);
    const { signal } = options;
    const plan: RunPlan = { operation: 'followMetadata', idempotent: true, target: { kind: 'reader' }, attemptTimeoutMs: maxWaitMs + FETCH_MARGIN_MS };
    for (;;) {
      if (this.#stopped(signal)) return;
      let update: MetadataUpdate | undefined;
      try {
        update = await this.#run(plan, { signal, timeoutMs: this.#options.requestTimeoutMs + maxWaitMs }, (endpoint, timeoutMs) =>
          this.#fetchMetadata(endpoint, next, maxRecords, Math.min(maxWaitMs, timeoutMs), timeoutMs, signal),
        );
      } catch (error) {
        if (this.#stopped(signal)) return;
        throw error;
      }
      if (update === undefined) continue;
      next = update.kind === 'snapshot' ? update.offset + 1 : lastOffset(update.records) + 1;
      yield update;
    }
  }

  /** Closes every connection; calls in progress reject with NETWORK_EXCEPTION. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(pending.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }

  // ---- Calls, retries and routing

  /** Runs `attempt` until it succeeds, fails for good, or the deadline passes (see the file header). */
  async #run<T>(plan: RunPlan, options: CoordinatorCallOptions, attempt: Attempt<T>): Promise<T> {
    const { signal } = options;
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `${plan.operation}: timeoutMs must be a positive number, got ${String(timeoutMs)}`);
    const deadlineMs = Date.now() + timeoutMs;
    for (let retriesDone = 0; ; retriesDone++) {
      throwIfAborted(signal);
      this.#assertOpen();
      let endpoint: Endpoint | undefined;
      let failure: StreamBusError;
      try {
        endpoint = await this.#resolve(plan.target, signal);
        const remainingMs = deadlineMs - Date.now();
        if (remainingMs <= 0) throw new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `${plan.operation} did not finish within ${timeoutMs} ms`);
        return await attempt(endpoint, Math.max(1, Math.min(remainingMs, plan.attemptTimeoutMs ?? remainingMs)));
      } catch (error) {
        if (!(error instanceof StreamBusError)) throw error;
        failure = error;
      }
      if (this.#closed) throw closedError();
      const verdict = judgeFailure({ error: failure, sent: !this.#unsent.has(failure), idempotent: plan.idempotent });
      if (verdict === FailureVerdict.GIVE_UP) throw failure;
      if (verdict === FailureVerdict.OUTCOME_UNKNOWN) throw outcomeUnknown(plan.operation, failure);
      if (endpoint !== undefined && shouldRediscover(failure)) this.#forgetLeader(endpoint);
      const decision = decideRetry({ retriesDone, retriable: true, nowMs: Date.now(), deadlineMs }, this.#options.retry, this.#options.random);
      if (!decision.retry) throw failure;
      this.#options.logger.debug(
        { operation: plan.operation, node: endpoint === undefined ? undefined : formatEndpoint(endpoint), code: failure.codeName, retryInMs: decision.delayMs },
        'coordinator call failed; retrying',
      );
      await delay(decision.delayMs, signal);
    }
  }

  /**
   * A topic admin write with per-topic retries: topics whose result is a request-level failure are
   * judged as a failed request (sent again when safe), the others keep their result. Resolves when
   * every topic succeeded, else rejects with AdminError.
   */
  async #topicWrite<I extends { readonly name: string }>(
    operation: string,
    idempotent: boolean,
    items: readonly I[],
    options: CoordinatorCallOptions,
    send: (pending: readonly I[], endpoint: Endpoint, timeoutMs: number) => Promise<{ topics: M.TopicResult[]; metadataOffset: number }>,
  ): Promise<{ results: Map<string, M.TopicResult>; metadataOffset: number }> {
    const pending = new Map(items.map((item) => [item.name, item]));
    if (pending.size !== items.length) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `${operation}: a topic is named twice`);
    const results = new Map<string, M.TopicResult>();
    let metadataOffset = -1;
    await this.#run({ operation, idempotent, target: { kind: 'leader' } }, options, async (endpoint, timeoutMs) => {
      const response = await send([...pending.values()], endpoint, timeoutMs);
      metadataOffset = Math.max(metadataOffset, response.metadataOffset);
      let requestLevel: StreamBusError | undefined;
      for (const result of response.topics) {
        if (!pending.has(result.name)) continue;
        if (isRequestLevel(result.errorCode)) {
          requestLevel ??= errorFromCode(result.errorCode, result.errorMessage, { broker: formatEndpoint(endpoint) });
          continue;
        }
        results.set(result.name, result);
        pending.delete(result.name);
      }
      // Topics the leader refused, or whose outcome is unknown, are judged as a failed request
      // (./retry-rules.ts); the topics it answered keep their answers and are not sent again.
      if (requestLevel !== undefined) throw requestLevel;
      if (pending.size > 0) {
        const missing = [...pending.keys()].slice(0, 5).join(', ');
        throw new StreamBusError(ErrorCode.MALFORMED_FRAME, `${operation}: the answer from ${formatEndpoint(endpoint)} has no result for ${missing}`);
      }
    });
    const failures: ItemFailure[] = [];
    for (const item of items) {
      const result = results.get(item.name)!;
      const error = errorFromCode(result.errorCode, result.errorMessage, { topic: item.name });
      if (error !== undefined) failures.push({ topic: item.name, error });
    }
    if (failures.length > 0) throw new AdminError(operation, failures, items.length);
    return { results, metadataOffset };
  }

  async #resolve(target: Target, signal: AbortSignal | undefined): Promise<Endpoint> {
    switch (target.kind) {
      case 'node':
        return target.endpoint;
      case 'leader':
        return (await this.#findLeader(signal)).api;
      case 'any':
        return this.#nextCandidate();
      case 'reader':
        if (this.#leader !== undefined) return this.#leader.api;
        try {
          return (await this.#findLeader(signal)).api;
        } catch (error) {
          // No leader right now (an election): committed records can be read from any node.
          if (error instanceof StreamBusError && error.code === ErrorCode.NOT_CONTROLLER) return this.#nextCandidate();
          throw error;
        }
    }
  }

  #nextCandidate(): Endpoint {
    const candidates = candidateEndpoints([this.#bootstrap, this.#learned], MAX_CANDIDATES);
    return candidates[this.#anyIndex++ % candidates.length]!;
  }

  /** The leader, found by a shared search when not known. */
  #findLeader(signal: AbortSignal | undefined): Promise<KnownLeader> {
    if (this.#leader !== undefined) return Promise.resolve(this.#leader);
    this.#discovery ??= this.#discover().finally(() => {
      this.#discovery = undefined;
    });
    return raceSignal(this.#discovery, signal);
  }

  /**
   * One search for the leader: every candidate is asked at once and the first that says it leads
   * wins; otherwise the address the answers name as the leader's is asked too. Rejects with
   * NOT_CONTROLLER (retriable, never sent anything) when no leader turns up.
   */
  async #discover(): Promise<KnownLeader> {
    const asked = new Set<string>();
    const answers: string[] = [];
    let hint: { term: number; api: Endpoint } | undefined;
    const probeAll = (endpoints: readonly Endpoint[]): Promise<CoordinatorStatus | undefined> =>
      new Promise((resolve) => {
        let left = endpoints.length;
        if (left === 0) resolve(undefined);
        for (const endpoint of endpoints) {
          asked.add(formatEndpoint(endpoint));
          this.#askStatus(endpoint, this.#options.probeTimeoutMs, undefined)
            .then((status) => {
              answers.push(`node ${status.nodeId} at ${formatEndpoint(endpoint)}: ${status.role}, term ${status.term}, leader ${status.leaderId === NO_NODE ? 'unknown' : status.leaderId}`);
              if (status.role === 'leader') resolve(status);
              else if (status.leaderApi !== undefined && (hint === undefined || status.term > hint.term)) hint = { term: status.term, api: status.leaderApi };
            })
            .catch((error: unknown) => {
              answers.push(`${formatEndpoint(endpoint)}: ${error instanceof StreamBusError ? error.codeName : String(error)}`);
            })
            .finally(() => {
              left -= 1;
              if (left === 0) resolve(undefined);
            });
        }
      });
    let leader = await probeAll(candidateEndpoints([this.#learned, this.#bootstrap], MAX_CANDIDATES));
    const hinted = hint?.api;
    if (leader === undefined && hinted !== undefined && !asked.has(formatEndpoint(hinted))) leader = await probeAll([hinted]);
    this.#assertOpen();
    if (leader === undefined) {
      const error = new StreamBusError(ErrorCode.NOT_CONTROLLER, `no coordinator leader is known (${answers.join('; ')})`);
      this.#unsent.add(error);
      throw error;
    }
    const found: KnownLeader = { nodeId: leader.nodeId, term: leader.term, api: leader.address };
    if (this.#leader === undefined || found.term >= this.#leader.term) {
      if (this.#leader?.nodeId !== found.nodeId) this.#options.logger.info({ leaderId: found.nodeId, term: found.term, api: formatEndpoint(found.api) }, 'coordinator leader found');
      this.#leader = found;
    }
    return this.#leader;
  }

  #forgetLeader(endpoint: Endpoint): void {
    if (sameEndpoint(this.#leader?.api, endpoint)) this.#leader = undefined;
  }

  /** Asks one node for its status and learns the group's API addresses from the answer. */
  async #askStatus(endpoint: Endpoint, timeoutMs: number, signal: AbortSignal | undefined): Promise<CoordinatorStatus> {
    const status = statusFromWire(await this.#request(endpoint, 'COORDINATOR_STATUS', {}, timeoutMs, signal), endpoint);
    if (status.term >= this.#learnedTerm) {
      const apis = status.members.map((m) => m.api).filter((api): api is Endpoint => api !== undefined);
      if (apis.length > 0) {
        this.#learned = apis;
        this.#learnedTerm = status.term;
      }
    }
    if (status.role === 'leader' && this.#leader !== undefined && status.term > this.#leader.term) {
      this.#leader = { nodeId: status.nodeId, term: status.term, api: endpoint };
    }
    return status;
  }

  async #fetchMetadata(endpoint: Endpoint, fromOffset: number, maxRecords: number, maxWaitMs: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<MetadataUpdate | undefined> {
    const response = await this.#request(endpoint, 'FETCH_METADATA', { fromOffset, maxRecords, maxWaitMs, brokerId: -1 }, timeoutMs, signal);
    if (response.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && !sameEndpoint(this.#leader?.api, endpoint)) {
      // A follower that has not yet learned of commits the caller has already seen: ask the leader.
      throw new StreamBusError(ErrorCode.NOT_CONTROLLER, `node at ${formatEndpoint(endpoint)} has committed only up to ${response.committedOffset}; asking the leader`);
    }
    return metadataUpdateFromWire(response, fromOffset, endpoint);
  }

  /** One request to one node. A failure before the request could leave is marked as never sent. */
  async #request<A extends ApiName>(endpoint: Endpoint, api: A, body: RequestOf<A>, timeoutMs: number, signal: AbortSignal | undefined): Promise<ResponseOf<A>> {
    let connection: Connection;
    try {
      connection = await this.#connectionTo(endpoint, signal);
    } catch (error) {
      if (error instanceof StreamBusError) this.#unsent.add(error);
      throw error;
    }
    return connection.request(api, body, signal === undefined ? { timeoutMs } : { timeoutMs, signal });
  }

  #connectionTo(endpoint: Endpoint, signal: AbortSignal | undefined): Promise<Connection> {
    this.#assertOpen();
    const key = formatEndpoint(endpoint);
    const existing = this.#connections.get(key);
    if (existing !== undefined) {
      return existing.then((connection) => {
        if (connection.connected) return connection;
        if (this.#connections.get(key) === existing) this.#connections.delete(key);
        return this.#connectionTo(endpoint, signal);
      });
    }
    const pending = this.#options
      .connect({
        host: endpoint.host,
        port: endpoint.port,
        clientId: this.#options.clientId,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        requestTimeoutMs: this.#options.requestTimeoutMs,
        maxInFlight: this.#options.maxInFlightPerConnection,
      })
      .then(
        (connection) => {
          if (this.#closed) {
            void connection.close();
            throw closedError();
          }
          // Names this client in the server's logs; pipelined, not awaited (see client/cluster).
          connection.request('API_VERSIONS', { clientId: this.#options.clientId, clientSoftware: CLIENT_SOFTWARE }).catch(() => undefined);
          return connection;
        },
        (error: unknown) => {
          if (this.#connections.get(key) === pending) this.#connections.delete(key);
          if (error instanceof StreamBusError) throw error;
          throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `could not connect to coordinator ${key}`, { cause: error, context: { broker: key } });
        },
      );
    this.#connections.set(key, pending);
    return signal === undefined ? pending : raceSignal(pending, signal);
  }

  /** Whether a stream should end: its signal aborted or the client closed (read afresh each time). */
  #stopped(signal: AbortSignal | undefined): boolean {
    return signal?.aborted === true || this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

function closedError(): StreamBusError {
  return new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the coordinator client is closed');
}

function lastOffset(records: readonly MetadataRecord[]): number {
  return records[records.length - 1]!.offset;
}

// ---- Argument checks: bad input is refused before anything is sent.

function invalid(message: string, topic?: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_REQUEST, message, topic === undefined ? undefined : { context: { topic } });
}

function checkList<T>(value: readonly T[], operation: string, what: string): readonly T[] {
  const untrusted: unknown = value;
  if (!Array.isArray(untrusted) || untrusted.length === 0) throw invalid(`${operation}: ${what} must be a non-empty array`);
  return value;
}

function checkTopicName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw invalid(`topic name must be a non-empty string, got ${JSON.stringify(name)}`);
  return name;
}

function checkText(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

/** 0 stands for "the server's default" on the wire. */
function optionalCount(value: number | undefined, what: string, topic: string): number {
  return value === undefined ? 0 : requiredCount(value, what, topic);
}

function requiredCount(value: unknown, what: string, topic: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw invalid(`${what} of topic "${topic}" must be a positive integer, got ${String(value)}`, topic);
  return value;
}

function optionalPositive(value: number | undefined, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw invalid(`${what} must be a positive integer, got ${String(value)}`);
  return value;
}

function checkNodeId(value: unknown, operation: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0x7fff_ffff) {
    throw invalid(`${operation}: node id must be a positive 32-bit integer, got ${String(value)}`);
  }
  return value;
}

function checkOffset(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw invalid(`${what} must be an integer ≥ ${min}, got ${String(value)}`);
  return value;
}

function membershipBody(change: MembershipChange): M.ChangeMembershipRequest {
  if (change === null || typeof change !== 'object') throw invalid('changeMembership needs { op: "add" | "remove", nodeId, ... }');
  const nodeId = checkNodeId(change.nodeId, 'changeMembership');
  if (change.op === 'remove') return { op: 'remove', nodeId, raftHost: '', raftPort: 0, apiHost: '', apiPort: 0 };
  if (change.op !== 'add') throw invalid(`changeMembership: op must be "add" or "remove", got ${JSON.stringify((change as { op?: unknown }).op)}`);
  const raft = toEndpoint(change.raft);
  const api = change.api === undefined ? undefined : toEndpoint(change.api);
  return { op: 'add', nodeId, raftHost: raft.host, raftPort: raft.port, apiHost: api?.host ?? '', apiPort: api?.port ?? 0 };
}
