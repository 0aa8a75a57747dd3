/**
 * What the three formats' serializers and deserializers share: subject naming, registering or
 * looking up the writer's schema id, framing (./wire-format.ts), and per-id caches of parsed
 * schemas. Each format supplies only how to check and encode a value and how to decode a payload
 * (./avro.ts, ./protobuf.ts, ./json-schema.ts).
 *
 * A serializer resolves its schema id once per subject and remembers it, so after the first record
 * of a topic serializing costs the encoding and one 5-byte header, with no registry call. Null
 * (a tombstone) stays null: deleting a key needs no schema.
 */
import { BoundedCache } from './bounded-cache.js';
import type { RegisteredSchema, RegistryCallOptions, SchemaFormat, SchemaInput, SchemaRegistryClient } from './registry-client.js';
import { SerdeError, SerdeErrorCode } from './serde-error.js';
import { type SubjectNameStrategy, subjectName } from './subject-name.js';
import { decodeFrame, encodeFrame } from './wire-format.js';

/** Parsed schemas kept per deserializer. */
const PARSED_CACHE_CAPACITY = 1000;
/** Subjects whose id a serializer remembers. */
const SUBJECT_CACHE_CAPACITY = 1000;

export interface SerializerOptions {
  /** Register the schema on first use (POST /subjects/{s}/versions); false: only look its id up. Default true, as Confluent's serializers. */
  readonly autoRegister?: boolean;
  /** Default 'TopicNameStrategy'. */
  readonly subjectNameStrategy?: SubjectNameStrategy;
  /** Whether this serializer writes record keys (subject `<topic>-key`). Default false (values). */
  readonly isKey?: boolean;
}

/** What a format gives the shared serializer: its schema as registered, and the encoding. */
export interface SchemaWriter<T> {
  readonly input: SchemaInput;
  readonly recordName: string | undefined;
  /** The bytes between the header and the payload (Protobuf's message indexes); none for the others. */
  readonly prefix?: Uint8Array;
  /** Checks and encodes a value; throws SerdeError INVALID_PAYLOAD when it does not match the schema. */
  encode(value: T): Uint8Array;
}

export class SchemaSerializer<T> {
  readonly #registry: SchemaRegistryClient;
  readonly #writer: SchemaWriter<T>;
  readonly #autoRegister: boolean;
  readonly #strategy: SubjectNameStrategy;
  readonly #isKey: boolean;
  readonly #ids = new BoundedCache<string, number>(SUBJECT_CACHE_CAPACITY);

  protected constructor(registry: SchemaRegistryClient, writer: SchemaWriter<T>, options: SerializerOptions) {
    this.#registry = registry;
    this.#writer = writer;
    this.#autoRegister = options.autoRegister ?? true;
    this.#strategy = options.subjectNameStrategy ?? 'TopicNameStrategy';
    this.#isKey = options.isKey ?? false;
  }

  /** The subject this serializer's records of `topic` are registered under. */
  subject(topic: string): string {
    return subjectName(this.#strategy, topic, this.#isKey, this.#writer.recordName);
  }

  /**
   * The framed bytes of `value` for `topic`: magic byte, schema id, payload. Null stays null.
   * Rejects with SerdeError INVALID_PAYLOAD (the value does not match the schema, checked before
   * any registry call), SCHEMA_NOT_FOUND / SUBJECT_NOT_FOUND (autoRegister off and the schema is
   * not registered), INCOMPATIBLE_SCHEMA, or REGISTRY_UNAVAILABLE.
   */
  async serialize(topic: string, value: T | null, options: RegistryCallOptions = {}): Promise<Buffer | null> {
    if (value === null) return null;
    const payload = this.#writer.encode(value);
    const id = await this.schemaId(topic, options);
    return encodeFrame(id, payload, this.#writer.prefix);
  }

  /** The schema id records of `topic` are written with (registered or looked up on first use). */
  schemaId(topic: string, options: RegistryCallOptions = {}): Promise<number> {
    const subject = this.subject(topic);
    const known = this.#ids.get(subject);
    if (known !== undefined) return Promise.resolve(known);
    return this.#ids.getOrLoad(subject, () =>
      this.#autoRegister ? this.#registry.register(subject, this.#writer.input, options) : this.#registry.lookupId(subject, this.#writer.input, options),
    );
  }
}

/** What a format gives the shared deserializer: a reader per writer schema. */
export interface SchemaReaderFactory<T> {
  readonly schemaType: SchemaFormat;
  /** Parses a writer schema fetched from the registry; throws SerdeError INVALID_SCHEMA. */
  reader(schema: RegisteredSchema): (payload: Buffer) => T;
}

export class SchemaDeserializer<T> {
  readonly #registry: SchemaRegistryClient;
  readonly #factory: SchemaReaderFactory<T>;
  readonly #readers = new BoundedCache<number, (payload: Buffer) => T>(PARSED_CACHE_CAPACITY);

  protected constructor(registry: SchemaRegistryClient, factory: SchemaReaderFactory<T>) {
    this.#registry = registry;
    this.#factory = factory;
  }

  /**
   * The value framed in `bytes` (null stays null). Rejects with SerdeError UNKNOWN_MAGIC_BYTE,
   * SCHEMA_NOT_FOUND (the id is not in the registry), WRONG_SCHEMA_TYPE, INVALID_PAYLOAD (the
   * payload does not decode with the writer's schema) or REGISTRY_UNAVAILABLE.
   */
  async deserialize(bytes: Uint8Array | null, options: RegistryCallOptions = {}): Promise<T | null> {
    if (bytes === null) return null;
    const { schemaId, payload } = decodeFrame(bytes);
    const read = this.#readers.get(schemaId) ?? (await this.#readers.getOrLoad(schemaId, () => this.#load(schemaId, options)));
    return read(payload);
  }

  async #load(schemaId: number, options: RegistryCallOptions): Promise<(payload: Buffer) => T> {
    const schema = await this.#registry.getSchema(schemaId, options);
    if (schema.schemaType !== this.#factory.schemaType) {
      throw new SerdeError(SerdeErrorCode.WRONG_SCHEMA_TYPE, `schema ${schemaId} is ${schema.schemaType}, not ${this.#factory.schemaType}`, { context: { schemaId } });
    }
    const read = this.#factory.reader(schema);
    return (payload) => {
      try {
        return read(payload);
      } catch (error) {
        if (error instanceof SerdeError) throw error;
        throw new SerdeError(SerdeErrorCode.INVALID_PAYLOAD, `the payload does not decode with schema ${schemaId}: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
          context: { schemaId },
        });
      }
    };
  }
}
