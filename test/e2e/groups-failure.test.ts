/**
 * A group member killed with kill -9 (a real child process, so no LeaveGroup and no last commit):
 * the coordinator removes it once its session timeout passes, and the surviving member is given
 * its partitions. Against a real `streambus dev` process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBus } from '../../client/index.js';
import { eventually, startDevServer, type DevServer } from '../support/dev-server.js';
import { transpileChild, type TranspiledChild } from '../support/ts-child.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PARTITIONS = 12;
const SESSION_TIMEOUT_MS = 3_000;

let server: DevServer;
let bus: StreamBus;
let child: TranspiledChild;
let processes: ChildProcess[] = [];

beforeAll(async () => {
  [server, child] = await Promise.all([
    startDevServer({ settings: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 500 } }),
    transpileChild(path.join(path.dirname(fileURLToPath(import.meta.url)), 'groups-member.child.ts')),
  ]);
  // The native codec loads proto/*.proto at run time; the transpiled copy needs them beside it.
  const childRoot = path.resolve(path.dirname(child.script), '../..');
  for (const file of await readdir(path.join(repoRoot, 'proto'))) {
    if (file.endsWith('.proto')) await copyFile(path.join(repoRoot, 'proto', file), path.join(childRoot, 'proto', file));
  }
  bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'groups-failure' });
}, 60_000);

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  processes = [];
  await bus?.close();
  await server?.dispose();
  await child?.remove();
});

describe('groups > a member killed with kill -9', () => {
  it('has its partitions reassigned to the survivor after the session timeout', async () => {
    const topic = 'killed';
    const group = 'killed-group';
    await bus.admin().createTopics([{ topic, partitions: PARTITIONS }]);
    const member = spawn(process.execPath, [child.script, server.bootstrap, topic, group, String(SESSION_TIMEOUT_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    processes.push(member);
    let childPartitions: number[] = [];
    createInterface({ input: member.stdout }).on('line', (line) => {
      childPartitions = (JSON.parse(line) as { partitions: number[] }).partitions;
    });
    await eventually(() => childPartitions.length === PARTITIONS, 20_000);

    const survivor = bus.consumer({ groupId: group, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 200, autoOffsetReset: 'earliest', maxWaitMs: 100 });
    survivor.subscribe([topic]);
    const running = survivor.run({ eachMessage: () => undefined });
    await eventually(() => survivor.state === 'stable' && survivor.assignment().length === PARTITIONS / 2 && childPartitions.length === PARTITIONS / 2, 20_000);

    const killedAt = Date.now();
    member.kill('SIGKILL');
    await eventually(() => survivor.assignment().length === PARTITIONS, SESSION_TIMEOUT_MS + 10_000);
    const reassignedMs = Date.now() - killedAt;
    console.log(`kill -9: partitions reassigned ${reassignedMs} ms after the kill (session timeout ${SESSION_TIMEOUT_MS} ms)`);
    // Not before the session timeout (nothing told the group), and not long after it.
    expect(reassignedMs).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS - 500);
    expect(reassignedMs).toBeLessThan(SESSION_TIMEOUT_MS + 5_000);
    await survivor.close();
    await running;
  }, 60_000);
});

describe('groups > a member frozen past its session timeout', () => {
  it('is told its partitions were lost when it wakes, and joins again', async () => {
    const topic = 'frozen';
    const group = 'frozen-group';
    await bus.admin().createTopics([{ topic, partitions: PARTITIONS }]);
    const member = spawn(process.execPath, [child.script, server.bootstrap, topic, group, String(SESSION_TIMEOUT_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    processes.push(member);
    let partitions: number[] = [];
    let lost: number[] | undefined;
    createInterface({ input: member.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { partitions?: number[]; lost?: number[] };
      if (event.lost !== undefined) lost = event.lost;
      if (event.partitions !== undefined) partitions = event.partitions;
    });
    await eventually(() => partitions.length === PARTITIONS, 20_000);
    const survivor = bus.consumer({ groupId: group, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 200, autoOffsetReset: 'earliest', maxWaitMs: 100 });
    survivor.subscribe([topic]);
    const running = survivor.run({ eachMessage: () => undefined });
    await eventually(() => survivor.assignment().length === PARTITIONS / 2 && partitions.length === PARTITIONS / 2, 20_000);

    member.kill('SIGSTOP');
    await eventually(() => survivor.assignment().length === PARTITIONS, SESSION_TIMEOUT_MS + 10_000);
    member.kill('SIGCONT');
    await eventually(() => lost !== undefined, 10_000);
    expect(lost).toHaveLength(PARTITIONS / 2);
    // It rejoins as a new member and the group splits the partitions again.
    await eventually(() => partitions.length === PARTITIONS / 2 && survivor.assignment().length === PARTITIONS / 2, 20_000);
    member.kill('SIGKILL');
    await survivor.close();
    await running;
  }, 60_000);
});
