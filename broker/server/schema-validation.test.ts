import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { encodeRecordBatch, type RecordInput } from '../../proto/record-batch/index.js';
import { SchemaStore, resolveTopicConfig, type SchemaCommand } from '../../coordinator/index.js';
import { checkSchemaIds, readMessageIndexes, schemaValidationOf, storeSchemaIdLookup, type SchemaValidation } from './schema-validation.js';

const orderAvro = JSON.stringify({ type: 'record', name: 'Order', namespace: 'acme', fields: [{ name: 'id', type: 'long' }] });
const proto = 'syntax = "proto3";\npackage acme;\nmessage Order { int64 id = 1; }\nmessage Refund { int64 id = 1; }\n';

/** A store as the metadata has it: Order (id 1) under orders-value and acme.Order, Refund proto (id 2) under acme.Refund, id 3 soft-deleted. */
function store(): SchemaStore {
  const s = SchemaStore.empty();
  const register = (subject: string, version: number, id: number, schemaType: 'AVRO' | 'PROTOBUF', schema: string): SchemaCommand =>
    ({ type: 'schema-register', subject, version, id, schemaType, schema, canonical: schema, references: [] });
  s.apply(register('orders-value', 1, 1, 'AVRO', orderAvro));
  s.apply(register('acme.Order', 1, 1, 'AVRO', orderAvro));
  s.apply(register('acme.Refund', 1, 2, 'PROTOBUF', proto));
  s.apply(register('old-value', 1, 3, 'AVRO', JSON.stringify({ type: 'record', name: 'Old', fields: [] })));
  s.apply({ type: 'schema-delete-versions', subject: 'old-value', versions: [1], permanent: false });
  return s;
}

const registry = store();
const lookup = storeSchemaIdLookup(() => registry);

function framed(id: number, payload: number[] = [2]): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out.writeInt32BE(id, 1);
  Buffer.from(payload).copy(out, 5);
  return out;
}

async function check(records: RecordInput[], validation: SchemaValidation, topic = 'orders', compression: 'none' | 'gzip' = 'none'): Promise<void> {
  const batch = await encodeRecordBatch({ records, nowMs: 0, compression });
  await checkSchemaIds(batch, { topic, partition: 0, validation, lookup });
}

async function refusal(run: Promise<void>): Promise<StreamBusError> {
  try {
    await run;
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return error as StreamBusError;
  }
  throw new Error('expected the batch to be refused');
}

const values: SchemaValidation = { key: undefined, value: 'TopicNameStrategy' };

describe('schema-validation > checkSchemaIds', () => {
  it('accepts records whose id is registered under <topic>-value, and tombstones', async () => {
    await expect(check([{ value: framed(1) }, { key: 'k', value: null }, { value: framed(1) }], values)).resolves.toBeUndefined();
  });

  it('refuses a value without magic byte 0 with INVALID_RECORD naming the record', async () => {
    const error = await refusal(check([{ value: framed(1) }, { value: '{"id":1}' }], values));
    expect(error.code).toBe(ErrorCode.INVALID_RECORD);
    expect(error.message).toContain('record 1 of orders-0');
    expect(error.message).toContain('0x7b');
  });

  it('refuses a value too short to hold the header', async () => {
    expect((await refusal(check([{ value: Buffer.from([0, 0, 1]) }], values))).message).toContain('only 3 bytes');
  });

  it('refuses an id that is not registered at all', async () => {
    expect((await refusal(check([{ value: framed(42) }], values))).message).toContain('schema id 42, which is not registered');
  });

  it('refuses an id registered only under another subject, and says where it is', async () => {
    const error = await refusal(check([{ value: framed(2) }], values));
    expect(error.message).toContain("not registered under subject 'orders-value'");
    expect(error.message).toContain("'acme.Refund'");
  });

  it('refuses an id whose only version under the subject is soft-deleted', async () => {
    expect((await refusal(check([{ value: framed(3) }], values, 'old'))).message).toContain("subject 'old-value'");
  });

  it('checks records inside compressed batches', async () => {
    expect((await refusal(check([{ value: framed(1) }, { value: 'plain' }], values, 'orders', 'gzip'))).code).toBe(ErrorCode.INVALID_RECORD);
  });

  it('checks keys only when key validation is on, and lets null keys pass', async () => {
    const keys: SchemaValidation = { key: 'TopicNameStrategy', value: undefined };
    await expect(check([{ key: null, value: 'anything' }], keys)).resolves.toBeUndefined();
    expect((await refusal(check([{ key: framed(1), value: 'x' }], keys))).message).toContain("subject 'orders-key'");
    await expect(check([{ key: 'not framed', value: framed(1) }], values)).resolves.toBeUndefined();
  });

  it('names the subject after the record under RecordNameStrategy (Avro full name, Protobuf message at the index path)', async () => {
    const byRecord: SchemaValidation = { key: undefined, value: 'RecordNameStrategy' };
    await expect(check([{ value: framed(1) }], byRecord, 'any-topic')).resolves.toBeUndefined();
    // [1] (02 02) names acme.Refund, registered under acme.Refund.
    await expect(check([{ value: framed(2, [2, 2, 8, 1]) }], byRecord)).resolves.toBeUndefined();
    // [0] names acme.Order, under which id 2 is not registered.
    expect((await refusal(check([{ value: framed(2, [0, 8, 1]) }], byRecord))).message).toContain("subject 'acme.Order'");
  });

  it('refuses every record when the broker has no view of the registry', async () => {
    const batch = await encodeRecordBatch({ records: [{ value: framed(1) }], nowMs: 0 });
    const error = await refusal(checkSchemaIds(batch, { topic: 'orders', partition: 0, validation: values, lookup: undefined }));
    expect(error.message).toContain('no view of the schema registry');
  });
});

describe('schema-validation > topic configs', () => {
  it('is off unless a topic turns it on, and takes the strategy per part', () => {
    expect(schemaValidationOf(resolveTopicConfig({}))).toBeUndefined();
    expect(schemaValidationOf(resolveTopicConfig({ 'confluent.value.schema.validation': 'true', 'confluent.value.subject.name.strategy': 'io.confluent.kafka.serializers.subject.RecordNameStrategy' }))).toEqual({
      key: undefined,
      value: 'RecordNameStrategy',
    });
  });
});

describe('schema-validation > message indexes', () => {
  it('reads the 0x00 shortcut, long paths, and refuses truncated ones', () => {
    expect(readMessageIndexes(Buffer.from([0, 8]))).toEqual([0]);
    expect(readMessageIndexes(Buffer.from([4, 2, 0]))).toEqual([1, 0]);
    expect(readMessageIndexes(Buffer.from([4, 2]))).toBeUndefined();
  });
});
