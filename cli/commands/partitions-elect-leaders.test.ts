/**
 * `streambus partitions elect-leaders`, run in-process through the real runner against a real
 * coordinator (a Raft group of one on LevelDB) served on a real TCP port.
 */
import { PassThrough, Readable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NativeServer } from '../../broker/network/index.js';
import { type Coordinator, CoordinatorHandler } from '../../coordinator/index.js';
import { MemoryGroup } from '../../coordinator/service/testing/memory-group.js';
import { ExitCode, runCli } from '../run.js';

let group: MemoryGroup;
let server: NativeServer;
let coordinator: Coordinator;
const epochs = new Map<number, number>();

beforeEach(async () => {
  group = await MemoryGroup.start([1]);
  coordinator = group.coordinator(await group.leader());
  server = new NativeServer({ handler: new CoordinatorHandler({ coordinator, serverVersion: 'test', maxFrameBytes: 1 << 20, maxInFlight: 16 }), port: 0, logger: pino({ level: 'silent' }) });
  await server.listen();
  for (const nodeId of [1, 2]) {
    const { brokerEpoch, metadataOffset } = await coordinator.registerBroker({ nodeId, incarnationId: `inc-${nodeId}`, host: '127.0.0.1', port: 9000 + nodeId });
    await coordinator.brokerHeartbeat({ nodeId, brokerEpoch, metadataOffset });
    epochs.set(nodeId, brokerEpoch);
  }
  await coordinator.createTopics([{ name: 'orders', numPartitions: 2, replicationFactor: 2 }]);
});

afterEach(async () => {
  await server.close();
  await group.close();
});

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

/** Takes broker 1 away and back: partitions it preferred now lead elsewhere, with 1 back in their ISR. */
async function displacePreferred(): Promise<number[]> {
  const offset = coordinator.state.lastAppliedOffset;
  await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch: epochs.get(1)!, metadataOffset: offset, wantFence: true, wantShutDown: false });
  await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch: epochs.get(1)!, metadataOffset: coordinator.state.lastAppliedOffset });
  const topic = coordinator.state.topic('orders')!;
  const displaced = topic.partitions.filter((p) => p.replicas[0] === 1).map((p) => p.partition);
  for (const p of topic.partitions) {
    if (p.isr.includes(1)) continue;
    await coordinator.alterPartition({
      brokerId: p.leader,
      brokerEpoch: epochs.get(p.leader)!,
      partitions: [{ topicId: topic.topicId, partition: p.partition, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [...p.isr, 1] }],
    });
  }
  return displaced;
}

describe('cli > partitions elect-leaders', () => {
  it('moves leadership back to preferred replicas and prints each partition it elected', async () => {
    const displaced = await displacePreferred();
    expect(displaced.length).toBeGreaterThan(0);
    const run = await cli(['partitions', 'elect-leaders', '--type', 'preferred']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(run.stdout).toMatch(/TOPIC\s+PARTITION\s+LEADER\s+RESULT/);
    for (const partition of displaced) expect(run.stdout).toMatch(new RegExp(`orders\\s+${partition}\\s+1\\s+elected`));
    for (const partition of displaced) expect(coordinator.state.topic('orders')!.partitions[partition]!.leader).toBe(1);
    const again = await cli(['partitions', 'elect-leaders', '--type', 'preferred']);
    expect(again.stdout).toContain('No partition needed a preferred election.');
  });

  it('--json lists every named partition with its result, ELECTION_NOT_NEEDED included', async () => {
    const run = await cli(['partitions', 'elect-leaders', '--type', 'preferred', '--topic', 'orders', '--partition', '1', '--json']);
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    const out = JSON.parse(run.stdout) as { type: string; partitions: { topic: string; partition: number; leader: number; result: string }[] };
    expect(out.type).toBe('preferred');
    expect(out.partitions).toEqual([expect.objectContaining({ topic: 'orders', partition: 1, result: 'ELECTION_NOT_NEEDED' })]);
  });

  it('exits 1 naming the partitions it could not elect, after printing every result', async () => {
    await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch: epochs.get(1)!, metadataOffset: 0, wantFence: true, wantShutDown: false });
    const run = await cli(['partitions', 'elect-leaders', '--type', 'preferred', '--topic', 'orders']);
    expect(run.code).toBe(ExitCode.FAILED);
    expect(run.stdout).toContain('PREFERRED_LEADER_NOT_AVAILABLE');
    expect(run.stderr).toMatch(/error: PREFERRED_LEADER_NOT_AVAILABLE .*broker 1/);
    const missing = await cli(['partitions', 'elect-leaders', '--type', 'unclean', '--topic', 'ghost']);
    expect(missing.code).toBe(ExitCode.FAILED);
    expect(missing.stdout).toContain('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('--json prints one error document naming the partition it could not elect', async () => {
    await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch: epochs.get(1)!, metadataOffset: 0, wantFence: true, wantShutDown: false });
    const run = await cli(['partitions', 'elect-leaders', '--type', 'preferred', '--topic', 'orders', '--json']);
    expect(run.code).toBe(ExitCode.FAILED);
    const displaced = coordinator.state.topic('orders')!.partitions.find((p) => p.replicas[0] === 1)!.partition;
    // Only that partition failed: the error is its own, with the partition it names.
    expect(JSON.parse(run.stdout)).toEqual({ error: expect.objectContaining({ name: 'PREFERRED_LEADER_NOT_AVAILABLE', topic: 'orders', partition: displaced }) });
  });

  it('refuses a missing or unknown --type, and --partition without --topic, as usage errors', async () => {
    expect((await cli(['partitions', 'elect-leaders'])).code).toBe(ExitCode.USAGE);
    const unknown = await cli(['partitions', 'elect-leaders', '--type', 'sideways']);
    expect(unknown.code).toBe(ExitCode.USAGE);
    expect(unknown.stderr).toMatch(/--type must be preferred or unclean/);
    expect((await cli(['partitions', 'elect-leaders', '--type', 'preferred', '--partition', '0'])).code).toBe(ExitCode.USAGE);
  });
});
