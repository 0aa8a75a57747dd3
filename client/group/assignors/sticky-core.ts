/**
 * The algorithm behind `sticky` and `cooperative-sticky`: a balanced assignment that keeps as many
 * partitions as possible where they were. Both assignors run it; they differ only in where a
 * member's previous partitions come from and in what cooperative does with the partitions that move.
 *
 * Previous ownership. Every member may claim partitions, with the generation in which it got them.
 * Claims on topics that no longer exist, partitions beyond the topic's count, or topics the member
 * no longer subscribes to are dropped. When several members claim the same partition, the claim
 * with the highest generation wins: the others are stale (a member that fell out of the group and
 * has not yet heard that its partitions went elsewhere). Two claims tied at the highest generation
 * cannot both be right, and neither is kept (Kafka does the same).
 *
 * Balance. When every member subscribes to the same topics, the counts differ by at most one: with
 * P partitions and N members, P % N members get ceil(P / N) and the rest floor(P / N). Members keep
 * what they owned up to their quota, and the ceil quotas go to the members that owned the most, so
 * the number of partitions that change owner is the least any balanced assignment allows. The
 * partitions left over fill the members below quota in canonical order.
 *
 * With different subscriptions, counts within one are not always possible (a member subscribed to
 * a one-partition topic alone holds one). The target is then the most balanced assignment there
 * is: the one with the smallest sum of squared counts, which also has the smallest maximum and
 * satisfies Kafka's rule that no member holds two or more partitions more than a member that could
 * take one of them. Owned partitions are kept; free ones go, fewest candidates first, to the
 * least-loaded candidate; then, while a "cost-reducing path" exists (members m0 -> ... -> mk, each
 * able to hand one of its partitions to the next, with m0 holding at least two more than mk), the
 * hand-overs along it are applied: m0 loses one, mk gains one, the members between are unchanged.
 * When no such path is left the assignment is optimal (Harvey, Ladner, Lovász and Tamir,
 * "Semi-matchings for bipartite graphs and load balancing", 2003). Paths through partitions that
 * did not stay with their previous owner are tried first, so kept partitions move only when
 * balance needs it. Each path lowers the sum of squares, so the loop ends.
 *
 * Optimal balance, not just Kafka's weaker rule, is what lets cooperative-sticky settle in one
 * follow-up round: the follow-up starts from the target minus the revoked partitions, and the only
 * way back to an optimum is to hand those out again, so no kept partition moves a second time.
 *
 * Pure: no node:* imports. Everything is ordered by member index in the canonical order and by
 * partition number, so the result does not depend on the order the members were listed in.
 */
import { AssignmentBuilder, partitionCount, type GroupView } from './group-view.js';
import type { GroupAssignment, MemberSubscription, OwnedState, TopicPartitions } from './types.js';

/** The partitions in play, numbered 0..total-1 by topic (ascending) and then partition. */
export class PartitionIndex {
  readonly topicOf: readonly string[];
  readonly partitionOf: readonly number[];
  readonly #base = new Map<string, { readonly base: number; readonly count: number }>();

  constructor(view: GroupView) {
    const topicOf: string[] = [];
    const partitionOf: number[] = [];
    for (const topic of view.topics) {
      const count = partitionCount(view, topic);
      this.#base.set(topic, { base: topicOf.length, count });
      for (let partition = 0; partition < count; partition++) {
        topicOf.push(topic);
        partitionOf.push(partition);
      }
    }
    this.topicOf = topicOf;
    this.partitionOf = partitionOf;
  }

  get total(): number {
    return this.topicOf.length;
  }

  /** The number of a partition in play, or undefined when the topic is not in play or the partition is out of range. */
  indexOf(topic: string, partition: number): number | undefined {
    const entry = this.#base.get(topic);
    if (entry === undefined || !Number.isInteger(partition) || partition < 0 || partition >= entry.count) return undefined;
    return entry.base + partition;
  }
}

/** The outcome of the sticky algorithm, by partition number and member index. */
export interface StickyPlan {
  readonly view: GroupView;
  readonly index: PartitionIndex;
  /** owner[p]: the member index that gets partition p. */
  readonly owner: Int32Array;
  /** claimants[p]: every member index that claimed p, whatever its generation or subscription. */
  readonly claimants: readonly (readonly number[])[];
}

const NONE = -1;

/** Runs the sticky algorithm; `previousOf` gives each member's claimed partitions and their generation. */
export function planSticky(view: GroupView, previousOf: (member: MemberSubscription) => OwnedState): StickyPlan {
  const index = new PartitionIndex(view);
  const { claimants, previousOwner } = resolveClaims(view, index, previousOf);
  const owner = new Int32Array(index.total).fill(NONE);
  if (view.members.length > 0 && index.total > 0) {
    if (allSubscriptionsEqual(view)) assignConstrained(view, index, previousOwner, owner);
    else assignGeneral(view, index, previousOwner, owner);
  }
  return { view, index, owner, claimants };
}

/**
 * The plan as a group assignment. With `withholdMoving` (cooperative), a partition that goes to a
 * member not holding it while another member does is left out and listed in pendingRevocation: the
 * holder revokes it when it sees its own assignment, and the follow-up rebalance hands it over.
 * Any claim counts, not only the winning one: a stale claimant may still be fetching the partition,
 * and the new owner must not start before it stops. A partition the new owner already holds stays
 * with it; other claimants let go of it when they see their assignments.
 */
export function planToAssignment(plan: StickyPlan, withholdMoving: boolean): GroupAssignment {
  const builder = new AssignmentBuilder(plan.view);
  const pending = new Map<string, number[]>();
  for (let p = 0; p < plan.index.total; p++) {
    const member = plan.owner[p] ?? NONE;
    const topic = plan.index.topicOf[p] ?? '';
    const partition = plan.index.partitionOf[p] ?? NONE;
    const claimants = plan.claimants[p] ?? [];
    if (withholdMoving && claimants.length > 0 && !claimants.includes(member)) {
      const list = pending.get(topic);
      if (list === undefined) pending.set(topic, [partition]);
      else list.push(partition);
    } else {
      builder.add(member, topic, partition);
    }
  }
  // Partition numbers are visited in ascending topic and partition order, so these lists are sorted.
  const pendingRevocation: TopicPartitions[] = [...pending].map(([topic, partitions]) => ({ topic, partitions }));
  return builder.build(pendingRevocation);
}

interface Claims {
  readonly claimants: number[][];
  /** previousOwner[p]: the member whose claim on p won, or NONE. */
  readonly previousOwner: Int32Array;
}

function resolveClaims(view: GroupView, index: PartitionIndex, previousOf: (member: MemberSubscription) => OwnedState): Claims {
  const claimants = Array.from({ length: index.total }, (): number[] => []);
  const previousOwner = new Int32Array(index.total).fill(NONE);
  const bestGeneration = new Array<number>(index.total).fill(Number.NEGATIVE_INFINITY);
  const tied = new Uint8Array(index.total);
  view.members.forEach((member, memberIndex) => {
    const previous = previousOf(member);
    for (const entry of previous.ownedPartitions) {
      const subscribed = view.subscribed[memberIndex]?.has(entry.topic) === true;
      for (const partition of entry.partitions) {
        const p = index.indexOf(entry.topic, partition);
        if (p === undefined) continue;
        const list = claimants[p] ?? [];
        if (list.includes(memberIndex)) continue;
        list.push(memberIndex);
        if (!subscribed) continue;
        const best = bestGeneration[p] ?? Number.NEGATIVE_INFINITY;
        if (previous.generation > best) {
          bestGeneration[p] = previous.generation;
          previousOwner[p] = memberIndex;
          tied[p] = 0;
        } else if (previous.generation === best) {
          tied[p] = 1;
        }
      }
    }
  });
  for (let p = 0; p < index.total; p++) if (tied[p] === 1) previousOwner[p] = NONE;
  return { claimants, previousOwner };
}

function allSubscriptionsEqual(view: GroupView): boolean {
  const first = view.subscribed[0];
  if (first === undefined) return true;
  return view.subscribed.every((topics) => topics.size === first.size && [...topics].every((topic) => first.has(topic)));
}

/** Every member subscribes to every partition in play: exact quotas (see the header). */
function assignConstrained(view: GroupView, index: PartitionIndex, previousOwner: Int32Array, owner: Int32Array): void {
  const memberCount = view.members.length;
  const total = index.total;
  const quotaMin = Math.floor(total / memberCount);
  const quotaMax = Math.ceil(total / memberCount);
  let maxQuotasLeft = total % memberCount;

  const kept: number[][] = Array.from({ length: memberCount }, (): number[] => []);
  for (let p = 0; p < total; p++) {
    const previous = previousOwner[p] ?? NONE;
    if (previous !== NONE) kept[previous]?.push(p);
  }
  const count = new Array<number>(memberCount).fill(0);
  // The members that owned the most come first, so the ceil quotas keep the most partitions in place.
  const byOwned = [...kept.keys()].sort((a, b) => (kept[b]?.length ?? 0) - (kept[a]?.length ?? 0) || a - b);
  for (const member of byOwned) {
    const owned = kept[member] ?? [];
    let quota = Math.min(owned.length, quotaMin);
    if (maxQuotasLeft > 0 && owned.length >= quotaMax) {
      quota = quotaMax;
      maxQuotasLeft--;
    }
    for (const p of owned.slice(0, quota)) owner[p] = member;
    count[member] = quota;
  }

  const free: number[] = [];
  for (let p = 0; p < total; p++) if (owner[p] === NONE) free.push(p);
  let next = 0;
  for (let member = 0; member < memberCount; member++) {
    while ((count[member] ?? 0) < quotaMin) {
      owner[free[next++] ?? NONE] = member;
      count[member] = (count[member] ?? 0) + 1;
    }
  }
  // What is left equals the ceil quotas no owner claimed; give them to members still at the floor.
  for (let member = 0; member < memberCount && next < free.length; member++) {
    if (count[member] !== quotaMin) continue;
    owner[free[next++] ?? NONE] = member;
    count[member] = quotaMin + 1;
  }
}

/** Members subscribe to different topics: keep, place, then apply cost-reducing paths (see the header). */
function assignGeneral(view: GroupView, index: PartitionIndex, previousOwner: Int32Array, owner: Int32Array): void {
  const candidatesOf = new Map<string, number[]>();
  for (const topic of view.topics) {
    candidatesOf.set(topic, [...view.members.keys()].filter((member) => view.subscribed[member]?.has(topic) === true));
  }
  const candidates = (p: number): readonly number[] => candidatesOf.get(index.topicOf[p] ?? '') ?? [];
  const held = view.members.map(() => new Set<number>());
  const load = (member: number): number => held[member]?.size ?? 0;
  // Offers per member (see offers()), kept until the member's partitions change: most of a search
  // looks at members a path does not touch.
  const offerCache = new Map<number, readonly (readonly [string, number])[]>();
  const offersOf = (member: number, freeOnly: boolean): readonly (readonly [string, number])[] => {
    const key = member * 2 + (freeOnly ? 1 : 0);
    let cached = offerCache.get(key);
    if (cached === undefined) {
      cached = offers(index, previousOwner, held[member] ?? new Set<number>(), member, freeOnly);
      offerCache.set(key, cached);
    }
    return cached;
  };
  const give = (p: number, member: number): void => {
    const from = owner[p] ?? NONE;
    held[from]?.delete(p);
    owner[p] = member;
    held[member]?.add(p);
    for (const touched of [from, member]) {
      offerCache.delete(touched * 2);
      offerCache.delete(touched * 2 + 1);
    }
  };
  // A member that could hold fewer partitions goes first among equally loaded candidates.
  const potential = view.subscribed.map((topics) => [...topics].reduce((sum, topic) => sum + partitionCount(view, topic), 0));
  const lighter = (a: number, b: number): boolean => {
    if (load(a) !== load(b)) return load(a) < load(b);
    const byPotential = (potential[a] ?? 0) - (potential[b] ?? 0);
    return byPotential !== 0 ? byPotential < 0 : a < b;
  };

  const free: number[] = [];
  for (let p = 0; p < index.total; p++) {
    const previous = previousOwner[p] ?? NONE;
    if (previous === NONE) free.push(p);
    else give(p, previous);
  }
  free.sort((a, b) => candidates(a).length - candidates(b).length || a - b);
  for (const p of free) {
    let best = NONE;
    for (const member of candidates(p)) if (best === NONE || lighter(member, best)) best = member;
    give(p, best);
  }

  for (;;) {
    // Partitions that cost no stickiness go first; a kept partition moves only when balance needs it.
    const path = findCostReducingPath(held, candidatesOf, (member) => offersOf(member, true)) ?? findCostReducingPath(held, candidatesOf, (member) => offersOf(member, false));
    if (path === undefined) return;
    for (const step of path) give(step.partition, step.to);
  }
}

/** One hand-over of a cost-reducing path. */
interface Step {
  readonly partition: number;
  readonly to: number;
}

/**
 * A cost-reducing path: members m0 -> m1 -> ... -> mk where each gives one partition to the next
 * (which subscribes to its topic) and m0 holds at least two more than mk, as the hand-overs to
 * apply. `offersOf` says which partition, per topic, a member would hand on.
 *
 * The search is a breadth-first search from each member in decreasing load order, sharing one
 * visited set: a member reachable from a more loaded donor that found no target cannot lead a
 * less loaded donor to one either. Each topic's candidates are scanned at most once per search, so
 * a search costs about one pass over the subscriptions, however many members it visits.
 */
function findCostReducingPath(
  held: readonly ReadonlySet<number>[],
  candidatesOf: ReadonlyMap<string, readonly number[]>,
  offersOf: (member: number) => readonly (readonly [string, number])[],
): Step[] | undefined {
  const loads = held.map((partitions) => partitions.size);
  const lowest = Math.min(...loads);
  // Donors by decreasing load, then member index; only those two or more above the lowest can donate.
  const byLoad: number[][] = [];
  loads.forEach((load, member) => {
    if (load >= lowest + 2) (byLoad[load] ??= []).push(member);
  });
  const donors = byLoad.reverse().flatMap((members) => members);
  const visited = new Uint8Array(held.length);
  // Once one member's offer of a topic has been followed, every candidate of that topic is visited:
  // following the topic again from another member finds nothing new.
  const followed = new Set<string>();
  const parent = new Int32Array(held.length).fill(NONE);
  const via = new Int32Array(held.length).fill(NONE);
  for (const donor of donors) {
    const donorLoad = loads[donor] ?? 0;
    if (visited[donor] === 1) continue;
    visited[donor] = 1;
    const queue = [donor];
    for (let head = 0; head < queue.length; head++) {
      const from = queue[head] ?? NONE;
      for (const [topic, partition] of offersOf(from)) {
        if (followed.has(topic)) continue;
        followed.add(topic);
        for (const to of candidatesOf.get(topic) ?? []) {
          if (visited[to] === 1) continue;
          visited[to] = 1;
          parent[to] = from;
          via[to] = partition;
          if ((loads[to] ?? 0) <= donorLoad - 2) return unwind(donor, to, parent, via);
          queue.push(to);
        }
      }
    }
  }
  return undefined;
}

/**
 * Per topic a member holds, the partition it would hand on: its lowest free one (not sitting with
 * its previous owner), else its lowest one; with `freeOnly`, free ones only.
 */
function offers(index: PartitionIndex, previousOwner: Int32Array, partitions: ReadonlySet<number>, member: number, freeOnly: boolean): [string, number][] {
  const best = new Map<string, number>();
  const free = (p: number): boolean => previousOwner[p] !== member;
  for (const p of partitions) {
    if (freeOnly && !free(p)) continue;
    const topic = index.topicOf[p] ?? '';
    const current = best.get(topic);
    if (current === undefined || (free(p) && !free(current)) || (free(p) === free(current) && p < current)) best.set(topic, p);
  }
  return [...best].sort((a, b) => a[1] - b[1]);
}

function unwind(from: number, to: number, parent: Int32Array, via: Int32Array): Step[] {
  const steps: Step[] = [];
  for (let node = to; node !== from; node = parent[node] ?? from) steps.push({ partition: via[node] ?? NONE, to: node });
  return steps;
}
