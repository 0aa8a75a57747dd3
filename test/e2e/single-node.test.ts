/**
 * End to end against a real `streambus dev` process: the client library over real TCP, real
 * LevelDB on disk. These tests check what a user would check: records come back as sent, acks
 * mean what they say, fetches wake when data arrives, admin changes are visible at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBus, type Message } from '../../client/index.js';
import { connect } from '../../client/network/connection.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { decodeRecordBatchesSync, encodeRecordBatchSync } from '../../proto/record-batch/index.js';
import { startDevServer, type DevServer } from '../support/dev-server.js';

let server: DevServer;
let client: StreamBus;

beforeAll(async () => {
  server = await startDevServer();
  client = new StreamBus({ brokers: [server.bootstrap], clientId: 'e2e' });
});

afterAll(async () => {
  await client?.close();
  await server?.dispose();
});

async function consumeAll(topic: string, partitions: number, expected: number, timeoutMs = 10_000): Promise<Message[]> {
  const consumer = client.consumer({ maxWaitMs: 100 });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
  const messages: Message[] = [];
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    for await (const message of consumer.messages({ signal })) {
      messages.push({ ...message, key: message.key && Buffer.from(message.key), value: message.value && Buffer.from(message.value) });
      if (messages.length >= expected) break;
    }
  } finally {
    await consumer.close();
  }
  return messages;
}

describe('single node > round trips', () => {
  it.each(['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const)('returns keys, headers, null keys and tombstones as sent with %s compression', async (compression) => {
    const topic = `round-trip-${compression}`;
    await client.admin().createTopics([{ topic, partitions: 1 }]);
    const producer = client.producer({ compression, lingerMs: 2 });
    const sent = [
      { key: 'k1', value: 'v1', headers: { trace: 'abc', empty: null } },
      { key: null, value: 'no key' },
      { key: 'gone', value: null },
      { key: Buffer.from([0, 1, 2, 255]), value: Buffer.alloc(5000, 7) },
      ...Array.from({ length: 50 }, (_, i) => ({ key: `key-${i}`, value: `value-${i}`.repeat(20) })),
    ];
    const acks = await Promise.all(sent.map((record) => producer.send({ topic, partition: 0, ...record })));
    await producer.close();
    expect(acks.map((ack) => ack.offset)).toEqual(sent.map((_, i) => i));

    const received = await consumeAll(topic, 1, sent.length);
    expect(received.map((m) => m.offset)).toEqual(sent.map((_, i) => i));
    expect(received[0]!.key?.toString()).toBe('k1');
    expect(received[0]!.headers).toEqual([
      { key: 'trace', value: Buffer.from('abc') },
      { key: 'empty', value: null },
    ]);
    expect(received[1]!.key).toBeNull();
    expect(received[2]!.value).toBeNull();
    expect(received[3]!.key).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(received[3]!.value).toEqual(Buffer.alloc(5000, 7));
    for (let i = 4; i < sent.length; i += 1) {
      expect(received[i]!.value?.toString()).toBe(`value-${i - 4}`.repeat(20));
    }
  });

  it.each([
    { acks: 0 as const, name: '0' },
    { acks: 1 as const, name: '1' },
    { acks: -1 as const, name: 'all (-1)' },
  ])('stores every record with acks=$name', async ({ acks, name }) => {
    const topic = `acks-${String(acks).replace('-', 'minus')}`;
    await client.admin().createTopics([{ topic, partitions: 2 }]);
    const producer = client.producer({ acks, lingerMs: 1 });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `${name}-${i}` })));
    await producer.close();
    if (acks === 0) expect(results.every((r) => r.offset === -1)).toBe(true);
    else expect(new Set(results.map((r) => `${r.partition}:${r.offset}`)).size).toBe(200);
    const received = await consumeAll(topic, 2, 200);
    expect(received.map((m) => m.value?.toString()).sort()).toEqual(Array.from({ length: 200 }, (_, i) => `${name}-${i}`).sort());
  });

  it('sends a key to the same partition every time', async () => {
    const topic = 'keyed';
    await client.admin().createTopics([{ topic, partitions: 6 }]);
    const producer = client.producer({ lingerMs: 1 });
    const first = await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send({ topic, key: `user-${i}`, value: 'a' })));
    const second = await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send({ topic, key: `user-${i}`, value: 'b' })));
    await producer.close();
    expect(second.map((r) => r.partition)).toEqual(first.map((r) => r.partition));
    expect(new Set(first.map((r) => r.partition)).size).toBeGreaterThan(1);
  });
});

describe('single node > fetch', () => {
  it('wakes a waiting long-poll fetch as soon as data arrives', async () => {
    const topic = 'long-poll';
    await client.admin().createTopics([{ topic, partitions: 1 }]);
    const connection = await connect({ host: server.native.host, port: server.native.port });
    try {
      const started = Date.now();
      const fetch = connection.request('FETCH', {
        maxWaitMs: 10_000,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }],
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const producer = client.producer({ lingerMs: 0 });
      await producer.send({ topic, partition: 0, value: 'wake up' });
      await producer.close();
      const response = await fetch;
      const elapsedMs = Date.now() - started;
      expect(response.topics[0]!.partitions[0]!.records.length).toBeGreaterThan(0);
      expect(response.topics[0]!.partitions[0]!.highWatermark).toBe(1);
      // Well under the 10 s max wait: the append woke it.
      expect(elapsedMs).toBeLessThan(5_000);
      expect(elapsedMs).toBeGreaterThanOrEqual(250);
    } finally {
      await connection.close();
    }
  });

  it('answers an empty fetch after max wait when nothing arrives', async () => {
    const topic = 'long-poll-empty';
    await client.admin().createTopics([{ topic, partitions: 1 }]);
    const connection = await connect({ host: server.native.host, port: server.native.port });
    try {
      const started = Date.now();
      const response = await connection.request('FETCH', {
        maxWaitMs: 400,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }],
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(350);
      expect(response.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
      expect(response.topics[0]!.partitions[0]!.records.length).toBe(0);
    } finally {
      await connection.close();
    }
  });

  it('returns whole batches, starting with the one that holds the requested offset', async () => {
    const topic = 'whole-batches';
    await client.admin().createTopics([{ topic, partitions: 1 }]);
    const producer = client.producer({ lingerMs: 20 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ topic, partition: 0, value: `r${i}` })));
    await producer.close();
    const connection = await connect({ host: server.native.host, port: server.native.port });
    try {
      const response = await connection.request('FETCH', {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset: 5, maxBytes: 1 << 20 }] }],
      });
      const records = response.topics[0]!.partitions[0]!.records;
      // One batch of ten records from offset 0: the broker does not cut batches.
      expect(records.readBigInt64BE(0)).toBe(0n);
      // The consumer skips the records before its position.
      const consumer = client.consumer({ maxWaitMs: 50 });
      consumer.assign([{ topic, partition: 0, offset: 5 }]);
      const signal = AbortSignal.timeout(5000);
      const seen: number[] = [];
      for await (const message of consumer.messages({ signal })) {
        seen.push(message.offset);
        if (seen.length === 5) break;
      }
      await consumer.close();
      expect(seen).toEqual([5, 6, 7, 8, 9]);
    } finally {
      await connection.close();
    }
  });

  it('shares max_bytes across partitions in request order: the first may exceed it by one batch, later ones get whole batches that fit or none', async () => {
    const topic = 'shared-budget';
    await client.admin().createTopics([{ topic, partitions: 3 }]);
    const producer = client.producer({ lingerMs: 0 });
    // Three batches of one 1,000-byte record in every partition (each send waits for the last).
    for (let i = 0; i < 3; i++) for (let partition = 0; partition < 3; partition++) await producer.send({ topic, partition, value: Buffer.alloc(1000, i) });
    await producer.close();
    const connection = await connect({ host: server.native.host, port: server.native.port });
    const batchesPerPartition = async (maxBytes: number, partitionMaxBytes: number): Promise<number[]> => {
      const response = await connection.request('FETCH', {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [0, 1, 2].map((partition) => ({ partition, fetchOffset: 0, maxBytes: partitionMaxBytes })) }],
      });
      return response.topics[0]!.partitions.map((p) => {
        expect(p.errorCode).toBe(ErrorCode.NONE);
        return decodeRecordBatchesSync(p.records).length;
      });
    };
    try {
      // A batch is about 1,070 bytes: 2,500 holds two, and what is left holds none.
      expect(await batchesPerPartition(2500, 1 << 20)).toEqual([2, 0, 0]);
      // Smaller than one batch: the first partition still gets one, so a consumer always progresses.
      expect(await batchesPerPartition(500, 1 << 20)).toEqual([1, 0, 0]);
      // Partition limits of one and a half batches, and room for all: one batch each.
      expect(await batchesPerPartition(1 << 20, 1600)).toEqual([1, 1, 1]);
      // Room for four batches: two from the first partition, two from the second, none from the third.
      expect(await batchesPerPartition(4400, 2200)).toEqual([2, 2, 0]);
    } finally {
      await connection.close();
    }
  });

  it('finds offsets by timestamp and deletes records below an offset', async () => {
    const topic = 'offsets';
    await client.admin().createTopics([{ topic, partitions: 1 }]);
    const producer = client.producer({ lingerMs: 0 });
    const base = Date.now() - 60_000;
    for (let i = 0; i < 6; i += 1) await producer.send({ topic, partition: 0, value: `t${i}`, timestamp: base + i * 1000 });
    await producer.close();
    const admin = client.admin();
    const [byTime] = await admin.listOffsets([{ topic, partition: 0, at: { timestamp: base + 2500 } }]);
    expect(byTime!.offset).toBe(3);
    const [latest] = await admin.listOffsets([{ topic, partition: 0, at: 'latest' }]);
    expect(latest!.offset).toBe(6);
    const [deleted] = await admin.deleteRecords([{ topic, partition: 0, offset: 4 }]);
    expect(deleted!.lowWatermark).toBe(4);
    const [earliest] = await admin.listOffsets([{ topic, partition: 0, at: 'earliest' }]);
    expect(earliest!.offset).toBe(4);
    const consumer = client.consumer({ maxWaitMs: 50, autoOffsetReset: 'earliest' });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    const signal = AbortSignal.timeout(5000);
    const first = (await consumer.messages({ signal }).next()).value as Message;
    await consumer.close();
    expect(first.offset).toBe(4);
  });
});

describe('single node > admin', () => {
  it('creates, alters, grows and deletes topics, with each change visible at once', async () => {
    const admin = client.admin();
    await admin.createTopics([{ topic: 'admin-life', partitions: 2, configs: { 'retention.ms': '3600000' } }]);
    let [described] = await admin.describeTopics(['admin-life']);
    expect(described!.partitions).toHaveLength(2);
    await admin.alterConfigs([{ topic: 'admin-life', set: { 'cleanup.policy': 'compact' }, delete: ['retention.ms'] }]);
    const [configs] = await admin.describeConfigs(['admin-life']);
    const byName = new Map(configs!.entries.map((entry) => [entry.name, entry]));
    expect(byName.get('cleanup.policy')).toMatchObject({ value: 'compact', source: 'topic' });
    expect(byName.get('retention.ms')).toMatchObject({ value: '604800000', source: 'default' });
    await admin.createPartitions([{ topic: 'admin-life', count: 5 }]);
    [described] = await admin.describeTopics(['admin-life']);
    expect(described!.partitions).toHaveLength(5);
    await admin.deleteTopics(['admin-life']);
    expect(await admin.listTopics()).not.toContain('admin-life');
  });

  it('starts a re-created topic empty', async () => {
    const admin = client.admin();
    await admin.createTopics([{ topic: 'reborn', partitions: 1 }]);
    const producer = client.producer({ lingerMs: 0 });
    await producer.send({ topic: 'reborn', partition: 0, value: 'old life' });
    await admin.deleteTopics(['reborn']);
    await admin.createTopics([{ topic: 'reborn', partitions: 1 }]);
    const ack = await producer.send({ topic: 'reborn', partition: 0, value: 'new life' });
    await producer.close();
    expect(ack.offset).toBe(0);
  });
});

describe('single node > bad input', () => {
  it('rejects an invalid config value with INVALID_CONFIG and leaves the topic as it was', async () => {
    const admin = client.admin();
    await expect(admin.createTopics([{ topic: 'bad-config', configs: { 'retention.ms': 'soon' } }])).rejects.toMatchObject({
      failures: [{ topic: 'bad-config', error: { code: ErrorCode.INVALID_CONFIG } }],
    });
    expect(await admin.listTopics()).not.toContain('bad-config');
    await admin.createTopics([{ topic: 'good-config', configs: { 'retention.ms': '1000000' } }]);
    await expect(admin.alterConfigs([{ topic: 'good-config', set: { 'cleanup.policy': 'shred' } }])).rejects.toMatchObject({
      failures: [{ topic: 'good-config', error: { code: ErrorCode.INVALID_CONFIG } }],
    });
    const [configs] = await admin.describeConfigs(['good-config']);
    expect(configs!.entries.find((e) => e.name === 'cleanup.policy')?.value).toBe('delete');
    expect(configs!.entries.find((e) => e.name === 'retention.ms')?.value).toBe('1000000');
  });

  it('rejects a batch whose CRC does not match with CORRUPT_MESSAGE and stores nothing', async () => {
    const topic = 'crc';
    await client.admin().createTopics([{ topic, partitions: 1 }]);
    const producer = client.producer({ lingerMs: 0 });
    await producer.send({ topic, partition: 0, value: 'good' });
    await producer.close();
    const batch = encodeRecordBatchSync({ records: [{ value: 'tampered' }], nowMs: Date.now() });
    batch[batch.length - 2] = batch[batch.length - 2]! ^ 0xff;
    const connection = await connect({ host: server.native.host, port: server.native.port });
    try {
      const response = await connection.request('PRODUCE', {
        acks: -1,
        timeoutMs: 5000,
        topics: [{ name: topic, partitions: [{ partition: 0, records: batch }] }],
      });
      expect(response.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    } finally {
      await connection.close();
    }
    const [latest] = await client.admin().listOffsets([{ topic, partition: 0, at: 'latest' }]);
    expect(latest!.offset).toBe(1);
  });

  it('answers unknown topics and partitions with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const batch = encodeRecordBatchSync({ records: [{ value: 'x' }], nowMs: Date.now() });
    await client.admin().createTopics([{ topic: 'two-partitions', partitions: 2 }]);
    const connection = await connect({ host: server.native.host, port: server.native.port });
    try {
      const response = await connection.request('PRODUCE', {
        acks: -1,
        timeoutMs: 5000,
        topics: [
          { name: 'no-such-topic', partitions: [{ partition: 0, records: batch }] },
          { name: 'two-partitions', partitions: [{ partition: 7, records: batch }] },
        ],
      });
      expect(response.topics.map((t) => t.partitions[0]!.errorCode)).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
      const fetched = await connection.request('FETCH', {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1024,
        isolationLevel: 0,
        topics: [{ name: 'no-such-topic', partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1024 }] }],
      });
      expect(fetched.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    } finally {
      await connection.close();
    }
  });

  it('rejects acks other than 0, 1 and -1 with INVALID_REQUIRED_ACKS', async () => {
    await client.admin().createTopics([{ topic: 'acks-bad', partitions: 1 }]);
    const connection = await connect({ host: server.native.host, port: server.native.port });
    try {
      const response = await connection.request('PRODUCE', {
        acks: 2,
        timeoutMs: 1000,
        topics: [{ name: 'acks-bad', partitions: [{ partition: 0, records: encodeRecordBatchSync({ records: [{ value: 'x' }], nowMs: 0 }) }] }],
      });
      expect(response.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
    } finally {
      await connection.close();
    }
  });

  it('rejects records without keys on a compacted topic with INVALID_RECORD', async () => {
    await client.admin().createTopics([{ topic: 'compacted-keys', partitions: 1, configs: { 'cleanup.policy': 'compact' } }]);
    const producer = client.producer({ lingerMs: 0, deliveryTimeoutMs: 5000 });
    const error = await producer.send({ topic: 'compacted-keys', partition: 0, value: 'no key' }).catch((e: unknown) => e);
    await producer.close();
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).code).toBe(ErrorCode.INVALID_RECORD);
  });

  it('rejects a batch larger than max.message.bytes with MESSAGE_TOO_LARGE', async () => {
    await client.admin().createTopics([{ topic: 'small-batches', partitions: 1, configs: { 'max.message.bytes': '2048' } }]);
    const connection = await connect({ host: server.native.host, port: server.native.port });
    try {
      const response = await connection.request('PRODUCE', {
        acks: -1,
        timeoutMs: 1000,
        topics: [{ name: 'small-batches', partitions: [{ partition: 0, records: encodeRecordBatchSync({ records: [{ value: Buffer.alloc(4096) }], nowMs: 0 }) }] }],
      });
      expect(response.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    } finally {
      await connection.close();
    }
  });
});

describe('single node > auto-creation', () => {
  it('creates a topic when a producer first writes to it, with num.partitions partitions', async () => {
    const producer = client.producer({ lingerMs: 0 });
    const ack = await producer.send({ topic: 'auto-created', value: 'first' });
    await producer.close();
    expect(ack.offset).toBe(0);
    const [described] = await client.admin().describeTopics(['auto-created']);
    expect(described!.partitions).toHaveLength(1);
  });

  it('does not bring back a deleted topic when a client that knew it refreshes metadata', async () => {
    const admin = client.admin();
    const producer = client.producer({ lingerMs: 0 });
    await producer.send({ topic: 'deleted-stays-deleted', value: 'x' });
    await admin.deleteTopics(['deleted-stays-deleted']);
    await admin.describeCluster();
    await expect(admin.describeTopics(['deleted-stays-deleted'])).rejects.toMatchObject({
      failures: [{ error: { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION } }],
    });
    expect(await admin.listTopics()).not.toContain('deleted-stays-deleted');
    await producer.close();
  });
});
