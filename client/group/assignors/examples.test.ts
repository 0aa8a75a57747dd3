/*
 * Worked examples, one scenario per behaviour, mostly the ones Kafka's documentation uses for each
 * assignor (the javadoc of RangeAssignor, RoundRobinAssignor and StickyAssignor, KIP-429 for the
 * cooperative protocol, KIP-881 for racks), with the expected assignments worked out by hand.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import {
  AssignorName,
  RebalanceProtocol,
  assignCooperativeSticky,
  assignRange,
  assignRoundRobin,
  assignSticky,
  assignorByName,
  cooperativeStickyAssignor,
  decodeCooperativeUserData,
  decodeStickyUserData,
  encodeCooperativeUserData,
  encodeStickyUserData,
  rangeAssignor,
  rebalanceProtocolFor,
  roundRobinAssignor,
  stickyAssignor,
  type GroupAssignment,
  type MemberSubscription,
  type TopicMetadata,
  type TopicPartitions,
} from './index.js';

type Plain = Record<string, Record<string, readonly number[]>>;

function member(memberId: string, topics: string[], extra: Partial<MemberSubscription> = {}): MemberSubscription {
  return { memberId, groupInstanceId: null, topics, userData: null, ownedPartitions: [], generation: -1, rackId: null, ...extra };
}

function topics(counts: Record<string, number>): TopicMetadata {
  return new Map(Object.entries(counts).map(([topic, partitionCount]) => [topic, { partitionCount }]));
}

function owned(assignment: Record<string, number[]>): TopicPartitions[] {
  return Object.entries(assignment).map(([topic, partitions]) => ({ topic, partitions }));
}

/** The assignment as plain objects, for toEqual. */
function plain(result: GroupAssignment): Plain {
  return Object.fromEntries([...result.members].map(([id, assignment]) => [id, Object.fromEntries(assignment.partitions)]));
}

function expectStreamBusError(run: () => unknown, code: ErrorCode): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(StreamBusError);
  expect((caught as StreamBusError).code).toBe(code);
}

/** A member of the sticky (eager) assignor that remembers `previous` from `generation`. */
function stickyMember(memberId: string, subscribed: string[], previous: Record<string, number[]>, generation: number): MemberSubscription {
  return member(memberId, subscribed, { userData: encodeStickyUserData({ ownedPartitions: owned(previous), generation }) });
}

describe('assignors > range > examples', () => {
  it('splits each topic into contiguous ranges, the first members taking the remainder', () => {
    const members = [member('C1', ['t0', 't1']), member('C0', ['t0', 't1'])];
    expect(plain(assignRange(members, topics({ t0: 3, t1: 3 })))).toEqual({
      C0: { t0: [0, 1], t1: [0, 1] },
      C1: { t0: [2], t1: [2] },
    });
    const three = [member('a', ['t']), member('b', ['t']), member('c', ['t'])];
    expect(plain(assignRange(three, topics({ t: 5 })))).toEqual({ a: { t: [0, 1] }, b: { t: [2, 3] }, c: { t: [4] } });
  });

  it('splits a topic only among the members subscribed to it, and lists idle members with nothing', () => {
    const members = [member('a', ['t0']), member('b', ['t0', 't1']), member('c', ['gone'])];
    expect(plain(assignRange(members, topics({ t0: 2, t1: 3 })))).toEqual({ a: { t0: [0] }, b: { t0: [1], t1: [0, 1, 2] }, c: {} });
  });

  it('orders static members by group.instance.id before dynamic ones, so a restart with a new member id keeps the range', () => {
    const members = [member('dynamic', ['t']), member('zz-new-id', ['t'], { groupInstanceId: 'host-1' }), member('aa-id', ['t'], { groupInstanceId: 'host-2' })];
    expect(plain(assignRange(members, topics({ t: 3 })))).toEqual({ 'zz-new-id': { t: [0] }, 'aa-id': { t: [1] }, dynamic: { t: [2] } });
  });

  it('gives each member the partitions with a replica in its rack, within the same quotas (KIP-881)', () => {
    const partitionRacks = [['a'], ['b'], ['a'], ['b'], ['a'], ['b'], ['a']];
    const metadata: TopicMetadata = new Map([['t', { partitionCount: 7, partitionRacks }]]);
    const members = [member('c1', ['t'], { rackId: 'a' }), member('c2', ['t'], { rackId: 'b' })];
    // Quotas stay 4 and 3; c1 fills its 4 from rack a, c2 its 3 from rack b.
    expect(plain(assignRange(members, metadata))).toEqual({ c1: { t: [0, 2, 4, 6] }, c2: { t: [1, 3, 5] } });
    const plainRanges = [member('c1', ['t'], { rackId: 'a' }), member('c2', ['t'])];
    expect(plain(assignRange(plainRanges, metadata))).toEqual({ c1: { t: [0, 1, 2, 3] }, c2: { t: [4, 5, 6] } });
  });

  it('fills with other racks\' partitions when a rack has too few, keeping the quotas', () => {
    const partitionRacks = [['a'], ['a'], ['a'], ['a'], ['b'], ['a', 'c']];
    const metadata: TopicMetadata = new Map([['t', { partitionCount: 6, partitionRacks }]]);
    const members = [member('x', ['t'], { rackId: 'a' }), member('y', ['t'], { rackId: 'b' }), member('z', ['t'], { rackId: 'c' })];
    expect(plain(assignRange(members, metadata))).toEqual({ x: { t: [0, 1] }, y: { t: [2, 4] }, z: { t: [3, 5] } });
  });
});

describe('assignors > round-robin > examples', () => {
  it('deals the sorted partitions round the sorted members', () => {
    const members = [member('C1', ['t0', 't1']), member('C0', ['t0', 't1'])];
    expect(plain(assignRoundRobin(members, topics({ t0: 3, t1: 3 })))).toEqual({
      C0: { t0: [0, 2], t1: [1] },
      C1: { t0: [1], t1: [0, 2] },
    });
  });

  it('skips members not subscribed to a partition\'s topic', () => {
    const members = [member('C0', ['t0']), member('C1', ['t0', 't1']), member('C2', ['t0', 't1', 't2'])];
    expect(plain(assignRoundRobin(members, topics({ t0: 1, t1: 2, t2: 3 })))).toEqual({
      C0: { t0: [0] },
      C1: { t1: [0] },
      C2: { t1: [1], t2: [0, 1, 2] },
    });
  });
});

describe('assignors > sticky > examples', () => {
  const all = ['t0', 't1', 't2', 't3'];
  const fourTopics = topics({ t0: 2, t1: 2, t2: 2, t3: 2 });

  it('starts balanced when nobody owns anything', () => {
    const members = [member('C0', all), member('C1', all), member('C2', all)];
    expect(plain(assignSticky(members, fourTopics))).toEqual({
      C0: { t0: [0, 1], t3: [0] },
      C1: { t1: [0, 1], t3: [1] },
      C2: { t2: [0, 1] },
    });
  });

  it('keeps every partition in place and moves only the leaver\'s when a member leaves', () => {
    // Kafka's example: C0 [t0p0, t1p1, t3p0], C1 [t0p1, t2p0, t3p1], C2 [t1p0, t2p1]; then C1 leaves.
    const members = [stickyMember('C0', all, { t0: [0], t1: [1], t3: [0] }, 1), stickyMember('C2', all, { t1: [0], t2: [1] }, 1)];
    expect(plain(assignSticky(members, fourTopics))).toEqual({
      C0: { t0: [0, 1], t1: [1], t3: [0] },
      C2: { t1: [0], t2: [0, 1], t3: [1] },
    });
    // Round-robin, which ignores history, would move more than C1's three partitions.
    const roundRobin = plain(assignRoundRobin(members, fourTopics));
    expect(roundRobin).toEqual({ C0: { t0: [0], t1: [0], t2: [0], t3: [0] }, C2: { t0: [1], t1: [1], t2: [1], t3: [1] } });
  });

  it('balances members with different subscriptions better than round-robin, and stays sticky when one leaves', () => {
    const metadata = topics({ t0: 1, t1: 2, t2: 3 });
    const first = [member('C0', ['t0']), member('C1', ['t0', 't1']), member('C2', ['t0', 't1', 't2'])];
    expect(plain(assignSticky(first, metadata))).toEqual({ C0: { t0: [0] }, C1: { t1: [0, 1] }, C2: { t2: [0, 1, 2] } });
    const second = [stickyMember('C1', ['t0', 't1'], { t1: [0, 1] }, 1), stickyMember('C2', ['t0', 't1', 't2'], { t2: [0, 1, 2] }, 1)];
    expect(plain(assignSticky(second, metadata))).toEqual({ C1: { t0: [0], t1: [0, 1] }, C2: { t2: [0, 1, 2] } });
  });

  it('gives a partition two members remember to the one with the higher generation', () => {
    const members = [stickyMember('old', ['t'], { t: [1] }, 4), stickyMember('new', ['t'], { t: [1] }, 5)];
    expect(plain(assignSticky(members, topics({ t: 2 })))).toEqual({ new: { t: [1] }, old: { t: [0] } });
  });

  it('reads a member\'s history from its subscription when it sends no user data', () => {
    const members = [member('a', ['t'], { ownedPartitions: owned({ t: [2, 3] }), generation: 2 }), member('b', ['t'])];
    expect(plain(assignSticky(members, topics({ t: 4 })))).toEqual({ a: { t: [2, 3] }, b: { t: [0, 1] } });
  });

  it('ignores user data it cannot parse, as Kafka does, instead of failing the rebalance', () => {
    const members = [member('a', ['t'], { userData: Uint8Array.from([0, 0, 0, 9, 1]) }), stickyMember('b', ['t'], { t: [0, 1] }, 1)];
    expect(plain(assignSticky(members, topics({ t: 2 })))).toEqual({ a: { t: [1] }, b: { t: [0] } });
  });

  it('drops remembered partitions of deleted topics, unsubscribed topics and partitions that no longer exist', () => {
    const members = [stickyMember('a', ['t'], { t: [0, 9], gone: [0], other: [0] }, 1), member('b', ['t', 'other'])];
    // t-1 is free: a and b both hold one, and a, which could hold fewer partitions, goes first.
    expect(plain(assignSticky(members, topics({ t: 2, other: 1 })))).toEqual({ a: { t: [0, 1] }, b: { other: [0] } });
  });

  it('remembers the assignment in StickyAssignorUserData', () => {
    const state = { ownedPartitions: owned({ t: [1, 4] }), generation: 9 };
    const userData = stickyAssignor.subscriptionUserData(state);
    expect(userData).not.toBeNull();
    expect(decodeStickyUserData(userData!)).toEqual(state);
  });
});

describe('assignors > cooperative-sticky > examples', () => {
  it('revokes first and hands over in a follow-up round when a member joins (KIP-429)', () => {
    const metadata = topics({ t: 6 });
    const first = assignCooperativeSticky(
      [member('C0', ['t'], { ownedPartitions: owned({ t: [0, 1, 2, 3, 4, 5] }), generation: 1 }), member('C1', ['t'])],
      metadata,
    );
    expect(plain(first)).toEqual({ C0: { t: [0, 1, 2] }, C1: {} });
    expect(first.pendingRevocation).toEqual([{ topic: 't', partitions: [3, 4, 5] }]);
    const followUp = assignCooperativeSticky(
      [member('C0', ['t'], { ownedPartitions: owned({ t: [0, 1, 2] }), generation: 2 }), member('C1', ['t'], { generation: 2 })],
      metadata,
    );
    expect(plain(followUp)).toEqual({ C0: { t: [0, 1, 2] }, C1: { t: [3, 4, 5] } });
    expect(followUp.pendingRevocation).toEqual([]);
  });

  it('gives the same target as sticky, minus the partitions in flight', () => {
    const members = [
      member('a', ['t0', 't1'], { ownedPartitions: owned({ t0: [0, 1, 2], t1: [0, 1, 2] }), generation: 3 }),
      member('b', ['t0', 't1'], { ownedPartitions: owned({ t0: [3] }), generation: 3 }),
      member('c', ['t0', 't1']),
    ];
    const metadata = topics({ t0: 4, t1: 3 });
    const sticky = plain(assignSticky(members, metadata));
    expect(sticky).toEqual({ a: { t0: [0, 1, 2] }, b: { t0: [3], t1: [0] }, c: { t1: [1, 2] } });
    const cooperative = assignCooperativeSticky(members, metadata);
    expect(plain(cooperative)).toEqual({ a: { t0: [0, 1, 2] }, b: { t0: [3] }, c: {} });
    expect(cooperative.pendingRevocation).toEqual([{ topic: 't1', partitions: [0, 1, 2] }]);
  });

  it('lets a partition stay with its holder while a stale claimant lets go', () => {
    const members = [
      member('stale', ['t'], { ownedPartitions: owned({ t: [0] }), generation: 2 }),
      member('current', ['t'], { ownedPartitions: owned({ t: [0, 1] }), generation: 3 }),
    ];
    const result = assignCooperativeSticky(members, topics({ t: 2 }));
    expect(plain(result)).toEqual({ current: { t: [0] }, stale: {} });
    expect(result.pendingRevocation).toEqual([{ topic: 't', partitions: [1] }]);
  });

  it('holds back a partition whose holder unsubscribed from its topic until the holder lets go', () => {
    const metadata = topics({ t0: 1, t1: 1 });
    const first = assignCooperativeSticky(
      [member('a', ['t0'], { ownedPartitions: owned({ t0: [0], t1: [0] }), generation: 1 }), member('b', ['t0', 't1'], { generation: 1 })],
      metadata,
    );
    expect(plain(first)).toEqual({ a: { t0: [0] }, b: {} });
    expect(first.pendingRevocation).toEqual([{ topic: 't1', partitions: [0] }]);
  });

  it('reads the generation from the user data when the subscription has none (v0 and v1)', () => {
    const members = [
      member('x', ['t'], { ownedPartitions: owned({ t: [0] }), userData: encodeCooperativeUserData(7) }),
      member('y', ['t'], { ownedPartitions: owned({ t: [0, 1] }), generation: 6 }),
    ];
    const result = assignCooperativeSticky(members, topics({ t: 2 }));
    expect(plain(result)).toEqual({ x: { t: [0] }, y: { t: [1] } });
    expect(decodeCooperativeUserData(cooperativeStickyAssignor.subscriptionUserData({ ownedPartitions: [], generation: 12 })!)).toBe(12);
  });
});

describe('assignors > names and protocols', () => {
  it('uses the names Kafka clients use, so mixed groups agree on the assignor', () => {
    expect(Object.values(AssignorName)).toEqual(['range', 'roundrobin', 'sticky', 'cooperative-sticky']);
    for (const name of Object.values(AssignorName)) expect(assignorByName(name).name).toBe(name);
    expect([rangeAssignor, roundRobinAssignor, stickyAssignor, cooperativeStickyAssignor].map((a) => a.name)).toEqual(Object.values(AssignorName));
  });

  it('refuses an unknown assignor name with INVALID_CONFIG', () => {
    expectStreamBusError(() => assignorByName('RoundRobinAssigner'), ErrorCode.INVALID_CONFIG);
  });

  it('rebalances cooperatively only when every configured assignor supports it', () => {
    expect(rebalanceProtocolFor([cooperativeStickyAssignor])).toBe(RebalanceProtocol.COOPERATIVE);
    expect(rebalanceProtocolFor([cooperativeStickyAssignor, rangeAssignor])).toBe(RebalanceProtocol.EAGER);
    expectStreamBusError(() => rebalanceProtocolFor([]), ErrorCode.INVALID_CONFIG);
  });
});

describe('assignors > input checks', () => {
  const assigners = [assignRange, assignRoundRobin, assignSticky, assignCooperativeSticky];

  it('refuses a member id listed twice', () => {
    for (const assign of assigners) expectStreamBusError(() => assign([member('a', ['t']), member('a', ['t'])], topics({ t: 1 })), ErrorCode.INVALID_REQUEST);
  });

  it('refuses a partition count that is negative or not an integer', () => {
    for (const assign of assigners) {
      expectStreamBusError(() => assign([member('a', ['t'])], topics({ t: -1 })), ErrorCode.INVALID_PARTITIONS);
      expectStreamBusError(() => assign([member('a', ['t'])], topics({ t: 1.5 })), ErrorCode.INVALID_PARTITIONS);
    }
  });

  it('refuses rack information that does not cover every partition', () => {
    const metadata: TopicMetadata = new Map([['t', { partitionCount: 3, partitionRacks: [['a']] }]]);
    for (const assign of assigners) expectStreamBusError(() => assign([member('a', ['t'])], metadata), ErrorCode.INVALID_REQUEST);
  });

  it('returns an empty assignment for an empty group and for topics without partitions', () => {
    for (const assign of assigners) {
      expect(assign([], topics({ t: 3 })).members.size).toBe(0);
      expect(plain(assign([member('a', ['t'])], topics({ t: 0 })))).toEqual({ a: {} });
    }
  });
});
