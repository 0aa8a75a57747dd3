/**
 * Kafka's topic administration (CreateTopics, DeleteTopics, CreatePartitions) mapped onto the
 * broker's admin handlers, which forward to the coordinator and answer once the change is visible
 * in the broker's metadata.
 *
 * Before forwarding, the listener refuses what Kafka refuses and what StreamBus does not do:
 * a topic named twice in one request (INVALID_REQUEST, as Kafka), a partition count or
 * replication factor of 0 or below -1 (-1 asks for the broker default, in every version), a null
 * config value, and manual replica assignments (StreamBus places replicas itself; an empty
 * assignment list, which kafkajs sends, is no assignment).
 */
import type * as M from '../../proto/messages.js';
import { KafkaErrorCode, toKafkaErrorCode, type KafkaApiName, type KafkaRequest } from '../../proto/kafka/index.js';
import { errorMessageOf, kafkaFailureOf, type KafkaFailure } from './failure.js';
import { respond, type KafkaApiOptions, type KafkaContext, type KafkaOutcome } from './types.js';

type Outcome<A extends KafkaApiName> = Promise<KafkaOutcome<A>>;

const noManualAssignment: KafkaFailure = {
  code: KafkaErrorCode.INVALID_REPLICA_ASSIGNMENT,
  message: 'StreamBus places replicas itself; manual replica assignments are not supported',
};

/** Names that appear more than once in a request. */
function repeated(names: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const name of names) (seen.has(name) ? twice : seen).add(name);
  return twice;
}

function duplicate(name: string): KafkaFailure {
  return { code: KafkaErrorCode.INVALID_REQUEST, message: `topic '${name}' is named more than once in the request` };
}

/**
 * Runs one admin call for the items that passed the listener's checks, and returns each item's
 * outcome in request order: the refusal, the broker's result, or the whole request's failure.
 */
async function forward(
  names: readonly string[],
  refusals: readonly (KafkaFailure | undefined)[],
  call: (accepted: number[]) => Promise<readonly M.TopicResult[]>,
  ctx: KafkaContext,
  what: string,
): Promise<KafkaFailure[]> {
  const accepted = names.flatMap((_, i) => (refusals[i] === undefined ? [i] : []));
  const outcomes: KafkaFailure[] = refusals.map((refusal) => refusal ?? { code: KafkaErrorCode.NONE, message: '' });
  if (accepted.length === 0) return outcomes;
  try {
    const results = await call(accepted);
    accepted.forEach((index, k) => {
      const result = results[k];
      outcomes[index] =
        result === undefined
          ? { code: KafkaErrorCode.UNKNOWN_SERVER_ERROR, message: 'the broker returned no result for the topic' }
          : { code: toKafkaErrorCode(result.errorCode), message: result.errorMessage };
    });
  } catch (error) {
    const failure = kafkaFailureOf(error, ctx.logger, what);
    for (const index of accepted) outcomes[index] = failure;
  }
  return outcomes;
}

export async function createTopics(options: KafkaApiOptions, request: KafkaRequest<'CREATE_TOPICS'>, ctx: KafkaContext): Outcome<'CREATE_TOPICS'> {
  const names = request.topics.map((topic) => topic.name);
  const twice = repeated(names);
  const refusals = request.topics.map((topic): KafkaFailure | undefined => {
    if (twice.has(topic.name)) return duplicate(topic.name);
    if (topic.assignments.length > 0) return noManualAssignment;
    if (topic.numPartitions === 0 || topic.numPartitions < -1) {
      return { code: KafkaErrorCode.INVALID_PARTITIONS, message: `the number of partitions must be positive (or -1 for the default), got ${topic.numPartitions}` };
    }
    if (topic.replicationFactor === 0 || topic.replicationFactor < -1) {
      return { code: KafkaErrorCode.INVALID_REPLICATION_FACTOR, message: `the replication factor must be positive (or -1 for the default), got ${topic.replicationFactor}` };
    }
    const nullConfig = topic.configs.find((config) => config.value === null);
    if (nullConfig !== undefined) return { code: KafkaErrorCode.INVALID_CONFIG, message: `config '${nullConfig.name}' has a null value` };
    return undefined;
  });
  const outcomes = await forward(
    names,
    refusals,
    async (accepted) => {
      const topics: M.NewTopic[] = accepted.map((index) => {
        const topic = request.topics[index]!;
        return {
          name: topic.name,
          // 0 asks the native API for the broker default, which Kafka spells -1.
          partitions: Math.max(0, topic.numPartitions),
          replicationFactor: Math.max(0, topic.replicationFactor),
          configs: Object.fromEntries(topic.configs.map((config) => [config.name, config.value ?? ''])),
        };
      });
      const answer = await options.handler.handle('CREATE_TOPICS', 0, { topics, timeoutMs: request.timeoutMs, validateOnly: request.validateOnly }, ctx);
      return answer.topics;
    },
    ctx,
    'create topics',
  );
  return respond({
    throttleTimeMs: 0,
    topics: names.map((name, i) => ({ name, errorCode: outcomes[i]!.code, errorMessage: errorMessageOf(outcomes[i]!.code, outcomes[i]!.message) })),
  });
}

export async function deleteTopics(options: KafkaApiOptions, request: KafkaRequest<'DELETE_TOPICS'>, ctx: KafkaContext): Outcome<'DELETE_TOPICS'> {
  const names = request.topicNames;
  const twice = repeated(names);
  const outcomes = await forward(
    names,
    names.map((name) => (twice.has(name) ? duplicate(name) : undefined)),
    async (accepted) => {
      const answer = await options.handler.handle('DELETE_TOPICS', 0, { names: accepted.map((index) => names[index]!), timeoutMs: request.timeoutMs }, ctx);
      return answer.topics;
    },
    ctx,
    'delete topics',
  );
  return respond({ throttleTimeMs: 0, responses: names.map((name, i) => ({ name, errorCode: outcomes[i]!.code })) });
}

export async function createPartitions(options: KafkaApiOptions, request: KafkaRequest<'CREATE_PARTITIONS'>, ctx: KafkaContext): Outcome<'CREATE_PARTITIONS'> {
  const names = request.topics.map((topic) => topic.name);
  const twice = repeated(names);
  const outcomes = await forward(
    names,
    request.topics.map((topic) => (twice.has(topic.name) ? duplicate(topic.name) : topic.assignments !== null && topic.assignments.length > 0 ? noManualAssignment : undefined)),
    async (accepted) => {
      const topics = accepted.map((index) => ({ name: request.topics[index]!.name, count: request.topics[index]!.count }));
      const answer = await options.handler.handle('CREATE_PARTITIONS', 0, { topics, timeoutMs: request.timeoutMs, validateOnly: request.validateOnly }, ctx);
      return answer.topics;
    },
    ctx,
    'create partitions',
  );
  return respond({
    throttleTimeMs: 0,
    results: names.map((name, i) => ({ name, errorCode: outcomes[i]!.code, errorMessage: errorMessageOf(outcomes[i]!.code, outcomes[i]!.message) })),
  });
}
