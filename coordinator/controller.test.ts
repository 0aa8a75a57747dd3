/**
 * The controller inside a running Coordinator (a Raft group of one, real LevelDB storage): broker
 * transitions carry their partition changes, AlterPartition's compare-and-set, elections on
 * request and on a timer, and fencing a broker whose heartbeat connection is lost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../proto/errors.js';
import type { Coordinator } from './coordinator.js';
import type { ControllerSettings } from './coordinator-options.js';
import type { MetadataCommand, PartitionAssignment } from './metadata/commands.js';
import { MemoryGroup, waitFor } from './service/testing/memory-group.js';

let group: MemoryGroup | undefined;
afterEach(async () => {
  await group?.close();
  group = undefined;
});

interface Started {
  readonly leader: Coordinator;
  /** Broker epochs by node id. */
  readonly epochs: Map<number, number>;
  readonly setNow: (ms: number) => void;
}

/** A one-node group with brokers 1-3 registered and live, and topic `orders` (RF 3, 1 partition). */
async function start(controller: ControllerSettings = {}): Promise<Started> {
  let now = 0;
  group = await MemoryGroup.start([1], { coordinator: { sessionTimeoutMs: 1000, nowMs: () => now, controller } });
  const leader = group.coordinator(await group.leader());
  const epochs = new Map<number, number>();
  for (const nodeId of [1, 2, 3]) {
    const { brokerEpoch, metadataOffset } = await leader.registerBroker({ nodeId, incarnationId: `inc-${nodeId}`, host: `127.0.0.${nodeId}`, port: 9093 });
    await leader.brokerHeartbeat({ nodeId, brokerEpoch, metadataOffset });
    epochs.set(nodeId, brokerEpoch);
  }
  const created = await leader.createTopics([{ name: 'orders', numPartitions: 1, replicationFactor: 3 }]);
  expect(created.results[0]?.errorCode).toBe(ErrorCode.NONE);
  return { leader, epochs, setNow: (ms) => (now = ms) };
}

function orders(leader: Coordinator): PartitionAssignment {
  return leader.state.topic('orders')!.partitions[0]!;
}

async function recordsAfter(leader: Coordinator, offset: number): Promise<{ offset: number; command: MetadataCommand }[]> {
  return (await leader.log.read(offset + 1, 1000)).map((r) => ({ offset: r.offset, command: r.command }));
}

describe('coordinator > controller > broker transitions', () => {
  it('moves the leadership and ISR place of a broker whose session expired, in the entry that fences it', async () => {
    const { leader, epochs, setNow } = await start();
    const before = orders(leader);
    const [first, second, third] = before.replicas as [number, number, number];
    setNow(500);
    for (const nodeId of [second, third]) await leader.brokerHeartbeat({ nodeId, brokerEpoch: epochs.get(nodeId)!, metadataOffset: 0 });
    const offset = leader.state.lastAppliedOffset;
    setNow(1200);
    expect(await leader.fenceExpiredBrokers()).toEqual([first]);
    expect(orders(leader)).toMatchObject({ leader: second, isr: [second, third], leaderEpoch: before.leaderEpoch + 1, partitionEpoch: before.partitionEpoch + 1 });
    const records = await recordsAfter(leader, offset);
    expect(records.map((r) => r.command.type)).toEqual(['change-partition', 'fence-broker']);
  });

  it('moves leaderships away at a controlled shutdown (a heartbeat that asks to be fenced) before fencing', async () => {
    const { leader, epochs } = await start();
    const { replicas } = orders(leader);
    const led = replicas[0]!;
    const offset = leader.state.lastAppliedOffset;
    const answer = await leader.brokerHeartbeat({ nodeId: led, brokerEpoch: epochs.get(led)!, metadataOffset: offset, wantFence: true, wantShutDown: false });
    expect(answer).toEqual({ fenced: true, metadataOffset: offset + 2 });
    expect(orders(leader)).toMatchObject({ leader: replicas[1], isr: replicas.slice(1) });
    expect((await recordsAfter(leader, offset)).map((r) => r.command.type)).toEqual(['change-partition', 'fence-broker']);
  });

  it('gives an offline partition its last ISR member back as leader when that broker is unfenced', async () => {
    const { leader, epochs } = await start();
    const { replicas } = orders(leader);
    // Followers leave first, then the leader: the partition is offline with its last member kept.
    for (const nodeId of [replicas[1]!, replicas[2]!, replicas[0]!]) {
      await leader.brokerHeartbeat({ nodeId, brokerEpoch: epochs.get(nodeId)!, metadataOffset: 0, wantFence: true, wantShutDown: false });
    }
    expect(orders(leader)).toMatchObject({ leader: -1, isr: [replicas[0]] });
    const last = replicas[0]!;
    const answer = await leader.brokerHeartbeat({ nodeId: last, brokerEpoch: epochs.get(last)!, metadataOffset: leader.state.lastAppliedOffset });
    expect(answer.fenced).toBe(false);
    expect(orders(leader)).toMatchObject({ leader: last, isr: [last] });
  });

  it('treats a registration of a new incarnation of a live broker as its departure', async () => {
    const { leader } = await start();
    const { replicas } = orders(leader);
    const led = replicas[0]!;
    const { brokerEpoch } = await leader.registerBroker({ nodeId: led, incarnationId: 'restarted', host: `127.0.0.${led}`, port: 9093 });
    expect(leader.state.broker(led)).toMatchObject({ brokerEpoch, fenced: true });
    expect(orders(leader)).toMatchObject({ leader: replicas[1], isr: replicas.slice(1) });
  });
});

describe('coordinator > controller > AlterPartition and elections', () => {
  it('commits a leader\'s ISR change once: the repeat fails its compare-and-set with INVALID_UPDATE_VERSION', async () => {
    const { leader, epochs } = await start();
    const p = orders(leader);
    const request = {
      brokerId: p.leader,
      brokerEpoch: epochs.get(p.leader)!,
      partitions: [{ topicId: leader.state.topic('orders')!.topicId, partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [p.leader] }],
    };
    const [first, second] = await Promise.all([leader.alterPartition(request), leader.alterPartition(request)]);
    expect(first.results[0]).toMatchObject({ errorCode: ErrorCode.NONE, isr: [p.leader], partitionEpoch: p.partitionEpoch + 1 });
    expect(second.results[0]).toMatchObject({ errorCode: ErrorCode.INVALID_UPDATE_VERSION });
    expect(orders(leader)).toMatchObject({ isr: [p.leader], partitionEpoch: p.partitionEpoch + 1 });
    expect(first.metadataOffset).toBe(leader.state.lastAppliedOffset);
  });

  it('refuses a malformed AlterPartition or ElectLeaders request as a whole with INVALID_REQUEST', async () => {
    const { leader } = await start();
    await expect(leader.alterPartition({ brokerId: 0, brokerEpoch: 0, partitions: [] })).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    await expect(leader.electLeaders({ type: 'sideways' as 'preferred' })).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
  });

  it('runs a preferred election on request, and moves leaders back to preferred replicas on its timer', async () => {
    const { leader, epochs } = await start({ leaderImbalanceCheckIntervalMs: 50 });
    const { replicas } = orders(leader);
    const preferred = replicas[0]!;
    const epoch = epochs.get(preferred)!;
    await leader.brokerHeartbeat({ nodeId: preferred, brokerEpoch: epoch, metadataOffset: 0, wantFence: true, wantShutDown: false });
    const notAvailable = await leader.electLeaders({ type: 'preferred', topics: [{ topic: 'orders' }] });
    expect(notAvailable.results[0]).toMatchObject({ errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, leader: replicas[1] });
    // Back, and in the ISR again (its leader's AlterPartition): the timer hands it the lead.
    await leader.brokerHeartbeat({ nodeId: preferred, brokerEpoch: epoch, metadataOffset: leader.state.lastAppliedOffset });
    const p = orders(leader);
    const added = await leader.alterPartition({
      brokerId: p.leader,
      brokerEpoch: epochs.get(p.leader)!,
      partitions: [{ topicId: leader.state.topic('orders')!.topicId, partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [...p.isr, preferred] }],
    });
    expect(added.results[0]?.errorCode).toBe(ErrorCode.NONE);
    await waitFor(() => orders(leader).leader === preferred, 'the rebalance timer to move the leadership back');
    const again = await leader.electLeaders({ type: 'preferred', topics: [{ topic: 'orders' }] });
    expect(again.results[0]?.errorCode).toBe(ErrorCode.ELECTION_NOT_NEEDED);
  });

  it('leaves leaders where they are when auto.leader.rebalance.enable is off', async () => {
    const { leader, epochs } = await start({ autoLeaderRebalanceEnable: false, leaderImbalanceCheckIntervalMs: 20 });
    const p = orders(leader);
    const topicId = leader.state.topic('orders')!.topicId;
    // Move the lead off the preferred replica by hand, then wait several intervals.
    await leader.brokerHeartbeat({ nodeId: p.leader, brokerEpoch: epochs.get(p.leader)!, metadataOffset: 0, wantFence: true, wantShutDown: false });
    await leader.brokerHeartbeat({ nodeId: p.leader, brokerEpoch: epochs.get(p.leader)!, metadataOffset: leader.state.lastAppliedOffset });
    const moved = orders(leader);
    await leader.alterPartition({
      brokerId: moved.leader,
      brokerEpoch: epochs.get(moved.leader)!,
      partitions: [{ topicId, partition: 0, leaderEpoch: moved.leaderEpoch, partitionEpoch: moved.partitionEpoch, newIsr: [...moved.isr, p.leader] }],
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(orders(leader).leader).toBe(moved.leader);
    expect(await leader.rebalanceLeaders()).toBe(1);
    expect(orders(leader).leader).toBe(p.leader);
  });
});

describe('coordinator > controller > fast failure detection', () => {
  function connection(id: number): { id: number; lost: Promise<void>; lose: () => void } {
    let lose = (): void => undefined;
    const lost = new Promise<void>((resolve) => (lose = resolve));
    return { id, lost, lose };
  }

  it('fences a broker a grace after its heartbeat connection is lost, moving its leadership', async () => {
    const { leader, epochs } = await start({ disconnectFenceMs: 30 });
    const led = orders(leader).leader;
    const link = connection(41);
    await leader.brokerHeartbeat({ nodeId: led, brokerEpoch: epochs.get(led)!, metadataOffset: 0 }, { connection: link });
    const lostAt = performance.now();
    link.lose();
    await waitFor(() => leader.state.broker(led)?.fenced === true, 'the disconnected broker to be fenced');
    expect(performance.now() - lostAt).toBeGreaterThanOrEqual(25);
    expect(orders(leader).leader).not.toBe(led);
    expect(orders(leader).isr).not.toContain(led);
  });

  it('keeps a broker that heartbeats on a new connection within the grace', async () => {
    const { leader, epochs } = await start({ disconnectFenceMs: 100 });
    const led = orders(leader).leader;
    const brokerEpoch = epochs.get(led)!;
    const first = connection(51);
    await leader.brokerHeartbeat({ nodeId: led, brokerEpoch, metadataOffset: 0 }, { connection: first });
    first.lose();
    await leader.brokerHeartbeat({ nodeId: led, brokerEpoch, metadataOffset: 0 }, { connection: connection(52) });
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(leader.state.broker(led)?.fenced).toBe(false);
    expect(await leader.fenceDisconnectedBroker(led, 51)).toBe(false);
    expect(await leader.fenceDisconnectedBroker(led, 52)).toBe(true);
  });
});
