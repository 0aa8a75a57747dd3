import { describe, expect, it } from 'vitest';
import { JsonSchemaRule } from './json-schema-diff.js';
import { JsonSchemaDraft, draftOf, jsonSchemaCompatibility, parseJsonSchema } from './json-schema.js';
import { InvalidSchemaError, SchemaType } from './types.js';
import type { ResolvedReference } from './types.js';

type Schema = Record<string, unknown> | boolean;

const parse = (schema: Schema, references: readonly ResolvedReference[] = []) => parseJsonSchema(JSON.stringify(schema), references);

/** Problems of the update accepting what the original accepted (BACKWARD: update is newer). */
function problemsOf(original: Schema, update: Schema, references: readonly ResolvedReference[] = []): { rule: string; location: string }[] {
  return jsonSchemaCompatibility(parse(update, references), parse(original, references)).map(({ rule, location }) => ({ rule, location }));
}

interface Case {
  readonly name: string;
  readonly original: Schema;
  readonly update: Schema;
  readonly problems: { rule: string; location: string }[];
}

const open = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'object', properties, ...extra });
const closed = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => open(properties, { additionalProperties: false, ...extra });
const str = { type: 'string' };
const int = { type: 'integer' };

const cases: Case[] = [
  { name: 'the same schema is compatible', original: open({ a: str }), update: open({ a: str }), problems: [] },
  {
    name: 'an optional property added to an open content model is PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
    original: open({ a: str }),
    update: open({ a: str, b: int }),
    problems: [{ rule: JsonSchemaRule.PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL, location: '#/properties/b' }],
  },
  {
    name: 'a property with an empty schema added to an open content model is compatible',
    original: open({ a: str }),
    update: open({ a: str, b: {} }),
    problems: [],
  },
  {
    name: 'an optional property added to a closed content model is compatible',
    original: closed({ a: str }),
    update: closed({ a: str, b: int }),
    problems: [],
  },
  {
    name: 'a property removed from an open content model is compatible',
    original: open({ a: str, b: int }),
    update: open({ a: str }),
    problems: [],
  },
  {
    name: 'a property removed from a closed content model is PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
    original: closed({ a: str, b: int }),
    update: closed({ a: str }),
    problems: [{ rule: JsonSchemaRule.PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL, location: '#/properties/b' }],
  },
  {
    name: 'a property added that fits a partially open model is compatible',
    original: open({ a: str }, { additionalProperties: int }),
    update: open({ a: str, b: { type: 'number' } }, { additionalProperties: int }),
    problems: [],
  },
  {
    name: 'a property added that does not fit a partially open model is PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
    original: open({ a: str }, { additionalProperties: { type: 'number' } }),
    update: open({ a: str, b: int }, { additionalProperties: { type: 'number' } }),
    problems: [{ rule: JsonSchemaRule.PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL, location: '#/properties/b' }],
  },
  {
    name: 'a property removed into a partially open model that covers it is compatible',
    original: open({ a: str, b: int }, { additionalProperties: { type: 'number' } }),
    update: open({ a: str }, { additionalProperties: { type: 'number' } }),
    problems: [],
  },
  {
    name: 'a property removed into a partially open model that does not cover it is PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
    original: open({ a: str, b: str }, { additionalProperties: int }),
    update: open({ a: str }, { additionalProperties: int }),
    problems: [{ rule: JsonSchemaRule.PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL, location: '#/properties/b' }],
  },
  {
    name: 'a property added that matches patternProperties with a fitting schema is compatible',
    original: open({}, { patternProperties: { '^x_': str }, additionalProperties: false }),
    update: open({ x_note: str }, { patternProperties: { '^x_': str }, additionalProperties: false }),
    problems: [],
  },
  {
    name: 'closing an open content model is ADDITIONAL_PROPERTIES_REMOVED',
    original: open({ a: str }),
    update: closed({ a: str }),
    problems: [{ rule: JsonSchemaRule.ADDITIONAL_PROPERTIES_REMOVED, location: '#/additionalProperties' }],
  },
  {
    name: 'opening a closed content model is compatible',
    original: closed({ a: str }),
    update: open({ a: str }),
    problems: [],
  },
  {
    name: 'restricting additional properties of an open model is ADDITIONAL_PROPERTIES_NARROWED',
    original: open({ a: str }),
    update: open({ a: str }, { additionalProperties: str }),
    problems: [{ rule: JsonSchemaRule.ADDITIONAL_PROPERTIES_NARROWED, location: '#/additionalProperties' }],
  },
  {
    name: 'patternProperties added to an open model is ADDITIONAL_PROPERTIES_NARROWED at the pattern',
    original: open({ a: str }),
    update: open({ a: str }, { patternProperties: { '^x_': int } }),
    problems: [{ rule: JsonSchemaRule.ADDITIONAL_PROPERTIES_NARROWED, location: '#/patternProperties/^x_' }],
  },
  {
    name: 'a patternProperties schema narrowed is reported inside the pattern',
    original: open({}, { patternProperties: { '^x_': { type: 'number' } } }),
    update: open({}, { patternProperties: { '^x_': int } }),
    problems: [{ rule: JsonSchemaRule.TYPE_CHANGED, location: '#/patternProperties/^x_/type' }],
  },
  {
    name: 'a new required property is REQUIRED_ATTRIBUTE_ADDED',
    original: closed({ a: str, b: int }),
    update: closed({ a: str, b: int }, { required: ['b'] }),
    problems: [{ rule: JsonSchemaRule.REQUIRED_ATTRIBUTE_ADDED, location: '#/required' }],
  },
  {
    name: 'a new required property with a default is compatible',
    original: closed({ a: str, b: int }),
    update: closed({ a: str, b: { type: 'integer', default: 0 } }, { required: ['b'] }),
    problems: [],
  },
  {
    name: 'a required property made optional is compatible',
    original: closed({ a: str }, { required: ['a'] }),
    update: closed({ a: str }),
    problems: [],
  },
  {
    name: 'a type widened to a union with null is compatible',
    original: open({ a: str }),
    update: open({ a: { type: ['string', 'null'] } }),
    problems: [],
  },
  {
    name: 'integer widened to number is compatible',
    original: open({ a: int }),
    update: open({ a: { type: 'number' } }),
    problems: [],
  },
  {
    name: 'number narrowed to integer is TYPE_CHANGED',
    original: open({ a: { type: 'number' } }),
    update: open({ a: int }),
    problems: [{ rule: JsonSchemaRule.TYPE_CHANGED, location: '#/properties/a/type' }],
  },
  {
    name: 'a union type narrowed is TYPE_NARROWED',
    original: open({ a: { type: ['string', 'null'] } }),
    update: open({ a: str }),
    problems: [{ rule: JsonSchemaRule.TYPE_NARROWED, location: '#/properties/a/type' }],
  },
  {
    name: 'string changed to integer is TYPE_CHANGED',
    original: open({ a: str }),
    update: open({ a: int }),
    problems: [{ rule: JsonSchemaRule.TYPE_CHANGED, location: '#/properties/a/type' }],
  },
  { name: 'an enum extended is compatible', original: { enum: ['a', 'b'] }, update: { enum: ['a', 'b', 'c'] }, problems: [] },
  { name: 'an enum narrowed is ENUM_ARRAY_NARROWED', original: { enum: ['a', 'b'] }, update: { enum: ['a'] }, problems: [{ rule: JsonSchemaRule.ENUM_ARRAY_NARROWED, location: '#/enum' }] },
  { name: 'an enum replaced is ENUM_ARRAY_CHANGED', original: { enum: ['a', 'b'] }, update: { enum: ['c'] }, problems: [{ rule: JsonSchemaRule.ENUM_ARRAY_CHANGED, location: '#/enum' }] },
  { name: 'maxLength raised is compatible', original: { type: 'string', maxLength: 10 }, update: { type: 'string', maxLength: 20 }, problems: [] },
  {
    name: 'maxLength lowered is MAX_LENGTH_DECREASED',
    original: { type: 'string', maxLength: 20 },
    update: { type: 'string', maxLength: 10 },
    problems: [{ rule: JsonSchemaRule.MAX_LENGTH_DECREASED, location: '#/maxLength' }],
  },
  { name: 'maxLength added is MAX_LENGTH_ADDED', original: str, update: { type: 'string', maxLength: 10 }, problems: [{ rule: JsonSchemaRule.MAX_LENGTH_ADDED, location: '#/maxLength' }] },
  { name: 'maxLength removed is compatible', original: { type: 'string', maxLength: 10 }, update: str, problems: [] },
  {
    name: 'minLength raised is MIN_LENGTH_INCREASED',
    original: { type: 'string', minLength: 1 },
    update: { type: 'string', minLength: 3 },
    problems: [{ rule: JsonSchemaRule.MIN_LENGTH_INCREASED, location: '#/minLength' }],
  },
  { name: 'a pattern added is PATTERN_ADDED', original: str, update: { type: 'string', pattern: '^a' }, problems: [{ rule: JsonSchemaRule.PATTERN_ADDED, location: '#/pattern' }] },
  {
    name: 'a pattern changed is PATTERN_CHANGED',
    original: { type: 'string', pattern: '^a' },
    update: { type: 'string', pattern: '^b' },
    problems: [{ rule: JsonSchemaRule.PATTERN_CHANGED, location: '#/pattern' }],
  },
  { name: 'a pattern removed is compatible', original: { type: 'string', pattern: '^a' }, update: str, problems: [] },
  {
    name: 'maximum lowered is MAXIMUM_DECREASED, minimum raised is MINIMUM_INCREASED',
    original: { type: 'number', maximum: 100, minimum: 0 },
    update: { type: 'number', maximum: 50, minimum: 10 },
    problems: [
      { rule: JsonSchemaRule.MAXIMUM_DECREASED, location: '#/maximum' },
      { rule: JsonSchemaRule.MINIMUM_INCREASED, location: '#/minimum' },
    ],
  },
  { name: 'maximum raised and minimum lowered are compatible', original: { type: 'number', maximum: 100, minimum: 0 }, update: { type: 'number', maximum: 200, minimum: -1 }, problems: [] },
  {
    name: 'exclusiveMaximum added is EXCLUSIVE_MAXIMUM_ADDED',
    original: { type: 'number' },
    update: { type: 'number', exclusiveMaximum: 10 },
    problems: [{ rule: JsonSchemaRule.EXCLUSIVE_MAXIMUM_ADDED, location: '#/exclusiveMaximum' }],
  },
  { name: 'multipleOf 4 to 2 is compatible (every multiple of 4 is one of 2)', original: { type: 'integer', multipleOf: 4 }, update: { type: 'integer', multipleOf: 2 }, problems: [] },
  {
    name: 'multipleOf 2 to 4 is MULTIPLE_OF_CHANGED',
    original: { type: 'integer', multipleOf: 2 },
    update: { type: 'integer', multipleOf: 4 },
    problems: [{ rule: JsonSchemaRule.MULTIPLE_OF_CHANGED, location: '#/multipleOf' }],
  },
  { name: 'multipleOf added is MULTIPLE_OF_ADDED', original: int, update: { type: 'integer', multipleOf: 3 }, problems: [{ rule: JsonSchemaRule.MULTIPLE_OF_ADDED, location: '#/multipleOf' }] },
  {
    name: 'maxItems lowered and uniqueItems added are both reported',
    original: { type: 'array', items: str, maxItems: 10 },
    update: { type: 'array', items: str, maxItems: 5, uniqueItems: true },
    problems: [
      { rule: JsonSchemaRule.MAX_ITEMS_DECREASED, location: '#/maxItems' },
      { rule: JsonSchemaRule.UNIQUE_ITEMS_ADDED, location: '#/uniqueItems' },
    ],
  },
  {
    name: 'minItems raised is MIN_ITEMS_INCREASED',
    original: { type: 'array', minItems: 1 },
    update: { type: 'array', minItems: 2 },
    problems: [{ rule: JsonSchemaRule.MIN_ITEMS_INCREASED, location: '#/minItems' }],
  },
  {
    name: 'array items narrowed are reported at items',
    original: { type: 'array', items: { type: 'number' } },
    update: { type: 'array', items: int },
    problems: [{ rule: JsonSchemaRule.TYPE_CHANGED, location: '#/items/type' }],
  },
  {
    name: 'tuple items beyond the tuple closed is ADDITIONAL_ITEMS_REMOVED',
    original: { type: 'array', items: [str, int] },
    update: { type: 'array', items: [str, int], additionalItems: false },
    problems: [{ rule: JsonSchemaRule.ADDITIONAL_ITEMS_REMOVED, location: '#/additionalItems' }],
  },
  {
    name: 'maxProperties added is MAX_PROPERTIES_ADDED',
    original: { type: 'object' },
    update: { type: 'object', maxProperties: 3 },
    problems: [{ rule: JsonSchemaRule.MAX_PROPERTIES_ADDED, location: '#/maxProperties' }],
  },
  {
    name: 'a nested property change is reported at its path',
    original: open({ address: closed({ city: str }) }),
    update: open({ address: closed({ city: { type: 'string', maxLength: 5 } }) }),
    problems: [{ rule: JsonSchemaRule.MAX_LENGTH_ADDED, location: '#/properties/address/properties/city/maxLength' }],
  },
  {
    name: 'title, description and default changes are ignored',
    original: open({ a: { type: 'string', description: 'old', default: 'x' } }, { title: 'A' }),
    update: open({ a: { type: 'string', description: 'new', default: 'y' } }, { title: 'B' }),
    problems: [],
  },
  { name: 'a oneOf branch added is compatible', original: { oneOf: [str, int] }, update: { oneOf: [str, int, { type: 'boolean' }] }, problems: [] },
  {
    name: 'a oneOf branch removed is SUM_TYPE_NARROWED',
    original: { oneOf: [str, int] },
    update: { oneOf: [str] },
    problems: [{ rule: JsonSchemaRule.SUM_TYPE_NARROWED, location: '#/oneOf' }],
  },
  { name: 'a plain schema turned into an anyOf containing it is compatible', original: str, update: { anyOf: [str, int] }, problems: [] },
  {
    name: 'an anyOf collapsed to one of its branches reports the lost branch',
    original: { anyOf: [str, int] },
    update: str,
    problems: [{ rule: JsonSchemaRule.TYPE_CHANGED, location: '#/anyOf/1/type' }],
  },
  {
    name: 'an allOf branch added is PRODUCT_TYPE_EXTENDED',
    original: { allOf: [open({ a: str })] },
    update: { allOf: [open({ a: str }), { required: ['a'] }] },
    problems: [{ rule: JsonSchemaRule.PRODUCT_TYPE_EXTENDED, location: '#/allOf/1' }],
  },
  { name: 'an allOf branch removed is compatible', original: { allOf: [open({ a: str }), { required: ['a'] }] }, update: { allOf: [open({ a: str })] }, problems: [] },
  {
    name: 'a $ref to a local definition is followed',
    original: { definitions: { Name: str }, type: 'object', properties: { a: { $ref: '#/definitions/Name' } } },
    update: { definitions: { Name: int }, type: 'object', properties: { a: { $ref: '#/definitions/Name' } } },
    problems: [{ rule: JsonSchemaRule.TYPE_CHANGED, location: '#/properties/a/type' }],
  },
  {
    name: 'a recursive schema compared with itself terminates and is compatible',
    original: { $defs: { Node: { type: 'object', properties: { next: { $ref: '#/$defs/Node' }, v: int } } }, $ref: '#/$defs/Node' },
    update: { $defs: { Node: { type: 'object', properties: { next: { $ref: '#/$defs/Node' }, v: { type: 'number' } } } }, $ref: '#/$defs/Node' },
    problems: [],
  },
  { name: 'the true schema accepts everything', original: open({ a: str }), update: true, problems: [] },
  { name: 'the false schema rejects everything', original: open({ a: str }), update: false, problems: [{ rule: JsonSchemaRule.SCHEMA_REJECTS_ALL, location: '#' }] },
];

describe('schema registry > json schema > compatibility (update accepts what original accepted)', () => {
  for (const testCase of cases) {
    it(testCase.name, () => {
      expect(problemsOf(testCase.original, testCase.update)).toEqual(testCase.problems);
    });
  }

  it('follows a $ref into a referenced schema by its reference name', () => {
    const address = (city: Record<string, unknown>, version: number): ResolvedReference => ({
      name: 'address.json', subject: 'address', version, schemaType: SchemaType.JSON, references: [],
      schema: JSON.stringify({ type: 'object', properties: { city }, additionalProperties: false }),
    });
    const order = { type: 'object', properties: { ship: { $ref: 'address.json' } } };
    const problems = jsonSchemaCompatibility(parse(order, [address({ type: 'string', maxLength: 3 }, 2)]), parse(order, [address(str, 1)]));
    expect(problems.map(({ rule, location }) => ({ rule, location }))).toEqual([{ rule: JsonSchemaRule.MAX_LENGTH_ADDED, location: '#/properties/ship/properties/city/maxLength' }]);
  });

  it('explains an added property in words, with its location', () => {
    const [problem] = jsonSchemaCompatibility(parse(open({ a: str, b: int })), parse(open({ a: str })));
    expect(problem?.message).toBe("property 'b' was added to an open content model: old data may already carry 'b' with any value at #/properties/b");
  });
});

describe('schema registry > json schema > parse', () => {
  it('gives the same canonical text whatever the whitespace and key order', () => {
    const a = parseJsonSchema('{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"integer"}},"title":"Order"}', []);
    const b = parseJsonSchema('{\n "title": "Order",\n "properties": { "a": {"type": "integer"}, "b": {"type": "string"} },\n "type": "object"\n}', []);
    expect(b.canonical).toBe(a.canonical);
    expect(a.canonical).toBe('{"properties":{"a":{"type":"integer"},"b":{"type":"string"}},"title":"Order","type":"object"}');
  });

  it('gives a different canonical text when a description or a default changes', () => {
    const plain = parse(open({ a: { type: 'string', default: 'x' } }));
    expect(parse(open({ a: { type: 'string', default: 'y' } })).canonical).not.toBe(plain.canonical);
    expect(parse(open({ a: { type: 'string', default: 'x', description: 'd' } })).canonical).not.toBe(plain.canonical);
  });

  it('names the record by its title', () => {
    expect(parse(open({}, { title: 'acme.Order' })).recordName).toBe('acme.Order');
    expect(parse(open({})).recordName).toBeUndefined();
    expect(parse(true).schemaType).toBe(SchemaType.JSON);
  });

  it('picks the validator by $schema, from draft-04 to 2020-12', () => {
    expect(draftOf({ $schema: 'http://json-schema.org/draft-04/schema#' })).toBe(JsonSchemaDraft.DRAFT_04);
    expect(draftOf({ $schema: 'http://json-schema.org/draft-06/schema#' })).toBe(JsonSchemaDraft.DRAFT_07);
    expect(draftOf({ $schema: 'http://json-schema.org/draft-07/schema#' })).toBe(JsonSchemaDraft.DRAFT_07);
    expect(draftOf({ $schema: 'https://json-schema.org/draft/2019-09/schema' })).toBe(JsonSchemaDraft.DRAFT_2019_09);
    expect(draftOf({ $schema: 'https://json-schema.org/draft/2020-12/schema' })).toBe(JsonSchemaDraft.DRAFT_2020_12);
    expect(draftOf({})).toBe(JsonSchemaDraft.DRAFT_07);
    for (const $schema of ['http://json-schema.org/draft-04/schema#', 'http://json-schema.org/draft-06/schema#', 'https://json-schema.org/draft/2019-09/schema', 'https://json-schema.org/draft/2020-12/schema']) {
      expect(parse({ $schema, type: 'object', properties: { a: str } }).canonical).toContain($schema);
    }
    expect(parse({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'array', prefixItems: [str], items: false }).canonical).toContain('prefixItems');
  });

  it('accepts keywords of its own that Confluent schemas carry (non-strict)', () => {
    expect(parse(open({ a: { type: 'integer', 'connect.type': 'int16' } }, { javaType: 'com.acme.Order' })).recordName).toBeUndefined();
  });

  it('resolves $refs to references added by name', () => {
    const address: ResolvedReference = {
      name: 'address.json', subject: 'address', version: 1, schemaType: SchemaType.JSON, references: [],
      schema: JSON.stringify(closed({ city: str })),
    };
    expect(parse(open({ ship: { $ref: 'address.json' } }), [address]).references).toEqual([address]);
  });

  it('keeps parses independent: an $id registered by one parse is neither taken nor visible in the next', () => {
    expect(parse({ $id: 'https://acme.example/order.json', type: 'string' }).canonical).toContain('order.json');
    expect(parse({ $id: 'https://acme.example/order.json', type: 'integer' }).canonical).toContain('integer');
    expect(() => parse({ $ref: 'https://acme.example/order.json' })).toThrow(InvalidSchemaError);
  });

  const invalid: [string, string, RegExp][] = [
    ['malformed JSON', '{"type": ', /not valid JSON/],
    ['a schema that is a number', '42', /object or a boolean/],
    ['an unknown type name', '{"type":"strnig"}', /type/],
    ['a non-array required', '{"type":"object","required":"a"}', /required/],
    ['an unresolvable $ref', '{"$ref":"missing.json"}', /missing\.json/],
    ['an unsupported $schema', '{"$schema":"http://example.com/my-meta"}', /unsupported \$schema/],
  ];
  for (const [what, schema, message] of invalid) {
    it(`refuses ${what} with an InvalidSchemaError`, () => {
      expect(() => parseJsonSchema(schema, [])).toThrow(InvalidSchemaError);
      expect(() => parseJsonSchema(schema, [])).toThrow(message);
    });
  }

  it('refuses a reference that is not a JSON Schema', () => {
    const avro: ResolvedReference = { name: 'a.json', subject: 'a', version: 1, schemaType: SchemaType.AVRO, references: [], schema: '"string"' };
    expect(() => parse(open({ a: { $ref: 'a.json' } }), [avro])).toThrow(/not a JSON Schema/);
  });
});
