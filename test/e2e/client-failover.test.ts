/**
 * Clients that carry on by themselves, against real processes: three `streambus coordinator`
 * processes and three `streambus broker` processes in racks rack-a, rack-b and rack-c, topics with
 * replication factor 3.
 *
 * What it shows:
 * - a producer (acks=all) keeps delivering across a kill -9 and restart of its partition's leader
 *   (which comes back on a new port, learned from metadata): every send resolves, nothing
 *   acknowledged is lost, and the partition keeps send order (a retry after a lost answer may
 *   write a record twice; duplicates are counted and printed);
 * - a consumer reading through the same kill and restart resumes on the restarted leader and hands
 *   out the log exactly: offsets consecutive, nothing skipped, nothing twice;
 * - a request to a stopped (SIGSTOP) broker costs the request timeout until the circuit opens, then
 *   fails at once; after SIGCONT a probe closes the circuit again;
 * - a consumer with clientRack reads from the in-sync follower in its rack (that broker's
 *   records_out counter grows by what the consumer read) and gets the same records as from the
 *   leader.
 *
 * The leader change these tests drive is a leader that dies (kill -9) and comes back on another
 * port. Where the coordinator's controller fences the dead broker and elects a new leader from the
 * ISR, the clients also follow that move; the test prints where leadership ended up.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerPool, BrokerUnavailableError, RequestTimeoutError, StreamBus, connect, type Message } from '../../client/index.js';
import { ErrorCode } from '../../proto/errors.js';
import { BrokerProcess } from '../support/broker-process.js';
import { CoordinatorCluster } from '../support/coordinator-cluster.js';

const BROKERS = [
  { nodeId: 101, rack: 'rack-a' },
  { nodeId: 102, rack: 'rack-b' },
  { nodeId: 103, rack: 'rack-c' },
] as const;

let cluster: CoordinatorCluster;
let brokers: BrokerProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  cluster = await CoordinatorCluster.start({ nodes: 3 });
  for (const { nodeId, rack } of BROKERS) {
    const dir = await mkdtemp(path.join(tmpdir(), `streambus-failover-${nodeId}-`));
    dirs.push(dir);
    brokers.push(new BrokerProcess({ nodeId, dataDir: dir, coordinators: cluster.bootstrap, rack }));
  }
  await Promise.all(brokers.map((broker) => broker.start()));
}, 90_000);

afterAll(async () => {
  await Promise.all(brokers.map((broker) => broker.stop()));
  await cluster?.dispose();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  brokers = [];
});

function busOf(clientId: string, extra: Partial<ConstructorParameters<typeof StreamBus>[0]> = {}): StreamBus {
  return new StreamBus({ brokers: brokers.filter((b) => b.running).map((b) => b.address), clientId, retryBackoffMs: 50, retryBackoffMaxMs: 500, ...extra });
}

async function createTopic(bus: StreamBus, topic: string): Promise<BrokerProcess> {
  await bus.admin().createTopics([{ topic, partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
  const [described] = await bus.admin().describeTopics([topic]);
  return brokers.find((broker) => broker.nodeId === described!.partitions[0]!.leader)!;
}

/** Reads partition 0 of `topic` from offset 0 until `done` says so, or fails at the deadline. */
async function readUntil(bus: StreamBus, topic: string, done: (seen: Message[]) => boolean, timeoutMs: number, clientRack?: string): Promise<Message[]> {
  const consumer = bus.consumer({ maxWaitMs: 100, ...(clientRack === undefined ? {} : { clientRack }) });
  consumer.assign([{ topic, partition: 0, offset: 0 }]);
  const seen: Message[] = [];
  try {
    if (done(seen)) return seen;
    for await (const message of consumer.messages({ signal: AbortSignal.timeout(timeoutMs) })) {
      seen.push(message);
      if (done(seen)) break;
    }
  } finally {
    await consumer.close();
  }
  return seen;
}

async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('client failover > a leader killed and restarted', () => {
  const TOPIC = 'failover';
  /** What the consumer that read through the outage handed out. */
  const streamed: Message[] = [];
  /** value → offset, for every acknowledged send. */
  const acked = new Map<string, number>();
  let sent = 0;

  it('a producer keeps delivering across kill -9 and restart of the leader: nothing acknowledged is lost, send order is kept', async () => {
    const bus = busOf('failover-producer');
    const readerBus = busOf('failover-reader');
    try {
      const leader = await createTopic(bus, TOPIC);
      const producer = bus.producer({ acks: 'all', lingerMs: 2, deliveryTimeoutMs: 45_000, retryBackoffMs: 50, retryBackoffMaxMs: 500 });
      // A consumer reads along from offset 0 for the whole run, outage included.
      const consumer = readerBus.consumer({ maxWaitMs: 100 });
      consumer.assign([{ topic: TOPIC, partition: 0, offset: 0 }]);
      const stopReading = new AbortController();
      const reading = (async () => {
        try {
          for await (const message of consumer.messages({ signal: stopReading.signal })) streamed.push(message);
        } catch (error) {
          if (!stopReading.signal.aborted) throw error;
        }
      })();
      const pending = new Set<Promise<void>>();
      const failures: unknown[] = [];
      let stop = false;
      const pump = (async () => {
        for (let i = 0; !stop; i++) {
          const value = `v-${String(i).padStart(6, '0')}`;
          sent++;
          const send = producer.send({ topic: TOPIC, partition: 0, value }).then(
            (metadata) => void acked.set(value, metadata.offset),
            (error: unknown) => void failures.push(error),
          );
          pending.add(send);
          void send.finally(() => pending.delete(send));
          // At most 50 records outstanding: a steady load, not an unbounded queue.
          while (pending.size >= 50) await Promise.race(pending);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      await eventually('some records acknowledged', () => Promise.resolve(acked.size >= 200));
      await leader.kill();
      const killedAt = acked.size;
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await leader.start();
      await eventually('records acknowledged by the restarted leader', () => Promise.resolve(acked.size >= killedAt + 300), 30_000);
      stop = true;
      await pump;
      await Promise.all(pending);
      await producer.close();

      expect(failures).toEqual([]);
      expect(acked.size).toBe(sent);
      const last = Math.max(...acked.values());
      await eventually('the reading consumer to reach the last acknowledged offset', () => Promise.resolve((streamed.at(-1)?.offset ?? -1) >= last), 20_000);
      stopReading.abort();
      await reading;
      await consumer.close();

      const log = await readUntil(bus, TOPIC, (seen) => seen.length > 0 && seen[seen.length - 1]!.offset >= last, 20_000);
      const values = log.map((m) => m.value?.toString() ?? '');
      // Every acknowledged record is in the log at the offset its send() reported.
      for (const [value, offset] of acked) expect(values[offset], `${value} at ${offset}`).toBe(value);
      // Send order: the first occurrences of the values are in the order they were sent.
      const firsts: string[] = [];
      const seenValues = new Set<string>();
      for (const value of values) {
        if (seenValues.has(value)) continue;
        seenValues.add(value);
        firsts.push(value);
      }
      expect(firsts).toEqual([...firsts].sort());
      expect(seenValues.size).toBe(sent);
      const [after] = await bus.admin().describeTopics([TOPIC]);
      const leaderAfter = after!.partitions[0]!.leader;
      // With a controller that fences the killed broker, leadership moved to a follower meanwhile;
      // without one, the restarted broker led again. The clients carry on either way.
      console.log(
        `client failover: leader ${leader.nodeId} killed, leader now ${leaderAfter}; ${sent} sent, ${acked.size} acknowledged, 0 lost, ${values.length - seenValues.size} duplicates`,
      );
    } finally {
      await readerBus.close();
      await bus.close();
    }
  }, 60_000);

  it('a consumer reading through the same kill and restart hands out the log exactly: no record skipped or repeated', async () => {
    expect(streamed.length).toBeGreaterThan(0);
    expect(streamed.map((m) => m.offset)).toEqual(Array.from({ length: streamed.length }, (_, i) => i));
    const last = Math.max(...acked.values());
    expect(streamed[streamed.length - 1]!.offset).toBeGreaterThanOrEqual(last);
    const bus = busOf('failover-check');
    try {
      const log = await readUntil(bus, TOPIC, (seen) => seen.length >= streamed.length, 20_000);
      expect(streamed.map((m) => m.value?.toString())).toEqual(log.slice(0, streamed.length).map((m) => m.value?.toString()));
    } finally {
      await bus.close();
    }
  }, 30_000);
});

describe('client failover > a stopped broker', () => {
  it('costs the request timeout until its circuit opens, then fails at once; after SIGCONT a probe closes the circuit', async () => {
    const target = brokers.find((b) => b.nodeId === 103)!;
    const pool = new BrokerPool({
      host: target.native.host,
      port: target.native.port,
      clientId: 'failover-breaker',
      connect,
      connectTimeoutMs: 1_000,
      requestTimeoutMs: 500,
      maxInFlightPerConnection: 16,
      healthCheckIntervalMs: 0,
      breaker: { failureThreshold: 2, cooldownMs: 300 },
    });
    pool.nodeId = target.nodeId;
    const metadata = { topics: [], allTopics: false, allowAutoTopicCreation: false };
    try {
      await pool.request('METADATA', metadata);
      target.pause();
      try {
        for (let i = 0; i < 2; i++) {
          const started = Date.now();
          const error = await pool.request('METADATA', metadata).catch((e: unknown) => e);
          expect(Date.now() - started).toBeGreaterThanOrEqual(450);
          expect(error).toBeInstanceOf(RequestTimeoutError);
          expect((error as Error).message).toContain(`METADATA got no response from broker 103 (${target.address})`);
        }
        const started = Date.now();
        const errors = await Promise.all(Array.from({ length: 10 }, () => pool.request('METADATA', metadata).catch((e: unknown) => e)));
        expect(Date.now() - started).toBeLessThan(100);
        for (const error of errors) expect(error).toBeInstanceOf(BrokerUnavailableError);
        expect(pool.health().state).toBe('open');
      } finally {
        target.resume();
      }
      await eventually('a probe to close the circuit', async () => {
        await pool.request('METADATA', metadata);
        return pool.health().state === 'closed';
      }, 10_000);
    } finally {
      await pool.close();
    }
  }, 30_000);
});

describe('client failover > rack-aware consumers', () => {
  it('read from the in-sync follower in their rack, and get the same records as from the leader', async () => {
    const TOPIC = 'racked';
    const bus = busOf('rack-aware');
    try {
      const leader = await createTopic(bus, TOPIC);
      const follower = brokers.find((b) => b.nodeId !== leader.nodeId && b.running)!;
      const rack = BROKERS.find((b) => b.nodeId === follower.nodeId)!.rack;
      const producer = bus.producer({ acks: 'all', lingerMs: 5 });
      const values = Array.from({ length: 200 }, (_, i) => `r-${i}`);
      await producer.sendBatch(values.map((value) => ({ topic: TOPIC, partition: 0, value })));
      await producer.close();

      const fromLeader = await readUntil(bus, TOPIC, (seen) => seen.length >= values.length, 15_000);
      const followerOutBefore = await follower.counter('records_out_total', TOPIC);
      const fromFollower = await readUntil(bus, TOPIC, (seen) => seen.length >= values.length, 15_000, rack);
      const followerOutAfter = await follower.counter('records_out_total', TOPIC);

      expect(fromLeader.map((m) => m.value?.toString())).toEqual(values);
      expect(fromFollower.map((m) => [m.offset, m.value?.toString()])).toEqual(fromLeader.map((m) => [m.offset, m.value?.toString()]));
      // A follower serves no replica fetches: every record it sent out went to the rack-aware consumer.
      // The consumer without a rack read from the leader: the follower had sent nothing out before.
      expect(followerOutBefore).toBe(0);
      expect(followerOutAfter - followerOutBefore).toBeGreaterThanOrEqual(values.length);

      // On the wire: the follower serves a consumer's fetch, but a replica's fetch still gets
      // NOT_LEADER_OR_FOLLOWER (followers fetch from the leader only).
      const raw = await connect({ host: follower.native.host, port: follower.native.port });
      try {
        const fetch = (replicaId: number) =>
          raw.request('FETCH', { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, replicaId, topics: [{ name: TOPIC, partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }] });
        const asConsumer = (await fetch(-1)).topics[0]!.partitions[0]!;
        expect(asConsumer.errorCode).toBe(ErrorCode.NONE);
        expect(asConsumer.records.length).toBeGreaterThan(0);
        const otherFollower = BROKERS.find((b) => b.nodeId !== leader.nodeId && b.nodeId !== follower.nodeId)!.nodeId;
        expect((await fetch(otherFollower)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      } finally {
        await raw.close();
      }
    } finally {
      await bus.close();
    }
  }, 45_000);
});
