/**
 * `streambus coordinator`: runs one node of the coordinator group, the Raft group that owns the
 * cluster's metadata (topics, partitions, configs, broker registrations).
 *
 * The node replicates the metadata log with its peers on raft.host:raft.port, serves the
 * coordinator API (status, metadata fetch, broker registration and heartbeats, membership changes,
 * leadership transfer, topic administration) on coordinator.host:coordinator.port, and the HTTP
 * admin port (/metrics, /livez, /readyz) on admin.host:admin.port. /livez fails once the Raft host
 * stopped for good; /readyz answers 200 once a leader is known and this node has applied what the
 * leader had committed (CoordinatorNode.readiness). It prints a banner on stderr (for people) and
 * logs one JSON line `{"msg":"streambus coordinator ready","api":{…},"raft":{…},"admin":{…}}` on
 * stdout (for scripts and test harnesses) once its listeners are bound; it need not lead, or even
 * know a leader, by then. `api` is the advertised API address, the one recorded in the metadata
 * (coordinator.advertised.host, else the bind host or, for a wildcard, the host name).
 * It serves until SIGINT or SIGTERM and then shuts down cleanly; if it stops for good (a failing
 * disk) it shuts down and exits non-zero.
 */
import { hostname } from 'node:os';
import path from 'node:path';
import { defineCommand } from '../command.js';
import { createLogger, startAdminServer, type AdminServer } from '../../broker/observability/index.js';
import { NativeServer } from '../../broker/network/index.js';
import { CoordinatorHandler, CoordinatorMetrics, CoordinatorNode, formatVoters, parseVoters, type Endpoint } from '../../coordinator/index.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { advertisedHost, type ConfigValues } from '../config/index.js';
import { packageVersion } from '../version.js';
import { controllerSettings } from '../server/controller-wiring.js';
import { groupSettings } from '../server/group-wiring.js';
import { type RegistryAddresses, serveSchemaRegistry } from '../server/registry-wiring.js';
import { transactionSettings } from '../server/transaction-wiring.js';
import { untilStopped } from './dev.js';

export const command = defineCommand({
  name: 'coordinator',
  summary: 'Run one node of the coordinator group (the Raft group that owns cluster metadata)',
  description:
    'Starts a coordinator node: it replicates the metadata log with the other coordinators (raft.host, raft.port) and serves ' +
    'the coordinator API (coordinator.host, coordinator.port) and the HTTP admin port (admin.host, admin.port: /metrics, /livez, /readyz). ' +
    'The founding voters are named by coordinator.voters ' +
    '(id@host:port,...), and every node of a group needs the same cluster.id. A node not among the voters starts empty and ' +
    'waits to be added with `streambus cluster members add`. deploy/local-coordinators.sh runs three on 127.0.0.1-3. ' +
    'Stop it with Ctrl-C or SIGTERM.',
  scope: 'server',
  positionals: [],
  options: {},
  examples: [
    'streambus coordinator --node-id 1 --data-dir /var/lib/streambus/c1 --set cluster.id=Zp3Nq4WCR5Wz0k7Qq1c3Hg \\\n' +
      '  --set coordinator.voters=1@10.0.0.1:9095,2@10.0.0.2:9095,3@10.0.0.3:9095 --set raft.host=10.0.0.1 --set coordinator.host=10.0.0.1',
    'deploy/local-coordinators.sh start',
  ],
  async run(ctx) {
    const values = ctx.config.values;
    const nodeId = values['node.id'];
    const logger = createLogger({ level: values['log.level'], format: values['log.format'], base: { node: nodeId } });
    const voters = values['coordinator.voters'] === null ? undefined : parseVoters(values['coordinator.voters']);
    const raftListen = raftListenAddress(values, nodeId, voters);
    const node = await CoordinatorNode.start({
      nodeId,
      clusterId: values['cluster.id'] ?? undefined,
      dataDir: path.resolve(values['data.dir']),
      ...(voters === undefined ? {} : { voters }),
      raftListen,
      raftAdvertisedHost: values['raft.advertised.host'] ?? undefined,
      defaults: { numPartitions: values['num.partitions'], replicationFactor: values['default.replication.factor'] },
      sessionTimeoutMs: values['broker.session.timeout.ms'],
      controller: controllerSettings(values),
      groups: groupSettings(values),
      transactions: transactionSettings(values),
      logger: logger.child({ component: 'coordinator' }),
      metrics: new CoordinatorMetrics({ defaultMetrics: true, version: packageVersion() }),
    });
    let server: NativeServer | undefined;
    let admin: AdminServer | undefined;
    let registry: RegistryAddresses | null = null;
    try {
      server = new NativeServer({
        handler: new CoordinatorHandler({
          coordinator: node.coordinator,
          serverVersion: packageVersion(),
          maxFrameBytes: values['max.frame.bytes'],
          maxInFlight: values['max.in.flight.per.connection'],
          logger: logger.child({ component: 'coordinator-api' }),
        }),
        host: values['coordinator.host'],
        port: values['coordinator.port'],
        maxFrameBytes: values['max.frame.bytes'],
        maxInFlightPerConnection: values['max.in.flight.per.connection'],
        logger: logger.child({ component: 'coordinator-api' }),
      });
      await server.listen();
      // Stopped by node.close().
      registry = await serveSchemaRegistry(node, values, logger);
      admin = await startAdminServer({
        host: values['admin.host'],
        port: values['admin.port'],
        registry: node.metrics.registry,
        logger,
        authToken: values['admin.auth.token'],
        live: () => {
          const health = node.liveness();
          return { live: health.ok, reasons: health.reasons };
        },
        ready: async () => {
          const health = await node.readiness();
          return { ready: health.ok, reasons: health.reasons };
        },
      });
    } catch (error) {
      await server?.close();
      await node.close();
      throw error;
    }
    const api = { host: advertisedHost(values, 'coordinator', hostname()), port: server.port };
    node.coordinator.setApiEndpoint(api);
    const raft = node.raftAddress;
    const adminAddress = { host: advertisedHost(values, 'admin', hostname()), port: admin.port };
    process.stderr.write(
      [
        `StreamBus ${packageVersion()} coordinator — node ${node.nodeId}, cluster ${node.clusterId}, data ${node.dataDir}`,
        `  coordinator API   ${api.host}:${api.port}`,
        `  raft              ${raft.host}:${raft.port}`,
        `  admin HTTP        http://${adminAddress.host}:${adminAddress.port}  (/metrics /livez /readyz)`,
        ...(registry === null ? [] : [`  schema registry   http://${registry.advertised.host}:${registry.advertised.port}`]),
        `  voters            ${voters === undefined ? `${nodeId} (this node alone)` : formatVoters(voters)}`,
        '',
      ].join('\n'),
    );
    logger.info({ api, raft, admin: adminAddress, ...(registry === null ? {} : { schemaRegistry: registry.advertised }), nodeId: node.nodeId, clusterId: node.clusterId, dataDir: node.dataDir }, 'streambus coordinator ready');
    const failure = await untilStopped(ctx.signal, node.failed);
    logger.info('shutting down');
    await admin.close();
    await server.close();
    await node.close();
    logger.info('stopped');
    if (failure !== undefined) throw failure;
  },
});

/**
 * Where the Raft listener binds: raft.host and raft.port, except that raft.port 0 takes this
 * node's port from coordinator.voters (its peers dial that one). A fixed raft.port that differs
 * from the voters entry would leave the node unreachable: INVALID_CONFIG.
 */
function raftListenAddress(values: ConfigValues, nodeId: number, voters: ReadonlyMap<number, Endpoint> | undefined): Endpoint {
  const listed = voters?.get(nodeId);
  const port = values['raft.port'];
  if (listed !== undefined && port !== 0 && port !== listed.port) {
    throw new StreamBusError(
      ErrorCode.INVALID_CONFIG,
      `coordinator.voters gives node ${nodeId} the raft port ${listed.port}, but raft.port is ${port}; its peers would dial the wrong port`,
    );
  }
  return { host: values['raft.host'], port: port === 0 && listed !== undefined ? listed.port : port };
}
