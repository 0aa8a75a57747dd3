import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { Coordinator } from '../coordinator.js';
import { encodeSubscription } from '../groups/consumer-protocol.js';
import { MemoryGroup, waitFor } from '../service/testing/memory-group.js';
import { MarkerBroker } from './testing/marker-broker.js';
import { PRODUCER_ID_BLOCK_SIZE, transactionSettings } from './txn-coordinator.js';
import { DEFAULT_TRANSACTION_SETTINGS, type TransactionSettings, TxnState } from './txn-types.js';

let group: MemoryGroup | undefined;
const brokers: MarkerBroker[] = [];

afterEach(async () => {
  await group?.close();
  group = undefined;
  for (const broker of brokers.splice(0)) await broker.close();
});

interface Started {
  readonly g: MemoryGroup;
  readonly leader: Coordinator;
  readonly leaderId: number;
  readonly brokers: readonly MarkerBroker[];
}

/** A 3-node coordinator group; `brokerCount` stand-in brokers registered and unfenced; topic orders (4 partitions) and audit (1). */
async function start(options: { transactions?: Partial<TransactionSettings>; brokerCount?: number; replicationFactor?: number } = {}): Promise<Started> {
  for (let i = 0; i < (options.brokerCount ?? 1); i++) brokers.push(await MarkerBroker.start());
  group = await MemoryGroup.start([1, 2, 3], {
    coordinator: {
      transactions: { abortTimedOutIntervalMs: 50, ...options.transactions },
      // Broker sessions outlive every test: a broker is never fenced by a change of leader here.
      sessionTimeoutMs: 120_000,
      groups: { minSessionTimeoutMs: 100, initialRebalanceDelayMs: 0 },
    },
  });
  const leaderId = await group.leader();
  const leader = group.coordinator(leaderId);
  for (const [i, broker] of brokers.entries()) {
    const { brokerEpoch, metadataOffset } = await leader.registerBroker({ nodeId: i + 1, incarnationId: `b${i + 1}`, host: '127.0.0.1', port: broker.port, listeners: [] });
    await leader.brokerHeartbeat({ nodeId: i + 1, brokerEpoch, metadataOffset });
  }
  const rf = options.replicationFactor ?? 1;
  await leader.createTopics([
    { name: 'orders', numPartitions: 4, replicationFactor: rf, configs: {} },
    { name: 'audit', numPartitions: 1, replicationFactor: rf, configs: {} },
  ]);
  return { g: group, leader, leaderId, brokers };
}

async function init(c: Coordinator, transactionalId: string, timeoutMs = 60_000): Promise<{ producerId: number; producerEpoch: number }> {
  for (;;) {
    const answer = await c.transactions.initProducerId({ transactionalId, transactionTimeoutMs: timeoutMs, producerId: -1, producerEpoch: -1 });
    if (answer.error === ErrorCode.CONCURRENT_TRANSACTIONS) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    expect(answer.error).toBe(ErrorCode.NONE);
    return answer;
  }
}

/** The node that leads now. */
function leaderIdOf(g: MemoryGroup): number {
  return g.running.find((id) => g.coordinator(id).leading) ?? g.running[0]!;
}

function txnState(g: MemoryGroup, id: number, transactionalId: string): string | undefined {
  return g.member(id).log.state.transactions.transaction(transactionalId)?.state;
}

async function rejection(promise: Promise<unknown>): Promise<StreamBusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StreamBusError);
  return error as StreamBusError;
}

describe('transaction coordinator > settings', () => {
  it('takes Kafka\'s defaults for unset settings', () => {
    expect(transactionSettings({})).toEqual(DEFAULT_TRANSACTION_SETTINGS);
    expect(DEFAULT_TRANSACTION_SETTINGS).toEqual({ maxTimeoutMs: 900_000, idExpirationMs: 604_800_000, abortTimedOutIntervalMs: 10_000 });
  });

  it('refuses a setting out of range with INVALID_CONFIG naming its Kafka key', () => {
    for (const [given, key] of [
      [{ maxTimeoutMs: 0 }, 'transaction.max.timeout.ms'],
      [{ idExpirationMs: 1.5 }, 'transactional.id.expiration.ms'],
      [{ abortTimedOutIntervalMs: 2 ** 31 }, 'transaction.abort.timed.out.transaction.cleanup.interval.ms'],
    ] as const) {
      let failure: unknown;
      try {
        transactionSettings(given);
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(StreamBusError);
      expect(failure).toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining(key) as unknown });
    }
  });
});

describe('transaction coordinator > producer ids', () => {
  it('hands out producer ids that stay unique across a change of leader', async () => {
    const { g, leader, leaderId } = await start();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await leader.transactions.initProducerId({ transactionalId: null, transactionTimeoutMs: 0, producerId: -1, producerEpoch: -1 });
      expect(answer).toMatchObject({ error: ErrorCode.NONE, producerEpoch: 0 });
      seen.push(answer.producerId);
    }
    seen.push((await init(leader, 'tx-a')).producerId);
    await g.stopNode(leaderId);
    const next = g.coordinator(await g.leader());
    for (let i = 0; i < 5; i++) seen.push((await next.transactions.initProducerId({ transactionalId: null, transactionTimeoutMs: 0, producerId: -1, producerEpoch: -1 })).producerId);
    seen.push((await init(next, 'tx-b')).producerId);
    expect(new Set(seen).size).toBe(seen.length);
    // The new leader took a block of its own, past the old leader's.
    expect(Math.min(...seen.slice(6))).toBeGreaterThanOrEqual(PRODUCER_ID_BLOCK_SIZE);
    // The transactional id kept its producer id across the change.
    expect((await init(next, 'tx-a')).producerId).toBe(seen[5]);
  });

  it('bumps the epoch of an idempotent producer that names its id (KIP-360), and refuses an id never handed out', async () => {
    const { leader } = await start();
    const first = await leader.transactions.initProducerId({ transactionalId: null, transactionTimeoutMs: 0, producerId: -1, producerEpoch: -1 });
    const bumped = await leader.transactions.initProducerId({ transactionalId: null, transactionTimeoutMs: 0, producerId: first.producerId, producerEpoch: 0 });
    expect(bumped).toEqual({ error: ErrorCode.NONE, producerId: first.producerId, producerEpoch: 1 });
    const unknown = await leader.transactions.initProducerId({ transactionalId: null, transactionTimeoutMs: 0, producerId: 10 ** 9, producerEpoch: 0 });
    expect(unknown.error).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });
});

describe('transaction coordinator > transactions', () => {
  it('refuses every call on a follower with NOT_COORDINATOR naming the leader', async () => {
    const { g, leaderId } = await start();
    const follower = g.coordinator(g.running.find((id) => id !== leaderId)!);
    const refused = await rejection(follower.transactions.initProducerId({ transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 }));
    expect(refused.code).toBe(ErrorCode.NOT_COORDINATOR);
    expect(refused.context.leaderId).toBe(leaderId);
    expect((await rejection(follower.transactions.listTransactions())).code).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('refuses a transaction timeout above transaction.max.timeout.ms with INVALID_TRANSACTION_TIMEOUT', async () => {
    const { leader } = await start({ transactions: { maxTimeoutMs: 10_000 } });
    const answer = await leader.transactions.initProducerId({ transactionalId: 'tx', transactionTimeoutMs: 10_001, producerId: -1, producerEpoch: -1 });
    expect(answer.error).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    expect((await leader.transactions.initProducerId({ transactionalId: 'tx', transactionTimeoutMs: 0, producerId: -1, producerEpoch: -1 })).error).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  });

  it('commits: markers reach the partition leader with the Raft term, then CompleteCommit is on every node', async () => {
    const { g, leader, leaderId, brokers: [broker] } = await start();
    const p = await init(leader, 'tx');
    const caller = { transactionalId: 'tx', ...p };
    const added = await leader.transactions.addPartitions({ ...caller, topics: [{ topic: 'orders', partitions: [0, 3] }, { topic: 'audit', partitions: [0] }] });
    expect(added.error).toBe(ErrorCode.NONE);
    expect(await leader.transactions.endTransaction({ ...caller, commit: true })).toBe(ErrorCode.NONE);
    await waitFor(() => g.running.every((id) => txnState(g, id, 'tx') === TxnState.COMPLETE_COMMIT), 'CompleteCommit on every node');
    const term = g.member(leaderId).host.status().term;
    expect(broker!.written.map((m) => `${m.topic}-${m.partition}`).sort()).toEqual(['audit-0', 'orders-0', 'orders-3']);
    expect(broker!.written.every((m) => m.committed && m.producerId === p.producerId && m.producerEpoch === p.producerEpoch && m.coordinatorEpoch === term)).toBe(true);
    expect(await leader.transactions.endTransaction({ ...caller, commit: true })).toBe(ErrorCode.NONE);
    expect(await leader.transactions.endTransaction({ ...caller, commit: false })).toBe(ErrorCode.INVALID_TXN_STATE);
    const [described] = await leader.transactions.describeTransactions(['tx']);
    expect(described).toMatchObject({ error: ErrorCode.NONE, state: TxnState.COMPLETE_COMMIT, producerId: p.producerId, topics: [], startTimeMs: -1 });
  });

  it('fences the previous instance: a new init answers its calls with PRODUCER_FENCED and aborts its open transaction', async () => {
    const { g, leader, brokers: [broker] } = await start();
    const old = { transactionalId: 'tx', ...(await init(leader, 'tx')) };
    await leader.transactions.addPartitions({ ...old, topics: [{ topic: 'orders', partitions: [1] }] });
    const fenced = await leader.transactions.initProducerId({ transactionalId: 'tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    expect(fenced.error).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    const current = await init(leader, 'tx');
    expect(current.producerId).toBe(old.producerId);
    expect(current.producerEpoch).toBe(old.producerEpoch + 2);
    expect(broker!.written).toMatchObject([{ topic: 'orders', partition: 1, committed: false, producerEpoch: old.producerEpoch + 1 }]);
    expect(await leader.transactions.endTransaction({ ...old, commit: true })).toBe(ErrorCode.PRODUCER_FENCED);
    expect((await leader.transactions.addPartitions({ ...old, topics: [{ topic: 'orders', partitions: [0] }] })).error).toBe(ErrorCode.PRODUCER_FENCED);
    expect(await leader.transactions.addOffsets({ ...old, groupId: 'g' })).toBe(ErrorCode.PRODUCER_FENCED);
    await waitFor(() => g.running.every((id) => txnState(g, id, 'tx') === TxnState.EMPTY), 'Empty on every node');
  });

  it('refuses malformed calls with INVALID_REQUEST: an empty or overlong transactional id, a negative producer id or epoch', async () => {
    const { leader } = await start();
    const init = (transactionalId: string, producerId = -1, producerEpoch = -1): Promise<{ error: ErrorCode }> =>
      leader.transactions.initProducerId({ transactionalId, transactionTimeoutMs: 1000, producerId, producerEpoch });
    expect((await init('')).error).toBe(ErrorCode.INVALID_REQUEST);
    expect((await init('x'.repeat(1025))).error).toBe(ErrorCode.INVALID_REQUEST);
    expect((await init('tx', -5, 0)).error).toBe(ErrorCode.INVALID_REQUEST);
    expect((await init('tx', 3, -2)).error).toBe(ErrorCode.INVALID_REQUEST);
    expect((await init('tx', 3, 40_000)).error).toBe(ErrorCode.INVALID_REQUEST);
    expect(await leader.transactions.endTransaction({ transactionalId: '', producerId: 0, producerEpoch: 0, commit: true })).toBe(ErrorCode.INVALID_REQUEST);
    expect(await leader.transactions.endTransaction({ transactionalId: 'tx', producerId: -1, producerEpoch: 0, commit: true })).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });

  it('refuses unknown partitions, unknown producers and calls out of order with their errors', async () => {
    const { leader } = await start();
    const p = { transactionalId: 'tx', ...(await init(leader, 'tx')) };
    expect((await leader.transactions.addPartitions({ ...p, topics: [{ topic: 'nope', partitions: [0] }] })).error).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await leader.transactions.addPartitions({ ...p, topics: [{ topic: 'orders', partitions: [4] }] })).error).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await leader.transactions.addPartitions({ ...p, producerId: p.producerId + 1, topics: [{ topic: 'orders', partitions: [0] }] })).error).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect((await leader.transactions.addPartitions({ ...p, transactionalId: 'other', topics: [{ topic: 'orders', partitions: [0] }] })).error).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect(await leader.transactions.endTransaction({ ...p, commit: true })).toBe(ErrorCode.INVALID_TXN_STATE);
    const offsets = { ...p, groupId: 'billing', generation: -1, memberId: '', groupInstanceId: null, topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 5, leaderEpoch: -1, metadata: '' }] }] };
    expect((await leader.transactions.commitOffsets(offsets)).error).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(await leader.transactions.addOffsets({ ...p, groupId: '' })).toBe(ErrorCode.INVALID_GROUP_ID);
  });

  it('keeps transactional offsets invisible to OffsetFetch until the commit completes, and discards them on abort', async () => {
    const { g, leader, brokers: [broker] } = await start();
    // Markers wait until released, so the transaction stays PrepareCommit meanwhile.
    let release = false;
    broker!.answer = () => (release ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const p = { transactionalId: 'tx', ...(await init(leader, 'tx')) };
    await leader.transactions.addPartitions({ ...p, topics: [{ topic: 'audit', partitions: [0] }] });
    expect(await leader.transactions.addOffsets({ ...p, groupId: 'billing' })).toBe(ErrorCode.NONE);
    const committed = await leader.transactions.commitOffsets({
      ...p,
      groupId: 'billing',
      generation: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 42, leaderEpoch: 2, metadata: 'tx' }, { partition: 9, offset: 1, leaderEpoch: -1, metadata: '' }] }],
    });
    expect(committed.topics[0]?.partitions).toEqual([
      { partition: 0, error: ErrorCode.NONE },
      { partition: 9, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    ]);
    const fetch = async (): Promise<number | undefined> => (await leader.groups.fetchOffsets({ groupId: 'billing', topics: [{ topic: 'orders', partitions: [0] }] })).topics[0]?.partitions[0]?.offset;
    // While offsets are pending, OffsetFetch waits for the transaction to end (require_stable, KIP-447).
    let settled = false;
    const early = fetch().finally(() => (settled = true));
    expect(await leader.transactions.endTransaction({ ...p, commit: true })).toBe(ErrorCode.NONE);
    await waitFor(() => broker!.received.length >= 2, 'markers refused at least twice');
    expect(txnState(g, leaderIdOf(g), 'tx')).toBe(TxnState.PREPARE_COMMIT);
    expect(settled).toBe(false);
    release = true;
    await waitFor(() => txnState(g, leaderIdOf(g), 'tx') === TxnState.COMPLETE_COMMIT, 'the commit to complete');
    expect(await early).toBe(42);
    expect(await fetch()).toBe(42);

    // The next transaction's offsets are discarded by its abort.
    await leader.transactions.addOffsets({ ...p, groupId: 'billing' });
    await leader.transactions.commitOffsets({ ...p, groupId: 'billing', generation: -1, memberId: '', groupInstanceId: null, topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 99, leaderEpoch: -1, metadata: '' }] }] });
    expect(await leader.transactions.endTransaction({ ...p, commit: false })).toBe(ErrorCode.NONE);
    await waitFor(() => txnState(g, leaderIdOf(g), 'tx') === TxnState.COMPLETE_ABORT, 'the abort to complete');
    expect(await fetch()).toBe(42);
  });

  it('refuses transactional offsets of a consumer from an old generation (KIP-447)', async () => {
    const { leader } = await start();
    const joined = await leader.groups.joinGroup({
      groupId: 'billing',
      memberId: '',
      groupInstanceId: null,
      clientId: 'app',
      clientHost: '/127.0.0.1',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 5_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: encodeSubscription(['orders']) }],
      requireKnownMemberId: false,
    });
    await leader.groups.syncGroup({ groupId: 'billing', generation: joined.generation, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: joined.memberId, assignment: new Uint8Array(0) }] });
    const p = { transactionalId: 'tx', ...(await init(leader, 'tx')) };
    await leader.transactions.addOffsets({ ...p, groupId: 'billing' });
    const topics = [{ topic: 'orders', partitions: [{ partition: 0, offset: 1, leaderEpoch: -1, metadata: '' }] }];
    const zombie = await leader.transactions.commitOffsets({ ...p, groupId: 'billing', generation: joined.generation - 1, memberId: joined.memberId, groupInstanceId: null, topics });
    expect(zombie.error).toBe(ErrorCode.ILLEGAL_GENERATION);
    const stranger = await leader.transactions.commitOffsets({ ...p, groupId: 'billing', generation: joined.generation, memberId: 'nobody', groupInstanceId: null, topics });
    expect(stranger.error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const member = await leader.transactions.commitOffsets({ ...p, groupId: 'billing', generation: joined.generation, memberId: joined.memberId, groupInstanceId: null, topics });
    expect(member.error).toBe(ErrorCode.NONE);
  });

  it('lists and describes transactions, filtered by state and producer id', async () => {
    const { leader } = await start();
    const a = await init(leader, 'tx-a');
    const b = { transactionalId: 'tx-b', ...(await init(leader, 'tx-b')) };
    await leader.transactions.addPartitions({ ...b, topics: [{ topic: 'orders', partitions: [2] }] });
    expect(await leader.transactions.listTransactions()).toEqual([
      { transactionalId: 'tx-a', producerId: a.producerId, state: TxnState.EMPTY },
      { transactionalId: 'tx-b', producerId: b.producerId, state: TxnState.ONGOING },
    ]);
    expect((await leader.transactions.listTransactions({ states: ['ongoing'] })).map((t) => t.transactionalId)).toEqual(['tx-b']);
    expect((await leader.transactions.listTransactions({ producerIds: [a.producerId] })).map((t) => t.transactionalId)).toEqual(['tx-a']);
    const [described, unknown] = await leader.transactions.describeTransactions(['tx-b', 'nope']);
    expect(described).toMatchObject({ state: TxnState.ONGOING, timeoutMs: 60_000, topics: [{ topic: 'orders', partitions: [2] }], groups: [] });
    expect(described!.startTimeMs).toBeGreaterThan(0);
    expect(unknown).toMatchObject({ error: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, state: TxnState.DEAD });
  });
});

describe('transaction coordinator > timeouts, expiry and recovery', () => {
  it('aborts a transaction left open past its timeout by itself, fencing its producer with a bumped epoch', async () => {
    const { g, leader, brokers: [broker] } = await start();
    const p = { transactionalId: 'tx', ...(await init(leader, 'tx', 300)) };
    await leader.transactions.addPartitions({ ...p, topics: [{ topic: 'orders', partitions: [2] }] });
    await waitFor(() => g.running.every((id) => txnState(g, id, 'tx') === TxnState.COMPLETE_ABORT), 'the timed-out transaction to be aborted', 5_000);
    expect(broker!.written).toMatchObject([{ topic: 'orders', partition: 2, committed: false, producerId: p.producerId, producerEpoch: p.producerEpoch + 1 }]);
    expect(await leader.transactions.endTransaction({ ...p, commit: true })).toBe(ErrorCode.PRODUCER_FENCED);
    const recovered = await leader.transactions.initProducerId({ transactionalId: 'tx', transactionTimeoutMs: 300, producerId: p.producerId, producerEpoch: p.producerEpoch });
    expect(recovered.error).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('forgets a transactional id idle past transactional.id.expiration.ms', async () => {
    const { g, leader } = await start({ transactions: { idExpirationMs: 200 } });
    await init(leader, 'idle');
    await waitFor(() => g.running.every((id) => txnState(g, id, 'idle') === undefined), 'the idle id to expire', 5_000);
    const [described] = await leader.transactions.describeTransactions(['idle']);
    expect(described?.error).toBe(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
  });

  it('completes a prepared transaction on a new leader after the old one is stopped, with the new term as coordinator epoch', async () => {
    const { g, leader, leaderId, brokers: [broker] } = await start();
    broker!.answer = () => ErrorCode.NOT_LEADER_OR_FOLLOWER;
    const p = { transactionalId: 'tx', ...(await init(leader, 'tx')) };
    await leader.transactions.addPartitions({ ...p, topics: [{ topic: 'orders', partitions: [0, 1] }] });
    expect(await leader.transactions.endTransaction({ ...p, commit: true })).toBe(ErrorCode.NONE);
    await waitFor(() => broker!.received.length > 0, 'the first leader to try its markers');
    const oldTerm = g.member(leaderId).host.status().term;
    await g.stopNode(leaderId);
    broker!.answer = () => ErrorCode.NONE;
    const nextId = await g.leader();
    await waitFor(() => g.running.every((id) => txnState(g, id, 'tx') === TxnState.COMPLETE_COMMIT), 'the new leader to complete the commit', 10_000);
    const newTerm = g.member(nextId).host.status().term;
    expect(newTerm).toBeGreaterThan(oldTerm);
    expect(broker!.written.map((m) => [m.partition, m.coordinatorEpoch, m.committed])).toEqual(
      expect.arrayContaining([
        [0, newTerm, true],
        [1, newTerm, true],
      ]),
    );
  });

  it('retries markers against the partition\'s new leader when the old one answers NOT_LEADER_OR_FOLLOWER', async () => {
    const { leader, g, brokers: [first, second] } = await start({ brokerCount: 2, replicationFactor: 2 });
    const leaderOf = (): number => leader.state.topic('audit')!.partitions[0]!.leader;
    const oldLeader = leaderOf();
    const [stale, fresh] = oldLeader === 1 ? [first!, second!] : [second!, first!];
    stale.answer = () => ErrorCode.NOT_LEADER_OR_FOLLOWER;
    const p = { transactionalId: 'tx', ...(await init(leader, 'tx')) };
    await leader.transactions.addPartitions({ ...p, topics: [{ topic: 'audit', partitions: [0] }] });
    expect(await leader.transactions.endTransaction({ ...p, commit: false })).toBe(ErrorCode.NONE);
    await waitFor(() => stale.received.length > 0, 'the stale leader to refuse the marker');
    // The controller moves the partition to the other replica (its broker asks to be fenced).
    const registration = leader.state.broker(oldLeader)!;
    await leader.brokerHeartbeat({ nodeId: oldLeader, brokerEpoch: registration.brokerEpoch, metadataOffset: leader.log.committedOffset, wantFence: true, wantShutDown: false });
    await waitFor(() => leaderOf() !== oldLeader && leaderOf() !== -1, 'a new partition leader');
    await waitFor(() => txnState(g, leaderIdOf(g), 'tx') === TxnState.COMPLETE_ABORT, 'the abort to complete');
    expect(fresh.written).toMatchObject([{ topic: 'audit', partition: 0, committed: false }]);
  });
});
