/**
 * The Avro format: parsing with avsc, the canonical text that decides identity, and our own
 * reader/writer compatibility walker.
 *
 * Why our own walker when avsc has `createResolver`: avsc stops at the first problem and explains
 * it in free text, while the registry promises every problem with its location and a stable rule
 * name (the names Apache Avro's SchemaCompatibility uses, which Confluent's registry returns). The
 * rules are Avro's schema-resolution rules, checked the way Confluent's registry checks them:
 * names are compared with their namespaces (a namespace change breaks compatibility unless the
 * reader lists the old full name as an alias), and a reader enum with a `default` accepts symbols
 * it does not know. The tests cross-check every verdict against avsc's resolver.
 *
 * Identity is the key-sorted compact JSON of the schema as written. avsc's Parsing Canonical Form
 * is not used: it drops docs and defaults, and a default is part of what a schema means to readers.
 */
import avsc from 'avsc';
import type { Type, types } from 'avsc';
import { canonicalJson, parseJsonSchemaText } from './canonical-json.js';
import type { JsonValue } from './canonical-json.js';
import { InvalidSchemaError, SchemaType } from './types.js';
import type { CompatibilityProblem, ParsedSchema, ResolvedReference, SchemaFormat } from './types.js';

/** Rule names, as Apache Avro's SchemaIncompatibilityType spells them. */
export const AvroRule = {
  NAME_MISMATCH: 'NAME_MISMATCH',
  FIXED_SIZE_MISMATCH: 'FIXED_SIZE_MISMATCH',
  MISSING_ENUM_SYMBOLS: 'MISSING_ENUM_SYMBOLS',
  READER_FIELD_MISSING_DEFAULT_VALUE: 'READER_FIELD_MISSING_DEFAULT_VALUE',
  TYPE_MISMATCH: 'TYPE_MISMATCH',
  MISSING_UNION_BRANCH: 'MISSING_UNION_BRANCH',
} as const;
export type AvroRule = (typeof AvroRule)[keyof typeof AvroRule];

/** Parsed avsc types, kept beside the plain ParsedSchema so the store can hold (and copy) it freely. */
const parsedTypes = new WeakMap<ParsedSchema, Type>();

/** Parses an Avro schema text; references name the full type names the schema uses. */
export function parseAvro(schema: string, references: readonly ResolvedReference[]): ParsedSchema {
  const json = parseJsonSchemaText(schema, 'Avro');
  const registry: Record<string, Type> = {};
  loadReferences(references, registry, new Set());
  const type = forSchema(json, registry, undefined);
  const parsed: ParsedSchema = {
    schemaType: SchemaType.AVRO,
    canonical: canonicalJson(json),
    recordName: isNamed(type) ? type.name : undefined,
    references,
  };
  parsedTypes.set(parsed, type);
  return parsed;
}

/** The avsc type of a parsed schema (re-parsed from its canonical text if it came from elsewhere). */
export function avroTypeOf(parsed: ParsedSchema): Type {
  const known = parsedTypes.get(parsed);
  if (known !== undefined) return known;
  const reparsed = parseAvro(parsed.canonical, parsed.references);
  const type = parsedTypes.get(reparsed);
  if (type === undefined) throw new Error('parseAvro did not record the parsed type');
  parsedTypes.set(parsed, type);
  return type;
}

/**
 * Loads referenced schemas, depth first, into one avsc registry, so the named types they define
 * resolve by full name in the referring schema. A reference reached twice (a diamond) loads once.
 */
function loadReferences(references: readonly ResolvedReference[], registry: Record<string, Type>, loaded: Set<string>): void {
  for (const reference of references) {
    const key = `${reference.subject}\u0000${reference.version}`;
    if (loaded.has(key)) continue;
    loaded.add(key);
    if (reference.schemaType !== SchemaType.AVRO) {
      throw new InvalidSchemaError(`reference '${reference.name}' is a ${reference.schemaType} schema, not Avro`);
    }
    loadReferences(reference.references, registry, loaded);
    const json = parseJsonSchemaText(reference.schema, 'Avro');
    forSchema(json, registry, `reference '${reference.name}' (subject '${reference.subject}' version ${reference.version})`);
  }
}

function forSchema(json: JsonValue, registry: Record<string, Type>, what: string | undefined): Type {
  try {
    return avsc.Type.forSchema(json as avsc.Schema, { registry });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new InvalidSchemaError(what === undefined ? detail : `${what}: ${detail}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Compatibility: can `reader` read data written with `writer`?

/** Every problem that stops `reader` reading data written with `writer` (empty when it can). */
export function avroCompatibility(reader: ParsedSchema, writer: ParsedSchema): CompatibilityProblem[] {
  const walk = new Walk();
  walk.check(avroTypeOf(reader), avroTypeOf(writer), '$', undefined);
  return walk.problems;
}

type Kind = 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string' | 'record' | 'enum' | 'fixed' | 'array' | 'map' | 'union';

/** The writer primitives each reader primitive also accepts (Avro's promotions). */
const PROMOTIONS: Partial<Record<Kind, readonly Kind[]>> = {
  long: ['int'],
  float: ['int', 'long'],
  double: ['int', 'long', 'float'],
  string: ['bytes'],
  bytes: ['string'],
};

/**
 * One comparison. Pairs already being compared higher up the stack count as compatible: a
 * recursive type (a linked list, a tree) is compatible with itself if every step of it is.
 */
class Walk {
  readonly problems: CompatibilityProblem[] = [];
  private readonly inProgress = new Map<Type, Set<Type>>();

  check(reader: Type, writer: Type, path: string, fieldName: string | undefined): void {
    let seen = this.inProgress.get(reader);
    if (seen?.has(writer) === true) return;
    if (seen === undefined) {
      seen = new Set();
      this.inProgress.set(reader, seen);
    }
    seen.add(writer);
    try {
      this.checkPair(reader, writer, path, fieldName);
    } finally {
      seen.delete(writer);
    }
  }

  private checkPair(reader: Type, writer: Type, path: string, fieldName: string | undefined): void {
    const readerKind = kindOf(reader);
    const writerKind = kindOf(writer);
    if (writerKind === 'union') {
      // Every branch the writer may have used must be readable.
      unionBranches(writer).forEach((branch, index) => {
        if (readerKind === 'union') this.checkUnionReader(reader, branch, path, fieldName, ` (writer union branch ${index})`);
        else this.check(reader, branch, path, fieldName);
      });
      return;
    }
    if (readerKind === 'union') {
      this.checkUnionReader(reader, writer, path, fieldName, '');
      return;
    }
    if (readerKind === writerKind) {
      this.checkSameKind(reader, writer, readerKind, path);
      return;
    }
    if (PROMOTIONS[readerKind]?.includes(writerKind) === true) return;
    this.add(
      AvroRule.TYPE_MISMATCH,
      path,
      `${subject(path, fieldName)}: reader type ${describe(reader)} cannot read writer type ${describe(writer)}`,
    );
  }

  /** A reader union reads a writer type through its best-matching branch. */
  private checkUnionReader(reader: Type, writer: Type, path: string, fieldName: string | undefined, context: string): void {
    const branches = unionBranches(reader);
    const index = matchingBranch(branches, writer);
    const branch = index === undefined ? undefined : branches[index];
    if (index === undefined || branch === undefined) {
      this.add(
        AvroRule.MISSING_UNION_BRANCH,
        path,
        `${subject(path, fieldName)}: reader union ${describe(reader)} has no branch that reads writer type ${describe(writer)}${context}`,
      );
      return;
    }
    this.check(branch, writer, `${path}[${index}]`, fieldName);
  }

  private checkSameKind(reader: Type, writer: Type, kind: Kind, path: string): void {
    switch (kind) {
      case 'record':
        if (this.checkName(reader, writer, path)) this.checkFields(reader as types.RecordType, writer as types.RecordType, path);
        return;
      case 'enum':
        if (this.checkName(reader, writer, path)) this.checkSymbols(reader as types.EnumType, writer as types.EnumType, path);
        return;
      case 'fixed':
        if (this.checkName(reader, writer, path)) this.checkSize(reader as types.FixedType, writer as types.FixedType, path);
        return;
      case 'array':
        this.check((reader as types.ArrayType).itemsType, (writer as types.ArrayType).itemsType, `${path}.items`, undefined);
        return;
      case 'map':
        this.check(mapValues(reader), mapValues(writer), `${path}.values`, undefined);
        return;
      default:
        return;
    }
  }

  private checkName(reader: Type, writer: Type, path: string): boolean {
    if (namesMatch(reader, writer)) return true;
    this.add(
      AvroRule.NAME_MISMATCH,
      `${path}.name`,
      `${kindOf(reader)} name '${reader.name ?? ''}' does not match writer name '${writer.name ?? ''}' (and is not a reader alias) at ${path}`,
    );
    return false;
  }

  private checkFields(reader: types.RecordType, writer: types.RecordType, path: string): void {
    reader.fields.forEach((field, index) => {
      const fieldPath = `${path}.fields[${index}]`;
      const writerField = findWriterField(writer, field);
      if (writerField === undefined) {
        if (!hasDefault(field)) {
          this.add(
            AvroRule.READER_FIELD_MISSING_DEFAULT_VALUE,
            fieldPath,
            `field '${field.name}' of ${reader.name ?? 'record'} is missing from the writer and has no default at ${fieldPath}`,
          );
        }
        return;
      }
      this.check(field.type, writerField.type, `${fieldPath}.type`, field.name);
    });
  }

  private checkSymbols(reader: types.EnumType, writer: types.EnumType, path: string): void {
    if (enumDefault(reader) !== undefined) return;
    const known = new Set(reader.symbols);
    const missing = writer.symbols.filter((symbol) => !known.has(symbol));
    if (missing.length === 0) return;
    this.add(
      AvroRule.MISSING_ENUM_SYMBOLS,
      `${path}.symbols`,
      `enum ${reader.name ?? ''} lacks writer symbols [${missing.join(', ')}] and has no default at ${path}.symbols`,
    );
  }

  private checkSize(reader: types.FixedType, writer: types.FixedType, path: string): void {
    if (reader.size === writer.size) return;
    this.add(
      AvroRule.FIXED_SIZE_MISMATCH,
      `${path}.size`,
      `fixed ${reader.name ?? ''} has size ${reader.size} in the reader but ${writer.size} in the writer at ${path}.size`,
    );
  }

  private add(rule: AvroRule, location: string, message: string): void {
    this.problems.push({ rule, location, message });
  }
}

/**
 * The reader branch that reads `writer`: the branch of the same name for a named type (Avro
 * resolves named types by name), else the first branch that reads it without problems, else the
 * first branch of the same kind, so that a changed record or array inside a union is reported in
 * detail rather than as a missing branch.
 */
function matchingBranch(branches: readonly Type[], writer: Type): number | undefined {
  const writerKind = kindOf(writer);
  if (isNamed(writer)) {
    const byName = branches.findIndex((branch) => kindOf(branch) === writerKind && namesMatch(branch, writer));
    if (byName >= 0) return byName;
  }
  const readable = branches.findIndex((branch) => {
    const trial = new Walk();
    trial.check(branch, writer, '$', undefined);
    return trial.problems.length === 0;
  });
  if (readable >= 0) return readable;
  const sameKind = branches.findIndex((branch) => kindOf(branch) === writerKind);
  return sameKind >= 0 ? sameKind : undefined;
}

function findWriterField(writer: types.RecordType, readerField: types.Field): types.Field | undefined {
  const byName = writer.fields.find((field) => field.name === readerField.name);
  if (byName !== undefined) return byName;
  const aliases = readerField.aliases;
  return writer.fields.find((field) => aliases.includes(field.name));
}

function namesMatch(reader: Type, writer: Type): boolean {
  if (reader.name === writer.name) return true;
  return writer.name !== undefined && (reader.aliases ?? []).includes(writer.name);
}

function kindOf(type: Type): Kind {
  const name = type.typeName;
  if (name.startsWith('union')) return 'union';
  if (name.startsWith('logical:')) return kindOf((type as types.LogicalType).underlyingType);
  if (name === 'error') return 'record';
  return name as Kind;
}

function isNamed(type: Type): type is Type & { readonly name: string } {
  const kind = kindOf(type);
  return (kind === 'record' || kind === 'enum' || kind === 'fixed') && type.name !== undefined;
}

function unionBranches(type: Type): readonly Type[] {
  return (type as types.WrappedUnionType | types.UnwrappedUnionType).types;
}

function mapValues(type: Type): Type {
  return (type as types.MapType).valuesType as Type;
}

function hasDefault(field: types.Field): boolean {
  return (field.defaultValue() as unknown) !== undefined;
}

function enumDefault(type: types.EnumType): string | undefined {
  const value = (type as unknown as { readonly default?: unknown }).default;
  return typeof value === 'string' ? value : undefined;
}

/** A short type description for messages: names for named types, structure for the rest. */
function describe(type: Type): string {
  const kind = kindOf(type);
  if (isNamed(type)) return `${kind} ${type.name}`;
  if (kind === 'array') return `array<${describe((type as types.ArrayType).itemsType)}>`;
  if (kind === 'map') return `map<${describe(mapValues(type))}>`;
  if (kind === 'union') return `[${unionBranches(type).map(describe).join(', ')}]`;
  return kind;
}

function subject(path: string, fieldName: string | undefined): string {
  return fieldName === undefined ? `at ${path}` : `field '${fieldName}' at ${path}`;
}

export const avroFormat: SchemaFormat = {
  schemaType: SchemaType.AVRO,
  parse: parseAvro,
  compatibility: avroCompatibility,
};
