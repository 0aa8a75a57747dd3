/**
 * One coordinator node, assembled: the data directory's identity (meta.properties), the Raft
 * store (LevelRaftStorage under <data.dir>/coordinator/raft), the TCP transport, the Raft host,
 * the replicated metadata log and the Coordinator on top. `streambus coordinator` puts the
 * coordinator API listener in front of it (./handler.ts); `streambus dev` runs one as a group of
 * one voter and serves the same APIs on its native port.
 *
 * Start-up order is the dependency order, and close() is its reverse: the coordinator stops taking
 * calls, the host stops (it closes the transport and the store after the write in flight), then
 * the log. A failure part-way through start() closes what was opened and rethrows.
 *
 * Founding voters. On a fresh store the node joins the group named by `voters` (coordinator.voters)
 * if it is one of them; otherwise it starts with no voters and waits to be added by the leader
 * (`streambus cluster members add`), rather than bootstrap a second group under the same cluster
 * id. Once the store holds a configuration, the configuration in the log wins over `voters`.
 *
 * A failing disk (or a broken invariant) stops the host for good: the node logs it, stops
 * acknowledging anything, and `failed` resolves with the error so the process can exit non-zero.
 *
 * Health and metrics. liveness() and readiness() answer the admin port's /livez and /readyz;
 * `metrics` (./coordinator-metrics.ts) counts and times the Raft writes through wrappers around
 * the store and the proposer this file hands the host and the log, and reads its gauges from the
 * host's status() at scrape time, so the Raft host itself knows nothing of metrics.
 *
 * Schema registry. serveSchemaRegistry() starts the Confluent-compatible REST API on this node
 * (../schema-registry/): reads from this node's applied metadata, writes through the coordinator's
 * write pipeline on the leader (a follower forwards them). close() stops it first.
 *
 * Advertised Raft address. What this node records for its own Raft address (register-coordinator)
 * is raftAdvertisedHost when given, else its entry in `voters` (the address its peers dial
 * already), else the bind host, or this machine's host name when that is a wildcard address.
 */
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type ControllerSettings, Coordinator } from '../coordinator.js';
import type { GroupCoordinatorSettings } from '../groups/group-coordinator.js';
import type { TransactionSettings } from '../transactions/txn-types.js';
import { type Logger, silentLogger } from '../logger.js';
import type { TopicDefaults } from '../metadata/controller.js';
import type { RandomSource } from '../metadata/random.js';
import { RaftMetadataLog } from '../metadata-log/raft-metadata-log.js';
import { NO_NODE } from '../raft/index.js';
import { RaftHost } from '../raft/host/index.js';
import { LevelRaftStorage } from '../raft/storage/index.js';
import { SchemaRegistryService } from '../schema-registry/registry-service.js';
import { TcpRaftTransport } from '../raft/transport/index.js';
import type { Endpoint } from './coordinator-api.js';
import { CoordinatorMetrics } from './coordinator-metrics.js';
import { GroupLagMetrics } from './group-lag-metrics.js';
import { resolveIdentity } from './meta-properties.js';

/** How long readiness() waits for this node to apply what the leader has committed. */
const DEFAULT_READY_TIMEOUT_MS = 2000;

/** The answer of a health check: ok, or why not in words an operator can act on. */
export interface NodeHealth {
  readonly ok: boolean;
  readonly reasons: readonly string[];
}

/** Raft timing and limits; defaults suit a LAN (100 ms ticks, elections after 1–2 s). */
export interface RaftSettings {
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly snapshotEntries?: number;
  readonly snapshotBytes?: number;
  readonly proposalTimeoutMs?: number;
}

export interface CoordinatorNodeOptions {
  /** 1 or more (Raft node ids); INVALID_CONFIG otherwise. */
  readonly nodeId: number;
  /** cluster.id. Unset: the one in <dataDir>/meta.properties, or (generateClusterId) a new one. */
  readonly clusterId?: string | undefined;
  /** For `streambus dev`: a new data directory without a configured cluster id gets a new one. */
  readonly generateClusterId?: boolean;
  readonly dataDir: string;
  /** The founding voters and their Raft addresses. Absent: a group of this node alone (`streambus dev`). */
  readonly voters?: ReadonlyMap<number, Endpoint>;
  /** Where the Raft listener binds; port 0 picks a free one. */
  readonly raftListen: Endpoint;
  /**
   * The host recorded as this node's Raft address (raft.advertised.host), with the bound port.
   * Unset or empty: the node's entry in `voters`, else the bind host (the host name for a wildcard).
   */
  readonly raftAdvertisedHost?: string | undefined;
  /** This node's coordinator API address, when known at start (else Coordinator.setApiEndpoint later). */
  readonly api?: Endpoint;
  readonly defaults: TopicDefaults;
  readonly sessionTimeoutMs?: number;
  /** Elections, rebalancing and fast failure detection (the coordinator's defaults when absent). */
  readonly controller?: ControllerSettings;
  /** Consumer groups and offsets (Kafka's defaults when absent). */
  readonly groups?: Partial<GroupCoordinatorSettings>;
  /** Producer ids and transactions (Kafka's defaults when absent). */
  readonly transactions?: Partial<TransactionSettings>;
  readonly raft?: RaftSettings;
  readonly random?: RandomSource;
  readonly logger?: Logger;
  /** Where the node's metrics go. Default: metrics in a registry of its own, without runtime metrics. */
  readonly metrics?: CoordinatorMetrics;
}

export class CoordinatorNode {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly dataDir: string;
  readonly coordinator: Coordinator;
  readonly log: RaftMetadataLog;
  readonly host: RaftHost;
  /** Where the Raft listener is bound. */
  readonly raftAddress: Endpoint;
  /** Resolves (never rejects) with the error that stopped the host for good, if that happens. */
  readonly failed: Promise<StreamBusError>;
  /** Raft and metadata metrics of this node (its registry: metrics.registry). */
  readonly metrics: CoordinatorMetrics;
  readonly #failure: () => StreamBusError | undefined;
  readonly #unwatch: () => void;
  /** The schema registry's REST API, once serveSchemaRegistry() started it. */
  #schemaRegistry: SchemaRegistryService | undefined;
  /** The read barrier of the readiness check in flight, shared by concurrent checks. */
  #readyCheck: Promise<NodeHealth> | undefined;
  #closing: Promise<void> | undefined;

  private constructor(init: {
    identity: { nodeId: number; clusterId: string };
    dataDir: string;
    coordinator: Coordinator;
    log: RaftMetadataLog;
    host: RaftHost;
    raftAddress: Endpoint;
    failed: Promise<StreamBusError>;
    failure: () => StreamBusError | undefined;
    metrics: CoordinatorMetrics;
    unwatch: () => void;
  }) {
    this.nodeId = init.identity.nodeId;
    this.clusterId = init.identity.clusterId;
    this.dataDir = init.dataDir;
    this.coordinator = init.coordinator;
    this.log = init.log;
    this.host = init.host;
    this.raftAddress = init.raftAddress;
    this.failed = init.failed;
    this.#failure = init.failure;
    this.metrics = init.metrics;
    this.#unwatch = init.unwatch;
  }

  /**
   * Opens everything and starts the node; a group of one voter campaigns at once. Resolves once
   * the node runs (it may not lead yet: see Coordinator.whenLeading). Rejects with INVALID_CONFIG
   * (a node id below 1, bad voters, no cluster id for a new directory, a directory of another
   * node, a data directory of an older StreamBus), INCONSISTENT_CLUSTER_ID (a directory of another
   * cluster), KAFKA_STORAGE_ERROR (a damaged or locked store) or the listen error of the Raft port.
   */
  static async start(options: CoordinatorNodeOptions): Promise<CoordinatorNode> {
    const logger = options.logger ?? silentLogger;
    const nodeId = checkNodeId(options.nodeId);
    checkVoters(options.voters);
    const dataDir = path.resolve(options.dataDir);
    await refuseOldLayout(dataDir);
    const identity = await resolveIdentity({
      dataDir,
      nodeId,
      clusterId: options.clusterId,
      ...(options.generateClusterId === undefined ? {} : { generateClusterId: options.generateClusterId }),
    });
    const clusterId = identity.clusterId;
    const metrics = options.metrics ?? new CoordinatorMetrics();
    const storage = metrics.instrumentStorage(await LevelRaftStorage.open({ dir: path.join(dataDir, 'coordinator', 'raft'), nodeId, clusterId, logger }));
    const configured = options.voters ?? new Map<number, Endpoint>();
    let transport: TcpRaftTransport;
    try {
      transport = await TcpRaftTransport.start({ nodeId, clusterId, listen: options.raftListen, peers: withoutSelf(configured, nodeId), logger });
    } catch (error) {
      await storage.close();
      throw listenError(options.raftListen, error);
    }
    const log = new RaftMetadataLog({ logger });
    let reportFailure!: (error: StreamBusError) => void;
    const failed = new Promise<StreamBusError>((resolve) => {
      reportFailure = resolve;
    });
    let failure: StreamBusError | undefined;
    let coordinator: Coordinator | undefined = undefined;
    let host: RaftHost;
    try {
      host = await RaftHost.start({
        nodeId,
        storage,
        transport,
        stateMachine: log,
        initialVoters: initialVoters(nodeId, options.voters, logger),
        ...options.raft,
        logger,
        onFatal: (error) => {
          logger.error({ err: error, nodeId }, 'coordinator node stopped for good: it acknowledges nothing from now on');
          failure ??= error;
          coordinator?.fail(error);
          reportFailure(error);
        },
      });
    } catch (error) {
      await transport.close();
      await storage.close();
      throw error;
    }
    log.attach(metrics.instrumentProposer(host));
    const unwatchRaft = metrics.watch({ status: () => host.status(), state: () => log.state, onLeaderChange: (listener) => host.onLeaderChange(listener) });
    // Consumer group lag (kafka_consumergroup_*), refreshed on a timer by the leader: ./group-lag-metrics.ts.
    const groupLag = new GroupLagMetrics({ registry: metrics.registry, state: () => log.state, isLeader: () => host.status().role === 'leader' });
    groupLag.start();
    const unwatch = (): void => {
      unwatchRaft();
      void groupLag.close();
    };
    const raftAddress = transport.address;
    coordinator = Coordinator.start({
      nodeId,
      clusterId,
      host,
      log,
      raft: raftAdvertised(nodeId, options, raftAddress),
      ...(options.api === undefined ? {} : { api: options.api }),
      voters: configured,
      defaults: options.defaults,
      ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
      ...(options.controller === undefined ? {} : { controller: options.controller }),
      ...(options.groups === undefined ? {} : { groups: options.groups }),
      ...(options.transactions === undefined ? {} : { transactions: options.transactions }),
      ...(options.random === undefined ? {} : { random: options.random }),
      logger,
    });
    const status = host.status();
    // A group of one has nobody to wait for: lead now rather than after an election timeout.
    if (status.voters.length === 1 && status.voters[0] === nodeId) host.campaign();
    logger.info({ nodeId, clusterId, dataDir, raft: raftAddress, voters: status.voters, term: status.term, commit: status.commit }, 'coordinator node started');
    return new CoordinatorNode({ identity, dataDir, coordinator, log, host, raftAddress, failed, failure: () => failure, metrics, unwatch });
  }

  /** Live while the Raft host runs; not once it stopped for good (a failed disk) or the node closed. */
  liveness(): NodeHealth {
    const failure = this.#failure();
    if (failure !== undefined) return { ok: false, reasons: [`the raft host stopped for good: ${failure.message}`] };
    if (this.#closing !== undefined) return { ok: false, reasons: ['the coordinator node is shutting down'] };
    return { ok: true, reasons: [] };
  }

  /**
   * Ready when the node is live, knows a leader, and has applied everything the leader had
   * committed when asked: a ReadIndex read barrier (RaftHost.readBarrier) that must complete
   * within `timeoutMs` (default 2 s). A follower still catching up, a node cut off from the
   * leader, and a node waiting to be added are not ready. Concurrent checks share one barrier.
   */
  readiness(options: { readonly timeoutMs?: number } = {}): Promise<NodeHealth> {
    const live = this.liveness();
    if (!live.ok) return Promise.resolve(live);
    const status = this.host.status();
    if (status.leaderId === NO_NODE) return Promise.resolve({ ok: false, reasons: [`no coordinator leader is known (term ${status.term})`] });
    this.#readyCheck ??= this.#caughtUp(options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS).finally(() => {
      this.#readyCheck = undefined;
    });
    return this.#readyCheck;
  }

  async #caughtUp(timeoutMs: number): Promise<NodeHealth> {
    try {
      await this.host.readBarrier({ signal: AbortSignal.timeout(timeoutMs) });
      return { ok: true, reasons: [] };
    } catch (error) {
      const status = this.host.status();
      const why = error instanceof Error ? error.message : String(error);
      return {
        ok: false,
        reasons: [`not caught up with leader ${status.leaderId} within ${timeoutMs} ms (applied ${status.applied}, commit ${status.commit}): ${why}`],
      };
    }
  }

  /**
   * Serves the schema registry's REST API on `listen` (port 0 picks a free one), recording
   * `advertisedHost` and the bound port as this node's registry address whenever it leads. Rejects
   * with INVALID_CONFIG when the address cannot be bound, or when the registry already runs.
   */
  async serveSchemaRegistry(options: {
    readonly listen: Endpoint;
    readonly advertisedHost: string;
    readonly incompatibleErrorCode?: 409 | 40901;
    readonly logger?: Logger;
  }): Promise<SchemaRegistryService> {
    if (this.#schemaRegistry !== undefined) throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'the schema registry already runs on this node');
    const host = this.host;
    this.#schemaRegistry = await SchemaRegistryService.start({
      coordinator: this.coordinator,
      onLeaderChange: (listener) => host.onLeaderChange(listener),
      leaderId: () => host.leaderId,
      listen: options.listen,
      advertisedHost: options.advertisedHost,
      ...(options.incompatibleErrorCode === undefined ? {} : { incompatibleErrorCode: options.incompatibleErrorCode }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    return this.#schemaRegistry;
  }

  /** Stops the schema registry, the coordinator, then the host (transport and store), then the log. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#schemaRegistry?.close();
      this.#unwatch();
      await this.coordinator.close();
      await this.host.close();
      await this.log.close();
    })();
    return this.#closing;
  }
}

function checkNodeId(nodeId: number): number {
  if (!Number.isSafeInteger(nodeId) || nodeId < 1 || nodeId > 2 ** 31 - 1) {
    throw new StreamBusError(
      ErrorCode.INVALID_CONFIG,
      `node.id must be a whole number in 1..2147483647 on a coordinator (Raft node ids start at 1), got ${nodeId}`,
    );
  }
  return nodeId;
}

function checkVoters(voters: ReadonlyMap<number, Endpoint> | undefined): void {
  if (voters === undefined) return;
  if (voters.size === 0) throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'coordinator.voters names no voter');
  for (const [id, endpoint] of voters) {
    checkNodeId(id);
    if (typeof endpoint.host !== 'string' || endpoint.host === '' || !Number.isSafeInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65_535) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `coordinator.voters: node ${id} needs a host and a port in 1..65535, got ${JSON.stringify(endpoint)}`);
    }
  }
}

/** The founding voters for a fresh store (ignored by the host once the store holds a configuration). */
function initialVoters(nodeId: number, voters: ReadonlyMap<number, Endpoint> | undefined, logger: Logger): number[] {
  if (voters === undefined) return [nodeId];
  if (voters.has(nodeId)) return [...voters.keys()].sort((a, b) => a - b);
  logger.info(
    { nodeId, voters: [...voters.keys()] },
    'this node is not among coordinator.voters: if its store is new it starts with no voters and waits to be added (streambus cluster members add)',
  );
  return [];
}

function withoutSelf(voters: ReadonlyMap<number, Endpoint>, nodeId: number): Map<number, Endpoint> {
  return new Map([...voters].filter(([id]) => id !== nodeId));
}

/** The Raft address this node records for itself; see the module comment for the order. */
function raftAdvertised(nodeId: number, options: CoordinatorNodeOptions, bound: Endpoint): Endpoint {
  const configured = options.raftAdvertisedHost;
  if (configured !== undefined && configured !== '') return { host: configured, port: bound.port };
  const listed = options.voters?.get(nodeId);
  if (listed !== undefined) return listed;
  const listen = options.raftListen.host;
  // A wildcard bind names no address a peer could dial: the host name is the best guess.
  const wildcard = listen === '0.0.0.0' || listen === '::' || listen === '[::]' || listen === '';
  return { host: wildcard ? hostname() : listen, port: bound.port };
}

function listenError(listen: Endpoint, error: unknown): Error {
  if (error instanceof StreamBusError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StreamBusError(ErrorCode.INVALID_CONFIG, `cannot listen for raft peers on ${listen.host}:${listen.port}: ${reason}`, { cause: error });
}

/**
 * Data directories of StreamBus before the Raft coordinator kept the metadata in
 * coordinator/metadata-log, a format this version no longer reads. Starting on one would begin a
 * new, empty cluster next to the old broker data, so refuse and say what to do.
 */
async function refuseOldLayout(dataDir: string): Promise<void> {
  const old = path.join(dataDir, 'coordinator', 'metadata-log');
  const found = await stat(old).then(
    () => true,
    () => false,
  );
  if (found) {
    throw new StreamBusError(
      ErrorCode.INVALID_CONFIG,
      `${dataDir} was written by an older StreamBus (it has ${old}, whose format this version does not read); ` +
        'start with a new data.dir, or remove the old directory to discard its data',
    );
  }
}
