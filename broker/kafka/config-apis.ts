/**
 * Kafka's config APIs. DescribeConfigs answers topics from the broker's own DescribeConfigs (every
 * topic config with its value and source: the topic's override, a broker-wide default, or the
 * built-in default) and the broker resource of the answering broker from its settings.
 * AlterConfigs replaces a topic's whole set of overrides, as Kafka's (non-incremental) AlterConfigs
 * does: the keys it names are set, every other override is removed.
 *
 * Broker settings are static in StreamBus (config file, environment, flags), so altering the
 * broker resource is refused, as are broker loggers and resource types Kafka has no configs for.
 */
import type * as M from '../../proto/messages.js';
import { KafkaErrorCode, toKafkaErrorCode, type KafkaApiName, type KafkaRequest, type KafkaResponse } from '../../proto/kafka/index.js';
import { errorMessageOf, kafkaFailureOf, type KafkaFailure } from './failure.js';
import { respond, type KafkaApiOptions, type KafkaContext, type KafkaOutcome } from './types.js';

type Outcome<A extends KafkaApiName> = Promise<KafkaOutcome<A>>;

/** Kafka's ConfigResource types. */
export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;

/** Kafka's DescribeConfigs config_source values. */
export const ConfigSource = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;

type DescribedResource = KafkaResponse<'DESCRIBE_CONFIGS'>['results'][number];
type DescribedConfig = DescribedResource['configs'][number];

interface Entry {
  readonly name: string;
  readonly value: string | null;
  readonly source: number;
  readonly readOnly: boolean;
  readonly sensitive: boolean;
}

function nativeSource(source: string): number {
  if (source === 'topic') return ConfigSource.DYNAMIC_TOPIC_CONFIG;
  if (source === 'broker') return ConfigSource.STATIC_BROKER_CONFIG;
  return ConfigSource.DEFAULT_CONFIG;
}

function described(entry: Entry, includeSynonyms: boolean): DescribedConfig {
  return {
    name: entry.name,
    value: entry.sensitive ? null : entry.value,
    readOnly: entry.readOnly,
    isDefault: entry.source === ConfigSource.DEFAULT_CONFIG,
    configSource: entry.source,
    isSensitive: entry.sensitive,
    // The effective value is its own first synonym, as in Kafka.
    synonyms: includeSynonyms ? [{ name: entry.name, value: entry.sensitive ? null : entry.value, source: entry.source }] : [],
  };
}

function resourceError(resource: { resourceType: number; resourceName: string }, failure: KafkaFailure): DescribedResource {
  return {
    errorCode: failure.code,
    errorMessage: errorMessageOf(failure.code, failure.message),
    resourceType: resource.resourceType,
    resourceName: resource.resourceName,
    configs: [],
  };
}

function unsupportedType(type: number, what: string): KafkaFailure {
  const name = type === ResourceType.BROKER_LOGGER ? 'broker loggers' : `resource type ${type}`;
  return { code: KafkaErrorCode.INVALID_REQUEST, message: `${what} ${name} is not supported` };
}

export async function describeConfigs(options: KafkaApiOptions, request: KafkaRequest<'DESCRIBE_CONFIGS'>, ctx: KafkaContext): Outcome<'DESCRIBE_CONFIGS'> {
  const topicNames = request.resources.filter((r) => r.resourceType === ResourceType.TOPIC).map((r) => r.resourceName);
  const topics = new Map<string, M.TopicConfigs>();
  let failure: KafkaFailure | undefined;
  if (topicNames.length > 0) {
    try {
      const answer = await options.handler.handle('DESCRIBE_CONFIGS', 0, { topics: topicNames }, ctx);
      for (const topic of answer.topics) topics.set(topic.name, topic);
    } catch (error) {
      failure = kafkaFailureOf(error, ctx.logger, 'describe configs');
    }
  }
  const includeSynonyms = request.includeSynonyms;
  const results = request.resources.map((resource): DescribedResource => {
    // null or an empty list: every key (kafkajs sends an empty list for "all", and Kafka accepts it).
    const keys = resource.configurationKeys;
    const wanted = keys === null || keys.length === 0 ? undefined : new Set(keys);
    let entries: Entry[];
    if (resource.resourceType === ResourceType.TOPIC) {
      if (failure !== undefined) return resourceError(resource, failure);
      const topic = topics.get(resource.resourceName);
      if (topic === undefined) return resourceError(resource, { code: KafkaErrorCode.UNKNOWN_SERVER_ERROR, message: 'the broker returned no result for the topic' });
      if (topic.errorCode !== 0) return resourceError(resource, { code: toKafkaErrorCode(topic.errorCode), message: topic.errorMessage });
      entries = topic.entries.map((e) => ({ name: e.name, value: e.value ?? null, source: nativeSource(e.source), readOnly: e.readOnly, sensitive: e.sensitive }));
    } else if (resource.resourceType === ResourceType.BROKER) {
      if (resource.resourceName !== String(options.nodeId)) {
        return resourceError(resource, { code: KafkaErrorCode.INVALID_REQUEST, message: `broker ${options.nodeId} describes its own settings only, not broker '${resource.resourceName}'` });
      }
      entries = (options.brokerConfigs?.() ?? []).map((e) => ({
        name: e.name,
        value: e.value,
        source: e.source === 'default' ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG,
        readOnly: true,
        sensitive: e.sensitive,
      }));
    } else {
      return resourceError(resource, unsupportedType(resource.resourceType, 'describing'));
    }
    return {
      errorCode: KafkaErrorCode.NONE,
      errorMessage: null,
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      configs: entries.filter((e) => wanted === undefined || wanted.has(e.name)).map((e) => described(e, includeSynonyms)),
    };
  });
  return respond({ throttleTimeMs: 0, results });
}

export async function alterConfigs(options: KafkaApiOptions, request: KafkaRequest<'ALTER_CONFIGS'>, ctx: KafkaContext): Outcome<'ALTER_CONFIGS'> {
  const keyOf = (r: { resourceType: number; resourceName: string }): string => `${r.resourceType}:${r.resourceName}`;
  const counts = new Map<string, number>();
  for (const resource of request.resources) counts.set(keyOf(resource), (counts.get(keyOf(resource)) ?? 0) + 1);
  const outcomes: KafkaFailure[] = [];
  const accepted: { index: number; change: M.AlterTopicConfigs }[] = [];
  request.resources.forEach((resource, index) => {
    outcomes.push({ code: KafkaErrorCode.NONE, message: '' });
    if ((counts.get(keyOf(resource)) ?? 0) > 1) {
      outcomes[index] = { code: KafkaErrorCode.INVALID_REQUEST, message: `resource '${resource.resourceName}' is named more than once in the request` };
    } else if (resource.resourceType === ResourceType.BROKER) {
      outcomes[index] = {
        code: KafkaErrorCode.INVALID_REQUEST,
        message: 'StreamBus broker settings are static: set them in the config file, environment or flags, and restart',
      };
    } else if (resource.resourceType !== ResourceType.TOPIC) {
      outcomes[index] = unsupportedType(resource.resourceType, 'altering');
    } else {
      const current = options.cluster.topicConfigOverrides(resource.resourceName);
      if (current === undefined) {
        outcomes[index] = { code: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `topic '${resource.resourceName}' does not exist` };
      } else {
        accepted.push({ index, change: { name: resource.resourceName, ops: replaceOps(current, resource.configs) } });
      }
    }
  });
  if (accepted.length > 0) {
    try {
      const answer = await options.handler.handle('ALTER_CONFIGS', 0, { topics: accepted.map((a) => a.change), validateOnly: request.validateOnly }, ctx);
      accepted.forEach(({ index }, k) => {
        const result = answer.topics[k];
        outcomes[index] =
          result === undefined
            ? { code: KafkaErrorCode.UNKNOWN_SERVER_ERROR, message: 'the broker returned no result for the topic' }
            : { code: toKafkaErrorCode(result.errorCode), message: result.errorMessage };
      });
    } catch (error) {
      const failure = kafkaFailureOf(error, ctx.logger, 'alter configs');
      for (const { index } of accepted) outcomes[index] = failure;
    }
  }
  return respond({
    throttleTimeMs: 0,
    responses: request.resources.map((resource, i) => ({
      errorCode: outcomes[i]!.code,
      errorMessage: errorMessageOf(outcomes[i]!.code, outcomes[i]!.message),
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
    })),
  });
}

/** The native operations that turn `current` overrides into exactly the non-null `wanted` ones. */
function replaceOps(current: Readonly<Record<string, string>>, wanted: readonly { name: string; value: string | null }[]): M.ConfigOp[] {
  const set = wanted.filter((w): w is { name: string; value: string } => w.value !== null);
  const kept = new Set(set.map((w) => w.name));
  return [
    ...set.map((w): M.ConfigOp => ({ name: w.name, value: w.value, op: 0 })),
    ...Object.keys(current)
      .filter((name) => !kept.has(name))
      .map((name): M.ConfigOp => ({ name, op: 1 })),
  ];
}
