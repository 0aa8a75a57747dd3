/**
 * The idempotent producer against a real `streambus dev` process that is killed (kill -9) and
 * restarted on the same port while batches are in flight: every acknowledged record is in the log
 * exactly once, in send order, although batches whose answers were lost were sent again.
 */
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { StreamBus } from '../../client/index.js';
import { startDevServer, type DevServer } from '../support/dev-server.js';

let server: DevServer | undefined;
/** The restarted server reuses the first one's directory and so does not remove it: this test does. */
let dataDirToRemove: string | undefined;
const clients: StreamBus[] = [];

afterAll(async () => {
  for (const client of clients) await client.close({ signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
  await server?.dispose();
  if (dataDirToRemove !== undefined) await rm(dataDirToRemove, { recursive: true, force: true });
});

async function readPartition(bus: StreamBus, topic: string, partition: number, end: number): Promise<string[]> {
  const consumer = bus.consumer({ maxWaitMs: 50 });
  consumer.assign([{ topic, partition, offset: 0 }]);
  const values: string[] = [];
  try {
    for await (const message of consumer.messages({ signal: AbortSignal.timeout(20_000) })) {
      values.push(message.value!.toString());
      if ((consumer.position({ topic, partition }) ?? 0) >= end) break;
    }
  } finally {
    await consumer.close();
  }
  return values;
}

describe('idempotent producer > server restart', () => {
  it('writes every record exactly once and in send order when the server is killed and restarted mid-flight', async () => {
    server = await startDevServer();
    const port = server.native.port;
    const dataDir = server.dataDir;
    dataDirToRemove = dataDir;
    const bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'idempotence-restart', retryBackoffMs: 50, retryBackoffMaxMs: 250, requestTimeoutMs: 5_000 });
    clients.push(bus);
    await bus.admin().createTopics([{ topic: 'payments', partitions: 1 }]);
    const producer = bus.producer({ lingerMs: 1, batchBytes: 2_000 });
    expect(producer.idempotent).toBe(true);
    const sends: Promise<unknown>[] = [];
    let n = 0;
    const round = async (): Promise<void> => {
      for (let i = 0; i < 40; i++) sends.push(producer.send({ topic: 'payments', partition: 0, value: `p-${String(n++).padStart(5, '0')}` }));
      await new Promise((resolve) => setTimeout(resolve, 5));
    };
    for (let r = 0; r < 20; r++) await round();
    // Batches are in flight now; the server dies under them and comes back on the same port.
    await server.crash();
    const restarting = startDevServer({ dataDir, settings: { 'native.port': port } });
    for (let r = 0; r < 20; r++) await round();
    const restarted = await restarting;
    server = restarted;
    await Promise.all(sends);
    const expected = Array.from({ length: n }, (_, i) => `p-${String(i).padStart(5, '0')}`);
    const [end] = await bus.admin().listOffsets([{ topic: 'payments', partition: 0, at: 'latest' }]);
    const values = await readPartition(bus, 'payments', 0, end!.offset);
    expect(values.length).toBe(expected.length);
    expect(values).toEqual(expected);
    await producer.close();
  }, 90_000);
});
