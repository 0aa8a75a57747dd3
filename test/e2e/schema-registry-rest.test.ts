/**
 * The schema registry's REST API against a running `streambus dev`, scenario by scenario as
 * reference/schema-registry.md §6 lists them (raw HTTP; the real clients are in
 * schema-registry-clients.test.ts). Each error case states Confluent's code.
 *
 * One server for the file; each test uses its own subjects and sets levels per subject, so the
 * tests do not depend on each other's order (scenario 1 runs first, on the fresh registry).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../support/dev-server.js';

const V1 = 'application/vnd.schemaregistry.v1+json';
let server: DevServer;

beforeAll(async () => {
  server = await startDevServer();
}, 60_000);

afterAll(async () => {
  await server?.dispose();
});

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly type: string | null;
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${server.registryUrl}${path}`, {
    method,
    headers: { 'content-type': V1, ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // A raw schema text (the /schema routes).
  }
  return { status: response.status, body: parsed, type: response.headers.get('content-type') };
}

/** Expects an error answer with this HTTP status and Confluent code. */
async function fails(answer: Promise<Answer>, status: number, code: number): Promise<string> {
  const a = await answer;
  expect({ status: a.status, code: (a.body as { error_code?: number }).error_code }).toEqual({ status, code });
  return (a.body as { message: string }).message;
}

const avro = (name: string, fields: object[], extra: object = {}): string => JSON.stringify({ type: 'record', name, namespace: 'acme', fields, ...extra });
const register = (subject: string, schema: string, more: object = {}): Promise<Answer> => call('POST', `/subjects/${subject}/versions`, { schema, ...more });
const setLevel = (subject: string, level: string): Promise<Answer> => call('PUT', `/config/${subject}`, { compatibility: level });

describe('schema registry REST > a fresh registry', () => {
  it('lists no subjects, answers BACKWARD globally and serves the three types (scenario 1)', async () => {
    expect((await call('GET', '/subjects')).body).toEqual([]);
    const config = await call('GET', '/config');
    expect(config.body).toEqual({ compatibilityLevel: 'BACKWARD' });
    expect(config.type).toBe(V1);
    expect(((await call('GET', '/schemas/types')).body as string[]).sort()).toEqual(['AVRO', 'JSON', 'PROTOBUF']);
    expect((await call('GET', '/')).body).toEqual({});
  });
});

describe('schema registry REST > identity', () => {
  it('registers an Avro record, answers it by version, latest and id (scenario 2)', async () => {
    const schema = avro('Order', [{ name: 'id', type: 'long' }]);
    const { status, body } = await register('s2-value', schema);
    expect(status).toBe(200);
    expect(body).toEqual({ id: expect.any(Number) });
    const id = (body as { id: number }).id;
    expect((await call('GET', '/subjects/s2-value/versions')).body).toEqual([1]);
    expect((await call('GET', '/subjects/s2-value/versions/latest')).body).toEqual({ subject: 's2-value', version: 1, id, schema });
    expect((await call('GET', '/subjects/s2-value/versions/-1')).body).toMatchObject({ version: 1, id });
    expect((await call('GET', `/schemas/ids/${id}`)).body).toEqual({ schema });
    expect((await call('GET', `/schemas/ids/${id}/schema`)).body).toEqual(JSON.parse(schema));
  });

  it('gives the same id to the same schema with other whitespace and key order, and across subjects (scenarios 3, 4)', async () => {
    const schema = avro('Payment', [{ name: 'amount', type: 'double' }]);
    const id = ((await register('s3-value', schema)).body as { id: number }).id;
    const reordered = JSON.stringify({ fields: [{ type: 'double', name: 'amount' }], namespace: 'acme', name: 'Payment', type: 'record' }, null, 4);
    expect((await register('s3-value', reordered)).body).toEqual({ id });
    expect((await call('GET', '/subjects/s3-value/versions')).body).toEqual([1]);
    expect((await register('s4-value', schema)).body).toEqual({ id });
    expect((await call('GET', `/schemas/ids/${id}/versions`)).body).toEqual([
      { subject: 's3-value', version: 1 },
      { subject: 's4-value', version: 1 },
    ]);
    expect((await call('GET', `/schemas/ids/${id}/subjects`)).body).toEqual(['s3-value', 's4-value']);
  });

  it('looks a schema up in a subject: found, 40403 when not registered, 40401 for an unknown subject (scenario 5)', async () => {
    const schema = avro('Lookup', [{ name: 'a', type: 'string' }]);
    const id = ((await register('s5-value', schema)).body as { id: number }).id;
    expect((await call('POST', '/subjects/s5-value', { schema })).body).toEqual({ subject: 's5-value', id, version: 1, schema });
    expect(await fails(call('POST', '/subjects/s5-value', { schema: avro('Lookup', [{ name: 'b', type: 'string' }]) }), 404, 40403)).toBe('Schema not found');
    expect(await fails(call('POST', '/subjects/nobody', { schema }), 404, 40401)).toBe("Subject 'nobody' not found.");
  });
});

describe('schema registry REST > bad input', () => {
  it('answers 42201 for invalid Avro, malformed JSON, a bad .proto, an invalid JSON Schema and an unknown schemaType (scenario 6)', async () => {
    await fails(register('s6', JSON.stringify({ type: 'record', name: 'NoFields' })), 422, 42201);
    await fails(register('s6', '{"type": "record", "name": '), 422, 42201);
    await fails(register('s6', 'message M { int32 a = ; }', { schemaType: 'PROTOBUF' }), 422, 42201);
    await fails(register('s6', JSON.stringify({ type: 'object', properties: { a: { type: 'no-such-type' } } }), { schemaType: 'JSON' }), 422, 42201);
    await fails(register('s6', avro('X', [{ name: 'a', type: 'int' }]), { schemaType: 'AVROO' }), 422, 42201);
  });

  it('answers 42202 for version 0 and abc, 40402 for a version that does not exist (scenario 7)', async () => {
    await register('s7-value', avro('Seven', [{ name: 'a', type: 'int' }]));
    await fails(call('GET', '/subjects/s7-value/versions/0'), 422, 42202);
    await fails(call('GET', '/subjects/s7-value/versions/abc'), 422, 42202);
    expect(await fails(call('GET', '/subjects/s7-value/versions/99'), 404, 40402)).toBe('Version 99 not found.');
  });

  it('refuses a foreign content type (415) and an Accept it cannot satisfy (406); takes application/json and octet-stream', async () => {
    const schema = avro('Types', [{ name: 'a', type: 'int' }]);
    await fails(call('POST', '/subjects/ct/versions', { schema }, { 'content-type': 'text/plain' }), 415, 415);
    await fails(call('GET', '/subjects', undefined, { accept: 'text/html' }), 406, 406);
    expect((await call('POST', '/subjects/ct/versions', { schema }, { 'content-type': 'application/json' })).status).toBe(200);
    expect((await call('POST', '/subjects/ct/versions', { schema }, { 'content-type': 'application/octet-stream' })).status).toBe(200);
    expect((await call('GET', '/subjects', undefined, { accept: 'application/json' })).type).toBe('application/json');
  });
});

describe('schema registry REST > Avro compatibility', () => {
  it('takes a field with a default under BACKWARD, refuses one without with 409 and explains why when verbose (scenario 8)', async () => {
    await register('s8-value', avro('Order', [{ name: 'id', type: 'long' }]));
    expect((await register('s8-value', avro('Order', [{ name: 'id', type: 'long' }, { name: 'note', type: 'string', default: '' }]))).status).toBe(200);
    const message = await fails(register('s8-value', avro('Order', [{ name: 'id', type: 'long' }, { name: 'qty', type: 'int' }])), 409, 409);
    expect(message).toContain('Schema being registered is incompatible with an earlier schema for subject "s8-value"');
    expect(message).toContain('READER_FIELD_MISSING_DEFAULT_VALUE');
    const verdict = await call('POST', '/compatibility/subjects/s8-value/versions/latest?verbose=true', { schema: avro('Order', [{ name: 'id', type: 'long' }, { name: 'qty', type: 'int' }]) });
    expect(verdict.body).toMatchObject({ is_compatible: false });
    const messages = (verdict.body as { messages: string[] }).messages;
    expect(messages.some((m) => m.includes('READER_FIELD_MISSING_DEFAULT_VALUE') && m.includes('qty'))).toBe(true);
    expect((await call('POST', '/compatibility/subjects/s8-value/versions/latest', { schema: avro('Order', [{ name: 'id', type: 'long' }]) })).body).toEqual({ is_compatible: true });
  });

  it('promotes int to long under BACKWARD but not long to int, and the reverse under FORWARD (scenario 9)', async () => {
    const int = avro('N', [{ name: 'n', type: 'int' }]);
    const long = avro('N', [{ name: 'n', type: 'long' }]);
    const test = async (subject: string, schema: string): Promise<unknown> => (await call('POST', `/compatibility/subjects/${subject}/versions/latest`, { schema })).body;
    await register('s9-int', int);
    await register('s9-long', long);
    expect(await test('s9-int', long)).toEqual({ is_compatible: true });
    expect(await test('s9-long', int)).toEqual({ is_compatible: false });
    await setLevel('s9-int', 'FORWARD');
    await setLevel('s9-long', 'FORWARD');
    expect(await test('s9-int', long)).toEqual({ is_compatible: false });
    expect(await test('s9-long', int)).toEqual({ is_compatible: true });
  });

  it('checks every live version when transitive, and forgets soft-deleted ones (scenario 10)', async () => {
    await setLevel('s10', 'NONE');
    await register('s10', avro('F', [{ name: 'f', type: 'string' }]));
    await register('s10', avro('F', [{ name: 'f', type: 'int' }]));
    const v3 = { schema: avro('F', [{ name: 'f', type: 'long' }]) };
    await setLevel('s10', 'BACKWARD');
    expect((await call('POST', '/compatibility/subjects/s10/versions/latest', v3)).body).toEqual({ is_compatible: true });
    await setLevel('s10', 'BACKWARD_TRANSITIVE');
    expect((await call('POST', '/compatibility/subjects/s10/versions/latest', v3)).body).toEqual({ is_compatible: false });
    expect((await call('DELETE', '/subjects/s10/versions/1')).body).toBe(1);
    expect((await call('POST', '/compatibility/subjects/s10/versions/latest', v3)).body).toEqual({ is_compatible: true });
  });

  it('under FULL takes an optional field with a default, refuses a required one, takes removing a defaulted one (scenario 11)', async () => {
    await setLevel('s11', 'FULL');
    const a = { name: 'a', type: 'int' };
    const b = { name: 'b', type: 'string', default: '' };
    const d = { name: 'd', type: ['null', 'string'], default: null };
    await register('s11', avro('Full', [a, b]));
    expect((await register('s11', avro('Full', [a, b, d]))).status).toBe(200);
    await fails(register('s11', avro('Full', [a, b, d, { name: 'c', type: 'int' }])), 409, 409);
    expect((await register('s11', avro('Full', [a, d]))).status).toBe(200);
    expect((await call('GET', '/subjects/s11/versions')).body).toEqual([1, 2, 3]);
  });

  it('under NONE takes a change of a field\'s type as a new version (scenario 12)', async () => {
    await setLevel('s12', 'NONE');
    await register('s12', avro('None', [{ name: 'a', type: 'int' }]));
    expect((await register('s12', avro('None', [{ name: 'a', type: 'string' }]))).status).toBe(200);
    expect((await call('GET', '/subjects/s12/versions')).body).toEqual([1, 2]);
  });
});

describe('schema registry REST > Protobuf and JSON Schema', () => {
  const proto = (body: string, pkg = 'acme'): string => `syntax = "proto3";\npackage ${pkg};\n${body}\n`;

  it('judges Protobuf changes under BACKWARD as Confluent does (scenario 13)', async () => {
    const base = proto('message Order { int32 id = 1; string note = 2; }\nmessage Extra { int32 x = 1; }');
    await register('s13', base, { schemaType: 'PROTOBUF' });
    const test = async (schema: string): Promise<unknown> =>
      ((await call('POST', '/compatibility/subjects/s13/versions/latest', { schema, schemaType: 'PROTOBUF' })).body as { is_compatible: boolean }).is_compatible;
    expect(await test(proto('message Order { int32 id = 1; string note = 2; int64 added = 3; }\nmessage Extra { int32 x = 1; }'))).toBe(true);
    expect(await test(proto('message Order { int64 id = 1; string note = 2; }\nmessage Extra { int32 x = 1; }'))).toBe(true);
    expect(await test(proto('message Order { int32 id = 1; int32 note = 2; }\nmessage Extra { int32 x = 1; }'))).toBe(false);
    expect(await test(proto('message Order { int32 id = 1; string note = 2; }'))).toBe(false);
    expect(await test(proto('message Order { int32 id = 1; string note = 2; }\nmessage Extra { int32 x = 1; }', 'other'))).toBe(false);
    expect(await test(proto('message Order { int32 id = 1; string note = 3; }\nmessage Extra { int32 x = 1; }'))).toBe(true);
  });

  it('refuses a Protobuf field that reuses a reserved number with 42201 (scenario 14)', async () => {
    await fails(register('s14', proto('message R { reserved 2; int32 a = 2; }'), { schemaType: 'PROTOBUF' }), 422, 42201);
  });

  it('judges JSON Schema content models and constraints under BACKWARD (scenario 15)', async () => {
    const open = { type: 'object', properties: { a: { type: 'string', maxLength: 20 } } };
    const closed = { ...open, additionalProperties: false };
    const test = async (subject: string, schema: object): Promise<boolean> =>
      ((await call('POST', `/compatibility/subjects/${subject}/versions/latest`, { schema: JSON.stringify(schema), schemaType: 'JSON' })).body as { is_compatible: boolean }).is_compatible;
    await register('s15-open', JSON.stringify(open), { schemaType: 'JSON' });
    await register('s15-closed', JSON.stringify(closed), { schemaType: 'JSON' });
    await register('s15-len', JSON.stringify({ type: 'object', properties: { a: { type: 'string', maxLength: 10 } } }), { schemaType: 'JSON' });
    expect(await test('s15-open', { ...open, properties: { ...open.properties, b: { type: 'integer' } } })).toBe(false);
    expect(await test('s15-closed', { ...closed, properties: { ...closed.properties, b: { type: 'integer' } } })).toBe(true);
    expect(await test('s15-closed', { ...closed, required: ['a'] })).toBe(false);
    expect(await test('s15-len', open)).toBe(true);
    expect(await test('s15-open', { type: 'object', properties: { a: { type: 'string', maxLength: 10 } } })).toBe(false);
  });
});

describe('schema registry REST > config', () => {
  it('sets, reads and removes a subject\'s level; 40408 without one; 42203 for a bad level (scenario 16)', async () => {
    expect((await setLevel('s16', 'NONE')).body).toEqual({ compatibility: 'NONE' });
    expect((await call('GET', '/config/s16')).body).toEqual({ compatibilityLevel: 'NONE' });
    await fails(call('GET', '/config/s16-other'), 404, 40408);
    expect((await call('GET', '/config/s16-other?defaultToGlobal=true')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
    expect((await call('DELETE', '/config/s16')).body).toEqual({ compatibilityLevel: 'NONE' });
    await fails(call('GET', '/config/s16'), 404, 40408);
    await fails(setLevel('s16', 'SIDEWAYS'), 422, 42203);
  });

  it('READONLY refuses registration with 42205; IMPORT needs force on a subject with schemas and takes explicit ids', async () => {
    await register('mode-a', avro('M', [{ name: 'a', type: 'int' }]));
    expect((await call('PUT', '/mode/mode-a', { mode: 'READONLY' })).body).toEqual({ mode: 'READONLY' });
    await fails(register('mode-a', avro('M', [{ name: 'a', type: 'int' }, { name: 'b', type: 'int', default: 0 }])), 422, 42205);
    expect((await call('GET', '/mode/mode-a')).body).toEqual({ mode: 'READONLY' });
    await fails(call('GET', '/mode/mode-none'), 404, 40409);
    await fails(call('PUT', '/mode/mode-a', { mode: 'IMPORT' }), 422, 42205);
    await fails(call('PUT', '/mode/mode-a', { mode: 'SIDEWAYS' }), 422, 42204);
    expect((await call('PUT', '/mode/mode-b', { mode: 'IMPORT' })).status).toBe(200);
    expect((await register('mode-b', avro('Imported', [{ name: 'a', type: 'int' }]), { id: 5000, version: 3 })).body).toEqual({ id: 5000 });
    expect((await call('GET', '/subjects/mode-b/versions/3')).body).toMatchObject({ id: 5000, version: 3 });
    await fails(register('mode-b', avro('Other', [{ name: 'z', type: 'int' }]), { id: 5000, version: 4 }), 422, 42207);
    expect((await call('GET', '/mode')).body).toEqual({ mode: 'READWRITE' });
  });
});

describe('schema registry REST > references', () => {
  it('resolves Avro references, lists referrers, and refuses a missing reference with 42201 (scenario 17)', async () => {
    await register('address', avro('Address', [{ name: 'city', type: 'string' }]));
    const person = avro('Person', [{ name: 'home', type: 'acme.Address' }]);
    const references = [{ name: 'acme.Address', subject: 'address', version: 1 }];
    const { id } = (await register('person', person, { references })).body as { id: number };
    expect((await call('GET', '/subjects/person/versions/1')).body).toMatchObject({ references });
    expect((await call('GET', '/subjects/address/versions/1/referencedby')).body).toEqual([id]);
    await fails(register('person2', person, { references: [{ name: 'acme.Address', subject: 'nowhere', version: 1 }] }), 422, 42201);
  });

  it('blocks deleting a referenced Protobuf schema while any referrer remains, even soft-deleted (scenario 18)', async () => {
    await register('b', 'syntax = "proto3";\npackage acme;\nmessage B { string v = 1; }\n', { schemaType: 'PROTOBUF' });
    const a = 'syntax = "proto3";\npackage acme;\nimport "acme/b.proto";\nmessage A { acme.B b = 1; }\n';
    expect((await register('a', a, { schemaType: 'PROTOBUF', references: [{ name: 'acme/b.proto', subject: 'b', version: 1 }] })).status).toBe(200);
    await fails(call('DELETE', '/subjects/b/versions/1'), 422, 42206);
    expect((await call('DELETE', '/subjects/a/versions/1')).body).toBe(1);
    await fails(call('DELETE', '/subjects/b/versions/1'), 422, 42206);
    expect((await call('DELETE', '/subjects/a/versions/1?permanent=true')).body).toBe(1);
    expect((await call('DELETE', '/subjects/b/versions/1')).body).toBe(1);
  });

  it('accepts Protobuf as a base64 FileDescriptorProto and gives it back with format=serialized (scenario 19)', async () => {
    const text = 'syntax = "proto3";\npackage acme;\nmessage Ser { string name = 1; int64 n = 2; }\n';
    const { id } = (await register('s19-text', text, { schemaType: 'PROTOBUF' })).body as { id: number };
    const serialized = (await call('GET', `/schemas/ids/${id}?format=serialized`)).body as { schema: string; schemaType: string };
    expect(serialized.schemaType).toBe('PROTOBUF');
    expect(serialized.schema).toMatch(/^[A-Za-z0-9+/]+=*$/);
    // The descriptor registered elsewhere is the same schema: the same id.
    expect((await register('s19-serialized', serialized.schema, { schemaType: 'PROTOBUF' })).body).toEqual({ id });
    const back = (await call('GET', '/subjects/s19-serialized/versions/1')).body as { schema: string };
    expect(back.schema).toContain('message Ser');
    expect(((await call('GET', '/subjects/s19-serialized/versions/1?format=serialized')).body as { schema: string }).schema).toBe(serialized.schema);
  });
});

describe('schema registry REST > deletes', () => {
  it('walks a version through soft and permanent delete in Confluent\'s order (scenario 20)', async () => {
    await setLevel('s20', 'NONE');
    const { id } = (await register('s20', avro('D', [{ name: 'a', type: 'int' }]))).body as { id: number };
    await register('s20', avro('D', [{ name: 'a', type: 'string' }]));
    expect((await call('DELETE', '/subjects/s20/versions/1')).body).toBe(1);
    await fails(call('GET', '/subjects/s20/versions/1'), 404, 40402);
    expect((await call('GET', '/subjects/s20/versions/1?deleted=true')).body).toMatchObject({ id, version: 1 });
    expect((await call('GET', `/schemas/ids/${id}`)).status).toBe(200);
    await fails(call('DELETE', '/subjects/s20/versions/1'), 404, 40406);
    await fails(call('DELETE', '/subjects/s20/versions/2?permanent=true'), 404, 40407);
    expect((await call('DELETE', '/subjects/s20/versions/1?permanent=true')).body).toBe(1);
    await fails(call('DELETE', '/subjects/s20/versions/1?permanent=true'), 404, 40402);
    expect((await call('GET', '/subjects/s20/versions?deleted=true')).body).toEqual([2]);
  });

  it('walks a subject through soft and permanent delete, dropping its level; the same schema gets its id back (scenario 21)', async () => {
    await setLevel('s21', 'NONE');
    const { id } = (await register('s21', avro('S', [{ name: 'a', type: 'int' }]))).body as { id: number };
    await register('s21', avro('S', [{ name: 'a', type: 'string' }]));
    expect((await call('DELETE', '/subjects/s21')).body).toEqual([1, 2]);
    await fails(call('GET', '/subjects/s21/versions'), 404, 40401);
    expect((await call('GET', '/subjects?deleted=true')).body).toContain('s21');
    expect((await call('GET', '/subjects')).body).not.toContain('s21');
    await fails(call('DELETE', '/subjects/s21'), 404, 40404);
    expect((await call('DELETE', '/subjects/s21?permanent=true')).body).toEqual([1, 2]);
    await fails(call('GET', '/config/s21'), 404, 40408);
    const again = await register('s21', avro('S', [{ name: 'a', type: 'int' }]));
    expect(again.body).toEqual({ id });
    expect((await call('GET', '/subjects/s21/versions')).body).toEqual([1]);
  });

  it('refuses to delete a subject permanently before a soft delete with 40405, and an unknown one with 40401', async () => {
    await register('s21b', avro('P', [{ name: 'a', type: 'int' }]));
    await fails(call('DELETE', '/subjects/s21b?permanent=true'), 404, 40405);
    await fails(call('DELETE', '/subjects/never-was'), 404, 40401);
  });
});
