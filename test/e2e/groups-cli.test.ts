/**
 * `streambus group list | describe | seek | delete` against a real `streambus dev` process (the
 * command line runs in this process through runCli, talking to the server over TCP): offsets and
 * lag as a consumer left them, a seek's dry run that changes nothing, --execute that does, and the
 * refusals while the group has members.
 */
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient, StreamBus, type GroupConsumer } from '../../client/index.js';
import { ExitCode, runCli } from '../../cli/run.js';
import { eventually, startDevServer, type DevServer } from '../support/dev-server.js';

const TOPIC = 'cli-orders';
const GROUP = 'cli-group';

let server: DevServer;
let bus: StreamBus;

beforeAll(async () => {
  server = await startDevServer({ settings: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 500 } });
  bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'groups-cli' });
  await bus.admin().createTopics([{ topic: TOPIC, partitions: 3 }]);
}, 30_000);

afterAll(async () => {
  await bus?.close();
  await server?.dispose();
});

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await runCli([...argv, '--brokers', server.bootstrap, '--coordinators', server.bootstrap], { stdout, stderr, stdin: Readable.from([]), env: {} });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function json<T>(...argv: string[]): Promise<T> {
  const run = await cli(...argv, '--json');
  expect(run.code, run.stderr).toBe(ExitCode.OK);
  return JSON.parse(run.stdout) as T;
}

interface Described {
  state: string;
  lag: number;
  members: unknown[];
  partitions: { topic: string; partition: number; committed: number; end: number; lag: number; lagSeconds: number | null; memberId: string | null }[];
}

function member(): GroupConsumer {
  return bus.consumer({ groupId: GROUP, autoOffsetReset: 'earliest', maxWaitMs: 100, heartbeatIntervalMs: 200, sessionTimeoutMs: 5_000 });
}

describe('groups > command line', () => {
  it('lists, describes with lag, seeks (dry run, then --execute) and deletes a group, refusing while it has members', async () => {
    const producer = bus.producer();
    await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send({ topic: TOPIC, partition: i % 3, value: `v${i}` })));
    const first = member();
    first.subscribe([TOPIC]);
    let handled = 0;
    const running = first.run({ eachMessage: () => void handled++ });
    await eventually(() => handled === 30, 15_000);
    await first.close();
    await running;
    await Promise.all(Array.from({ length: 5 }, (_, i) => producer.send({ topic: TOPIC, partition: 0, value: `late${i}` })));

    const listed = await json<{ groups: { groupId: string; state: string }[] }>('group', 'list');
    expect(listed.groups).toContainEqual({ groupId: GROUP, state: 'Empty', protocolType: 'consumer' });

    const described = await json<Described>('group', 'describe', GROUP);
    expect(described.state).toBe('Empty');
    expect(described.lag).toBe(5);
    expect(described.partitions.map((p) => [p.partition, p.committed, p.end, p.lag])).toEqual([
      [0, 10, 15, 5],
      [1, 10, 10, 0],
      [2, 10, 10, 0],
    ]);
    expect(described.partitions[0]!.lagSeconds).toBeGreaterThanOrEqual(0);
    expect(described.partitions[1]!.lagSeconds).toBe(0);
    const human = await cli('group', 'describe', GROUP);
    expect(human.stdout).toContain('LAG-S');

    const dryRun = await cli('group', 'seek', GROUP, '--to', 'earliest');
    expect(dryRun.code, dryRun.stderr).toBe(ExitCode.OK);
    expect(dryRun.stdout).toContain('Dry run: nothing changed');
    expect((await json<Described>('group', 'describe', GROUP)).partitions.map((p) => p.committed)).toEqual([10, 10, 10]);

    const executed = await json<{ executed: boolean; partitions: { next: number }[] }>('group', 'seek', GROUP, '--to', 'earliest', '--execute');
    expect(executed.executed).toBe(true);
    expect((await json<Described>('group', 'describe', GROUP)).partitions.map((p) => p.committed)).toEqual([0, 0, 0]);
    await json('group', 'seek', GROUP, '--shift-by', '3', '--topic', `${TOPIC}:1`, '--execute');
    await json('group', 'seek', GROUP, '--to', '99', '--topic', `${TOPIC}:0`, '--execute');
    expect((await json<Described>('group', 'describe', GROUP)).partitions.map((p) => p.committed)).toEqual([15, 3, 0]);

    const badTarget = await cli('group', 'seek', GROUP, '--to', 'yesterday');
    expect(badTarget.code).toBe(ExitCode.USAGE);

    // A member holds the group: seek --execute and delete are refused and change nothing.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const second = member();
    second.subscribe([TOPIC]);
    const secondRun = second.run({ eachMessage: () => held });
    await eventually(() => second.state === 'stable', 15_000);
    const refused = await cli('group', 'seek', GROUP, '--to', 'latest', '--execute');
    expect(refused.code).toBe(ExitCode.FAILED);
    expect(refused.stderr).toContain('NON_EMPTY_GROUP');
    const refusedDelete = await cli('group', 'delete', GROUP);
    expect(refusedDelete.code).toBe(ExitCode.FAILED);
    expect(refusedDelete.stderr).toContain('NON_EMPTY_GROUP');
    const stable = await json<Described>('group', 'describe', GROUP);
    expect(stable.state).toBe('Stable');
    expect(stable.members).toHaveLength(1);
    expect(stable.partitions.every((p) => p.memberId !== null)).toBe(true);
    release();
    await second.close();
    await secondRun;
    await producer.close();

    const deleted = await json<{ groups: { groupId: string; deleted: boolean }[] }>('group', 'delete', GROUP);
    expect(deleted.groups).toEqual([{ groupId: GROUP, deleted: true, error: null }]);
    const after = await json<{ groups: { groupId: string }[] }>('group', 'list');
    expect(after.groups.map((g) => g.groupId)).not.toContain(GROUP);
  }, 60_000);
});

describe('groups > lag on /metrics', () => {
  it('exports kafka_exporter\'s lag series for a group with committed offsets', async () => {
    const topic = 'lag-topic';
    await bus.admin().createTopics([{ topic, partitions: 1 }]);
    const producer = bus.producer();
    for (let i = 0; i < 7; i++) await producer.send({ topic, partition: 0, value: `v${i}`, timestamp: Date.now() - 60_000 });
    await producer.close();
    const coordinators = new CoordinatorClient({ bootstrap: [server.bootstrap] });
    try {
      await coordinators.groups.commitOffsets({ groupId: 'lag-group', offsets: [{ topic, partition: 0, offset: 2 }] });
    } finally {
      await coordinators.close();
    }
    let text = '';
    // The leader refreshes every 15 s: the series appear within one interval.
    await eventually(async () => {
      text = await (await fetch(`${server.adminUrl}/metrics`)).text();
      return text.includes('kafka_consumergroup_lag{consumergroup="lag-group"');
    }, 40_000, 500);
    expect(text).toContain('kafka_consumergroup_lag{consumergroup="lag-group",topic="lag-topic",partition="0"} 5');
    expect(text).toContain('kafka_consumergroup_current_offset{consumergroup="lag-group",topic="lag-topic",partition="0"} 2');
    expect(text).toContain('kafka_consumergroup_lag_sum{consumergroup="lag-group",topic="lag-topic"} 5');
    expect(text).toContain('kafka_consumergroup_members{consumergroup="lag-group"} 0');
    const seconds = Number(/kafka_consumergroup_lag_seconds\{consumergroup="lag-group",topic="lag-topic",partition="0"\} ([\d.e+]+)/.exec(text)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(59);
  }, 60_000);
});
