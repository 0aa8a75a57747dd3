/**
 * `streambus coordinator` as real child processes (the compiled CLI in dist/: build first with
 * `npx tsc -p tsconfig.build.json`): three of them elect a leader and serve COORDINATOR_STATUS,
 * stop cleanly on SIGTERM, and refuse bad settings with a message naming the setting.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/network/connection.js';
import type { CoordinatorStatusResponse } from '../../proto/messages.js';
import { CoordinatorCluster } from '../../test/support/coordinator-cluster.js';
import { cliPath } from '../../test/support/dev-server.js';

async function statusOf(port: number): Promise<CoordinatorStatusResponse> {
  const connection = await connect({ host: '127.0.0.1', port, connectTimeoutMs: 2_000, requestTimeoutMs: 2_000 });
  try {
    return await connection.request('COORDINATOR_STATUS', {});
  } finally {
    await connection.close();
  }
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last error: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('streambus coordinator > three processes', () => {
  let cluster: CoordinatorCluster;

  beforeAll(async () => {
    cluster = await CoordinatorCluster.start({ nodes: 3 });
  }, 60_000);

  afterAll(async () => {
    await cluster?.dispose();
  });

  it('logs its ready line with the API and Raft addresses it was given', () => {
    for (const node of cluster.nodes) {
      const ready = node.logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.msg === 'streambus coordinator ready');
      expect(ready).toMatchObject({ api: node.api, raft: node.raft, nodeId: node.nodeId, clusterId: cluster.clusterId });
    }
  });

  it('elects one leader, and every node answers COORDINATOR_STATUS naming it and its API address', async () => {
    const views = await eventually('one leader known to all three', async () => {
      const all = await Promise.all(cluster.nodes.map((n) => statusOf(n.api.port)));
      const leaders = new Set(all.map((s) => s.leaderId));
      return leaders.size === 1 && !leaders.has(0) && all.every((s) => s.leaderApiPort !== 0) ? all : undefined;
    });
    const leaderId = views[0]!.leaderId;
    const leader = cluster.node(leaderId);
    for (const view of views) {
      expect(view).toMatchObject({ errorCode: 0, clusterId: cluster.clusterId, leaderId, leaderApiHost: leader.api.host, leaderApiPort: leader.api.port });
      expect(view.role).toBe(view.nodeId === leaderId ? 'leader' : 'follower');
      expect(view.members.map((m) => [m.nodeId, m.raftPort, m.voter])).toEqual(cluster.nodes.map((n) => [n.nodeId, n.raft.port, true]));
    }
  });

  it('stops cleanly on SIGTERM with exit code 0, and the others elect a new leader if it led', async () => {
    const node = cluster.node(3);
    expect(await node.stop()).toBe(0);
    expect(node.logLines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
    const view = await eventually('a leader among the other two', async () => {
      const status = await statusOf(cluster.node(1).api.port);
      return status.leaderId !== 0 && status.leaderId !== 3 ? status : undefined;
    });
    expect([1, 2]).toContain(view.leaderId);
  });
});

interface Run {
  readonly code: number | null;
  readonly stderr: string;
}

function coordinator(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, 'coordinator', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, STREAMBUS_DATA_DIR: '', STREAMBUS_CONFIG: '' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('streambus coordinator > bad settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-coordinator-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const base = (name: string): string[] => ['--set', `data.dir=${join(dir, name)}`, '--set', 'coordinator.port=0', '--set', 'raft.port=0', '--set', 'cluster.id=bad-settings'];

  it('refuses a coordinator.voters entry that is not id@host:port', async () => {
    const run = await coordinator([...base('voters'), '--set', 'coordinator.voters=1@127.0.0.1:9095,two@127.0.0.1:9096']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('INVALID_CONFIG');
    expect(run.stderr).toContain('"two@127.0.0.1:9096" is not id@host:port');
  });

  it('refuses a raft.port that differs from its own coordinator.voters entry', async () => {
    const run = await coordinator([...base('port'), '--set', 'raft.port=9999', '--set', 'coordinator.voters=1@127.0.0.1:9095']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('raft port 9095, but raft.port is 9999');
  });

  it('refuses a new data directory without cluster.id', async () => {
    const run = await coordinator(['--set', `data.dir=${join(dir, 'no-id')}`, '--set', 'coordinator.port=0', '--set', 'raft.port=0']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cluster.id is not set');
  });

  it('refuses node id 0', async () => {
    const run = await coordinator([...base('zero'), '--node-id', '0']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('node.id must be a whole number in 1..2147483647');
  });
});
