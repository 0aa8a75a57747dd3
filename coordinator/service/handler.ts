/**
 * The coordinator node's protocol handler: serves the native protocol's coordinator APIs (11-18:
 * status, metadata fetch, broker registration and heartbeat, membership, leadership transfer,
 * AlterPartition and ElectLeaders; 19-21: partition reassignments and broker maintenance), the
 * group APIs (30-40, ../groups/group-api.ts), the transaction APIs (41-45, 47, 48,
 * ../transactions/txn-api.ts),
 * the topic admin writes (CREATE_TOPICS, DELETE_TOPICS, ALTER_CONFIGS, CREATE_PARTITIONS) and
 * API_VERSIONS, by translating messages to and from the CoordinatorApi. Every other API is a
 * broker's: UNKNOWN_API saying so.
 *
 * Errors, as the broker's handler does it: a response that has error_code / error_message fields
 * carries the failure there (a topic admin response in each topic's result), so a NOT_CONTROLLER
 * from a follower reaches the client as an answer it retries elsewhere, with the message naming the
 * leader. A request that cannot be served at all (an API this node does not serve) is thrown, and
 * the server answers with an ErrorResponse. An error that is not a StreamBusError is a bug: it is
 * logged and answered as UNKNOWN_SERVER_ERROR, never crashing the process.
 */
import type { Handler, RequestContext } from '../../broker/network/index.js';
import { type ApiName, type RequestOf, type ResponseOf, apiDescriptors, supportedApiVersions } from '../../proto/api.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import type { ConfigOp, CreateTopicRequest, TopicResult } from '../metadata/controller.js';
import { metadataRecordBytes } from '../metadata/commands.js';
import { type ElectLeadersRequest, ElectionType } from '../metadata/leader-election.js';
import type { ReassignmentRequest } from '../metadata/reassignment.js';
import { type Logger, silentLogger } from '../logger.js';
import { groupApis, groupHandlers } from '../groups/group-api.js';
import { transactionApis, transactionHandlers } from '../transactions/txn-api.js';
import type { CoordinatorApi, CoordinatorNodeStatus, Endpoint, MembershipChangeRequest, MetadataFetchResult } from './coordinator-api.js';

export interface CoordinatorHandlerOptions {
  readonly coordinator: CoordinatorApi;
  /** Reported in ApiVersions. */
  readonly serverVersion: string;
  readonly maxFrameBytes: number;
  readonly maxInFlight: number;
  readonly logger?: Logger;
}

/** The APIs a coordinator node serves itself. */
export const coordinatorNodeApis = [
  'API_VERSIONS',
  'CREATE_TOPICS',
  'DELETE_TOPICS',
  'ALTER_CONFIGS',
  'CREATE_PARTITIONS',
  'COORDINATOR_STATUS',
  'FETCH_METADATA',
  'BROKER_REGISTRATION',
  'BROKER_HEARTBEAT',
  'CHANGE_MEMBERSHIP',
  'TRANSFER_LEADERSHIP',
  'ALTER_PARTITION',
  'ELECT_LEADERS',
  'ALTER_PARTITION_REASSIGNMENTS',
  'LIST_PARTITION_REASSIGNMENTS',
  'BROKER_MAINTENANCE',
  // Consumer groups (../groups/group-api.ts).
  ...groupApis,
  // Producer ids and transactions (../transactions/txn-api.ts).
  ...transactionApis,
] as const satisfies readonly ApiName[];
export type CoordinatorNodeApi = (typeof coordinatorNodeApis)[number];

type Handlers = { [A in CoordinatorNodeApi]: (body: RequestOf<A>, ctx: RequestContext) => Promise<ResponseOf<A>> };

const served: ReadonlySet<ApiName> = new Set(coordinatorNodeApis);
const servedKeys: ReadonlySet<number> = new Set(coordinatorNodeApis.map((api) => apiDescriptors[api].key));

export class CoordinatorHandler implements Handler {
  readonly #options: CoordinatorHandlerOptions;
  readonly #coordinator: CoordinatorApi;
  readonly #logger: Logger;
  readonly #handlers: Handlers;

  constructor(options: CoordinatorHandlerOptions) {
    this.#options = options;
    this.#coordinator = options.coordinator;
    this.#logger = options.logger ?? silentLogger;
    this.#handlers = {
      API_VERSIONS: () => Promise.resolve(this.#apiVersions()),
      CREATE_TOPICS: (body) => this.#createTopics(body),
      DELETE_TOPICS: (body) => this.#deleteTopics(body),
      ALTER_CONFIGS: (body) => this.#alterConfigs(body),
      CREATE_PARTITIONS: (body) => this.#createPartitions(body),
      COORDINATOR_STATUS: () => Promise.resolve(this.#status()),
      FETCH_METADATA: (body, ctx) => this.#fetchMetadata(body, ctx),
      BROKER_REGISTRATION: (body, ctx) => this.#registerBroker(body, ctx),
      BROKER_HEARTBEAT: (body, ctx) => this.#heartbeat(body, ctx),
      CHANGE_MEMBERSHIP: (body, ctx) => this.#changeMembership(body, ctx),
      TRANSFER_LEADERSHIP: (body, ctx) => this.#transferLeadership(body, ctx),
      ALTER_PARTITION: (body, ctx) => this.#alterPartition(body, ctx),
      ELECT_LEADERS: (body, ctx) => this.#electLeaders(body, ctx),
      ALTER_PARTITION_REASSIGNMENTS: (body, ctx) => this.#alterReassignments(body, ctx),
      LIST_PARTITION_REASSIGNMENTS: (body, ctx) => this.#listReassignments(body, ctx),
      BROKER_MAINTENANCE: (body, ctx) => this.#brokerMaintenance(body, ctx),
      ...groupHandlers({ groups: this.#coordinator.groups, status: () => this.#coordinator.status(), typed: (error) => this.#typed(error) }),
      ...transactionHandlers({ transactions: this.#coordinator.transactions, typed: (error) => this.#typed(error) }),
    };
  }

  /** Whether this handler serves `api` (the rest are a broker's). */
  static serves(api: ApiName): api is CoordinatorNodeApi {
    return served.has(api);
  }

  handle<A extends ApiName>(api: A, _version: number, body: RequestOf<A>, ctx: RequestContext): Promise<ResponseOf<A>> {
    if (!CoordinatorHandler.serves(api)) {
      return Promise.reject(new StreamBusError(ErrorCode.UNKNOWN_API, `${api} is served by brokers, not by coordinator nodes`));
    }
    const handler = this.#handlers[api] as unknown as (body: RequestOf<A>, ctx: RequestContext) => Promise<ResponseOf<A>>;
    return handler(body, ctx);
  }

  // ---- Topic administration

  async #createTopics(body: M.CreateTopicsRequest): Promise<M.CreateTopicsResponse> {
    const names = body.topics.map((t) => t.name);
    return this.#topics(names, () =>
      this.#coordinator.createTopics(body.topics.map(createTopicFromWire), { validateOnly: body.validateOnly }),
    );
  }

  async #deleteTopics(body: M.DeleteTopicsRequest): Promise<M.DeleteTopicsResponse> {
    return this.#topics(body.names, () => this.#coordinator.deleteTopics(body.names));
  }

  async #alterConfigs(body: M.AlterConfigsRequest): Promise<M.AlterConfigsResponse> {
    const names = body.topics.map((t) => t.name);
    return this.#topics(names, () =>
      this.#coordinator.alterConfigs(
        body.topics.map((t) => ({ name: t.name, ops: t.ops.map(configOpFromWire) })),
        { validateOnly: body.validateOnly },
      ),
    );
  }

  async #createPartitions(body: M.CreatePartitionsRequest): Promise<M.CreatePartitionsResponse> {
    const names = body.topics.map((t) => t.name);
    return this.#topics(names, () =>
      this.#coordinator.createPartitions(body.topics.map((t) => ({ name: t.name, count: t.count })), { validateOnly: body.validateOnly }),
    );
  }

  /** A topic write: per-topic results, or the whole request's failure in every topic's result. */
  async #topics(names: readonly string[], run: () => Promise<{ results: readonly TopicResult[]; metadataOffset: number }>): Promise<{ topics: M.TopicResult[]; metadataOffset: number }> {
    try {
      const outcome = await run();
      return { topics: outcome.results.map(topicResultToWire), metadataOffset: outcome.metadataOffset };
    } catch (error) {
      const failure = this.#typed(error);
      return {
        topics: names.map((name) => ({ name, errorCode: failure.code, errorMessage: failure.message, topicId: '' })),
        metadataOffset: -1,
      };
    }
  }

  // ---- The coordinator APIs

  #apiVersions(): M.ApiVersionsResponse {
    return {
      errorCode: ErrorCode.NONE,
      apis: supportedApiVersions().filter((range) => servedKeys.has(range.api)),
      serverVersion: this.#options.serverVersion,
      clusterId: this.#coordinator.clusterId,
      nodeId: this.#coordinator.nodeId,
      maxFrameBytes: this.#options.maxFrameBytes,
      maxInFlight: this.#options.maxInFlight,
    };
  }

  #status(): M.CoordinatorStatusResponse {
    try {
      return statusToWire(this.#coordinator.status());
    } catch (error) {
      const failure = this.#typed(error);
      return { ...emptyStatus(this.#coordinator), errorCode: failure.code, errorMessage: failure.message };
    }
  }

  async #fetchMetadata(body: M.FetchMetadataRequest, ctx: RequestContext): Promise<M.FetchMetadataResponse> {
    try {
      const result = await this.#coordinator.fetchMetadata(body.fromOffset, body.maxRecords, body.maxWaitMs, { signal: ctx.signal });
      return fetchResultToWire(result);
    } catch (error) {
      const failure = this.#typed(error);
      const committed = this.#coordinator.status().metadataOffset;
      return {
        errorCode: failure.code,
        errorMessage: failure.message,
        startOffset: -1,
        committedOffset: committed,
        records: [],
        hasSnapshot: false,
        snapshotOffset: -1,
        snapshot: Buffer.alloc(0),
      };
    }
  }

  async #registerBroker(body: M.BrokerRegistrationRequest, ctx: RequestContext): Promise<M.BrokerRegistrationResponse> {
    try {
      if (body.clusterId !== '' && body.clusterId !== this.#coordinator.clusterId) {
        throw new StreamBusError(
          ErrorCode.INCONSISTENT_CLUSTER_ID,
          `broker ${body.nodeId} belongs to cluster "${body.clusterId}", but this coordinator serves cluster "${this.#coordinator.clusterId}"`,
        );
      }
      const outcome = await this.#coordinator.registerBroker(
        {
          nodeId: body.nodeId,
          incarnationId: body.incarnationId,
          host: body.host,
          port: body.port,
          rack: body.rack === '' ? null : body.rack,
          listeners: body.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })),
        },
        { signal: ctx.signal },
      );
      return { errorCode: ErrorCode.NONE, errorMessage: '', brokerEpoch: outcome.brokerEpoch, metadataOffset: outcome.metadataOffset };
    } catch (error) {
      const failure = this.#typed(error);
      return { errorCode: failure.code, errorMessage: failure.message, brokerEpoch: -1, metadataOffset: -1 };
    }
  }

  async #heartbeat(body: M.BrokerHeartbeatRequest, ctx: RequestContext): Promise<M.BrokerHeartbeatResponse> {
    try {
      const outcome = await this.#coordinator.brokerHeartbeat(
        {
          nodeId: body.nodeId,
          brokerEpoch: body.brokerEpoch,
          metadataOffset: body.metadataOffset,
          wantFence: body.wantFence,
          wantShutDown: body.wantShutDown,
        },
        // The connection, so that losing it fences the broker early (broker.disconnect.fence.ms).
        ctx.connectionLost === undefined ? { signal: ctx.signal } : { signal: ctx.signal, connection: { id: ctx.connectionId, lost: ctx.connectionLost } },
      );
      return { errorCode: ErrorCode.NONE, errorMessage: '', fenced: outcome.fenced, metadataOffset: outcome.metadataOffset };
    } catch (error) {
      const failure = this.#typed(error);
      return { errorCode: failure.code, errorMessage: failure.message, fenced: true, metadataOffset: -1 };
    }
  }

  async #changeMembership(body: M.ChangeMembershipRequest, ctx: RequestContext): Promise<M.ChangeMembershipResponse> {
    try {
      const { voters } = await this.#coordinator.changeMembership(membershipFromWire(body), { signal: ctx.signal });
      return { errorCode: ErrorCode.NONE, errorMessage: '', voters: [...voters] };
    } catch (error) {
      const failure = this.#typed(error);
      return { errorCode: failure.code, errorMessage: failure.message, voters: [] };
    }
  }

  async #transferLeadership(body: M.TransferLeadershipRequest, ctx: RequestContext): Promise<M.TransferLeadershipResponse> {
    try {
      const { leaderId, term } = await this.#coordinator.transferLeadership(body.toNodeId, { signal: ctx.signal });
      return { errorCode: ErrorCode.NONE, errorMessage: '', leaderId, term };
    } catch (error) {
      const failure = this.#typed(error);
      const status = this.#coordinator.status();
      return { errorCode: failure.code, errorMessage: failure.message, leaderId: status.leaderId, term: status.term };
    }
  }

  async #alterPartition(body: M.AlterPartitionRequest, ctx: RequestContext): Promise<M.AlterPartitionResponse> {
    try {
      const outcome = await this.#coordinator.alterPartition(
        {
          brokerId: body.brokerId,
          brokerEpoch: body.brokerEpoch,
          partitions: body.partitions.map((p) => ({ topicId: p.topicId, partition: p.partition, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: p.newIsr })),
        },
        { signal: ctx.signal },
      );
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        partitions: outcome.results.map((r) => ({ ...r, errorMessage: r.errorMessage ?? '', isr: [...r.isr] })),
        metadataOffset: outcome.metadataOffset,
      };
    } catch (error) {
      const failure = this.#typed(error);
      return { errorCode: failure.code, errorMessage: failure.message, partitions: [], metadataOffset: -1 };
    }
  }

  async #electLeaders(body: M.ElectLeadersRequest, ctx: RequestContext): Promise<M.ElectLeadersResponse> {
    try {
      const outcome = await this.#coordinator.electLeaders(electLeadersFromWire(body), { signal: ctx.signal });
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        results: outcome.results.map((r) => ({ ...r, errorMessage: r.errorMessage ?? '' })),
        metadataOffset: outcome.metadataOffset,
      };
    } catch (error) {
      const failure = this.#typed(error);
      return { errorCode: failure.code, errorMessage: failure.message, results: [], metadataOffset: -1 };
    }
  }

  async #alterReassignments(body: M.AlterPartitionReassignmentsRequest, ctx: RequestContext): Promise<M.AlterPartitionReassignmentsResponse> {
    try {
      const outcome = await this.#coordinator.alterPartitionReassignments(reassignmentsFromWire(body), { signal: ctx.signal });
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        results: outcome.results.map((r) => ({ ...r, errorMessage: r.errorMessage ?? '' })),
        metadataOffset: outcome.metadataOffset,
      };
    } catch (error) {
      const failure = this.#typed(error);
      return { errorCode: failure.code, errorMessage: failure.message, results: [], metadataOffset: -1 };
    }
  }

  async #listReassignments(body: M.ListPartitionReassignmentsRequest, ctx: RequestContext): Promise<M.ListPartitionReassignmentsResponse> {
    try {
      const request = body.topics.length === 0 ? undefined : body.topics.map((t) => (t.partitions.length === 0 ? { topic: t.name } : { topic: t.name, partitions: t.partitions }));
      const outcome = await this.#coordinator.listPartitionReassignments(request, { signal: ctx.signal });
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        reassignments: outcome.reassignments.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          replicas: [...r.replicas],
          addingReplicas: [...r.addingReplicas],
          removingReplicas: [...r.removingReplicas],
        })),
        metadataOffset: outcome.metadataOffset,
      };
    } catch (error) {
      const failure = this.#typed(error);
      return { errorCode: failure.code, errorMessage: failure.message, reassignments: [], metadataOffset: -1 };
    }
  }

  async #brokerMaintenance(body: M.BrokerMaintenanceRequest, ctx: RequestContext): Promise<M.BrokerMaintenanceResponse> {
    try {
      const outcome = await this.#coordinator.brokerMaintenance({ nodeId: body.brokerId, enable: body.enable }, { signal: ctx.signal });
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        draining: outcome.draining,
        leadersMoved: outcome.leadersMoved,
        leadersKept: outcome.leadersKept.map((p) => ({ topic: p.topic, partition: p.partition })),
        metadataOffset: outcome.metadataOffset,
      };
    } catch (error) {
      const failure = this.#typed(error);
      return { errorCode: failure.code, errorMessage: failure.message, draining: false, leadersMoved: 0, leadersKept: [], metadataOffset: -1 };
    }
  }

  /** The error a response carries; anything but a StreamBusError is a bug, logged as such. */
  #typed(error: unknown): StreamBusError {
    if (error instanceof StreamBusError) return error;
    this.#logger.error({ err: error }, 'unexpected error serving a coordinator request');
    const message = error instanceof Error ? error.message : String(error);
    return new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, message, { cause: error });
  }
}

/** A wire topic creation: 0 partitions or replicas means "the default", which the controller spells -1. */
export function createTopicFromWire(topic: M.NewTopic): CreateTopicRequest {
  return {
    name: topic.name,
    numPartitions: topic.partitions === 0 ? -1 : topic.partitions,
    replicationFactor: topic.replicationFactor === 0 ? -1 : topic.replicationFactor,
    configs: topic.configs,
  };
}

/** A wire config op (0 set, 1 delete); any other op number is refused, naming the key. */
export function configOpFromWire(op: M.ConfigOp): ConfigOp {
  if (op.op === 1) return { op: 'delete', key: op.name };
  if (op.op === 0 && op.value !== undefined) return { op: 'set', key: op.name, value: op.value };
  throw new StreamBusError(
    ErrorCode.INVALID_REQUEST,
    op.op === 0 ? `config op 'set' of ${op.name} has no value` : `config op ${op.op} of ${op.name} is unknown: use 0 (set) or 1 (delete)`,
  );
}

export function topicResultToWire(result: TopicResult): M.TopicResult {
  return { name: result.name, errorCode: result.errorCode, errorMessage: result.errorMessage ?? '', topicId: result.topicId ?? '' };
}

/** Kafka's election type numbers: 0 preferred, 1 unclean; INVALID_REQUEST for any other. */
export function electLeadersFromWire(body: M.ElectLeadersRequest): ElectLeadersRequest {
  const type = body.electionType === 0 ? ElectionType.PREFERRED : body.electionType === 1 ? ElectionType.UNCLEAN : undefined;
  if (type === undefined) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `election type must be 0 (preferred) or 1 (unclean), got ${body.electionType}`);
  if (body.topics.length === 0) return { type };
  return { type, topics: body.topics.map((t) => (t.partitions.length === 0 ? { topic: t.name } : { topic: t.name, partitions: t.partitions })) };
}

/** Wire reassignments: `cancel` means a null target; INVALID_REQUEST for a cancel that names replicas. */
export function reassignmentsFromWire(body: M.AlterPartitionReassignmentsRequest): ReassignmentRequest[] {
  return body.topics.flatMap((t) =>
    t.partitions.map((p): ReassignmentRequest => {
      if (p.cancel && p.replicas.length > 0) {
        throw new StreamBusError(ErrorCode.INVALID_REQUEST, `${t.name}-${p.partition}: a cancel names no replicas, got [${p.replicas.join(', ')}]`);
      }
      return { topic: t.name, partition: p.partition, replicas: p.cancel ? null : p.replicas };
    }),
  );
}

function endpointFromWire(host: string, port: number): Endpoint | undefined {
  return host === '' && port === 0 ? undefined : { host, port };
}

/** INVALID_REQUEST for an op other than add/remove, or an add without a usable Raft address. */
export function membershipFromWire(body: M.ChangeMembershipRequest): MembershipChangeRequest {
  if (body.op === 'remove') return { op: 'remove', nodeId: body.nodeId };
  if (body.op !== 'add') throw new StreamBusError(ErrorCode.INVALID_REQUEST, `membership change op must be "add" or "remove", got ${JSON.stringify(body.op)}`);
  const raft = endpointFromWire(body.raftHost, body.raftPort);
  if (raft === undefined || raft.host === '' || raft.port < 1 || raft.port > 65_535) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `adding node ${body.nodeId} needs its raft host and a port in 1..65535, got "${body.raftHost}:${body.raftPort}"`);
  }
  return { op: 'add', nodeId: body.nodeId, raft, api: endpointFromWire(body.apiHost, body.apiPort) };
}

function statusToWire(status: CoordinatorNodeStatus): M.CoordinatorStatusResponse {
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: '',
    clusterId: status.clusterId,
    nodeId: status.nodeId,
    role: status.role,
    leaderId: status.leaderId,
    leaderApiHost: status.leaderApi?.host ?? '',
    leaderApiPort: status.leaderApi?.port ?? 0,
    term: status.term,
    commitIndex: status.commitIndex,
    appliedIndex: status.appliedIndex,
    lastIndex: status.lastIndex,
    snapshotIndex: status.snapshotIndex,
    metadataOffset: status.metadataOffset,
    members: status.members.map((m) => ({
      nodeId: m.nodeId,
      raftHost: m.raft.host,
      raftPort: m.raft.port,
      apiHost: m.api?.host ?? '',
      apiPort: m.api?.port ?? 0,
      voter: m.voter,
      matchIndex: m.matchIndex ?? -1,
      lag: m.lag ?? -1,
      active: m.active ?? false,
    })),
  };
}

function emptyStatus(coordinator: CoordinatorApi): M.CoordinatorStatusResponse {
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: '',
    clusterId: coordinator.clusterId,
    nodeId: coordinator.nodeId,
    role: 'follower',
    leaderId: 0,
    leaderApiHost: '',
    leaderApiPort: 0,
    term: 0,
    commitIndex: 0,
    appliedIndex: 0,
    lastIndex: 0,
    snapshotIndex: 0,
    metadataOffset: -1,
    members: [],
  };
}

function fetchResultToWire(result: MetadataFetchResult): M.FetchMetadataResponse {
  if (result.kind === 'snapshot') {
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      startOffset: result.startOffset,
      committedOffset: result.committedOffset,
      records: [],
      hasSnapshot: true,
      snapshotOffset: result.offset,
      snapshot: Buffer.from(JSON.stringify(result.snapshot)),
    };
  }
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: '',
    startOffset: result.startOffset,
    committedOffset: result.committedOffset,
    records: result.records.map((r) => {
      const bytes = metadataRecordBytes(r);
      return { offset: r.offset, command: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    }),
    hasSnapshot: false,
    snapshotOffset: -1,
    snapshot: Buffer.alloc(0),
  };
}
