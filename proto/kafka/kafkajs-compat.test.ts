/*
 * Cross-check of the Kafka codec against one nobody here wrote: kafkajs 2.2.4 ships its request
 * encoders and response decoders in the npm package (src/protocol/requests/<api>/v<N>/). For every
 * version StreamBus serves and kafkajs implements, a request kafkajs encodes must decode with ours
 * to the same values, and a response ours encodes must decode with kafkajs's to the same values.
 * (kafkajs implements no flexible version, so ApiVersions v3 is covered by golden bytes and by
 * librdkafka in test/kafka/.)
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodeRecordBatches, encodeRecordBatchSync } from '../record-batch/index.js';
import { decodeMessage, encodeMessageBuffer, kafkaApiVersions, kafkaApis, type KafkaApiName, type KafkaRequest, type KafkaResponse } from './index.js';

const require = createRequire(import.meta.url);

interface KafkajsRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  encode(): Promise<{ readonly buffer: Buffer }>;
}
type KafkajsRequestFactory = (args: Record<string, unknown>) => KafkajsRequest;
interface KafkajsResponseModule {
  decode(buffer: Buffer): Promise<Record<string, unknown>>;
}
/** DeleteRecords's response module is a factory taking the request's topics. */
type KafkajsResponseExport = KafkajsResponseModule | ((args: { topics: unknown[] }) => KafkajsResponseModule);

/** kafkajs's folder name for each API. */
const kafkajsFolder: Record<KafkaApiName, string> = {
  PRODUCE: 'produce',
  FETCH: 'fetch',
  LIST_OFFSETS: 'listOffsets',
  METADATA: 'metadata',
  FIND_COORDINATOR: 'findCoordinator',
  API_VERSIONS: 'apiVersions',
  CREATE_TOPICS: 'createTopics',
  DELETE_TOPICS: 'deleteTopics',
  DELETE_RECORDS: 'deleteRecords',
  DESCRIBE_CONFIGS: 'describeConfigs',
  ALTER_CONFIGS: 'alterConfigs',
  CREATE_PARTITIONS: 'createPartitions',
  OFFSET_COMMIT: 'offsetCommit',
  OFFSET_FETCH: 'offsetFetch',
  JOIN_GROUP: 'joinGroup',
  HEARTBEAT: 'heartbeat',
  LEAVE_GROUP: 'leaveGroup',
  SYNC_GROUP: 'syncGroup',
  DESCRIBE_GROUPS: 'describeGroups',
  LIST_GROUPS: 'listGroups',
  DELETE_GROUPS: 'deleteGroups',
  // kafkajs has no OffsetDelete: never looked up.
  OFFSET_DELETE: 'offsetDelete',
  INIT_PRODUCER_ID: 'initProducerId',
  ADD_PARTITIONS_TO_TXN: 'addPartitionsToTxn',
  ADD_OFFSETS_TO_TXN: 'addOffsetsToTxn',
  END_TXN: 'endTxn',
  TXN_OFFSET_COMMIT: 'txnOffsetCommit',
};

function hasKafkajsVersion(api: KafkaApiName, version: number): boolean {
  try {
    require.resolve(`kafkajs/src/protocol/requests/${kafkajsFolder[api]}/v${version}/request`);
    return true;
  } catch {
    return false;
  }
}

async function kafkajsEncode(api: KafkaApiName, version: number, args: Record<string, unknown>): Promise<KafkaRequest<typeof api>> {
  const factory = require(`kafkajs/src/protocol/requests/${kafkajsFolder[api]}/v${version}/request`) as KafkajsRequestFactory;
  const request = factory(args);
  expect([request.apiKey, request.apiVersion]).toEqual([kafkaApis[api].key, version]);
  const encoded = await request.encode();
  return decodeMessage(kafkaApis[api].request, version, encoded.buffer);
}

async function kafkajsDecode<A extends KafkaApiName>(api: A, version: number, body: KafkaResponse<A>): Promise<Record<string, unknown>> {
  const exported = require(`kafkajs/src/protocol/requests/${kafkajsFolder[api]}/v${version}/response`) as KafkajsResponseExport;
  const module = typeof exported === 'function' ? exported({ topics: [] }) : exported;
  return module.decode(encodeMessageBuffer(kafkaApis[api].response, version, body as never));
}

/** Every (api, version) we serve that kafkajs implements. */
const pairs = (Object.keys(kafkaApis) as KafkaApiName[]).flatMap((api) => {
  const out: [KafkaApiName, number][] = [];
  for (let v = kafkaApis[api].minVersion; v <= kafkaApis[api].maxVersion; v++) if (hasKafkajsVersion(api, v)) out.push([api, v]);
  return out;
});

const TS = 1_700_000_000_000;

/** kafkajs arguments for a request of each API, and what our decoder must read from it. */
const requests: { [A in KafkaApiName]: (version: number) => { args: Record<string, unknown>; check: (decoded: KafkaRequest<A>) => Promise<void> | void } } = {
  PRODUCE: (version) => ({
    args: {
      acks: -1,
      timeout: 1500,
      topicData: [{ topic: 'orders', partitions: [{ partition: 1, messages: [{ key: 'k', value: 'v', headers: { h: 'x' }, timestamp: TS }] }] }],
    },
    async check(decoded) {
      expect(decoded).toMatchObject({ transactionalId: null, acks: -1, timeoutMs: 1500 });
      const partition = decoded.topicData[0]?.partitionData[0];
      expect([decoded.topicData[0]?.name, partition?.index]).toEqual(['orders', 1]);
      if (version < 3) {
        // A legacy message set: offset, size, crc, then magic 0 (v0-1) or 1 (v2).
        expect(partition?.records?.[16]).toBe(version === 2 ? 1 : 0);
        return;
      }
      const [batch] = await decodeRecordBatches(partition?.records ?? Buffer.alloc(0));
      expect(batch?.header.producerId).toBe(-1);
      expect(batch?.records.map((r) => [r.key?.toString(), r.value?.toString(), r.headers[0]?.key, r.headers[0]?.value?.toString(), r.timestamp])).toEqual([['k', 'v', 'h', 'x', TS]]);
    },
  }),
  FETCH: (version) => ({
    args: {
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 10_000,
      isolationLevel: 1,
      rackId: 'rack-a',
      topics: [{ topic: 'orders', partitions: [{ partition: 2, fetchOffset: '42', maxBytes: 1024 }] }],
    },
    check(decoded) {
      expect(decoded).toMatchObject({ replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 10_000, isolationLevel: 1 });
      expect(decoded.topics).toEqual([
        { topic: 'orders', partitions: [{ partition: 2, currentLeaderEpoch: -1, fetchOffset: 42, logStartOffset: -1, partitionMaxBytes: 1024 }] },
      ]);
      if (version >= 7) expect([decoded.sessionId, decoded.sessionEpoch, decoded.forgottenTopicsData]).toEqual([0, -1, []]);
      if (version >= 11) expect(decoded.rackId).toBe('rack-a');
    },
  }),
  LIST_OFFSETS: (version) => ({
    args: { replicaId: -1, isolationLevel: 1, topics: [{ topic: 'orders', partitions: [{ partition: 0, timestamp: TS }, { partition: 1, timestamp: -2 }] }] },
    check(decoded) {
      expect(decoded).toEqual({
        replicaId: -1,
        isolationLevel: version >= 2 ? 1 : 0,
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, timestamp: TS }, { partitionIndex: 1, timestamp: -2 }] }],
      });
    },
  }),
  METADATA: (version) => ({
    args: { topics: ['a', 'b'], allowAutoTopicCreation: false },
    check(decoded) {
      expect(decoded).toEqual({ topics: [{ name: 'a' }, { name: 'b' }], allowAutoTopicCreation: version >= 4 ? false : true });
    },
  }),
  FIND_COORDINATOR: (version) => ({
    args: { groupId: 'group-1', coordinatorKey: 'group-1', coordinatorType: 1 },
    check(decoded) {
      expect(decoded).toEqual({ key: 'group-1', keyType: version >= 1 ? 1 : 0 });
    },
  }),
  API_VERSIONS: () => ({
    args: {},
    check(decoded) {
      expect(decoded).toEqual({ clientSoftwareName: '', clientSoftwareVersion: '' });
    },
  }),
  CREATE_TOPICS: (version) => ({
    args: {
      topics: [
        { topic: 't', numPartitions: 3, replicationFactor: 1, replicaAssignment: [{ partition: 0, replicas: [1] }], configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ],
      timeout: 5000,
      validateOnly: true,
    },
    check(decoded) {
      expect(decoded).toEqual({
        topics: [
          { name: 't', numPartitions: 3, replicationFactor: 1, assignments: [{ partitionIndex: 0, brokerIds: [1] }], configs: [{ name: 'cleanup.policy', value: 'compact' }] },
        ],
        timeoutMs: 5000,
        validateOnly: version >= 1,
      });
    },
  }),
  DELETE_TOPICS: () => ({
    args: { topics: ['a', 'b'], timeout: 100 },
    check(decoded) {
      expect(decoded).toEqual({ topicNames: ['a', 'b'], timeoutMs: 100 });
    },
  }),
  DELETE_RECORDS: () => ({
    args: { topics: [{ topic: 't', partitions: [{ partition: 0, offset: '5' }] }], timeout: 100 },
    check(decoded) {
      expect(decoded).toEqual({ topics: [{ name: 't', partitions: [{ partitionIndex: 0, offset: 5 }] }], timeoutMs: 100 });
    },
  }),
  DESCRIBE_CONFIGS: (version) => ({
    args: { resources: [{ type: 2, name: 't', configNames: ['retention.ms'] }, { type: 4, name: '1' }], includeSynonyms: true },
    check(decoded) {
      expect(decoded).toEqual({
        resources: [
          { resourceType: 2, resourceName: 't', configurationKeys: ['retention.ms'] },
          // kafkajs writes an empty key list as null: every key.
          { resourceType: 4, resourceName: '1', configurationKeys: null },
        ],
        includeSynonyms: version >= 1,
      });
    },
  }),
  ALTER_CONFIGS: () => ({
    args: { resources: [{ type: 2, name: 't', configEntries: [{ name: 'retention.ms', value: '1000' }] }], validateOnly: true },
    check(decoded) {
      expect(decoded).toEqual({ resources: [{ resourceType: 2, resourceName: 't', configs: [{ name: 'retention.ms', value: '1000' }] }], validateOnly: true });
    },
  }),
  CREATE_PARTITIONS: () => ({
    args: { topicPartitions: [{ topic: 't', count: 4 }], validateOnly: false, timeout: 100 },
    check(decoded) {
      // kafkajs writes "no assignments" as a null array.
      expect(decoded).toEqual({ topics: [{ name: 't', count: 4, assignments: null }], timeoutMs: 100, validateOnly: false });
    },
  }),  OFFSET_COMMIT: (version) => ({
    args: { groupId: 'g', groupGenerationId: 3, memberId: 'm-1', retentionTime: -1, topics: [{ topic: 't', partitions: [{ partition: 1, offset: '42', metadata: 'md' }] }] },
    check(decoded) {
      expect(decoded).toMatchObject({ groupId: 'g', generationId: 3, memberId: 'm-1', retentionTimeMs: -1 });
      expect(decoded.topics).toEqual([{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: 'md' }] }]);
      expect(version).toBeLessThanOrEqual(5);
    },
  }),
  OFFSET_FETCH: () => ({
    args: { groupId: 'g', topics: [{ topic: 't', partitions: [{ partition: 0 }, { partition: 2 }] }] },
    check(decoded) {
      expect(decoded).toEqual({ groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 2] }] });
    },
  }),
  JOIN_GROUP: (version) => ({
    args: { groupId: 'g', sessionTimeout: 30_000, rebalanceTimeout: 60_000, memberId: '', protocolType: 'consumer', groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from('sub') }] },
    check(decoded) {
      expect(decoded).toEqual({
        groupId: 'g',
        sessionTimeoutMs: 30_000,
        rebalanceTimeoutMs: version >= 1 ? 60_000 : -1,
        memberId: '',
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from('sub') }],
      });
    },
  }),
  HEARTBEAT: () => ({
    args: { groupId: 'g', groupGenerationId: 4, memberId: 'm-1' },
    check(decoded) {
      expect(decoded).toEqual({ groupId: 'g', generationId: 4, memberId: 'm-1', groupInstanceId: null });
    },
  }),
  LEAVE_GROUP: (version) => ({
    args: { groupId: 'g', memberId: 'm-1', members: [{ memberId: 'm-1' }] },
    check(decoded) {
      expect(decoded).toEqual(
        version >= 3 ? { groupId: 'g', memberId: '', members: [{ memberId: 'm-1', groupInstanceId: null }] } : { groupId: 'g', memberId: 'm-1', members: [] },
      );
    },
  }),
  SYNC_GROUP: () => ({
    args: { groupId: 'g', generationId: 4, memberId: 'm-1', groupAssignment: [{ memberId: 'm-1', memberAssignment: Buffer.from('asg') }] },
    check(decoded) {
      expect(decoded).toEqual({ groupId: 'g', generationId: 4, memberId: 'm-1', groupInstanceId: null, assignments: [{ memberId: 'm-1', assignment: Buffer.from('asg') }] });
    },
  }),
  DESCRIBE_GROUPS: () => ({
    args: { groupIds: ['a', 'b'] },
    check(decoded) {
      expect(decoded).toEqual({ groups: ['a', 'b'], includeAuthorizedOperations: false });
    },
  }),
  LIST_GROUPS: () => ({
    args: {},
    check(decoded) {
      expect(decoded).toEqual({});
    },
  }),
  DELETE_GROUPS: () => ({
    // kafkajs's DeleteGroups request takes the list of ids itself.
    args: ['a', 'b'] as unknown as Record<string, unknown>,
    check(decoded) {
      expect(decoded).toEqual({ groupsNames: ['a', 'b'] });
    },
  }),
  OFFSET_DELETE: () => {
    throw new Error('kafkajs has no OffsetDelete request');
  },
  INIT_PRODUCER_ID: () => ({
    args: { transactionalId: 'tx-1', transactionTimeout: 30_000 },
    check(decoded) {
      expect(decoded).toEqual({ transactionalId: 'tx-1', transactionTimeoutMs: 30_000 });
    },
  }),
  ADD_PARTITIONS_TO_TXN: () => ({
    args: { transactionalId: 'tx-1', producerId: '4001', producerEpoch: 3, topics: [{ topic: 't', partitions: [0, 2] }] },
    check(decoded) {
      expect(decoded).toEqual({ transactionalId: 'tx-1', producerId: 4001, producerEpoch: 3, topics: [{ name: 't', partitions: [0, 2] }] });
    },
  }),
  ADD_OFFSETS_TO_TXN: () => ({
    args: { transactionalId: 'tx-1', producerId: '4001', producerEpoch: 3, groupId: 'g' },
    check(decoded) {
      expect(decoded).toEqual({ transactionalId: 'tx-1', producerId: 4001, producerEpoch: 3, groupId: 'g' });
    },
  }),
  END_TXN: () => ({
    args: { transactionalId: 'tx-1', producerId: '4001', producerEpoch: 3, transactionResult: true },
    check(decoded) {
      expect(decoded).toEqual({ transactionalId: 'tx-1', producerId: 4001, producerEpoch: 3, committed: true });
    },
  }),
  TXN_OFFSET_COMMIT: () => ({
    args: { transactionalId: 'tx-1', groupId: 'g', producerId: '4001', producerEpoch: 3, topics: [{ topic: 't', partitions: [{ partition: 1, offset: '42', metadata: null }] }] },
    check(decoded) {
      expect(decoded).toEqual({
        transactionalId: 'tx-1',
        groupId: 'g',
        producerId: 4001,
        producerEpoch: 3,
        topics: [{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: null }] }],
      });
    },
  }),
};

describe('kafka codec > kafkajs requests decode with ours', () => {
  for (const [api, version] of pairs) {
    it(`reads ${kafkaApis[api].name} v${version} as kafkajs writes it`, async () => {
      const { args, check } = requests[api](version);
      await (check as (decoded: unknown) => Promise<void> | void)(await kafkajsEncode(api, version, args));
    });
  }
});

const batch = encodeRecordBatchSync({ records: [{ key: 'k1', value: 'v1', headers: { h: 'x' } }, { key: null, value: null }], nowMs: TS, baseOffset: 40 });

/** A response of each API, and what kafkajs must read from it. */
const responses: { [A in KafkaApiName]: (version: number) => { body: KafkaResponse<A>; check: (decoded: Record<string, unknown>) => void } } = {
  PRODUCE: (version) => ({
    body: { responses: [{ name: 'orders', partitionResponses: [{ index: 1, errorCode: 0, baseOffset: 41, logAppendTimeMs: -1, logStartOffset: 3 }] }], throttleTimeMs: 0 },
    check(decoded) {
      expect(decoded.topics).toEqual([
        {
          topicName: 'orders',
          // kafkajs names the v0-2 fields offset and timestamp.
          partitions: [
            version < 3
              ? { partition: 1, errorCode: 0, offset: '41', ...(version === 2 ? { timestamp: '-1' } : {}) }
              : { partition: 1, errorCode: 0, baseOffset: '41', logAppendTime: '-1', ...(version >= 5 ? { logStartOffset: '3' } : {}) },
          ],
        },
      ]);
    },
  }),
  FETCH: (version) => ({
    body: {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 'orders',
          partitions: [
            { partitionIndex: 2, errorCode: 0, highWatermark: 42, lastStableOffset: 42, logStartOffset: 7, abortedTransactions: [], preferredReadReplica: -1, records: [batch] },
          ],
        },
      ],
    },
    check(decoded) {
      const partition = (decoded.responses as { topicName: string; partitions: Record<string, unknown>[] }[])[0]?.partitions[0];
      expect(partition).toMatchObject({ partition: 2, errorCode: 0, highWatermark: '42', lastStableOffset: '42', abortedTransactions: [] });
      if (version >= 5) expect(partition?.lastStartOffset).toBe('7');
      if (version >= 11) expect(partition?.preferredReadReplica).toBe(-1);
      const messages = partition?.messages as { offset: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> }[];
      expect(messages.map((m) => [m.offset, m.key?.toString() ?? null, m.value?.toString() ?? null])).toEqual([
        ['40', 'k1', 'v1'],
        ['41', null, null],
      ]);
      expect(messages[0]?.headers.h?.toString()).toBe('x');
    },
  }),
  LIST_OFFSETS: () => ({
    body: { throttleTimeMs: 0, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: TS, offset: 12 }] }] },
    check(decoded) {
      expect(decoded.responses).toEqual([{ topic: 'orders', partitions: [{ partition: 0, errorCode: 0, timestamp: String(TS), offset: '12' }] }]);
    },
  }),
  METADATA: (version) => ({
    body: {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: 'r1' }],
      clusterId: 'cluster-x',
      controllerId: 1,
      topics: [{ errorCode: 0, name: 'orders', isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }] }],
    },
    check(decoded) {
      expect((decoded.brokers as Record<string, unknown>[])[0]).toMatchObject({ nodeId: 1, host: 'localhost', port: 9092, ...(version >= 1 ? { rack: 'r1' } : {}) });
      if (version >= 1) expect(decoded.controllerId).toBe(1);
      if (version >= 2) expect(decoded.clusterId).toBe('cluster-x');
      expect(decoded.topicMetadata).toEqual([
        {
          topicErrorCode: 0,
          topic: 'orders',
          ...(version >= 1 ? { isInternal: false } : {}),
          partitionMetadata: [{ partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1], isr: [1], ...(version >= 5 ? { offlineReplicas: [] } : {}) }],
        },
      ]);
    },
  }),
  FIND_COORDINATOR: () => ({
    body: { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 1, host: 'localhost', port: 9092 },
    check(decoded) {
      expect(decoded).toMatchObject({ errorCode: 0, coordinator: { nodeId: 1, host: 'localhost', port: 9092 } });
    },
  }),
  API_VERSIONS: () => ({
    body: { errorCode: 0, apiKeys: kafkaApiVersions(), throttleTimeMs: 0 },
    check(decoded) {
      expect(decoded.apiVersions).toEqual(kafkaApiVersions());
    },
  }),
  CREATE_TOPICS: (version) => ({
    body: { throttleTimeMs: 0, topics: [{ name: 'a', errorCode: 0, errorMessage: null }, { name: 'b', errorCode: 36, errorMessage: 'exists' }] },
    check(decoded) {
      expect(decoded.topicErrors).toEqual([
        { topic: 'a', errorCode: 0, ...(version >= 1 ? { errorMessage: null } : {}) },
        { topic: 'b', errorCode: 36, ...(version >= 1 ? { errorMessage: 'exists' } : {}) },
      ]);
    },
  }),
  DELETE_TOPICS: () => ({
    body: { throttleTimeMs: 0, responses: [{ name: 'a', errorCode: 3 }] },
    check(decoded) {
      expect(decoded.topicErrors).toEqual([{ topic: 'a', errorCode: 3 }]);
    },
  }),
  DELETE_RECORDS: () => ({
    body: { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, lowWatermark: 5, errorCode: 0 }] }] },
    check(decoded) {
      const partition = (decoded.topics as { topic: string; partitions: { partition: number; lowWatermark: { toString(): string }; errorCode: number }[] }[])[0]?.partitions[0];
      expect([partition?.partition, partition?.lowWatermark.toString(), partition?.errorCode]).toEqual([0, '5', 0]);
    },
  }),
  DESCRIBE_CONFIGS: (version) => ({
    body: {
      throttleTimeMs: 0,
      results: [
        {
          errorCode: 0,
          errorMessage: null,
          resourceType: 2,
          resourceName: 't',
          configs: [
            { name: 'cleanup.policy', value: 'delete', readOnly: false, isDefault: true, configSource: 5, isSensitive: false, synonyms: [{ name: 'cleanup.policy', value: 'delete', source: 5 }] },
            { name: 'retention.ms', value: '1000', readOnly: false, isDefault: false, configSource: 1, isSensitive: false, synonyms: [] },
          ],
        },
      ],
    },
    check(decoded) {
      const entries = (decoded.resources as { configEntries: Record<string, unknown>[] }[])[0]?.configEntries ?? [];
      expect(entries[0]).toMatchObject({ configName: 'cleanup.policy', configValue: 'delete', isDefault: true, configSource: 5 });
      expect(entries[1]).toMatchObject({ configName: 'retention.ms', configValue: '1000', isDefault: false, configSource: 1 });
      if (version >= 1) expect(entries[0]?.configSynonyms).toEqual([{ configName: 'cleanup.policy', configValue: 'delete', configSource: 5 }]);
    },
  }),
  ALTER_CONFIGS: () => ({
    body: { throttleTimeMs: 0, responses: [{ errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 't' }] },
    check(decoded) {
      expect(decoded.resources).toEqual([{ errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 't' }]);
    },
  }),
  CREATE_PARTITIONS: () => ({
    body: { throttleTimeMs: 0, results: [{ name: 't', errorCode: 37, errorMessage: 'fewer' }] },
    check(decoded) {
      expect(decoded.topicErrors).toEqual([{ topic: 't', errorCode: 37, errorMessage: 'fewer' }]);
    },
  }),  OFFSET_COMMIT: () => ({
    body: { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 1, errorCode: 0 }] }] },
    check(decoded) {
      expect(decoded.responses).toEqual([{ topic: 't', partitions: [{ partition: 1, errorCode: 0 }] }]);
    },
  }),
  OFFSET_FETCH: () => ({
    body: { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 2, committedOffset: 42, committedLeaderEpoch: -1, metadata: 'md', errorCode: 0 }] }], errorCode: 0 },
    check(decoded) {
      expect(decoded.responses).toEqual([{ topic: 't', partitions: [{ partition: 2, offset: '42', metadata: 'md', errorCode: 0 }] }]);
    },
  }),
  JOIN_GROUP: () => ({
    body: {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 5,
      protocolName: 'RoundRobinAssigner',
      leader: 'm-1',
      memberId: 'm-1',
      members: [{ memberId: 'm-1', groupInstanceId: null, metadata: Buffer.from('sub') }],
    },
    check(decoded) {
      expect(decoded).toMatchObject({ errorCode: 0, generationId: 5, groupProtocol: 'RoundRobinAssigner', leaderId: 'm-1', memberId: 'm-1' });
      expect(decoded.members).toMatchObject([{ memberId: 'm-1', memberMetadata: Buffer.from('sub') }]);
    },
  }),
  HEARTBEAT: () => ({
    body: { throttleTimeMs: 0, errorCode: 0 },
    check(decoded) {
      expect(decoded).toMatchObject({ errorCode: 0 });
    },
  }),
  LEAVE_GROUP: (version) => ({
    body: { throttleTimeMs: 0, errorCode: 0, members: [{ memberId: 'm-1', groupInstanceId: null, errorCode: 0 }] },
    check(decoded) {
      expect(decoded).toMatchObject({ errorCode: 0 });
      if (version >= 3) expect(decoded.members).toMatchObject([{ memberId: 'm-1', errorCode: 0 }]);
    },
  }),
  SYNC_GROUP: () => ({
    body: { throttleTimeMs: 0, errorCode: 0, assignment: Buffer.from('asg') },
    check(decoded) {
      expect(decoded).toMatchObject({ errorCode: 0, memberAssignment: Buffer.from('asg') });
    },
  }),
  DESCRIBE_GROUPS: () => ({
    body: {
      throttleTimeMs: 0,
      groups: [
        {
          errorCode: 0,
          groupId: 'g',
          groupState: 'Stable',
          protocolType: 'consumer',
          protocolData: 'RoundRobinAssigner',
          members: [{ memberId: 'm-1', groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1', memberMetadata: Buffer.from('sub'), memberAssignment: Buffer.from('asg') }],
          authorizedOperations: -2147483648,
        },
      ],
    },
    check(decoded) {
      expect(decoded.groups).toMatchObject([
        {
          errorCode: 0,
          groupId: 'g',
          state: 'Stable',
          protocolType: 'consumer',
          protocol: 'RoundRobinAssigner',
          members: [{ memberId: 'm-1', clientId: 'c', clientHost: '/127.0.0.1', memberMetadata: Buffer.from('sub'), memberAssignment: Buffer.from('asg') }],
        },
      ]);
    },
  }),
  LIST_GROUPS: () => ({
    body: { throttleTimeMs: 0, errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer' }] },
    check(decoded) {
      expect(decoded).toMatchObject({ errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer' }] });
    },
  }),
  DELETE_GROUPS: () => ({
    body: { throttleTimeMs: 0, results: [{ groupId: 'g', errorCode: 0 }] },
    check(decoded) {
      expect(decoded.results).toEqual([{ groupId: 'g', errorCode: 0 }]);
    },
  }),
  OFFSET_DELETE: () => {
    throw new Error('kafkajs has no OffsetDelete response');
  },
  INIT_PRODUCER_ID: () => ({
    body: { throttleTimeMs: 0, errorCode: 0, producerId: 4001, producerEpoch: 3 },
    check(decoded) {
      expect(decoded).toMatchObject({ errorCode: 0, producerId: '4001', producerEpoch: 3 });
    },
  }),
  ADD_PARTITIONS_TO_TXN: () => ({
    body: { throttleTimeMs: 0, results: [{ name: 't', results: [{ partitionIndex: 2, errorCode: 47 }] }] },
    check(decoded) {
      expect(decoded.errors).toEqual([{ topic: 't', partitionErrors: [{ partition: 2, errorCode: 47 }] }]);
    },
  }),
  ADD_OFFSETS_TO_TXN: () => ({
    body: { throttleTimeMs: 0, errorCode: 51 },
    check(decoded) {
      expect(decoded).toMatchObject({ errorCode: 51 });
    },
  }),
  END_TXN: () => ({
    body: { throttleTimeMs: 0, errorCode: 0 },
    check(decoded) {
      expect(decoded).toMatchObject({ errorCode: 0 });
    },
  }),
  TXN_OFFSET_COMMIT: () => ({
    body: { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 1, errorCode: 0 }] }] },
    check(decoded) {
      expect(decoded.topics).toEqual([{ topic: 't', partitions: [{ partition: 1, errorCode: 0 }] }]);
    },
  }),
};

describe('kafka codec > our responses decode with kafkajs', () => {
  for (const [api, version] of pairs) {
    it(`writes ${kafkaApis[api].name} v${version} as kafkajs reads it`, async () => {
      const { body, check } = responses[api](version);
      check(await kafkajsDecode(api, version, body as never));
    });
  }

  it('finds a kafkajs codec for every version served but ApiVersions v3 (flexible), CreateTopics v4, DeleteTopics v2-3, OffsetCommit v6-7, OffsetFetch v5, DescribeGroups v3-4, OffsetDelete and TxnOffsetCommit v2', () => {
    const missing = (Object.keys(kafkaApis) as KafkaApiName[]).flatMap((api) => {
      const out: string[] = [];
      for (let v = kafkaApis[api].minVersion; v <= kafkaApis[api].maxVersion; v++) if (!hasKafkajsVersion(api, v)) out.push(`${kafkaApis[api].name} v${v}`);
      return out;
    });
    expect(missing.sort()).toEqual(
      ['ApiVersions v3', 'CreateTopics v4', 'DeleteTopics v2', 'DeleteTopics v3', 'OffsetCommit v6', 'OffsetCommit v7', 'OffsetFetch v5', 'DescribeGroups v3', 'DescribeGroups v4', 'OffsetDelete v0', 'TxnOffsetCommit v2'].sort(),
    );
  });
});
