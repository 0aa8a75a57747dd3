/**
 * `streambus coordinator` as real child processes (the compiled CLI in dist/: build first with
 * `npx tsc -p tsconfig.build.json`): three of them elect a leader and serve COORDINATOR_STATUS,
 * stop cleanly on SIGTERM, serve their HTTP admin port (/metrics, /livez, /readyz) and advertise
 * coordinator.advertised.host, and refuse bad settings with a message naming the setting.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/network/connection.js';
import type { CoordinatorStatusResponse } from '../../proto/messages.js';
import { CoordinatorCluster, CoordinatorNode, freePort } from '../../test/support/coordinator-cluster.js';
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

/** One GET of the admin port, with a deadline. */
async function admin(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
}

/** The value of one sample line of a Prometheus exposition (`name` or `name{labels}`). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('streambus coordinator > admin port and advertised host', () => {
  let dir: string;
  const nodes: CoordinatorNode[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-coordinator-admin-'));
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await rm(dir, { recursive: true, force: true });
  });

  it('serves /livez, a /readyz that turns 200 once a leader exists, raft metrics, and the advertised API host', async () => {
    const host = '127.0.0.1';
    for (const id of [1, 2]) nodes.push(new CoordinatorNode(id, { host, port: await freePort(host) }, { host, port: await freePort(host) }, join(dir, `c${id}`)));
    const voters = nodes.map((n) => `${n.nodeId}@${n.raft.host}:${n.raft.port}`).join(',');
    const args = (n: CoordinatorNode): string[] =>
      Object.entries({
        'node.id': n.nodeId,
        'cluster.id': 'admin-port',
        'coordinator.voters': voters,
        'raft.host': n.raft.host,
        'raft.port': n.raft.port,
        'coordinator.host': n.api.host,
        'coordinator.port': n.api.port,
        'coordinator.advertised.host': 'localhost',
        'admin.port': 0,
        'schema.registry.port': 0,
        'data.dir': n.dataDir,
        'log.format': 'json',
      }).flatMap(([key, value]) => ['--set', `${key}=${String(value)}`]);
    const adminPort = (n: CoordinatorNode): number => {
      const ready = n.logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.msg === 'streambus coordinator ready');
      expect(ready).toMatchObject({ api: { host: 'localhost', port: n.api.port }, admin: { host } });
      return (ready!.admin as { port: number }).port;
    };
    const [first, second] = nodes as [CoordinatorNode, CoordinatorNode];

    // One voter of two: it runs, but no leader can be elected yet.
    await first.start(args(first), [], 30_000);
    const firstAdmin = adminPort(first);
    expect(await admin(firstAdmin, '/livez')).toEqual({ status: 200, body: '{"status":"live"}\n' });
    const waiting = await admin(firstAdmin, '/readyz');
    expect(waiting.status).toBe(503);
    expect(JSON.parse(waiting.body)).toMatchObject({ status: 'not_ready', reasons: [expect.stringContaining('no coordinator leader is known')] });
    const alone = (await admin(firstAdmin, '/metrics')).body;
    expect(sample(alone, 'streambus_raft_is_leader')).toBe(0);
    expect(sample(alone, 'streambus_raft_leader_id')).toBe(0);
    expect(sample(alone, 'streambus_raft_term')).toBeGreaterThanOrEqual(0);
    expect(alone).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(alone).toMatch(/^streambus_build_info\{version="[^"]+",nodejs="v[^"]+"\} 1$/m);

    await second.start(args(second), [], 30_000);
    await eventually('/readyz 200 on the first node', async () => ((await admin(firstAdmin, '/readyz')).status === 200 ? true : undefined));
    const status = await eventually('the leader\'s advertised API address', async () => {
      const view = await statusOf(first.api.port);
      return view.leaderId !== 0 && view.leaderApiPort !== 0 ? view : undefined;
    });
    const leader = nodes.find((n) => n.nodeId === status.leaderId)!;
    expect(status).toMatchObject({ leaderApiHost: 'localhost', leaderApiPort: leader.api.port });

    const text = (await admin(adminPort(leader), '/metrics')).body;
    expect(sample(text, 'streambus_raft_is_leader')).toBe(1);
    expect(sample(text, 'streambus_raft_leader_id')).toBe(leader.nodeId);
    const term = sample(text, 'streambus_raft_term')!;
    const commit = sample(text, 'streambus_raft_commit_index')!;
    const applied = sample(text, 'streambus_raft_applied_index')!;
    const last = sample(text, 'streambus_raft_last_index')!;
    expect(term).toBeGreaterThanOrEqual(1);
    expect(commit).toBeGreaterThanOrEqual(1);
    expect(applied).toBeLessThanOrEqual(commit);
    expect(commit).toBeLessThanOrEqual(last);
    expect(sample(text, 'streambus_raft_member_lag_entries{member="1"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'streambus_raft_member_lag_entries{member="2"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'streambus_raft_leader_changes_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'streambus_raft_proposals_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'streambus_raft_synced_writes_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'streambus_coordinator_metadata_offset')).toBeGreaterThanOrEqual(1);
  }, 60_000);
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
