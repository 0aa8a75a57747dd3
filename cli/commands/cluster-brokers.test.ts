/**
 * `cluster brokers`, run in-process through the real runner against a stand-in coordinator group
 * over real TCP whose committed metadata log is real (client/testing/mini-coordinators.ts). Against
 * real coordinator and broker processes it runs in test/e2e/observability-cluster.test.ts.
 */
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MiniCoordinators } from '../../client/testing/mini-coordinators.js';
import { MetadataState, type MetadataCommand, type PartitionAssignment } from '../../coordinator/index.js';
import { ExitCode, runCli } from '../run.js';
import { clusterBrokers } from './cluster-brokers.js';

let group: MiniCoordinators;

beforeEach(async () => {
  group = await MiniCoordinators.start(2);
});

afterEach(async () => {
  await group.close();
});

async function cli(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await runCli([...argv, '--coordinators', group.bootstrap.join(',')], { stdout, stderr, stdin: Readable.from([]), env: {} });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

function assignment(partition: number, leader: number, replicas: number[]): PartitionAssignment {
  return { partition, leader, leaderEpoch: 0, partitionEpoch: 0, replicas, isr: leader < 0 ? [replicas[0]!] : replicas };
}

/** Registrations of brokers 101, 102 (rack "b") and 103. */
function commands(): MetadataCommand[] {
  const registrations: MetadataCommand[] = [];
  for (const nodeId of [101, 102, 103]) {
    registrations.push({
      type: 'register-broker',
      nodeId,
      incarnationId: `incarnation-${nodeId}`,
      host: '127.0.0.1',
      port: 9000 + nodeId,
      rack: nodeId === 102 ? 'b' : null,
      listeners: [{ name: 'native', host: '127.0.0.1', port: 9000 + nodeId }],
    });
  }
  return registrations;
}

/** The three brokers unfenced, a topic of 4 partitions (one without a leader), then 103 fenced. Returns the broker epochs. */
function setUp(): Map<number, number> {
  const epochs = new Map<number, number>();
  for (const command of commands()) {
    const offset = group.append(command);
    if (command.type === 'register-broker') epochs.set(command.nodeId, offset);
  }
  for (const [nodeId, brokerEpoch] of epochs) group.append({ type: 'unfence-broker', nodeId, brokerEpoch });
  group.append({
    type: 'create-topic',
    name: 'orders',
    topicId: 'orders-id',
    configs: {},
    partitions: [assignment(0, 101, [101, 102, 103]), assignment(1, 102, [102, 103, 101]), assignment(2, 101, [101, 103, 102]), assignment(3, -1, [103, 101, 102])],
  });
  group.append({ type: 'fence-broker', nodeId: 103, brokerEpoch: epochs.get(103)! });
  return epochs;
}

describe('cluster brokers > counting', () => {
  it('counts each broker\'s leaderships and replicas, and partitions without a leader', () => {
    const state = MetadataState.empty();
    let offset = 0;
    const apply = (command: MetadataCommand): number => {
      state.apply({ offset, command });
      return offset++;
    };
    apply({ type: 'init-cluster', clusterId: 'c1' });
    const epoch = apply(commands()[0]!);
    apply({ type: 'unfence-broker', nodeId: 101, brokerEpoch: epoch });
    apply({ type: 'create-topic', name: 't', topicId: 't-id', configs: {}, partitions: [assignment(0, 101, [101]), assignment(1, -1, [101])] });
    expect(clusterBrokers(state)).toEqual({
      clusterId: 'c1',
      metadataOffset: 3,
      partitions: 2,
      offlinePartitions: 1,
      brokers: [{ nodeId: 101, address: '127.0.0.1:9101', rack: null, brokerEpoch: 1, fenced: false, draining: false, leaders: 1, replicas: 2 }],
    });
  });
});

describe('cli > cluster brokers', () => {
  it('lists every registered broker with address, rack, epoch, fenced state, leaders and replicas', async () => {
    const epochs = setUp();
    const run = await cli(['cluster', 'brokers']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toContain('Brokers:         3 (1 fenced)\nPartitions:      4 (1 offline)\n');
    expect(run.stdout).toContain(
      [
        'BROKER  ADDRESS         RACK  EPOCH  FENCED  DRAINING  LEADERS  REPLICAS',
        `   101  127.0.0.1:9101  -     ${String(epochs.get(101)).padStart(5)}  no      no              2         4`,
        `   102  127.0.0.1:9102  b     ${String(epochs.get(102)).padStart(5)}  no      no              1         4`,
        `   103  127.0.0.1:9103  -     ${String(epochs.get(103)).padStart(5)}  yes     no              0         4`,
      ].join('\n'),
    );
  });

  it('shows which brokers are draining (broker drain), in the summary, the table and --json', async () => {
    setUp();
    group.append({ type: 'broker-maintenance', nodeId: 102, draining: true });
    const run = await cli(['cluster', 'brokers']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toContain('Brokers:         3 (1 fenced, 1 draining)\n');
    expect(run.stdout).toMatch(/ {3}102 {2}127\.0\.0\.1:9102 {2}b +\d+ {2}no {6}yes /);
    const view = JSON.parse((await cli(['cluster', 'brokers', '--json'])).stdout) as { brokers: { nodeId: number; draining: boolean }[] };
    expect(view.brokers.map((b) => [b.nodeId, b.draining])).toEqual([
      [101, false],
      [102, true],
      [103, false],
    ]);
  });

  it('--json gives the whole view, read from a snapshot when the log was compacted', async () => {
    setUp();
    group.compactBefore = group.state.lastAppliedOffset - 1;
    const run = await cli(['cluster', 'brokers', '--json']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    const view = JSON.parse(run.stdout) as { clusterId: string; metadataOffset: number; brokers: { nodeId: number; fenced: boolean; leaders: number }[] };
    expect(view.clusterId).toBe(group.clusterId);
    expect(view.metadataOffset).toBe(group.state.lastAppliedOffset);
    expect(view.brokers.map((b) => [b.nodeId, b.fenced, b.leaders])).toEqual([
      [101, false, 2],
      [102, false, 1],
      [103, true, 0],
    ]);
  });

  it('says so when no broker is registered', async () => {
    const run = await cli(['cluster', 'brokers']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toContain('Brokers:         0');
    expect(run.stderr).toBe('No brokers are registered.\n');
  });

  it('fails with REQUEST_TIMED_OUT naming the wait when no coordinator serves the metadata in time', async () => {
    await Promise.all(group.nodes.map((n) => group.stopNode(n.nodeId)));
    const started = Date.now();
    const run = await cli(['cluster', 'brokers', '--wait-ms', '300', '--json']);
    expect(run.code).toBe(ExitCode.FAILED);
    const error = (JSON.parse(run.stdout) as { error: { name: string; message: string } }).error;
    expect(error.name).toBe('REQUEST_TIMED_OUT');
    expect(error.message).toContain('within 300 ms');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
