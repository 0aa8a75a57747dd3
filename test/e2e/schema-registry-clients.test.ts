/**
 * Real schema registry clients no one here wrote, against `streambus dev`:
 * - @kafkajs/confluent-schema-registry registering, evolving, encoding and decoding Avro, Protobuf
 *   and JSON Schema, including the calls it makes that need Confluent's exact answers
 *   (reference §3.2: GET /config/{s} must 404 on a first registration, then equal exactly
 *   {compatibilityLevel}; register must resolve exactly {id});
 * - @confluentinc/schemaregistry (Confluent's own JS client) serializing and deserializing Avro and
 *   JSON Schema through its serdes, and Protobuf through its serdes (Confluent's message indexes,
 *   schemas fetched as serialized descriptors);
 * - messages produced through kafkajs with those encoders on the Kafka listener, read back and decoded.
 */
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import {
  AvroDeserializer,
  AvroSerializer,
  JsonDeserializer,
  JsonSerializer,
  ProtobufDeserializer,
  ProtobufSerializer,
  SchemaRegistryClient,
  SerdeType,
} from '@confluentinc/schemaregistry';
// The Protobuf runtime @confluentinc/schemaregistry is built on (its dependency), to make messages.
import { create, createFileRegistry, createMutableRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, eventually, startDevServer } from '../support/dev-server.js';

let server: DevServer;

beforeAll(async () => {
  server = await startDevServer({ settings: { 'kafka.host': '127.0.0.1', 'group.initial.rebalance.delay.ms': 0 } });
}, 60_000);

afterAll(async () => {
  await server?.dispose();
});

const orderV1 = { type: 'record' as const, name: 'Order', namespace: 'com.acme', fields: [{ name: 'id', type: 'long' }, { name: 'item', type: 'string' }] };
const orderV2 = { ...orderV1, fields: [...orderV1.fields, { name: 'qty', type: 'int', default: 1 }] };

function kafkajsRegistry(): SchemaRegistry {
  return new SchemaRegistry({ host: server.registryUrl, retry: { retries: 0 } });
}

async function configOf(subject: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.registryUrl}/config/${subject}`);
  return { status: response.status, body: await response.json() };
}

describe('@kafkajs/confluent-schema-registry', () => {
  it('registers Avro, sets the subject level on first registration, re-registers to the same id and round-trips data (scenario 22)', async () => {
    const registry = kafkajsRegistry();
    expect((await configOf('orders-avro')).status).toBe(404);
    const first = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(orderV1) }, { subject: 'orders-avro' });
    expect(first).toEqual({ id: expect.any(Number) });
    expect(await configOf('orders-avro')).toEqual({ status: 200, body: { compatibilityLevel: 'BACKWARD' } });
    expect(await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(orderV1) }, { subject: 'orders-avro' })).toEqual(first);
    expect(await registry.getLatestSchemaId('orders-avro')).toBe(first.id);
    const encoded = await registry.encode(first.id, { id: 7, item: 'pen' });
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(first.id);
    expect(await registry.decode(encoded)).toEqual({ id: 7, item: 'pen' });
    // Evolve, then read old data with the new schema: the default fills the new field.
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(orderV2) }, { subject: 'orders-avro' });
    expect(await registry.decode(encoded, { [SchemaType.AVRO]: { readerSchema: orderV2 } })).toEqual({ id: 7, item: 'pen', qty: 1 });
  });

  it('refuses a registration whose compatibility option differs from the subject\'s level (scenario 23)', async () => {
    const registry = kafkajsRegistry();
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify({ ...orderV1, name: 'Loose' }) }, { subject: 'loose', compatibility: COMPATIBILITY.NONE });
    expect(await configOf('loose')).toEqual({ status: 200, body: { compatibilityLevel: 'NONE' } });
    await fetch(`${server.registryUrl}/config/loose`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ compatibility: 'FULL' }) });
    await expect(registry.register({ type: SchemaType.AVRO, schema: JSON.stringify({ ...orderV2, name: 'Loose' }) }, { subject: 'loose', compatibility: COMPATIBILITY.NONE })).rejects.toThrow(
      'Compatibility does not match the configuration (NONE != FULL)',
    );
  });

  it('reports an unknown subject and an unregistered schema with Confluent\'s messages (scenario 24)', async () => {
    const registry = kafkajsRegistry();
    await expect(registry.getRegistryIdBySchema('nobody-here', { type: SchemaType.AVRO, schema: JSON.stringify(orderV1) })).rejects.toThrow(
      "Confluent_Schema_Registry - Subject 'nobody-here' not found.",
    );
    await expect(registry.getRegistryIdBySchema('orders-avro', { type: SchemaType.AVRO, schema: JSON.stringify({ ...orderV1, name: 'Never' }) })).rejects.toThrow(
      'Confluent_Schema_Registry - Schema not found',
    );
  });

  it('registers, evolves and round-trips Protobuf and JSON Schema', async () => {
    const registry = kafkajsRegistry();
    const proto = 'syntax = "proto3";\npackage acme;\nmessage Reading { string sensor = 1; double value = 2; }\n';
    const { id: protoId } = await registry.register({ type: SchemaType.PROTOBUF, schema: proto }, { subject: 'readings-proto' });
    const protoBytes = await registry.encode(protoId, { sensor: 't1', value: 21.5 });
    expect(await registry.decode(protoBytes)).toMatchObject({ sensor: 't1', value: 21.5 });
    const evolved = 'syntax = "proto3";\npackage acme;\nmessage Reading { string sensor = 1; double value = 2; int64 at = 3; }\n';
    const { id: protoId2 } = await registry.register({ type: SchemaType.PROTOBUF, schema: evolved }, { subject: 'readings-proto' });
    expect(protoId2).not.toBe(protoId);

    const json = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name'], additionalProperties: false };
    const { id: jsonId } = await registry.register({ type: SchemaType.JSON, schema: JSON.stringify(json) }, { subject: 'people-json' });
    const jsonBytes = await registry.encode(jsonId, { name: 'Ada', age: 36 });
    expect(await registry.decode(jsonBytes)).toEqual({ name: 'Ada', age: 36 });
    await expect(registry.encode(jsonId, { age: 1 })).rejects.toThrow();
    const { id: jsonId2 } = await registry.register(
      { type: SchemaType.JSON, schema: JSON.stringify({ ...json, properties: { ...json.properties, email: { type: 'string' } } }) },
      { subject: 'people-json' },
    );
    expect(jsonId2).not.toBe(jsonId);
  });
});

describe('@confluentinc/schemaregistry', () => {
  it('serializes and deserializes Avro and JSON Schema through its serdes', async () => {
    const client = new SchemaRegistryClient({ baseURLs: [server.registryUrl], maxRetries: 0 });
    const avroId = await client.register('confluent-avro-value', { schemaType: 'AVRO', schema: JSON.stringify(orderV1) });
    expect(await client.register('confluent-avro-value', { schemaType: 'AVRO', schema: JSON.stringify(orderV1) }, true)).toBe(avroId);
    const avroSer = new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true });
    const avroBytes = await avroSer.serialize('confluent-avro', { id: 3, item: 'cup' });
    expect(avroBytes.readInt32BE(1)).toBe(avroId);
    expect(await new AvroDeserializer(client, SerdeType.VALUE, {}).deserialize('confluent-avro', avroBytes)).toEqual({ id: 3, item: 'cup' });
    expect((await client.getLatestSchemaMetadata('confluent-avro-value')).id).toBe(avroId);

    const json = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const jsonId = await client.register('confluent-json-value', { schemaType: 'JSON', schema: JSON.stringify(json) });
    const jsonSer = new JsonSerializer(client, SerdeType.VALUE, { useLatestVersion: true, validate: true });
    const jsonBytes = await jsonSer.serialize('confluent-json', { city: 'Oslo' });
    expect(jsonBytes.readInt32BE(1)).toBe(jsonId);
    expect(await new JsonDeserializer(client, SerdeType.VALUE, {}).deserialize('confluent-json', jsonBytes)).toEqual({ city: 'Oslo' });
  });

  it('registers Protobuf, fetches it in the serialized descriptor form, and is refused an incompatible change with 409', async () => {
    const client = new SchemaRegistryClient({ baseURLs: [server.registryUrl], maxRetries: 0 });
    const proto = 'syntax = "proto3";\npackage acme;\nmessage Ping { int32 seq = 1; }\n';
    const id = await client.register('confluent-proto-value', { schemaType: 'PROTOBUF', schema: proto });
    const serialized = await client.getBySubjectAndId('confluent-proto-value', id, 'serialized');
    expect(serialized.schemaType).toBe('PROTOBUF');
    expect(serialized.schema).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(await client.getId('confluent-proto-value', { schemaType: 'PROTOBUF', schema: serialized.schema })).toBe(id);
    await expect(client.register('confluent-proto-value', { schemaType: 'PROTOBUF', schema: proto.replace('int32 seq', 'string seq') })).rejects.toMatchObject({ status: 409 });
  });

  it('serializes and deserializes Protobuf through its serdes, with message indexes, from the serialized descriptor', async () => {
    const client = new SchemaRegistryClient({ baseURLs: [server.registryUrl], maxRetries: 0 });
    const proto = 'syntax = "proto3";\npackage acme;\nmessage Header { string source = 1; }\nmessage Event { string name = 1; int64 at = 2; Header header = 3; }\n';
    const id = await client.register('confluent-events-value', { schemaType: 'PROTOBUF', schema: proto });
    const serialized = await client.getBySubjectAndId('confluent-events-value', id, 'serialized');
    const files = createFileRegistry(fromBinary(FileDescriptorProtoSchema, Buffer.from(serialized.schema, 'base64')), () => undefined);
    const eventType = files.getMessage('acme.Event');
    if (eventType === undefined) throw new Error('the serialized descriptor has no acme.Event');
    const event = create(eventType, { name: 'boot', at: 42n, header: { source: 'test' } });
    const bytes = await new ProtobufSerializer(client, SerdeType.VALUE, { useLatestVersion: true, registry: createMutableRegistry(eventType) }).serialize('confluent-events', event);
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(id);
    // Message indexes, zigzag varints: a count of 1 (2), then index 1, the file's second message (2).
    expect([...bytes.subarray(5, 7)]).toEqual([2, 2]);
    const back = (await new ProtobufDeserializer(client, SerdeType.VALUE, {}).deserialize('confluent-events', bytes)) as { name: string; at: bigint; header?: { source: string } };
    expect({ name: back.name, at: back.at, source: back.header?.source }).toEqual({ name: 'boot', at: 42n, source: 'test' });
  });
});

describe('schema registry > messages through the Kafka listener', () => {
  it('produces records encoded by both clients with kafkajs and decodes what it reads back', async () => {
    const kafkaAddress = server.kafka;
    if (kafkaAddress === undefined) throw new Error('the dev server printed no Kafka address');
    const kafka = new Kafka({ brokers: [`${kafkaAddress.host}:${kafkaAddress.port}`], clientId: 'sr-e2e', logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const registry = kafkajsRegistry();
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(orderV1) }, { subject: 'orders-value' });
    const client = new SchemaRegistryClient({ baseURLs: [server.registryUrl], maxRetries: 0 });
    const confluentBytes = await new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true }).serialize('orders', { id: 2, item: 'ink' });

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'orders', messages: [{ value: await registry.encode(id, { id: 1, item: 'pen' }) }, { value: confluentBytes }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'sr-e2e-readers' });
    const seen: unknown[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.value !== null) seen.push(await registry.decode(message.value));
      },
    });
    try {
      await eventually(() => seen.length >= 2, 30_000, 100);
    } finally {
      await consumer.disconnect();
    }
    expect(seen).toEqual([
      { id: 1, item: 'pen' },
      { id: 2, item: 'ink' },
    ]);
  });
});
