/**
 * The serdes against a real registry: `streambus dev` (child process) serves the REST API, and
 * @kafkajs/confluent-schema-registry, a client no one here wrote, decodes what ours encodes.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../test/support/dev-server.js';
import { AvroDeserializer, AvroSerializer } from './avro.js';
import { JsonSchemaDeserializer, JsonSchemaSerializer } from './json-schema.js';
import { ProtobufDeserializer, ProtobufSerializer } from './protobuf.js';
import { SchemaFormat, SchemaRegistryClient } from './registry-client.js';
import { SerdeError, SerdeErrorCode } from './serde-error.js';
import { encodeFrame } from './wire-format.js';

let server: DevServer;
let registry: SchemaRegistryClient;

beforeAll(async () => {
  server = await startDevServer();
  registry = new SchemaRegistryClient({ url: server.registryUrl });
}, 60_000);

afterAll(async () => {
  await server?.dispose();
});

async function serdeError(promise: Promise<unknown>): Promise<SerdeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SerdeError);
    return error as SerdeError;
  }
  throw new Error('expected a SerdeError');
}

async function versionsOf(subject: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.registryUrl}/subjects/${encodeURIComponent(subject)}/versions`);
  return { status: response.status, body: await response.json() };
}

const orderV1 = { type: 'record', name: 'Order', namespace: 'com.acme', fields: [{ name: 'id', type: 'long' }, { name: 'item', type: 'string' }] };
const orderV2 = { ...orderV1, fields: [...orderV1.fields, { name: 'qty', type: 'int', default: 1 }] };

const ordersProto = `syntax = "proto3";
package acme;
import "google/protobuf/timestamp.proto";
message Order { int64 id = 1; string item = 2; google.protobuf.Timestamp at = 3; }
message Refund { int64 order_id = 1; double amount = 2; message Reason { string text = 1; } Reason reason = 3; }
`;

describe('serdes > Avro', () => {
  it('registers the schema under <topic>-value and round-trips a record in the wire format', async () => {
    const serializer = new AvroSerializer(registry, { schema: orderV1 });
    const bytes = await serializer.serialize('avro-orders', { id: 7, item: 'pen' });
    expect(bytes?.[0]).toBe(0);
    const id = bytes!.readInt32BE(1);
    expect(await versionsOf('avro-orders-value')).toEqual({ status: 200, body: [1] });
    expect(await new AvroDeserializer(registry).deserialize(bytes)).toEqual({ id: 7, item: 'pen' });
    // A client no one here wrote reads our frame.
    expect(await new SchemaRegistry({ host: server.registryUrl }).decode(bytes!)).toEqual({ id: 7, item: 'pen' });
    expect(await serializer.schemaId('avro-orders')).toBe(id);
  });

  it('resolves old records into a newer reader schema, filling defaults', async () => {
    const bytes = await new AvroSerializer(registry, { schema: orderV1 }).serialize('avro-evolve', { id: 1, item: 'cup' });
    const reader = new AvroDeserializer(registry, { readerSchema: orderV2 });
    expect(await reader.deserialize(bytes)).toEqual({ id: 1, item: 'cup', qty: 1 });
  });

  it('refuses a value that does not match the schema with INVALID_PAYLOAD naming the field, before registering anything', async () => {
    const error = await serdeError(new AvroSerializer(registry, { schema: orderV1 }).serialize('avro-bad', { id: 'seven', item: 'pen' }));
    expect(error.code).toBe(SerdeErrorCode.INVALID_PAYLOAD);
    expect(error.message).toContain('id');
    expect((await versionsOf('avro-bad-value')).status).toBe(404);
  });

  it('uses the record full name as subject under RecordNameStrategy', async () => {
    const serializer = new AvroSerializer(registry, { schema: orderV1, subjectNameStrategy: 'RecordNameStrategy' });
    expect(serializer.subject('anything')).toBe('com.acme.Order');
    await serializer.serialize('anything', { id: 1, item: 'x' });
    expect((await versionsOf('com.acme.Order')).status).toBe(200);
  });

  it('with autoRegister off, rejects an unknown subject with SUBJECT_NOT_FOUND and finds a registered schema', async () => {
    const lookupOnly = new AvroSerializer(registry, { schema: orderV1, autoRegister: false });
    expect((await serdeError(lookupOnly.serialize('avro-unregistered', { id: 1, item: 'x' }))).code).toBe(SerdeErrorCode.SUBJECT_NOT_FOUND);
    const id = await registry.register('avro-registered-value', { schemaType: SchemaFormat.AVRO, schema: JSON.stringify(orderV1) });
    expect(await lookupOnly.schemaId('avro-registered')).toBe(id);
  });

  it('refuses an incompatible schema under BACKWARD with INCOMPATIBLE_SCHEMA', async () => {
    await new AvroSerializer(registry, { schema: orderV1 }).serialize('avro-compat', { id: 1, item: 'x' });
    const breaking = { ...orderV1, fields: [...orderV1.fields, { name: 'required', type: 'string' }] };
    const error = await serdeError(new AvroSerializer(registry, { schema: breaking }).serialize('avro-compat', { id: 1, item: 'x', required: 'y' }));
    expect(error.code).toBe(SerdeErrorCode.INCOMPATIBLE_SCHEMA);
    expect(error.context.httpStatus).toBe(409);
  });
});

describe('serdes > Protobuf', () => {
  it('writes the first message with the 0x00 index shortcut and reads it back', async () => {
    const serializer = new ProtobufSerializer(registry, { schema: ordersProto });
    const bytes = await serializer.serialize('proto-orders', { id: 5, item: 'pen', at: { seconds: 10 } });
    expect(bytes![5]).toBe(0);
    const value = await new ProtobufDeserializer(registry).deserialize(bytes);
    expect(value).toEqual({ id: '5', item: 'pen', at: { seconds: '10' } });
  });

  it('writes the second message as index path 02 02 and reads it as that message', async () => {
    const serializer = new ProtobufSerializer(registry, { schema: ordersProto, messageType: 'acme.Refund', subjectNameStrategy: 'TopicRecordNameStrategy' });
    expect(serializer.subject('proto-refunds')).toBe('proto-refunds-acme.Refund');
    const bytes = await serializer.serialize('proto-refunds', { order_id: 5, amount: 2.5, reason: { text: 'broken' } });
    expect([...bytes!.subarray(5, 7)]).toEqual([2, 2]);
    expect(await new ProtobufDeserializer(registry).deserialize(bytes)).toEqual({ order_id: '5', amount: 2.5, reason: { text: 'broken' } });
  });

  it('reads a nested message named by a long index path', async () => {
    const id = await registry.register('proto-nested-value', { schemaType: SchemaFormat.PROTOBUF, schema: ordersProto });
    // [1, 0]: Refund.Reason; count 2, indexes 1 and 0, zig-zag encoded.
    const frame = encodeFrame(id, Buffer.from([0x0a, 0x02, 0x6f, 0x6b]), Uint8Array.of(4, 2, 0));
    expect(await new ProtobufDeserializer(registry).deserialize(frame)).toEqual({ text: 'ok' });
  });

  it('refuses an index path that names no message with UNKNOWN_MESSAGE_INDEX', async () => {
    const id = await registry.register('proto-nested-value', { schemaType: SchemaFormat.PROTOBUF, schema: ordersProto });
    const frame = encodeFrame(id, Buffer.alloc(0), Uint8Array.of(2, 10));
    expect((await serdeError(new ProtobufDeserializer(registry).deserialize(frame))).code).toBe(SerdeErrorCode.UNKNOWN_MESSAGE_INDEX);
  });

  it('refuses a value of the wrong shape with INVALID_PAYLOAD', async () => {
    const serializer = new ProtobufSerializer(registry, { schema: ordersProto });
    expect((await serdeError(serializer.serialize('proto-bad', { id: 'x'.repeat(3), item: 4 }))).code).toBe(SerdeErrorCode.INVALID_PAYLOAD);
  });

  it('refuses a .proto that does not parse with INVALID_SCHEMA', () => {
    expect(() => new ProtobufSerializer(registry, { schema: 'message {' })).toThrow(expect.objectContaining({ code: SerdeErrorCode.INVALID_SCHEMA }));
  });
});

describe('serdes > JSON Schema', () => {
  const person = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'acme.Person',
    type: 'object',
    properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } },
    required: ['name'],
  };

  it('validates, registers and round-trips a JSON value', async () => {
    const bytes = await new JsonSchemaSerializer(registry, { schema: person }).serialize('json-people', { name: 'Ada', age: 36 });
    expect(bytes!.subarray(5).toString()).toBe('{"name":"Ada","age":36}');
    expect(await new JsonSchemaDeserializer(registry, { validate: true }).deserialize(bytes)).toEqual({ name: 'Ada', age: 36 });
  });

  it('refuses a value the schema rejects with INVALID_PAYLOAD naming the problem', async () => {
    const error = await serdeError(new JsonSchemaSerializer(registry, { schema: person }).serialize('json-people', { age: -1 }));
    expect(error.code).toBe(SerdeErrorCode.INVALID_PAYLOAD);
    expect(error.message).toMatch(/name/);
  });

  it('uses the title as record name under RecordNameStrategy', () => {
    expect(new JsonSchemaSerializer(registry, { schema: person, subjectNameStrategy: 'RecordNameStrategy' }).subject('t')).toBe('acme.Person');
  });
});

describe('serdes > failures', () => {
  it('refuses bytes without the magic byte with UNKNOWN_MAGIC_BYTE', async () => {
    expect((await serdeError(new AvroDeserializer(registry).deserialize(Buffer.from('{"id":1}')))).code).toBe(SerdeErrorCode.UNKNOWN_MAGIC_BYTE);
  });

  it('refuses an id the registry does not have with SCHEMA_NOT_FOUND', async () => {
    const error = await serdeError(new AvroDeserializer(registry).deserialize(encodeFrame(999_999, Buffer.from([2]))));
    expect(error.code).toBe(SerdeErrorCode.SCHEMA_NOT_FOUND);
    expect(error.context.schemaId).toBe(999_999);
  });

  it('refuses a frame whose schema is of another format with WRONG_SCHEMA_TYPE', async () => {
    const bytes = await new JsonSchemaSerializer(registry, { schema: { type: 'object' } }).serialize('json-any', { a: 1 });
    expect((await serdeError(new AvroDeserializer(registry).deserialize(bytes))).code).toBe(SerdeErrorCode.WRONG_SCHEMA_TYPE);
  });

  it('refuses a payload that does not decode with the writer schema with INVALID_PAYLOAD', async () => {
    const id = await new AvroSerializer(registry, { schema: orderV1 }).schemaId('avro-orders');
    expect((await serdeError(new AvroDeserializer(registry).deserialize(encodeFrame(id, Buffer.from([0xff]))))).code).toBe(SerdeErrorCode.INVALID_PAYLOAD);
  });

  it('passes tombstones through both ways as null', async () => {
    expect(await new AvroSerializer(registry, { schema: orderV1 }).serialize('avro-orders', null)).toBeNull();
    expect(await new AvroDeserializer(registry).deserialize(null)).toBeNull();
  });

  it('reports a registry that does not answer as retriable REGISTRY_UNAVAILABLE', async () => {
    const nowhere = new SchemaRegistryClient({ url: 'http://127.0.0.1:1', requestTimeoutMs: 2000 });
    const error = await serdeError(nowhere.getSchema(1));
    expect(error.code).toBe(SerdeErrorCode.REGISTRY_UNAVAILABLE);
    expect(error.retriable).toBe(true);
  });

  it('refuses a registry url that is not http(s) with INVALID_CONFIG', () => {
    expect(() => new SchemaRegistryClient({ url: 'ftp://example' })).toThrow(expect.objectContaining({ code: SerdeErrorCode.INVALID_CONFIG }));
  });
});
