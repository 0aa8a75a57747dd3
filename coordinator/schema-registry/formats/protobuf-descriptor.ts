/**
 * The other way to write a Protobuf schema: a base64 serialized FileDescriptorProto.
 *
 * Confluent's registry accepts it in place of .proto text and returns it for
 * `?format=serialized`; Confluent's own clients register and fetch schemas that way. This module
 * converts between that form and our ProtoFile model, so a schema registered either way has one
 * canonical .proto text (and therefore one id), and either form can be printed back.
 *
 * Shapes follow protoc's output: a map field is a repeated field of a nested `<Name>Entry`
 * message marked map_entry (entries come before the explicitly declared nested messages, which is
 * also how message indexes count them); a proto3 `optional` field sits in a synthetic oneof named
 * `_<field>` after the real oneofs. What the descriptor cannot carry is lost: comments, and
 * options that descriptor.proto does not define (custom options).
 */
import protobuf from 'protobufjs';
import { descriptorNamespace } from './protobuf-known.js';
import { FIELD_NUMBER_MAX, SCALAR_TYPES } from './protobuf-model.js';
import type {
  ProtoEnum, ProtoField, ProtoFile, ProtoLabel, ProtoMessage, ProtoOption, ProtoService,
} from './protobuf-model.js';
import { InvalidSchemaError } from './types.js';

// Plain-object shapes of the descriptor messages (protobufjs toObject with enums as strings).
interface OptionsObject { readonly [name: string]: unknown }
interface FieldDescriptor {
  name?: string; number?: number; label?: string; type?: string; typeName?: string; defaultValue?: string;
  oneofIndex?: number; jsonName?: string; options?: OptionsObject; proto3Optional?: boolean;
}
interface RangeDescriptor { start?: number; end?: number }
interface EnumDescriptor {
  name?: string; value?: { name?: string; number?: number; options?: OptionsObject }[];
  options?: OptionsObject; reservedRange?: RangeDescriptor[]; reservedName?: string[];
}
interface MessageDescriptor {
  name?: string; field?: FieldDescriptor[]; nestedType?: MessageDescriptor[]; enumType?: EnumDescriptor[];
  oneofDecl?: { name?: string; options?: OptionsObject }[]; options?: OptionsObject;
  reservedRange?: RangeDescriptor[]; reservedName?: string[];
}
interface MethodDescriptor {
  name?: string; inputType?: string; outputType?: string; clientStreaming?: boolean; serverStreaming?: boolean; options?: OptionsObject;
}
interface ServiceDescriptor { name?: string; method?: MethodDescriptor[]; options?: OptionsObject }
interface FileDescriptor {
  name?: string; package?: string; dependency?: string[]; messageType?: MessageDescriptor[]; enumType?: EnumDescriptor[];
  service?: ServiceDescriptor[]; options?: OptionsObject; syntax?: string; edition?: string;
}

const BASE64 = /^[A-Za-z0-9+/\r\n]+={0,2}\s*$/;

/** True when `schema` looks like base64 rather than .proto text (which always has spaces or punctuation). */
export function looksLikeSerializedDescriptor(schema: string): boolean {
  const trimmed = schema.trim();
  return trimmed.length > 0 && BASE64.test(trimmed);
}

/** Decodes a base64 FileDescriptorProto into our model; InvalidSchemaError when it is not one. */
export function decodeFileDescriptor(base64: string): ProtoFile {
  const text = base64.replace(/\s+/g, '');
  let object: FileDescriptor;
  try {
    const bytes = new Uint8Array(protobuf.util.base64.length(text));
    protobuf.util.base64.decode(text, bytes, 0);
    const type = descriptorType('FileDescriptorProto');
    object = type.toObject(type.decode(bytes), { enums: String, longs: Number, arrays: true });
  } catch (error) {
    throw new InvalidSchemaError(`not .proto text, and not a base64 FileDescriptorProto (${error instanceof Error ? error.message : String(error)})`);
  }
  if (object.edition !== undefined && object.edition !== '' && object.syntax === 'editions') {
    throw new InvalidSchemaError('editions are not supported; use syntax = "proto2" or "proto3"');
  }
  const syntax = object.syntax === 'proto3' ? 'proto3' : 'proto2';
  const pkg = object.package ?? '';
  const prefix = pkg === '' ? '' : `${pkg}.`;
  return {
    syntax,
    package: pkg,
    imports: object.dependency ?? [],
    options: optionsFrom(object.options),
    messages: (object.messageType ?? []).map((message) => messageFrom(message, prefix, syntax)),
    enums: (object.enumType ?? []).map((enumType) => enumFrom(enumType, prefix)),
    services: (object.service ?? []).map(serviceFrom),
  };
}

/** Encodes `file` as a base64 FileDescriptorProto named `name`. */
export function encodeFileDescriptor(file: ProtoFile, name: string): string {
  const object: FileDescriptor = {
    name,
    dependency: [...file.imports],
    messageType: file.messages.map((message) => messageTo(message, file.syntax)),
    enumType: file.enums.map(enumTo),
    service: file.services.map(serviceTo),
  };
  const options = optionsTo(file.options, 'FileOptions');
  if (options !== undefined) object.options = options;
  if (file.package !== '') object.package = file.package;
  if (file.syntax === 'proto3') object.syntax = 'proto3';
  const type = descriptorType('FileDescriptorProto');
  const bytes = type.encode(type.fromObject(object)).finish();
  return protobuf.util.base64.encode(bytes, 0, bytes.length);
}

function descriptorType(name: string): protobuf.Type {
  return descriptorNamespace().lookupType(name);
}

// ---------------------------------------------------------------------------------------------
// Descriptor → model

function messageFrom(message: MessageDescriptor, prefix: string, syntax: ProtoFile['syntax']): ProtoMessage {
  const name = message.name ?? '';
  const fullName = `${prefix}${name}`;
  const nested = message.nestedType ?? [];
  const entries = new Map<string, MessageDescriptor>();
  for (const candidate of nested) {
    if (candidate.options?.mapEntry === true) entries.set(`.${fullName}.${candidate.name ?? ''}`, candidate);
  }
  const oneofNames = (message.oneofDecl ?? []).map((oneof) => oneof.name ?? '');
  const syntheticOneofs = new Set<number>();
  for (const field of message.field ?? []) {
    if (field.proto3Optional === true && field.oneofIndex !== undefined) syntheticOneofs.add(field.oneofIndex);
  }
  return {
    name,
    fullName,
    fields: (message.field ?? []).map((field) => fieldFrom(field, entries, oneofNames, syntax)),
    oneofs: (message.oneofDecl ?? [])
      .filter((_, index) => !syntheticOneofs.has(index))
      .map((oneof) => ({ name: oneof.name ?? '', options: optionsFrom(oneof.options) })),
    messages: nested.filter((candidate) => candidate.options?.mapEntry !== true).map((candidate) => messageFrom(candidate, `${fullName}.`, syntax)),
    enums: (message.enumType ?? []).map((enumType) => enumFrom(enumType, `${fullName}.`)),
    reservedRanges: (message.reservedRange ?? []).map((range) => [range.start ?? 0, (range.end ?? 1) - 1] as const),
    reservedNames: message.reservedName ?? [],
    options: optionsFrom(message.options),
  };
}

function fieldFrom(field: FieldDescriptor, entries: ReadonlyMap<string, MessageDescriptor>, oneofNames: readonly string[], syntax: ProtoFile['syntax']): ProtoField {
  const name = field.name ?? '';
  const proto3Optional = field.proto3Optional === true;
  const oneof = !proto3Optional && field.oneofIndex !== undefined ? oneofNames[field.oneofIndex] : undefined;
  const options = optionsFrom(field.options);
  if (field.defaultValue !== undefined) options.push({ name: 'default', value: defaultFrom(field) });
  if (field.jsonName !== undefined && field.jsonName !== '' && field.jsonName !== jsonNameOf(name)) options.push({ name: 'json_name', value: field.jsonName });
  options.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entry = field.typeName === undefined ? undefined : entries.get(field.typeName);
  if (entry !== undefined && field.label === 'LABEL_REPEATED') {
    const key = entry.field?.find((candidate) => candidate.number === 1);
    const value = entry.field?.find((candidate) => candidate.number === 2);
    const valueType = typeFrom(value ?? {});
    return {
      name, number: field.number ?? 0, label: undefined, proto3Optional: false, kind: 'map',
      type: valueType.type, resolvedType: valueType.resolvedType, keyType: typeFrom(key ?? {}).type,
      valueKind: valueType.kind, oneof: undefined, options,
    };
  }
  const type = typeFrom(field);
  return {
    name, number: field.number ?? 0, label: labelFrom(field.label, syntax, proto3Optional, oneof), proto3Optional,
    kind: type.kind, type: type.type, resolvedType: type.resolvedType, keyType: undefined, valueKind: undefined, oneof, options,
  };
}

function typeFrom(field: FieldDescriptor): { type: string; resolvedType: string | undefined; kind: 'scalar' | 'enum' | 'message' } {
  const typeName = field.typeName ?? '';
  if (field.type === 'TYPE_ENUM') return { type: typeName, resolvedType: typeName.replace(/^\./, ''), kind: 'enum' };
  if (field.type === 'TYPE_MESSAGE' || field.type === 'TYPE_GROUP') return { type: typeName, resolvedType: typeName.replace(/^\./, ''), kind: 'message' };
  const scalar = (field.type ?? '').replace(/^TYPE_/, '').toLowerCase();
  if (!SCALAR_TYPES.has(scalar)) throw new InvalidSchemaError(`field '${field.name ?? ''}' has unknown type ${field.type ?? '(none)'}`);
  return { type: scalar, resolvedType: undefined, kind: 'scalar' };
}

function labelFrom(label: string | undefined, syntax: ProtoFile['syntax'], proto3Optional: boolean, oneof: string | undefined): ProtoLabel | undefined {
  if (label === 'LABEL_REPEATED') return 'repeated';
  if (label === 'LABEL_REQUIRED') return 'required';
  if (oneof !== undefined) return undefined;
  return proto3Optional || syntax === 'proto2' ? 'optional' : undefined;
}

function defaultFrom(field: FieldDescriptor): string | number | boolean {
  const text = field.defaultValue ?? '';
  if (field.type === 'TYPE_STRING' || field.type === 'TYPE_BYTES' || field.type === 'TYPE_ENUM') return text;
  if (text === 'true' || text === 'false') return text === 'true';
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}

function enumFrom(enumType: EnumDescriptor, prefix: string): ProtoEnum {
  const name = enumType.name ?? '';
  return {
    name,
    fullName: `${prefix}${name}`,
    values: (enumType.value ?? []).map((value) => ({ name: value.name ?? '', number: value.number ?? 0, options: optionsFrom(value.options) })),
    reservedRanges: (enumType.reservedRange ?? []).map((range) => [range.start ?? 0, range.end ?? 0] as const),
    reservedNames: enumType.reservedName ?? [],
    options: optionsFrom(enumType.options),
  };
}

function serviceFrom(service: ServiceDescriptor): ProtoService {
  return {
    name: service.name ?? '',
    methods: (service.method ?? []).map((method) => ({
      name: method.name ?? '',
      inputType: method.inputType ?? '',
      outputType: method.outputType ?? '',
      resolvedInputType: (method.inputType ?? '').replace(/^\./, ''),
      resolvedOutputType: (method.outputType ?? '').replace(/^\./, ''),
      clientStreaming: method.clientStreaming === true,
      serverStreaming: method.serverStreaming === true,
      options: optionsFrom(method.options),
    })),
    options: optionsFrom(service.options),
  };
}

/** Descriptor options use camelCase field names; .proto text uses the snake_case originals. */
function optionsFrom(options: OptionsObject | undefined): ProtoOption[] {
  if (options === undefined) return [];
  const list: ProtoOption[] = [];
  for (const key of Object.keys(options).sort()) {
    const value = options[key];
    if (key === 'mapEntry' || key === 'uninterpretedOption') continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      list.push({ name: key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`), value });
    }
  }
  return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Model → descriptor

function messageTo(message: ProtoMessage, syntax: ProtoFile['syntax']): MessageDescriptor {
  const realOneofs = message.oneofs.map((oneof) => oneof.name);
  const synthetic: string[] = [];
  const entries: MessageDescriptor[] = [];
  const fields = message.fields.map((field): FieldDescriptor => {
    const descriptor: FieldDescriptor = { name: field.name, number: field.number, jsonName: jsonNameOf(field.name) };
    const options = optionsTo(field.options.filter((option) => option.name !== 'default' && option.name !== 'json_name'), 'FieldOptions');
    if (options !== undefined) descriptor.options = options;
    const defaultOption = field.options.find((option) => option.name === 'default');
    if (defaultOption !== undefined) descriptor.defaultValue = String(defaultOption.value);
    const jsonOption = field.options.find((option) => option.name === 'json_name');
    if (jsonOption !== undefined) descriptor.jsonName = String(jsonOption.value);
    if (field.kind === 'map') {
      const entryName = mapEntryName(field.name);
      entries.push(mapEntry(entryName, field));
      return { ...descriptor, label: 'LABEL_REPEATED', type: 'TYPE_MESSAGE', typeName: `.${message.fullName}.${entryName}` };
    }
    Object.assign(descriptor, typeTo(field.kind, field.type, field.resolvedType));
    descriptor.label = field.label === 'repeated' ? 'LABEL_REPEATED' : field.label === 'required' ? 'LABEL_REQUIRED' : 'LABEL_OPTIONAL';
    if (field.oneof !== undefined) descriptor.oneofIndex = realOneofs.indexOf(field.oneof);
    if (field.proto3Optional) {
      descriptor.proto3Optional = true;
      descriptor.oneofIndex = realOneofs.length + synthetic.length;
      synthetic.push(`_${field.name}`);
    }
    return descriptor;
  });
  const descriptor: MessageDescriptor = {
    name: message.name,
    field: fields,
    nestedType: [...entries, ...message.messages.map((nested) => messageTo(nested, syntax))],
    enumType: message.enums.map(enumTo),
    oneofDecl: [
      ...message.oneofs.map((oneof) => withOptions({ name: oneof.name }, optionsTo(oneof.options, 'OneofOptions'))),
      ...synthetic.map((name) => ({ name })),
    ],
    reservedRange: message.reservedRanges.map(([from, to]) => ({ start: from, end: Math.min(to, FIELD_NUMBER_MAX) + 1 })),
    reservedName: [...message.reservedNames],
  };
  return withOptions(descriptor, optionsTo(message.options, 'MessageOptions'));
}

function mapEntry(name: string, field: ProtoField): MessageDescriptor {
  return {
    name,
    field: [
      { name: 'key', number: 1, label: 'LABEL_OPTIONAL', jsonName: 'key', ...typeTo('scalar', field.keyType ?? 'string', undefined) },
      { name: 'value', number: 2, label: 'LABEL_OPTIONAL', jsonName: 'value', ...typeTo(field.valueKind ?? 'scalar', field.type, field.resolvedType) },
    ],
    options: { mapEntry: true },
  };
}

function typeTo(kind: ProtoField['kind'], type: string, resolvedType: string | undefined): Pick<FieldDescriptor, 'type' | 'typeName'> {
  if (kind === 'enum') return { type: 'TYPE_ENUM', typeName: `.${resolvedType ?? type}` };
  if (kind === 'message' || kind === 'map') return { type: 'TYPE_MESSAGE', typeName: `.${resolvedType ?? type}` };
  return { type: `TYPE_${type.toUpperCase()}` };
}

function enumTo(enumType: ProtoEnum): EnumDescriptor {
  return withOptions(
    {
      name: enumType.name,
      value: enumType.values.map((value) => withOptions({ name: value.name, number: value.number }, optionsTo(value.options, 'EnumValueOptions'))),
      reservedRange: enumType.reservedRanges.map(([from, to]) => ({ start: from, end: to })),
      reservedName: [...enumType.reservedNames],
    },
    optionsTo(enumType.options, 'EnumOptions'),
  );
}

function serviceTo(service: ProtoService): ServiceDescriptor {
  return withOptions(
    {
      name: service.name,
      method: service.methods.map((method) =>
        withOptions(
          {
            name: method.name,
            inputType: `.${method.resolvedInputType}`,
            outputType: `.${method.resolvedOutputType}`,
            clientStreaming: method.clientStreaming,
            serverStreaming: method.serverStreaming,
          },
          optionsTo(method.options, 'MethodOptions'),
        ),
      ),
    },
    optionsTo(service.options, 'ServiceOptions'),
  );
}

/** Only options descriptor.proto defines survive; custom `(ext).name` options have no field here. */
function optionsTo(options: readonly ProtoOption[], typeName: string): OptionsObject | undefined {
  const type = descriptorType(typeName);
  const object: Record<string, unknown> = {};
  for (const option of options) {
    const key = option.name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
    if (type.fields[key] !== undefined) object[key] = option.value;
  }
  return Object.keys(object).length === 0 ? undefined : object;
}

function withOptions<T extends object>(descriptor: T, options: OptionsObject | undefined): T & { options?: OptionsObject } {
  return options === undefined ? descriptor : { ...descriptor, options };
}

/** protoc's json_name: lowerCamelCase of the field name. */
function jsonNameOf(name: string): string {
  return name.replace(/_+([a-zA-Z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** protoc's map entry type name: the field name in PascalCase, then 'Entry'. */
export function mapEntryName(fieldName: string): string {
  const camel = jsonNameOf(fieldName);
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}
