/**
 * A whole single-node cluster in one process: the coordinator (metadata log and controller), one
 * broker following that log, the native protocol listener and the HTTP admin port.
 *
 * The parts talk through the same seams they will use across processes: the broker learns metadata
 * by following the coordinator's committed log from an offset (MetadataCache.follow), and sends
 * admin requests, its registration and its heartbeats (BrokerLifecycle) through a ControllerGateway.
 * Here both are in-process calls. Start-up waits until the broker is unfenced, so the node never
 * reports ready while topic creation would still find no broker to place replicas on.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  Coordinator,
  MetadataCache,
  describeTopicConfigs,
  resolveTopicConfig,
  type ConfigOp,
  type MetadataFollower,
} from '../../coordinator/index.js';
import { LogStore } from '../../broker/log/index.js';
import { NativeServer } from '../../broker/network/index.js';
import { createMetrics, startAdminServer, type AdminServer, type BrokerMetrics } from '../../broker/observability/index.js';
import { Broker } from '../../broker/server/broker.js';
import { BrokerLifecycle } from '../../broker/server/broker-lifecycle.js';
import type { ControllerGateway, MetadataView, TopicConfigResolver } from '../../broker/server/metadata-view.js';
import type * as M from '../../proto/messages.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { ConfigSource, advertisedHost, settingKeys, specOf, type ResolvedConfig } from '../config/index.js';
import { packageVersion } from '../version.js';

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
  readonly admin: { readonly bound: Endpoint; readonly advertised: Endpoint };
  readonly metrics: BrokerMetrics;
  /** Stops listeners first (no new requests), then the broker, storage and coordinator. */
  close(): Promise<void>;
}

/** How long start-up waits for the coordinator to unfence the broker before it gives up. */
const UNFENCE_WAIT_MS = 30_000;

export async function startSingleNode(config: ResolvedConfig, logger: Logger): Promise<SingleNode> {
  const values = config.values;
  checkSessionSettings(config);
  const nodeId = values['node.id'];
  const dataDir = path.resolve(values['data.dir']);
  const brokerDefaults = brokerTopicDefaults(config);
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
    const coordinator = await Coordinator.open({
      dir: path.join(dataDir, 'coordinator'),
      nodeId,
      ...(values['cluster.id'] === null ? {} : { clusterId: values['cluster.id'] }),
      defaults: topicDefaults,
      sessionTimeoutMs: values['broker.session.timeout.ms'],
      logger: logger.child({ component: 'coordinator' }),
    });
    cleanups.push(() => coordinator.close());

    const logs = await LogStore.open({
      dir: path.join(dataDir, 'broker'),
      durability: { mode: values.durability, intervalMs: values['durability.interval.ms'] },
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

    const metrics = createMetrics({ version: packageVersion() });
    const configs: TopicConfigResolver = {
      resolve: (overrides) => resolveTopicConfig(overrides, brokerDefaults),
      describe: (overrides) => describeTopicConfigs(overrides, brokerDefaults),
    };
    const gateway = controllerGateway(coordinator);
    const broker = new Broker({
      nodeId,
      logs,
      metadata: metadataView(cache, nodeId),
      controller: gateway,
      configs,
      topicDefaults,
      autoCreateTopics: values['auto.create.topics.enable'],
      logger: logger.child({ component: 'broker' }),
      serverVersion: packageVersion(),
      maxFrameBytes: values['max.frame.bytes'],
      maxInFlight: values['max.in.flight.per.connection'],
      traffic: {
        produced: (topic, records, bytes) => {
          metrics.recordsIn.inc({ topic }, records);
          metrics.bytesIn.inc({ topic }, bytes);
        },
        fetched: (topic, records, bytes) => {
          metrics.recordsOut.inc({ topic }, records);
          metrics.bytesOut.inc({ topic }, bytes);
        },
      },
    });
    await broker.start();
    cleanups.push(() => broker.stop());

    metrics.setPartitionSource(function* () {
      for (const log of logs.partitions()) {
        const topic = cache.state.topicById(log.topicId);
        if (topic === undefined) continue;
        yield {
          topic: topic.name,
          partition: log.partition,
          logStartOffset: log.logStartOffset,
          logEndOffset: log.logEndOffset,
          highWatermark: log.highWatermark,
          sizeBytes: log.sizeBytes,
        };
      }
    });

    const server = new NativeServer({
      handler: broker,
      host: values['native.host'],
      port: values['native.port'],
      maxFrameBytes: values['max.frame.bytes'],
      maxInFlightPerConnection: values['max.in.flight.per.connection'],
      logger: logger.child({ component: 'native' }),
      onRequestDone: (api, durationMs, errorCode) => metrics.observeRequest(api, durationMs, errorCode),
    });
    await server.listen();
    cleanups.push(() => server.close());

    const nativeAdvertised = { host: advertisedHost(values, 'native', hostname()), port: server.port };
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
        listeners: [{ name: 'native', host: nativeAdvertised.host, port: nativeAdvertised.port }],
      },
      metadataOffset: () => cache.lastAppliedOffset,
      heartbeatIntervalMs: values['broker.heartbeat.interval.ms'],
      logger: logger.child({ component: 'broker-lifecycle' }),
    });
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
      dataDir,
      native: { bound: { host: server.host, port: server.port }, advertised: nativeAdvertised },
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

/**
 * Broker-wide defaults of topic configs (log.retention.ms and friends) that the operator actually
 * set. Unset ones are left out so DescribeConfigs reports them as built-in defaults, not as
 * broker settings, as Kafka does.
 */
function brokerTopicDefaults(config: ResolvedConfig): Record<string, string> {
  const defaults: Record<string, string> = {};
  for (const key of settingKeys) {
    const topicConfig = specOf(key).topicConfig;
    if (topicConfig === undefined || config.origins[key].source === ConfigSource.DEFAULT) continue;
    defaults[topicConfig] = String(config.values[key]);
  }
  return defaults;
}

/** The broker's read view of the followed metadata. */
function metadataView(cache: MetadataCache, controllerId: number): MetadataView {
  return {
    get clusterId() {
      return cache.state.clusterId ?? '';
    },
    controllerId,
    get offset() {
      return cache.lastAppliedOffset;
    },
    topic: (name) => cache.state.topic(name),
    topics: () => cache.state.topics(),
    brokers: () => cache.state.brokers(),
    onChange: (listener) => cache.subscribe(() => listener()),
  };
}

/** A wire config op (0 set, 1 delete); any other op number is refused, naming the key. */
function configOp(op: M.ConfigOp): ConfigOp {
  if (op.op === 1) return { op: 'delete', key: op.name };
  if (op.op === 0 && op.value !== undefined) return { op: 'set', key: op.name, value: op.value };
  throw new StreamBusError(
    ErrorCode.INVALID_REQUEST,
    op.op === 0 ? `config op 'set' of ${op.name} has no value` : `config op ${op.op} of ${op.name} is unknown: use 0 (set) or 1 (delete)`,
  );
}

/** Admin requests from the native protocol, handed to the in-process coordinator. */
function controllerGateway(coordinator: Coordinator): ControllerGateway {
  const wire = (result: { name: string; errorCode: number; errorMessage: string | null; topicId?: string }): M.TopicResult => ({
    name: result.name,
    errorCode: result.errorCode,
    errorMessage: result.errorMessage ?? '',
    topicId: result.topicId ?? '',
  });
  return {
    async createTopics(request, defaults) {
      const outcome = await coordinator.createTopics(
        request.topics.map((topic) => ({
          name: topic.name,
          // 0 on the wire means "the broker default", which the controller spells -1.
          numPartitions: topic.partitions === 0 ? -1 : topic.partitions,
          replicationFactor: topic.replicationFactor === 0 ? -1 : topic.replicationFactor,
          configs: topic.configs,
        })),
        { validateOnly: request.validateOnly, defaults },
      );
      return { results: outcome.results.map(wire), metadataOffset: outcome.metadataOffset };
    },
    async deleteTopics(request) {
      const outcome = await coordinator.deleteTopics(request.names);
      return { results: outcome.results.map(wire), metadataOffset: outcome.metadataOffset };
    },
    async alterConfigs(request) {
      const outcome = await coordinator.alterConfigs(
        request.topics.map((topic) => ({
          name: topic.name,
          ops: topic.ops.map((op): ConfigOp => configOp(op)),
        })),
        { validateOnly: request.validateOnly },
      );
      return { results: outcome.results.map(wire), metadataOffset: outcome.metadataOffset };
    },
    async createPartitions(request) {
      const outcome = await coordinator.createPartitions(
        request.topics.map((topic) => ({ name: topic.name, count: topic.count })),
        { validateOnly: request.validateOnly },
      );
      return { results: outcome.results.map(wire), metadataOffset: outcome.metadataOffset };
    },
    registerBroker: (request) => coordinator.registerBroker(request),
    brokerHeartbeat: (request) => coordinator.brokerHeartbeat(request),
  };
}
