/**
 * What `streambus dev` and `streambus broker` wire the same way around a Broker: the broker-wide
 * topic defaults from the resolved config, the broker's read view of a followed MetadataCache, and
 * the Broker itself with its traffic and partition metrics. They differ only in where admin
 * requests go (the ControllerGateway) and in what runs beside the broker.
 */
import type { Logger } from 'pino';
import { type MetadataCache, type TopicDefaults, describeTopicConfigs, resolveTopicConfig } from '../../coordinator/index.js';
import type { LogStore } from '../../broker/log/index.js';
import type { BrokerMetrics } from '../../broker/observability/index.js';
import { Broker } from '../../broker/server/broker.js';
import type { ControllerGateway, MetadataView, TopicConfigResolver } from '../../broker/server/metadata-view.js';
import { ConfigSource, settingKeys, specOf, type ResolvedConfig } from '../config/index.js';
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
}

/**
 * The Broker over a followed cache, counting its traffic in `metrics` and exporting its partitions'
 * offsets and sizes there. Not started: the caller starts it once the rest of its process is ready.
 */
export function createBroker(parts: BrokerParts): Broker {
  const { config, logs, cache, metrics } = parts;
  const values = config.values;
  const brokerDefaults = brokerTopicDefaults(config);
  const configs: TopicConfigResolver = {
    resolve: (overrides) => resolveTopicConfig(overrides, brokerDefaults),
    describe: (overrides) => describeTopicConfigs(overrides, brokerDefaults),
  };
  const broker = new Broker({
    nodeId: parts.nodeId,
    logs,
    metadata: metadataView(cache, parts.nodeId),
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
      };
    }
  });
  return broker;
}
