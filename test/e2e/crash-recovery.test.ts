/**
 * kill -9 of the server under a produce load with the default durability (group commit): after a
 * restart on the same data directory, every acknowledged record is there exactly once, in the
 * order it was acknowledged within its partition, and the server serves no torn batch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StreamBus } from '../../client/index.js';
import { startDevServer, type DevServer } from '../support/dev-server.js';

const PARTITIONS = 3;
const ROUNDS = 3;

let dataDir: string | undefined;
let server: DevServer | undefined;

afterEach(async () => {
  await server?.stop('SIGKILL');
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  server = undefined;
  dataDir = undefined;
});

/** Produces `partition:sequence` values as fast as acks come back until `stop` aborts; returns what was acknowledged. */
async function produceUntilKilled(bootstrap: string, topic: string, round: number, stop: AbortSignal): Promise<Map<number, string[]>> {
  const client = new StreamBus({ brokers: [bootstrap], requestTimeoutMs: 2000, connectTimeoutMs: 500 });
  const producer = client.producer({ acks: 'all', lingerMs: 2, deliveryTimeoutMs: 1500, retryBackoffMs: 50 });
  const acked = new Map<number, string[]>(Array.from({ length: PARTITIONS }, (_, p) => [p, []]));
  const pending = new Set<Promise<void>>();
  let sequence = 0;
  while (!stop.aborted) {
    const partition = sequence % PARTITIONS;
    const value = `${round}:${partition}:${sequence}`;
    sequence += 1;
    const send = producer.send({ topic, partition, value: `${value}|${'x'.repeat(200)}` }).then(
      () => {
        acked.get(partition)!.push(value);
      },
      () => undefined,
    );
    const tracked = send.finally(() => pending.delete(tracked));
    pending.add(tracked);
    if (pending.size >= 500) await Promise.race(pending);
  }
  await Promise.allSettled([...pending]);
  await producer.close().catch(() => undefined);
  await client.close().catch(() => undefined);
  return acked;
}

describe('single node > crash recovery', () => {
  it('keeps every acknowledged record, exactly once and in order, across repeated kill -9 under load', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'streambus-crash-'));
    const topic = 'crash';
    const allAcked = new Map<number, string[]>(Array.from({ length: PARTITIONS }, (_, p) => [p, []]));
    let totalAcked = 0;

    for (let round = 0; round < ROUNDS; round += 1) {
      server = await startDevServer({ dataDir });
      if (round === 0) {
        const admin = new StreamBus({ brokers: [server.bootstrap] });
        await admin.admin().createTopics([{ topic, partitions: PARTITIONS }]);
        await admin.close();
      }
      const stop = new AbortController();
      const producing = produceUntilKilled(server.bootstrap, topic, round, stop.signal);
      // Let the load run, then pull the plug while appends are in flight.
      await new Promise((resolve) => setTimeout(resolve, 1200 + round * 300));
      await server.crash();
      stop.abort();
      const acked = await producing;
      for (const [partition, values] of acked) {
        allAcked.get(partition)!.push(...values);
        totalAcked += values.length;
      }
    }
    if (process.env.STREAMBUS_TEST_VERBOSE) console.log(`acknowledged before the kills: ${totalAcked}`);
    expect(totalAcked).toBeGreaterThan(1000);

    server = await startDevServer({ dataDir });
    const client = new StreamBus({ brokers: [server.bootstrap] });
    try {
      const ends = await client.admin().listOffsets(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, at: 'latest' as const })));
      const consumer = client.consumer({ maxWaitMs: 100 });
      consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: 0 })));
      const stored = new Map<number, string[]>(Array.from({ length: PARTITIONS }, (_, p) => [p, []]));
      const total = ends.reduce((sum, end) => sum + end.offset, 0);
      let seen = 0;
      const signal = AbortSignal.timeout(20_000);
      for await (const message of consumer.messages({ signal })) {
        stored.get(message.partition)!.push(message.value!.toString().split('|')[0]!);
        seen += 1;
        if (seen === total) break;
      }
      await consumer.close();
      if (process.env.STREAMBUS_TEST_VERBOSE) console.log(`stored after restart: ${total}`);
      expect(seen).toBe(total);

      for (let partition = 0; partition < PARTITIONS; partition += 1) {
        const values = stored.get(partition)!;
        // Nothing stored twice.
        expect(new Set(values).size).toBe(values.length);
        // Every acknowledged record is there, and acknowledged records keep their relative order.
        const position = new Map(values.map((value, index) => [value, index]));
        const ackedHere = allAcked.get(partition)!;
        const missing = ackedHere.filter((value) => !position.has(value));
        expect(missing).toEqual([]);
        const positions = ackedHere.map((value) => position.get(value)!);
        expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);
        // Everything stored was sent by a producer (no torn or invented records).
        expect(values.every((value) => /^\d+:\d+:\d+$/.test(value))).toBe(true);
      }
    } finally {
      await client.close();
    }
  }, 90_000);
});

describe('single node > restart', () => {
  it('removes the data of a topic deleted before a kill -9 and keeps the others', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'streambus-restart-'));
    server = await startDevServer({ dataDir });
    let client = new StreamBus({ brokers: [server.bootstrap] });
    await client.admin().createTopics([{ topic: 'kept', partitions: 1 }, { topic: 'dropped', partitions: 1 }]);
    const producer = client.producer({ lingerMs: 0 });
    await producer.send({ topic: 'kept', partition: 0, value: 'stays' });
    await producer.send({ topic: 'dropped', partition: 0, value: 'goes' });
    await producer.close();
    await client.admin().deleteTopics(['dropped']);
    await client.close();
    await server.crash();

    server = await startDevServer({ dataDir });
    client = new StreamBus({ brokers: [server.bootstrap] });
    try {
      expect(await client.admin().listTopics()).toEqual(['kept']);
      const [end] = await client.admin().listOffsets([{ topic: 'kept', partition: 0, at: 'latest' }]);
      expect(end!.offset).toBe(1);
      await client.admin().createTopics([{ topic: 'dropped', partitions: 1 }]);
      const [fresh] = await client.admin().listOffsets([{ topic: 'dropped', partition: 0, at: 'latest' }]);
      expect(fresh!.offset).toBe(0);
    } finally {
      await client.close();
    }
  });
});
