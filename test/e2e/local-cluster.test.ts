/**
 * deploy/local-cluster.sh as a developer runs it: start three coordinators and three brokers on
 * 127.0.0.1-3, create a topic with replication factor 3 through a broker with the CLI, ask for the
 * status, stop everything (brokers first, so each is fenced by a coordinator still running) and
 * check that no process is left. Free ports and a temp folder keep it clear of a developer's own
 * local cluster.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/coordinator-cluster.js';
import { cliPath } from '../support/dev-server.js';

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/local-cluster.sh');
const roles = ['coordinator', 'broker'] as const;
let dir: string;
let env: NodeJS.ProcessEnv;
let nativePort: number;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function exec(file: string, args: readonly string[], runEnv: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: runEnv, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

function run(command: string): Promise<Run> {
  return exec('bash', [script, command], env);
}

/** The CLI, with no STREAMBUS_* variable of the test's environment leaking into its settings. */
function cli(args: readonly string[]): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('STREAMBUS_')));
  return exec(process.execPath, [cliPath, ...args], clean, 30_000);
}

async function pids(): Promise<number[]> {
  const out: number[] = [];
  for (const role of roles) {
    for (const n of [1, 2, 3]) {
      const text = await readFile(path.join(dir, `${role}-${n}`, `${role}.pid`), 'utf8').catch(() => '');
      if (text.trim() !== '') out.push(Number(text.trim()));
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'streambus-local-cluster-'));
  nativePort = await freePort();
  env = {
    ...process.env,
    STREAMBUS_LOCAL_DIR: dir,
    STREAMBUS_LOCAL_API_PORT: String(await freePort()),
    STREAMBUS_LOCAL_RAFT_PORT: String(await freePort()),
    STREAMBUS_LOCAL_NATIVE_PORT: String(nativePort),
    STREAMBUS_LOCAL_KAFKA_PORT: String(await freePort()),
    STREAMBUS_LOCAL_ADMIN_PORT: String(await freePort()),
    STREAMBUS_LOCAL_COORDINATOR_ADMIN_PORT: String(await freePort()),
    // Off the default 8081, which other tests' servers may hold at the same moment.
    STREAMBUS_LOCAL_REGISTRY_PORT: String(await freePort()),
  };
});

afterAll(async () => {
  await run('stop');
  for (const pid of await pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('deploy > local-cluster.sh', () => {
  it('starts three coordinators and three brokers, serves a replicated topic, and stops every process, brokers first', async () => {
    const started = await run('start');
    expect(started.code, `${started.stdout}\n${started.stderr}`).toBe(0);
    for (const n of [1, 2, 3]) {
      expect(started.stdout).toMatch(new RegExp(`coordinator ${n} ready: api 127\\.0\\.0\\.${n}:\\d+`));
      expect(started.stdout).toContain(`broker ${n} ready: node ${100 + n}, native 127.0.0.${n}:${nativePort}`);
    }
    const bootstrap = `127.0.0.1:${nativePort},127.0.0.2:${nativePort},127.0.0.3:${nativePort}`;
    expect(started.stdout).toContain(`bootstrap: ${bootstrap}`);

    const created = await cli(['topic', 'create', 'orders', '--partitions', '3', '--replication-factor', '3', '--brokers', bootstrap]);
    expect(created.code, created.stderr).toBe(0);
    const described = await cli(['topic', 'describe', 'orders', '--brokers', `127.0.0.2:${nativePort}`, '--json']);
    expect(described.code, described.stderr).toBe(0);
    const topic = (JSON.parse(described.stdout) as { topic: { partitions: { replicas: number[] }[] } }).topic;
    expect(topic.partitions).toHaveLength(3);
    for (const partition of topic.partitions) expect([...partition.replicas].sort((a, b) => a - b)).toEqual([101, 102, 103]);

    const status = await run('status');
    expect(status.code, `${status.stdout}\n${status.stderr}`).toBe(0);
    for (const n of [1, 2, 3]) expect(status.stdout).toContain(`broker ${n} /readyz: {"status":"ready"}`);
    expect(status.stdout).toMatch(/Leader:\s+[123] \(127\.0\.0\.[123]:\d+\)/);

    const running = await pids();
    expect(running).toHaveLength(6);
    const stopped = await run('stop');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout.indexOf('broker 3 stopped')).toBeLessThan(stopped.stdout.indexOf('coordinator 1 stopped'));
    expect(running.filter(alive)).toEqual([]);
    expect(await pids()).toEqual([]);
    for (const n of [1, 2, 3]) {
      const log = await readFile(path.join(dir, `broker-${n}`, 'broker.log'), 'utf8');
      expect(log).toContain('"msg":"broker fenced for shutdown"');
    }
    expect((await run('status')).code).toBe(3);
  }, 180_000);

  it('refuses an unknown command with its usage and exit status 2', async () => {
    const wrong = await run('restart');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('usage:');
    expect(wrong.stderr).toContain('start|stop|status');
  });
});
