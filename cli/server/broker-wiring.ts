/**
 * What `streambus dev` and `streambus broker` wire the same way around a Broker: the broker-wide
 * topic defaults from the resolved config, the broker's read view of a followed MetadataCache, and
 * the Broker itself with its traffic and partition metrics, and the Kafka listener in front of it.
 * They differ only in where admin requests go (the ControllerGateway) and in what runs beside the
 * broker.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { type MetadataCache, type TopicDefaults, describeTopicConfigs, resolveTopicConfig } from '../../coordinator/index.js';
import { connect } from '../../client/index.js';
import type { LogStore } from '../../broker/log/index.js';
import type { BrokerMetrics } from '../../broker/observability/index.js';
import { Broker } from '../../broker/server/broker.js';
import { storeSchemaIdLookup } from '../../broker/server/schema-validation.js';
import type { ControllerGateway, MetadataView, TopicConfigResolver } from '../../broker/server/metadata-view.js';
import type { ReplicationOptions } from '../../broker/replication/replica-manager.js';
import { KafkaListener, type KafkaBrokerConfigEntry, type KafkaGroupCoordinator, type KafkaTxnCoordinator } from '../../broker/kafka/index.js';
import type { Handler } from '../../broker/network/index.js';
import { ConfigSource, advertisedHost, describeConfig, formatConfigValue, settingKeys, specOf, type ResolvedConfig } from '../config/index.js';
import { packageVersion } from '../version.js';

/**
 * Broker-wide defaults of topic configs (log.retention.ms and friends) that the operator actually
 * set. Unset ones are left out so DescribeConfigs reports them as built-in defaults, not as
 * broker settings, as Kafka does.
 */
export function brokerTopicDefaults(config: ResolvedConfig): Record<string, string> {
  const defaults: Record<string, string> = {};
  for (const key of settingKeys) {
    const topicConfig = specOf(key).topicConfig;
    if (topicConfig === undefined || config.origins[key].source === ConfigSource.DEFAULT) continue;
    defaults[topicConfig] = String(config.values[key]);
  }
  return defaults;
}

/**
 * The broker's read view of the followed metadata. `controllerId` is the node clients send admin
 * requests to: in a broker process, the broker itself (it forwards them to the coordinator leader).
 */
export function metadataView(cache: MetadataCache, controllerId: number): MetadataView {
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

export interface BrokerParts {
  readonly config: ResolvedConfig;
  readonly nodeId: number;
  readonly logs: LogStore;
  readonly cache: MetadataCache;
  readonly controller: ControllerGateway;
  readonly topicDefaults: TopicDefaults;
  readonly metrics: BrokerMetrics;
  readonly logger: Logger;
  /** How partition leaders reach the coordinator to commit ISR changes (AlterPartition). */
  readonly isr?: Pick<ReplicationOptions, 'alterPartition' | 'brokerEpoch'>;
}

/**
 * The Broker over a followed cache, counting its traffic and follower fetches in `metrics` and
 * exporting its partitions' offsets and sizes and its replication health there (docs/metrics.md).
 * Not started: the caller starts it once the rest of its process is ready.
 */
export function createBroker(parts: BrokerParts): Broker {
  const { config, logs, cache, metrics } = parts;
  const values = config.values;
  const brokerDefaults = brokerTopicDefaults(config);
  const configs: TopicConfigResolver = {
    resolve: (overrides) => resolveTopicConfig(overrides, brokerDefaults),
    describe: (overrides) => describeTopicConfigs(overrides, brokerDefaults),
  };
  const metadata = metadataView(cache, parts.nodeId);
  const broker = new Broker({
    nodeId: parts.nodeId,
    logs,
    metadata,
    controller: parts.controller,
    configs,
    topicDefaults: parts.topicDefaults,
    autoCreateTopics: values['auto.create.topics.enable'],
    logger: parts.logger.child({ component: 'broker' }),
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
    replication: { connect, fetchObserver: metrics.replicaFetchObserver, replicaLagTimeMaxMs: values['replica.lag.time.max.ms'], ...parts.isr },
    schemaIds: storeSchemaIdLookup(() => cache.state.schemas),
  });
  metrics.setReplicationSource({
    nodeId: parts.nodeId,
    topics: () => metadata.topics(),
    onMetadataChange: (listener) => metadata.onChange(listener),
    replicationStatus: () => broker.replicationStatus(),
    minInsyncReplicas: (topic) => configs.resolve(topic.configs).minInsyncReplicas,
  });
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
        lastStableOffset: log.lastStableOffset,
        producers: log.producerCount,
      };
    }
  });
  return broker;
}

export interface KafkaListenerParts {
  readonly config: ResolvedConfig;
  readonly nodeId: number;
  /** The broker's handlers (in `streambus dev`, the same handler the native listener serves). */
  readonly handler: Handler;
  readonly cache: MetadataCache;
  readonly logger: Logger;
  /** The group calls of the broker's coordinator client: Kafka group requests are forwarded there. */
  readonly groups?: KafkaGroupCoordinator;
  /** The transaction calls of the same client: Kafka transaction requests are forwarded there. */
  readonly transactions?: KafkaTxnCoordinator;
}

/**
 * Starts the Kafka wire-protocol listener on kafka.host:kafka.port, serving Kafka clients through
 * the broker's own handlers, and advertising kafka.advertised.host (and .port) in Metadata. The
 * caller registers `listener.registration` with the broker's other listeners and closes it.
 */
export async function startKafkaListener(parts: KafkaListenerParts): Promise<KafkaListener> {
  const values = parts.config.values;
  const listener = new KafkaListener({
    api: {
      handler: parts.handler,
      nodeId: parts.nodeId,
      cluster: {
        brokers: () => parts.cache.state.brokers(),
        topicConfigOverrides: (name) => parts.cache.state.topic(name)?.configs,
      },
      brokerConfigs: () => kafkaBrokerConfigs(parts.config),
      ...(parts.groups === undefined ? {} : { groups: parts.groups }),
      ...(parts.transactions === undefined ? {} : { transactions: parts.transactions }),
    },
    host: values['kafka.host'],
    port: values['kafka.port'],
    advertisedHost: advertisedHost(values, 'kafka', hostname()),
    advertisedPort: values['kafka.advertised.port'],
    maxFrameBytes: values['max.frame.bytes'],
    maxInFlightPerConnection: values['max.in.flight.per.connection'],
    logger: parts.logger.child({ component: 'kafka' }),
  });
  await listener.listen();
  return listener;
}

/** The server settings as Kafka's DescribeConfigs lists a broker's: secrets without their value. */
function kafkaBrokerConfigs(config: ResolvedConfig): KafkaBrokerConfigEntry[] {
  return describeConfig(config, 'server').map((entry) => ({
    name: entry.key,
    value: entry.secret || entry.value === null ? null : formatConfigValue(entry.value),
    source: entry.source === ConfigSource.DEFAULT ? 'default' : 'static',
    sensitive: entry.secret,
  }));
}
