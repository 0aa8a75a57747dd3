/**
 * JSON Schema serdes (ajv): the serializer validates every value against the schema before it
 * writes it (UTF-8 JSON text after the header), so a topic under schema never receives a record
 * its consumers' schema rejects; the deserializer parses the JSON and, when asked, validates it
 * against the schema the id names.
 *
 * The draft is chosen by `$schema` (draft-04, draft-07 the default, 2019-09, 2020-12) and ajv runs
 * with strict mode off, because schemas written for Confluent's registry carry keywords ajv's strict
 * mode refuses (`connect.type`, `javaType`). The record name (RecordNameStrategy) is the `title`.
 */
import { Ajv, type AnySchema, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import type { RegisteredSchema, SchemaRegistryClient } from './registry-client.js';
import { SchemaFormat } from './registry-client.js';
import { SchemaDeserializer, type SchemaReaderFactory, SchemaSerializer, type SchemaWriter, type SerializerOptions } from './schema-serde.js';
import { SerdeError, SerdeErrorCode } from './serde-error.js';

export interface JsonSchemaSerializerOptions extends SerializerOptions {
  /** The JSON Schema: text, or the parsed object. */
  readonly schema: string | object;
}

export interface JsonSchemaDeserializerOptions {
  /** Validate each decoded value against the writer's schema. Default false (the producer validated it). */
  readonly validate?: boolean;
}

const AJV_OPTIONS: Options = { strict: false, allErrors: false, logger: false };

function compile(schema: string | object, what: string): { validate: ValidateFunction; text: string; title: string | undefined } {
  try {
    const json = (typeof schema === 'string' ? JSON.parse(schema) : schema) as unknown;
    if (typeof json !== 'object' && typeof json !== 'boolean') throw new Error('a JSON Schema is an object or a boolean');
    const declared = typeof json === 'object' && json !== null ? (json as { $schema?: unknown; title?: unknown }) : {};
    const ajv = ajvFor(typeof declared.$schema === 'string' ? declared.$schema : '');
    addFormatsModule.default(ajv);
    return {
      validate: ajv.compile(json as AnySchema),
      text: typeof schema === 'string' ? schema : JSON.stringify(schema),
      title: typeof declared.title === 'string' ? declared.title : undefined,
    };
  } catch (cause) {
    throw new SerdeError(SerdeErrorCode.INVALID_SCHEMA, `${what} is not a valid JSON Schema: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

function ajvFor(dialect: string): Ajv {
  if (dialect.includes('draft-04')) return new AjvDraft04Module.default(AJV_OPTIONS);
  if (dialect.includes('2019-09')) return new Ajv2019(AJV_OPTIONS);
  if (dialect.includes('2020-12')) return new Ajv2020(AJV_OPTIONS);
  return new Ajv(AJV_OPTIONS);
}

function problems(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath === '' ? '(root)' : e.instancePath} ${e.message ?? 'is invalid'}`)
    .join('; ');
}

function jsonWriter<T>(schema: string | object): SchemaWriter<T> {
  const { validate, text, title } = compile(schema, 'the serializer schema');
  return {
    input: { schemaType: SchemaFormat.JSON, schema: text },
    recordName: title,
    encode(value: T): Uint8Array {
      if (!validate(value)) throw new SerdeError(SerdeErrorCode.INVALID_PAYLOAD, `the value does not match the JSON Schema${title === undefined ? '' : ` '${title}'`}: ${problems(validate)}`);
      return Buffer.from(JSON.stringify(value), 'utf8');
    },
  };
}

/** Writes values as JSON after validating them against one JSON Schema, registered under the subject the strategy gives. */
export class JsonSchemaSerializer<T = unknown> extends SchemaSerializer<T> {
  /** Throws SerdeError INVALID_SCHEMA when the schema does not compile. */
  constructor(registry: SchemaRegistryClient, options: JsonSchemaSerializerOptions) {
    super(registry, jsonWriter<T>(options.schema), options);
  }
}

/** Reads JSON values written with any registered JSON Schema. */
export class JsonSchemaDeserializer<T = unknown> extends SchemaDeserializer<T> {
  constructor(registry: SchemaRegistryClient, options: JsonSchemaDeserializerOptions = {}) {
    const factory: SchemaReaderFactory<T> = {
      schemaType: SchemaFormat.JSON,
      reader: (registered: RegisteredSchema) => {
        const validate = options.validate === true ? compile(registered.schema, `schema ${registered.id}`).validate : undefined;
        return (payload) => {
          const value = JSON.parse(payload.toString('utf8')) as unknown;
          if (validate !== undefined && !validate(value)) {
            throw new SerdeError(SerdeErrorCode.INVALID_PAYLOAD, `the value does not match schema ${registered.id}: ${problems(validate)}`, { context: { schemaId: registered.id } });
          }
          return value as T;
        };
      },
    };
    super(registry, factory);
  }
}
