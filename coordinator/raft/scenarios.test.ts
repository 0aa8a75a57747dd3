/**
 * Script-style regression tests for the failure scenarios home-grown Raft implementations are
 * known to get wrong (reference/raft.md §2.2). Each runs a hand-driven cluster tick by tick and
 * checks, after every round, that no term ever has two leaders.
 */
import { describe, expect, it } from 'vitest';
import { ManualCluster, type ManualClusterOptions } from './sim/manual-cluster.js';

/** A cluster whose every round also checks election safety. */
class Checked {
  readonly c: ManualCluster;
  readonly leaderOfTerm = new Map<number, number>();
  leaderChanges = 0;
  #lastLeader = 0;

  constructor(options: ManualClusterOptions) {
    this.c = new ManualCluster(options);
  }

  rounds(n: number): void {
    for (let i = 0; i < n; i++) {
      this.c.tickAll(1);
      for (const id of this.c.leaders()) {
        const term = this.c.node(id).term;
        const known = this.leaderOfTerm.get(term);
        expect(known === undefined || known === id, `two leaders in term ${term}: ${known} and ${id}`).toBe(true);
        this.leaderOfTerm.set(term, id);
        if (id !== this.#lastLeader) {
          this.leaderChanges++;
          this.#lastLeader = id;
        }
      }
    }
  }

  terms(ids: readonly number[]): number[] {
    return ids.map((id) => this.c.node(id).term);
  }
}

/**
 * The partial partition behind the 2020 etcd outage: nodes 4 and 5 each reach only one member of
 * {1, 2, 3}, so they never hear the leader and keep campaigning through their one link.
 */
function partialPartition(k: Checked): void {
  k.c.heal();
  for (const [a, b] of [
    [4, 1],
    [4, 3],
    [4, 5],
    [5, 1],
    [5, 2],
  ] as const) {
    k.c.cut(a, b);
    k.c.cut(b, a);
  }
}

describe('raft > scenarios > partial partition', () => {
  it('keeps one stable leader and no term churn with PreVote and CheckQuorum', () => {
    const k = new Checked({ voters: [1, 2, 3, 4, 5], seed: 3 });
    k.c.elect(1);
    const term = k.c.node(1).term;
    partialPartition(k);
    k.rounds(300);
    expect(k.c.leaders()).toEqual([1]);
    expect(k.terms([1, 2, 3, 4, 5])).toEqual([term, term, term, term, term]);
    k.c.propose(1, 'still-writable');
    k.rounds(2);
    expect(k.c.applied(2)).toEqual(['still-writable']);
    expect(k.c.applied(3)).toEqual(['still-writable']);
  });

  it('churns elections endlessly without them (the failure this guards against)', () => {
    const k = new Checked({ voters: [1, 2, 3, 4, 5], seed: 3, node: { preVote: false, checkQuorum: false } });
    k.c.elect(1);
    const term = k.c.node(1).term;
    partialPartition(k);
    k.rounds(300);
    expect(k.c.node(2).term).toBeGreaterThan(term + 5);
    expect(k.leaderChanges + k.leaderOfTerm.size).toBeGreaterThan(4);
  });
});

describe('raft > scenarios > isolated leader', () => {
  it('steps down within an election timeout, a new leader takes over, and it rejoins without a term bump', () => {
    const k = new Checked({ voters: [1, 2, 3], seed: 11 });
    k.c.elect(1);
    k.c.propose(1, 'before');
    k.c.stabilize();
    const term = k.c.node(1).term;
    k.c.isolate(1);
    // Written on the minority side: never acknowledged, must never apply anywhere.
    k.c.propose(1, 'minority-write');
    k.c.act(1, (n) => n.readIndex('stale-read'));
    k.rounds(21);
    expect(k.c.node(1).role).toBe('follower');
    expect(k.c.takeReadStates(1)).toEqual([]);
    k.rounds(30);
    const leader = k.c.leaders()[0]!;
    expect([2, 3]).toContain(leader);
    const newTerm = k.c.node(leader).term;
    expect(newTerm).toBe(term + 1);
    k.c.propose(leader, 'after');
    k.rounds(2);
    expect(k.c.node(1).term).toBe(term);
    k.c.heal();
    k.rounds(30);
    expect(k.c.leaders()).toEqual([leader]);
    expect(k.terms([1, 2, 3])).toEqual([newTerm, newTerm, newTerm]);
    for (const id of [1, 2, 3]) expect(k.c.applied(id)).toEqual(['before', 'after']);
  });

  it('discards a crashed leader’s uncommitted tail, or commits it whole, never half', () => {
    const k = new Checked({ voters: [1, 2, 3], seed: 5 });
    k.c.elect(1);
    k.c.propose(1, 'a');
    k.c.stabilize();
    k.c.propose(1, 'b');
    k.c.propose(1, 'c');
    // The appends reach node 2 only; the leader dies before hearing back.
    k.c.deliver((m) => m.type === 'append' && m.to === 2);
    k.c.drop();
    k.c.crash(1);
    k.rounds(40);
    const leader = k.c.leaders()[0]!;
    k.c.restart(1);
    k.rounds(10);
    const applied = k.c.applied(leader);
    expect(applied).toEqual(leader === 2 ? ['a', 'b', 'c'] : ['a']);
    for (const id of [1, 2, 3]) expect(k.c.applied(id)).toEqual(applied);
  });
});

describe('raft > scenarios > membership change during a partition', () => {
  it('replaces a partitioned voter; the removed node rejoins without disturbing anyone', () => {
    const k = new Checked({ voters: [1, 2, 3], spares: [4], seed: 2 });
    k.c.elect(1);
    k.c.stabilize();
    k.c.isolate(3);
    k.c.act(1, (n) => n.proposeMembershipChange({ type: 'add-voter', nodeId: 4 }));
    k.rounds(5);
    expect(k.c.node(4).status().voters).toEqual([1, 2, 3, 4]);
    k.c.act(1, (n) => n.proposeMembershipChange({ type: 'remove-voter', nodeId: 3 }));
    k.rounds(5);
    for (const id of [1, 2, 4]) expect(k.c.node(id).status().voters).toEqual([1, 2, 4]);
    k.c.propose(1, 'x');
    k.rounds(2);
    const term = k.c.node(1).term;
    // Node 3 never learned it was removed: it still thinks it votes, and it has been campaigning.
    expect(k.c.node(3).status().voters).toEqual([1, 2, 3]);
    k.rounds(60);
    k.c.heal();
    k.rounds(100);
    expect(k.c.leaders()).toEqual([1]);
    expect(k.terms([1, 2, 4])).toEqual([term, term, term]);
    expect(k.c.applied(4)).toEqual(['x']);
  });

  it('a change proposed on the minority side of a partition never takes effect on the majority', () => {
    const k = new Checked({ voters: [1, 2, 3, 4, 5], spares: [6], seed: 9 });
    k.c.elect(1);
    k.c.stabilize();
    k.c.partition([1, 2], [3, 4, 5, 6]);
    k.c.act(1, (n) => n.proposeMembershipChange({ type: 'remove-voter', nodeId: 5 }));
    k.rounds(60);
    const leader = k.c.leaders().find((id) => id !== 1)!;
    expect([3, 4, 5]).toContain(leader);
    k.c.act(leader, (n) => n.proposeMembershipChange({ type: 'add-voter', nodeId: 6 }));
    k.rounds(5);
    k.c.heal();
    k.rounds(40);
    for (const id of [1, 2, 3, 4, 5, 6]) expect(k.c.node(id).status().voters).toEqual([1, 2, 3, 4, 5, 6]);
    expect(k.c.leaders()).toHaveLength(1);
  });
});

describe('raft > scenarios > isolated follower', () => {
  it('rejoins without a term bump, however long it was away', () => {
    for (const away of [5, 25, 60, 150]) {
      const k = new Checked({ voters: [1, 2, 3], seed: away });
      k.c.elect(1);
      const term = k.c.node(1).term;
      k.c.isolate(2);
      k.rounds(away);
      k.c.heal();
      k.rounds(30);
      expect(k.c.leaders(), `away ${away} rounds`).toEqual([1]);
      expect(k.terms([1, 2, 3]), `away ${away} rounds`).toEqual([term, term, term]);
    }
  });
});
