/**
 * Avro serdes (avsc): values are checked against the writer's schema before any registry call
 * (so a bad record costs no HTTP and names the offending field), encoded in Avro binary, and read
 * back with the schema the id names, or resolved into a reader schema the caller gives (Avro
 * schema evolution: defaults fill fields the writer lacked, promotions such as int → long apply).
 *
 * Schemas that reference other subjects' named types are not supported by these serdes: the
 * schema must be self-contained (nested named types are fine).
 */
import avsc from 'avsc';
import type { Schema, Type } from 'avsc';
import type { RegisteredSchema, SchemaRegistryClient } from './registry-client.js';
import { SchemaFormat } from './registry-client.js';
import { SchemaDeserializer, type SchemaReaderFactory, SchemaSerializer, type SchemaWriter, type SerializerOptions } from './schema-serde.js';
import { SerdeError, SerdeErrorCode } from './serde-error.js';

export interface AvroSerializerOptions extends SerializerOptions {
  /** The writer schema: Avro JSON text, or the parsed object. */
  readonly schema: string | object;
}

export interface AvroDeserializerOptions {
  /** Decode into this schema (resolving from the writer's); default: the writer's schema as is. */
  readonly readerSchema?: string | object;
}

function parseAvro(schema: string | object, what: string): { type: Type; text: string } {
  let json: unknown;
  try {
    json = typeof schema === 'string' ? (JSON.parse(schema) as unknown) : schema;
    return { type: avsc.Type.forSchema(json as Schema), text: typeof schema === 'string' ? schema : JSON.stringify(schema) };
  } catch (cause) {
    throw new SerdeError(SerdeErrorCode.INVALID_SCHEMA, `${what} is not a valid Avro schema: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The full name of a named Avro type (record, enum, fixed); undefined for primitives and unions. */
function recordNameOf(type: Type): string | undefined {
  return type.name ?? undefined;
}

function avroWriter<T>(schema: string | object): SchemaWriter<T> {
  const { type, text } = parseAvro(schema, 'the serializer schema');
  return {
    input: { schemaType: SchemaFormat.AVRO, schema: text },
    recordName: recordNameOf(type),
    encode(value: T): Uint8Array {
      const problems: string[] = [];
      const valid = type.isValid(value, {
        errorHook: (path: string[], found: unknown, expected: Type) => {
          if (problems.length < 5) problems.push(`${path.length === 0 ? '(root)' : path.join('.')}: ${describe(found)} is not ${expected.typeName}`);
        },
      });
      if (!valid) throw new SerdeError(SerdeErrorCode.INVALID_PAYLOAD, `the value does not match the Avro schema ${recordNameOf(type) ?? type.typeName}: ${problems.join('; ')}`);
      return type.toBuffer(value);
    },
  };
}

function describe(value: unknown): string {
  if (value === undefined) return 'a missing value';
  const text = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value);
  return text === undefined ? typeof value : text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Writes values with one Avro schema, registered under the subject the strategy gives. */
export class AvroSerializer<T = unknown> extends SchemaSerializer<T> {
  /** Throws SerdeError INVALID_SCHEMA when the schema does not parse. */
  constructor(registry: SchemaRegistryClient, options: AvroSerializerOptions) {
    super(registry, avroWriter<T>(options.schema), options);
  }
}

/** Reads Avro values written with any registered schema (resolved into `readerSchema` when given). */
export class AvroDeserializer<T = unknown> extends SchemaDeserializer<T> {
  /** Throws SerdeError INVALID_SCHEMA when the reader schema does not parse. */
  constructor(registry: SchemaRegistryClient, options: AvroDeserializerOptions = {}) {
    const reader = options.readerSchema === undefined ? undefined : parseAvro(options.readerSchema, 'the reader schema').type;
    const factory: SchemaReaderFactory<T> = {
      schemaType: SchemaFormat.AVRO,
      reader: (registered: RegisteredSchema) => {
        const writer = parseAvro(registered.schema, `schema ${registered.id}`).type;
        if (reader === undefined) return (payload) => writer.fromBuffer(payload) as T;
        let resolver;
        try {
          resolver = reader.createResolver(writer);
        } catch (cause) {
          throw new SerdeError(SerdeErrorCode.INVALID_SCHEMA, `the reader schema cannot read data written with schema ${registered.id}: ${cause instanceof Error ? cause.message : String(cause)}`, {
            cause,
            context: { schemaId: registered.id },
          });
        }
        return (payload) => reader.fromBuffer(payload, resolver) as T;
      },
    };
    super(registry, factory);
  }
}
