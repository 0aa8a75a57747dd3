/**
 * What `streambus dev` and `streambus broker` wire the same way around a Broker: the broker-wide
 * topic defaults from the resolved config, and the broker's read view of a followed MetadataCache.
 */
import type { MetadataCache } from '../../coordinator/index.js';
import type { MetadataView } from '../../broker/server/metadata-view.js';
import { ConfigSource, settingKeys, specOf, type ResolvedConfig } from '../config/index.js';

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
