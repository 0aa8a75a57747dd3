import { describe, expect, it } from 'vitest';
import { CompatibilityLevel, SCHEMA_TYPE_MISMATCH, checkCompatibility, formatFor } from './index.js';
import type { OlderVersion } from './index.js';
import { CompatibilityDirection, SchemaType } from './types.js';

const avro = (fields: Record<string, unknown>[]) => formatFor(SchemaType.AVRO).parse(JSON.stringify({ type: 'record', name: 'Order', fields }), []);
const f = (name: string, type: unknown, extra: Record<string, unknown> = {}) => ({ name, type, ...extra });

// Karapace's transitive scenario: v1 {f: string}, v2 {f: int}; the candidate {f: long} reads v2 (int → long)
// but not v1 (string → long).
const v1: OlderVersion = { version: 1, parsed: avro([f('f', 'string')]) };
const v2: OlderVersion = { version: 2, parsed: avro([f('f', 'int')]) };
const candidate = avro([f('f', 'long')]);

const verdict = (level: CompatibilityLevel, newer = candidate, olders: readonly OlderVersion[] = [v1, v2]) => {
  const result = checkCompatibility(level, newer, olders);
  return { compatible: result.compatible, found: result.problems.map((p) => `${p.rule}@${p.location} v${p.version} ${p.direction}`) };
};

describe('schema registry > formats > compatibility levels', () => {
  it('NONE accepts anything', () => {
    expect(verdict(CompatibilityLevel.NONE, avro([f('f', 'boolean')]))).toEqual({ compatible: true, found: [] });
  });

  it('BACKWARD compares with the latest version only: long reads v2 int', () => {
    expect(verdict(CompatibilityLevel.BACKWARD)).toEqual({ compatible: true, found: [] });
  });

  it('BACKWARD_TRANSITIVE compares with every version: long cannot read v1 string', () => {
    expect(verdict(CompatibilityLevel.BACKWARD_TRANSITIVE)).toEqual({
      compatible: false,
      found: ['TYPE_MISMATCH@$.fields[0].type v1 BACKWARD'],
    });
  });

  it('FORWARD checks that the latest version reads new data: int cannot read long', () => {
    expect(verdict(CompatibilityLevel.FORWARD)).toEqual({ compatible: false, found: ['TYPE_MISMATCH@$.fields[0].type v2 FORWARD'] });
  });

  it('FORWARD accepts a narrowing the old schema promotes: v2 long reads new int', () => {
    expect(verdict(CompatibilityLevel.FORWARD, avro([f('f', 'int')]), [{ version: 1, parsed: avro([f('f', 'long')]) }])).toEqual({ compatible: true, found: [] });
  });

  it('FORWARD_TRANSITIVE reports each older version that cannot read the new data', () => {
    expect(verdict(CompatibilityLevel.FORWARD_TRANSITIVE)).toEqual({
      compatible: false,
      found: ['TYPE_MISMATCH@$.fields[0].type v1 FORWARD', 'TYPE_MISMATCH@$.fields[0].type v2 FORWARD'],
    });
  });

  it('FULL checks both directions against the latest', () => {
    expect(verdict(CompatibilityLevel.FULL)).toEqual({ compatible: false, found: ['TYPE_MISMATCH@$.fields[0].type v2 FORWARD'] });
  });

  it('FULL accepts a field added with a default (readable both ways)', () => {
    const next = avro([f('f', 'int'), f('note', 'string', { default: '' })]);
    expect(verdict(CompatibilityLevel.FULL, next)).toEqual({ compatible: true, found: [] });
  });

  it('FULL refuses a field added without a default (old data lacks it)', () => {
    const next = avro([f('f', 'int'), f('note', 'string')]);
    expect(verdict(CompatibilityLevel.FULL, next)).toEqual({ compatible: false, found: ['READER_FIELD_MISSING_DEFAULT_VALUE@$.fields[1] v2 BACKWARD'] });
  });

  it('FULL accepts removing a field that had a default (old readers fill it in)', () => {
    const withDefault: OlderVersion = { version: 4, parsed: avro([f('f', 'int'), f('note', 'string', { default: '' })]) };
    expect(verdict(CompatibilityLevel.FULL, avro([f('f', 'int')]), [withDefault])).toEqual({ compatible: true, found: [] });
  });

  it('FULL refuses removing a field without a default (old readers cannot fill it in)', () => {
    const without: OlderVersion = { version: 4, parsed: avro([f('f', 'int'), f('note', 'string')]) };
    expect(verdict(CompatibilityLevel.FULL, avro([f('f', 'int')]), [without])).toEqual({
      compatible: false,
      found: ['READER_FIELD_MISSING_DEFAULT_VALUE@$.fields[1] v4 FORWARD'],
    });
  });

  it('works on parsed schemas the store copied (structured clone keeps only the plain fields)', () => {
    for (const type of [SchemaType.AVRO, SchemaType.PROTOBUF, SchemaType.JSON]) {
      const text = type === SchemaType.AVRO ? '"int"' : type === SchemaType.PROTOBUF ? 'syntax = "proto3";\nmessage M { int32 a = 1; }' : '{"type":"integer"}';
      const newer = type === SchemaType.AVRO ? '"string"' : type === SchemaType.PROTOBUF ? 'syntax = "proto3";\nmessage M { string a = 1; }' : '{"type":"string"}';
      const older = structuredClone(formatFor(type).parse(text, []));
      expect(checkCompatibility(CompatibilityLevel.BACKWARD, structuredClone(formatFor(type).parse(newer, [])), [{ version: 1, parsed: older }]).compatible).toBe(false);
    }
  });

  it('FULL_TRANSITIVE checks both directions against every version', () => {
    expect(verdict(CompatibilityLevel.FULL_TRANSITIVE)).toEqual({
      compatible: false,
      found: ['TYPE_MISMATCH@$.fields[0].type v1 BACKWARD', 'TYPE_MISMATCH@$.fields[0].type v1 FORWARD', 'TYPE_MISMATCH@$.fields[0].type v2 FORWARD'],
    });
  });

  it('is compatible at every level when there is no older version', () => {
    for (const level of Object.values(CompatibilityLevel)) {
      expect(checkCompatibility(level, candidate, [])).toEqual({ compatible: true, problems: [] });
    }
  });

  it('refuses a change of schema type at every level but NONE, naming the version', () => {
    const json = formatFor(SchemaType.JSON).parse('{"type":"object"}', []);
    const result = checkCompatibility(CompatibilityLevel.BACKWARD, json, [v2]);
    expect(result.compatible).toBe(false);
    expect(result.problems).toEqual([
      expect.objectContaining({ rule: SCHEMA_TYPE_MISMATCH, version: 2, direction: CompatibilityDirection.BACKWARD }),
    ]);
    expect(result.problems[0]?.message).toContain('from AVRO to JSON');
    expect(checkCompatibility(CompatibilityLevel.NONE, json, [v2]).compatible).toBe(true);
  });

  it('says in each message which version and direction found the problem', () => {
    const [problem] = checkCompatibility(CompatibilityLevel.FORWARD, candidate, [v2]).problems;
    expect(problem?.message).toBe("field 'f' at $.fields[0].type: reader type int cannot read writer type long (version 2 reading data written with the new schema)");
  });

  it('runs the levels for Protobuf and JSON Schema too', () => {
    const proto = (body: string) => formatFor(SchemaType.PROTOBUF).parse(`syntax = "proto3";\nmessage M { ${body} }`, []);
    const older: OlderVersion = { version: 3, parsed: proto('int32 a = 1;') };
    expect(checkCompatibility(CompatibilityLevel.FULL, proto('int64 a = 1; string b = 2;'), [older]).compatible).toBe(true);
    expect(checkCompatibility(CompatibilityLevel.BACKWARD, proto('string a = 1;'), [older]).problems.map((p) => p.rule)).toEqual(['FIELD_SCALAR_KIND_CHANGED']);

    const json = (schema: Record<string, unknown>) => formatFor(SchemaType.JSON).parse(JSON.stringify(schema), []);
    const closedV1: OlderVersion = { version: 1, parsed: json({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }) };
    const closedV2 = json({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } }, additionalProperties: false });
    expect(checkCompatibility(CompatibilityLevel.BACKWARD, closedV2, [closedV1]).compatible).toBe(true);
    // Forward: the old closed schema rejects new data carrying 'b'.
    expect(checkCompatibility(CompatibilityLevel.FORWARD, closedV2, [closedV1]).problems.map((p) => p.rule)).toEqual(['PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL']);
  });

  it('gives each schema type its own format', () => {
    expect(formatFor(SchemaType.AVRO).schemaType).toBe(SchemaType.AVRO);
    expect(formatFor(SchemaType.PROTOBUF).schemaType).toBe(SchemaType.PROTOBUF);
    expect(formatFor(SchemaType.JSON).schemaType).toBe(SchemaType.JSON);
  });
});
