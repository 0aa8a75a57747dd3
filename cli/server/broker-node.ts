/**
 * A broker process that follows a coordinator group running elsewhere (`streambus broker`): its
 * partition logs, the native and Kafka protocol listeners and the HTTP admin port, with the cluster metadata
 * followed over the network and admin requests forwarded to the coordinator leader.
 *
 * It is `streambus dev` (./single-node.ts) without the coordinator: the same Broker, MetadataCache
 * and BrokerLifecycle, wired to a CoordinatorClient through broker/server/remote-metadata.ts
 * instead of to an in-process Coordinator. Start-up runs in an order that keeps clients from
 * seeing a half-made broker:
 *   1. follow the metadata until it holds everything the coordinators had committed;
 *   2. check the cluster id against cluster.id (when set) and against <data.dir>/meta.properties
 *      (written on first start, as Kafka does), so a broker pointed at another cluster's
 *      coordinators refuses to start rather than delete every partition that cluster does not
 *      know (the broker removes data of topics its metadata lacks);
 *   3. open the logs, start the broker (it opens the partitions assigned to it) and listen;
 *   4. register (after listening, so the advertised port is the bound one) and wait until the
 *      coordinator unfences the broker; only then is it ready and the admin port opened.
 * While the coordinators are unreachable the broker keeps serving produce and fetch for the
 * partitions it has, from the metadata it has; admin requests fail until a leader answers again.
 * close() is a controlled shutdown: it asks to be fenced, which moves the broker's partition
 * leaderships to other in-sync replicas, waits until the followed metadata shows it leads nothing
 * (at most controlled.shutdown.timeout.ms), then stops the listeners and storage. Partition leaders
 * send their ISR changes to the coordinator leader (AlterPartition) through the same client.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { CoordinatorClient } from '../../client/index.js';
import { MetadataCache, resolveIdentity } from '../../coordinator/index.js';
import { LogStore } from '../../broker/log/index.js';
import { NativeServer } from '../../broker/network/index.js';
import { createMetrics, startAdminServer, type AdminServer, type BrokerMetrics } from '../../broker/observability/index.js';
import { BrokerLifecycle } from '../../broker/server/broker-lifecycle.js';
import { RemoteMetadataLog, remoteControllerGateway } from '../../broker/server/remote-metadata.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { advertisedHost, type ResolvedConfig } from '../config/index.js';
import { packageVersion } from '../version.js';
import { createBroker, startKafkaListener } from './broker-wiring.js';
import { leadershipView } from './controller-wiring.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface BrokerNode {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly dataDir: string;
  readonly coordinators: readonly string[];
  /** Bound address and the address advertised to clients, per listener. */
  readonly native: { readonly bound: Endpoint; readonly advertised: Endpoint };
  /** The Kafka wire-protocol listener (kafka.host:kafka.port). */
  readonly kafka: { readonly bound: Endpoint; readonly advertised: Endpoint };
  readonly admin: { readonly bound: Endpoint; readonly advertised: Endpoint };
  readonly metrics: BrokerMetrics;
  /**
   * Resolves with the error that stopped this broker from applying metadata (a record or snapshot
   * its state machine refuses); never settles otherwise. The broker should then be closed: its
   * view of the cluster can no longer change.
   */
  readonly failure: Promise<Error>;
  /** Fences the broker, then stops the listeners, the broker, storage and the metadata stream. Idempotent. */
  close(): Promise<void>;
}

/** How long each start-up step that needs the coordinators may take before start-up gives up. */
const STARTUP_WAIT_MS = 60_000;
/** How long one AlterPartition may take, retries included, before the leader tries again later. */
const ALTER_PARTITION_TIMEOUT_MS = 5_000;

/**
 * Starts a broker following the coordinators in `coordinators`. Rejects with INVALID_CONFIG for a
 * node.id below 1 or data of another node, INCONSISTENT_CLUSTER_ID for coordinators (or data) of
 * another cluster than configured, REQUEST_TIMED_OUT when the coordinators do not answer or
 * unfence the broker within a minute, and with the signal's reason when aborted meanwhile; nothing
 * keeps running after a rejection.
 */
export async function startBrokerNode(config: ResolvedConfig, logger: Logger, options: { readonly signal?: AbortSignal } = {}): Promise<BrokerNode> {
  const values = config.values;
  const nodeId = values['node.id'];
  if (nodeId < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `node.id must be at least 1 for a broker, got ${nodeId}`);
  const dataDir = path.resolve(values['data.dir']);
  const coordinators = values.coordinators;
  const topicDefaults = { numPartitions: values['num.partitions'], replicationFactor: values['default.replication.factor'] };
  const cleanups: (() => Promise<void>)[] = [];
  let closing: Promise<void> | undefined;
  const closeAll = (): Promise<void> =>
    (closing ??= (async () => {
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch (error) {
          logger.error({ err: error }, 'error while shutting down');
        }
      }
      cleanups.length = 0;
    })());
  const waitFor = <T>(step: string, wait: (signal: AbortSignal) => Promise<T>): Promise<T> => startupStep(step, coordinators, wait, options.signal);

  try {
    const client = new CoordinatorClient({
      bootstrap: coordinators,
      clientId: `streambus-broker-${nodeId}`,
      logger: logger.child({ component: 'coordinator-client' }),
    });
    cleanups.push(() => client.close());

    const remoteLog = new RemoteMetadataLog({ client, logger: logger.child({ component: 'metadata' }) });
    cleanups.push(() => remoteLog.close());
    const cache = new MetadataCache();
    const follower = cache.follow(remoteLog);
    cleanups.push(async () => {
      follower.stop();
      await follower.done.catch(() => undefined);
    });
    const failure = follower.done.then(
      () => new Promise<Error>(() => undefined),
      (error: unknown) => {
        const reason = error instanceof Error ? error : new Error(String(error));
        logger.error({ err: reason }, 'the broker can no longer apply the coordinator metadata');
        return reason;
      },
    );
    logger.info({ coordinators }, 'following the coordinator metadata');
    remoteLog.start();
    await waitFor('catch up with the coordinator metadata', async (signal) => {
      await remoteLog.caughtUp({ signal });
      await cache.waitForOffset(remoteLog.committedOffset, { signal });
    });
    // A new group's first records may come before its init-cluster record (a leader's no-op).
    const clusterId = await waitFor('learn the cluster id from the coordinator metadata', (signal) => clusterIdOf(cache, signal));
    if (values['cluster.id'] !== null && values['cluster.id'] !== clusterId) {
      throw new StreamBusError(
        ErrorCode.INCONSISTENT_CLUSTER_ID,
        `cluster.id is ${values['cluster.id']}, but the coordinators at ${coordinators.join(',')} belong to cluster ${clusterId}`,
      );
    }
    // Refuses (INCONSISTENT_CLUSTER_ID, INVALID_CONFIG) a data.dir of another cluster or node.
    await resolveIdentity({ dataDir, nodeId, clusterId });
    logger.info({ clusterId, metadataOffset: cache.lastAppliedOffset, coordinators }, 'caught up with the coordinator metadata');

    const logs = await LogStore.open({
      dir: path.join(dataDir, 'broker'),
      durability: { mode: values.durability, intervalMs: values['durability.interval.ms'] },
      tailCacheBytes: values['log.tail.cache.bytes'],
      producerExpirationMs: values['producer.id.expiration.ms'],
      logger,
    });
    cleanups.push(() => logs.close());

    const metrics = createMetrics({ version: packageVersion() });
    const gateway = remoteControllerGateway({ client, clusterId: () => cache.state.clusterId });
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
        alterPartition: (request) => client.alterPartition(request, { timeoutMs: ALTER_PARTITION_TIMEOUT_MS }),
        brokerEpoch: () => session.lifecycle?.brokerEpoch,
      },
    });
    await broker.start();
    cleanups.push(() => broker.stop());

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
    const kafka = await startKafkaListener({ config, nodeId, handler: broker, cache, logger, groups: client.groups, transactions: client.transactions });
    cleanups.push(() => kafka.close());

    const nativeAdvertised = { host: advertisedHost(values, 'native', hostname()), port: server.port };
    const lifecycle = new BrokerLifecycle({
      controller: gateway,
      registration: {
        nodeId,
        incarnationId: randomUUID(),
        host: nativeAdvertised.host,
        port: nativeAdvertised.port,
        rack: values['broker.rack'],
        listeners: [{ name: 'native', host: nativeAdvertised.host, port: nativeAdvertised.port }, kafka.registration],
      },
      metadataOffset: () => cache.lastAppliedOffset,
      heartbeatIntervalMs: values['broker.heartbeat.interval.ms'],
      leadership: leadershipView(cache, nodeId),
      controlledShutdownTimeoutMs: values['controlled.shutdown.timeout.ms'],
      logger: logger.child({ component: 'broker-lifecycle' }),
    });
    session.lifecycle = lifecycle;
    // Closed before the listeners (controlled shutdown): its last heartbeat asks to be fenced, which
    // moves this broker's leaderships away, and it waits for that while the broker still serves.
    cleanups.push(() => lifecycle.close());
    await waitFor('register with the coordinator leader', () => lifecycle.start());
    await waitFor('be unfenced by the coordinator leader', (signal) => lifecycle.waitUntilUnfenced({ signal }));

    const admin: AdminServer = await startAdminServer({
      host: values['admin.host'],
      port: values['admin.port'],
      registry: metrics.registry,
      logger,
      authToken: values['admin.auth.token'],
      ready: () => {
        const registered = cache.state.broker(nodeId);
        if (registered === undefined) return { ready: false, reasons: [`broker ${nodeId} is not registered in the metadata yet`] };
        if (registered.fenced) return { ready: false, reasons: [`broker ${nodeId} is fenced (its heartbeats are not reaching the coordinator leader)`] };
        return { ready: true };
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
      clusterId,
      dataDir,
      coordinators,
      native: { bound: { host: server.host, port: server.port }, advertised: nativeAdvertised },
      kafka: { bound: kafka.bound, advertised: kafka.advertised },
      admin: {
        bound: { host: admin.host, port: admin.port },
        advertised: { host: advertisedHost(values, 'admin', hostname()), port: admin.port },
      },
      metrics,
      failure,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * Runs one start-up wait with the start-up deadline and the caller's signal. The deadline turns
 * into REQUEST_TIMED_OUT naming the step and the coordinators; the caller's abort keeps its reason.
 */
async function startupStep<T>(step: string, coordinators: readonly string[], wait: (signal: AbortSignal) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  const deadline = AbortSignal.timeout(STARTUP_WAIT_MS);
  const combined = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
  const work = wait(combined);
  // A wait that ignores the signal (registration retries on its own deadline) still ends start-up.
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(asError(combined.reason));
    if (combined.aborted) onAbort();
    else combined.addEventListener('abort', onAbort, { once: true });
  });
  // Whichever loses the race settles unobserved later; that is expected, not an unhandled rejection.
  work.catch(() => undefined);
  aborted.catch(() => undefined);
  try {
    return await Promise.race([work, aborted]);
  } catch (error) {
    if (signal?.aborted === true) throw asError(signal.reason);
    if (deadline.aborted) {
      throw new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `could not ${step} within ${STARTUP_WAIT_MS} ms (coordinators: ${coordinators.join(',')})`, { cause: error });
    }
    throw error;
  } finally {
    combined.removeEventListener('abort', onAbort);
  }
}

/** The followed metadata's cluster id, once its init-cluster record has been applied. */
function clusterIdOf(cache: MetadataCache, signal: AbortSignal): Promise<string> {
  const known = cache.state.clusterId;
  if (known !== null) return Promise.resolve(known);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      unsubscribe();
      reject(asError(signal.reason));
    };
    const unsubscribe = cache.subscribe(() => {
      const clusterId = cache.state.clusterId;
      if (clusterId === null) return;
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      resolve(clusterId);
    });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

