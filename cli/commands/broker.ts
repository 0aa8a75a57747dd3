/**
 * `streambus broker`: one broker process of a multi-process cluster, following the coordinator
 * group named by `coordinators` (see ../server/broker-node.ts for what it does and in which order).
 *
 * Like `streambus dev`, it prints a banner for people on stderr and logs one JSON line
 * `{"msg":"streambus broker ready","native":{…},"kafka":{…},"admin":{…}}` on stdout for scripts and test
 * harnesses, then serves until SIGINT or SIGTERM, when it asks to be fenced and shuts down. If it
 * can no longer apply the coordinators' metadata it shuts down too, and exits with status 1.
 */
import { once } from 'node:events';
import { defineCommand } from '../command.js';
import { createLogger } from '../../broker/observability/index.js';
import { startBrokerNode, type BrokerNode } from '../server/broker-node.js';
import { packageVersion } from '../version.js';

export const command = defineCommand({
  name: 'broker',
  summary: 'Run a broker that follows a coordinator group (see `streambus coordinator`)',
  description:
    'Starts a broker: partition logs under data.dir, the native and Kafka protocol listeners and the HTTP admin port (/metrics, /livez, /readyz). ' +
    'It follows the cluster metadata from the coordinators named by --coordinators (any one reachable node is enough), registers ' +
    'with node.id, and reports ready once the coordinator leader has unfenced it. Admin requests it receives are forwarded to the ' +
    'coordinator leader. Stop it with Ctrl-C or SIGTERM: it asks to be fenced first.',
  scope: 'server',
  positionals: [],
  options: {},
  examples: [
    'streambus broker --node-id 101 --coordinators 127.0.0.1:9094,127.0.0.2:9094,127.0.0.3:9094 --data-dir /var/lib/streambus',
    'streambus broker --node-id 102 --coordinators 127.0.0.1:9094 --set native.port=19093 --set admin.port=19644 --set broker.rack=zone-a',
  ],
  async run(ctx) {
    const values = ctx.config.values;
    const logger = createLogger({ level: values['log.level'], format: values['log.format'], base: { node: values['node.id'] } });
    let node: BrokerNode;
    try {
      node = await startBrokerNode(ctx.config, logger, { signal: ctx.signal });
    } catch (error) {
      // Stopped while still starting (waiting for the coordinators, say): a clean exit, not a failure.
      if (!ctx.signal.aborted) throw error;
      logger.info('stopped before start-up finished');
      return;
    }
    const native = node.native.advertised;
    const kafka = node.kafka.advertised;
    const admin = node.admin.advertised;
    process.stderr.write(
      [
        `StreamBus ${packageVersion()} broker — node ${node.nodeId}, cluster ${node.clusterId}, data ${node.dataDir}`,
        `  coordinators      ${node.coordinators.join(',')}`,
        `  native protocol   ${native.host}:${native.port}`,
        `  kafka protocol    ${kafka.host}:${kafka.port}`,
        `  admin HTTP        http://${admin.host}:${admin.port}  (/metrics /livez /readyz)`,
        `  durability        ${values.durability}`,
        '',
      ].join('\n'),
    );
    logger.info(
      { native, kafka, admin, nodeId: node.nodeId, clusterId: node.clusterId, coordinators: node.coordinators, dataDir: node.dataDir, durability: values.durability },
      'streambus broker ready',
    );
    const stopped = ctx.signal.aborted ? Promise.resolve(undefined) : once(ctx.signal, 'abort').then(() => undefined);
    const failure = await Promise.race([stopped, node.failure]);
    logger.info('shutting down');
    await node.close();
    logger.info('stopped');
    if (failure !== undefined) throw failure;
  },
});
