import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { readBatchHeader } from '../../proto/record-batch/index.js';
import { StreamBus, type ProducerOptions } from '../index.js';
import { seededRandom } from '../policy/random.js';
import { MiniBroker } from '../testing/mini-broker.js';
import { rejectionOf } from '../testing/wait.js';

const clients: StreamBus[] = [];

function setup(options: ProducerOptions = {}, brokerOptions: { idempotence?: boolean } = {}) {
  const broker = new MiniBroker(brokerOptions);
  broker.createTopic('t', 2);
  const bus = new StreamBus({ brokers: ['127.0.0.1:9093'], connect: broker.connect, random: seededRandom(11), retryBackoffMs: 5, retryBackoffMaxMs: 20 });
  clients.push(bus);
  return { broker, bus, producer: bus.producer({ retryBackoffMs: 5, retryBackoffMaxMs: 20, lingerMs: 0, ...options }) };
}

function storedHeaders(broker: MiniBroker, partition = 0) {
  return broker.topics.get('t')!.partitions[partition]!.batches.map((b) => readBatchHeader(b.bytes));
}

const initRequests = (broker: MiniBroker) => broker.requests.filter((r) => r.api === 'INIT_PRODUCER_ID').map((r) => r.body as { producerId: number; producerEpoch: number });

afterEach(async () => {
  await Promise.all(clients.splice(0).map((bus) => bus.close({ signal: AbortSignal.timeout(2_000) })));
});

describe('producer > idempotence', () => {
  it('is on by default: gets a producer id once and stamps consecutive sequences per partition', async () => {
    const { broker, producer } = setup();
    for (const value of ['a', 'b', 'c']) await producer.send({ topic: 't', partition: 0, value });
    await producer.send({ topic: 't', partition: 1, value: 'd' });
    expect(producer.idempotent).toBe(true);
    expect(initRequests(broker)).toHaveLength(1);
    const headers = storedHeaders(broker);
    expect(headers.map((h) => h.baseSequence)).toEqual([0, 1, 2]);
    expect(new Set(headers.map((h) => h.producerId)).size).toBe(1);
    expect(headers[0]!.producerId).toBeGreaterThanOrEqual(0);
    expect(storedHeaders(broker, 1).map((h) => h.baseSequence)).toEqual([0]);
  });

  it('does not write a batch twice when the answer to its first attempt was lost', async () => {
    const { broker, producer } = setup();
    await producer.send({ topic: 't', partition: 0, value: 'first' });
    broker.faults.push({ api: 'PRODUCE', errorCode: ErrorCode.NETWORK_EXCEPTION, wholeRequest: true, afterWrite: true });
    const metadata = await producer.send({ topic: 't', partition: 0, value: 'second' });
    expect(broker.records('t', 0).map((r) => r.value)).toEqual(['first', 'second']);
    // The resend was answered with the offset the first attempt got.
    expect(metadata.offset).toBe(1);
    expect(broker.requests.filter((r) => r.api === 'PRODUCE').length).toBe(3);
  });

  it('keeps send order on a partition when a batch is retried while later ones are in flight', async () => {
    const { broker, producer } = setup({ lingerMs: 0, batchBytes: 100 });
    broker.latencyMs = 5;
    const values = Array.from({ length: 20 }, (_, i) => `v${String(i).padStart(2, '0')}-${'x'.repeat(30)}`);
    await producer.send({ topic: 't', partition: 0, value: values.shift()! });
    broker.faults.push({ api: 'PRODUCE', topic: 't', partition: 0, errorCode: ErrorCode.NOT_ENOUGH_REPLICAS });
    const sends: Promise<unknown>[] = [];
    for (const value of values) {
      sends.push(producer.send({ topic: 't', partition: 0, value }));
      // One drain per turn: batches leave one after another while the first is still unanswered.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(sends);
    expect(broker.records('t', 0).map((r) => r.value).slice(1)).toEqual(values);
    const sequences = storedHeaders(broker).map((h) => h.baseSequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    // Later batches were in flight when the first failed: the leader refused them until it came back.
    expect(broker.requests.filter((r) => r.api === 'PRODUCE').length).toBeGreaterThan(values.length + 2);
  });

  it('keeps send order for records sent before the topic metadata and producer id are known', async () => {
    const { broker, producer } = setup({ lingerMs: 0, batchBytes: 200 });
    broker.latencyMs = 2;
    const values = Array.from({ length: 60 }, (_, i) => `early-${String(i).padStart(2, '0')}`);
    const sends: Promise<unknown>[] = [];
    for (const value of values) {
      sends.push(producer.send({ topic: 't', partition: 0, value }));
      if (sends.length % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(sends);
    expect(broker.records('t', 0).map((r) => r.value)).toEqual(values);
  });

  it('bumps the epoch and starts again at sequence 0 after UNKNOWN_PRODUCER_ID (KIP-360)', async () => {
    const { broker, producer } = setup();
    await producer.send({ topic: 't', partition: 0, value: 'before' });
    broker.faults.push({ api: 'PRODUCE', topic: 't', partition: 0, errorCode: ErrorCode.UNKNOWN_PRODUCER_ID });
    await producer.send({ topic: 't', partition: 0, value: 'after' });
    const inits = initRequests(broker);
    expect(inits).toHaveLength(2);
    const headers = storedHeaders(broker);
    expect(inits[1]!.producerId).toBe(headers[0]!.producerId);
    expect(headers.map((h) => [h.producerEpoch, h.baseSequence])).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(broker.records('t', 0).map((r) => r.value)).toEqual(['before', 'after']);
  });

  it('counts DUPLICATE_SEQUENCE_NUMBER as success', async () => {
    const { broker, producer } = setup();
    broker.faults.push({ api: 'PRODUCE', topic: 't', partition: 0, errorCode: ErrorCode.DUPLICATE_SEQUENCE_NUMBER });
    await expect(producer.send({ topic: 't', partition: 0, value: 'v' })).resolves.toMatchObject({ topic: 't', partition: 0 });
  });

  it('sends unstamped batches and asks for no producer id with idempotent: false', async () => {
    const { broker, producer } = setup({ idempotent: false });
    await producer.send({ topic: 't', partition: 0, value: 'v' });
    expect(producer.idempotent).toBe(false);
    expect(initRequests(broker)).toHaveLength(0);
    expect(storedHeaders(broker)[0]!.producerId).toBe(-1);
  });

  it('turns the default off against a server without INIT_PRODUCER_ID, and fails sends when asked for explicitly', async () => {
    const fallback = setup({}, { idempotence: false });
    await fallback.producer.send({ topic: 't', partition: 0, value: 'v' });
    expect(fallback.producer.idempotent).toBe(false);
    expect(storedHeaders(fallback.broker)[0]!.producerId).toBe(-1);
    const strict = setup({ idempotent: true, maxBlockMs: 500 }, { idempotence: false });
    const error = await rejectionOf(strict.producer.send({ topic: 't', partition: 0, value: 'v' }));
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).code).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });

  it('turns itself off for acks 1 unless asked for, and refuses combinations that cannot work', () => {
    const bus = new StreamBus({ brokers: ['127.0.0.1:9093'], connect: new MiniBroker().connect });
    clients.push(bus);
    expect(bus.producer({ acks: 1 }).idempotent).toBe(false);
    const refused = (options: ProducerOptions): number => {
      try {
        bus.producer(options);
      } catch (error) {
        return (error as StreamBusError).code;
      }
      return ErrorCode.NONE;
    };
    expect(refused({ idempotent: true, acks: 1 })).toBe(ErrorCode.INVALID_CONFIG);
    expect(refused({ idempotent: true, maxInFlightRequests: 6 })).toBe(ErrorCode.INVALID_CONFIG);
    expect(refused({ transactionalId: '' })).toBe(ErrorCode.INVALID_CONFIG);
    expect(refused({ transactionalId: 'tx', idempotent: false })).toBe(ErrorCode.INVALID_CONFIG);
  });

  it('refuses send() outside transaction() on a transactional producer, and transaction() on a plain one', async () => {
    const { bus, producer } = setup();
    const transactional = bus.producer({ transactionalId: 'tx-1' });
    const outside = await rejectionOf(transactional.send({ topic: 't', value: 'v' }));
    expect((outside as StreamBusError).code).toBe(ErrorCode.INVALID_TXN_STATE);
    const plain = await rejectionOf(producer.transaction(() => undefined));
    expect((plain as StreamBusError).code).toBe(ErrorCode.INVALID_REQUEST);
  });
});
