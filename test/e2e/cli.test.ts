/**
 * The `streambus` command line as a user runs it: the compiled CLI in a child process against a
 * real server, checking both the human output and the --json output scripts rely on.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, startDevServer, type DevServer } from '../support/dev-server.js';

let server: DevServer;

beforeAll(async () => {
  server = await startDevServer();
});

afterAll(async () => {
  await server?.dispose();
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], stdin = '', timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args, '--brokers', server.bootstrap], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`streambus ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

function json<T>(run: Run): T {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as T;
}

describe('cli > topics', () => {
  it('creates, lists, describes, alters, grows and deletes a topic', async () => {
    const created = await cli(['topic', 'create', 'cli-orders', '--partitions', '2', '--config', 'retention.ms=3600000']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('cli-orders');

    const listed = json<{ topics: { name: string; partitions: number }[] }>(await cli(['topic', 'list', '--json']));
    expect(listed.topics).toContainEqual(expect.objectContaining({ name: 'cli-orders', partitions: 2 }));

    expect((await cli(['topic', 'alter-config', 'cli-orders', '--set', 'cleanup.policy=compact', '--delete', 'retention.ms'])).code).toBe(0);
    expect((await cli(['topic', 'add-partitions', 'cli-orders', '--count', '4'])).code).toBe(0);

    const human = await cli(['topic', 'describe', 'cli-orders']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR/);
    expect(human.stdout).toMatch(/cleanup\.policy\s+compact\s+topic/);

    const { topic: described } = json<{ topic: { name: string; partitions: unknown[]; configs: { name: string; value: string; source: string }[] } }>(
      await cli(['topic', 'describe', 'cli-orders', '--json']),
    );
    expect(described.partitions).toHaveLength(4);
    expect(described.configs).toContainEqual(expect.objectContaining({ name: 'cleanup.policy', value: 'compact', source: 'topic' }));

    expect((await cli(['topic', 'delete', 'cli-orders'])).code).toBe(0);
    const after = json<{ topics: { name: string }[] }>(await cli(['topic', 'list', '--json']));
    expect(after.topics.map((t) => t.name)).not.toContain('cli-orders');
  });

  it('exits 1 with the error code and message for an invalid config, and 2 for a usage error', async () => {
    const invalid = await cli(['topic', 'create', 'cli-bad', '--config', 'retention.ms=soon', '--json']);
    expect(invalid.code).toBe(1);
    const body = JSON.parse(invalid.stdout) as { error: { name: string; message: string } };
    expect(body.error.name).toBe('INVALID_CONFIG');
    expect(body.error.message).toContain('retention.ms');

    const usage = await cli(['topic', 'create']);
    expect(usage.code).toBe(2);
    expect(usage.stderr.toLowerCase()).toContain('usage');
  });
});

describe('cli > produce and consume', () => {
  it('produces lines from stdin with keys and headers and consumes them back as NDJSON', async () => {
    expect((await cli(['topic', 'create', 'cli-lines', '--partitions', '1'])).code).toBe(0);
    const produced = await cli(['produce', 'cli-lines', '--key-separator', ':', '--header', 'source=cli-test'], 'a:first\nb:second\nc:third\n');
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stdout).toContain('3');

    const consumed = await cli(['consume', 'cli-lines', '--from', 'beginning', '-n', '3', '--json']);
    expect(consumed.code, consumed.stderr).toBe(0);
    const lines = consumed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; value: string; offset: number; headers: unknown });
    expect(lines.map((l) => [l.key, l.value, l.offset])).toEqual([
      ['a', 'first', 0],
      ['b', 'second', 1],
      ['c', 'third', 2],
    ]);
    expect(JSON.stringify(lines[0]!.headers)).toContain('cli-test');

    const plain = await cli(['consume', 'cli-lines', '--from', '1', '-n', '2']);
    expect(plain.stdout.trim().split('\n')).toEqual(['second', 'third']);
  });
});
