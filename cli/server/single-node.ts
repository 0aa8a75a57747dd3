/**
 * A whole single-node cluster in one process: the coordinator (a Raft group of one voter: the same
 * storage, host, replicated metadata log and Coordinator as `streambus coordinator`), one broker
 * following that log, the native and Kafka protocol listeners and the HTTP admin port.
 *
 * The parts talk through the same seams they use across processes: the broker learns metadata
 * by following the coordinator's committed log from an offset (MetadataCache.follow), and sends
 * admin requests, its registration and its heartbeats (BrokerLifecycle) through a ControllerGateway.
 * Here both are in-process calls. The native port serves the broker's APIs and the coordinator's
 * (APIs 11-16), split by API (proto/api.ts isCoordinatorApi), so the `cluster` commands work
 * against `streambus dev` too.
 *
 * Start-up order matters: the broker starts only once the coordinator leads and has applied every
 * committed entry (Coordinator.whenLeading), because the broker deletes the data of topics the
 * metadata does not have; and the node reports ready only once the broker is unfenced, so topic
 * creation never finds no broker to place replicas on. The cluster id is generated on first start
 * and kept in <data.dir>/meta.properties.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  type Coordinator,
  CoordinatorHandler,
  CoordinatorMetrics,
  CoordinatorNode,
  MetadataCache,
  configOpFromWire,
  createTopicFromWire,
  topicResultToWire,
  type MetadataFollower,
} from '../../coordinator/index.js';
import { LogStore } from '../../broker/log/index.js';
import { CoordinatorClient } from '../../client/index.js';
import { NativeServer, type Handler } from '../../broker/network/index.js';
import { createMetrics, startAdminServer, type AdminServer, type BrokerMetrics } from '../../broker/observability/index.js';
import { BrokerLifecycle } from '../../broker/server/broker-lifecycle.js';
import type { ControllerGateway } from '../../broker/server/metadata-view.js';
import { isCoordinatorApi } from '../../proto/api.js';
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import { advertisedHost, type ResolvedConfig } from '../config/index.js';
import { packageVersion } from '../version.js';
import { createBroker, startKafkaListener } from './broker-wiring.js';
import { controllerSettings, leadershipView } from './controller-wiring.js';
import { groupSettings } from './group-wiring.js';
import { type RegistryAddresses, serveSchemaRegistry } from './registry-wiring.js';
import { transactionSettings } from './transaction-wiring.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface SingleNode {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly dataDir: string;
  /** Bound address and the address advertised to clients, per listener. */
  readonly native: { readonly bound: Endpoint; readonly advertised: Endpoint };
  /** The Kafka wire-protocol listener (kafka.host:kafka.port). */
  readonly kafka: { readonly bound: Endpoint; readonly advertised: Endpoint };
  readonly admin: { readonly bound: Endpoint; readonly advertised: Endpoint };
  /** The schema registry's REST API (schema.registry.host:schema.registry.port); null when disabled. */
  readonly schemaRegistry: RegistryAddresses | null;
  /** The Raft listener of the one-voter coordinator group. */
  readonly raft: { readonly bound: Endpoint };
  readonly metrics: BrokerMetrics;
  /** Resolves with the error if the coordinator stops for good (a failing disk); the process should then exit non-zero. */
  readonly failed: Promise<StreamBusError>;
  /** Stops listeners first (no new requests), then the broker, storage and coordinator. */
  close(): Promise<void>;
}

/** How long start-up waits for the coordinator to unfence the broker before it gives up. */
const UNFENCE_WAIT_MS = 30_000;
/** How long start-up waits for the one-voter group to elect itself and apply its log. */
const LEADER_WAIT_MS = 30_000;

export async function startSingleNode(config: ResolvedConfig, logger: Logger): Promise<SingleNode> {
  const values = config.values;
  checkSessionSettings(config);
  const nodeId = values['node.id'];
  const dataDir = path.resolve(values['data.dir']);
  const topicDefaults = { numPartitions: values['num.partitions'], replicationFactor: values['default.replication.factor'] };
  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.error({ err: error }, 'error while shutting down');
      }
    }
    cleanups.length = 0;
  };

  try {
    // One registry for the whole process: the broker's metrics and the coordinator's Raft metrics.
    const metrics = createMetrics({ version: packageVersion() });
    const coordinatorNode = await CoordinatorNode.start({
      metrics: new CoordinatorMetrics({ registry: metrics.registry }),
      nodeId,
      clusterId: values['cluster.id'] ?? undefined,
      generateClusterId: true,
      dataDir,
      raftListen: { host: values['raft.host'], port: values['raft.port'] },
      defaults: topicDefaults,
      sessionTimeoutMs: values['broker.session.timeout.ms'],
      controller: controllerSettings(values),
      groups: groupSettings(values),
      transactions: transactionSettings(values),
      logger: logger.child({ component: 'coordinator' }),
    });
    cleanups.push(() => coordinatorNode.close());
    const coordinator = coordinatorNode.coordinator;
    await waitUntilLeading(coordinator);

    const logs = await LogStore.open({
      dir: path.join(dataDir, 'broker'),
      durability: { mode: values.durability, intervalMs: values['durability.interval.ms'] },
      tailCacheBytes: values['log.tail.cache.bytes'],
      producerExpirationMs: values['producer.id.expiration.ms'],
      logger,
    });
    cleanups.push(() => logs.close());

    const cache = new MetadataCache();
    const follower: MetadataFollower = cache.follow(coordinator.log);
    cleanups.push(async () => {
      follower.stop();
      await follower.done.catch(() => undefined);
    });
    await follower.caughtUp;

    const gateway = controllerGateway(coordinator);
    // Filled in once registered below; partition leaders send their ISR changes under its broker epoch.
    const session: { lifecycle?: BrokerLifecycle } = {};
    const broker = createBroker({
      config,
      nodeId,
      logs,
      cache,
      controller: gateway,
      topicDefaults,
      metrics,
      logger,
      isr: {
        alterPartition: async (request) => {
          const outcome = await coordinator.alterPartition(request);
          return { partitions: outcome.results.map((r) => ({ ...r, error: errorFromCode(r.errorCode, r.errorMessage ?? undefined) })) };
        },
        brokerEpoch: () => session.lifecycle?.brokerEpoch,
      },
    });
    await broker.start();
    cleanups.push(() => broker.stop());

    const coordinatorHandler = new CoordinatorHandler({
      coordinator,
      serverVersion: packageVersion(),
      maxFrameBytes: values['max.frame.bytes'],
      maxInFlight: values['max.in.flight.per.connection'],
      logger: logger.child({ component: 'coordinator-api' }),
    });
    const handler: Handler = {
      handle: (api, version, body, ctx) => (isCoordinatorApi(api) ? coordinatorHandler.handle(api, version, body, ctx) : broker.handle(api, version, body, ctx)),
    };
    const server = new NativeServer({
      handler,
      host: values['native.host'],
      port: values['native.port'],
      maxFrameBytes: values['max.frame.bytes'],
      maxInFlightPerConnection: values['max.in.flight.per.connection'],
      logger: logger.child({ component: 'native' }),
      onRequestDone: (api, durationMs, errorCode) => metrics.observeRequest(api, durationMs, errorCode),
    });
    await server.listen();
    cleanups.push(() => server.close());
    // Kafka group requests are forwarded to the group coordinator as a multi-node broker forwards
    // them: through a coordinator client, here one that reaches this process's own native listener.
    const groupClient = new CoordinatorClient({
      bootstrap: [{ host: advertisedHost(values, 'native', hostname()), port: server.port }],
      clientId: `streambus-kafka-${nodeId}`,
      logger: logger.child({ component: 'kafka-groups' }),
    });
    cleanups.push(() => groupClient.close());
    const kafka = await startKafkaListener({ config, nodeId, handler: broker, cache, logger, groups: groupClient.groups, transactions: groupClient.transactions });
    cleanups.push(() => kafka.close());

    // Closed by coordinatorNode.close(), which runs after the listeners above are closed.
    const schemaRegistry = await serveSchemaRegistry(coordinatorNode, values, logger);

    const nativeAdvertised = { host: advertisedHost(values, 'native', hostname()), port: server.port };
    // The coordinator APIs are served here: record this address as the group's API address.
    coordinator.setApiEndpoint(nativeAdvertised);
    // Registering after the listener is bound means the advertised port is the real one, even when
    // port 0 was asked for. Each start is a new incarnation, so it gets a new broker epoch.
    const lifecycle = new BrokerLifecycle({
      controller: gateway,
      registration: {
        nodeId,
        incarnationId: randomUUID(),
        host: nativeAdvertised.host,
        port: nativeAdvertised.port,
        rack: null,
        listeners: [{ name: 'native', host: nativeAdvertised.host, port: nativeAdvertised.port }, kafka.registration],
      },
      metadataOffset: () => cache.lastAppliedOffset,
      heartbeatIntervalMs: values['broker.heartbeat.interval.ms'],
      leadership: leadershipView(cache, nodeId),
      controlledShutdownTimeoutMs: values['controlled.shutdown.timeout.ms'],
      logger: logger.child({ component: 'broker-lifecycle' }),
    });
    session.lifecycle = lifecycle;
    // Closed before the listeners and the coordinator: its last heartbeat asks to be fenced.
    cleanups.push(() => lifecycle.close());
    await lifecycle.start();
    await waitUntilUnfenced(lifecycle);

    const admin: AdminServer = await startAdminServer({
      host: values['admin.host'],
      port: values['admin.port'],
      registry: metrics.registry,
      logger,
      authToken: values['admin.auth.token'],
      ready: () => {
        const reasons: string[] = [];
        const registered = cache.state.broker(nodeId);
        if (registered === undefined) reasons.push(`broker ${nodeId} is not registered in the metadata yet`);
        else if (registered.fenced) reasons.push(`broker ${nodeId} is fenced (its heartbeats are not reaching the coordinator)`);
        return reasons.length === 0 ? { ready: true } : { ready: false, reasons };
      },
    });
    cleanups.push(() => admin.close());

    const maintenance = setInterval(() => {
      logs.runMaintenance(Date.now()).catch((error: unknown) => logger.error({ err: error }, 'retention and compaction pass failed'));
    }, values['retention.check.interval.ms']);
    maintenance.unref();
    cleanups.push(() => {
      clearInterval(maintenance);
      return Promise.resolve();
    });

    return {
      nodeId,
      clusterId: coordinator.clusterId,
      raft: { bound: coordinatorNode.raftAddress },
      schemaRegistry,
      failed: coordinatorNode.failed,
      dataDir,
      native: { bound: { host: server.host, port: server.port }, advertised: nativeAdvertised },
      kafka: { bound: kafka.bound, advertised: kafka.advertised },
      admin: {
        bound: { host: admin.host, port: admin.port },
        advertised: { host: advertisedHost(values, 'admin', hostname()), port: admin.port },
      },
      metrics,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** A heartbeat interval at or above the session timeout would fence a healthy broker now and then. */
function checkSessionSettings(config: ResolvedConfig): void {
  const timeoutMs = config.values['broker.session.timeout.ms'];
  const intervalMs = config.values['broker.heartbeat.interval.ms'];
  if (intervalMs >= timeoutMs) {
    throw new StreamBusError(
      ErrorCode.INVALID_CONFIG,
      `broker.heartbeat.interval.ms (${intervalMs}) must be smaller than broker.session.timeout.ms (${timeoutMs}); ` +
        'Kafka\'s defaults are 2000 and 9000',
    );
  }
}

async function waitUntilLeading(coordinator: Coordinator): Promise<void> {
  try {
    await coordinator.whenLeading({ signal: AbortSignal.timeout(LEADER_WAIT_MS) });
  } catch (error) {
    if (error instanceof StreamBusError) throw error;
    throw new StreamBusError(
      ErrorCode.REQUEST_TIMED_OUT,
      `the coordinator (a Raft group of this node alone) did not take the lead within ${LEADER_WAIT_MS} ms`,
      { cause: error },
    );
  }
}

async function waitUntilUnfenced(lifecycle: BrokerLifecycle): Promise<void> {
  try {
    await lifecycle.waitUntilUnfenced({ signal: AbortSignal.timeout(UNFENCE_WAIT_MS) });
  } catch (error) {
    if (error instanceof StreamBusError) throw error;
    throw new StreamBusError(
      ErrorCode.REQUEST_TIMED_OUT,
      `broker ${lifecycle.nodeId} registered but the coordinator did not unfence it within ${UNFENCE_WAIT_MS} ms`,
      { cause: error },
    );
  }
}

/** Admin requests from the native protocol, handed to the in-process coordinator. */
function controllerGateway(coordinator: Coordinator): ControllerGateway {
  return {
    async createTopics(request, defaults) {
      const outcome = await coordinator.createTopics(request.topics.map(createTopicFromWire), { validateOnly: request.validateOnly, defaults });
      return { results: outcome.results.map(topicResultToWire), metadataOffset: outcome.metadataOffset };
    },
    async deleteTopics(request) {
      const outcome = await coordinator.deleteTopics(request.names);
      return { results: outcome.results.map(topicResultToWire), metadataOffset: outcome.metadataOffset };
    },
    async alterConfigs(request) {
      const outcome = await coordinator.alterConfigs(
        request.topics.map((topic) => ({ name: topic.name, ops: topic.ops.map(configOpFromWire) })),
        { validateOnly: request.validateOnly },
      );
      return { results: outcome.results.map(topicResultToWire), metadataOffset: outcome.metadataOffset };
    },
    async createPartitions(request) {
      const outcome = await coordinator.createPartitions(
        request.topics.map((topic) => ({ name: topic.name, count: topic.count })),
        { validateOnly: request.validateOnly },
      );
      return { results: outcome.results.map(topicResultToWire), metadataOffset: outcome.metadataOffset };
    },
    registerBroker: (request) => coordinator.registerBroker(request),
    brokerHeartbeat: (request) => coordinator.brokerHeartbeat(request),
  };
}
