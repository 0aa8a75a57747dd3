import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { DeliveryTimeoutError, StreamBus, type ProducerOptions } from '../index.js';
import { partitionForKey } from '../policy/murmur2.js';
import { seededRandom } from '../policy/random.js';
import { MiniBroker } from '../testing/mini-broker.js';
import { rejectionOf, settlesWithin, waitFor } from '../testing/wait.js';

const clients: StreamBus[] = [];

function setup(options: ProducerOptions = {}, topics: Record<string, number> = { t: 1 }): { broker: MiniBroker; bus: StreamBus; producer: ReturnType<StreamBus['producer']> } {
  const broker = new MiniBroker();
  for (const [name, partitions] of Object.entries(topics)) broker.createTopic(name, partitions);
  const bus = new StreamBus({ brokers: ['127.0.0.1:9093'], connect: broker.connect, random: seededRandom(7), retryBackoffMs: 5, retryBackoffMaxMs: 20 });
  clients.push(bus);
  return { broker, bus, producer: bus.producer({ retryBackoffMs: 5, retryBackoffMaxMs: 20, ...options }) };
}

const produceRequests = (broker: MiniBroker): number => broker.requests.filter((r) => r.api === 'PRODUCE').length;

afterEach(async () => {
  await Promise.all(clients.splice(0).map((bus) => bus.close({ signal: AbortSignal.timeout(2_000) })));
});

describe('producer > send', () => {
  it('resolves each record with its partition and consecutive offsets, in send order', async () => {
    const { broker, producer } = setup();
    const results = await Promise.all(['a', 'b', 'c'].map((value) => producer.send({ topic: 't', value })));
    expect(results.map((r) => [r.topic, r.partition, r.offset])).toEqual([
      ['t', 0, 0],
      ['t', 0, 1],
      ['t', 0, 2],
    ]);
    expect(broker.records('t', 0).map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });

  it('reports the record create time as its timestamp', async () => {
    const { producer } = setup();
    const metadata = await producer.send({ topic: 't', value: 'x', timestamp: 1_700_000_000_000 });
    expect(metadata.timestamp).toBe(1_700_000_000_000);
  });

  it('batches records sent within lingerMs into one produce request', async () => {
    const { broker, producer } = setup({ lingerMs: 20 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send({ topic: 't', value: `v${i}` })));
    expect(produceRequests(broker)).toBe(1);
  });

  it('sends a full batch without waiting for lingerMs', async () => {
    const { broker, producer } = setup({ lingerMs: 60_000, batchBytes: 2_000 });
    const value = Buffer.alloc(300);
    const sends = Array.from({ length: 12 }, () => producer.send({ topic: 't', value }));
    // Full batches leave at once; only the last, partly filled one would wait for the linger.
    await waitFor(() => produceRequests(broker) >= 1, 'the first full batch to be sent');
    await Promise.all(sends.slice(0, 5));
    await producer.flush({ signal: AbortSignal.timeout(2_000) });
    await Promise.all(sends);
  });

  it('places a keyed record on the partition a Kafka client would choose', async () => {
    const { producer } = setup({}, { keyed: 12 });
    for (const key of ['foobar', 'order-17', 'user:42', '']) {
      const metadata = await producer.send({ topic: 'keyed', key, value: 'v' });
      expect(metadata.partition).toBe(partitionForKey(Buffer.from(key), 12));
    }
  });

  it('keeps unkeyed records of one burst on one sticky partition', async () => {
    const { producer } = setup({ lingerMs: 10 }, { spread: 8 });
    const results = await Promise.all(Array.from({ length: 20 }, () => producer.send({ topic: 'spread', value: 'v' })));
    expect(new Set(results.map((r) => r.partition)).size).toBe(1);
  });

  it('moves unkeyed traffic to another partition once the sticky batch is sent', async () => {
    const { producer } = setup({ lingerMs: 0 }, { spread: 8 });
    const first = await producer.send({ topic: 'spread', value: 'v' });
    const second = await producer.send({ topic: 'spread', value: 'v' });
    expect(second.partition).not.toBe(first.partition);
  });

  it('honours an explicit partition', async () => {
    const { producer } = setup({}, { many: 4 });
    expect((await producer.send({ topic: 'many', key: 'k', value: 'v', partition: 3 })).partition).toBe(3);
  });

  it('rejects a partition the topic does not have', async () => {
    const { producer } = setup({}, { many: 4 });
    const error = await rejectionOf(producer.send({ topic: 'many', value: 'v', partition: 9 }));
    expect(error).toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, context: { topic: 'many', partition: 9 } });
  });

  it('resolves sendBatch with metadata in input order across partitions', async () => {
    const { producer } = setup({}, { a: 2 });
    const results = await producer.sendBatch([
      { topic: 'a', value: '1', partition: 1 },
      { topic: 'a', value: '2', partition: 0 },
      { topic: 'a', value: '3', partition: 1 },
    ]);
    expect(results.map((r) => [r.partition, r.offset])).toEqual([
      [1, 0],
      [0, 0],
      [1, 1],
    ]);
  });

  it('gives records of send() and sendBatch() that share a batch consecutive offsets in call order', async () => {
    const { broker, producer } = setup({ lingerMs: 20 });
    await producer.send({ topic: 't', value: 'warm-up' });
    const first = producer.send({ topic: 't', value: 'a' });
    const middle = producer.sendBatch([
      { topic: 't', value: 'b' },
      { topic: 't', value: 'c' },
    ]);
    const last = producer.send({ topic: 't', value: 'd' });
    expect([(await first).offset, ...(await middle).map((m) => m.offset), (await last).offset]).toEqual([1, 2, 3, 4]);
    expect(produceRequests(broker)).toBe(2);
    expect(broker.records('t', 0).map((r) => r.value)).toEqual(['warm-up', 'a', 'b', 'c', 'd']);
  });

  it('stores keys, values and headers as given', async () => {
    const { broker, producer } = setup();
    await producer.send({ topic: 't', key: Buffer.from('k'), value: new Uint8Array([104, 105]), headers: { h: 'v' } });
    expect(broker.records('t', 0)).toEqual([{ offset: 0, key: 'k', value: 'hi' }]);
  });

  it('with acks=0 resolves once written, with offset -1', async () => {
    const { broker, producer } = setup({ acks: 0 });
    const metadata = await producer.send({ topic: 't', value: 'x' });
    expect(metadata.offset).toBe(-1);
    await waitFor(() => broker.records('t', 0).length === 1, 'the broker to store the record');
  });
});

describe('producer > errors', () => {
  it('rejects a record larger than the topic\'s max.message.bytes at once, without sending it', async () => {
    const { broker, producer } = setup();
    broker.topics.get('t')!.configs.set('max.message.bytes', '1000');
    const error = await rejectionOf(producer.send({ topic: 't', value: Buffer.alloc(2000) }));
    expect(error).toBeInstanceOf(StreamBusError);
    expect(error).toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE, context: { topic: 't' } });
    expect(produceRequests(broker)).toBe(0);
    // Smaller records still go through.
    await expect(producer.send({ topic: 't', value: Buffer.alloc(500) })).resolves.toMatchObject({ offset: 0 });
  });

  it('rejects malformed records with a typed error', async () => {
    const { producer } = setup();
    await expect(producer.send({ topic: '', value: 'x' })).rejects.toMatchObject({ code: ErrorCode.INVALID_TOPIC });
    await expect(producer.send({ topic: 't', value: 'x', timestamp: 1.5 })).rejects.toMatchObject({ code: ErrorCode.INVALID_TIMESTAMP });
    await expect(producer.send({ topic: 't', value: 42 as unknown as string })).rejects.toMatchObject({ code: ErrorCode.INVALID_RECORD });
  });

  it('retries a retriable partition error and then succeeds', async () => {
    const { broker, producer } = setup();
    broker.faults.push({ api: 'PRODUCE', topic: 't', partition: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, times: 2 });
    await expect(producer.send({ topic: 't', value: 'x' })).resolves.toMatchObject({ offset: 0 });
    expect(produceRequests(broker)).toBe(3);
    // A stale-leader answer makes the producer refresh its metadata.
    expect(broker.requests.filter((r) => r.api === 'METADATA').length).toBeGreaterThan(1);
  });

  it('rejects with the broker\'s error when it is not retriable, naming the partition', async () => {
    const { broker, producer } = setup();
    broker.faults.push({ api: 'PRODUCE', topic: 't', partition: 0, errorCode: ErrorCode.POLICY_VIOLATION });
    const error = await rejectionOf(producer.send({ topic: 't', value: 'x' }));
    expect(error).toMatchObject({ code: ErrorCode.POLICY_VIOLATION, retriable: false, context: { topic: 't', partition: 0 } });
    expect(produceRequests(broker)).toBe(1);
  });

  it('gives up on a retriable error once deliveryTimeoutMs has passed, with a DeliveryTimeoutError naming the partition and the last error', async () => {
    const { broker, producer } = setup({ deliveryTimeoutMs: 600, retryBackoffMs: 20, retryBackoffMaxMs: 40 });
    broker.faults.push({ api: 'PRODUCE', topic: 't', partition: 0, errorCode: ErrorCode.NOT_ENOUGH_REPLICAS, times: 1_000 });
    const started = Date.now();
    const error = await rejectionOf(producer.send({ topic: 't', value: 'x' }));
    expect(error).toBeInstanceOf(DeliveryTimeoutError);
    expect(error).toMatchObject({ code: ErrorCode.REQUEST_TIMED_OUT, topic: 't', partition: 0, deliveryTimeoutMs: 600, lastError: { code: ErrorCode.NOT_ENOUGH_REPLICAS } });
    expect((error as Error).message).toMatch(/t-0 .*600 ms.*NOT_ENOUGH_REPLICAS/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(produceRequests(broker)).toBeGreaterThan(1);
  });

  it('retries after a dropped connection on a new connection', async () => {
    const { broker, producer } = setup();
    await producer.send({ topic: 't', value: 'first' });
    broker.faults.push({ api: 'PRODUCE', errorCode: ErrorCode.NETWORK_EXCEPTION, wholeRequest: true });
    broker.dropConnections();
    await expect(producer.send({ topic: 't', value: 'second' })).resolves.toMatchObject({ offset: 1 });
  });

  it('fails records of an unknown topic after maxBlockMs', async () => {
    const { producer } = setup({ maxBlockMs: 100 });
    const error = await rejectionOf(producer.send({ topic: 'missing', value: 'x' }));
    expect(error).toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
  });

  it('does not send a record whose signal aborted first', async () => {
    const { broker, producer } = setup();
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(producer.send({ topic: 't', value: 'x' }, { signal: controller.signal })).rejects.toThrow('cancelled');
    await producer.flush();
    expect(produceRequests(broker)).toBe(0);
  });
});

describe('producer > backpressure', () => {
  it('makes send() wait while bufferBytes are held by unacknowledged records, then proceeds', async () => {
    const { broker, producer } = setup({ bufferBytes: 3_000, lingerMs: 0, maxBlockMs: 5_000 });
    broker.setLeader('t', 0, -1);
    const value = Buffer.alloc(1_000);
    const first = producer.send({ topic: 't', value });
    const second = producer.send({ topic: 't', value });
    await waitFor(() => producer.bufferedBytes > 2_000, 'two records to hold the buffer');
    const third = producer.send({ topic: 't', value });
    expect(await settlesWithin(third, 50)).toBe(false);
    broker.setLeader('t', 0, broker.nodeId);
    const offsets = (await Promise.all([first, second, third])).map((m) => m.offset);
    expect(offsets).toEqual([0, 1, 2]);
    expect(producer.bufferedBytes).toBe(0);
  });

  it('fails a blocked send with REQUEST_TIMED_OUT after maxBlockMs', async () => {
    const { broker, producer } = setup({ bufferBytes: 1_500, maxBlockMs: 50 });
    broker.setLeader('t', 0, -1);
    const held = producer.send({ topic: 't', value: Buffer.alloc(1_000) });
    const error = await rejectionOf(producer.send({ topic: 't', value: Buffer.alloc(1_000) }));
    expect(error).toMatchObject({ code: ErrorCode.REQUEST_TIMED_OUT });
    broker.setLeader('t', 0, broker.nodeId);
    await expect(held).resolves.toMatchObject({ offset: 0 });
  });

  it('rejects a record larger than bufferBytes at once', async () => {
    const { producer } = setup({ bufferBytes: 1_000 });
    await expect(producer.send({ topic: 't', value: Buffer.alloc(2_000) })).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
  });
});

describe('producer > flush and close', () => {
  it('flush sends lingering batches at once and waits for their outcome', async () => {
    const { producer } = setup({ lingerMs: 60_000 });
    const sent = producer.send({ topic: 't', value: 'x' });
    await producer.flush({ signal: AbortSignal.timeout(2_000) });
    expect(await settlesWithin(sent, 0)).toBe(true);
  });

  it('close flushes pending records, then refuses new ones', async () => {
    const { producer } = setup({ lingerMs: 60_000 });
    const sent = producer.send({ topic: 't', value: 'x' });
    await producer.close({ signal: AbortSignal.timeout(2_000) });
    await expect(sent).resolves.toMatchObject({ offset: 0 });
    await expect(producer.send({ topic: 't', value: 'y' })).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
  });

  it('close with an aborted signal fails what is still pending', async () => {
    const { broker, producer } = setup();
    broker.setLeader('t', 0, -1);
    const pending = producer.send({ topic: 't', value: 'x' });
    await expect(producer.close({ signal: AbortSignal.timeout(30) })).rejects.toBeDefined();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
  });
});
