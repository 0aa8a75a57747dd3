import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { AdminError, StreamBus } from '../index.js';
import { seededRandom } from '../policy/random.js';
import { MiniBroker } from '../testing/mini-broker.js';
import { rejectionOf } from '../testing/wait.js';

const clients: StreamBus[] = [];

function setup(): { broker: MiniBroker; bus: StreamBus; admin: ReturnType<StreamBus['admin']> } {
  const broker = new MiniBroker();
  const bus = new StreamBus({ brokers: ['127.0.0.1:9093'], connect: broker.connect, random: seededRandom(5), retryBackoffMs: 5, retryBackoffMaxMs: 20 });
  clients.push(bus);
  return { broker, bus, admin: bus.admin() };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((bus) => bus.close()));
});

describe('admin > topics', () => {
  it('creates topics and lists them', async () => {
    const { admin } = setup();
    const created = await admin.createTopics([{ topic: 'orders', partitions: 3 }, { topic: 'audit' }]);
    expect(created.map((c) => c.topic)).toEqual(['orders', 'audit']);
    expect(created.every((c) => c.topicId !== '')).toBe(true);
    expect(await admin.listTopics()).toEqual(['audit', 'orders']);
  });

  it('reports which topic failed and why, while the others are created', async () => {
    const { broker, admin } = setup();
    broker.createTopic('exists');
    const error = await rejectionOf(admin.createTopics([{ topic: 'exists' }, { topic: 'fresh' }, { topic: 'bad', configs: { 'no.such': '1' } }]));
    expect(error).toBeInstanceOf(AdminError);
    expect(error).toBeInstanceOf(StreamBusError);
    const adminError = error as AdminError;
    expect(adminError.failures.map((f) => [f.topic, f.error.codeName])).toEqual([
      ['exists', 'TOPIC_ALREADY_EXISTS'],
      ['bad', 'INVALID_CONFIG'],
    ]);
    expect(adminError.code).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    expect(adminError.message).toContain('exists');
    expect(broker.topics.has('fresh')).toBe(true);
  });

  it('validates without creating when validateOnly is set', async () => {
    const { broker, admin } = setup();
    await admin.createTopics([{ topic: 'dry', partitions: 2 }], { validateOnly: true });
    expect(broker.topics.has('dry')).toBe(false);
  });

  it('rejects bad arguments before sending anything', async () => {
    const { broker, admin } = setup();
    await expect(admin.createTopics([{ topic: '' }])).rejects.toMatchObject({ code: ErrorCode.INVALID_TOPIC });
    await expect(admin.createTopics([{ topic: 'x', partitions: 0 }])).rejects.toMatchObject({ code: ErrorCode.INVALID_PARTITIONS });
    expect(broker.requests.filter((r) => r.api === 'CREATE_TOPICS')).toHaveLength(0);
  });

  it('deletes topics and names the ones that did not exist', async () => {
    const { broker, admin } = setup();
    broker.createTopic('gone');
    await admin.deleteTopics(['gone']);
    expect(broker.topics.has('gone')).toBe(false);
    const error = await rejectionOf(admin.deleteTopics(['gone']));
    expect((error as AdminError).failures).toMatchObject([{ topic: 'gone', error: { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION } }]);
  });

  it('retries a request the controller bounced with NOT_CONTROLLER', async () => {
    const { broker, admin } = setup();
    broker.faults.push({ api: 'CREATE_TOPICS', errorCode: ErrorCode.NOT_CONTROLLER, wholeRequest: true });
    await admin.createTopics([{ topic: 'retried' }]);
    expect(broker.requests.filter((r) => r.api === 'CREATE_TOPICS')).toHaveLength(2);
  });

  it('describes partitions, replicas and each partition\'s earliest and latest offsets', async () => {
    const { broker, bus, admin } = setup();
    broker.createTopic('d', 2);
    const producer = bus.producer({ lingerMs: 0 });
    await producer.sendBatch([0, 0, 0, 1].map((partition) => ({ topic: 'd', partition, value: 'v' })));
    await admin.deleteRecords([{ topic: 'd', partition: 0, offset: 1 }]);
    const [description] = await admin.describeTopics(['d']);
    expect(description).toMatchObject({ topic: 'd', internal: false });
    expect(description!.partitions).toEqual([
      { partition: 0, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1], earliestOffset: 1, latestOffset: 3 },
      { partition: 1, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1], earliestOffset: 0, latestOffset: 1 },
    ]);
  });

  it('fails describeTopics for a missing topic with its name', async () => {
    const { admin } = setup();
    const error = await rejectionOf(admin.describeTopics(['nope']));
    expect((error as AdminError).failures).toMatchObject([{ topic: 'nope', error: { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION } }]);
  });

  it('adds partitions and refuses to shrink', async () => {
    const { broker, admin } = setup();
    broker.createTopic('grow', 2);
    await admin.createPartitions([{ topic: 'grow', count: 5 }]);
    expect(broker.topics.get('grow')!.partitions).toHaveLength(5);
    await expect(admin.createPartitions([{ topic: 'grow', count: 3 }])).rejects.toMatchObject({ code: ErrorCode.INVALID_PARTITIONS });
  });
});

describe('admin > configs', () => {
  it('describes configs with their source, and alters them incrementally', async () => {
    const { broker, admin } = setup();
    broker.createTopic('c', 1, { 'retention.ms': '1000' });
    const [before] = await admin.describeConfigs(['c']);
    expect(before!.entries.find((e) => e.name === 'retention.ms')).toMatchObject({ value: '1000', source: 'topic' });
    expect(before!.entries.find((e) => e.name === 'cleanup.policy')).toMatchObject({ value: 'delete', source: 'default' });
    await admin.alterConfigs([{ topic: 'c', set: { 'cleanup.policy': 'compact' }, delete: ['retention.ms'] }]);
    const [after] = await admin.describeConfigs(['c']);
    expect(after!.entries.find((e) => e.name === 'cleanup.policy')).toMatchObject({ value: 'compact', source: 'topic' });
    expect(after!.entries.find((e) => e.name === 'retention.ms')).toMatchObject({ source: 'default' });
  });

  it('names the topic whose config change was refused', async () => {
    const { broker, admin } = setup();
    broker.createTopic('c');
    const error = await rejectionOf(admin.alterConfigs([{ topic: 'c', set: { 'made.up': 'x' } }]));
    expect((error as AdminError).failures).toMatchObject([{ topic: 'c', error: { code: ErrorCode.INVALID_CONFIG } }]);
  });
});

describe('admin > offsets and records', () => {
  it('lists earliest, latest and by-timestamp offsets in input order', async () => {
    const { broker, bus, admin } = setup();
    broker.createTopic('o');
    const producer = bus.producer({ lingerMs: 0 });
    await producer.sendBatch([10, 20, 30].map((timestamp) => ({ topic: 'o', value: 'v', timestamp, partition: 0 })));
    const results = await admin.listOffsets([
      { topic: 'o', partition: 0, at: 'latest' },
      { topic: 'o', partition: 0, at: 'earliest' },
      { topic: 'o', partition: 0, at: { timestamp: 15 } },
      { topic: 'o', partition: 0, at: { timestamp: 99 } },
    ]);
    expect(results.map((r) => [r.offset, r.timestamp])).toEqual([
      [3, -1],
      [0, -1],
      [1, 20],
      [-1, -1],
    ]);
  });

  it('retries a partition whose leader moved', async () => {
    const { broker, admin } = setup();
    broker.createTopic('o');
    broker.faults.push({ api: 'LIST_OFFSETS', topic: 'o', partition: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    expect(await admin.listOffsets([{ topic: 'o', partition: 0, at: 'latest' }])).toEqual([{ topic: 'o', partition: 0, offset: 0, timestamp: -1 }]);
  });

  it('names the partition that failed for good', async () => {
    const { broker, admin } = setup();
    broker.createTopic('o', 2);
    const error = await rejectionOf(admin.listOffsets([{ topic: 'o', partition: 7, at: 'latest' }], { timeoutMs: 100 }));
    expect((error as AdminError).failures).toMatchObject([{ topic: 'o', partition: 7, error: { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION } }]);
  });

  it('deletes records up to an offset and reports the new low watermark', async () => {
    const { broker, bus, admin } = setup();
    broker.createTopic('r');
    await bus.producer({ lingerMs: 0 }).sendBatch(['a', 'b', 'c'].map((value) => ({ topic: 'r', partition: 0, value })));
    expect(await admin.deleteRecords([{ topic: 'r', partition: 0, offset: 2 }])).toEqual([{ topic: 'r', partition: 0, lowWatermark: 2 }]);
    expect(await admin.deleteRecords([{ topic: 'r', partition: 0, offset: -1 }])).toEqual([{ topic: 'r', partition: 0, lowWatermark: 3 }]);
  });
});

describe('admin > cluster', () => {
  it('describes the cluster id, controller and brokers', async () => {
    const { broker, admin } = setup();
    expect(await admin.describeCluster()).toEqual({
      clusterId: 'mini-cluster',
      controllerId: broker.nodeId,
      brokers: [{ nodeId: broker.nodeId, host: '127.0.0.1', port: 9093, rack: '' }],
    });
  });

  it('honours an aborted signal', async () => {
    const { admin } = setup();
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(admin.describeCluster({ signal: controller.signal })).rejects.toThrow('stop');
  });
});
