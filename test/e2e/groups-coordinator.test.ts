/**
 * Consumer groups on three real `streambus coordinator` processes: members join a group, sync and
 * heartbeat through the coordinator client's group calls; a third member makes them all rebalance
 * to generation 2; the coordinator leader is killed with kill -9 while members heartbeat and commit,
 * and the new leader has the group and every acknowledged commit, and the members carry on in
 * their generation; the offsets of an empty group expire after a (short) retention.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/index.js';
import { encodeSubscription } from '../../coordinator/index.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { CoordinatorCluster, registerPaperBroker } from '../support/coordinator-cluster.js';

const TOPIC = 'events';
const PARTITIONS = 6;
const GROUP = 'billing';
const SESSION_TIMEOUT_MS = 10_000;
const REBALANCE_TIMEOUT_MS = 10_000;

let cluster: CoordinatorCluster;
let admin: CoordinatorClient;
const clients: CoordinatorClient[] = [];

beforeAll(async () => {
  cluster = await CoordinatorCluster.start({
    nodes: 3,
    settings: {
      // Two members that join at once must land in one generation, as in Kafka: the first
      // rebalance of an empty group waits this long for more members. With 0, a slow machine lets
      // the first member complete generation 1 alone, and the second's join then rebalances it.
      'group.initial.rebalance.delay.ms': 1_000,
      'group.min.session.timeout.ms': 500,
      'offsets.retention.ms': 2_000,
      'offsets.retention.check.interval.ms': 500,
    },
  });
  admin = new CoordinatorClient({ bootstrap: cluster.bootstrap, requestTimeoutMs: 15_000 });
  await registerPaperBroker(admin, cluster.clusterId);
  await admin.createTopics([{ topic: TOPIC, partitions: PARTITIONS, replicationFactor: 1 }]);
}, 90_000);

afterAll(async () => {
  for (const client of clients) await client.close();
  await admin?.close();
  await cluster?.dispose();
});

/** A member process's view: its own client, member id and generation. */
class Member {
  readonly client = new CoordinatorClient({ bootstrap: cluster.bootstrap, requestTimeoutMs: 15_000, clientId: `member-${clients.length + 1}` });
  memberId = '';
  generation = -1;
  assignment: number[] = [];

  constructor() {
    clients.push(this.client);
  }

  /** Joins (or rejoins); the leader assigns the partitions round-robin; resolves with this member's share. */
  async joinAndSync(): Promise<void> {
    const joined = await this.client.groups.joinGroup({
      groupId: GROUP,
      memberId: this.memberId,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
      protocols: [{ name: 'roundrobin', metadata: encodeSubscription([TOPIC]) }],
    });
    this.memberId = joined.memberId;
    this.generation = joined.generation;
    const assignments = joined.isLeader
      ? joined.members.map((m, i) => ({
          memberId: m.memberId,
          assignment: Buffer.from(JSON.stringify(Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => p % joined.members.length === i))),
        }))
      : [];
    const synced = await this.client.groups.syncGroup({ groupId: GROUP, generation: this.generation, memberId: this.memberId, assignments }, { rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS });
    this.assignment = JSON.parse(synced.assignment.toString()) as number[];
  }

  heartbeat(): Promise<void> {
    return this.client.groups.heartbeat({ groupId: GROUP, generation: this.generation, memberId: this.memberId });
  }

  commit(offsets: ReadonlyMap<number, number>): Promise<void> {
    return this.client.groups.commitOffsets({
      groupId: GROUP,
      generation: this.generation,
      memberId: this.memberId,
      offsets: [...offsets].map(([partition, offset]) => ({ topic: TOPIC, partition, offset })),
    });
  }
}

async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return ErrorCode.NONE;
  } catch (error) {
    if (error instanceof StreamBusError) return error.code;
    throw error;
  }
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last error: ${String(last)})\n${cluster.logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const members: Member[] = [];

describe('groups on a coordinator group of three processes', () => {
  it('lets two members join, sync and heartbeat, and rebalances all three to generation 2 when a third joins', async () => {
    members.push(new Member(), new Member());
    await Promise.all(members.map((m) => m.joinAndSync()));
    expect(members.map((m) => m.generation)).toEqual([1, 1]);
    expect(members.flatMap((m) => m.assignment).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const m of members) await m.heartbeat();

    const third = new Member();
    members.push(third);
    const joining = third.joinAndSync();
    // The others learn of the rebalance from their heartbeat, and rejoin.
    for (const m of members.slice(0, 2)) {
      expect(await eventually('a heartbeat to say REBALANCE_IN_PROGRESS', async () => ((await codeOf(m.heartbeat())) === ErrorCode.REBALANCE_IN_PROGRESS ? true : undefined))).toBe(true);
    }
    await Promise.all([joining, ...members.slice(0, 2).map((m) => m.joinAndSync())]);
    expect(members.map((m) => m.generation)).toEqual([2, 2, 2]);
    expect(members.flatMap((m) => m.assignment).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const m of members) await m.heartbeat();
    const [described] = await admin.groups.describeGroups([GROUP]);
    expect(described).toMatchObject({ state: 'Stable', protocolName: 'roundrobin' });
    expect(described!.members).toHaveLength(3);
  }, 60_000);

  it('keeps the group and every acknowledged commit when the leader is killed (kill -9), and its members carry on', async () => {
    const leaderBefore = (await admin.clusterStatus()).nodeId;
    const acknowledged = new Map<number, number>();
    let stop = false;
    let next = 1;
    const failures: string[] = [];
    // Each member commits ever larger offsets of its partitions and heartbeats, as a consumer does.
    const loops = members.map(async (m) => {
      while (!stop) {
        const offset = next++;
        const offsets = new Map(m.assignment.map((p) => [p, offset]));
        try {
          await m.commit(offsets);
          for (const [p, o] of offsets) acknowledged.set(p, Math.max(acknowledged.get(p) ?? 0, o));
          await m.heartbeat();
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    await eventually('commits to be acknowledged', () => Promise.resolve(acknowledged.size === PARTITIONS ? true : undefined));
    await cluster.node(leaderBefore).kill();
    const killedAtAck = new Map(acknowledged);
    // The members find the new leader and carry on: their heartbeats and commits succeed there.
    const newLeader = await eventually('a new coordinator leader to serve the members', async () => {
      const status = await admin.clusterStatus({ timeoutMs: 2_000 });
      if (status.nodeId === leaderBefore) return undefined;
      for (const [p, o] of killedAtAck) if ((acknowledged.get(p) ?? 0) <= o) return undefined;
      return status.nodeId;
    });
    stop = true;
    await Promise.all(loops);
    for (const m of members) await m.heartbeat();
    expect(members.every((m) => m.client.groups.knownCoordinator?.nodeId === newLeader)).toBe(true);
    const fetched = await admin.groups.fetchOffsets(GROUP);
    expect(fetched).toHaveLength(PARTITIONS);
    for (const { partition, offset } of fetched) expect(offset).toBeGreaterThanOrEqual(acknowledged.get(partition)!);
    const [described] = await admin.groups.describeGroups([GROUP]);
    expect(described).toMatchObject({ state: 'Stable' });
    expect(described!.members.map((m) => m.memberId).sort()).toEqual(members.map((m) => m.memberId).sort());
    // Nothing but the coordinator moving may have failed (and nothing had to rejoin).
    expect(failures.every((f) => !/ILLEGAL_GENERATION|UNKNOWN_MEMBER_ID|REBALANCE/.test(f)), failures.join('\n')).toBe(true);
    expect(members.map((m) => m.generation)).toEqual([2, 2, 2]);
    await cluster.restart(leaderBefore);
  }, 90_000);

  it('expires the offsets of an empty group after offsets.retention.ms', async () => {
    await admin.groups.commitOffsets({ groupId: 'idle', offsets: [{ topic: TOPIC, partition: 0, offset: 5 }] });
    expect(await admin.groups.fetchOffsets('idle')).toEqual([{ topic: TOPIC, partition: 0, offset: 5, leaderEpoch: -1, metadata: '' }]);
    await eventually('the offsets of the idle group to expire', async () => ((await admin.groups.fetchOffsets('idle')).length === 0 ? true : undefined), 15_000);
    expect((await admin.groups.listGroups()).map((g) => g.groupId)).not.toContain('idle');
    // The group with members keeps its offsets whatever their age.
    expect(await admin.groups.fetchOffsets(GROUP)).toHaveLength(PARTITIONS);
  }, 30_000);
});
