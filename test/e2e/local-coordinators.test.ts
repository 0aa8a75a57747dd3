/**
 * deploy/local-coordinators.sh as a developer runs it: start three coordinators on 127.0.0.1-3,
 * ask for the status, stop them, start again on the same data (same cluster id). Free ports and a
 * temp folder keep it clear of a developer's own local cluster.
 */
import { execFile } from 'node:child_process';
import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/coordinator-cluster.js';

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/local-coordinators.sh');
let dir: string;
let env: NodeJS.ProcessEnv;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: 'start' | 'stop' | 'status', timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile('bash', [script, command], { env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

async function pids(): Promise<number[]> {
  const out: number[] = [];
  for (const n of [1, 2, 3]) {
    const text = await readFile(path.join(dir, `coordinator-${n}`, 'coordinator.pid'), 'utf8').catch(() => '');
    if (text.trim() !== '') out.push(Number(text.trim()));
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
  env = {
    ...process.env,
    STREAMBUS_LOCAL_DIR: dir,
    STREAMBUS_LOCAL_API_PORT: String(await freePort()),
    STREAMBUS_LOCAL_RAFT_PORT: String(await freePort()),
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

describe('deploy > local-coordinators.sh', () => {
  it('starts three coordinators, reports a leader, stops them all, and restarts into the same cluster', async () => {
    const started = await run('start');
    expect(started.code, `${started.stdout}\n${started.stderr}`).toBe(0);
    expect(started.stdout).toMatch(/coordinator 1 ready: api 127\.0\.0\.1:\d+/);
    expect(started.stdout).toMatch(/coordinator 3 ready: api 127\.0\.0\.3:\d+/);
    const clusterId = (await readFile(path.join(dir, 'cluster-id'), 'utf8')).trim();
    expect(clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const status = await run('status');
    expect(status.code, `${status.stdout}\n${status.stderr}`).toBe(0);
    expect(status.stdout).toMatch(/Leader:\s+[123] \(127\.0\.0\.[123]:\d+\)/);
    expect(status.stdout).toMatch(/NODE\s+RAFT\s+API\s+VOTER/);

    const running = await pids();
    expect(running).toHaveLength(3);
    const stopped = await run('stop');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(running.filter(alive)).toEqual([]);
    expect(await pids()).toEqual([]);
    expect((await run('status')).code).toBe(3);

    const again = await run('start');
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    expect(again.stdout).toContain(`cluster ${clusterId}`);
    expect((await run('stop')).code).toBe(0);
  }, 180_000);
});
