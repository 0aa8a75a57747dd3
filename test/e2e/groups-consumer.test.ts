/**
 * Consumer groups from the client's side, against a real `streambus dev` process: group consumers
 * (each with its own StreamBus client, as separate applications would have) subscribe to a
 * 12-partition topic while a producer writes; members come and go; every record is processed at
 * least once and, with commit-after-processing and no failures, exactly once. Static members
 * restart without a rebalance; a cooperative rebalance keeps the unaffected partitions consuming.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient, ErrorCode, StreamBus, StreamBusError, type GroupConsumer, type GroupConsumerOptions, type Message } from '../../client/index.js';
import { eventually, startDevServer, type DevServer } from '../support/dev-server.js';

const PARTITIONS = 12;

let server: DevServer;
let admin: StreamBus;
const clients: StreamBus[] = [];

beforeAll(async () => {
  server = await startDevServer({ settings: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 500 } });
  admin = new StreamBus({ brokers: [server.bootstrap], clientId: 'groups-admin' });
}, 30_000);

afterAll(async () => {
  for (const client of clients) await client.close();
  await admin?.close();
  await server?.dispose();
});

function member(options: GroupConsumerOptions): GroupConsumer {
  const client = new StreamBus({ brokers: [server.bootstrap], clientId: `member-${clients.length + 1}` });
  clients.push(client);
  return client.consumer({ maxWaitMs: 100, autoOffsetReset: 'earliest', heartbeatIntervalMs: 200, sessionTimeoutMs: 3_000, rebalanceTimeoutMs: 10_000, ...options });
}

async function createTopic(topic: string): Promise<void> {
  await admin.admin().createTopics([{ topic, partitions: PARTITIONS }]);
}

describe('groups > consumers joining and leaving', () => {
  it('processes every record exactly once with commit-after-processing while 1 to 8 members come and go', async () => {
    const topic = 'churn';
    const group = 'churn-group';
    await createTopic(topic);
    const seen = new Map<string, number>();
    const members: { consumer: GroupConsumer; running: Promise<void> }[] = [];
    const start = (): void => {
      const consumer: GroupConsumer = member({ groupId: group, autoCommit: false });
      consumer.subscribe([topic], { onRevoked: () => consumer.commit() });
      const running = consumer.run({
        eachMessage: async (m: Message) => {
          const key = `${m.partition}:${m.offset}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          // Commit after processing, every few records: the helper commits only handled ones.
          if (m.offset % 10 === 0) await consumer.commit();
        },
      });
      members.push({ consumer, running });
    };
    const producer = admin.producer({ lingerMs: 2 });
    let sent = 0;
    let producing = true;
    const writing = (async () => {
      while (producing) {
        await Promise.all(Array.from({ length: 24 }, (_, i) => producer.send({ topic, partition: (sent + i) % PARTITIONS, value: `v${sent + i}` })));
        sent += 24;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    for (let i = 0; i < 8; i++) {
      start();
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    await eventually(() => members.every((m) => m.consumer.state === 'stable' && m.consumer.assignment().length > 0), 20_000);
    for (let i = 0; i < 7; i++) {
      const leaving = members.shift()!;
      await leaving.consumer.close();
      await leaving.running;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    producing = false;
    await writing;
    await producer.close();
    await eventually(() => seen.size === sent, 20_000);
    const twice = [...seen].filter(([, n]) => n > 1);
    console.log(`churn: ${sent} records, ${members.length} member left, ${twice.length} processed twice`);
    expect(seen.size).toBe(sent);
    expect(twice).toEqual([]);
    await members[0]!.consumer.close();
  }, 90_000);
});

describe('groups > static membership', () => {
  it('gives a restarted static member its partitions back in the same generation', async () => {
    const topic = 'static';
    const group = 'static-group';
    await createTopic(topic);
    const first = member({ groupId: group, groupInstanceId: 'app-1', sessionTimeoutMs: 10_000 });
    const second = member({ groupId: group, groupInstanceId: 'app-2', sessionTimeoutMs: 10_000 });
    first.subscribe([topic]);
    second.subscribe([topic]);
    const runs = [first.run({ eachMessage: () => undefined }), second.run({ eachMessage: () => undefined })];
    await eventually(() => first.state === 'stable' && second.state === 'stable' && first.generation === second.generation && first.assignment().length + second.assignment().length === PARTITIONS, 15_000);
    const generation = second.generation;
    const owned = second.assignment();
    await second.close();
    await runs[1];

    const again = member({ groupId: group, groupInstanceId: 'app-2', sessionTimeoutMs: 10_000 });
    again.subscribe([topic]);
    const running = again.run({ eachMessage: () => undefined });
    await eventually(() => again.state === 'stable', 10_000);
    expect(again.generation).toBe(generation);
    expect(again.assignment()).toEqual(owned);
    expect(first.generation).toBe(generation);
    await again.close();
    await first.close();
    await Promise.all([running, runs[0]]);
  }, 60_000);
});

describe('groups > cooperative rebalancing', () => {
  it('keeps consuming the partitions that stay while a member joins, and prints the pause', async () => {
    const topic = 'coop';
    const group = 'coop-group';
    await createTopic(topic);
    const first = member({ groupId: group, assignors: ['cooperative-sticky'] });
    const lastSeen = new Map<number, number>();
    const revoked: number[] = [];
    first.subscribe([topic], { onRevoked: (partitions) => void revoked.push(...partitions.map((tp) => tp.partition)) });
    const running = first.run({
      eachMessage: (m) => {
        lastSeen.set(m.partition, Date.now());
      },
    });
    await eventually(() => first.state === 'stable' && first.assignment().length === PARTITIONS, 15_000);
    expect(first.rebalanceProtocol).toBe('cooperative');
    const producer = admin.producer({ lingerMs: 1 });
    let producing = true;
    const writing = (async () => {
      for (let i = 0; producing; i++) {
        await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => producer.send({ topic, partition: p, value: `v${i}` })));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await eventually(() => lastSeen.size === PARTITIONS, 10_000);

    // Record the longest gap between records of each partition the first member keeps.
    const gaps = new Map<number, number>();
    const sampler = setInterval(() => {
      const now = Date.now();
      for (const [p, at] of lastSeen) gaps.set(p, Math.max(gaps.get(p) ?? 0, now - at));
    }, 5);
    const joinedAt = Date.now();
    const second = member({ groupId: group, assignors: ['cooperative-sticky'] });
    second.subscribe([topic]);
    const secondRun = second.run({ eachMessage: () => undefined });
    await eventually(() => second.assignment().length === PARTITIONS / 2 && first.assignment().length === PARTITIONS / 2 && first.state === 'stable', 15_000);
    const settledMs = Date.now() - joinedAt;
    await new Promise((resolve) => setTimeout(resolve, 300));
    clearInterval(sampler);
    const kept = first.assignment().map((tp) => tp.partition);
    const worstKeptGapMs = Math.max(...kept.map((p) => gaps.get(p) ?? 0));
    console.log(`cooperative: rebalance settled in ${settledMs} ms; longest pause of a kept partition ${worstKeptGapMs} ms`);
    // The kept partitions were never given up: only the moved half was revoked. (Members learn of
    // the rebalance from a held heartbeat, so it settles in tens of milliseconds, about the
    // producer's own rhythm: the pause is printed, and bounded well below a stop-the-world rebalance.)
    expect(revoked.sort((a, b) => a - b)).toEqual(second.assignment().map((tp) => tp.partition).sort((a, b) => a - b));
    expect(worstKeptGapMs).toBeLessThan(Math.max(settledMs, 1_000));
    producing = false;
    await writing;
    await producer.close();
    await second.close();
    await first.close();
    await Promise.all([running, secondRun]);
  }, 60_000);
});

describe('groups > offsets', () => {
  it('fails run() with OFFSET_OUT_OF_RANGE when autoOffsetReset is none and the group has no offset', async () => {
    const topic = 'no-offset';
    await createTopic(topic);
    const consumer = member({ groupId: 'no-offset-group', autoOffsetReset: 'none' });
    consumer.subscribe([topic]);
    const error = await consumer.run({ eachMessage: () => undefined }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).code).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    await consumer.close();
  }, 30_000);

  it('starts a new member from the offsets the previous one committed', async () => {
    const topic = 'resume';
    const group = 'resume-group';
    await createTopic(topic);
    const producer = admin.producer();
    await Promise.all(Array.from({ length: 120 }, (_, i) => producer.send({ topic, partition: i % PARTITIONS, value: `v${i}` })));
    const first = member({ groupId: group });
    first.subscribe([topic]);
    let handled = 0;
    const running = first.run({ eachMessage: () => void handled++ });
    await eventually(() => handled === 120, 15_000);
    await first.close();
    await running;
    await Promise.all(Array.from({ length: 12 }, (_, i) => producer.send({ topic, partition: i, value: `late${i}` })));
    await producer.close();
    const second = member({ groupId: group });
    second.subscribe(/^resu/);
    const values: string[] = [];
    const secondRun = second.run({ eachMessage: (m) => void values.push(m.value?.toString() ?? '') });
    await eventually(() => values.length >= 12, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(values.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `late${i}`).sort());
    await second.close();
    await secondRun;
  }, 40_000);

  it('commits in the background with commitAsync and reports the outcome to its callback', async () => {
    const topic = 'async-commit';
    const group = 'async-commit-group';
    await createTopic(topic);
    const producer = admin.producer();
    await Promise.all(Array.from({ length: 24 }, (_, i) => producer.send({ topic, partition: i % PARTITIONS, value: `v${i}` })));
    await producer.close();
    const consumer = member({ groupId: group, autoCommit: false });
    consumer.subscribe([topic]);
    let handled = 0;
    const running = consumer.run({ eachMessage: () => void handled++ });
    await eventually(() => handled === 24, 15_000);
    const outcome = await new Promise<StreamBusError | undefined>((resolve) => consumer.commitAsync(resolve));
    expect(outcome).toBeUndefined();
    const coordinators = new CoordinatorClient({ bootstrap: [server.bootstrap] });
    try {
      const committed = await coordinators.groups.fetchOffsets(group);
      expect(committed.filter((c) => c.topic === topic).map((c) => c.offset)).toEqual(Array.from({ length: PARTITIONS }, () => 2));
    } finally {
      await coordinators.close();
    }
    await consumer.close();
    await running;
  }, 30_000);

  it('refuses a bad group option with INVALID_CONFIG', () => {
    expect(() => admin.consumer({ groupId: '' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }) as Error);
    expect(() => admin.consumer({ groupId: 'g', assignors: ['nope'] })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }) as Error);
    expect(() => admin.consumer({ groupId: 'g', heartbeatIntervalMs: 5_000, sessionTimeoutMs: 4_000 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }) as Error);
  });
});
