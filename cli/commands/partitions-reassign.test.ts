/**
 * `streambus partitions reassign` and `streambus broker drain|undrain`, run in-process through the
 * real runner against a real coordinator (a Raft group of one on LevelDB) served on a real TCP
 * port; and the plan file's parser on its own.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NativeServer } from '../../broker/network/index.js';
import { type Coordinator, CoordinatorHandler } from '../../coordinator/index.js';
import { MemoryGroup } from '../../coordinator/service/testing/memory-group.js';
import { ErrorCode } from '../../proto/errors.js';
import { ExitCode, runCli } from '../run.js';
import { parsePlan } from './partitions-reassign-plan.js';

let group: MemoryGroup;
let server: NativeServer;
let coordinator: Coordinator;
let dir: string;
const epochs = new Map<number, number>();

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'streambus-reassign-cli-'));
  group = await MemoryGroup.start([1]);
  coordinator = group.coordinator(await group.leader());
  server = new NativeServer({ handler: new CoordinatorHandler({ coordinator, serverVersion: 'test', maxFrameBytes: 1 << 20, maxInFlight: 16 }), port: 0, logger: pino({ level: 'silent' }) });
  await server.listen();
  for (const nodeId of [1, 2, 3, 4]) {
    const { brokerEpoch, metadataOffset } = await coordinator.registerBroker({ nodeId, incarnationId: `inc-${nodeId}`, host: '127.0.0.1', port: 9000 + nodeId });
    await coordinator.brokerHeartbeat({ nodeId, brokerEpoch, metadataOffset });
    epochs.set(nodeId, brokerEpoch);
  }
  // orders-0 on [1, 2, 3] led by 1, whatever the random placement chose.
  await coordinator.createTopics([{ name: 'orders', numPartitions: 1, replicationFactor: 3 }]);
  await coordinator.alterPartitionReassignments([{ topic: 'orders', partition: 0, replicas: [1, 2, 3] }]);
  await caughtUp();
  await coordinator.electLeaders({ type: 'preferred', topics: [{ topic: 'orders' }] });
});

afterEach(async () => {
  await server.close();
  await group.close();
  await rm(dir, { recursive: true, force: true });
});

/** orders-0's leader puts every replica in the ISR: new replicas caught up. */
async function caughtUp(): Promise<void> {
  const topic = coordinator.state.topic('orders')!;
  const p = topic.partitions[0]!;
  await coordinator.alterPartition({
    brokerId: p.leader,
    brokerEpoch: epochs.get(p.leader)!,
    partitions: [{ topicId: topic.topicId, partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [p.leader, ...p.replicas.filter((id) => id !== p.leader)] }],
  });
}

async function cli(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await runCli([...argv, '--coordinators', `127.0.0.1:${server.port}`], { stdout, stderr, stdin: Readable.from([]), env: {} });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function planFile(partitions: unknown): Promise<string> {
  const file = path.join(dir, `plan-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify({ version: 1, partitions }));
  return file;
}

function orders(): { replicas: readonly number[]; leader: number; addingReplicas?: readonly number[] } {
  return coordinator.state.topic('orders')!.partitions[0]!;
}

describe('cli > partitions reassign > plan', () => {
  it('previews current → proposed and changes nothing without --execute', async () => {
    const plan = await planFile([{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    const run = await cli(['partitions', 'reassign', '--plan', plan]);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toMatch(/TOPIC\s+PARTITION\s+CURRENT\s+PROPOSED\s+RESULT/);
    expect(run.stdout).toMatch(/orders\s+0\s+1,2,3\s+2,3,4\s+moves/);
    expect(run.stderr).toContain('Nothing was changed');
    expect(orders().replicas).toEqual([1, 2, 3]);
  });

  it('--execute starts the move; --verify says in progress, then done once the new replica caught up', async () => {
    const plan = await planFile([{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    const run = await cli(['partitions', 'reassign', '--plan', plan, '--execute', '--json']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(run.stdout)).toMatchObject({ executed: true, partitions: [{ topic: 'orders', partition: 0, current: [1, 2, 3], proposed: [2, 3, 4], result: 'started' }] });
    expect(orders()).toMatchObject({ replicas: [2, 3, 4, 1], addingReplicas: [4] });

    const during = await cli(['partitions', 'reassign', '--verify', '--plan', plan, '--json']);
    expect(during.code, during.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(during.stdout)).toMatchObject({ complete: false, partitions: [{ status: 'in-progress', addingReplicas: [4], removingReplicas: [1] }] });
    const listed = await cli(['partitions', 'reassign', '--list']);
    expect(listed.stdout).toMatch(/orders\s+0\s+2,3,4,1\s+4\s+1/);

    await caughtUp();
    const after = await cli(['partitions', 'reassign', '--verify', '--plan', plan]);
    expect(after.code, after.stderr).toBe(ExitCode.OK);
    expect(after.stdout).toMatch(/orders\s+0\s+done\s+2,3,4/);
    expect(after.stderr).toContain('Every move of the plan is done.');
    expect((await cli(['partitions', 'reassign', '--list'])).stdout).toBe('No reassignment is in progress.\n');
  });

  it('--verify exits 1 naming a partition the plan never moved', async () => {
    const plan = await planFile([{ topic: 'orders', partition: 0, replicas: [4, 3, 2] }]);
    const run = await cli(['partitions', 'reassign', '--verify', '--plan', plan, '--json']);
    expect(run.code).toBe(ExitCode.FAILED);
    const error = (JSON.parse(run.stdout) as { error: { name: string; message: string } }).error;
    expect(error.name).toBe('NO_REASSIGNMENT_IN_PROGRESS');
    expect(error.message).toContain('orders-0 has replicas [1, 2, 3], not [4, 3, 2]');
  });

  it('--cancel reverts a move in progress and reports partitions with nothing to cancel', async () => {
    const plan = await planFile([{ topic: 'orders', partition: 0, replicas: [2, 3, 4] }]);
    expect((await cli(['partitions', 'reassign', '--plan', plan, '--execute'])).code).toBe(ExitCode.OK);
    const run = await cli(['partitions', 'reassign', '--cancel', '--plan', plan]);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toMatch(/orders\s+0\s+cancelled/);
    expect(orders().replicas).toEqual([2, 3, 1]);
    const again = await cli(['partitions', 'reassign', '--cancel', '--plan', plan]);
    expect(again.code, again.stderr).toBe(ExitCode.OK);
    expect(again.stdout).toMatch(/orders\s+0\s+none in progress/);
  });

  it('exits 1 with each failed partition when the controller refuses part of the plan', async () => {
    const plan = await planFile([
      { topic: 'orders', partition: 0, replicas: [2, 9] },
      { topic: 'ghost', partition: 0, replicas: [1] },
    ]);
    const run = await cli(['partitions', 'reassign', '--plan', plan, '--execute', '--json']);
    expect(run.code).toBe(ExitCode.FAILED);
    const error = (JSON.parse(run.stdout) as { error: { failures: { name: string; topic: string }[] } }).error;
    expect(error.failures.map((f) => [f.topic, f.name])).toEqual([
      ['orders', 'INVALID_REPLICA_ASSIGNMENT'],
      ['ghost', 'UNKNOWN_TOPIC_OR_PARTITION'],
    ]);
    expect(orders().replicas).toEqual([1, 2, 3]);
  });

  it('--generate proposes a balanced plan over the brokers given, which --execute then takes', async () => {
    const run = await cli(['partitions', 'reassign', '--generate', '--topics', 'orders', '--brokers', '2,3,4', '--json']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    const { current, proposed } = JSON.parse(run.stdout) as { current: unknown; proposed: { partitions: { replicas: number[] }[] } };
    expect(current).toEqual({ version: 1, partitions: [{ topic: 'orders', partition: 0, replicas: [1, 2, 3] }] });
    expect([...proposed.partitions[0]!.replicas].sort()).toEqual([2, 3, 4]);
    const file = path.join(dir, 'generated.json');
    await writeFile(file, JSON.stringify(proposed));
    expect((await cli(['partitions', 'reassign', '--plan', file, '--execute'])).code).toBe(ExitCode.OK);
    expect(orders().addingReplicas).toEqual([4]);
  });

  it.each([
    [['--plan', 'x.json', '--list'], '--list takes no --plan'],
    [['--verify'], '--verify needs --plan'],
    [['--generate', '--topics', 'orders'], '--generate needs --topics and --brokers'],
    [['--list', '--cancel'], 'choose one of --list, --cancel'],
    [['--generate', '--topics', 'orders', '--brokers', '1,x'], "--brokers expects broker ids, got 'x'"],
    [[], 'give a --plan file'],
  ])('exits 2 for a usage error: %j', async (args, message) => {
    const run = await cli(['partitions', 'reassign', ...args]);
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stderr).toContain(message);
  });

  it('exits 2 naming the file when the plan cannot be read', async () => {
    const run = await cli(['partitions', 'reassign', '--plan', path.join(dir, 'missing.json')]);
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stderr).toContain('cannot read --plan');
  });
});

describe('cli > broker drain', () => {
  it('drains a broker, listing the leaderships moved, and undrain lets a preferred election bring them back', async () => {
    const run = await cli(['broker', 'drain', '1']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toBe('Broker 1 is draining: 1 leadership moved to other in-sync replicas.\n');
    expect(orders().leader).not.toBe(1);
    const brokers = await cli(['cluster', 'brokers', '--json']);
    expect((JSON.parse(brokers.stdout) as { brokers: { nodeId: number; draining: boolean }[] }).brokers.find((b) => b.nodeId === 1)?.draining).toBe(true);

    const undrain = await cli(['broker', 'undrain', '1', '--json']);
    expect(undrain.code, undrain.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(undrain.stdout)).toMatchObject({ brokerId: 1, draining: false, leadersMoved: 0 });
    expect((await cli(['partitions', 'elect-leaders', '--type', 'preferred'])).code).toBe(ExitCode.OK);
    expect(orders().leader).toBe(1);
  });

  it('warns about partitions no other replica can lead yet', async () => {
    await coordinator.createTopics([{ name: 'single', numPartitions: 1, replicationFactor: 1 }]);
    const lonely = coordinator.state.topic('single')!.partitions[0]!.leader;
    const run = await cli(['broker', 'drain', String(lonely), '--json']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect((JSON.parse(run.stdout) as { leadersKept: unknown[] }).leadersKept).toContainEqual({ topic: 'single', partition: 0 });
    const human = await cli(['broker', 'drain', String(lonely)]);
    expect(human.stderr).toContain('it still leads single-0');
  });

  it('fails with BROKER_ID_NOT_REGISTERED for an unknown broker and exits 2 for an id that is not one', async () => {
    const unknown = await cli(['broker', 'drain', '42', '--json']);
    expect(unknown.code).toBe(ExitCode.FAILED);
    expect((JSON.parse(unknown.stdout) as { error: { code: number } }).error.code).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED);
    const bad = await cli(['broker', 'undrain', 'three']);
    expect(bad.code).toBe(ExitCode.USAGE);
    expect(bad.stderr).toContain("<broker-id> must be a broker id (an integer ≥ 0), got 'three'");
  });
});

describe('cli > partitions reassign > plan file', () => {
  it('reads kafka-reassign-partitions plans, log_dirs "any" included', () => {
    const text = JSON.stringify({ version: 1, partitions: [{ topic: 'orders', partition: 0, replicas: [2, 3], log_dirs: ['any', 'any'] }] });
    expect(parsePlan(text, 'plan.json', 'partitions reassign')).toEqual([{ topic: 'orders', partition: 0, replicas: [2, 3] }]);
    expect(parsePlan('{"partitions":[{"topic":"t","partition":1,"replicas":[4]}]}', 'p', 'c')).toEqual([{ topic: 't', partition: 1, replicas: [4] }]);
  });

  it.each([
    ['not JSON', '{', 'not valid JSON'],
    ['no partitions', '{"version":1,"partitions":[]}', '"partitions" must be a non-empty array'],
    ['another version', '{"version":2,"partitions":[{"topic":"t","partition":0,"replicas":[1]}]}', 'version must be 1'],
    ['an unknown field', '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1],"leader":1}]}', 'partitions[0] has unknown field "leader"'],
    ['a negative partition', '{"partitions":[{"topic":"t","partition":-1,"replicas":[1]}]}', 'partitions[0].partition must be an integer ≥ 0'],
    ['empty replicas', '{"partitions":[{"topic":"t","partition":0,"replicas":[]}]}', 'partitions[0].replicas must be a non-empty array'],
    ['a broker named twice', '{"partitions":[{"topic":"t","partition":0,"replicas":[1,1]}]}', 'partitions[0].replicas names broker 1 twice'],
    ['a partition listed twice', '{"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}', 't-0 is listed twice'],
    ['a log dir', '{"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":["/data"]}]}', 'partitions[0].log_dirs must be "any"'],
  ])('refuses a plan with %s, naming the file and the field', (_what, text, message) => {
    expect(() => parsePlan(text, 'plan.json', 'partitions reassign')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST, message: expect.stringContaining(`plan.json: ${message}`) }));
  });
});
