/**
 * How Kafka group requests reach the group coordinator: FindCoordinator names the broker that was
 * asked, and that broker forwards the group APIs to the coordinator leader through its coordinator
 * client. Checked on a second broker (`streambus broker`, which holds no coordinator) with raw
 * requests and with a kafkajs consumer group bootstrapped at that broker alone; and checked that
 * transactional ids are routed the same way (./txn-routing.test.ts has the rest), that bad group
 * requests get Kafka's codes instead of a dropped connection, and that offsets commit, fetch and
 * delete (OffsetDelete, which none of the clients here sends) for a group without members.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaErrorCode } from '../../proto/kafka/index.js';
import { startKafkaBroker, startKafkaNode, type KafkaBroker, type KafkaNode } from './support/kafka-node.js';
import { RawKafkaClient } from './support/raw-client.js';

let node: KafkaNode;
let second: KafkaBroker;

beforeAll(async () => {
  node = await startKafkaNode({ 'group.initial.rebalance.delay.ms': '0' });
  second = await startKafkaBroker(node, 2);
});

afterAll(async () => {
  await second?.close();
  await node?.close();
});

describe('kafka listener > group routing', () => {
  it('names the asked broker as the coordinator of every group and every transactional id', async () => {
    const raw = await RawKafkaClient.connect(second.broker.kafka.bound.port);
    try {
      const group = await raw.request('FIND_COORDINATOR', 2, { key: 'any-group', keyType: 0 });
      expect(group).toEqual({ throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 2, host: '127.0.0.1', port: second.broker.kafka.bound.port });
      const v0 = await raw.request('FIND_COORDINATOR', 0, { key: 'any-group', keyType: 0 });
      expect(v0).toMatchObject({ errorCode: 0, nodeId: 2 });
      const txn = await raw.request('FIND_COORDINATOR', 1, { key: 'txn-1', keyType: 1 });
      expect(txn).toMatchObject({ errorCode: KafkaErrorCode.NONE, nodeId: 2 });
    } finally {
      raw.close();
    }
  });

  it('answers bad group requests with Kafka codes: an empty group id, an unknown member, a stale generation', async () => {
    const raw = await RawKafkaClient.connect(second.broker.kafka.bound.port);
    try {
      expect(await raw.request('HEARTBEAT', 1, { groupId: '', generationId: 1, memberId: 'm', groupInstanceId: null })).toMatchObject({ errorCode: 24 });
      expect(await raw.request('HEARTBEAT', 3, { groupId: 'raw-group', generationId: 1, memberId: 'nobody', groupInstanceId: null })).toMatchObject({ errorCode: 25 });
      const joined = await raw.request('JOIN_GROUP', 5, {
        groupId: 'raw-group',
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 5_000,
        memberId: '',
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.from('subscription bytes') }],
      });
      expect(joined).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range' });
      expect(joined.leader).toBe(joined.memberId);
      // The member's metadata passes through untouched.
      expect(joined.members).toEqual([{ memberId: joined.memberId, groupInstanceId: null, metadata: Buffer.from('subscription bytes') }]);
      const synced = await raw.request('SYNC_GROUP', 3, {
        groupId: 'raw-group',
        generationId: 1,
        memberId: joined.memberId,
        groupInstanceId: null,
        assignments: [{ memberId: joined.memberId, assignment: Buffer.from('assignment bytes') }],
      });
      expect(synced).toEqual({ throttleTimeMs: 0, errorCode: 0, assignment: Buffer.from('assignment bytes') });
      expect(await raw.request('HEARTBEAT', 3, { groupId: 'raw-group', generationId: 7, memberId: joined.memberId, groupInstanceId: null })).toMatchObject({ errorCode: 22 });
      const left = await raw.request('LEAVE_GROUP', 3, { groupId: 'raw-group', memberId: '', members: [{ memberId: joined.memberId, groupInstanceId: null }] });
      expect(left).toEqual({ throttleTimeMs: 0, errorCode: 0, members: [{ memberId: joined.memberId, groupInstanceId: null, errorCode: 0 }] });
    } finally {
      raw.close();
    }
  });

  it('commits, fetches and deletes the offsets of a group without members (generation -1) over raw requests', async () => {
    const admin = new Kafka({ brokers: [second.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'raw-offsets', numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    const raw = await RawKafkaClient.connect(second.broker.kafka.bound.port);
    try {
      const partitions = [
        { partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: 'md-0' },
        { partitionIndex: 1, committedOffset: 9, committedLeaderEpoch: -1, committedMetadata: null },
      ];
      const commit = await raw.request('OFFSET_COMMIT', 7, { groupId: 'raw-offsets', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 'raw-offsets', partitions }] });
      expect(commit.topics).toEqual([{ name: 'raw-offsets', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }] }]);
      const fetched = await raw.request('OFFSET_FETCH', 5, { groupId: 'raw-offsets', topics: null });
      expect(fetched.errorCode).toBe(0);
      expect(fetched.topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partitionIndex, p.committedOffset, p.metadata])).sort()).toEqual([
        ['raw-offsets', 0, 7, 'md-0'],
        ['raw-offsets', 1, 9, ''],
      ]);
      const deleted = await raw.request('OFFSET_DELETE', 0, { groupId: 'raw-offsets', topics: [{ name: 'raw-offsets', partitions: [{ partitionIndex: 0 }] }] });
      expect(deleted).toEqual({ errorCode: 0, throttleTimeMs: 0, topics: [{ name: 'raw-offsets', partitions: [{ partitionIndex: 0, errorCode: 0 }] }] });
      const after = await raw.request('OFFSET_FETCH', 1, { groupId: 'raw-offsets', topics: [{ name: 'raw-offsets', partitionIndexes: [0, 1] }] });
      expect(after.topics[0]?.partitions.map((p) => [p.partitionIndex, p.committedOffset])).toEqual([
        [0, -1],
        [1, 9],
      ]);
      const unknown = await raw.request('OFFSET_DELETE', 0, { groupId: 'no-such-group', topics: [{ name: 'raw-offsets', partitions: [{ partitionIndex: 0 }] }] });
      expect(unknown.errorCode).toBe(69);
    } finally {
      raw.close();
    }
  });

  it('serves a kafkajs consumer group bootstrapped at a broker that holds no coordinator', async () => {
    const kafka = new Kafka({ brokers: [second.bootstrap], clientId: 'routing', logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } });
    const admin = kafka.admin();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: 'routed', sessionTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100 });
    await admin.connect();
    await producer.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'routed', numPartitions: 2 }], waitForLeaders: true });
      await producer.send({ topic: 'routed', acks: -1, messages: Array.from({ length: 20 }, (_, i) => ({ value: `m${i}`, partition: i % 2 })) });
      const seen: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topics: ['routed'], fromBeginning: true });
      await consumer.run({ autoCommitThreshold: 1, eachMessage: ({ message }) => Promise.resolve(void seen.push(message.value?.toString() ?? '')) });
      const deadline = Date.now() + 20_000;
      while (seen.length < 20 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(seen.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
      await consumer.disconnect();
      const [committed] = await admin.fetchOffsets({ groupId: 'routed', topics: ['routed'] });
      expect(committed?.partitions.map((p) => p.offset).sort()).toEqual(['10', '10']);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
