/**
 * The Kafka codec's interpreter: reads and writes any message described in ./schema.ts, in any of
 * its versions. Classic versions use int16-length strings and int32-length bytes and arrays (-1 for
 * null); flexible versions use compact forms (an unsigned varint of N+1, 0 for null) and end every
 * struct with a tagged-field section. StreamBus declares no tagged fields: the decoder skips any
 * it receives and the encoder writes empty sections.
 *
 * The decoder refuses input that does not fit the schema (a length past the end, null where null
 * is not allowed, bytes left over) with StreamBusError(MALFORMED_FRAME); it never allocates more
 * objects than the input has bytes. Decoded `bytes` and `records` are views into the input.
 *
 * Pure: no node:* imports, no clock, no randomness.
 */
import { KafkaReader } from './reader.js';
import { KafkaWriter } from './writer.js';
import { hasField, isFlexible, isNullable, type Decoded, type Encodable, type Field, type FieldType, type MessageSchema, type RecordsInput } from './schema.js';

const EMPTY = Buffer.alloc(0);

/** Decodes a whole message body; trailing bytes are refused. */
export function decodeMessage<S extends MessageSchema>(schema: S, version: number, body: Buffer, start = 0): Decoded<S> {
  const reader = new KafkaReader(body, `${schema.name} v${version}`, start);
  const value = decodeStruct(reader, schema.fields, version, isFlexible(schema, version));
  reader.expectEnd();
  return value as Decoded<S>;
}

/** Encodes a message body into `writer`. */
export function encodeMessage<S extends MessageSchema>(schema: S, version: number, value: Encodable<S>, writer: KafkaWriter): void {
  encodeStruct(writer, schema.fields, version, isFlexible(schema, version), value, schema.name);
}

/** Encodes a message body on its own, as one Buffer (tests and tools). */
export function encodeMessageBuffer<S extends MessageSchema>(schema: S, version: number, value: Encodable<S>): Buffer {
  const writer = new KafkaWriter();
  encodeMessage(schema, version, value, writer);
  return writer.finishBuffer();
}

// ---- decoding

function decodeStruct(reader: KafkaReader, fields: readonly Field[], version: number, flexible: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    out[field.name] = hasField(field, version)
      ? decodeValue(reader, field.type, field.name, version, flexible, isNullable(field, version))
      : defaultOf(field.type, field.default);
  }
  if (flexible) reader.skipTaggedFields('tagged fields');
  return out;
}

function decodeValue(reader: KafkaReader, type: FieldType, name: string, version: number, flexible: boolean, nullable: boolean): unknown {
  switch (type) {
    case 'bool':
      return reader.bool(name);
    case 'int8':
      return reader.int8(name);
    case 'int16':
      return reader.int16(name);
    case 'int32':
      return reader.int32(name);
    case 'int64':
      return reader.int64(name);
    case 'string':
      return reader.string(name, flexible, nullable);
    case 'bytes':
    case 'records':
      return reader.bytes(name, flexible, nullable);
    default:
      break;
  }
  if ('array' in type) {
    const count = reader.arrayLength(name, flexible, nullable);
    if (count < 0) return null;
    const items: unknown[] = [];
    for (let i = 0; i < count; i++) items.push(decodeValue(reader, type.array, name, version, flexible, false));
    return items;
  }
  return decodeStruct(reader, type.struct, version, flexible);
}

function defaultOf(type: FieldType, given: Field['default']): unknown {
  if (given !== undefined) return given;
  switch (type) {
    case 'bool':
      return false;
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
      return 0;
    case 'string':
      return '';
    case 'bytes':
    case 'records':
      return EMPTY;
    default:
      break;
  }
  if ('array' in type) return [];
  const out: Record<string, unknown> = {};
  for (const field of type.struct) out[field.name] = defaultOf(field.type, field.default);
  return out;
}

// ---- encoding

function encodeStruct(
  writer: KafkaWriter,
  fields: readonly Field[],
  version: number,
  flexible: boolean,
  value: Readonly<Record<string, unknown>>,
  where: string,
): void {
  for (const field of fields) {
    if (!hasField(field, version)) continue;
    encodeValue(writer, field.type, value[field.name], version, flexible, isNullable(field, version), `${where}.${field.name}`);
  }
  if (flexible) writer.emptyTaggedFields();
}

function encodeValue(writer: KafkaWriter, type: FieldType, value: unknown, version: number, flexible: boolean, nullable: boolean, where: string): void {
  if (value === null && nullable && (typeof type === 'string' || 'array' in type)) {
    writer.lengthPrefix(-1, flexible ? 'compact' : type === 'string' ? 'int16' : 'int32');
    return;
  }
  if (value === null || value === undefined) throw new RangeError(`${where}: ${String(value)} in a field that cannot be null in v${version}`);
  switch (type) {
    case 'bool':
      writer.bool(expect(value, 'boolean', where));
      return;
    case 'int8':
      writer.int8(expect(value, 'number', where));
      return;
    case 'int16':
      writer.int16(expect(value, 'number', where));
      return;
    case 'int32':
      writer.int32(expect(value, 'number', where));
      return;
    case 'int64':
      writer.int64(expect(value, 'number', where));
      return;
    case 'string':
      writer.string(expect(value, 'string', where), flexible);
      return;
    case 'bytes':
      if (!(value instanceof Uint8Array)) throw new RangeError(`${where}: expected bytes`);
      writer.bytes(value, flexible);
      return;
    case 'records':
      writer.records(value as RecordsInput, flexible);
      return;
    default:
      break;
  }
  if ('array' in type) {
    if (!Array.isArray(value)) throw new RangeError(`${where}: expected an array`);
    writer.lengthPrefix(value.length, flexible ? 'compact' : 'int32');
    for (const item of value as unknown[]) encodeValue(writer, type.array, item, version, flexible, false, where);
    return;
  }
  encodeStruct(writer, type.struct, version, flexible, value as Readonly<Record<string, unknown>>, where);
}

function expect<T extends 'boolean' | 'number' | 'string'>(value: unknown, kind: T, where: string): T extends 'boolean' ? boolean : T extends 'number' ? number : string {
  if (typeof value !== kind) throw new RangeError(`${where}: expected a ${kind}, got ${typeof value}`);
  return value as T extends 'boolean' ? boolean : T extends 'number' ? number : string;
}
