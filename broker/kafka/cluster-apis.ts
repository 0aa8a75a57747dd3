/**
 * Kafka's cluster-discovery APIs: ApiVersions (the served table, read from proto/kafka/apis.ts),
 * Metadata (the broker's metadata answer, with each broker's Kafka listener in place of its native
 * address) and FindCoordinator.
 *
 * Metadata lists every registered broker that has a Kafka listener, and always the broker answering
 * (it may be asked before its own registration is visible), so the controller id, which is the
 * answering broker (it forwards admin requests to the coordinator leader), is always a listed broker.
 *
 * FindCoordinator names the answering broker itself as the coordinator of every group (key type 0)
 * and every transactional id (key type 1): it forwards the group APIs (./group-apis.ts) and the
 * transaction APIs (./txn-apis.ts) to the coordinator leader, so clients need not follow the
 * leader. A broker without the coordinator for the key type gets COORDINATOR_NOT_AVAILABLE, the
 * protocol's answer when no coordinator can take the key; an empty transactional id and an unknown
 * key type get INVALID_REQUEST, as Kafka answers them.
 */
import type * as M from '../../proto/messages.js';
import { KafkaErrorCode, kafkaApiVersions, toKafkaErrorCode, type KafkaApiName, type KafkaRequest, type KafkaResponse } from '../../proto/kafka/index.js';
import { errorMessageOf, kafkaFailureOf } from './failure.js';
import { KAFKA_LISTENER_NAME, respond, type KafkaApiOptions, type KafkaContext, type KafkaEndpoint, type KafkaOutcome } from './types.js';

type Outcome<A extends KafkaApiName> = Promise<KafkaOutcome<A>>;

export function apiVersions(): Outcome<'API_VERSIONS'> {
  return Promise.resolve(respond({ errorCode: KafkaErrorCode.NONE, apiKeys: kafkaApiVersions(), throttleTimeMs: 0 }));
}

export async function metadata(
  options: KafkaApiOptions,
  self: KafkaEndpoint,
  request: KafkaRequest<'METADATA'>,
  ctx: KafkaContext,
): Outcome<'METADATA'> {
  // v0: an empty list means every topic. v1+: null means every topic, an empty list none.
  const allTopics = ctx.apiVersion === 0 ? request.topics === null || request.topics.length === 0 : request.topics === null;
  const names = allTopics ? [] : (request.topics ?? []).map((topic) => topic.name);
  const body: M.MetadataRequest = { topics: names, allTopics, allowAutoTopicCreation: ctx.apiVersion >= 4 ? request.allowAutoTopicCreation : true };
  const brokers = kafkaBrokers(options, self);
  try {
    const answer = await options.handler.handle('METADATA', 0, body, ctx);
    return respond({
      throttleTimeMs: 0,
      brokers,
      clusterId: answer.clusterId === '' ? null : answer.clusterId,
      controllerId: brokers.some((b) => b.nodeId === answer.controllerId) ? answer.controllerId : options.nodeId,
      topics: answer.topics.map((topic) => ({
        errorCode: toKafkaErrorCode(topic.errorCode),
        name: topic.name,
        isInternal: topic.internal,
        partitions: topic.partitions.map((p) => ({
          errorCode: toKafkaErrorCode(p.errorCode),
          partitionIndex: p.partition,
          leaderId: p.leader,
          replicaNodes: p.replicas,
          isrNodes: p.isr,
          offlineReplicas: [],
        })),
      })),
    });
  } catch (error) {
    // An auto-creation the coordinator refused or that did not become visible in time.
    const failure = kafkaFailureOf(error, ctx.logger, 'metadata');
    return respond({
      throttleTimeMs: 0,
      brokers,
      clusterId: null,
      controllerId: options.nodeId,
      topics: names.map((name) => ({ errorCode: failure.code, name, isInternal: false, partitions: [] })),
    });
  }
}

type KafkaBroker = KafkaResponse<'METADATA'>['brokers'][number];

/** Registered brokers with a Kafka listener, and the answering broker itself, ordered by id. */
function kafkaBrokers(options: KafkaApiOptions, self: KafkaEndpoint): KafkaBroker[] {
  const byId = new Map<number, KafkaBroker>();
  for (const broker of options.cluster.brokers()) {
    const listener = broker.listeners.find((l) => l.name === KAFKA_LISTENER_NAME);
    if (listener !== undefined) byId.set(broker.nodeId, { nodeId: broker.nodeId, host: listener.host, port: listener.port, rack: broker.rack });
  }
  const own = byId.get(options.nodeId);
  byId.set(options.nodeId, { nodeId: options.nodeId, host: self.host, port: self.port, rack: own?.rack ?? null });
  return [...byId.values()].sort((a, b) => a.nodeId - b.nodeId);
}

/** Kafka's FindCoordinator key types: a consumer group, a transactional id. */
const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

export function findCoordinator(options: KafkaApiOptions, self: KafkaEndpoint, request: KafkaRequest<'FIND_COORDINATOR'>): Outcome<'FIND_COORDINATOR'> {
  const refuse = (code: number, reason: string): Outcome<'FIND_COORDINATOR'> =>
    Promise.resolve(respond({ throttleTimeMs: 0, errorCode: code, errorMessage: errorMessageOf(code, reason), nodeId: -1, host: '', port: -1 }));
  if (request.keyType === KEY_TYPE_TRANSACTION) {
    if (request.key === '') return refuse(KafkaErrorCode.INVALID_REQUEST, 'the transactional id is empty');
    if (options.transactions === undefined) return refuse(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, 'this broker has no transaction coordinator to forward to');
  } else if (request.keyType === KEY_TYPE_GROUP) {
    if (options.groups === undefined) return refuse(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, 'this broker has no group coordinator to forward to');
  } else {
    return refuse(KafkaErrorCode.INVALID_REQUEST, `unknown coordinator key type ${request.keyType}`);
  }
  return Promise.resolve(respond({ throttleTimeMs: 0, errorCode: KafkaErrorCode.NONE, errorMessage: null, nodeId: options.nodeId, host: self.host, port: self.port }));
}
