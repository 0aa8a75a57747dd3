import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { AvroRule, avroCompatibility, avroTypeOf, parseAvro } from './avro.js';
import { InvalidSchemaError, SchemaType } from './types.js';
import type { ResolvedReference } from './types.js';

type Json = Record<string, unknown> | string | unknown[];

const record = (fields: Json[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'record', name: 'Order', namespace: 'acme', fields, ...extra });
const field = (name: string, type: Json, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name, type, ...extra });
const parse = (schema: Json) => parseAvro(JSON.stringify(schema), []);

/** The problems of `reader` reading `writer`, checked against avsc's own resolver verdict. */
function problemsOf(reader: Json, writer: Json): { rule: string; location: string }[] {
  const readerSchema = parse(reader);
  const writerSchema = parse(writer);
  const problems = avroCompatibility(readerSchema, writerSchema);
  let avscAgrees: boolean;
  try {
    avroTypeOf(readerSchema).createResolver(avroTypeOf(writerSchema));
    avscAgrees = problems.length === 0;
  } catch {
    avscAgrees = problems.length > 0;
  }
  expect(avscAgrees, `avsc's resolver disagrees for reader ${JSON.stringify(reader)} / writer ${JSON.stringify(writer)}`).toBe(true);
  return problems.map(({ rule, location }) => ({ rule, location }));
}

interface Case {
  readonly name: string;
  readonly reader: Json;
  readonly writer: Json;
  /** Expected problems; empty means compatible. */
  readonly problems: { rule: string; location: string }[];
}

const base = record([field('id', 'long')]);

const cases: Case[] = [
  { name: 'identical records are compatible', reader: base, writer: base, problems: [] },
  {
    name: 'a reader field added with a default is compatible',
    reader: record([field('id', 'long'), field('note', 'string', { default: '' })]),
    writer: base,
    problems: [],
  },
  {
    name: 'a reader field added without a default is READER_FIELD_MISSING_DEFAULT_VALUE at the field',
    reader: record([field('id', 'long'), field('note', 'string')]),
    writer: base,
    problems: [{ rule: AvroRule.READER_FIELD_MISSING_DEFAULT_VALUE, location: '$.fields[1]' }],
  },
  {
    name: 'a nullable field added with a null default is compatible',
    reader: record([field('id', 'long'), field('note', ['null', 'string'], { default: null })]),
    writer: base,
    problems: [],
  },
  {
    name: 'a field the writer has and the reader dropped is ignored (compatible)',
    reader: base,
    writer: record([field('id', 'long'), field('note', 'string')]),
    problems: [],
  },
  {
    name: 'two fields added without defaults give two problems',
    reader: record([field('id', 'long'), field('a', 'int'), field('b', 'int')]),
    writer: base,
    problems: [
      { rule: AvroRule.READER_FIELD_MISSING_DEFAULT_VALUE, location: '$.fields[1]' },
      { rule: AvroRule.READER_FIELD_MISSING_DEFAULT_VALUE, location: '$.fields[2]' },
    ],
  },
  { name: 'int is promoted to long', reader: record([field('n', 'long')]), writer: record([field('n', 'int')]), problems: [] },
  { name: 'int is promoted to float', reader: record([field('n', 'float')]), writer: record([field('n', 'int')]), problems: [] },
  { name: 'int is promoted to double', reader: record([field('n', 'double')]), writer: record([field('n', 'int')]), problems: [] },
  { name: 'long is promoted to float', reader: record([field('n', 'float')]), writer: record([field('n', 'long')]), problems: [] },
  { name: 'long is promoted to double', reader: record([field('n', 'double')]), writer: record([field('n', 'long')]), problems: [] },
  { name: 'float is promoted to double', reader: record([field('n', 'double')]), writer: record([field('n', 'float')]), problems: [] },
  { name: 'string is read as bytes', reader: record([field('s', 'bytes')]), writer: record([field('s', 'string')]), problems: [] },
  { name: 'bytes are read as string', reader: record([field('s', 'string')]), writer: record([field('s', 'bytes')]), problems: [] },
  {
    name: 'long narrowed to int is TYPE_MISMATCH at the field type',
    reader: record([field('n', 'int')]),
    writer: record([field('n', 'long')]),
    problems: [{ rule: AvroRule.TYPE_MISMATCH, location: '$.fields[0].type' }],
  },
  {
    name: 'double narrowed to float is TYPE_MISMATCH',
    reader: record([field('n', 'float')]),
    writer: record([field('n', 'double')]),
    problems: [{ rule: AvroRule.TYPE_MISMATCH, location: '$.fields[0].type' }],
  },
  {
    name: 'int changed to string is TYPE_MISMATCH',
    reader: record([field('id', 'long'), field('price', 'string')]),
    writer: record([field('id', 'long'), field('price', 'int')]),
    problems: [{ rule: AvroRule.TYPE_MISMATCH, location: '$.fields[1].type' }],
  },
  {
    name: 'a type change and a missing default are both reported',
    reader: record([field('id', 'string'), field('note', 'string')]),
    writer: base,
    problems: [
      { rule: AvroRule.TYPE_MISMATCH, location: '$.fields[0].type' },
      { rule: AvroRule.READER_FIELD_MISSING_DEFAULT_VALUE, location: '$.fields[1]' },
    ],
  },
  {
    name: 'a renamed field matched through a reader alias is compatible',
    reader: record([field('identifier', 'long', { aliases: ['id'] })]),
    writer: base,
    problems: [],
  },
  {
    name: 'a renamed field without an alias or default is READER_FIELD_MISSING_DEFAULT_VALUE',
    reader: record([field('identifier', 'long')]),
    writer: base,
    problems: [{ rule: AvroRule.READER_FIELD_MISSING_DEFAULT_VALUE, location: '$.fields[0]' }],
  },
  {
    name: 'a renamed record is NAME_MISMATCH',
    reader: { ...base, name: 'Purchase' },
    writer: base,
    problems: [{ rule: AvroRule.NAME_MISMATCH, location: '$.name' }],
  },
  {
    name: 'a renamed record with the old full name as alias is compatible',
    reader: { ...base, name: 'Purchase', aliases: ['acme.Order'] },
    writer: base,
    problems: [],
  },
  {
    name: 'a namespace-only change is NAME_MISMATCH (names compare with their namespace)',
    reader: { ...base, namespace: 'acme.v2' },
    writer: base,
    problems: [{ rule: AvroRule.NAME_MISMATCH, location: '$.name' }],
  },
  {
    name: 'enum symbols added in the reader are compatible',
    reader: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN', 'BLUE'] },
    writer: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN'] },
    problems: [],
  },
  {
    name: 'enum symbols the reader lacks are MISSING_ENUM_SYMBOLS',
    reader: { type: 'enum', name: 'Color', symbols: ['RED'] },
    writer: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN', 'BLUE'] },
    problems: [{ rule: AvroRule.MISSING_ENUM_SYMBOLS, location: '$.symbols' }],
  },
  {
    name: 'enum symbols the reader lacks are compatible when the reader enum has a default',
    reader: { type: 'enum', name: 'Color', symbols: ['UNKNOWN', 'RED'], default: 'UNKNOWN' },
    writer: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN'] },
    problems: [],
  },
  {
    name: 'a renamed enum is NAME_MISMATCH',
    reader: { type: 'enum', name: 'Colour', symbols: ['RED'] },
    writer: { type: 'enum', name: 'Color', symbols: ['RED'] },
    problems: [{ rule: AvroRule.NAME_MISMATCH, location: '$.name' }],
  },
  {
    name: 'a fixed of another size is FIXED_SIZE_MISMATCH',
    reader: record([field('hash', { type: 'fixed', name: 'Hash', size: 32 })]),
    writer: record([field('hash', { type: 'fixed', name: 'Hash', size: 16 })]),
    problems: [{ rule: AvroRule.FIXED_SIZE_MISMATCH, location: '$.fields[0].type.size' }],
  },
  {
    name: 'a renamed fixed is NAME_MISMATCH',
    reader: record([field('hash', { type: 'fixed', name: 'Digest', size: 16 })]),
    writer: record([field('hash', { type: 'fixed', name: 'Hash', size: 16 })]),
    problems: [{ rule: AvroRule.NAME_MISMATCH, location: '$.fields[0].type.name' }],
  },
  {
    name: 'a field widened into a union containing the writer type is compatible',
    reader: record([field('id', ['null', 'long'], { default: null })]),
    writer: base,
    problems: [],
  },
  {
    name: 'a union reading int through a long branch is compatible (promotion inside a union)',
    reader: record([field('n', ['null', 'long'])]),
    writer: record([field('n', 'int')]),
    problems: [],
  },
  {
    name: 'a reader union without a branch for the writer type is MISSING_UNION_BRANCH',
    reader: record([field('n', ['null', 'string'])]),
    writer: record([field('n', 'int')]),
    problems: [{ rule: AvroRule.MISSING_UNION_BRANCH, location: '$.fields[0].type' }],
  },
  {
    name: 'a writer union narrowed to one of its branches is TYPE_MISMATCH for the other branch',
    reader: record([field('n', 'string')]),
    writer: record([field('n', ['null', 'string'])]),
    problems: [{ rule: AvroRule.TYPE_MISMATCH, location: '$.fields[0].type' }],
  },
  {
    name: 'a writer union branch removed from the reader union is MISSING_UNION_BRANCH',
    reader: record([field('n', ['null', 'string'])]),
    writer: record([field('n', ['null', 'string', 'int'])]),
    problems: [{ rule: AvroRule.MISSING_UNION_BRANCH, location: '$.fields[0].type' }],
  },
  {
    name: 'a union branch added in the reader is compatible',
    reader: record([field('n', ['null', 'string', 'int'])]),
    writer: record([field('n', ['null', 'string'])]),
    problems: [],
  },
  {
    name: 'a record inside a union is compared field by field',
    reader: record([field('line', ['null', record([field('sku', 'string'), field('qty', 'int')], { name: 'Line' })])]),
    writer: record([field('line', ['null', record([field('sku', 'string')], { name: 'Line' })])]),
    problems: [{ rule: AvroRule.READER_FIELD_MISSING_DEFAULT_VALUE, location: '$.fields[0].type[1].fields[1]' }],
  },
  {
    name: 'a writer array is read through the array branch of the reader union',
    reader: record([field('xs', [{ type: 'array', items: 'int' }, { type: 'map', values: 'string' }, 'null'])]),
    writer: record([field('xs', { type: 'array', items: 'int' })]),
    problems: [],
  },
  {
    name: 'a renamed record inside a union is NAME_MISMATCH at the branch',
    reader: record([field('line', ['null', record([field('sku', 'string')], { name: 'Item' })])]),
    writer: record([field('line', ['null', record([field('sku', 'string')], { name: 'Line' })])]),
    problems: [{ rule: AvroRule.NAME_MISMATCH, location: '$.fields[0].type[1].name' }],
  },
  {
    name: 'array items are compared (int items promoted to long)',
    reader: record([field('xs', { type: 'array', items: 'long' })]),
    writer: record([field('xs', { type: 'array', items: 'int' })]),
    problems: [],
  },
  {
    name: 'array items narrowed are TYPE_MISMATCH at items',
    reader: record([field('xs', { type: 'array', items: 'int' })]),
    writer: record([field('xs', { type: 'array', items: 'string' })]),
    problems: [{ rule: AvroRule.TYPE_MISMATCH, location: '$.fields[0].type.items' }],
  },
  {
    name: 'map values narrowed are TYPE_MISMATCH at values',
    reader: record([field('m', { type: 'map', values: 'int' })]),
    writer: record([field('m', { type: 'map', values: 'double' })]),
    problems: [{ rule: AvroRule.TYPE_MISMATCH, location: '$.fields[0].type.values' }],
  },
  {
    name: 'an array read as a map is TYPE_MISMATCH',
    reader: record([field('m', { type: 'map', values: 'int' })]),
    writer: record([field('m', { type: 'array', items: 'int' })]),
    problems: [{ rule: AvroRule.TYPE_MISMATCH, location: '$.fields[0].type' }],
  },
  {
    name: 'a recursive record compared with itself terminates and is compatible',
    reader: { type: 'record', name: 'Node', fields: [field('value', 'long'), field('next', ['null', 'Node'], { default: null })] },
    writer: { type: 'record', name: 'Node', fields: [field('value', 'int'), field('next', ['null', 'Node'], { default: null })] },
    problems: [],
  },
  {
    name: 'a recursive record with an incompatible change reports it once',
    reader: { type: 'record', name: 'Node', fields: [field('value', 'int'), field('next', ['null', 'Node'], { default: null })] },
    writer: { type: 'record', name: 'Node', fields: [field('value', 'long'), field('next', ['null', 'Node'], { default: null })] },
    problems: [{ rule: AvroRule.TYPE_MISMATCH, location: '$.fields[0].type' }],
  },
  { name: 'a logical type is compared by its underlying type', reader: { type: 'long', logicalType: 'timestamp-millis' }, writer: 'int', problems: [] },
  {
    name: 'primitives of different kinds are TYPE_MISMATCH at the root',
    reader: 'boolean',
    writer: 'int',
    problems: [{ rule: AvroRule.TYPE_MISMATCH, location: '$' }],
  },
];

describe('schema registry > avro > compatibility (reader reads writer)', () => {
  for (const testCase of cases) {
    it(testCase.name, () => {
      expect(problemsOf(testCase.reader, testCase.writer)).toEqual(testCase.problems);
    });
  }

  it('explains a type change with the field name, both types and the location', () => {
    const [problem] = avroCompatibility(parse(record([field('id', 'long'), field('price', 'string')])), parse(record([field('id', 'long'), field('price', 'int')])));
    expect(problem?.message).toBe("field 'price' at $.fields[1].type: reader type string cannot read writer type int");
  });

  it('compares a schema parsed elsewhere (a plain ParsedSchema) by re-parsing its canonical text', () => {
    const writer = parse(base);
    const reader = { ...parse(record([field('id', 'long'), field('note', 'string')])) };
    expect(avroCompatibility(reader, writer).map((problem) => problem.rule)).toEqual([AvroRule.READER_FIELD_MISSING_DEFAULT_VALUE]);
  });
});

describe('schema registry > avro > parse', () => {
  it('gives the same canonical text whatever the whitespace and key order', () => {
    const a = parseAvro('{"type":"record","name":"Order","namespace":"acme","fields":[{"name":"id","type":"long"}]}', []);
    const b = parseAvro('{\n  "fields": [ { "type": "long", "name": "id" } ],\n  "namespace": "acme",\n  "name": "Order", "type": "record"\n}', []);
    expect(b.canonical).toBe(a.canonical);
    expect(a.canonical).toBe('{"fields":[{"name":"id","type":"long"}],"name":"Order","namespace":"acme","type":"record"}');
  });

  it('gives a different canonical text when a doc or a default changes', () => {
    const plain = parse(record([field('n', 'int', { default: 1 })]));
    expect(parse(record([field('n', 'int', { default: 2 })])).canonical).not.toBe(plain.canonical);
    expect(parse(record([field('n', 'int', { default: 1, doc: 'count' })])).canonical).not.toBe(plain.canonical);
    expect(parse(record([field('n', 'int', { default: 1 })], { doc: 'An order' })).canonical).not.toBe(plain.canonical);
  });

  it('keeps field order significant', () => {
    expect(parse(record([field('a', 'int'), field('b', 'int')])).canonical).not.toBe(parse(record([field('b', 'int'), field('a', 'int')])).canonical);
  });

  it('names the record by its full name, and has no record name for a primitive', () => {
    expect(parse(base).recordName).toBe('acme.Order');
    expect(parse({ type: 'enum', name: 'Color', namespace: 'x.y', symbols: ['A'] }).recordName).toBe('x.y.Color');
    expect(parse('string').recordName).toBeUndefined();
    expect(parse(base).schemaType).toBe(SchemaType.AVRO);
  });

  it('resolves named types from references, including references of references', () => {
    const money: ResolvedReference = {
      name: 'acme.Money', subject: 'money', version: 1, schemaType: SchemaType.AVRO, references: [],
      schema: JSON.stringify({ type: 'record', name: 'Money', namespace: 'acme', fields: [field('cents', 'long')] }),
    };
    const line: ResolvedReference = {
      name: 'acme.Line', subject: 'line', version: 2, schemaType: SchemaType.AVRO, references: [money],
      schema: JSON.stringify({ type: 'record', name: 'Line', namespace: 'acme', fields: [field('price', 'acme.Money')] }),
    };
    const order = parseAvro(JSON.stringify(record([field('lines', { type: 'array', items: 'acme.Line' }), field('total', 'acme.Money')])), [line, money]);
    expect(order.recordName).toBe('acme.Order');
    expect(order.references).toEqual([line, money]);
  });

  it('compares referenced types: a changed referenced record is a problem of the referring schema', () => {
    const moneyV1: ResolvedReference = {
      name: 'acme.Money', subject: 'money', version: 1, schemaType: SchemaType.AVRO, references: [],
      schema: JSON.stringify({ type: 'record', name: 'Money', namespace: 'acme', fields: [field('cents', 'long')] }),
    };
    const moneyV2: ResolvedReference = {
      ...moneyV1, version: 2,
      schema: JSON.stringify({ type: 'record', name: 'Money', namespace: 'acme', fields: [field('cents', 'long'), field('currency', 'string')] }),
    };
    const schema = JSON.stringify(record([field('total', 'acme.Money')]));
    const problems = avroCompatibility(parseAvro(schema, [moneyV2]), parseAvro(schema, [moneyV1]));
    expect(problems.map(({ rule, location }) => ({ rule, location }))).toEqual([
      { rule: AvroRule.READER_FIELD_MISSING_DEFAULT_VALUE, location: '$.fields[0].type.fields[1]' },
    ]);
  });

  const invalid: [string, string, RegExp][] = [
    ['malformed JSON', '{"type": "record", ', /not valid JSON/],
    ['a record without fields', '{"type":"record","name":"A"}', /fields/],
    ['an unknown type name', '{"type":"record","name":"A","fields":[{"name":"x","type":"acme.Missing"}]}', /acme\.Missing/],
    ['a default of the wrong type', '{"type":"record","name":"A","fields":[{"name":"x","type":"int","default":"one"}]}', /default/],
    ['an enum default that is not a symbol', '{"type":"enum","name":"E","symbols":["A"],"default":"B"}', /default/],
    ['a union with two null branches', '["null","null"]', /duplicate/],
    ['an unknown primitive', '"integer"', /integer/],
  ];
  for (const [what, schema, message] of invalid) {
    it(`refuses ${what} with an InvalidSchemaError`, () => {
      expect(() => parseAvro(schema, [])).toThrow(InvalidSchemaError);
      expect(() => parseAvro(schema, [])).toThrow(message);
    });
  }

  it('refuses a reference that is not an Avro schema', () => {
    const json: ResolvedReference = { name: 'acme.Money', subject: 'money', version: 1, schemaType: SchemaType.JSON, references: [], schema: '{}' };
    expect(() => parseAvro('"string"', [json])).toThrow(/not Avro/);
  });

  it('lets avsc decode data written with the writer through the reader when the walker says compatible', () => {
    const writer = parse(record([field('id', 'int')]));
    const reader = parse(record([field('id', 'long'), field('note', 'string', { default: 'none' })]));
    expect(avroCompatibility(reader, writer)).toEqual([]);
    const writerType = avroTypeOf(writer);
    const readerType = avroTypeOf(reader);
    const bytes = writerType.toBuffer({ id: 7 });
    expect({ ...(readerType.fromBuffer(bytes, readerType.createResolver(writerType)) as object) }).toEqual({ id: 7, note: 'none' });
    expect(avsc.Type.isType(readerType, 'record')).toBe(true);
  });
});
