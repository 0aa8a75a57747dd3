/**
 * `topic describe`: the partition states, the kafka-topics.sh-style filters and their output,
 * run through the real runner against an in-memory client with the library's shape (the real
 * server is used by test/e2e/observability-cluster.test.ts).
 */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { CliAdmin, PartitionDescription, StreamBusClient, TopicDescription } from '../client.js';
import { ExitCode, runCli } from '../run.js';
import { matchesFilter, nothingMatches, partitionRow, partitionState } from './topic-describe.js';

function p(partition: number, leader: number, replicas: number[], isr: number[], leaderEpoch = 3): PartitionDescription {
  return { partition, leader, leaderEpoch, replicas, isr, earliestOffset: leader < 0 ? -1 : 0, latestOffset: leader < 0 ? -1 : 10 };
}

describe('topic describe > partition states', () => {
  it('calls a partition without a leader offline, and never under-replicated (Kafka\'s rule)', () => {
    const row = partitionRow(p(0, -1, [1, 2, 3], [2]));
    expect(row).toMatchObject({ leader: null, offline: true, underReplicated: false, earliestOffset: null, latestOffset: null });
    expect(partitionState(row)).toBe('offline');
  });

  it('calls a led partition with fewer in-sync replicas than replicas under-replicated', () => {
    const row = partitionRow(p(0, 2, [1, 2, 3], [2, 1]));
    expect(row).toMatchObject({ leader: 2, leaderEpoch: 3, offline: false, underReplicated: true });
    expect(partitionState(row)).toBe('under-replicated');
    expect(partitionState(partitionRow(p(0, 2, [1, 2, 3], [2, 1, 3])))).toBe('ok');
  });

  it('lists partitions in any chosen state, and every partition when no state is chosen', () => {
    const healthy = partitionRow(p(0, 1, [1, 2], [1, 2]));
    const under = partitionRow(p(1, 1, [1, 2], [1]));
    const offline = partitionRow(p(2, -1, [1, 2], []));
    const pick = (underReplicated: boolean, unavailable: boolean): number[] =>
      [healthy, under, offline].filter((r) => matchesFilter(r, { underReplicated, unavailable })).map((r) => r.partition);
    expect(pick(false, false)).toEqual([0, 1, 2]);
    expect(pick(true, false)).toEqual([1]);
    expect(pick(false, true)).toEqual([2]);
    expect(pick(true, true)).toEqual([1, 2]);
    expect(nothingMatches({ underReplicated: true, unavailable: true })).toBe('No under-replicated or unavailable partitions.');
  });
});

// ---- The command through the runner.

const TOPICS: Record<string, PartitionDescription[]> = {
  payments: [p(0, 2, [2, 3, 1], [2, 3, 1]), p(1, -1, [3, 1, 2], [])],
  orders: [p(1, 1, [1, 2, 3], [1, 2]), p(0, 1, [1, 2, 3], [1, 2, 3])],
  healthy: [p(0, 3, [3, 1, 2], [3, 1, 2])],
};

function fakeClient(topics: Record<string, PartitionDescription[]>, calls: string[]): StreamBusClient {
  const unknown = (name: string): StreamBusError =>
    new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`, { context: { topic: name } });
  const unused = (): Promise<never> => Promise.reject(new Error('not used by topic describe'));
  const admin: CliAdmin = {
    listTopics: () => Promise.resolve(Object.keys(topics).sort()),
    describeTopics: (names) => {
      calls.push('describeTopics');
      for (const name of names) if (topics[name] === undefined) return Promise.reject(unknown(name));
      return Promise.resolve(names.map((name): TopicDescription => ({ topic: name, topicId: `id-${name}`, internal: false, partitions: topics[name]! })));
    },
    describeConfigs: (names) => {
      calls.push('describeConfigs');
      return Promise.resolve(
        names.map((name) => ({
          topic: name,
          entries: [{ name: 'min.insync.replicas', value: '2', source: 'topic', readOnly: false, sensitive: false, documentation: '' }],
        })),
      );
    },
    createTopics: unused,
    deleteTopics: unused,
    alterConfigs: unused,
    createPartitions: unused,
    listOffsets: unused,
  };
  return { admin: () => admin, producer: () => { throw new Error('not used'); }, consumer: () => { throw new Error('not used'); }, close: () => Promise.resolve() };
}

async function cli(argv: readonly string[], topics = TOPICS): Promise<{ code: number; stdout: string; stderr: string; calls: string[] }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const calls: string[] = [];
  const code = await runCli(argv, { stdout, stderr, stdin: Readable.from([]), env: {}, createClient: () => Promise.resolve(fakeClient(topics, calls)) });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), calls };
}

describe('cli > topic describe (replication)', () => {
  it('shows each partition\'s leader epoch and state, with the state counts in the summary', async () => {
    const run = await cli(['topic', 'describe', 'payments']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toContain('Under-replicated:   0\nOffline:            1\n');
    expect(run.stdout).toContain(
      [
        'PARTITION  LEADER  EPOCH  REPLICAS  ISR    EARLIEST  LATEST  STATUS',
        '        0       2      3  2,3,1     2,3,1         0      10  ok',
        '        1       -      3  3,1,2     -             -       -  offline',
      ].join('\n'),
    );
  });

  it('--under-replicated-partitions lists only those partitions, across every topic, without summaries or configs', async () => {
    const run = await cli(['topic', 'describe', '--under-replicated-partitions']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toBe(['TOPIC   PARTITION  LEADER  EPOCH  REPLICAS  ISR  STATUS', 'orders          1       1      3  1,2,3     1,2  under-replicated', ''].join('\n'));
    expect(run.calls).not.toContain('describeConfigs');
  });

  it('--unavailable-partitions with --under-replicated-partitions lists partitions in either state', async () => {
    const run = await cli(['topic', 'describe', '--unavailable-partitions', '--under-replicated-partitions']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join('-'))).toEqual(['orders-1', 'payments-1']);
    expect(lines[2]).toMatch(/payments\s+1\s+-\s+3\s+3,1,2\s+-\s+offline$/);
  });

  it('prints nothing on stdout and says so on stderr when no partition is in the chosen state', async () => {
    const run = await cli(['topic', 'describe', 'healthy', '--under-replicated-partitions', '--unavailable-partitions']);
    expect(run.code).toBe(ExitCode.OK);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('No under-replicated or unavailable partitions.\n');
  });

  it('--json with a filter and no name gives only the topics with matching partitions, and those partitions', async () => {
    const run = await cli(['topic', 'describe', '--unavailable-partitions', '--json']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(run.stdout)).toEqual({
      topics: [
        {
          name: 'payments',
          topicId: 'id-payments',
          internal: false,
          replicationFactor: 3,
          partitions: [
            { partition: 1, leader: null, leaderEpoch: 3, replicas: [3, 1, 2], isr: [], earliestOffset: null, latestOffset: null, offline: true, underReplicated: false },
          ],
        },
      ],
    });
  });

  it('--json with a name and a filter keeps the one-topic shape, with an empty partition list when nothing matches', async () => {
    const run = await cli(['topic', 'describe', 'healthy', '--under-replicated-partitions', '--json']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(run.stdout)).toEqual({ topic: { name: 'healthy', topicId: 'id-healthy', internal: false, replicationFactor: 3, partitions: [] } });
  });

  it('without a name describes every topic in name order, with configs', async () => {
    const run = await cli(['topic', 'describe', '--json']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    const parsed = JSON.parse(run.stdout) as { topics: { name: string; partitions: { partition: number }[]; configs: { name: string }[] }[] };
    expect(parsed.topics.map((t) => t.name)).toEqual(['healthy', 'orders', 'payments']);
    expect(parsed.topics[1]!.partitions.map((x) => x.partition)).toEqual([0, 1]);
    expect(parsed.topics[1]!.configs.map((c) => c.name)).toEqual(['min.insync.replicas']);

    const human = await cli(['topic', 'describe']);
    expect(human.stdout.match(/^Topic: +\S+$/gm)).toEqual(['Topic:              healthy', 'Topic:              orders', 'Topic:              payments']);
  });

  it('says there are no topics when the cluster has none', async () => {
    const human = await cli(['topic', 'describe'], {});
    expect(human.code).toBe(ExitCode.OK);
    expect(human.stderr).toBe('No topics.\n');
    const json = await cli(['topic', 'describe', '--json'], {});
    expect(JSON.parse(json.stdout)).toEqual({ topics: [] });
  });

  it('fails with UNKNOWN_TOPIC_OR_PARTITION for a named topic that does not exist, filters or not', async () => {
    const run = await cli(['topic', 'describe', 'nope', '--unavailable-partitions', '--json']);
    expect(run.code).toBe(ExitCode.FAILED);
    expect((JSON.parse(run.stdout) as { error: { name: string; topic: string } }).error).toMatchObject({ name: 'UNKNOWN_TOPIC_OR_PARTITION', topic: 'nope' });
  });
});
