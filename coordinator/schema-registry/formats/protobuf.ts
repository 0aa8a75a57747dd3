/**
 * The Protobuf format: a schema is one .proto file (as text, or as a base64 serialized
 * FileDescriptorProto), its imports resolved from its references and the built-in files.
 *
 * Identity is the canonical .proto text our printer writes (protobuf-model.ts), so a schema
 * registered as text and the same schema registered as a descriptor get one id. The record name
 * (RecordNameStrategy) is the first message's full name, as in Confluent's registry.
 *
 * Also here, for the REST API and the wire format: printing a schema as a serialized descriptor
 * (`?format=serialized`) and the message-index path of a message type (the array Confluent's
 * framing writes between the schema id and a Protobuf payload) and back.
 */
import { decodeFileDescriptor, encodeFileDescriptor, looksLikeSerializedDescriptor, mapEntryName } from './protobuf-descriptor.js';
import { diffProtobuf } from './protobuf-diff.js';
import type { ProtoUniverse } from './protobuf-diff.js';
import { printProtoFile, withCanonicalTypeNames } from './protobuf-model.js';
import type { ProtoFile, ProtoMessage } from './protobuf-model.js';
import { loadProto } from './protobuf-reflect.js';
import type { LoadedProto, ProtoSource } from './protobuf-reflect.js';
import { InvalidSchemaError, SchemaType } from './types.js';
import type { CompatibilityProblem, ParsedSchema, ResolvedReference, SchemaFormat } from './types.js';

const loadedSchemas = new WeakMap<ParsedSchema, LoadedProto>();

/** Parses a Protobuf schema (text or base64 descriptor); references are named by import path. */
export function parseProtobuf(schema: string, references: readonly ResolvedReference[]): ParsedSchema {
  const loaded = loadProto({ path: '', text: protoText(schema), dependencies: references.map(toSource) });
  const parsed: ParsedSchema = {
    schemaType: SchemaType.PROTOBUF,
    canonical: printProtoFile(withCanonicalTypeNames(loaded.file)),
    recordName: loaded.file.messages[0]?.fullName,
    references,
  };
  loadedSchemas.set(parsed, loaded);
  return parsed;
}

/** Every problem reading data written with `writer` through `reader`. */
export function protobufCompatibility(reader: ParsedSchema, writer: ParsedSchema): CompatibilityProblem[] {
  return diffProtobuf(universeOf(writer), universeOf(reader));
}

/** The schema as a base64 serialized FileDescriptorProto, for `?format=serialized`. */
export function protobufToSerialized(parsed: ParsedSchema, fileName = 'schema.proto'): string {
  return encodeFileDescriptor(universeOf(parsed).file, fileName);
}

/** The .proto text of a base64 serialized FileDescriptorProto; .proto text is returned as given. */
export function protobufSerializedToText(schema: string): string {
  return protoText(schema);
}

/**
 * The message-index path of a message type: its position among the file's top-level messages,
 * then among its parent's nested messages, and so on ([0] is the first top-level message).
 * Nested positions count as a FileDescriptorProto does: a message's map-entry types first (in
 * field order), then its declared nested messages. Undefined when the file has no such message.
 */
export function protobufMessageIndexes(parsed: ParsedSchema, fullName: string): number[] | undefined {
  const name = fullName.replace(/^\./, '');
  const search = (children: readonly DescriptorChild[], path: number[]): number[] | undefined => {
    for (const [index, child] of children.entries()) {
      const here = [...path, index];
      if (child.fullName === name) return here;
      if (child.message !== undefined && name.startsWith(`${child.fullName}.`)) {
        const found = search(descriptorChildren(child.message), here);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  return search(topLevel(universeOf(parsed).file), []);
}

/**
 * The full name of the message at a message-index path; undefined when the path leads nowhere.
 * An empty path means [0], as the wire format's single 0x00 byte does.
 */
export function protobufMessageName(parsed: ParsedSchema, indexes: readonly number[]): string | undefined {
  let children = topLevel(universeOf(parsed).file);
  let found: DescriptorChild | undefined;
  for (const index of indexes.length === 0 ? [0] : indexes) {
    found = children[index];
    if (found === undefined) return undefined;
    children = found.message === undefined ? [] : descriptorChildren(found.message);
  }
  return found?.fullName;
}

/** The loaded file of a parsed schema (re-parsed from its canonical text if it came from elsewhere). */
function universeOf(parsed: ParsedSchema): ProtoUniverse {
  const known = loadedSchemas.get(parsed);
  if (known !== undefined) return known;
  const reparsed = parseProtobuf(parsed.canonical, parsed.references);
  const loaded = loadedSchemas.get(reparsed);
  if (loaded === undefined) throw new Error('parseProtobuf did not record the loaded file');
  loadedSchemas.set(parsed, loaded);
  return loaded;
}

function protoText(schema: string): string {
  return looksLikeSerializedDescriptor(schema) ? printProtoFile(withCanonicalTypeNames(decodeFileDescriptor(schema))) : schema;
}

function toSource(reference: ResolvedReference): ProtoSource {
  if (reference.schemaType !== SchemaType.PROTOBUF) {
    throw new InvalidSchemaError(`reference "${reference.name}" is a ${reference.schemaType} schema, not Protobuf`);
  }
  return { path: reference.name, text: protoText(reference.schema), dependencies: reference.references.map(toSource) };
}

/** A message type as FileDescriptorProto nesting sees it: declared messages, or map entries. */
interface DescriptorChild {
  readonly fullName: string;
  readonly message: ProtoMessage | undefined;
}

function topLevel(file: ProtoFile): DescriptorChild[] {
  return file.messages.map((message) => ({ fullName: message.fullName, message }));
}

function descriptorChildren(message: ProtoMessage): DescriptorChild[] {
  const entries = message.fields
    .filter((field) => field.kind === 'map')
    .map((field) => ({ fullName: `${message.fullName}.${mapEntryName(field.name)}`, message: undefined }));
  return [...entries, ...message.messages.map((nested) => ({ fullName: nested.fullName, message: nested }))];
}

export const protobufFormat: SchemaFormat = {
  schemaType: SchemaType.PROTOBUF,
  parse: parseProtobuf,
  compatibility: protobufCompatibility,
};
