/**
 * The client over real TCP: the real connection (client/network) against the real native
 * listener (broker/network/server.ts) serving an in-memory MiniBroker. The full broker's
 * end-to-end tests live elsewhere; these check the client's own network behaviour.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeServer } from '../broker/network/server.js';
import { StreamBus, type Message } from './index.js';
import { MiniBroker } from './testing/mini-broker.js';

const logger = pino({ level: 'silent' });
let broker: MiniBroker;
let server: NativeServer;
let bus: StreamBus;

async function startServer(port: number): Promise<NativeServer> {
  const started = new NativeServer({ handler: broker, host: '127.0.0.1', port, logger, closeTimeoutMs: 500 });
  await started.listen();
  broker.port = started.port;
  return started;
}

beforeAll(async () => {
  broker = new MiniBroker();
  broker.createTopic('tcp', 2);
  server = await startServer(0);
  bus = new StreamBus({ brokers: [`127.0.0.1:${server.port}`], retryBackoffMs: 10, retryBackoffMaxMs: 50, requestTimeoutMs: 5_000 });
});

afterAll(async () => {
  await bus.close({ signal: AbortSignal.timeout(3_000) });
  await server.close();
});

async function consume(topic: string, partition: number, count: number): Promise<Message[]> {
  const consumer = bus.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 100 });
  consumer.assign([{ topic, partition }]);
  const out: Message[] = [];
  try {
    for await (const message of consumer.messages({ signal: AbortSignal.timeout(10_000) })) {
      out.push(message);
      if (out.length === count) break;
    }
  } finally {
    await consumer.close();
  }
  return out;
}

describe('client > over tcp', () => {
  it('produces and consumes a few thousand records in order', async () => {
    const producer = bus.producer({ lingerMs: 2 });
    const sends = Array.from({ length: 3_000 }, (_, i) => producer.send({ topic: 'tcp', partition: 0, key: `k${i}`, value: `value-${i}` }));
    const results = await Promise.all(sends);
    expect(results.map((r) => r.offset)).toEqual(Array.from({ length: 3_000 }, (_, i) => i));
    const messages = await consume('tcp', 0, 3_000);
    expect(messages.map((m) => m.value?.toString())).toEqual(Array.from({ length: 3_000 }, (_, i) => `value-${i}`));
  });

  it('round-trips compressed batches', async () => {
    const producer = bus.producer({ compression: 'gzip', lingerMs: 2 });
    const value = 'x'.repeat(500);
    await producer.sendBatch(Array.from({ length: 100 }, () => ({ topic: 'tcp', partition: 1, value })));
    const messages = await consume('tcp', 1, 100);
    expect(messages.every((m) => m.value?.toString() === value)).toBe(true);
  });

  it('reconnects after the server restarts on the same address', async () => {
    const producer = bus.producer({ lingerMs: 0 });
    await producer.send({ topic: 'tcp', partition: 0, value: 'before' });
    const port = server.port;
    await server.close();
    server = await startServer(port);
    const after = await producer.send({ topic: 'tcp', partition: 0, value: 'after' }, { signal: AbortSignal.timeout(10_000) });
    expect(broker.records('tcp', 0).at(-1)).toEqual({ offset: after.offset, key: null, value: 'after' });
  });
});
