/**
 * Producers and consumers carrying on by themselves when leadership moves or a broker goes down:
 * a mini cluster of in-memory brokers (client/testing/mini-broker.ts) that share their logs, where
 * the test moves leaderships (bumping leader epochs), takes brokers down, and injects errors.
 * The same behaviour against real broker processes is in test/e2e/client-failover.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../proto/errors.js';
import { BrokerUnavailableError, DeliveryTimeoutError, StreamBus, type ClientOptions, type Consumer, type Message, type Producer } from './index.js';
import { seededRandom } from './policy/random.js';
import { MiniBroker } from './testing/mini-broker.js';
import { rejectionOf, waitFor } from './testing/wait.js';

const clients: StreamBus[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((bus) => bus.close({ signal: AbortSignal.timeout(2_000) })));
});

/** Brokers 1..n on 127.0.0.1:9101.., racks a, b, c...; topic `t` led by broker 1. */
function miniCluster(count: number, partitions = 1): MiniBroker[] {
  const first = new MiniBroker({ nodeId: 1, port: 9101, rack: 'a' });
  const brokers = [first];
  for (let i = 2; i <= count; i++) brokers.push(new MiniBroker({ nodeId: i, port: 9100 + i, rack: String.fromCharCode(96 + i), joins: first }));
  first.createTopic('t', partitions);
  return brokers;
}

function client(brokers: MiniBroker[], options: Partial<ClientOptions> = {}): StreamBus {
  const bus = new StreamBus({
    brokers: brokers.map((b) => `${b.host}:${b.port}`),
    connect: brokers[0]!.connect,
    random: seededRandom(11),
    retryBackoffMs: 5,
    retryBackoffMaxMs: 20,
    requestTimeoutMs: 2_000,
    breakerCooldownMs: 50,
    ...options,
  });
  clients.push(bus);
  return bus;
}

const count = (broker: MiniBroker, api: string): number => broker.requests.filter((r) => r.api === api).length;
const values = (broker: MiniBroker): (string | null)[] => broker.records('t', 0).map((r) => r.value);

/** Sends `n` numbered records to t-0 without awaiting each, returning their promises. */
function sendNumbered(producer: Producer, prefix: string, n: number): Promise<unknown>[] {
  return Array.from({ length: n }, (_, i) => producer.send({ topic: 't', partition: 0, value: `${prefix}-${i}` }));
}

async function take(consumer: Consumer, n: number, timeoutMs = 5_000): Promise<Message[]> {
  const out: Message[] = [];
  for await (const message of consumer.messages({ signal: AbortSignal.timeout(timeoutMs) })) {
    out.push(message);
    if (out.length === n) break;
  }
  return out;
}

describe('client failover > producer', () => {
  it('re-sends batches to the new leader when the leader moves, keeping the partition in send order', async () => {
    const brokers = miniCluster(2);
    const producer = client(brokers).producer({ lingerMs: 1, batchBytes: 200, maxInFlightRequests: 5, retryBackoffMs: 5, retryBackoffMaxMs: 20 });
    const first = sendNumbered(producer, 'a', 100);
    await waitFor(() => count(brokers[0]!, 'PRODUCE') > 2, 'some produce requests to the first leader');
    brokers[0]!.setLeader('t', 0, 2);
    const second = sendNumbered(producer, 'b', 100);
    await Promise.all([...first, ...second]);
    const expected = [...Array.from({ length: 100 }, (_, i) => `a-${i}`), ...Array.from({ length: 100 }, (_, i) => `b-${i}`)];
    expect(values(brokers[0]!)).toEqual(expected);
    expect(count(brokers[1]!, 'PRODUCE')).toBeGreaterThan(0);
  });

  it('asks a live broker for metadata when its leader and bootstrap broker dies, and delivers to the new leader', async () => {
    const brokers = miniCluster(3);
    const producer = client(brokers).producer({ lingerMs: 0 });
    await Promise.all(sendNumbered(producer, 'before', 10));
    brokers[0]!.setDown(true);
    const during = sendNumbered(producer, 'during', 10);
    await waitFor(() => brokers.slice(1).some((b) => count(b, 'METADATA') > 0), 'a metadata request to a live broker');
    brokers[1]!.setLeader('t', 0, 3);
    await Promise.all(during);
    expect(values(brokers[1]!)).toEqual([...Array.from({ length: 10 }, (_, i) => `before-${i}`), ...Array.from({ length: 10 }, (_, i) => `during-${i}`)]);
  });

  it('sends a batch to the new leader as soon as the metadata names it, without waiting out a backoff that has grown meanwhile', async () => {
    const brokers = miniCluster(2);
    const producer = client(brokers).producer({ lingerMs: 0, retryBackoffMs: 100, retryBackoffMaxMs: 100_000 });
    await producer.send({ topic: 't', partition: 0, value: 'before' });
    brokers[0]!.setDown(true);
    const downAt = Date.now();
    const during = producer.send({ topic: 't', partition: 0, value: 'during' });
    // Backoffs of about 100, 200, 400 and 800 ms have passed; the next one is about 1600 ms long.
    await new Promise((resolve) => setTimeout(resolve, 2_000 - (Date.now() - downAt)));
    brokers[1]!.setLeader('t', 0, 2);
    const movedAt = Date.now();
    await during;
    expect(Date.now() - movedAt).toBeLessThan(600);
    expect(values(brokers[1]!)).toEqual(['before', 'during']);
  });

  it('rejects with DeliveryTimeoutError naming the partition and the last error when the leader stays down', async () => {
    const brokers = miniCluster(2);
    const producer = client(brokers).producer({ lingerMs: 0, deliveryTimeoutMs: 400, retryBackoffMs: 5, retryBackoffMaxMs: 20 });
    await producer.send({ topic: 't', partition: 0, value: 'ok' });
    brokers[0]!.setDown(true);
    const started = Date.now();
    const error = await rejectionOf(producer.send({ topic: 't', partition: 0, value: 'lost' }));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error).toBeInstanceOf(DeliveryTimeoutError);
    const timeout = error as DeliveryTimeoutError;
    expect(timeout).toMatchObject({ code: ErrorCode.REQUEST_TIMED_OUT, topic: 't', partition: 0, recordCount: 1 });
    expect(timeout.lastError?.code).toBe(ErrorCode.NETWORK_EXCEPTION);
    expect(timeout.cause).toBe(timeout.lastError);
    expect(timeout.message).toMatch(/t-0 were not acknowledged within deliveryTimeoutMs \(400 ms\); last error: NETWORK_EXCEPTION/);
    expect(values(brokers[0]!)).toEqual(['ok']);
  });

  it('fails fast on a down leader once its circuit is open, without a connect per retry', async () => {
    const brokers = miniCluster(2);
    let connects = 0;
    const bus = client(brokers, {
      breakerCooldownMs: 60_000,
      connect: (options) => {
        if (options.port === 9101) connects++;
        return brokers[0]!.connect(options);
      },
    });
    const producer = bus.producer({ lingerMs: 0, deliveryTimeoutMs: 500, retryBackoffMs: 5, retryBackoffMaxMs: 20 });
    await producer.send({ topic: 't', partition: 0, value: 'ok' });
    brokers[0]!.setDown(true);
    const before = connects;
    const error = (await rejectionOf(producer.send({ topic: 't', partition: 0, value: 'lost' }))) as DeliveryTimeoutError;
    expect(error.lastError).toBeInstanceOf(BrokerUnavailableError);
    // The drop and two refused reconnects open the circuit; every later retry fails without a connect.
    expect(connects - before).toBeLessThanOrEqual(3);
    expect(bus.brokerHealth().find((h) => h.port === 9101)).toMatchObject({ nodeId: 1, state: 'open' });
  });

  it('retries NOT_ENOUGH_REPLICAS on the same leader without asking for metadata', async () => {
    const brokers = miniCluster(1);
    const producer = client(brokers).producer({ lingerMs: 0 });
    await producer.send({ topic: 't', partition: 0, value: 'warm' });
    const metadataBefore = count(brokers[0]!, 'METADATA');
    brokers[0]!.faults.push({ api: 'PRODUCE', topic: 't', partition: 0, errorCode: ErrorCode.NOT_ENOUGH_REPLICAS, times: 3 });
    await producer.send({ topic: 't', partition: 0, value: 'x' });
    expect(count(brokers[0]!, 'METADATA')).toBe(metadataBefore);
  });

  it('refreshes metadata on FENCED_LEADER_EPOCH and carries on', async () => {
    const brokers = miniCluster(1);
    const producer = client(brokers).producer({ lingerMs: 0 });
    await producer.send({ topic: 't', partition: 0, value: 'warm' });
    const metadataBefore = count(brokers[0]!, 'METADATA');
    brokers[0]!.faults.push({ api: 'PRODUCE', topic: 't', partition: 0, errorCode: ErrorCode.FENCED_LEADER_EPOCH });
    await producer.send({ topic: 't', partition: 0, value: 'x' });
    expect(count(brokers[0]!, 'METADATA')).toBeGreaterThan(metadataBefore);
    expect(values(brokers[0]!)).toEqual(['warm', 'x']);
  });

  it('gives up on UNKNOWN_TOPIC_OR_PARTITION after unknownTopicRetryMs, long before the delivery timeout', async () => {
    const brokers = miniCluster(1);
    const producer = client(brokers, { unknownTopicRetryMs: 200 }).producer({ lingerMs: 0 });
    await producer.send({ topic: 't', partition: 0, value: 'warm' });
    brokers[0]!.faults.push({ api: 'PRODUCE', topic: 't', partition: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, times: 1_000 });
    const started = Date.now();
    const error = await rejectionOf(producer.send({ topic: 't', partition: 0, value: 'x' }));
    expect(error).toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, context: { topic: 't', partition: 0 } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('client failover > consumer', () => {
  it('resumes from its position on the new leader: every record once, in order', async () => {
    const brokers = miniCluster(2);
    const bus = client(brokers);
    const producer = bus.producer({ lingerMs: 0 });
    await Promise.all(sendNumbered(producer, 'a', 50));
    const consumer = bus.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 50, maxPartitionBytes: 300 });
    consumer.assign([{ topic: 't', partition: 0 }]);
    const firstHalf = await take(consumer, 30);
    brokers[0]!.setLeader('t', 0, 2);
    await Promise.all(sendNumbered(producer, 'b', 50));
    const rest = await take(consumer, 70);
    const all = [...firstHalf, ...rest];
    expect(all.map((m) => m.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(all.map((m) => m.value?.toString())).toEqual([...Array.from({ length: 50 }, (_, i) => `a-${i}`), ...Array.from({ length: 50 }, (_, i) => `b-${i}`)]);
    expect(count(brokers[1]!, 'FETCH')).toBeGreaterThan(0);
  });

  it('sends the leader epoch it knows, and on FENCED_LEADER_EPOCH refreshes and goes on without a gap', async () => {
    const brokers = miniCluster(1);
    const bus = client(brokers);
    await Promise.all(sendNumbered(bus.producer({ lingerMs: 0 }), 'a', 20));
    brokers[0]!.setLeader('t', 0, 1); // epoch 1: the consumer's cached 0 would now be fenced
    const consumer = bus.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const head = await take(consumer, 5);
    brokers[0]!.setLeader('t', 0, 1); // epoch 2, behind the consumer's back
    const tail = await take(consumer, 15);
    expect([...head, ...tail].map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const epochs = brokers[0]!.requests
      .filter((r) => r.api === 'FETCH')
      .map((r) => (r.body as { topics: { partitions: { currentLeaderEpoch?: number }[] }[] }).topics[0]?.partitions[0]?.currentLeaderEpoch);
    expect(epochs).toContain(1);
  });

  it('with clientRack set, reads from the in-sync follower in its rack and gets the same records', async () => {
    const brokers = miniCluster(3);
    const bus = client(brokers);
    await Promise.all(sendNumbered(bus.producer({ lingerMs: 0 }), 'r', 40));
    const leaderFetchesBefore = count(brokers[0]!, 'FETCH');
    const consumer = bus.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 50, clientRack: 'b' });
    consumer.assign([{ topic: 't', partition: 0 }]);
    const messages = await take(consumer, 40);
    expect(messages.map((m) => m.value?.toString())).toEqual(Array.from({ length: 40 }, (_, i) => `r-${i}`));
    expect(count(brokers[1]!, 'FETCH')).toBeGreaterThan(0);
    expect(count(brokers[0]!, 'FETCH')).toBe(leaderFetchesBefore);
    expect(count(brokers[2]!, 'FETCH')).toBe(0);
  });

  it('falls back to the leader at once on an error from the follower, with no record skipped or repeated', async () => {
    const brokers = miniCluster(2);
    const bus = client(brokers);
    const producer = bus.producer({ lingerMs: 0 });
    await Promise.all(sendNumbered(producer, 'a', 20));
    const consumer = bus.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 50, clientRack: 'b', followerFallbackMs: 60_000 });
    consumer.assign([{ topic: 't', partition: 0 }]);
    const head = await take(consumer, 20);
    brokers[1]!.faults.push({ api: 'FETCH', topic: 't', partition: 0, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
    await Promise.all(sendNumbered(producer, 'b', 20));
    const tail = await take(consumer, 20);
    expect([...head, ...tail].map((m) => m.offset)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(count(brokers[0]!, 'FETCH')).toBeGreaterThan(0);
    // OFFSET_OUT_OF_RANGE from a follower is not a reason to reset: the position stayed.
    expect(consumer.position({ topic: 't', partition: 0 })).toBe(40);
  });

  it('keeps reading from the leader when the follower in its rack is down', async () => {
    const brokers = miniCluster(2);
    const bus = client(brokers);
    await Promise.all(sendNumbered(bus.producer({ lingerMs: 0 }), 'a', 10));
    brokers[1]!.setDown(true);
    const consumer = bus.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 50, clientRack: 'b' });
    consumer.assign([{ topic: 't', partition: 0 }]);
    expect((await take(consumer, 10)).map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });
});

describe('client failover > metadata', () => {
  it('refreshes the metadata of topics in use every metadataMaxAgeMs, with no request needing it', async () => {
    const brokers = miniCluster(1);
    const bus = client(brokers, { metadataMaxAgeMs: 40 });
    const consumer = bus.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    await waitFor(() => count(brokers[0]!, 'METADATA') >= 1, 'the first metadata request');
    const before = count(brokers[0]!, 'METADATA');
    await waitFor(() => count(brokers[0]!, 'METADATA') >= before + 3, 'three periodic refreshes', 3_000);
  });
});

describe('client failover > options', () => {
  it('refuses out-of-range pool, breaker and retry options with INVALID_CONFIG naming the option', () => {
    const bad: [Partial<ClientOptions>, RegExp][] = [
      [{ connectionsPerBroker: 0 }, /connectionsPerBroker/],
      [{ connectionsPerBroker: 1.5 }, /connectionsPerBroker/],
      [{ healthCheckIntervalMs: -1 }, /healthCheckIntervalMs/],
      [{ breakerFailureThreshold: 0 }, /breakerFailureThreshold/],
      [{ breakerCooldownMs: -5 }, /breakerCooldownMs/],
      [{ unknownTopicRetryMs: Number.NaN }, /unknownTopicRetryMs/],
    ];
    for (const [options, name] of bad) {
      let error: unknown;
      try {
        new StreamBus({ brokers: ['127.0.0.1:9101'], ...options });
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(options)).toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(name) });
    }
  });

  it('refuses a non-string clientRack and a negative followerFallbackMs with INVALID_CONFIG', () => {
    const bus = client(miniCluster(1));
    const failure = (make: () => unknown): unknown => {
      try {
        make();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(failure(() => bus.consumer({ clientRack: 7 as unknown as string }))).toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(/clientRack must be a string/) });
    expect(failure(() => bus.consumer({ followerFallbackMs: -1 }))).toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(/followerFallbackMs/) });
  });
});
