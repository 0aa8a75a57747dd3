/**
 * `streambus txn list | describe` and `streambus producers describe` against a real `streambus dev`
 * process (the command line runs in this process through runCli): a transaction left open shows up
 * with its state, partition, age and the first offset it holds the partition at; once committed it
 * shows no open partitions. Unknown ids and bad states get typed failures.
 */
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBus } from '../../client/index.js';
import { ExitCode, runCli } from '../../cli/run.js';
import { eventually, startDevServer, type DevServer } from '../support/dev-server.js';

const TOPIC = 'cli-txn';

let server: DevServer;
let bus: StreamBus;

beforeAll(async () => {
  server = await startDevServer();
  bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'txn-cli' });
  await bus.admin().createTopics([{ topic: TOPIC, partitions: 2 }]);
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
  const result = await cli(...argv, '--json');
  expect(result.code, result.stderr).toBe(ExitCode.OK);
  return JSON.parse(result.stdout) as T;
}

interface Listed {
  transactionalId: string;
  state: string;
  partitions: number;
  ageSeconds: number | null;
}

describe('cli > txn and producers', () => {
  it('shows an open transaction with its partition, age and held offset, and no open partitions once it commits', async () => {
    const producer = bus.producer({ transactionalId: 'cli-open' });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let written: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => {
      written = resolve;
    });
    const running = producer.transaction(async (tx) => {
      await tx.send({ topic: TOPIC, partition: 1, value: 'pending' });
      written();
      await held;
    });
    await sent;

    const { transactions } = await json<{ transactions: Listed[] }>('txn', 'list');
    const open = transactions.find((t) => t.transactionalId === 'cli-open');
    expect(open).toMatchObject({ state: 'Ongoing', partitions: 1 });
    expect(open!.ageSeconds).toBeGreaterThanOrEqual(0);
    const onlyOngoing = await json<{ transactions: Listed[] }>('txn', 'list', '--state', 'ongoing');
    expect(onlyOngoing.transactions.map((t) => t.transactionalId)).toContain('cli-open');

    const described = await json<{ state: string; partitions: { topic: string; partition: number }[]; startTimeMs: number | null }>('txn', 'describe', 'cli-open');
    expect(described.state).toBe('Ongoing');
    expect(described.partitions).toEqual([{ topic: TOPIC, partition: 1 }]);
    expect(described.startTimeMs).not.toBeNull();

    const producers = await json<{ producers: { partition: number; currentTxnStartOffset: number | null }[] }>('producers', 'describe', TOPIC);
    expect(producers.producers).toContainEqual(expect.objectContaining({ partition: 1, currentTxnStartOffset: 0 }));

    release();
    await running;
    await eventually(async () => (await json<{ state: string }>('txn', 'describe', 'cli-open')).state === 'CompleteCommit', 10_000, 100);
    const text = await cli('txn', 'describe', 'cli-open');
    expect(text.stdout).toContain('CompleteCommit');
    expect(text.stderr).toContain('No open transaction.');
    const after = await json<{ producers: { partition: number; currentTxnStartOffset: number | null }[] }>('producers', 'describe', TOPIC, '--partition', '1');
    expect(after.producers.every((p) => p.currentTxnStartOffset === null)).toBe(true);
  });

  it('fails for an unknown transactional id, an unknown state and a partition the topic lacks', async () => {
    const unknown = await cli('txn', 'describe', 'no-such-id');
    expect(unknown.code).toBe(ExitCode.FAILED);
    expect(unknown.stderr).toContain('TRANSACTIONAL_ID_NOT_FOUND');
    const badState = await cli('txn', 'list', '--state', 'Sleeping');
    expect(badState.code).toBe(ExitCode.USAGE);
    const badPartition = await cli('producers', 'describe', TOPIC, '--partition', '9');
    expect(badPartition.code).toBe(ExitCode.FAILED);
    expect(badPartition.stderr).toContain('UNKNOWN_TOPIC_OR_PARTITION');
  });
});
