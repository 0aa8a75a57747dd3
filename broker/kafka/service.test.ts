/**
 * The Kafka API service's translation between Kafka's requests and the broker's native ones, with
 * a stand-in for the broker that records what it is asked and answers what each test sets: how
 * Metadata lists several brokers' Kafka listeners, how a whole-request failure reaches every item,
 * and the request shapes the broker receives (AlterConfigs as a replace, -1 defaults, consumers).
 * End-to-end behaviour with real clients is in test/kafka/.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ApiName, RequestOf, ResponseOf } from '../../proto/api.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { KafkaErrorCode, type KafkaApiName, type KafkaRequest } from '../../proto/kafka/index.js';
import type { Handler } from '../network/server.js';
import { KafkaApiService } from './service.js';
import type { KafkaBrokerView, KafkaContext, KafkaOutcome } from './types.js';

type Answers = { [A in ApiName]?: (body: RequestOf<A>) => ResponseOf<A> };

class StandInBroker implements Handler {
  readonly asked: { api: ApiName; body: unknown }[] = [];
  constructor(readonly answers: Answers) {}

  handle<A extends ApiName>(api: A, _version: number, body: RequestOf<A>): Promise<ResponseOf<A>> {
    this.asked.push({ api, body });
    const answer = this.answers[api] as ((body: RequestOf<A>) => ResponseOf<A>) | undefined;
    if (answer === undefined) return Promise.reject(new Error(`unexpected ${api}`));
    try {
      return Promise.resolve(answer(body));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function setup(answers: Answers, brokers: KafkaBrokerView[] = [], overrides: Record<string, Record<string, string>> = {}) {
  const broker = new StandInBroker(answers);
  const service = new KafkaApiService(
    { handler: broker, nodeId: 2, cluster: { brokers: () => brokers, topicConfigOverrides: (name) => overrides[name] } },
    () => ({ host: 'self.example', port: 9092 }),
  );
  const serve = async <A extends KafkaApiName>(api: A, version: number, request: KafkaRequest<A>): Promise<KafkaOutcome<A>> => {
    const ctx: KafkaContext = { connectionId: 1, clientId: 'test', remoteAddress: 'test', signal: new AbortController().signal, apiVersion: version, logger: pino({ level: 'silent' }) };
    return service.serve(api, request, ctx);
  };
  return { broker, serve };
}

function body<A extends KafkaApiName>(outcome: KafkaOutcome<A>) {
  if (outcome.kind !== 'response') throw new Error(`expected a response, got ${outcome.kind}`);
  return outcome.body;
}

const emptyMetadata = (): ResponseOf<'METADATA'> => ({ clusterId: 'c1', controllerId: 2, brokers: [], topics: [], metadataOffset: 5 });

describe('kafka service > metadata', () => {
  it('lists each registered broker at its Kafka listener, leaves out brokers without one, and always lists itself', async () => {
    const { serve } = setup({ METADATA: emptyMetadata }, [
      { nodeId: 3, rack: 'b', listeners: [{ name: 'native', host: 'n3', port: 9093 }, { name: 'kafka', host: 'k3', port: 19092 }] },
      { nodeId: 1, rack: null, listeners: [{ name: 'kafka', host: 'k1', port: 29092 }] },
      { nodeId: 4, rack: null, listeners: [{ name: 'native', host: 'n4', port: 9093 }] },
    ]);
    const answer = body(await serve('METADATA', 6, { topics: [], allowAutoTopicCreation: false }));
    expect(answer.brokers).toEqual([
      { nodeId: 1, host: 'k1', port: 29092, rack: null },
      { nodeId: 2, host: 'self.example', port: 9092, rack: null },
      { nodeId: 3, host: 'k3', port: 19092, rack: 'b' },
    ]);
    expect([answer.controllerId, answer.clusterId]).toEqual([2, 'c1']);
  });

  it('reads the topic list as each version means it: v0 empty is every topic, v1 null every topic and empty none', async () => {
    const { broker, serve } = setup({ METADATA: emptyMetadata });
    await serve('METADATA', 0, { topics: [], allowAutoTopicCreation: true });
    await serve('METADATA', 1, { topics: null, allowAutoTopicCreation: true });
    await serve('METADATA', 1, { topics: [], allowAutoTopicCreation: true });
    await serve('METADATA', 4, { topics: [{ name: 'a' }], allowAutoTopicCreation: false });
    expect(broker.asked.map((a) => a.body)).toEqual([
      { topics: [], allTopics: true, allowAutoTopicCreation: true },
      { topics: [], allTopics: true, allowAutoTopicCreation: true },
      { topics: [], allTopics: false, allowAutoTopicCreation: true },
      { topics: ['a'], allTopics: false, allowAutoTopicCreation: false },
    ]);
  });

  it('reports a failed auto-creation on each named topic', async () => {
    const { serve } = setup({
      METADATA: () => {
        throw new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, 'not visible in time');
      },
    });
    const answer = body(await serve('METADATA', 4, { topics: [{ name: 'a' }, { name: 'b' }], allowAutoTopicCreation: true }));
    expect(answer.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['a', KafkaErrorCode.REQUEST_TIMED_OUT],
      ['b', KafkaErrorCode.REQUEST_TIMED_OUT],
    ]);
  });
});

describe('kafka service > whole-request failures', () => {
  it('puts the broker\'s error on every topic of an admin request, mapped to Kafka\'s code', async () => {
    const { serve } = setup({
      CREATE_TOPICS: () => {
        throw new StreamBusError(ErrorCode.NOT_CONTROLLER, 'no coordinator leader');
      },
    });
    const answer = body(
      await serve('CREATE_TOPICS', 4, {
        topics: ['a', 'b'].map((name) => ({ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] })),
        timeoutMs: 1000,
        validateOnly: false,
      }),
    );
    expect(answer.topics).toEqual([
      { name: 'a', errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'no coordinator leader' },
      { name: 'b', errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'no coordinator leader' },
    ]);
  });

  it('answers a produce that failed as a whole on every partition, and a shutting-down broker as NOT_LEADER_OR_FOLLOWER', async () => {
    const { serve } = setup({
      PRODUCE: () => {
        throw new StreamBusError(ErrorCode.SHUTTING_DOWN);
      },
    });
    const records = Buffer.alloc(0);
    const answer = body(
      await serve('PRODUCE', 7, { transactionalId: null, acks: -1, timeoutMs: 100, topicData: [{ name: 't', partitionData: [{ index: 0, records }, { index: 1, records }] }] }),
    );
    expect(answer.responses[0]?.partitionResponses.map((p) => [p.index, p.errorCode, p.baseOffset])).toEqual([
      [0, KafkaErrorCode.NOT_LEADER_OR_FOLLOWER, -1],
      [1, KafkaErrorCode.NOT_LEADER_OR_FOLLOWER, -1],
    ]);
  });

  it('answers an unexpected broker error as UNKNOWN_SERVER_ERROR rather than failing the connection', async () => {
    const { serve } = setup({
      LIST_OFFSETS: () => {
        throw new TypeError('a bug');
      },
    });
    const answer = body(await serve('LIST_OFFSETS', 3, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: -1 }] }] }));
    expect(answer.topics[0]?.partitions[0]).toEqual({ partitionIndex: 0, errorCode: KafkaErrorCode.UNKNOWN_SERVER_ERROR, timestamp: -1, offset: -1 });
  });
});

describe('kafka service > what the broker is asked', () => {
  it('turns AlterConfigs into a replace: the named keys set, every other override removed, null values left out', async () => {
    const { broker, serve } = setup({ ALTER_CONFIGS: () => ({ topics: [{ name: 't', errorCode: 0, errorMessage: '', topicId: 'x' }], metadataOffset: 9 }) }, [], {
      t: { 'cleanup.policy': 'compact', 'retention.ms': '5' },
    });
    const answer = body(
      await serve('ALTER_CONFIGS', 1, {
        resources: [{ resourceType: 2, resourceName: 't', configs: [{ name: 'retention.ms', value: '10' }, { name: 'segment.ms', value: null }] }],
        validateOnly: false,
      }),
    );
    expect(answer.responses).toEqual([{ errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 't' }]);
    expect(broker.asked[0]?.body).toEqual({
      topics: [{ name: 't', ops: [{ name: 'retention.ms', value: '10', op: 0 }, { name: 'cleanup.policy', op: 1 }] }],
      validateOnly: false,
    });
  });

  it('asks for the broker defaults for -1 partitions and replicas, and refuses 0 partitions without asking', async () => {
    const { broker, serve } = setup({ CREATE_TOPICS: (req) => ({ topics: req.topics.map((t) => ({ name: t.name, errorCode: 0, errorMessage: '', topicId: 'x' })), metadataOffset: 3 }) });
    const answer = body(
      await serve('CREATE_TOPICS', 4, {
        topics: [
          { name: 'ok', numPartitions: -1, replicationFactor: -1, assignments: [], configs: [{ name: 'retention.ms', value: '1' }] },
          { name: 'zero', numPartitions: 0, replicationFactor: 1, assignments: [], configs: [] },
        ],
        timeoutMs: 1000,
        validateOnly: true,
      }),
    );
    expect(answer.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['ok', 0],
      ['zero', KafkaErrorCode.INVALID_PARTITIONS],
    ]);
    expect(broker.asked).toEqual([
      { api: 'CREATE_TOPICS', body: { topics: [{ name: 'ok', partitions: 0, replicationFactor: 0, configs: { 'retention.ms': '1' } }], timeoutMs: 1000, validateOnly: true } },
    ]);
  });

  it('fetches as a consumer whatever replica_id the Kafka client sends, and answers aborted transactions by isolation level', async () => {
    const { broker, serve } = setup({
      FETCH: (req) => ({
        throttleMs: 0,
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, errorMessage: '', highWatermark: 4, lastStableOffset: 4, logStartOffset: 0, records: Buffer.alloc(0), abortedTransactions: [] })),
        })),
      }),
    });
    const request = (isolationLevel: number): KafkaRequest<'FETCH'> => ({
      replicaId: 3,
      maxWaitMs: -5,
      minBytes: 1,
      maxBytes: 100,
      isolationLevel,
      sessionId: 0,
      sessionEpoch: 0,
      topics: [{ topic: 't', partitions: [{ partition: 0, currentLeaderEpoch: 7, fetchOffset: 2, logStartOffset: -1, partitionMaxBytes: 50 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const committed = body(await serve('FETCH', 11, request(1)));
    const uncommitted = body(await serve('FETCH', 11, request(0)));
    expect(broker.asked[0]?.body).toEqual({
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 100,
      isolationLevel: 1,
      topics: [{ name: 't', partitions: [{ partition: 0, fetchOffset: 2, maxBytes: 50, currentLeaderEpoch: 7 }] }],
    });
    expect(committed.responses[0]?.partitions[0]?.abortedTransactions).toEqual([]);
    expect(uncommitted.responses[0]?.partitions[0]?.abortedTransactions).toBeNull();
    expect(committed.sessionId).toBe(0);
  });

  it('answers FindCoordinator with COORDINATOR_NOT_AVAILABLE, without asking the broker, when it has no group coordinator to forward to', async () => {
    const { broker, serve } = setup({});
    const answer = body(await serve('FIND_COORDINATOR', 2, { key: 'group', keyType: 0 }));
    expect(answer).toMatchObject({ errorCode: KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1, host: '', port: -1 });
    expect(broker.asked).toEqual([]);
  });

  it('answers the group APIs with COORDINATOR_NOT_AVAILABLE when it has no group coordinator to forward to', async () => {
    const { serve } = setup({});
    const heartbeat = body(await serve('HEARTBEAT', 3, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }));
    expect(heartbeat).toEqual({ throttleTimeMs: 0, errorCode: KafkaErrorCode.COORDINATOR_NOT_AVAILABLE });
    const listed = body(await serve('LIST_GROUPS', 2, {}));
    expect(listed).toEqual({ throttleTimeMs: 0, errorCode: KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] });
  });
});
