/**
 * kafkajs 2.2.4 (npm), unmodified, against the Kafka listener of a real single-node cluster:
 * administration, and producing with every acks setting, headers, tombstones and gzip. What
 * kafkajs wrote is read back through the native protocol, batch by batch, as stored; kafkajs's
 * own consumer groups are tested in ./kafkajs-groups.test.ts.
 */
import { CompressionTypes, ConfigResourceTypes, Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compression } from '../../proto/record-batch/index.js';
import { readBatches, startKafkaNode, type KafkaNode } from './support/kafka-node.js';

let node: KafkaNode;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  node = await startKafkaNode({ 'num.partitions': '2' });
  kafka = new Kafka({ brokers: [node.bootstrap], clientId: 'kafkajs-test', logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 } });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await node?.close();
});

/** Every record of a partition as [offset, key, value], read back through the native protocol. */
async function stored(topic: string, partition = 0, offset = 0): Promise<[number, string | null, string | null][]> {
  const batches = await readBatches(node, topic, partition, offset);
  // Whole batches come back, from the one holding `offset`: drop the records before it, as consumers do.
  return batches.flatMap((batch) =>
    batch.records.filter((r) => r.offset >= offset).map((r): [number, string | null, string | null] => [r.offset, r.key?.toString() ?? null, r.value?.toString() ?? null]),
  );
}

describe('kafka listener > kafkajs admin', () => {
  it('describes the cluster: one broker at the advertised address, which is the controller', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toEqual([{ nodeId: 1, host: '127.0.0.1', port: node.kafkaPort }]);
    expect(cluster.controller).toBe(1);
    expect(cluster.clusterId).toBe(node.node.clusterId);
  });

  it('creates topics, lists and describes them, answers false for one that exists, and deletes them', async () => {
    expect(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 3 }, { topic: 'admin-b' }], waitForLeaders: true })).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 3 }] })).toBe(false);
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(['admin-a', 'admin-b']));
    const { topics } = await admin.fetchTopicMetadata({ topics: ['admin-a', 'admin-b'] });
    topics.sort((a, b) => a.name.localeCompare(b.name));
    expect(topics.map((t) => [t.name, t.partitions.length])).toEqual([
      ['admin-a', 3],
      ['admin-b', 2],
    ]);
    expect(topics[0]?.partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr])).toEqual([
      [0, 1, [1], [1]],
      [1, 1, [1], [1]],
      [2, 1, [1], [1]],
    ]);
    await admin.deleteTopics({ topics: ['admin-b'] });
    expect(await admin.listTopics()).not.toContain('admin-b');
  });

  it('refuses a topic with a manual replica assignment with INVALID_REPLICA_ASSIGNMENT', async () => {
    await expect(admin.createTopics({ topics: [{ topic: 'assigned', replicaAssignment: [{ partition: 0, replicas: [1] }] }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_REPLICA_ASSIGNMENT' })],
    });
  });

  it('adds partitions, and refuses a count below the current one with INVALID_PARTITIONS', async () => {
    await admin.createTopics({ topics: [{ topic: 'growing', numPartitions: 1 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 4 }] });
    const { topics } = await admin.fetchTopicMetadata({ topics: ['growing'] });
    expect(topics[0]?.partitions).toHaveLength(4);
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 2 }] })).rejects.toMatchObject({ type: 'INVALID_PARTITIONS' });
  });

  it('describes a topic\'s configs with their defaults and sources, and alters them by replacing the whole set', async () => {
    await admin.createTopics({ topics: [{ topic: 'configured', configEntries: [{ name: 'retention.ms', value: '60000' }] }] });
    const describe = async (): Promise<Map<string, { value: string; source: number; isDefault: boolean }>> => {
      const { resources } = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured' }], includeSynonyms: false });
      return new Map((resources[0]?.configEntries ?? []).map((e) => [e.configName, { value: e.configValue, source: e.configSource, isDefault: e.isDefault }]));
    };
    const before = await describe();
    expect(before.size).toBeGreaterThan(5);
    expect(before.get('cleanup.policy')).toEqual({ value: 'delete', source: 5, isDefault: true });
    expect(before.get('retention.ms')).toEqual({ value: '60000', source: 1, isDefault: false });
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured', configEntries: [{ name: 'max.message.bytes', value: '2000000' }] }] });
    const after = await describe();
    expect(after.get('max.message.bytes')).toEqual({ value: '2000000', source: 1, isDefault: false });
    // AlterConfigs replaces the set: retention.ms, left out, is back at its default.
    expect(after.get('retention.ms')).toMatchObject({ value: '604800000', isDefault: true });
  });

  it('describes the broker\'s own settings, secrets without their value, and refuses to alter them', async () => {
    const { resources } = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.BROKER, name: '1' }], includeSynonyms: false });
    const entries = new Map((resources[0]?.configEntries ?? []).map((e) => [e.configName, e]));
    expect(entries.get('num.partitions')).toMatchObject({ configValue: '2', configSource: 4, readOnly: true });
    expect(entries.get('durability')).toMatchObject({ configValue: 'group', configSource: 5, isDefault: true });
    expect(entries.get('admin.auth.token')).toMatchObject({ configValue: null, isSensitive: true });
    await expect(
      admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'num.partitions', value: '3' }] }] }),
    ).rejects.toMatchObject({ type: 'INVALID_REQUEST' });
  });

  it('fetches topic offsets and offsets by timestamp, and deleting records moves the log start', async () => {
    await admin.createTopics({ topics: [{ topic: 'timed', numPartitions: 1 }] });
    await producer.send({ topic: 'timed', messages: [1_000, 2_000, 3_000, 4_000].map((t) => ({ value: `at-${t}`, timestamp: String(1_700_000_000_000 + t) })) });
    expect(await admin.fetchTopicOffsets('timed')).toEqual([{ partition: 0, offset: '4', high: '4', low: '0' }]);
    expect(await admin.fetchTopicOffsetsByTimestamp('timed', 1_700_000_002_500)).toEqual([{ partition: 0, offset: '2' }]);
    // Past the last record: Kafka answers -1 and kafkajs reports the high watermark.
    expect(await admin.fetchTopicOffsetsByTimestamp('timed', 1_800_000_000_000)).toEqual([{ partition: 0, offset: '4' }]);
    await admin.deleteTopicRecords({ topic: 'timed', partitions: [{ partition: 0, offset: '3' }] });
    expect(await admin.fetchTopicOffsets('timed')).toEqual([{ partition: 0, offset: '4', high: '4', low: '3' }]);
    expect(await stored('timed', 0, 3)).toEqual([[3, null, 'at-4000']]);
  });
});

describe('kafka listener > kafkajs producer', () => {
  it('produces with acks -1, 1 and 0, and every record is stored in order', async () => {
    await admin.createTopics({ topics: [{ topic: 'acks', numPartitions: 1 }] });
    const all = await producer.send({ topic: 'acks', acks: -1, messages: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] });
    expect(all).toEqual([expect.objectContaining({ topicName: 'acks', partition: 0, errorCode: 0, baseOffset: '0' })]);
    const leader = await producer.send({ topic: 'acks', acks: 1, messages: [{ key: 'c', value: '3' }] });
    expect(leader).toEqual([expect.objectContaining({ errorCode: 0, baseOffset: '2' })]);
    // acks=0: kafkajs expects no response and gets none; the next request still gets its own answer.
    expect(await producer.send({ topic: 'acks', acks: 0, messages: [{ key: 'd', value: '4' }] })).toEqual([]);
    const next = await producer.send({ topic: 'acks', acks: -1, messages: [{ key: 'e', value: '5' }] });
    expect(next).toEqual([expect.objectContaining({ errorCode: 0, baseOffset: '4' })]);
    expect(await stored('acks')).toEqual([
      [0, 'a', '1'],
      [1, 'b', '2'],
      [2, 'c', '3'],
      [3, 'd', '4'],
      [4, 'e', '5'],
    ]);
  });

  it('keeps keys, repeated headers, tombstones and timestamps exactly as sent', async () => {
    await admin.createTopics({ topics: [{ topic: 'shapes', numPartitions: 1 }] });
    await producer.send({
      topic: 'shapes',
      messages: [
        { key: 'user-1', value: 'hello', headers: { trace: 'abc', tag: ['x', 'y'] }, timestamp: '1700000000123' },
        { key: 'user-1', value: null, timestamp: '1700000000456' },
        { key: null, value: Buffer.from([0, 1, 2, 255]) },
      ],
    });
    const [batch] = await readBatches(node, 'shapes', 0);
    expect(batch?.records.map((r) => [r.key?.toString() ?? null, r.value === null ? null : r.value.toString('hex')])).toEqual([
      ['user-1', Buffer.from('hello').toString('hex')],
      ['user-1', null],
      [null, '000102ff'],
    ]);
    expect(batch?.records[0]?.headers.map((h) => [h.key, h.value?.toString()])).toEqual([
      ['trace', 'abc'],
      ['tag', 'x'],
      ['tag', 'y'],
    ]);
    expect(batch?.records.slice(0, 2).map((r) => r.timestamp)).toEqual([1_700_000_000_123, 1_700_000_000_456]);
  });

  it('stores a gzip batch as kafkajs compressed it', async () => {
    await admin.createTopics({ topics: [{ topic: 'gzipped', numPartitions: 1 }] });
    const messages = Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: `value ${i} `.repeat(10) }));
    await producer.send({ topic: 'gzipped', compression: CompressionTypes.GZIP, messages });
    const batches = await readBatches(node, 'gzipped', 0);
    expect(batches.map((b) => b.header.compression)).toEqual([Compression.gzip]);
    expect(batches[0]?.records.map((r) => r.key?.toString())).toEqual(messages.map((m) => m.key));
  });

  it('creates a topic it produces to for the first time (Metadata auto-creation, num.partitions)', async () => {
    await producer.send({ topic: 'auto-created', messages: [{ value: 'first' }] });
    const { topics } = await admin.fetchTopicMetadata({ topics: ['auto-created'] });
    expect(topics[0]?.partitions).toHaveLength(2);
  });
});
