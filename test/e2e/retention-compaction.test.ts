/**
 * Retention and compaction as a consumer sees them, against a real server whose maintenance pass
 * runs every second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBus, type Message } from '../../client/index.js';
import { eventually, startDevServer, type DevServer } from '../support/dev-server.js';

let server: DevServer;
let client: StreamBus;

beforeAll(async () => {
  server = await startDevServer({ settings: { 'retention.check.interval.ms': 1000 } });
  client = new StreamBus({ brokers: [server.bootstrap] });
});

afterAll(async () => {
  await client?.close();
  await server?.dispose();
});

async function earliest(topic: string): Promise<number> {
  const [result] = await client.admin().listOffsets([{ topic, partition: 0, at: 'earliest' }]);
  return result!.offset;
}

async function readAll(topic: string, until: number): Promise<Message[]> {
  const consumer = client.consumer({ maxWaitMs: 50, autoOffsetReset: 'earliest' });
  consumer.assign([{ topic, partition: 0, offset: 0 }]);
  const messages: Message[] = [];
  const signal = AbortSignal.timeout(10_000);
  try {
    for await (const message of consumer.messages({ signal })) {
      messages.push({ ...message, key: message.key && Buffer.from(message.key), value: message.value && Buffer.from(message.value) });
      if (message.offset >= until - 1) break;
    }
  } finally {
    await consumer.close();
  }
  return messages;
}

describe('single node > retention', () => {
  it('deletes the oldest batches once a partition passes retention.bytes, and consumers start after them', async () => {
    const topic = 'retained-by-size';
    await client.admin().createTopics([{ topic, partitions: 1, configs: { 'retention.bytes': '20000' } }]);
    const producer = client.producer({ lingerMs: 0 });
    // One batch per send: retention removes whole batches.
    for (let i = 0; i < 60; i += 1) await producer.send({ topic, partition: 0, value: Buffer.alloc(1000, i) });
    await producer.close();
    await eventually(async () => (await earliest(topic)) > 0, 15_000);
    const start = await earliest(topic);
    // About 20 KB of 1 KB batches survive; the newest are always kept.
    expect(start).toBeGreaterThanOrEqual(30);
    expect(start).toBeLessThan(60);
    const messages = await readAll(topic, 60);
    expect(messages[0]!.offset).toBe(start);
    expect(messages.at(-1)!.offset).toBe(59);
  });

  it('deletes batches older than retention.ms and keeps the next offset to assign', async () => {
    const topic = 'retained-by-time';
    await client.admin().createTopics([{ topic, partitions: 1, configs: { 'retention.ms': '60000' } }]);
    const producer = client.producer({ lingerMs: 0 });
    const old = Date.now() - 10 * 60_000;
    for (let i = 0; i < 5; i += 1) await producer.send({ topic, partition: 0, value: `old-${i}`, timestamp: old + i });
    await eventually(async () => (await earliest(topic)) === 5, 15_000);
    // The log is empty now, but offsets carry on from where they were.
    const ack = await producer.send({ topic, partition: 0, value: 'fresh' });
    await producer.close();
    expect(ack.offset).toBe(5);
    const messages = await readAll(topic, 6);
    expect(messages.map((m) => m.value?.toString())).toEqual(['fresh']);
  });
});

describe('single node > compaction', () => {
  it('keeps only the latest value per key, removes tombstoned keys, and keeps offsets', async () => {
    const topic = 'compacted';
    await client.admin().createTopics([
      {
        topic,
        partitions: 1,
        configs: { 'cleanup.policy': 'compact', 'delete.retention.ms': '0', 'min.compaction.lag.ms': '0', 'min.cleanable.dirty.ratio': '0.01' },
      },
    ]);
    const producer = client.producer({ lingerMs: 0 });
    let last = 0;
    for (let round = 0; round < 5; round += 1) {
      for (let key = 0; key < 5; key += 1) last = (await producer.send({ topic, partition: 0, key: `k${key}`, value: `r${round}` })).offset;
    }
    last = (await producer.send({ topic, partition: 0, key: 'k4', value: null })).offset;
    // A later write, so the tombstone is not the newest batch.
    last = (await producer.send({ topic, partition: 0, key: 'k0', value: 'r5' })).offset;
    await producer.close();
    expect(last).toBe(26);

    await eventually(async () => {
      const messages = await readAll(topic, 27);
      const keys = messages.map((m) => m.key?.toString());
      return messages.length === 4 && !keys.includes('k4');
    }, 20_000, 250);

    const messages = await readAll(topic, 27);
    const latest = new Map(messages.map((m) => [m.key!.toString(), { value: m.value?.toString(), offset: m.offset }]));
    expect([...latest.keys()].sort()).toEqual(['k0', 'k1', 'k2', 'k3']);
    expect(latest.get('k0')).toEqual({ value: 'r5', offset: 26 });
    // Records keep the offsets they were written at: k1's last write was the 22nd record.
    expect(latest.get('k1')).toEqual({ value: 'r4', offset: 21 });
    expect(latest.get('k3')).toEqual({ value: 'r4', offset: 23 });
    // Offsets still grow from the end of the log.
    const more = client.producer({ lingerMs: 0 });
    expect((await more.send({ topic, partition: 0, key: 'k9', value: 'new' })).offset).toBe(27);
    await more.close();
  });
});
