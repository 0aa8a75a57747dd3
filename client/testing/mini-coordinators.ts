/**
 * A stand-in coordinator group for testing the coordinator client over real TCP: N nodes, each a
 * NativeServer (broker/network) on 127.0.0.1, sharing one committed metadata log. Exactly one node
 * leads at a time, chosen by the test (there is no Raft here: elections are what the test says).
 * The others answer writes with NOT_CONTROLLER and report the leader in COORDINATOR_STATUS.
 *
 * The log is real: commands are encoded with the metadata codec and applied to a MetadataState,
 * so FETCH_METADATA serves exactly what a coordinator would, and `compactBefore` makes it answer
 * with a snapshot. Faults a test can inject: stop and restart a node (its listener closes and
 * reopens on the same port), no leader at all, and `dropAfterApply` (apply a write, then close
 * the connection instead of answering: the outcome is unknown to the client).
 *
 * Not a reference implementation of the coordinator: membership and leadership transfer only
 * change who the test double reports as voters and leader.
 */
import { pino } from 'pino';
import { NativeServer, type Handler, type RequestContext } from '../../broker/network/index.js';
import { MetadataState, decodeMetadataCommand, encodeMetadataCommand, type MetadataCommand } from '../../coordinator/index.js';
import { supportedApiVersions, type ApiName, type RequestOf, type ResponseOf } from '../../proto/api.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';

export interface MiniCoordinatorNode {
  readonly nodeId: number;
  server: NativeServer | undefined;
  port: number;
}

interface StoredRecord {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

const RAFT_PORT_BASE = 19_000;
const CLOSE_TIMEOUT_MS = 50;

export class MiniCoordinators {
  readonly clusterId = 'mini-coordinators';
  readonly nodes: MiniCoordinatorNode[] = [];
  readonly state = MetadataState.empty();
  readonly records: StoredRecord[] = [];
  /** 0: no leader (an election in progress). */
  leaderId = 1;
  term = 1;
  voters: number[] = [];
  /** Records below this offset are compacted: a fetch from below gets the snapshot instead. */
  compactBefore = 0;
  /** The next write of this API is applied, then its connection closed without an answer. */
  dropAfterApply: ApiName | undefined;
  /** The next topic call of this API answers every topic with this code (and applies nothing). */
  failTopicsOnce: { readonly api: 'CREATE_TOPICS' | 'ALTER_CONFIGS'; readonly errorCode: ErrorCode } | undefined;
  /** Every request served, by node, for assertions. */
  readonly requests: { nodeId: number; api: ApiName }[] = [];
  #waiters = new Set<() => void>();
  #nextTopicId = 1;
  #brokerEpochs = new Map<number, { incarnationId: string; epoch: number }>();

  /** Starts `count` nodes with ids 1..count on ephemeral ports; node 1 leads. */
  static async start(count = 3): Promise<MiniCoordinators> {
    const group = new MiniCoordinators();
    for (let nodeId = 1; nodeId <= count; nodeId++) {
      const node: MiniCoordinatorNode = { nodeId, server: undefined, port: 0 };
      group.nodes.push(node);
      await group.startNode(nodeId);
      group.voters.push(nodeId);
    }
    group.append({ type: 'init-cluster', clusterId: group.clusterId });
    return group;
  }

  get bootstrap(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`);
  }

  node(nodeId: number): MiniCoordinatorNode {
    const node = this.nodes.find((n) => n.nodeId === nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId}`);
    return node;
  }

  /** Listens again (on the port it had, if it had one). */
  async startNode(nodeId: number): Promise<void> {
    const node = this.node(nodeId);
    if (node.server !== undefined) return;
    const handler: Handler = { handle: (api, _version, body, ctx) => this.#handle(nodeId, api, body, ctx) };
    const server = new NativeServer({ handler, port: node.port, closeTimeoutMs: CLOSE_TIMEOUT_MS, logger: pino({ level: 'silent' }) });
    await server.listen();
    node.server = server;
    node.port = server.port;
  }

  /** Closes a node's listener and its connections: clients see connection loss and refusals. */
  async stopNode(nodeId: number): Promise<void> {
    const node = this.node(nodeId);
    const server = node.server;
    node.server = undefined;
    await server?.close();
  }

  /** A new leader in a new term (0: none). */
  elect(nodeId: number): void {
    this.leaderId = nodeId;
    this.term += 1;
  }

  async close(): Promise<void> {
    for (const wake of this.#waiters) wake();
    await Promise.all(this.nodes.map((n) => this.stopNode(n.nodeId)));
  }

  /** Appends a command to the committed log and applies it. */
  append(command: MetadataCommand): number {
    const offset = this.state.lastAppliedOffset + 1;
    const bytes = encodeMetadataCommand(command);
    this.state.apply({ offset, command });
    this.records.push({ offset, bytes });
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
    return offset;
  }

  async #handle<A extends ApiName>(nodeId: number, api: A, body: RequestOf<A>, ctx: RequestContext): Promise<ResponseOf<A>> {
    this.requests.push({ nodeId, api });
    const answer = await this.#answer(nodeId, api, body, ctx);
    if (this.dropAfterApply === api && nodeId === this.leaderId) {
      this.dropAfterApply = undefined;
      // Applied, never answered: restarting this node's listener drops the connection while the
      // request is still in flight (close() gives in-flight requests CLOSE_TIMEOUT_MS, then
      // destroys their sockets).
      void this.stopNode(nodeId).then(() => this.startNode(nodeId));
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'dropped after applying');
    }
    return answer as ResponseOf<A>;
  }

  #leading(nodeId: number): boolean {
    return this.leaderId !== 0 && nodeId === this.leaderId;
  }

  #refuse(nodeId: number): StreamBusError {
    return new StreamBusError(ErrorCode.NOT_CONTROLLER, `node ${nodeId} is not the leader`);
  }

  async #answer(nodeId: number, api: ApiName, body: unknown, ctx: RequestContext): Promise<unknown> {
    switch (api) {
      case 'API_VERSIONS':
        return { errorCode: 0, apis: supportedApiVersions(), serverVersion: 'mini', clusterId: this.clusterId, nodeId, maxFrameBytes: 1 << 20, maxInFlight: 64 };
      case 'COORDINATOR_STATUS':
        return this.#status(nodeId);
      case 'FETCH_METADATA':
        return this.#fetch(body as M.FetchMetadataRequest, ctx);
      case 'CREATE_TOPICS':
        return this.#failedTopics(api, (body as M.CreateTopicsRequest).topics) ?? this.#createTopics(nodeId, body as M.CreateTopicsRequest);
      case 'ALTER_CONFIGS':
        return this.#failedTopics(api, (body as M.AlterConfigsRequest).topics) ?? this.#alterConfigs(nodeId, body as M.AlterConfigsRequest);
      case 'DELETE_TOPICS':
        return this.#deleteTopics(nodeId, body as M.DeleteTopicsRequest);
      case 'BROKER_REGISTRATION':
        return this.#register(nodeId, body as M.BrokerRegistrationRequest);
      case 'BROKER_HEARTBEAT':
        if (!this.#leading(nodeId)) return { errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'not the leader', fenced: false, metadataOffset: 0 };
        return { errorCode: 0, errorMessage: '', fenced: false, metadataOffset: this.state.lastAppliedOffset };
      case 'CHANGE_MEMBERSHIP':
        return this.#changeMembership(nodeId, body as M.ChangeMembershipRequest);
      case 'TRANSFER_LEADERSHIP': {
        if (!this.#leading(nodeId)) throw this.#refuse(nodeId);
        const to = (body as M.TransferLeadershipRequest).toNodeId;
        if (!this.voters.includes(to)) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `node ${to} is not a voter`, leaderId: nodeId, term: this.term };
        if (to !== nodeId) this.elect(to);
        return { errorCode: 0, errorMessage: '', leaderId: this.leaderId, term: this.term };
      }
      default:
        throw new StreamBusError(ErrorCode.UNKNOWN_API, `${api} is not served by the mini coordinators`);
    }
  }

  /** The injected whole-request failure, reported in each topic's result as the coordinator does. */
  #failedTopics(api: ApiName, topics: readonly { readonly name: string }[]): M.CreateTopicsResponse | undefined {
    const fault = this.failTopicsOnce;
    if (fault?.api !== api) return undefined;
    this.failTopicsOnce = undefined;
    return { topics: topics.map((t) => ({ name: t.name, errorCode: fault.errorCode, errorMessage: 'injected', topicId: '' })), metadataOffset: -1 };
  }

  #status(nodeId: number): M.CoordinatorStatusResponse {
    const leading = this.#leading(nodeId);
    const leader = this.leaderId === 0 ? undefined : this.nodes.find((n) => n.nodeId === this.leaderId);
    const last = this.state.lastAppliedOffset;
    return {
      errorCode: 0,
      errorMessage: '',
      clusterId: this.clusterId,
      nodeId,
      role: leading ? 'leader' : this.leaderId === 0 ? 'candidate' : 'follower',
      leaderId: this.leaderId,
      leaderApiHost: leader === undefined ? '' : '127.0.0.1',
      leaderApiPort: leader?.port ?? 0,
      term: this.term,
      commitIndex: last,
      appliedIndex: last,
      lastIndex: last,
      snapshotIndex: this.compactBefore - 1,
      metadataOffset: last,
      members: this.nodes.map((n) => ({
        nodeId: n.nodeId,
        raftHost: '127.0.0.1',
        raftPort: RAFT_PORT_BASE + n.nodeId,
        apiHost: '127.0.0.1',
        apiPort: n.port,
        voter: this.voters.includes(n.nodeId),
        matchIndex: leading ? last : -1,
        lag: leading ? 0 : -1,
        active: leading && n.server !== undefined,
      })),
    };
  }

  async #fetch(request: M.FetchMetadataRequest, ctx: RequestContext): Promise<M.FetchMetadataResponse> {
    const committed = this.state.lastAppliedOffset;
    const base = { errorCode: 0, errorMessage: '', startOffset: this.compactBefore, committedOffset: committed, hasSnapshot: false, snapshotOffset: -1, snapshot: Buffer.alloc(0) };
    if (request.fromOffset > committed + 1) {
      return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, errorMessage: `offset ${request.fromOffset} is past ${committed + 1}`, records: [] };
    }
    if (request.fromOffset < this.compactBefore) {
      const snapshot = this.#snapshotAt(this.compactBefore - 1);
      return { ...base, records: [], hasSnapshot: true, snapshotOffset: this.compactBefore - 1, snapshot: Buffer.from(JSON.stringify(snapshot)) };
    }
    if (request.fromOffset > committed && request.maxWaitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, request.maxWaitMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
        ctx.signal.addEventListener('abort', done, { once: true });
      });
    }
    const records = this.records
      .filter((r) => r.offset >= request.fromOffset)
      .slice(0, Math.max(1, request.maxRecords))
      .map((r) => ({ offset: r.offset, command: Buffer.from(r.bytes) }));
    return { ...base, committedOffset: this.state.lastAppliedOffset, records };
  }

  /** The state after applying records up to `offset`, rebuilt from the log. */
  #snapshotAt(offset: number): unknown {
    const state = MetadataState.empty();
    for (const record of this.records) {
      if (record.offset > offset) break;
      state.apply({ offset: record.offset, command: decodeMetadataCommand(record.bytes) });
    }
    return state.snapshot();
  }

  #createTopics(nodeId: number, request: M.CreateTopicsRequest): M.CreateTopicsResponse {
    const topics = request.topics.map((t): M.TopicResult => {
      if (!this.#leading(nodeId)) return { name: t.name, errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'not the leader', topicId: '' };
      if (this.state.topic(t.name) !== undefined) return { name: t.name, errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: `topic '${t.name}' already exists`, topicId: '' };
      const topicId = `00000000-0000-4000-8000-${String(this.#nextTopicId++).padStart(12, '0')}`;
      const count = t.partitions === 0 ? 1 : t.partitions;
      const partitions = Array.from({ length: count }, (_, partition) => ({ partition, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }));
      if (!request.validateOnly) this.append({ type: 'create-topic', name: t.name, topicId, partitions, configs: t.configs });
      return { name: t.name, errorCode: 0, errorMessage: '', topicId };
    });
    return { topics, metadataOffset: this.state.lastAppliedOffset };
  }

  #alterConfigs(nodeId: number, request: M.AlterConfigsRequest): M.AlterConfigsResponse {
    const topics = request.topics.map((t): M.TopicResult => {
      if (!this.#leading(nodeId)) return { name: t.name, errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'not the leader', topicId: '' };
      const topic = this.state.topic(t.name);
      if (topic === undefined) return { name: t.name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown topic '${t.name}'`, topicId: '' };
      const set: Record<string, string> = {};
      for (const op of t.ops) if (op.op === 0 && op.value !== undefined) set[op.name] = op.value;
      const remove = t.ops.filter((op) => op.op === 1).map((op) => op.name);
      if (!request.validateOnly) this.append({ type: 'alter-topic-configs', name: t.name, topicId: topic.topicId, set, delete: remove });
      return { name: t.name, errorCode: 0, errorMessage: '', topicId: topic.topicId };
    });
    return { topics, metadataOffset: this.state.lastAppliedOffset };
  }

  #deleteTopics(nodeId: number, request: M.DeleteTopicsRequest): M.DeleteTopicsResponse {
    if (!this.#leading(nodeId)) throw this.#refuse(nodeId);
    const topics = request.names.map((name): M.TopicResult => {
      const topic = this.state.topic(name);
      if (topic === undefined) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown topic '${name}'`, topicId: '' };
      this.append({ type: 'delete-topic', name, topicId: topic.topicId });
      return { name, errorCode: 0, errorMessage: '', topicId: topic.topicId };
    });
    return { topics, metadataOffset: this.state.lastAppliedOffset };
  }

  #register(nodeId: number, request: M.BrokerRegistrationRequest): M.BrokerRegistrationResponse {
    if (!this.#leading(nodeId)) return { errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'not the leader', brokerEpoch: 0, metadataOffset: 0 };
    const known = this.#brokerEpochs.get(request.nodeId);
    if (known?.incarnationId === request.incarnationId) return { errorCode: 0, errorMessage: '', brokerEpoch: known.epoch, metadataOffset: known.epoch };
    const epoch = this.append({
      type: 'register-broker',
      nodeId: request.nodeId,
      incarnationId: request.incarnationId,
      host: request.host,
      port: request.port,
      rack: request.rack === '' ? null : request.rack,
      listeners: request.listeners,
    });
    this.#brokerEpochs.set(request.nodeId, { incarnationId: request.incarnationId, epoch });
    return { errorCode: 0, errorMessage: '', brokerEpoch: epoch, metadataOffset: epoch };
  }

  #changeMembership(nodeId: number, request: M.ChangeMembershipRequest): M.ChangeMembershipResponse {
    if (!this.#leading(nodeId)) return { errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'not the leader', voters: [] };
    if (request.op === 'add') {
      if (this.voters.includes(request.nodeId)) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `node ${request.nodeId} is already a voter`, voters: this.voters };
      this.voters = [...this.voters, request.nodeId];
    } else {
      if (!this.voters.includes(request.nodeId)) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `node ${request.nodeId} is not a voter`, voters: this.voters };
      this.voters = this.voters.filter((v) => v !== request.nodeId);
    }
    return { errorCode: 0, errorMessage: '', voters: this.voters };
  }
}
