/**
 * kafkajs 2.2.4 (npm), unmodified, as a consumer group member through the Kafka listener of a real
 * single-node cluster: FindCoordinator names the broker, which forwards JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit and OffsetFetch to the group coordinator. A group of two
 * rebalances when the second member joins and when one leaves, a restarted consumer resumes from
 * the committed offsets, seek moves a running consumer, and the admin client lists, describes
 * and deletes groups. Every record is consumed exactly once in a run without failures.
 */
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaNode, type KafkaNode } from './support/kafka-node.js';

const TOPIC = 'group-orders';
const PARTITIONS = 4;
const WAIT_MS = 20_000;

let node: KafkaNode;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const consumers: Consumer[] = [];

beforeAll(async () => {
  node = await startKafkaNode({ 'group.initial.rebalance.delay.ms': '0' });
  kafka = new Kafka({ brokers: [node.bootstrap], clientId: 'kafkajs-groups', logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], waitForLeaders: true });
  producer = kafka.producer();
  await producer.connect();
});

afterAll(async () => {
  for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
  await producer?.disconnect();
  await admin?.disconnect();
  await node?.close();
});

/** `perPartition` records on every partition, values `${label}-${partition}-${i}`. */
async function produceRound(label: string, perPartition: number): Promise<string[]> {
  const values: string[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const messages = Array.from({ length: perPartition }, (_, i) => ({ value: `${label}-${partition}-${i}` }));
    values.push(...messages.map((m) => m.value));
    await producer.send({ topic: TOPIC, acks: -1, messages: messages.map((m) => ({ ...m, partition })) });
  }
  return values;
}

interface Member {
  readonly consumer: Consumer;
  readonly name: string;
  /** The partitions of TOPIC of each completed join, latest last. */
  readonly assignments: number[][];
}

/** A kafkajs consumer of `groupId`, recording each value it is handed in `seen` under its name. */
async function startMember(groupId: string, name: string, seen: Map<string, string[]>): Promise<Member> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100, retry: { retries: 5, initialRetryTime: 50 } });
  consumers.push(consumer);
  const member: Member = { consumer, name, assignments: [] };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    member.assignments.push([...(event.payload.memberAssignment[TOPIC] ?? [])].sort((a, b) => a - b));
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  await consumer.run({
    autoCommitThreshold: 1,
    eachMessage: ({ message }) => {
      const value = message.value?.toString() ?? '';
      seen.set(value, [...(seen.get(value) ?? []), name]);
      return Promise.resolve();
    },
  });
  return member;
}

async function stopMember(member: Member): Promise<void> {
  await member.consumer.disconnect();
  consumers.splice(consumers.indexOf(member.consumer), 1);
}

async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const latest = (member: Member): number[] | undefined => member.assignments.at(-1);
const allSeen = (seen: Map<string, string[]>, values: readonly string[]): boolean => values.every((v) => seen.has(v));

describe('kafka listener > kafkajs consumer groups', () => {
  it('shares 4 partitions between two members, rebalancing as one joins and one leaves, each record consumed once', async () => {
    const seen = new Map<string, string[]>();
    const first = await startMember('billing', 'a', seen);
    await waitFor('the first member to own every partition', () => latest(first)?.length === PARTITIONS);
    const round1 = await produceRound('r1', 5);
    await waitFor('round 1 to be consumed', () => allSeen(seen, round1));

    const second = await startMember('billing', 'b', seen);
    await waitFor('the rebalance to split the partitions', () => latest(first)?.length === 2 && latest(second)?.length === 2);
    expect([...latest(first)!, ...latest(second)!].sort()).toEqual([0, 1, 2, 3]);
    const round2 = await produceRound('r2', 5);
    await waitFor('round 2 to be consumed', () => allSeen(seen, round2));
    // Each partition's records went to the member that owns it.
    for (const value of round2) {
      const partition = Number(value.split('-')[1]);
      expect(seen.get(value)).toEqual([latest(first)!.includes(partition) ? 'a' : 'b']);
    }

    await stopMember(second);
    await waitFor('the remaining member to take every partition back', () => latest(first)?.length === PARTITIONS);
    const round3 = await produceRound('r3', 5);
    await waitFor('round 3 to be consumed', () => allSeen(seen, round3));

    // Exactly once: nothing consumed twice, nothing unknown.
    expect([...seen.values()].filter((by) => by.length !== 1)).toEqual([]);
    expect([...seen.keys()].sort()).toEqual([...round1, ...round2, ...round3].sort());
    await stopMember(first);
  });

  it('resumes from the committed offsets after a restart, and reads the committed offsets back with the admin client', async () => {
    const seen = new Map<string, string[]>();
    const before = await startMember('resume', 'before', seen);
    await waitFor('the member to join', () => latest(before)?.length === PARTITIONS);
    await waitFor('the earlier rounds to be consumed', () => seen.size === 60);
    await stopMember(before);

    const offsets = await admin.fetchOffsets({ groupId: 'resume', topics: [TOPIC] });
    expect(offsets[0]?.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '15'],
      [1, '15'],
      [2, '15'],
      [3, '15'],
    ]);

    const round4 = await produceRound('r4', 3);
    const after = await startMember('resume', 'after', seen);
    await waitFor('round 4 to be consumed after the restart', () => allSeen(seen, round4));
    // Nothing committed before the restart came again.
    expect(seen.size).toBe(60 + round4.length);
    expect([...seen.values()].filter((by) => by.length !== 1)).toEqual([]);
    await stopMember(after);
  });

  it('moves a running consumer with seek', async () => {
    const firstOffsets: Record<number, number[]> = {};
    const consumer = kafka.consumer({ groupId: 'seeker', sessionTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100 });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    let sought = false;
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        if (partition === 2) (firstOffsets[partition] ??= []).push(Number(message.offset));
        if (partition === 2 && !sought) {
          sought = true;
          consumer.seek({ topic: TOPIC, partition: 2, offset: '12' });
        }
        return Promise.resolve();
      },
    });
    await waitFor('partition 2 to be read to its end after the seek', () => firstOffsets[2]?.at(-1) === 17);
    // The first record came from the beginning; after the seek, reading went on from offset 12.
    expect(firstOffsets[2]?.[0]).toBe(0);
    expect(firstOffsets[2]?.slice(-6)).toEqual([12, 13, 14, 15, 16, 17]);
    await consumer.disconnect();
    consumers.splice(consumers.indexOf(consumer), 1);
  });

  it('lists, describes and deletes groups with the admin client', async () => {
    const seen = new Map<string, string[]>();
    const member = await startMember('described', 'd', seen);
    await waitFor('the member to join', () => latest(member)?.length === PARTITIONS);

    const { groups } = await admin.listGroups();
    expect(groups).toEqual(expect.arrayContaining([{ groupId: 'described', protocolType: 'consumer' }, { groupId: 'billing', protocolType: 'consumer' }]));

    const described = await admin.describeGroups(['described', 'no-such-group']);
    const live = described.groups.find((g) => g.groupId === 'described');
    expect(live).toMatchObject({ errorCode: 0, state: 'Stable', protocolType: 'consumer', protocol: 'RoundRobinAssigner' });
    expect(live?.members).toHaveLength(1);
    // The member is described as the Kafka client it is, not as the broker that forwarded its join.
    expect(live?.members[0]).toMatchObject({ clientId: 'kafkajs-groups', clientHost: expect.stringMatching(/^\/(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/) as string });
    expect(live?.members[0]?.memberAssignment.length).toBeGreaterThan(0);
    expect(described.groups.find((g) => g.groupId === 'no-such-group')).toMatchObject({ errorCode: 0, state: 'Dead', members: [] });

    // A group with a member cannot be deleted; once it left, it can.
    await expect(admin.deleteGroups(['described'])).rejects.toMatchObject({ groups: [{ groupId: 'described', errorCode: 68 }] });
    await stopMember(member);
    expect(await admin.deleteGroups(['described', 'billing'])).toEqual([
      { groupId: 'described', errorCode: 0 },
      { groupId: 'billing', errorCode: 0 },
    ]);
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain('described');
  });
});
