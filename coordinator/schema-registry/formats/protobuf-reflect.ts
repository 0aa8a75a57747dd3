/**
 * Loading a .proto text with protobufjs: its imports resolved from the registered references and
 * the built-in files, every type name resolved, and the result turned into our ProtoFile model.
 *
 * Each file is parsed twice. Once alone, into a root of its own, which tells exactly what that file
 * declares and in what order (message indexes depend on it). And once into a shared root with all
 * its dependencies, which protobufjs resolves, so each field learns the full name of the message or
 * enum it names. protobufjs notices a field that reuses a reserved number or name only when the
 * `reserved` statement comes first; Confluent's registry refuses such a schema in any order, so
 * that check is ours.
 */
import protobuf from 'protobufjs';
import { knownProto, knownProtoImports } from './protobuf-known.js';
import {
  ENUM_NUMBER_MAX, FIELD_NUMBER_MAX, sortedOptions,
} from './protobuf-model.js';
import type {
  ProtoEnum, ProtoField, ProtoFile, ProtoLabel, ProtoMessage, ProtoMethod, ProtoService, ProtoSyntax,
} from './protobuf-model.js';
import { InvalidSchemaError } from './types.js';

/** A dependency's text: .proto text, or a base64 FileDescriptorProto the caller converts first. */
export interface ProtoSource {
  readonly path: string;
  readonly text: string;
  readonly dependencies: readonly ProtoSource[];
}

/** A loaded file and, by import path, every file it depends on (directly or not). */
export interface LoadedProto {
  readonly file: ProtoFile;
  readonly dependencies: ReadonlyMap<string, ProtoFile>;
}

interface Structure {
  readonly path: string;
  readonly root: protobuf.Root;
  readonly package: string;
  readonly imports: readonly string[];
  readonly syntax: ProtoSyntax;
}

const PARSE_OPTIONS = { keepCase: true } as const;

/**
 * Parses `main` (the schema being registered) with its dependencies. `dependencies` are the
 * references named by import path; an import that is neither a reference nor a built-in file is an
 * InvalidSchemaError, as is any type name that does not resolve.
 */
export function loadProto(main: ProtoSource): LoadedProto {
  const resolution = new protobuf.Root();
  const structures = new Map<string, Structure>();
  const mainStructure = parseStructure(main.path, main.text);
  loadImports(mainStructure.imports, main.dependencies, main.path, resolution, structures, new Set([main.path]));
  addText(resolution, main.text, main.path);
  try {
    resolution.resolveAll();
  } catch (error) {
    throw new InvalidSchemaError(errorText(error));
  }
  const file = buildFile(mainStructure, resolution);
  checkReserved(file);
  const dependencies = new Map<string, ProtoFile>();
  for (const [path, structure] of structures) dependencies.set(path, buildFile(structure, resolution));
  return { file, dependencies };
}

function loadImports(
  imports: readonly string[],
  available: readonly ProtoSource[],
  importer: string,
  resolution: protobuf.Root,
  structures: Map<string, Structure>,
  inProgress: Set<string>,
): void {
  for (const path of imports) {
    if (structures.has(path)) continue;
    if (inProgress.has(path)) throw new InvalidSchemaError(`import cycle through "${path}"`);
    inProgress.add(path);
    const reference = available.find((candidate) => candidate.path === path);
    if (reference !== undefined) {
      const structure = parseStructure(path, reference.text);
      loadImports(structure.imports, reference.dependencies, path, resolution, structures, inProgress);
      addText(resolution, reference.text, path);
      structures.set(path, structure);
    } else {
      loadKnown(path, importer, resolution, structures, inProgress);
    }
    inProgress.delete(path);
  }
}

function loadKnown(path: string, importer: string, resolution: protobuf.Root, structures: Map<string, Structure>, inProgress: Set<string>): void {
  const known = knownProto(path);
  if (known === undefined) {
    throw new InvalidSchemaError(
      `"${importer}" imports "${path}", which is neither a reference of the schema nor a well-known file`,
    );
  }
  if (known.kind === 'text') {
    loadImports(knownProtoImports(path), [], path, resolution, structures, inProgress);
    structures.set(path, parseStructure(path, known.text));
    addText(resolution, known.text, path);
    return;
  }
  resolution.addJSON(known.json.nested ?? {});
  const root = protobuf.Root.fromJSON(known.json);
  structures.set(path, { path, root, package: 'google.protobuf', imports: [], syntax: 'proto3' });
}

function parseStructure(path: string, text: string): Structure {
  const root = new protobuf.Root();
  try {
    const parsed = protobuf.parse(text, root, PARSE_OPTIONS);
    return { path, root, package: parsed.package ?? '', imports: [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])], syntax: syntaxOf(text, path) };
  } catch (error) {
    throw new InvalidSchemaError(`${path === '' ? '' : `"${path}": `}${errorText(error)}`);
  }
}

function addText(resolution: protobuf.Root, text: string, path: string): void {
  try {
    protobuf.parse(text, resolution, PARSE_OPTIONS);
  } catch (error) {
    throw new InvalidSchemaError(`${path === '' ? '' : `"${path}": `}${errorText(error)}`);
  }
}

/**
 * The file's syntax. protobufjs 8 keeps it only per declaration, so it is read from the text:
 * the first statement, after comments, is `syntax = "...";` or there is none (proto2).
 */
function syntaxOf(text: string, path: string): ProtoSyntax {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  const edition = /^\s*edition\s*=/.exec(code);
  if (edition !== null) throw new InvalidSchemaError(`${path === '' ? '' : `"${path}": `}editions are not supported; use syntax = "proto2" or "proto3"`);
  const match = /^\s*syntax\s*=\s*["'](proto[23])["']\s*;/.exec(code);
  return match?.[1] === 'proto3' ? 'proto3' : 'proto2';
}

// ---------------------------------------------------------------------------------------------
// Reflection → model

function buildFile(structure: Structure, resolution: protobuf.Root): ProtoFile {
  const scope = structure.package === '' ? structure.root : structure.root.lookup(structure.package);
  const declared = scope instanceof protobuf.Namespace ? scope.nestedArray : [];
  const options = structure.package === '' ? structure.root.options : scope?.options;
  return {
    syntax: structure.syntax,
    package: structure.package,
    imports: structure.imports,
    options: sortedOptions(options),
    messages: declared.filter(isMessage).map((type) => buildMessage(type, resolution, structure.syntax)),
    enums: declared.filter(isEnum).map(buildEnum),
    services: declared.filter(isService).map((service) => buildService(service, resolution)),
  };
}

function buildMessage(type: protobuf.Type, resolution: protobuf.Root, syntax: ProtoSyntax): ProtoMessage {
  const resolved = resolution.lookupType(type.fullName);
  const realOneofs = type.oneofsArray.filter((oneof) => !isSyntheticOneof(oneof, type));
  return {
    name: type.name,
    fullName: type.fullName.slice(1),
    fields: type.fieldsArray.filter((field) => field.extend === undefined).map((field) => buildField(field, resolved, syntax)),
    oneofs: realOneofs.map((oneof) => ({ name: oneof.name, options: sortedOptions(oneof.options) })),
    messages: type.nestedArray.filter(isMessage).map((nested) => buildMessage(nested, resolution, syntax)),
    enums: type.nestedArray.filter(isEnum).map(buildEnum),
    ...reservedOf(type.reserved),
    options: sortedOptions(type.options),
  };
}

function buildField(field: protobuf.Field, resolvedType: protobuf.Type, syntax: ProtoSyntax): ProtoField {
  const resolvedField = resolvedType.fields[field.name];
  const target = resolvedField?.resolve().resolvedType ?? null;
  const proto3Optional = field.options?.proto3_optional === true;
  const oneof = field.partOf !== null && !proto3Optional ? field.partOf.name : undefined;
  const map = field instanceof protobuf.MapField;
  return {
    name: field.name,
    number: field.id,
    label: labelOf(field, syntax, map, oneof, proto3Optional),
    proto3Optional,
    kind: map ? 'map' : kindOfTarget(target),
    type: field.type,
    resolvedType: target === null ? undefined : target.fullName.slice(1),
    keyType: map ? field.keyType : undefined,
    valueKind: map ? kindOfTarget(target) : undefined,
    oneof,
    options: sortedOptions(field.options, new Set(['proto3_optional'])),
  };
}

function labelOf(field: protobuf.Field, syntax: ProtoSyntax, map: boolean, oneof: string | undefined, proto3Optional: boolean): ProtoLabel | undefined {
  if (map || oneof !== undefined) return undefined;
  if (field.rule === 'repeated' || field.rule === 'required') return field.rule;
  if (proto3Optional || syntax === 'proto2') return 'optional';
  return undefined;
}

function kindOfTarget(target: protobuf.Type | protobuf.Enum | null): 'scalar' | 'enum' | 'message' {
  if (target instanceof protobuf.Enum) return 'enum';
  if (target instanceof protobuf.Type) return 'message';
  return 'scalar';
}

function buildEnum(enumType: protobuf.Enum): ProtoEnum {
  const valueOptions = enumType.valuesOptions ?? {};
  return {
    name: enumType.name,
    fullName: enumType.fullName.slice(1),
    values: Object.entries(enumType.values).map(([name, number]) => ({ name, number, options: sortedOptions(valueOptions[name]) })),
    ...reservedOf(enumType.reserved),
    options: sortedOptions(enumType.options),
  };
}

function buildService(service: protobuf.Service, resolution: protobuf.Root): ProtoService {
  const resolved = resolution.lookupService(service.fullName);
  return {
    name: service.name,
    methods: service.methodsArray.map((method): ProtoMethod => {
      const resolvedMethod = resolved.methods[method.name];
      resolvedMethod?.resolve();
      return {
        name: method.name,
        inputType: method.requestType,
        outputType: method.responseType,
        resolvedInputType: resolvedMethod?.resolvedRequestType?.fullName.slice(1) ?? method.requestType,
        resolvedOutputType: resolvedMethod?.resolvedResponseType?.fullName.slice(1) ?? method.responseType,
        clientStreaming: method.requestStream === true,
        serverStreaming: method.responseStream === true,
        options: sortedOptions(method.options),
      };
    }),
    options: sortedOptions(service.options),
  };
}

function reservedOf(reserved: (number[] | string)[] | undefined): { reservedRanges: [number, number][]; reservedNames: string[] } {
  const reservedRanges: [number, number][] = [];
  const reservedNames: string[] = [];
  for (const entry of reserved ?? []) {
    if (typeof entry === 'string') reservedNames.push(entry);
    else if (entry[0] !== undefined) reservedRanges.push([entry[0], entry[1] ?? entry[0]]);
  }
  return { reservedRanges, reservedNames };
}

function isSyntheticOneof(oneof: protobuf.OneOf, type: protobuf.Type): boolean {
  const only = oneof.oneof.length === 1 ? type.fields[oneof.oneof[0] ?? ''] : undefined;
  return only?.options?.proto3_optional === true;
}

const isMessage = (object: protobuf.ReflectionObject): object is protobuf.Type => object instanceof protobuf.Type;
const isEnum = (object: protobuf.ReflectionObject): object is protobuf.Enum => object instanceof protobuf.Enum;
const isService = (object: protobuf.ReflectionObject): object is protobuf.Service => object instanceof protobuf.Service;

// ---------------------------------------------------------------------------------------------
// Checks protobufjs leaves to us

/** A field or enum value that reuses a number or name its own declaration reserves. */
export function checkReserved(file: ProtoFile): void {
  const visit = (message: ProtoMessage): void => {
    for (const field of message.fields) {
      if (inRanges(field.number, message.reservedRanges) || message.reservedNames.includes(field.name)) {
        throw new InvalidSchemaError(
          `field '${field.name}' = ${field.number} in message ${message.fullName} uses a reserved ${message.reservedNames.includes(field.name) ? 'name' : 'number'}`,
          message.fullName,
        );
      }
      if (field.number < 1 || field.number > FIELD_NUMBER_MAX) {
        throw new InvalidSchemaError(`field '${field.name}' in message ${message.fullName} has number ${field.number}, outside 1..${FIELD_NUMBER_MAX}`, message.fullName);
      }
    }
    message.enums.forEach(checkEnumReserved);
    message.messages.forEach(visit);
  };
  file.messages.forEach(visit);
  file.enums.forEach(checkEnumReserved);
}

function checkEnumReserved(enumType: ProtoEnum): void {
  for (const value of enumType.values) {
    if (inRanges(value.number, enumType.reservedRanges) || enumType.reservedNames.includes(value.name)) {
      throw new InvalidSchemaError(`enum value ${value.name} = ${value.number} in ${enumType.fullName} is reserved`, enumType.fullName);
    }
    if (value.number > ENUM_NUMBER_MAX) throw new InvalidSchemaError(`enum value ${value.name} in ${enumType.fullName} is out of range`, enumType.fullName);
  }
}

function inRanges(value: number, ranges: readonly (readonly [number, number])[]): boolean {
  return ranges.some(([from, to]) => value >= from && value <= to);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
