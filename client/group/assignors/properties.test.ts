/*
 * Properties of the assignors over many seeded random groups: 1-20 members, 1-10 topics of 1-64
 * partitions, subscriptions either identical or drawn per member (sometimes naming a topic that
 * does not exist), some static members. Every failure message carries the seed, and a seed
 * replays exactly: the generator is client/policy/random.ts's seeded mulberry32.
 *
 * "Moved" counts partitions whose previous owner is still in the group and no longer has them;
 * the least a balanced assignment can move is worked out from the previous counts alone: with P
 * partitions and N members, P % N members may keep ceil(P / N) and the rest floor(P / N), and the
 * ceil quotas save most when they go to the members that had the most.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom, type Random } from '../../policy/random.js';
import {
  assignCooperativeSticky,
  assignRange,
  assignRoundRobin,
  assignSticky,
  encodeStickyUserData,
  type GroupAssignment,
  type MemberSubscription,
  type TopicMetadata,
  type TopicPartitions,
} from './index.js';

type Assign = (members: readonly MemberSubscription[], metadata: TopicMetadata) => GroupAssignment;

interface Scenario {
  readonly seed: number;
  readonly members: MemberSubscription[];
  readonly metadata: TopicMetadata;
  readonly topicNames: readonly string[];
}

const SEEDS = 150;
const assigners: Record<string, Assign> = { range: assignRange, roundrobin: assignRoundRobin, sticky: assignSticky, 'cooperative-sticky': assignCooperativeSticky };

function int(random: Random, bound: number): number {
  return Math.floor(random() * bound);
}

function subset(random: Random, names: readonly string[]): string[] {
  const picked = names.filter(() => random() < 0.5);
  return picked.length > 0 ? picked : [names[int(random, names.length)]!];
}

function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(random, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function newMember(random: Random, index: number, topics: string[]): MemberSubscription {
  return {
    memberId: `consumer-${int(random, 1000)}-${index}`,
    groupInstanceId: random() < 0.3 ? `instance-${int(random, 1000)}-${index}` : null,
    topics,
    userData: null,
    ownedPartitions: [],
    generation: -1,
    rackId: null,
  };
}

function scenario(seed: number, identical: boolean): Scenario {
  const random = seededRandom(seed);
  const topicNames = Array.from({ length: 1 + int(random, 10) }, (_, i) => `${'abcdefgh'[int(random, 8)]}-topic-${i}`);
  const metadata: TopicMetadata = new Map(topicNames.map((topic) => [topic, { partitionCount: 1 + int(random, 64) }]));
  const shared = subset(random, topicNames);
  const members = Array.from({ length: 1 + int(random, 20) }, (_, i) => {
    const topics = identical ? [...shared] : subset(random, topicNames);
    if (!identical && random() < 0.1) topics.push('not-a-topic');
    return newMember(random, i, topics);
  });
  return { seed, members, metadata, topicNames };
}

const key = (topic: string, partition: number): string => `${topic}/${partition}`;

/** partition key → member id. */
function owners(result: GroupAssignment): Map<string, string> {
  const out = new Map<string, string>();
  for (const [memberId, assignment] of result.members) {
    for (const [topic, partitions] of assignment.partitions) for (const partition of partitions) out.set(key(topic, partition), memberId);
  }
  return out;
}

function ownedBy(result: GroupAssignment, memberId: string): TopicPartitions[] {
  return [...(result.members.get(memberId)?.partitions ?? [])].map(([topic, partitions]) => ({ topic, partitions }));
}

function countOf(result: GroupAssignment, memberId: string): number {
  return [...(result.members.get(memberId)?.partitions.values() ?? [])].reduce((sum, partitions) => sum + partitions.length, 0);
}

/** The partitions that must be assigned: those of existing topics some member subscribes to. */
function expectedPartitions(members: readonly MemberSubscription[], metadata: TopicMetadata): Set<string> {
  const out = new Set<string>();
  for (const topic of new Set(members.flatMap((member) => member.topics))) {
    for (let partition = 0; partition < (metadata.get(topic)?.partitionCount ?? 0); partition++) out.add(key(topic, partition));
  }
  return out;
}

/** Violations of: every expected partition exactly once (with `pending` counting as placed), only to subscribers. */
function placementViolations(result: GroupAssignment, members: readonly MemberSubscription[], metadata: TopicMetadata): string[] {
  const problems: string[] = [];
  const expected = expectedPartitions(members, metadata);
  const seen = new Set<string>();
  const byId = new Map(members.map((member) => [member.memberId, member]));
  if (result.members.size !== members.length) problems.push(`${result.members.size} members in the result, ${members.length} in the group`);
  const place = (where: string, topic: string, partition: number, subscribed: boolean): void => {
    const k = key(topic, partition);
    if (!expected.has(k)) problems.push(`${where} got ${k}, which is not in play`);
    if (seen.has(k)) problems.push(`${k} placed twice (again at ${where})`);
    if (!subscribed) problems.push(`${where} got ${k} without subscribing to ${topic}`);
    seen.add(k);
  };
  for (const [memberId, assignment] of result.members) {
    const member = byId.get(memberId);
    if (member === undefined) problems.push(`unknown member ${memberId} in the result`);
    for (const [topic, partitions] of assignment.partitions) {
      for (const partition of partitions) place(memberId, topic, partition, member?.topics.includes(topic) === true);
    }
  }
  for (const entry of result.pendingRevocation) for (const partition of entry.partitions) place('pending revocation', entry.topic, partition, true);
  for (const k of expected) if (!seen.has(k)) problems.push(`${k} not placed`);
  return problems;
}

/** Kafka's balance rule: no member holds 2+ more than a member that could take one of its partitions. */
function balanceViolations(result: GroupAssignment, members: readonly MemberSubscription[]): string[] {
  const problems: string[] = [];
  for (const a of members) {
    for (const b of members) {
      if (countOf(result, a.memberId) < countOf(result, b.memberId) + 2) continue;
      const movable = [...(result.members.get(a.memberId)?.partitions.keys() ?? [])].filter((topic) => b.topics.includes(topic));
      if (movable.length > 0) problems.push(`${a.memberId} has ${countOf(result, a.memberId)}, ${b.memberId} has ${countOf(result, b.memberId)} and could take ${movable[0]}`);
    }
  }
  return problems;
}

function spread(result: GroupAssignment): number {
  const counts = [...result.members.keys()].map((id) => countOf(result, id));
  return Math.max(...counts) - Math.min(...counts);
}

function plain(result: GroupAssignment): unknown {
  return {
    members: [...result.members].map(([id, assignment]) => [id, [...assignment.partitions]]),
    pending: result.pendingRevocation,
  };
}

/** The members as an eager sticky member would rejoin after `previous` (history in user data). */
function withStickyHistory(members: readonly MemberSubscription[], previous: GroupAssignment, generation: number): MemberSubscription[] {
  return members.map((member) => ({
    ...member,
    userData: previous.members.has(member.memberId) ? encodeStickyUserData({ ownedPartitions: ownedBy(previous, member.memberId), generation }) : null,
  }));
}

/** The members as a cooperative member would rejoin after `previous` (history in owned partitions). */
function withOwned(members: readonly MemberSubscription[], previous: GroupAssignment, generation: number): MemberSubscription[] {
  return members.map((member) => ({ ...member, ownedPartitions: ownedBy(previous, member.memberId), generation: previous.members.has(member.memberId) ? generation : -1 }));
}

/** Partitions whose previous owner is in `members` and does not have them any more. */
function moved(previous: GroupAssignment, next: GroupAssignment, members: readonly MemberSubscription[]): number {
  const present = new Set(members.map((member) => member.memberId));
  const after = owners(next);
  let count = 0;
  for (const [k, owner] of owners(previous)) if (present.has(owner) && after.has(k) && after.get(k) !== owner) count++;
  return count;
}

/** The fewest moves any balanced assignment needs, all members subscribing to the same topics. */
function fewestMoves(previous: GroupAssignment, members: readonly MemberSubscription[], metadata: TopicMetadata): number {
  const total = expectedPartitions(members, metadata).size;
  const quotaMin = Math.floor(total / members.length);
  const withCeil = total % members.length;
  const had = members.map((member) => countOf(previous, member.memberId)).sort((a, b) => b - a);
  const kept = had.reduce((sum, count, rank) => sum + Math.min(count, rank < withCeil ? quotaMin + 1 : quotaMin), 0);
  return Math.max(0, had.reduce((sum, count) => sum + count, 0) - kept);
}

/** A membership change: one member joins (same subscription as the first) or one leaves. */
function change(random: Random, members: readonly MemberSubscription[], join: boolean): MemberSubscription[] {
  if (join || members.length === 1) return [...members, newMember(random, 1000 + members.length, [...(members[0]?.topics ?? [])])];
  const leaving = int(random, members.length);
  return members.filter((_, index) => index !== leaving);
}

describe('assignors > properties > placement', () => {
  for (const [name, assign] of Object.entries(assigners)) {
    it(`${name} assigns every partition of a subscribed topic exactly once, only to subscribers`, () => {
      for (let seed = 1; seed <= SEEDS; seed++) {
        const { members, metadata } = scenario(seed, seed % 3 === 0);
        const result = assign(members, metadata);
        expect(placementViolations(result, members, metadata), `seed ${seed}`).toEqual([]);
        expect(result.pendingRevocation, `seed ${seed}`).toEqual([]);
      }
    });

    it(`${name} gives the same assignment whatever order the members are listed in`, () => {
      for (let seed = 1; seed <= SEEDS / 3; seed++) {
        const { members, metadata } = scenario(seed, seed % 2 === 0);
        const reordered = shuffled(seededRandom(seed * 31), members);
        expect(plain(assign(reordered, metadata)), `seed ${seed}`).toEqual(plain(assign(members, metadata)));
      }
    });
  }
});

/** The scenario with a rack per member (from three) and one to two replica racks per partition. */
function withRacks(seed: number): Scenario {
  const base = scenario(seed, seed % 2 === 0);
  const random = seededRandom(seed * 101);
  const racks = ['rack-a', 'rack-b', 'rack-c'];
  const metadata: TopicMetadata = new Map(
    [...base.metadata].map(([topic, info]) => [
      topic,
      { partitionCount: info.partitionCount, partitionRacks: Array.from({ length: info.partitionCount }, () => subset(random, racks).slice(0, 2)) },
    ]),
  );
  const members = base.members.map((member) => ({ ...member, rackId: random() < 0.9 ? racks[int(random, 3)]! : null }));
  return { ...base, members, metadata };
}

/** Per topic, the largest difference between two subscribers' counts of its partitions. */
function perTopicSpread(result: GroupAssignment, members: readonly MemberSubscription[], metadata: TopicMetadata): number {
  let worst = 0;
  for (const topic of metadata.keys()) {
    const counts = members.filter((member) => member.topics.includes(topic)).map((member) => result.members.get(member.memberId)?.partitions.get(topic)?.length ?? 0);
    if (counts.length > 0) worst = Math.max(worst, Math.max(...counts) - Math.min(...counts));
  }
  return worst;
}

describe('assignors > properties > balance', () => {
  it('range keeps each topic within one partition per subscriber, with and without racks', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      for (const { members, metadata } of [scenario(seed, false), withRacks(seed)]) {
        const result = assignRange(members, metadata);
        expect(placementViolations(result, members, metadata), `seed ${seed}`).toEqual([]);
        expect(perTopicSpread(result, members, metadata), `seed ${seed}`).toBeLessThanOrEqual(1);
      }
    }
  });

  for (const name of ['roundrobin', 'sticky']) {
    it(`${name} keeps members with identical subscriptions within one partition of each other`, () => {
      for (let seed = 1; seed <= SEEDS; seed++) {
        const { members, metadata } = scenario(seed, true);
        expect(spread(assigners[name]!(members, metadata)), `seed ${seed}`).toBeLessThanOrEqual(1);
      }
    });
  }

  it('sticky leaves no member two partitions ahead of one that could take one, whatever the subscriptions', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { members, metadata } = scenario(seed, false);
      expect(balanceViolations(assignSticky(members, metadata), members), `seed ${seed}`).toEqual([]);
    }
  });
});

describe('assignors > properties > stickiness', () => {
  it('sticky moves exactly the fewest partitions a balanced assignment needs when one member joins or leaves', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const random = seededRandom(seed * 7);
      const { members, metadata } = scenario(seed, true);
      // Histories both balanced (sticky's own) and lopsided (range's, over a different membership).
      const history = seed % 2 === 0 ? assignSticky(members, metadata) : assignRange(change(random, members, false), metadata);
      const next = change(random, members, random() < 0.5);
      const result = assignSticky(withStickyHistory(next, history, 1), metadata);
      expect(placementViolations(result, next, metadata), `seed ${seed}`).toEqual([]);
      expect(spread(result), `seed ${seed}`).toBeLessThanOrEqual(1);
      expect(moved(history, result, next), `seed ${seed}`).toBe(fewestMoves(history, next, metadata));
    }
  });

  it('sticky returns its own assignment unchanged when nothing changed, whatever the subscriptions', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { members, metadata } = scenario(seed, seed % 4 === 0);
      const first = assignSticky(members, metadata);
      const again = assignSticky(withStickyHistory(members, first, 1), metadata);
      expect(plain(again), `seed ${seed}`).toEqual(plain(first));
    }
  });

  it('sticky stays balanced and places everything once after joins and leaves with mixed subscriptions', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const random = seededRandom(seed * 13);
      const { members, metadata } = scenario(seed, false);
      const history = assignSticky(members, metadata);
      const next = change(random, members, random() < 0.5);
      const result = assignSticky(withStickyHistory(next, history, 1), metadata);
      expect(placementViolations(result, next, metadata), `seed ${seed}`).toEqual([]);
      expect(balanceViolations(result, next), `seed ${seed}`).toEqual([]);
    }
  });
});

describe('assignors > properties > cooperative', () => {
  /**
   * A group after a membership change, rejoining with what it owns: members that stay hold their
   * partitions from the previous round; some also still claim one another member got since, with
   * an older generation, as a member that missed a rebalance does.
   */
  function rejoining(seed: number, identical: boolean): { members: MemberSubscription[]; metadata: TopicMetadata } {
    const random = seededRandom(seed * 17);
    const { members, metadata, topicNames } = scenario(seed, identical);
    const history = assignSticky(members, metadata);
    let next = withOwned(change(random, members, random() < 0.5), history, 5);
    if (!identical && next.length > 0 && random() < 0.3) {
      // One member changes its subscription while still holding its partitions.
      const index = int(random, next.length);
      next = next.map((member, i) => (i === index ? { ...member, topics: subset(random, topicNames) } : member));
    }
    if (random() < 0.4 && next.length > 1) {
      const stale = int(random, next.length);
      const victim = next[(stale + 1) % next.length]!;
      const claim = victim.ownedPartitions[0];
      if (claim !== undefined) {
        next = next.map((member, i) => (i === stale ? { ...member, ownedPartitions: [...member.ownedPartitions, claim], generation: 4 } : member));
      }
    }
    return { members: next, metadata };
  }

  const holds = (member: MemberSubscription, topic: string, partition: number): boolean =>
    member.ownedPartitions.some((entry) => entry.topic === topic && entry.partitions.includes(partition));

  /** Whether giving the partition to `memberId` hands it over: it does not hold it, and someone else does. */
  function handsOver(members: readonly MemberSubscription[], memberId: string, topic: string, partition: number): boolean {
    const receiver = members.find((member) => member.memberId === memberId);
    if (receiver === undefined || holds(receiver, topic, partition)) return false;
    return members.some((other) => holds(other, topic, partition));
  }

  it('never gives a partition to a new owner in the round it is revoked from the one holding it', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { members, metadata } = rejoining(seed, seed % 2 === 0);
      const result = assignCooperativeSticky(members, metadata);
      const clashes: string[] = [];
      for (const [memberId, assignment] of result.members) {
        for (const [topic, partitions] of assignment.partitions) {
          for (const partition of partitions) if (handsOver(members, memberId, topic, partition)) clashes.push(`${topic}/${partition} to ${memberId}`);
        }
      }
      expect(clashes, `seed ${seed}`).toEqual([]);
      // Assigned plus pending covers every partition exactly once: at most once in the round itself.
      expect(placementViolations(result, members, metadata), `seed ${seed}`).toEqual([]);
    }
  });

  it('gives the same assignment as sticky, minus the partitions pending revocation', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { members, metadata } = rejoining(seed, seed % 2 === 0);
      const cooperative = assignCooperativeSticky(members, metadata);
      const pending = new Set(cooperative.pendingRevocation.flatMap((entry) => entry.partitions.map((partition) => key(entry.topic, partition))));
      const target = owners(assignSticky(members, metadata));
      for (const k of pending) target.delete(k);
      expect(owners(cooperative), `seed ${seed}`).toEqual(target);
    }
  });

  it('places every partition exactly once after the follow-up round', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { members, metadata } = rejoining(seed, seed % 2 === 0);
      const first = assignCooperativeSticky(members, metadata);
      // Each member revokes what it was not given, keeps the rest and rejoins with it.
      const followUp = assignCooperativeSticky(withOwned(members, first, 6), metadata);
      expect(followUp.pendingRevocation, `seed ${seed}`).toEqual([]);
      expect(placementViolations(followUp, members, metadata), `seed ${seed}`).toEqual([]);
      expect(moved(first, followUp, members), `seed ${seed}`).toBe(0);
    }
  });
});
