/**
 * `streambus schema ...` against a running `streambus dev`: register, get, list, check, diff,
 * delete and compat get/set, in human and --json output, with schema files on disk. `check` and
 * `diff` must name every incompatibility with its location and rule.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, runCli } from '../../cli/run.js';
import { type DevServer, startDevServer } from '../support/dev-server.js';

let server: DevServer;
let dir: string;

beforeAll(async () => {
  server = await startDevServer();
  dir = await mkdtemp(path.join(tmpdir(), 'streambus-schema-cli-'));
}, 60_000);

afterAll(async () => {
  await server?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function cli(argv: readonly string[], stdin: readonly string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await runCli([...argv, '--registry', server.registryUrl], { stdout, stderr, stdin: Readable.from(stdin), env: {} });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function json<T>(...argv: string[]): Promise<T> {
  const run = await cli([...argv, '--json']);
  expect(run.code, run.stderr + run.stdout).toBe(ExitCode.OK);
  return JSON.parse(run.stdout.split('\n')[0]!) as T;
}

async function file(name: string, content: object | string): Promise<string> {
  const at = path.join(dir, name);
  await writeFile(at, typeof content === 'string' ? content : JSON.stringify(content));
  return at;
}

const order = (fields: object[]): object => ({ type: 'record', name: 'Order', namespace: 'acme', fields });
const v1 = order([{ name: 'id', type: 'long' }, { name: 'price', type: 'int' }]);
const v2 = order([{ name: 'id', type: 'long' }, { name: 'price', type: 'int' }, { name: 'note', type: 'string', default: '' }]);
const bad = order([{ name: 'id', type: 'long' }, { name: 'price', type: 'string' }, { name: 'qty', type: 'int' }]);

describe('schema cli > register, get, list', () => {
  it('registers from a file and from stdin, and shows the schema by subject and by id', async () => {
    const registered = await json<{ subject: string; id: number; version: number }>('schema', 'register', 'cli-orders', '--file', await file('v1.avsc', v1));
    expect(registered).toMatchObject({ subject: 'cli-orders', version: 1, schemaType: 'AVRO' });
    const fromStdin = await cli(['schema', 'register', 'cli-orders'], [JSON.stringify(v2)]);
    expect(fromStdin.code, fromStdin.stderr).toBe(ExitCode.OK);
    expect(fromStdin.stdout).toMatch(/Registered cli-orders version 2 \(schema id \d+\)\./);
    const latest = await json<{ version: number; schema: string }>('schema', 'get', 'cli-orders');
    expect(latest.version).toBe(2);
    expect(JSON.parse(latest.schema)).toEqual(v2);
    const byId = await json<{ id: number; versions: unknown[] }>('schema', 'get', '--id', String(registered.id));
    expect(byId.versions).toEqual([{ subject: 'cli-orders', version: 1 }]);
    const human = await cli(['schema', 'get', 'cli-orders', '1']);
    expect(human.stdout).toContain('"name": "price"');
    const listed = await json<{ subjects: { subject: string; version: number }[] }>('schema', 'list', '--prefix', 'cli-');
    expect(listed.subjects).toEqual([{ subject: 'cli-orders', version: 2, id: expect.any(Number), schemaType: 'AVRO' }]);
  });

  it('fails with the registry\'s code for an unknown subject, and with a usage error for a bad --type', async () => {
    const missing = await cli(['schema', 'get', 'cli-nobody', '--json']);
    expect(missing.code).toBe(ExitCode.FAILED);
    expect(missing.stdout).toContain("Subject 'cli-nobody' not found.");
    const usage = await cli(['schema', 'register', 'x', '--type', 'XML', '--file', await file('x.avsc', v1)]);
    expect(usage.code).toBe(ExitCode.USAGE);
  });
});

describe('schema cli > check and diff', () => {
  it('check lists every problem with its location and rule, and exits 1 when incompatible', async () => {
    const ok = await cli(['schema', 'check', 'cli-orders', '--file', await file('ok.avsc', v2)]);
    expect(ok.code, ok.stderr).toBe(ExitCode.OK);
    expect(ok.stdout).toContain('Compatible with cli-orders.');
    const refused = await cli(['schema', 'check', 'cli-orders', '--file', await file('bad.avsc', bad), '--json']);
    expect(refused.code).toBe(ExitCode.FAILED);
    const verdict = JSON.parse(refused.stdout.split('\n')[0]!) as { compatible: boolean; problems: { rule: string; location: string; description: string }[] };
    expect(verdict.compatible).toBe(false);
    const rules = verdict.problems.map((p) => p.rule).sort();
    expect(rules).toEqual(['READER_FIELD_MISSING_DEFAULT_VALUE', 'TYPE_MISMATCH']);
    expect(verdict.problems.every((p) => p.location !== '' && p.description !== '')).toBe(true);
    const human = await cli(['schema', 'check', 'cli-orders', '--file', await file('bad.avsc', bad)]);
    expect(human.stdout).toContain('Incompatible with cli-orders: 2 problems');
    expect(human.stdout).toMatch(/TYPE_MISMATCH: .*price/);
  });

  it('diff shows what breaks each way between two versions and against a file', async () => {
    const between = await json<{ backwardCompatible: boolean; forwardCompatible: boolean }>('schema', 'diff', 'cli-orders', '1', '2');
    expect(between).toMatchObject({ from: 1, to: 2, backwardCompatible: true, forwardCompatible: true });
    const against = await json<{ backward: { rule: string; location: string }[]; forward: { rule: string }[] }>(
      'schema', 'diff', 'cli-orders', '2', '--file', await file('bad2.avsc', bad),
    );
    expect(against.backward.map((p) => p.rule).sort()).toEqual(['READER_FIELD_MISSING_DEFAULT_VALUE', 'TYPE_MISMATCH']);
    expect(against.forward.map((p) => p.rule)).toContain('TYPE_MISMATCH');
    const human = await cli(['schema', 'diff', 'cli-orders', '2', '--file', await file('bad2.avsc', bad)]);
    expect(human.stdout).toContain('BACKWARD (the newer reads the older): 2 problems');
  });
});

describe('schema cli > compat and delete', () => {
  it('sets, shows and resets a subject\'s level', async () => {
    expect(await json('schema', 'compat', 'get', 'cli-orders')).toEqual({ subject: 'cli-orders', compatibility: 'BACKWARD', scope: 'global' });
    expect(await json('schema', 'compat', 'set', 'full', 'cli-orders')).toEqual({ subject: 'cli-orders', compatibility: 'FULL' });
    expect(await json('schema', 'compat', 'get', 'cli-orders')).toEqual({ subject: 'cli-orders', compatibility: 'FULL', scope: 'subject' });
    expect(await json('schema', 'compat', 'set', '--reset', 'cli-orders')).toEqual({ subject: 'cli-orders', reset: true, previous: 'FULL' });
    const badLevel = await cli(['schema', 'compat', 'set', 'SIDEWAYS', 'cli-orders', '--json']);
    expect(badLevel.code).toBe(ExitCode.FAILED);
    expect(badLevel.stdout).toContain('Invalid compatibility level');
  });

  it('soft-deletes a version, then permanently; a subject likewise', async () => {
    expect(await json('schema', 'delete', 'cli-orders', '1')).toEqual({ subject: 'cli-orders', versions: [1], permanent: false });
    expect(await json('schema', 'delete', 'cli-orders', '1', '--permanent')).toEqual({ subject: 'cli-orders', versions: [1], permanent: true });
    const human = await cli(['schema', 'delete', 'cli-orders']);
    expect(human.stdout).toContain('Soft-deleted cli-orders version 2.');
    expect(await json('schema', 'delete', 'cli-orders', '--permanent')).toEqual({ subject: 'cli-orders', versions: [2], permanent: true });
    expect((await json<{ subjects: unknown[] }>('schema', 'list', '--prefix', 'cli-')).subjects).toEqual([]);
  });
});
