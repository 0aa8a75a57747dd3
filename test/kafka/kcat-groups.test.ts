/**
 * kcat 1.7 on librdkafka 2.0.2 (Debian package), unmodified, as a balanced consumer group (`-G`)
 * through the Kafka listener: two kcat processes share a 4-partition topic, each partition is
 * consumed by exactly one of them, every record once; the offsets they commit on leaving are read
 * back (kafkajs admin) and a third member resumes from them.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startKafkaNode, type KafkaNode } from './support/kafka-node.js';

const TOPIC = 'kcat-group';
const PARTITIONS = 4;
const WAIT_MS = 20_000;

let node: KafkaNode;
let admin: Admin;
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  node = await startKafkaNode({ 'group.initial.rebalance.delay.ms': '0' });
  // librdkafka's consumers do not create the topics they subscribe to.
  admin = new Kafka({ brokers: [node.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], waitForLeaders: true });
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await admin?.disconnect();
  await node?.close();
});

interface GroupMember {
  readonly child: ChildProcessWithoutNullStreams;
  /** The partitions of the latest assignment kcat reported. */
  assigned: number[] | undefined;
  readonly messages: { partition: number; offset: number; payload: string }[];
  /** The end of kcat's log, shown when a wait times out. */
  log: string;
  readonly exited: Promise<number | null>;
}

/** A long-running `kcat -G` member that reports its assignments (stderr) and messages (JSON on stdout). */
function startMember(groupId: string): GroupMember {
  const child = spawn('kcat', ['-b', node.bootstrap, '-G', groupId, '-u', '-J', '-X', 'auto.offset.reset=earliest', '-X', 'auto.commit.interval.ms=100', '-X', 'session.timeout.ms=10000', TOPIC]);
  children.push(child);
  const member: GroupMember = {
    child,
    assigned: undefined,
    messages: [],
    log: '',
    exited: new Promise((resolve) => child.once('close', (code) => resolve(code))),
  };
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const lines = out.split('\n');
    out = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('{')) member.messages.push(JSON.parse(line) as GroupMember['messages'][number]);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    member.log = (member.log + chunk.toString()).slice(-2000);
    // "% Group g rebalanced (memberid m): assigned: kcat-group [0], kcat-group [2]"
    for (const line of chunk.toString().split('\n')) {
      if (!line.includes('rebalanced')) continue;
      if (line.includes('assigned:')) member.assigned = [...line.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
      else if (line.includes('revoked')) member.assigned = [];
    }
  });
  return member;
}

async function stop(member: GroupMember): Promise<void> {
  // SIGTERM: kcat commits, leaves the group and exits.
  member.child.kill('SIGTERM');
  await member.exited;
  children.splice(children.indexOf(member.child), 1);
}

async function waitFor(what: string, condition: () => boolean, members: readonly GroupMember[]): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; kcat said:\n${members.map((m) => m.log).join('\n---\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function produce(count: number, label: string): Promise<void> {
  const input = Array.from({ length: count }, (_, i) => `${label}-${i}:${label}-${i}`).join('\n') + '\n';
  const result = await run('kcat', ['-b', node.bootstrap, '-P', '-t', TOPIC, '-X', 'partitioner=murmur2_random', '-K', ':'], {
    input,
    timeoutMs: 20_000,
  });
  if (result.code !== 0) throw new Error(`kcat -P exited with ${String(result.code)}: ${result.stderr}`);
}

describe('kafka listener > kcat balanced consumer group', () => {
  it('splits the partitions between two kcat -G members, each partition consumed by exactly one, every record once', { timeout: 90_000 }, async () => {
    const a = startMember('kcat-billing');
    const b = startMember('kcat-billing');
    await waitFor('both members to get two partitions each', () => a.assigned?.length === 2 && b.assigned?.length === 2, [a, b]);
    expect([...a.assigned!, ...b.assigned!].sort()).toEqual([0, 1, 2, 3]);

    await produce(200, 'r1');
    await waitFor('every record to be consumed', () => a.messages.length + b.messages.length >= 200, [a, b]);
    const byPartition = new Map<number, Set<GroupMember>>();
    for (const member of [a, b]) for (const m of member.messages) byPartition.set(m.partition, (byPartition.get(m.partition) ?? new Set()).add(member));
    expect([...byPartition.values()].every((owners) => owners.size === 1)).toBe(true);
    for (const m of a.messages) expect(a.assigned).toContain(m.partition);
    for (const m of b.messages) expect(b.assigned).toContain(m.partition);
    const payloads = [...a.messages, ...b.messages].map((m) => m.payload).sort();
    expect(payloads).toEqual(Array.from({ length: 200 }, (_, i) => `r1-${i}`).sort());
    expect(byPartition.size).toBeGreaterThan(1);

    await stop(a);
    await stop(b);
    // What they committed on leaving covers every record.
    const [committed] = await admin.fetchOffsets({ groupId: 'kcat-billing', topics: [TOPIC] });
    expect(committed?.partitions.reduce((sum, p) => sum + Number(p.offset), 0)).toBe(200);
    // A new member resumes from what the two committed: it sees only what came after.
    await produce(20, 'r2');
    const c = startMember('kcat-billing');
    await waitFor('the new member to consume the records produced after the others left', () => c.messages.length >= 20, [c]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(c.messages.map((m) => m.payload).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `r2-${i}`).sort());
    await stop(c);
  });
});
