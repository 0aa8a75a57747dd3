/**
 * The JSON Schema format: validating a schema with ajv (the draft its `$schema` names, from
 * draft-04 to 2020-12), the canonical text that decides identity, and the compatibility diff
 * (json-schema-diff.ts).
 *
 * ajv runs with `strict: false`: schemas written for Confluent's registry carry keywords of their
 * own (`connect.type`, `javaType`, ...), which Confluent accepts and strict ajv refuses. Referenced
 * schemas are added to ajv under their reference name, so `$ref: "address.json"` resolves; a
 * `$ref` that resolves nowhere makes the schema invalid. draft-06 documents are checked with the
 * draft-07 validator (draft-07 only added keywords), since ajv 8 has no draft-06 class of its own.
 *
 * Identity is the key-sorted compact JSON of the schema as written. The record name is the root
 * `title`, as Confluent's RecordNameStrategy uses it.
 */
import { Ajv } from 'ajv';
import type { AnySchema, Options } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import { canonicalJson, isJsonObject, parseJsonSchemaText } from './canonical-json.js';
import type { JsonValue } from './canonical-json.js';
import { diffJsonSchemas } from './json-schema-diff.js';
import type { JsonSchemaDocuments } from './json-schema-diff.js';
import { InvalidSchemaError, SchemaType } from './types.js';
import type { CompatibilityProblem, ParsedSchema, ResolvedReference, SchemaFormat } from './types.js';

/** The JSON Schema drafts, by the validator class each needs. */
export const JsonSchemaDraft = { DRAFT_04: 'draft-04', DRAFT_07: 'draft-07', DRAFT_2019_09: '2019-09', DRAFT_2020_12: '2020-12' } as const;
export type JsonSchemaDraft = (typeof JsonSchemaDraft)[keyof typeof JsonSchemaDraft];

interface Validator {
  addSchema(schema: AnySchema, key?: string): unknown;
  compile(schema: AnySchema): unknown;
  removeSchema(schemaKeyRef?: AnySchema | string | RegExp): unknown;
}

const AJV_OPTIONS: Options = { strict: false, allErrors: false, logger: false, validateFormats: true };

const parsedDocuments = new WeakMap<ParsedSchema, JsonSchemaDocuments>();

/** Parses a JSON Schema; references are other JSON Schemas, added by their reference name. */
export function parseJsonSchema(schema: string, references: readonly ResolvedReference[]): ParsedSchema {
  const json = parseJsonSchemaText(schema, 'JSON');
  if (!isJsonObject(json) && typeof json !== 'boolean') {
    throw new InvalidSchemaError('a JSON Schema must be an object or a boolean');
  }
  const referenced = new Map<string, JsonValue>();
  collectReferences(references, referenced, new Set());
  const draft = draftOf(json);
  if (referenced.size === 0) {
    compileAlone(draft, json);
  } else {
    const validator = validatorFor(draft);
    for (const [name, document] of referenced) addSchema(validator, document, name);
    compile(validator, stripDraft06(json) as AnySchema);
  }
  const parsed: ParsedSchema = {
    schemaType: SchemaType.JSON,
    canonical: canonicalJson(json),
    recordName: isJsonObject(json) && typeof json.title === 'string' ? json.title : undefined,
    references,
  };
  parsedDocuments.set(parsed, { root: json, referenced });
  return parsed;
}

/** Every problem that stops `reader` accepting data that `writer` accepts. */
export function jsonSchemaCompatibility(reader: ParsedSchema, writer: ParsedSchema): CompatibilityProblem[] {
  return diffJsonSchemas(documentsOf(writer), documentsOf(reader));
}

/** The draft a schema declares with `$schema` (draft-07 when it declares none). */
export function draftOf(json: JsonValue): JsonSchemaDraft {
  const declared = isJsonObject(json) && typeof json.$schema === 'string' ? json.$schema : '';
  if (declared.includes('draft-04')) return JsonSchemaDraft.DRAFT_04;
  if (declared.includes('2019-09')) return JsonSchemaDraft.DRAFT_2019_09;
  if (declared.includes('2020-12')) return JsonSchemaDraft.DRAFT_2020_12;
  if (declared === '' || declared.includes('draft-07') || declared.includes('draft-06')) return JsonSchemaDraft.DRAFT_07;
  throw new InvalidSchemaError(`unsupported $schema '${declared}': use draft-04, draft-06, draft-07, 2019-09 or 2020-12`, '#/$schema');
}

/**
 * One validator per draft for schemas without references: building an ajv instance with its
 * formats costs far more than compiling a schema. The compiled schema is removed again (by object
 * and by `$id`) so nothing one parse registers is visible to the next.
 */
const sharedValidators = new Map<JsonSchemaDraft, Validator>();

function compileAlone(draft: JsonSchemaDraft, json: JsonValue): void {
  let validator = sharedValidators.get(draft);
  if (validator === undefined) {
    validator = validatorFor(draft);
    sharedValidators.set(draft, validator);
  }
  const schema = stripDraft06(json) as AnySchema;
  try {
    compile(validator, schema);
  } finally {
    if (typeof schema === 'object') validator.removeSchema(schema);
    const id = isJsonObject(json) ? (json.$id ?? json.id) : undefined;
    if (typeof id === 'string') validator.removeSchema(id);
  }
}

function validatorFor(draft: JsonSchemaDraft): Validator {
  const validator = newValidator(draft);
  addFormatsModule.default(validator as Ajv);
  return validator;
}

function newValidator(draft: JsonSchemaDraft): Validator {
  switch (draft) {
    case JsonSchemaDraft.DRAFT_04:
      return new AjvDraft04Module.default(AJV_OPTIONS);
    case JsonSchemaDraft.DRAFT_2019_09:
      return new Ajv2019(AJV_OPTIONS);
    case JsonSchemaDraft.DRAFT_2020_12:
      return new Ajv2020(AJV_OPTIONS);
    case JsonSchemaDraft.DRAFT_07:
      return new Ajv(AJV_OPTIONS);
  }
}

/** References depth first; a document reached twice (a diamond) is added once. */
function collectReferences(references: readonly ResolvedReference[], into: Map<string, JsonValue>, seen: Set<string>): void {
  for (const reference of references) {
    const key = `${reference.subject}\u0000${reference.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (reference.schemaType !== SchemaType.JSON) {
      throw new InvalidSchemaError(`reference '${reference.name}' is a ${reference.schemaType} schema, not a JSON Schema`);
    }
    collectReferences(reference.references, into, seen);
    if (!into.has(reference.name)) into.set(reference.name, parseJsonSchemaText(reference.schema, 'JSON'));
  }
}

function addSchema(validator: Validator, document: JsonValue, name: string): void {
  try {
    validator.addSchema(stripDraft06(document) as AnySchema, name);
  } catch (error) {
    throw new InvalidSchemaError(`reference '${name}' is not a valid JSON Schema: ${errorText(error)}`);
  }
}

function compile(validator: Validator, schema: AnySchema): void {
  try {
    validator.compile(schema);
  } catch (error) {
    throw new InvalidSchemaError(errorText(error));
  }
}

/** ajv 8 does not know the draft-06 meta-schema URI; its documents validate as draft-07. */
function stripDraft06(json: JsonValue): JsonValue {
  if (!isJsonObject(json) || typeof json.$schema !== 'string' || !json.$schema.includes('draft-06')) return json;
  const { $schema: _ignored, ...rest } = json;
  return rest;
}

function documentsOf(parsed: ParsedSchema): JsonSchemaDocuments {
  const known = parsedDocuments.get(parsed);
  if (known !== undefined) return known;
  const reparsed = parseJsonSchema(parsed.canonical, parsed.references);
  const documents = parsedDocuments.get(reparsed);
  if (documents === undefined) throw new Error('parseJsonSchema did not record the documents');
  parsedDocuments.set(parsed, documents);
  return documents;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const jsonSchemaFormat: SchemaFormat = {
  schemaType: SchemaType.JSON,
  parse: parseJsonSchema,
  compatibility: jsonSchemaCompatibility,
};
