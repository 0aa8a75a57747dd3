/**
 * The `cluster` commands, run in-process through the real runner against a stand-in coordinator
 * group over real TCP (client/testing/mini-coordinators.ts). Against real coordinator processes
 * they run in test/e2e/coordinator-cluster.test.ts.
 */
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MiniCoordinators } from '../../client/testing/mini-coordinators.js';
import { ExitCode, runCli } from '../run.js';

let group: MiniCoordinators;

beforeEach(async () => {
  group = await MiniCoordinators.start(3);
});

afterEach(async () => {
  await group.close();
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(argv: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await runCli(argv, { stdout, stderr, stdin: Readable.from([]), env });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

function coordinators(): string[] {
  return ['--coordinators', group.bootstrap.join(',')];
}

describe('cli > cluster status', () => {
  it('prints the leader, term, commit and applied index, and a members table', async () => {
    group.elect(2);
    const run = await cli(['cluster', 'status', ...coordinators()]);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toMatch(new RegExp(`Leader:\\s+2 \\(127\\.0\\.0\\.1:${group.node(2).port}\\)`));
    expect(run.stdout).toMatch(/Term:\s+2/);
    expect(run.stdout).toMatch(/Commit index:\s+0/);
    expect(run.stdout).toMatch(/Applied index:\s+0/);
    expect(run.stdout).toMatch(/NODE\s+RAFT\s+API\s+VOTER\s+MATCH\s+LAG\s+ACTIVE/);
    expect(run.stdout).toMatch(/\n\s*3\s+127\.0\.0\.1:19003\s+127\.0\.0\.1:\d+\s+yes\s+0\s+0\s+yes/);
  });

  it('--json shows one leader and every member', async () => {
    const run = await cli(['cluster', 'status', '--json', ...coordinators()]);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    const status = JSON.parse(run.stdout) as { leaderId: number; role: string; leaderApi: string; members: { nodeId: number; voter: boolean; lag: number }[] };
    expect(status).toMatchObject({ leaderId: 1, role: 'leader', leaderApi: `127.0.0.1:${group.node(1).port}` });
    expect(status.members.map((m) => [m.nodeId, m.voter, m.lag])).toEqual([
      [1, true, 0],
      [2, true, 0],
      [3, true, 0],
    ]);
  });

  it('finds the coordinators from STREAMBUS_COORDINATORS', async () => {
    const run = await cli(['cluster', 'status', '--json'], { STREAMBUS_COORDINATORS: group.bootstrap[2]! });
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect((JSON.parse(run.stdout) as { leaderId: number }).leaderId).toBe(1);
  });

  it('exits 1 with NOT_CONTROLLER and what each node said when no leader is known', async () => {
    group.elect(0);
    const run = await cli(['cluster', 'status', '--wait-ms', '300', ...coordinators()]);
    expect(run.code).toBe(ExitCode.FAILED);
    expect(run.stderr).toMatch(/error: NOT_CONTROLLER \(41\): no coordinator leader is known \(.*node 2 at .*candidate/);
    const json = await cli(['cluster', 'status', '--wait-ms', '300', '--json', ...coordinators()]);
    expect(json.code).toBe(ExitCode.FAILED);
    expect((JSON.parse(json.stdout) as { error: { name: string } }).error.name).toBe('NOT_CONTROLLER');
  });
});

describe('cli > cluster members', () => {
  it('adds and removes a voter, printing the voters after each change', async () => {
    const added = await cli(['cluster', 'members', 'add', '4', '--raft', '127.0.0.4:9095', '--api', '127.0.0.4:9094', ...coordinators()]);
    expect(added.code, added.stderr).toBe(ExitCode.OK);
    expect(added.stdout).toBe('Added node 4 (raft 127.0.0.4:9095). Voters: 1, 2, 3, 4.\n');
    const removed = await cli(['cluster', 'members', 'remove', '4', '--json', ...coordinators()]);
    expect(removed.code, removed.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(removed.stdout)).toEqual({ removed: 4, voters: [1, 2, 3] });
    expect(group.voters).toEqual([1, 2, 3]);
  });

  it('hands leadership to another voter', async () => {
    const run = await cli(['cluster', 'members', 'transfer-leader', '3', '--json', ...coordinators()]);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(run.stdout)).toMatchObject({ leaderId: 3 });
    expect(group.leaderId).toBe(3);
  });

  it('exits 1 with the coordinator\'s error for a change it refuses', async () => {
    const run = await cli(['cluster', 'members', 'remove', '9', ...coordinators()]);
    expect(run.code).toBe(ExitCode.FAILED);
    expect(run.stderr).toContain('error: INVALID_REQUEST (42): node 9 is not a voter');
  });

  it('refuses a bad node id, a missing or malformed address with a usage error (exit 2) and sends nothing', async () => {
    for (const argv of [
      ['cluster', 'members', 'add', 'four', '--raft', '127.0.0.4:9095'],
      ['cluster', 'members', 'add', '0', '--raft', '127.0.0.4:9095'],
      ['cluster', 'members', 'add', '4'],
      ['cluster', 'members', 'add', '4', '--raft', '127.0.0.4'],
      ['cluster', 'members', 'add', '4', '--raft', '127.0.0.4:9095', '--api', ':9094'],
      ['cluster', 'members', 'remove', '-3'],
      ['cluster', 'members', 'transfer-leader', '2.5'],
    ]) {
      const run = await cli([...argv, ...coordinators()]);
      expect(run.code, argv.join(' ')).toBe(ExitCode.USAGE);
    }
    expect(group.requests.filter((r) => r.api === 'CHANGE_MEMBERSHIP' || r.api === 'TRANSFER_LEADERSHIP')).toEqual([]);
  });
});
