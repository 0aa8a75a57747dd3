/**
 * Protobuf serdes (protobufjs) in Confluent's framing: after the schema id comes the
 * message-index path of the message type written (./wire-format.ts), so one registered .proto file
 * with several messages can carry any of them. The serializer writes [0] as the single byte 0x00,
 * as Confluent's serializers do; the deserializer reads both forms and decodes with the message
 * the path names in the schema the id names.
 *
 * Index paths count message types in declaration order: among the file's top-level messages, then
 * inside a message its map-entry types (one per map field, in field order, as a
 * FileDescriptorProto lists them) before its declared nested messages. This matches StreamBus's
 * registry and broker.
 *
 * The google/protobuf well-known types may be imported bare; imports of other registered subjects
 * (schema references) are not supported by these serdes.
 */
import protobuf from 'protobufjs';
import type { RegisteredSchema, SchemaRegistryClient } from './registry-client.js';
import { SchemaFormat } from './registry-client.js';
import { SchemaDeserializer, type SchemaReaderFactory, SchemaSerializer, type SchemaWriter, type SerializerOptions } from './schema-serde.js';
import { SerdeError, SerdeErrorCode } from './serde-error.js';
import { decodeMessageIndexes, encodeMessageIndexes } from './wire-format.js';

export interface ProtobufSerializerOptions extends SerializerOptions {
  /** The .proto file text. */
  readonly schema: string;
  /** The full name of the message type written (e.g. 'acme.Order'); default: the file's first top-level message. */
  readonly messageType?: string;
}

export interface ProtobufDeserializerOptions {
  /** How decoded messages become plain objects (protobufjs toObject options). Default: enums and 64-bit integers as strings, bytes as Buffer. */
  readonly toObject?: protobuf.IConversionOptions;
}

const DEFAULT_TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String };

interface LoadedFile {
  readonly root: protobuf.Root;
  /** The namespace of the file's package (the root when it has none). */
  readonly pkg: protobuf.Namespace;
}

function loadProto(text: string, what: string): LoadedFile {
  try {
    const parsed = protobuf.parse(text, new protobuf.Root(), { keepCase: true });
    for (const path of parsed.imports ?? []) {
      const known = protobuf.common.get(path);
      if (known === null) throw new Error(`import "${path}" is not a google/protobuf well-known type (schema references are not supported here)`);
      parsed.root.addJSON(known.nested ?? {});
    }
    parsed.root.resolveAll();
    const pkg = parsed.package === undefined ? parsed.root : parsed.root.lookup(parsed.package);
    if (!(pkg instanceof protobuf.Namespace)) throw new Error(`package ${String(parsed.package)} did not load`);
    return { root: parsed.root, pkg };
  } catch (cause) {
    throw new SerdeError(SerdeErrorCode.INVALID_SCHEMA, `${what} is not a valid .proto file: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The message types at one nesting level, as message indexes count them; undefined marks a map entry (not decodable on its own). */
function childrenOf(parent: protobuf.Namespace, topLevel: boolean): (protobuf.Type | undefined)[] {
  const messages = parent.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type);
  if (topLevel || !(parent instanceof protobuf.Type)) return messages;
  const mapEntries = parent.fieldsArray.filter((field) => field.map).map(() => undefined);
  return [...mapEntries, ...messages];
}

/** The message-index path of `type` in `file`. */
export function messageIndexesOf(file: LoadedFile, type: protobuf.Type): number[] {
  const path: number[] = [];
  let current: protobuf.Type = type;
  for (;;) {
    const parent = current.parent;
    if (parent === null) throw new SerdeError(SerdeErrorCode.INVALID_SCHEMA, `message ${current.fullName} is not in the schema's file`);
    const topLevel = parent === file.pkg;
    path.unshift(childrenOf(parent, topLevel).indexOf(current));
    if (topLevel) return path;
    if (!(parent instanceof protobuf.Type)) throw new SerdeError(SerdeErrorCode.INVALID_SCHEMA, `message ${type.fullName} is outside the file's package`);
    current = parent;
  }
}

/** The message type a message-index path names; throws SerdeError UNKNOWN_MESSAGE_INDEX. */
export function messageTypeAt(file: LoadedFile, indexes: readonly number[], schemaId: number): protobuf.Type {
  let parent: protobuf.Namespace = file.pkg;
  let found: protobuf.Type | undefined;
  for (const [depth, index] of indexes.entries()) {
    found = childrenOf(parent, depth === 0)[index];
    if (found === undefined) {
      throw new SerdeError(SerdeErrorCode.UNKNOWN_MESSAGE_INDEX, `message index path [${indexes.join(', ')}] names no message of schema ${schemaId}`, { context: { schemaId } });
    }
    parent = found;
  }
  if (found === undefined) throw new SerdeError(SerdeErrorCode.UNKNOWN_MESSAGE_INDEX, `empty message index path for schema ${schemaId}`, { context: { schemaId } });
  return found;
}

function protobufWriter<T extends object>(options: ProtobufSerializerOptions): SchemaWriter<T> {
  const file = loadProto(options.schema, 'the serializer schema');
  let type: protobuf.Type;
  if (options.messageType === undefined) {
    const first = childrenOf(file.pkg, true)[0];
    if (first === undefined) throw new SerdeError(SerdeErrorCode.INVALID_SCHEMA, 'the serializer schema declares no message');
    type = first;
  } else {
    const name = options.messageType.replace(/^\./, '');
    const found = file.root.lookup(name);
    if (!(found instanceof protobuf.Type)) throw new SerdeError(SerdeErrorCode.INVALID_CONFIG, `message type '${name}' is not in the serializer schema`);
    type = found;
  }
  return {
    input: { schemaType: SchemaFormat.PROTOBUF, schema: options.schema },
    recordName: type.fullName.replace(/^\./, ''),
    prefix: encodeMessageIndexes(messageIndexesOf(file, type)),
    encode(value: T): Uint8Array {
      const problem = type.verify(value);
      if (problem !== null) throw new SerdeError(SerdeErrorCode.INVALID_PAYLOAD, `the value does not match message ${type.fullName.replace(/^\./, '')}: ${problem}`);
      return type.encode(type.fromObject(value)).finish();
    },
  };
}

/** Writes plain objects as one message type of a .proto file, registered under the subject the strategy gives. */
export class ProtobufSerializer<T extends object = Record<string, unknown>> extends SchemaSerializer<T> {
  /** Throws SerdeError INVALID_SCHEMA when the file does not parse, INVALID_CONFIG for an unknown messageType. */
  constructor(registry: SchemaRegistryClient, options: ProtobufSerializerOptions) {
    super(registry, protobufWriter<T>(options), options);
  }
}

/** Reads Protobuf messages of any registered schema into plain objects. */
export class ProtobufDeserializer<T extends object = Record<string, unknown>> extends SchemaDeserializer<T> {
  constructor(registry: SchemaRegistryClient, options: ProtobufDeserializerOptions = {}) {
    const toObject = options.toObject ?? DEFAULT_TO_OBJECT;
    const factory: SchemaReaderFactory<T> = {
      schemaType: SchemaFormat.PROTOBUF,
      reader: (registered: RegisteredSchema) => {
        const file = loadProto(registered.schema, `schema ${registered.id}`);
        const types = new Map<string, protobuf.Type>();
        return (payload) => {
          const { indexes, message } = decodeMessageIndexes(payload);
          const key = indexes.join('.');
          let type = types.get(key);
          if (type === undefined) {
            type = messageTypeAt(file, indexes, registered.id);
            types.set(key, type);
          }
          return type.toObject(type.decode(message), toObject) as T;
        };
      },
    };
    super(registry, factory);
  }
}
