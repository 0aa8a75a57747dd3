/**
 * Schema-id validation on produce against a real `streambus dev`: a topic with
 * confluent.value.schema.validation=true refuses whole batches with INVALID_RECORD when a record
 * lacks the wire format, carries an unknown id, or an id registered under another subject, and
 * writes nothing of them; tombstones and well-framed records pass. Through the native client and
 * through kafkajs on the Kafka listener.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroSerializer, ErrorCode, SchemaFormat, SchemaRegistryClient, StreamBus, StreamBusError, encodeFrame } from '../../client/index.js';
import { type DevServer, startDevServer } from '../support/dev-server.js';

let server: DevServer;
let bus: StreamBus;
let registry: SchemaRegistryClient;
let orderId: number;
let paymentId: number;

const order = { type: 'record', name: 'Order', namespace: 'acme', fields: [{ name: 'id', type: 'long' }] };
const payment = { type: 'record', name: 'Payment', namespace: 'acme', fields: [{ name: 'amount', type: 'double' }] };

beforeAll(async () => {
  server = await startDevServer({ settings: { 'kafka.host': '127.0.0.1' } });
  bus = new StreamBus({ brokers: [server.bootstrap] });
  registry = new SchemaRegistryClient({ url: server.registryUrl });
  await bus.admin().createTopics([
    { topic: 'orders', partitions: 1, configs: { 'confluent.value.schema.validation': 'true' } },
    { topic: 'by-record', partitions: 1, configs: { 'confluent.value.schema.validation': 'true', 'confluent.value.subject.name.strategy': 'RecordNameStrategy' } },
    { topic: 'open', partitions: 1 },
  ]);
  orderId = await registry.register('orders-value', { schemaType: SchemaFormat.AVRO, schema: JSON.stringify(order) });
  paymentId = await registry.register('payments-value', { schemaType: SchemaFormat.AVRO, schema: JSON.stringify(payment) });
}, 60_000);

afterAll(async () => {
  await bus?.close();
  await server?.dispose();
});

async function endOffset(topic: string): Promise<number> {
  const [result] = await bus.admin().listOffsets([{ topic, partition: 0, at: 'latest' }]);
  return result!.offset;
}

/** Sends the values as one batch through a fresh producer; resolves with the error, if any. */
async function sendBatch(topic: string, values: (Buffer | string | null)[]): Promise<StreamBusError | undefined> {
  const producer = bus.producer({ lingerMs: 20, idempotent: false, retries: 0 });
  try {
    await Promise.all(values.map((value, i) => producer.send({ topic, partition: 0, key: `k${i}`, value })));
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return error as StreamBusError;
  } finally {
    await producer.close();
  }
}

const avroOrder = (id: number): Buffer => encodeFrame(orderId, Buffer.from([id * 2]));

describe('schema validation on produce > native client', () => {
  it('accepts well-framed records and tombstones', async () => {
    const before = await endOffset('orders');
    expect(await sendBatch('orders', [avroOrder(1), null, avroOrder(2)])).toBeUndefined();
    expect(await endOffset('orders')).toBe(before + 3);
  });

  it('accepts what the Avro serializer writes', async () => {
    const value = await new AvroSerializer(registry, { schema: order, autoRegister: false }).serialize('orders', { id: 9 });
    expect(await sendBatch('orders', [value])).toBeUndefined();
  });

  for (const [name, bad, why] of [
    ['a record without the magic byte', Buffer.from('{"id":1}'), 'starts with 0x7b'],
    ['an unknown schema id', encodeFrame(987_654, Buffer.from([2])), 'schema id 987654, which is not registered'],
    ['an id registered under another subject', undefined, "not registered under subject 'orders-value'"],
  ] as const) {
    it(`refuses the whole batch with INVALID_RECORD for ${name}, and writes none of it`, async () => {
      const before = await endOffset('orders');
      const error = await sendBatch('orders', [avroOrder(3), bad ?? encodeFrame(paymentId, Buffer.alloc(8))]);
      expect(error?.code).toBe(ErrorCode.INVALID_RECORD);
      expect(error?.message).toContain(why);
      expect(error?.message).toContain('record 1');
      expect(await endOffset('orders')).toBe(before);
    });
  }

  it('checks nothing on a topic without validation', async () => {
    expect(await sendBatch('open', ['plain text'])).toBeUndefined();
  });

  it('checks the record name subject under RecordNameStrategy', async () => {
    const recordId = await registry.register('acme.Order', { schemaType: SchemaFormat.AVRO, schema: JSON.stringify(order) });
    expect(await sendBatch('by-record', [encodeFrame(recordId, Buffer.from([2]))])).toBeUndefined();
    expect((await sendBatch('by-record', [encodeFrame(paymentId, Buffer.alloc(8))]))?.message).toContain("subject 'acme.Payment'");
  });

  it('starts checking once the config is switched on, with no restart', async () => {
    await bus.admin().createTopics([{ topic: 'switched', partitions: 1 }]);
    expect(await sendBatch('switched', ['plain'])).toBeUndefined();
    await bus.admin().alterConfigs([{ topic: 'switched', set: { 'confluent.value.schema.validation': 'true' } }]);
    expect((await sendBatch('switched', ['plain']))?.code).toBe(ErrorCode.INVALID_RECORD);
  });
});

describe('schema validation on produce > kafkajs on the Kafka listener', () => {
  it('refuses an unframed record with INVALID_RECORD and accepts a framed one and a tombstone', async () => {
    const kafka = new Kafka({ brokers: [`${server.kafka!.host}:${server.kafka!.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const before = await endOffset('orders');
      await expect(producer.send({ topic: 'orders', messages: [{ value: avroOrder(4) }, { value: 'not framed' }] })).rejects.toMatchObject({ type: 'INVALID_RECORD' });
      expect(await endOffset('orders')).toBe(before);
      await producer.send({ topic: 'orders', messages: [{ value: avroOrder(5) }, { key: 'gone', value: null }] });
      expect(await endOffset('orders')).toBe(before + 2);
    } finally {
      await producer.disconnect();
    }
  });
});
