/**
 * `streambus dev`: a whole single-node cluster in this process, what `npm start` runs.
 *
 * It prints a banner with each listener's advertised address on stderr (for people) and logs one
 * JSON line `{"msg":"streambus ready","native":{…},"kafka":{…},"admin":{…},"raft":{…},"schemaRegistry":{…}}` on stdout (for scripts
 * and the test harness), then serves until SIGINT or SIGTERM, when it shuts down cleanly. If the
 * coordinator stops for good (a failing disk) it shuts down too and exits non-zero.
 */
import { defineCommand } from '../command.js';
import { createLogger } from '../../broker/observability/index.js';
import { startSingleNode } from '../server/single-node.js';
import { packageVersion } from '../version.js';

export const command = defineCommand({
  name: 'dev',
  summary: 'Run a single-node cluster in this process (data in ./data)',
  description:
    'Starts the coordinator, a broker, the native and Kafka protocol listeners, the schema registry (port 8081) and the HTTP admin port (/metrics, /livez, /readyz) ' +
    'in one process, with data under data.dir (./data, or STREAMBUS_DATA_DIR). Stop it with Ctrl-C.',
  scope: 'server',
  positionals: [],
  options: {},
  examples: ['streambus dev', 'streambus dev --data-dir /tmp/sb --set native.port=19093', 'STREAMBUS_DURABILITY=sync streambus dev'],
  async run(ctx) {
    const values = ctx.config.values;
    const logger = createLogger({ level: values['log.level'], format: values['log.format'], base: { node: values['node.id'] } });
    const node = await startSingleNode(ctx.config, logger);
    const native = node.native.advertised;
    const kafka = node.kafka.advertised;
    const admin = node.admin.advertised;
    const raft = node.raft.bound;
    const registry = node.schemaRegistry?.advertised;
    process.stderr.write(
      [
        `StreamBus ${packageVersion()} — node ${node.nodeId}, cluster ${node.clusterId}, data ${node.dataDir}`,
        `  native protocol   ${native.host}:${native.port}`,
        `  kafka protocol    ${kafka.host}:${kafka.port}`,
        `  admin HTTP        http://${admin.host}:${admin.port}  (/metrics /livez /readyz)`,
        ...(registry === undefined ? [] : [`  schema registry   http://${registry.host}:${registry.port}`]),
        `  raft (group of 1) ${raft.host}:${raft.port}`,
        `  durability        ${values.durability}`,
        '',
      ].join('\n'),
    );
    logger.info({ native, kafka, admin, raft, ...(registry === undefined ? {} : { schemaRegistry: registry }), clusterId: node.clusterId, dataDir: node.dataDir, durability: values.durability }, 'streambus ready');
    const failure = await untilStopped(ctx.signal, node.failed);
    logger.info('shutting down');
    await node.close();
    logger.info('stopped');
    if (failure !== undefined) throw failure;
  },
});

/** Resolves on the first abort (undefined) or with the node's fatal error, whichever comes first. */
export function untilStopped<E>(signal: AbortSignal, failed: Promise<E>): Promise<E | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    void failed.then((error) => {
      signal.removeEventListener('abort', onAbort);
      resolve(error);
    });
  });
}
