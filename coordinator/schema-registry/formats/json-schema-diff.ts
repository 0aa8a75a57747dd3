/**
 * JSON Schema compatibility: does every document the original (writer) schema accepts still pass
 * the updated (reader) schema? Each keyword that can reject more documents than before is a
 * problem, named as Confluent's JSON Schema diff names the change (STRICT policy).
 *
 * The one rule that is not plain set inclusion is the content model. An object schema is open
 * (`additionalProperties` absent or true: any other property may appear, with any value), closed
 * (`additionalProperties: false`) or partially open (`additionalProperties: {schema}` or
 * `patternProperties`). Adding a property to an open model is a problem, because old documents may
 * already carry a property of that name with any value; adding it to a closed model is not, since
 * old documents cannot have it. Removing a property is the mirror image: harmless from an open
 * model, a problem from a closed one. For a partially open model the added or removed property must
 * fit the schema that covers unnamed properties.
 *
 * `$ref` is followed within the document, into referenced documents by name or `$id`, and through
 * JSON pointers; a pair of schemas already under comparison counts as compatible, which makes
 * recursive schemas terminate. Combined schemas: every alternative of the writer (its `oneOf` /
 * `anyOf` branches, or the writer itself) must fit some branch of the reader; every `allOf` branch
 * of the reader must be implied by some part of the writer.
 */
import { canonicalJson, isJsonObject } from './canonical-json.js';
import type { JsonObject, JsonValue } from './canonical-json.js';
import type { CompatibilityProblem } from './types.js';

/** A parsed JSON Schema with the documents its `$ref`s may point into. */
export interface JsonSchemaDocuments {
  readonly root: JsonValue;
  /** Referenced documents by reference name. */
  readonly referenced: ReadonlyMap<string, JsonValue>;
}

export const JsonSchemaRule = {
  TYPE_CHANGED: 'TYPE_CHANGED',
  TYPE_NARROWED: 'TYPE_NARROWED',
  ENUM_ARRAY_CHANGED: 'ENUM_ARRAY_CHANGED',
  ENUM_ARRAY_NARROWED: 'ENUM_ARRAY_NARROWED',
  MAXIMUM_ADDED: 'MAXIMUM_ADDED',
  MAXIMUM_DECREASED: 'MAXIMUM_DECREASED',
  MINIMUM_ADDED: 'MINIMUM_ADDED',
  MINIMUM_INCREASED: 'MINIMUM_INCREASED',
  EXCLUSIVE_MAXIMUM_ADDED: 'EXCLUSIVE_MAXIMUM_ADDED',
  EXCLUSIVE_MAXIMUM_DECREASED: 'EXCLUSIVE_MAXIMUM_DECREASED',
  EXCLUSIVE_MINIMUM_ADDED: 'EXCLUSIVE_MINIMUM_ADDED',
  EXCLUSIVE_MINIMUM_INCREASED: 'EXCLUSIVE_MINIMUM_INCREASED',
  MULTIPLE_OF_ADDED: 'MULTIPLE_OF_ADDED',
  MULTIPLE_OF_CHANGED: 'MULTIPLE_OF_CHANGED',
  MAX_LENGTH_ADDED: 'MAX_LENGTH_ADDED',
  MAX_LENGTH_DECREASED: 'MAX_LENGTH_DECREASED',
  MIN_LENGTH_ADDED: 'MIN_LENGTH_ADDED',
  MIN_LENGTH_INCREASED: 'MIN_LENGTH_INCREASED',
  PATTERN_ADDED: 'PATTERN_ADDED',
  PATTERN_CHANGED: 'PATTERN_CHANGED',
  MAX_ITEMS_ADDED: 'MAX_ITEMS_ADDED',
  MAX_ITEMS_DECREASED: 'MAX_ITEMS_DECREASED',
  MIN_ITEMS_ADDED: 'MIN_ITEMS_ADDED',
  MIN_ITEMS_INCREASED: 'MIN_ITEMS_INCREASED',
  UNIQUE_ITEMS_ADDED: 'UNIQUE_ITEMS_ADDED',
  ADDITIONAL_ITEMS_REMOVED: 'ADDITIONAL_ITEMS_REMOVED',
  MAX_PROPERTIES_ADDED: 'MAX_PROPERTIES_ADDED',
  MAX_PROPERTIES_DECREASED: 'MAX_PROPERTIES_DECREASED',
  MIN_PROPERTIES_ADDED: 'MIN_PROPERTIES_ADDED',
  MIN_PROPERTIES_INCREASED: 'MIN_PROPERTIES_INCREASED',
  REQUIRED_ATTRIBUTE_ADDED: 'REQUIRED_ATTRIBUTE_ADDED',
  PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL: 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
  PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: 'PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: 'PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  ADDITIONAL_PROPERTIES_REMOVED: 'ADDITIONAL_PROPERTIES_REMOVED',
  ADDITIONAL_PROPERTIES_NARROWED: 'ADDITIONAL_PROPERTIES_NARROWED',
  SUM_TYPE_NARROWED: 'SUM_TYPE_NARROWED',
  PRODUCT_TYPE_EXTENDED: 'PRODUCT_TYPE_EXTENDED',
  SCHEMA_REJECTS_ALL: 'SCHEMA_REJECTS_ALL',
  UNRESOLVED_REFERENCE: 'UNRESOLVED_REFERENCE',
} as const;
export type JsonSchemaRule = (typeof JsonSchemaRule)[keyof typeof JsonSchemaRule];

/** Keywords that annotate without constraining: a schema of only these accepts everything. */
const ANNOTATIONS = new Set([
  '$schema', '$id', 'id', '$comment', '$anchor', '$dynamicAnchor', '$defs', 'definitions', 'title', 'description',
  'default', 'examples', 'readOnly', 'writeOnly', 'deprecated', 'format', 'contentMediaType', 'contentEncoding',
]);
const COMBINERS = ['oneOf', 'anyOf', 'allOf'] as const;
const MAX_REF_HOPS = 64;

/** A schema and the document its local `#...` references resolve in. */
interface Located {
  readonly schema: JsonValue;
  readonly document: JsonValue;
}

type Side = 'original' | 'update';

/** Every problem with reading documents valid under `original` through `update`. */
export function diffJsonSchemas(original: JsonSchemaDocuments, update: JsonSchemaDocuments): CompatibilityProblem[] {
  const diff = new JsonDiff(original, update);
  diff.compare({ schema: original.root, document: original.root }, { schema: update.root, document: update.root }, '#');
  return diff.problems;
}

class JsonDiff {
  readonly problems: CompatibilityProblem[] = [];
  private readonly inProgress: Map<JsonValue, Set<JsonValue>>;

  constructor(
    private readonly original: JsonSchemaDocuments,
    private readonly update: JsonSchemaDocuments,
    inProgress?: Map<JsonValue, Set<JsonValue>>,
  ) {
    this.inProgress = inProgress ?? new Map<JsonValue, Set<JsonValue>>();
  }

  compare(originalIn: Located, updateIn: Located, path: string): void {
    const before = this.deref(originalIn, 'original');
    const after = this.deref(updateIn, 'update');
    if (before === undefined || after === undefined) {
      const ref = refOf((before === undefined ? originalIn : updateIn).schema);
      this.add(JsonSchemaRule.UNRESOLVED_REFERENCE, path, `$ref '${ref}' of the ${before === undefined ? 'writer' : 'reader'} cannot be followed for comparison`);
      return;
    }
    if (acceptsAll(after.schema) || before.schema === false) return;
    if (after.schema === false) {
      this.add(JsonSchemaRule.SCHEMA_REJECTS_ALL, path, 'the reader schema is false and rejects every value the writer schema allows');
      return;
    }
    const o = asObject(before.schema);
    const u = asObject(after.schema);
    let seen = this.inProgress.get(o);
    if (seen?.has(u) === true) return;
    if (seen === undefined) {
      seen = new Set();
      this.inProgress.set(o, seen);
    }
    seen.add(u);
    try {
      this.compareObjects(o, u, before.document, after.document, path);
    } finally {
      seen.delete(u);
    }
  }

  private compareObjects(o: JsonObject, u: JsonObject, oDoc: JsonValue, uDoc: JsonValue, path: string): void {
    const oSum = sumOf(o);
    const uSum = sumOf(u);
    if (uSum !== undefined) {
      this.compareIntoSum(oSum === undefined ? [{ schema: withoutCombiners(flattenAllOf(o)), document: oDoc }] : oSum.branches.map((schema) => ({ schema, document: oDoc })), uSum, uDoc, path);
    } else if (oSum !== undefined) {
      oSum.branches.forEach((branch, index) => this.compare({ schema: branch, document: oDoc }, { schema: withoutCombiners(u), document: uDoc }, `${path}/${oSum.keyword}/${index}`));
    } else {
      this.compareBase(u.allOf === undefined ? flattenAllOf(o) : o, u, oDoc, uDoc, path);
    }
    this.compareAllOf(o, u, oDoc, uDoc, path);
  }

  /** Each writer alternative must fit some reader branch. */
  private compareIntoSum(alternatives: readonly Located[], uSum: Sum, uDoc: JsonValue, path: string): void {
    alternatives.forEach((alternative, index) => {
      const fits = uSum.branches.some((branch) => this.fits(alternative, { schema: branch, document: uDoc }, path));
      if (!fits) {
        this.add(
          JsonSchemaRule.SUM_TYPE_NARROWED,
          `${path}/${uSum.keyword}`,
          alternatives.length === 1
            ? `the writer schema fits no branch of the reader's ${uSum.keyword}`
            : `branch ${index} of the writer's alternatives fits no branch of the reader's ${uSum.keyword}`,
        );
      }
    });
  }

  /** Each reader allOf branch must hold for every writer document: implied by some writer part. */
  private compareAllOf(o: JsonObject, u: JsonObject, oDoc: JsonValue, uDoc: JsonValue, path: string): void {
    const uAll = arrayOf(u.allOf);
    if (uAll === undefined) return;
    const oParts: Located[] = [{ schema: withoutCombiners(o), document: oDoc }, ...(arrayOf(o.allOf) ?? []).map((schema) => ({ schema, document: oDoc }))];
    uAll.forEach((branch, index) => {
      const implied = oParts.some((part) => this.fits(part, { schema: branch, document: uDoc }, path));
      if (!implied) {
        this.add(JsonSchemaRule.PRODUCT_TYPE_EXTENDED, `${path}/allOf/${index}`, `allOf branch ${index} of the reader adds a constraint the writer schema does not imply`);
      }
    });
  }

  private compareBase(o: JsonObject, u: JsonObject, oDoc: JsonValue, uDoc: JsonValue, path: string): void {
    this.compareTypes(o, u, path);
    this.compareEnum(o, u, path);
    this.compareNumbers(o, u, path);
    this.compareStrings(o, u, path);
    this.compareArrays(o, u, oDoc, uDoc, path);
    this.compareObjectKeywords(o, u, oDoc, uDoc, path);
  }

  private compareTypes(o: JsonObject, u: JsonObject, path: string): void {
    const after = typesOf(u);
    if (after === undefined) return;
    const before = typesOf(o);
    if (before === undefined) {
      this.add(JsonSchemaRule.TYPE_NARROWED, `${path}/type`, `the reader restricts the type to ${[...after].join(', ')} where the writer allowed any type`);
      return;
    }
    const lost = [...before].filter((type) => !after.has(type) && !(type === 'integer' && after.has('number')));
    if (lost.length === 0) return;
    const rule = lost.length === before.size ? JsonSchemaRule.TYPE_CHANGED : JsonSchemaRule.TYPE_NARROWED;
    this.add(rule, `${path}/type`, `type changed from ${[...before].join(', ')} to ${[...after].join(', ')}: the reader rejects ${lost.join(', ')}`);
  }

  private compareEnum(o: JsonObject, u: JsonObject, path: string): void {
    const after = enumOf(u);
    if (after === undefined) return;
    const before = enumOf(o);
    if (before === undefined) {
      this.add(JsonSchemaRule.ENUM_ARRAY_NARROWED, `${path}/enum`, 'the reader limits values to an enum where the writer allowed any value');
      return;
    }
    const allowed = new Set(after.map(canonicalJson));
    const lost = before.filter((value) => !allowed.has(canonicalJson(value)));
    if (lost.length === 0) return;
    const rule = lost.length === before.length ? JsonSchemaRule.ENUM_ARRAY_CHANGED : JsonSchemaRule.ENUM_ARRAY_NARROWED;
    this.add(rule, `${path}/enum`, `enum no longer allows ${lost.map((value) => canonicalJson(value)).join(', ')}`);
  }

  private compareNumbers(o: JsonObject, u: JsonObject, path: string): void {
    this.upperLimit(o, u, 'maximum', JsonSchemaRule.MAXIMUM_ADDED, JsonSchemaRule.MAXIMUM_DECREASED, path);
    this.lowerLimit(o, u, 'minimum', JsonSchemaRule.MINIMUM_ADDED, JsonSchemaRule.MINIMUM_INCREASED, path);
    this.upperLimit(o, u, 'exclusiveMaximum', JsonSchemaRule.EXCLUSIVE_MAXIMUM_ADDED, JsonSchemaRule.EXCLUSIVE_MAXIMUM_DECREASED, path);
    this.lowerLimit(o, u, 'exclusiveMinimum', JsonSchemaRule.EXCLUSIVE_MINIMUM_ADDED, JsonSchemaRule.EXCLUSIVE_MINIMUM_INCREASED, path);
    // draft-04 writes exclusivity as a boolean beside maximum/minimum.
    if (u.exclusiveMaximum === true && o.exclusiveMaximum !== true) this.add(JsonSchemaRule.EXCLUSIVE_MAXIMUM_ADDED, `${path}/exclusiveMaximum`, 'the maximum became exclusive');
    if (u.exclusiveMinimum === true && o.exclusiveMinimum !== true) this.add(JsonSchemaRule.EXCLUSIVE_MINIMUM_ADDED, `${path}/exclusiveMinimum`, 'the minimum became exclusive');
    const after = numberOf(u.multipleOf);
    if (after === undefined) return;
    const before = numberOf(o.multipleOf);
    if (before === undefined) {
      this.add(JsonSchemaRule.MULTIPLE_OF_ADDED, `${path}/multipleOf`, `multipleOf ${after} was added`);
    } else if (!isMultiple(before, after)) {
      this.add(JsonSchemaRule.MULTIPLE_OF_CHANGED, `${path}/multipleOf`, `multipleOf changed from ${before} to ${after}, and not every multiple of ${before} is a multiple of ${after}`);
    }
  }

  private compareStrings(o: JsonObject, u: JsonObject, path: string): void {
    this.upperLimit(o, u, 'maxLength', JsonSchemaRule.MAX_LENGTH_ADDED, JsonSchemaRule.MAX_LENGTH_DECREASED, path);
    this.lowerLimit(o, u, 'minLength', JsonSchemaRule.MIN_LENGTH_ADDED, JsonSchemaRule.MIN_LENGTH_INCREASED, path);
    if (typeof u.pattern !== 'string') return;
    if (typeof o.pattern !== 'string') this.add(JsonSchemaRule.PATTERN_ADDED, `${path}/pattern`, `pattern ${u.pattern} was added`);
    else if (o.pattern !== u.pattern) this.add(JsonSchemaRule.PATTERN_CHANGED, `${path}/pattern`, `pattern changed from ${o.pattern} to ${u.pattern}`);
  }

  private compareArrays(o: JsonObject, u: JsonObject, oDoc: JsonValue, uDoc: JsonValue, path: string): void {
    this.upperLimit(o, u, 'maxItems', JsonSchemaRule.MAX_ITEMS_ADDED, JsonSchemaRule.MAX_ITEMS_DECREASED, path);
    this.lowerLimit(o, u, 'minItems', JsonSchemaRule.MIN_ITEMS_ADDED, JsonSchemaRule.MIN_ITEMS_INCREASED, path);
    if (u.uniqueItems === true && o.uniqueItems !== true) this.add(JsonSchemaRule.UNIQUE_ITEMS_ADDED, `${path}/uniqueItems`, 'uniqueItems was added');
    const before = itemsOf(o);
    const after = itemsOf(u);
    const positions = Math.max(before.tuple.length, after.tuple.length);
    for (let index = 0; index < positions; index += 1) {
      const beforeItem = before.tuple[index] ?? before.rest;
      const afterItem = after.tuple[index] ?? after.rest;
      this.compare({ schema: beforeItem, document: oDoc }, { schema: afterItem, document: uDoc }, `${path}/${after.tupleKeyword}/${index}`);
    }
    if (after.rest === false && before.rest !== false) {
      this.add(JsonSchemaRule.ADDITIONAL_ITEMS_REMOVED, `${path}/${after.restKeyword}`, 'the reader no longer allows items beyond its tuple');
      return;
    }
    this.compare({ schema: before.rest, document: oDoc }, { schema: after.rest, document: uDoc }, `${path}/${after.restKeyword}`);
  }

  private compareObjectKeywords(o: JsonObject, u: JsonObject, oDoc: JsonValue, uDoc: JsonValue, path: string): void {
    this.upperLimit(o, u, 'maxProperties', JsonSchemaRule.MAX_PROPERTIES_ADDED, JsonSchemaRule.MAX_PROPERTIES_DECREASED, path);
    this.lowerLimit(o, u, 'minProperties', JsonSchemaRule.MIN_PROPERTIES_ADDED, JsonSchemaRule.MIN_PROPERTIES_INCREASED, path);
    const oProps = isJsonObject(o.properties) ? o.properties : {};
    const uProps = isJsonObject(u.properties) ? u.properties : {};
    for (const [name, schema] of Object.entries(oProps)) {
      const where = `${path}/properties/${escapePointer(name)}`;
      const counterpart = uProps[name];
      if (counterpart !== undefined) this.compare({ schema, document: oDoc }, { schema: counterpart, document: uDoc }, where);
      else this.propertyRemoved(name, { schema, document: oDoc }, u, uDoc, where);
    }
    for (const [name, schema] of Object.entries(uProps)) {
      if (oProps[name] === undefined) this.propertyAdded(name, o, oDoc, { schema, document: uDoc }, `${path}/properties/${escapePointer(name)}`);
    }
    this.compareRequired(o, u, uProps, path);
    this.compareAdditionalProperties(o, u, oDoc, uDoc, path);
  }

  private propertyRemoved(name: string, before: Located, u: JsonObject, uDoc: JsonValue, where: string): void {
    const cover = coveringSchema(u, name);
    if (cover === true) return;
    if (cover === false) {
      if (before.schema !== false) this.add(JsonSchemaRule.PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL, where, `property '${name}' was removed from a closed content model: old data may carry it`);
      return;
    }
    if (!this.fits(before, { schema: cover, document: uDoc }, where)) {
      this.add(JsonSchemaRule.PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL, where, `property '${name}' was removed and its values do not fit the reader's schema for other properties`);
    }
  }

  private propertyAdded(name: string, o: JsonObject, oDoc: JsonValue, after: Located, where: string): void {
    const cover = coveringSchema(o, name);
    if (cover === false) return;
    if (cover === true) {
      if (!acceptsAll(after.schema)) this.add(JsonSchemaRule.PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL, where, `property '${name}' was added to an open content model: old data may already carry '${name}' with any value`);
      return;
    }
    if (!this.fits({ schema: cover, document: oDoc }, after, where)) {
      this.add(JsonSchemaRule.PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL, where, `property '${name}' was added, and the writer's schema for other properties allows values it rejects`);
    }
  }

  private compareRequired(o: JsonObject, u: JsonObject, uProps: JsonObject, path: string): void {
    const before = new Set(stringsOf(o.required));
    for (const name of stringsOf(u.required)) {
      if (before.has(name)) continue;
      const property = uProps[name];
      if (isJsonObject(property) && property.default !== undefined) continue;
      this.add(JsonSchemaRule.REQUIRED_ATTRIBUTE_ADDED, `${path}/required`, `property '${name}' became required (without a default): old data may lack it`);
    }
  }

  private compareAdditionalProperties(o: JsonObject, u: JsonObject, oDoc: JsonValue, uDoc: JsonValue, path: string): void {
    const before = o.additionalProperties ?? true;
    const after = u.additionalProperties ?? true;
    const where = `${path}/additionalProperties`;
    if (before !== false && !acceptsAll(after)) {
      if (after === false) {
        this.add(JsonSchemaRule.ADDITIONAL_PROPERTIES_REMOVED, where, 'the reader closed the content model (additionalProperties: false): old data may carry other properties');
      } else if (acceptsAll(before)) {
        this.add(JsonSchemaRule.ADDITIONAL_PROPERTIES_NARROWED, where, 'the reader restricts additional properties that the writer left open');
      } else {
        this.compare({ schema: before, document: oDoc }, { schema: after, document: uDoc }, where);
      }
    }
    // A pattern the reader adds constrains names the writer covered with additionalProperties.
    const oPatterns = isJsonObject(o.patternProperties) ? o.patternProperties : {};
    const uPatterns = isJsonObject(u.patternProperties) ? u.patternProperties : {};
    for (const [pattern, schema] of Object.entries(uPatterns)) {
      const at = `${path}/patternProperties/${escapePointer(pattern)}`;
      const previous = oPatterns[pattern] ?? before;
      if (previous === false) continue;
      if (oPatterns[pattern] === undefined && acceptsAll(previous) && !acceptsAll(schema)) {
        this.add(JsonSchemaRule.ADDITIONAL_PROPERTIES_NARROWED, at, `patternProperties '${pattern}' restricts properties the writer left open`);
        continue;
      }
      this.compare({ schema: previous, document: oDoc }, { schema, document: uDoc }, at);
    }
  }

  private upperLimit(o: JsonObject, u: JsonObject, keyword: string, added: JsonSchemaRule, decreased: JsonSchemaRule, path: string): void {
    const after = numberOf(u[keyword]);
    if (after === undefined) return;
    const before = numberOf(o[keyword]);
    if (before === undefined) this.add(added, `${path}/${keyword}`, `${keyword} ${after} was added`);
    else if (after < before) this.add(decreased, `${path}/${keyword}`, `${keyword} decreased from ${before} to ${after}`);
  }

  private lowerLimit(o: JsonObject, u: JsonObject, keyword: string, added: JsonSchemaRule, increased: JsonSchemaRule, path: string): void {
    const after = numberOf(u[keyword]);
    if (after === undefined) return;
    const before = numberOf(o[keyword]);
    if (before === undefined) this.add(added, `${path}/${keyword}`, `${keyword} ${after} was added`);
    else if (after > before) this.add(increased, `${path}/${keyword}`, `${keyword} increased from ${before} to ${after}`);
  }

  /** Whether `before` fits `after` with no problem, without reporting anything. */
  private fits(before: Located, after: Located, path: string): boolean {
    const trial = new JsonDiff(this.original, this.update, this.inProgress);
    trial.compare(before, after, path);
    return trial.problems.length === 0;
  }

  /**
   * Follows `$ref`s until a schema without one. Undefined when a reference leads nowhere this
   * resolver knows (ajv resolved it when parsing, so it is a base-URI form we do not follow) or
   * around a cycle of references that never reaches a schema.
   */
  private deref(located: Located, side: Side): Located | undefined {
    let current = located;
    for (let hops = 0; hops < MAX_REF_HOPS; hops += 1) {
      const ref = refOf(current.schema);
      if (ref === undefined) return current;
      const target = this.resolveRef(ref, current.document, side);
      if (target === undefined) return undefined;
      current = target;
    }
    return undefined;
  }

  private resolveRef(ref: string, document: JsonValue, side: Side): Located | undefined {
    const documents = side === 'original' ? this.original : this.update;
    const hash = ref.indexOf('#');
    const base = hash < 0 ? ref : ref.slice(0, hash);
    const fragment = hash < 0 ? '' : ref.slice(hash + 1);
    const target = base === '' ? document : findDocument(documents, base);
    if (target === undefined) return undefined;
    const schema = fragment.startsWith('/') || fragment === '' ? pointer(target, fragment) : anchor(target, fragment);
    return schema === undefined ? undefined : { schema, document: target };
  }

  private add(rule: JsonSchemaRule, location: string, message: string): void {
    this.problems.push({ rule, location, message: `${message} at ${location}` });
  }
}

interface Sum {
  readonly keyword: 'oneOf' | 'anyOf';
  readonly branches: readonly JsonValue[];
}

function sumOf(schema: JsonObject): Sum | undefined {
  const oneOf = arrayOf(schema.oneOf);
  if (oneOf !== undefined) return { keyword: 'oneOf', branches: oneOf };
  const anyOf = arrayOf(schema.anyOf);
  return anyOf === undefined ? undefined : { keyword: 'anyOf', branches: anyOf };
}

function refOf(schema: JsonValue): string | undefined {
  return isJsonObject(schema) && typeof schema.$ref === 'string' ? schema.$ref : undefined;
}

/**
 * A schema with its `allOf` branches folded in (object branches only, shallowly; `properties`
 * and `required` merged), for comparing a writer's conjunction with a reader that has none.
 */
function flattenAllOf(schema: JsonObject): JsonObject {
  const branches = arrayOf(schema.allOf);
  if (branches === undefined) return schema;
  let merged: JsonObject = withoutCombiners(schema);
  for (const branch of branches) {
    if (!isJsonObject(branch)) continue;
    const properties = { ...(isJsonObject(merged.properties) ? merged.properties : {}), ...(isJsonObject(branch.properties) ? branch.properties : {}) };
    const required = [...new Set([...stringsOf(merged.required), ...stringsOf(branch.required)])];
    merged = { ...merged, ...flattenAllOf(branch), properties, required };
  }
  return merged;
}

function withoutCombiners(schema: JsonObject): JsonObject {
  const copy: JsonObject = { ...schema };
  for (const keyword of COMBINERS) delete copy[keyword];
  return copy;
}

function acceptsAll(schema: JsonValue): boolean {
  if (schema === true) return true;
  return isJsonObject(schema) && Object.keys(schema).every((key) => ANNOTATIONS.has(key));
}

function asObject(schema: JsonValue): JsonObject {
  return isJsonObject(schema) ? schema : {};
}

function typesOf(schema: JsonObject): Set<string> | undefined {
  const type = schema.type;
  if (typeof type === 'string') return new Set([type]);
  if (Array.isArray(type)) return new Set(type.filter((entry): entry is string => typeof entry === 'string'));
  return undefined;
}

function enumOf(schema: JsonObject): readonly JsonValue[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum;
  return schema.const === undefined ? undefined : [schema.const];
}

function numberOf(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function arrayOf(value: JsonValue | undefined): readonly JsonValue[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

function stringsOf(value: JsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
}

/** Whether every multiple of `before` is a multiple of `after`. */
function isMultiple(before: number, after: number): boolean {
  const ratio = before / after;
  return Math.abs(ratio - Math.round(ratio)) < 1e-9;
}

/**
 * Array items as a tuple (positional schemas) plus the schema of the rest: `prefixItems` + `items`
 * in 2020-12, `items: [...]` + `additionalItems` before, or just `items`.
 */
function itemsOf(schema: JsonObject): { tuple: readonly JsonValue[]; rest: JsonValue; tupleKeyword: string; restKeyword: string } {
  const prefix = arrayOf(schema.prefixItems);
  if (prefix !== undefined) return { tuple: prefix, rest: schema.items ?? true, tupleKeyword: 'prefixItems', restKeyword: 'items' };
  const items = arrayOf(schema.items);
  if (items !== undefined) return { tuple: items, rest: schema.additionalItems ?? true, tupleKeyword: 'items', restKeyword: 'additionalItems' };
  return { tuple: [], rest: schema.items ?? true, tupleKeyword: 'items', restKeyword: 'items' };
}

/**
 * The schema that a property named `name` meets when `properties` does not name it: a matching
 * `patternProperties` entry, else `additionalProperties`. `true` is open, `false` closed.
 */
function coveringSchema(schema: JsonObject, name: string): JsonValue {
  if (isJsonObject(schema.patternProperties)) {
    for (const [pattern, covering] of Object.entries(schema.patternProperties)) {
      if (safeRegExp(pattern)?.test(name) === true) return covering;
    }
  }
  const additional = schema.additionalProperties ?? true;
  return acceptsAll(additional) ? true : additional;
}

function safeRegExp(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
}

function findDocument(documents: JsonSchemaDocuments, base: string): JsonValue | undefined {
  const byName = documents.referenced.get(base);
  if (byName !== undefined) return byName;
  for (const document of [documents.root, ...documents.referenced.values()]) {
    if (isJsonObject(document) && (document.$id === base || document.id === base)) return document;
  }
  return undefined;
}

function pointer(document: JsonValue, fragment: string): JsonValue | undefined {
  let current: JsonValue | undefined = document;
  for (const raw of fragment.split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) current = current[Number(key)];
    else if (isJsonObject(current)) current = current[key];
    else return undefined;
  }
  return current;
}

/** A plain-name fragment: the sub-schema whose `$anchor` (or draft-04/06 `id: "#name"`) matches. */
function anchor(document: JsonValue, name: string): JsonValue | undefined {
  if (Array.isArray(document)) {
    for (const entry of document) {
      const found = anchor(entry, name);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (!isJsonObject(document)) return undefined;
  if (document.$anchor === name || document.$id === `#${name}` || document.id === `#${name}`) return document;
  for (const value of Object.values(document)) {
    const found = anchor(value, name);
    if (found !== undefined) return found;
  }
  return undefined;
}

function escapePointer(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}
