import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { RaftAssertionError } from './assert.js';
import { RaftNode, type RaftNodeOptions } from './raft-node.js';
import { ManualCluster } from './sim/manual-cluster.js';
import { MemoryRaftStorage } from './sim/memory-storage.js';
import type { AppendMessage, Entry, Message, Ready } from './types.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function node(options: Partial<RaftNodeOptions> & { id: number }): RaftNode {
  return new RaftNode({ electionTicks: 10, heartbeatTicks: 1, randomInt: () => 0, initialVoters: [1, 2, 3], ...options });
}

/** Runs every Ready of a lone node, persisting into `storage`; returns them. */
function drain(n: RaftNode, storage = new MemoryRaftStorage()): Ready[] {
  const readies: Ready[] = [];
  while (n.hasReady()) {
    const ready = n.ready();
    storage.persist(ready);
    readies.push(ready);
    n.advance();
  }
  return readies;
}

function expectError(fn: () => unknown, code: ErrorCode): StreamBusError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).code).toBe(code);
    return error as StreamBusError;
  }
  throw new Error('expected a StreamBusError');
}

const appendsTo = (c: ManualCluster, to: number): AppendMessage[] =>
  c.queue.filter((m): m is AppendMessage => m.type === 'append' && m.to === to);

describe('raft > election', () => {
  it('elects one leader of a three-node cluster once an election timeout passes', () => {
    const c = new ManualCluster({ voters: [1, 2, 3], seed: 7 });
    c.tickAll(25);
    expect(c.leaders()).toHaveLength(1);
    const leader = c.leaders()[0]!;
    for (const id of c.ids) {
      expect(c.node(id).term).toBe(1);
      expect(c.node(id).leaderId).toBe(leader);
    }
  });

  it('campaigns exactly after electionTicks plus the injected random jitter', () => {
    const n = node({ id: 1, randomInt: () => 3 });
    drain(n);
    for (let i = 0; i < 12; i++) n.tick();
    expect(n.role).toBe('follower');
    n.tick();
    expect(n.role).toBe('pre-candidate');
  });

  it('lets a single voter elect itself and commit proposals on its own', () => {
    const c = new ManualCluster({ voters: [1] });
    c.tickAll(20);
    expect(c.leaders()).toEqual([1]);
    c.propose(1, 'a');
    expect(c.applied(1)).toEqual(['a']);
    expect(c.storage(1).hardState.commit).toBe(2);
  });

  it('grants at most one vote per term', () => {
    const voter = node({ id: 3 });
    drain(voter);
    voter.step({ type: 'vote', from: 1, to: 3, term: 1, lastIndex: 0, lastTerm: 0, transfer: false });
    voter.step({ type: 'vote', from: 2, to: 3, term: 1, lastIndex: 0, lastTerm: 0, transfer: false });
    const messages = drain(voter).flatMap((r) => r.messages);
    expect(messages.map((m) => [m.type, m.to, 'reject' in m && m.reject])).toEqual([
      ['vote-response', 1, false],
      ['vote-response', 2, true],
    ]);
  });

  it('persists the vote in the same Ready that carries the grant', () => {
    const voter = node({ id: 3 });
    drain(voter);
    voter.step({ type: 'vote', from: 1, to: 3, term: 4, lastIndex: 0, lastTerm: 0, transfer: false });
    const ready = voter.ready();
    expect(ready.messages).toEqual([{ type: 'vote-response', from: 3, to: 1, term: 4, reject: false }]);
    expect(ready.hardState).toEqual({ term: 4, vote: 1, commit: 0 });
  });

  it('refuses a candidate whose log is less up to date than its own', () => {
    const voter = node({ id: 2, checkQuorum: false });
    drain(voter);
    const entries: Entry[] = [1, 2].map((index) => ({ kind: 'normal', index, term: 1, data: text('x') }));
    voter.step({ type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, entries, commit: 0 });
    drain(voter);
    voter.step({ type: 'vote', from: 3, to: 2, term: 5, lastIndex: 1, lastTerm: 1, transfer: false });
    voter.step({ type: 'vote', from: 1, to: 2, term: 5, lastIndex: 2, lastTerm: 1, transfer: false });
    const replies = drain(voter).flatMap((r) => r.messages);
    expect(replies.map((m) => [m.to, 'reject' in m && m.reject])).toEqual([
      [3, true],
      [1, false],
    ]);
  });

  it('drops vote responses from an earlier term', () => {
    const c = new ManualCluster({ voters: [1, 2, 3], node: { preVote: false } });
    c.campaign(1);
    c.drop();
    c.campaign(1);
    expect(c.node(1).term).toBe(2);
    c.node(1).step({ type: 'vote-response', from: 2, to: 1, term: 1, reject: false });
    expect(c.node(1).role).toBe('candidate');
  });
});

describe('raft > prevote and check quorum', () => {
  it('keeps a partitioned follower at its term, so it rejoins without unseating the leader', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    const term = c.node(1).term;
    c.isolate(3);
    c.tickAll(100);
    expect(c.node(3).term).toBe(term);
    c.heal();
    c.tickAll(30);
    expect(c.leaders()).toEqual([1]);
    expect(c.ids.map((id) => c.node(id).term)).toEqual([term, term, term]);
  });

  it('without PreVote the same partition inflates the term and disrupts the leader on rejoin', () => {
    const c = new ManualCluster({ voters: [1, 2, 3], node: { preVote: false, checkQuorum: false } });
    c.elect(1);
    const term = c.node(1).term;
    c.isolate(3);
    c.tickAll(100);
    expect(c.node(3).term).toBeGreaterThan(term + 2);
    c.heal();
    c.tickAll(30);
    expect(c.node(1).term).toBeGreaterThan(term + 2);
  });

  it('ignores a vote request for a later term while it still hears from its leader', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.tickAll(2);
    const follower = c.node(2);
    const term = follower.term;
    follower.step({ type: 'vote', from: 3, to: 2, term: term + 1, lastIndex: 100, lastTerm: term, transfer: false });
    expect(follower.term).toBe(term);
    expect(follower.leaderId).toBe(1);
    c.drainAll();
    expect(c.queue.filter((m) => m.from === 2 && m.type === 'vote-response')).toEqual([]);
  });

  it('steps a leader down after an election timeout without hearing from a quorum', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(1);
    c.tick(1, 10);
    expect(c.node(1).role).toBe('leader');
    c.tick(1, 10);
    expect(c.node(1).role).toBe('follower');
    expect(c.node(1).leaderId).toBe(0);
  });

  it('keeps a leader that hears from a quorum even when one follower is gone', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(3);
    c.tickAll(60);
    expect(c.node(1).role).toBe('leader');
  });
});

describe('raft > replication', () => {
  it('commits a proposal once a quorum holds it and applies it everywhere', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(3);
    const at = c.propose(1, 'a');
    c.stabilize();
    expect(c.node(1).commitIndex).toBe(at.index);
    expect(c.applied(1)).toEqual(['a']);
    c.heal();
    c.tickAll(3);
    expect(c.applied(3)).toEqual(['a']);
  });

  it('batches the proposals made between two Readys into one append per follower', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.tickAll(1);
    c.act(1, (n) => {
      n.propose(text('a'));
      n.propose(text('b'));
      n.propose(text('c'));
    });
    const appends = appendsTo(c, 2);
    expect(appends).toHaveLength(1);
    expect(appends[0]!.entries).toHaveLength(3);
  });

  it('pipelines appends to a follower up to the inflight window, then waits', () => {
    const c = new ManualCluster({ voters: [1, 2, 3], node: { maxInflightAppends: 2 } });
    c.elect(1);
    c.tickAll(1);
    for (const s of ['a', 'b', 'c', 'd']) c.propose(1, s);
    expect(appendsTo(c, 2).map((m) => m.entries.length)).toEqual([1, 1]);
    c.stabilize();
    expect(c.applied(2)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('truncates a follower only from its first conflicting entry', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.propose(1, 'a');
    c.stabilize();
    // The leader writes two entries nobody else sees, then loses leadership to 2.
    c.isolate(1);
    c.propose(1, 'lost-1');
    c.propose(1, 'lost-2');
    c.tickAll(30);
    expect(c.leaders()).toContain(2);
    c.propose(2, 'b');
    c.stabilize();
    c.heal();
    c.tickAll(30);
    expect(c.leaders()).toEqual([2]);
    for (const id of c.ids) expect(c.applied(id)).toEqual(['a', 'b']);
    const lastTerms = c.ids.map((id) => c.node(id).inspectLog().entries.map((e) => e.term));
    expect(lastTerms[0]).toEqual(lastTerms[1]);
  });

  it('deletes nothing that matched when a delayed, shorter append arrives late', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.tickAll(1);
    c.propose(1, 'a');
    const early = appendsTo(c, 2)[0]!;
    c.stabilize();
    c.propose(1, 'b');
    c.stabilize();
    const before = c.node(2).status().lastIndex;
    c.node(2).step(early);
    expect(c.node(2).status().lastIndex).toBe(before);
  });

  it('acks only what an append proved to match, never the follower’s own longer tail', () => {
    const follower = node({ id: 2 });
    drain(follower);
    const entries: Entry[] = [1, 2, 3].map((index) => ({ kind: 'normal', index, term: 1, data: text(`e${index}`) }));
    follower.step({ type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, entries, commit: 0 });
    drain(follower);
    follower.step({ type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, entries: entries.slice(0, 1), commit: 0 });
    const [reply] = drain(follower).flatMap((r) => r.messages);
    expect(reply).toMatchObject({ type: 'append-response', index: 1, reject: false });
  });

  it('withdraws an ack whose entries a newer leader replaced before they were persisted (found by seed 1818)', () => {
    const follower = node({ id: 2, checkQuorum: false });
    drain(follower);
    const e = (index: number, term: number): Entry => ({ kind: 'normal', index, term, data: text(`${index}/${term}`) });
    follower.step({ type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, entries: [e(1, 1), e(2, 1)], commit: 0 });
    drain(follower);
    // Between two Readys: the term-1 leader adds entries 3 and 4, then a term-3 leader replaces them.
    follower.step({ type: 'append', from: 1, to: 2, term: 1, prevIndex: 2, prevTerm: 1, entries: [e(3, 1), e(4, 1)], commit: 0 });
    follower.step({ type: 'append', from: 3, to: 2, term: 3, prevIndex: 2, prevTerm: 1, entries: [e(3, 3)], commit: 0 });
    const ready = follower.ready();
    expect(ready.entries.map((x) => [x.index, x.term])).toEqual([[3, 3]]);
    // No ack to node 1 for entries this Ready will never persist; node 3 gets its own.
    expect(ready.messages.filter((m) => m.type === 'append-response').map((m) => [m.to, m.type === 'append-response' && m.index])).toEqual([[3, 3]]);
  });

  it('skips a whole conflicting term per round trip using the rejection hint', () => {
    const follower = node({ id: 2 });
    drain(follower);
    const old: Entry[] = [1, 2, 3, 4, 5].map((index) => ({ kind: 'normal', index, term: index === 1 ? 1 : 2, data: text('x') }));
    follower.step({ type: 'append', from: 1, to: 2, term: 2, prevIndex: 0, prevTerm: 0, entries: old, commit: 1 });
    drain(follower);
    follower.step({ type: 'append', from: 3, to: 2, term: 3, prevIndex: 5, prevTerm: 3, entries: [], commit: 1 });
    const [reply] = drain(follower).flatMap((r) => r.messages);
    expect(reply).toMatchObject({ type: 'append-response', reject: true, index: 5, hintIndex: 5, hintTerm: 2 });
  });

  it('refuses proposals on a follower with NOT_CONTROLLER naming the leader', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    const error = expectError(() => c.node(2).propose(text('a')), ErrorCode.NOT_CONTROLLER);
    expect(error.message).toContain('node 1');
    expect(error.retriable).toBe(true);
  });
});

describe('raft > commit rules', () => {
  it('sends a leader\'s appends before its own write and counts its own copy only once advance() says it is durable', () => {
    const c = new ManualCluster({ voters: [1, 2, 3], seed: 3 });
    c.elect(1);
    const leader = c.node(1);
    leader.propose(text('early'));
    const ready = leader.ready();
    // The term is already on disk, so the appends carrying the new entry may leave now ...
    expect(ready.hardState).toBeUndefined();
    expect(ready.leaderAppends.map((m) => [m.type, m.to])).toEqual([['append', 2], ['append', 3]]);
    expect(ready.messages.filter((m) => m.type === 'append')).toEqual([]);
    const index = ready.entries[0]!.index;
    // ... and node 2 writes and acks it while the leader's own write is still in progress.
    c.queue.push(...ready.leaderAppends.filter((m) => m.to === 2));
    c.deliver((m) => m.to === 2);
    c.deliver((m) => m.to === 1 && m.from === 2);
    expect(leader.commitIndex).toBe(index - 1);
    // Two copies are a quorum of three only once the leader's own is durable.
    c.storage(1).persist(ready);
    leader.advance();
    expect(leader.commitIndex).toBe(index);
  });

  it('keeps a follower\'s ack for after its write: only a leader sends anything early', () => {
    const c = new ManualCluster({ voters: [1, 2, 3], seed: 3 });
    c.elect(1);
    c.act(1, (leader) => leader.propose(text('x')));
    const follower = c.node(2);
    const append = c.queue.find((m) => m.type === 'append' && m.to === 2)!;
    follower.step(append);
    const ready = follower.ready();
    expect(ready.entries.length).toBe(1);
    expect(ready.leaderAppends).toEqual([]);
    expect(ready.messages.map((m) => m.type)).toEqual(['append-response']);
  });

  /**
   * Figure 8 of the Raft paper, with our leader no-ops (PreVote and CheckQuorum off: they do not
   * matter here and would only make the script longer). Five nodes. Term 2: leader 2 gets X to
   * node 1 only. Term 3: node 5 leads with 3 and 4 and appends its no-op at X's index, which
   * reaches nobody. Term 4: node 2 leads again and copies X to node 3, so a majority {1, 2, 3}
   * holds X, but its own no-op reaches no majority. Counting replicas would commit X now, yet
   * node 5 (last term 3) can still win term 5 with votes from 3 and 4 and overwrite it.
   */
  function figure8(bugs: { commitOldTermEntries?: boolean } = {}): { c: ManualCluster; xIndex: number; appliedByLeader: string[] } {
    const c = new ManualCluster({ voters: [1, 2, 3, 4, 5], node: { preVote: false, checkQuorum: false, maxEntriesPerAppend: 1 }, bugs });
    const win = (id: number): void => {
      for (let i = 0; i < 3 && c.node(id).role !== 'leader'; i++) {
        c.campaign(id);
        c.deliver((m) => m.type === 'vote');
        c.deliver((m) => m.type === 'vote-response');
      }
      expect(c.node(id).role).toBe('leader');
    };
    c.elect(1);
    c.elect(2);
    expect(c.leaders()).toEqual([2]);
    c.partition([1, 2], [3], [4], [5]);
    const x = c.propose(2, 'X');
    c.stabilize();
    // Term 3: node 5 wins with 3 and 4; its no-op (at X's index) goes nowhere.
    c.partition([1], [2], [3, 4, 5]);
    win(5);
    expect(c.node(5).term).toBe(3);
    c.drop();
    expect(c.node(5).inspectLog().entries.find((e) => e.index === x.index)?.term).toBe(3);
    c.crash(5);
    // Term 4: node 2 (restarted, so it no longer thinks it leads term 2) wins with 1 and 3.
    c.crash(2);
    c.restart(2);
    c.partition([1, 2, 3], [4], [5]);
    win(2);
    expect(c.node(2).term).toBe(4);
    c.deliver((m) => m.type === 'append'); // node 1 takes the no-op; node 3 lacks X and rejects
    c.deliver((m) => m.type === 'append-response'); // node 2 now sends X alone to node 3
    c.drop((m) => !(m.type === 'append' && m.to === 3));
    expect(c.queue.map((m) => `${m.type} to ${m.to}`)).toEqual(['append to 3']);
    c.deliver(); // node 3 stores X and acks it: X is on 1, 2 and 3; the no-op only on 1 and 2
    c.deliver((m) => m.type === 'append-response');
    c.drop(); // node 2's no-op to node 3 is lost
    return { c, xIndex: x.index, appliedByLeader: c.applied(2) };
  }

  it('Figure 8: does not commit an entry of an earlier term just because a majority holds it', () => {
    const { c, xIndex, appliedByLeader } = figure8();
    const holders = [1, 2, 3].filter((id) => c.node(id).inspectLog().entries.find((e) => e.index === xIndex)?.term === 2);
    expect(holders).toEqual([1, 2, 3]);
    expect(c.node(2).commitIndex).toBe(xIndex - 1);
    expect(appliedByLeader).not.toContain('X');
  });

  it('Figure 8 with the seeded bug commits X, which a later leader then overwrites', () => {
    const { c, xIndex, appliedByLeader } = figure8({ commitOldTermEntries: true });
    expect(c.node(2).commitIndex).toBe(xIndex);
    expect(appliedByLeader).toEqual(['X']);
    // Node 5 comes back and wins with 3 and 4 (its last term 3 beats their 2): X is gone.
    c.crash(2);
    c.restart(5);
    c.partition([3, 4, 5], [1], [2]);
    for (let i = 0; i < 3 && c.node(5).role !== 'leader'; i++) c.elect(5);
    expect(c.node(5).role).toBe('leader');
    c.stabilize();
    for (const id of [3, 4, 5]) expect(c.node(id).inspectLog().entries.find((e) => e.index === xIndex)?.term).toBe(3);
  });

  it('commits earlier-term entries indirectly, together with the new leader’s no-op', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(3);
    c.partition([1, 2], [3]);
    c.propose(1, 'a');
    // The append reaches node 2, but its ack never comes back: 'a' is on a majority, uncommitted.
    c.deliver((m) => m.type === 'append');
    c.drop();
    expect(c.node(1).commitIndex).toBe(1);
    c.crash(1);
    c.heal();
    c.tick(2, 30);
    c.tick(3, 30);
    c.elect(2);
    expect(c.leaders()).toEqual([2]);
    c.stabilize();
    expect(c.applied(2)).toEqual(['a']);
    expect(c.applied(3)).toEqual(['a']);
  });
});

describe('raft > read index', () => {
  it('answers a read only once the new leader has committed an entry of its term', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.deliver();
    c.deliver();
    c.deliver();
    c.deliver();
    expect(c.node(1).role).toBe('leader');
    c.act(1, (n) => n.readIndex('r1'));
    c.drainAll();
    expect(c.takeReadStates(1)).toEqual([]);
    c.stabilize();
    const states = c.takeReadStates(1);
    expect(states).toEqual([{ index: 1, context: 'r1' }]);
  });

  it('confirms leadership with a heartbeat round before answering', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.act(1, (n) => n.readIndex('r1'));
    const heartbeats = c.queue.filter((m) => m.type === 'heartbeat');
    expect(heartbeats).toHaveLength(2);
    expect(c.takeReadStates(1)).toEqual([]);
    c.deliver((m) => m.type === 'heartbeat' && m.to === 2);
    c.deliver((m) => m.type === 'heartbeat-response');
    expect(c.takeReadStates(1)).toEqual([{ index: c.node(1).commitIndex, context: 'r1' }]);
  });

  it('never answers on a leader cut off from its quorum', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(1);
    c.act(1, (n) => n.readIndex('stale'));
    c.tick(1, 25);
    c.stabilize();
    expect(c.node(1).role).toBe('follower');
    expect(c.takeReadStates(1)).toEqual([]);
  });

  it('forwards a follower’s read to the leader and hands the answer back to the follower', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.propose(1, 'a');
    c.stabilize();
    c.act(2, (n) => n.readIndex('f1'));
    c.stabilize();
    expect(c.takeReadStates(2)).toEqual([{ index: c.node(1).commitIndex, context: 'f1' }]);
  });

  it('answers at once on a single voter', () => {
    const c = new ManualCluster({ voters: [1] });
    c.elect(1);
    c.act(1, (n) => n.readIndex('x'));
    expect(c.takeReadStates(1)).toEqual([{ index: 1, context: 'x' }]);
  });

  it('refuses a read on a node that knows no leader', () => {
    const n = node({ id: 1 });
    expectError(() => n.readIndex('x'), ErrorCode.NOT_CONTROLLER);
  });
});

describe('raft > snapshots', () => {
  it('sends InstallSnapshot to a follower that needs compacted entries, which then catches up', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(3);
    for (const s of ['a', 'b', 'c', 'd']) c.propose(1, s);
    c.stabilize();
    c.compact(1, c.node(1).commitIndex);
    c.compact(2, c.node(2).commitIndex);
    c.propose(1, 'e');
    c.stabilize();
    c.heal();
    c.tickAll(3);
    expect(c.delivered.some((m) => m.type === 'snapshot' && m.to === 3)).toBe(true);
    expect(c.applied(3)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(c.node(3).status().snapshotIndex).toBe(5);
    expect(c.storage(3).snapshot?.meta.index).toBe(5);
  });

  it('restarts from its snapshot plus the entries after it', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    for (const s of ['a', 'b', 'c']) c.propose(1, s);
    c.stabilize();
    c.tickAll(1);
    c.compact(2, 3);
    c.propose(1, 'd');
    c.stabilize();
    c.tickAll(1);
    c.crash(2);
    c.restart(2);
    expect(c.node(2).status()).toMatchObject({ snapshotIndex: 3, lastIndex: 5, commit: 5 });
    expect(c.applied(2)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('answers a snapshot older than its commit index without installing it', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.propose(1, 'a');
    c.stabilize();
    c.tickAll(1);
    const before = c.node(2).status();
    c.node(2).step({ type: 'snapshot', from: 1, to: 2, term: c.node(1).term, snapshot: { meta: { index: 1, term: 1, voters: [1, 2, 3] }, data: new Uint8Array() } });
    c.drainAll();
    expect(c.node(2).status().snapshotIndex).toBe(before.snapshotIndex);
    expect(c.queue.find((m) => m.from === 2 && m.type === 'append-response')).toMatchObject({ index: before.commit, reject: false });
  });
});

describe('raft > membership', () => {
  it('adds a voter: the new configuration applies on append and the new node catches up', () => {
    const c = new ManualCluster({ voters: [1, 2, 3], spares: [4] });
    c.elect(1);
    c.propose(1, 'a');
    c.stabilize();
    const at = c.act(1, (n) => n.proposeMembershipChange({ type: 'add-voter', nodeId: 4 }));
    expect(c.node(1).status().voters).toEqual([1, 2, 3, 4]);
    expect(c.node(1).commitIndex).toBeLessThan(at.index);
    c.stabilize();
    c.tickAll(3);
    expect(c.node(4).status().voters).toEqual([1, 2, 3, 4]);
    expect(c.applied(4)).toEqual(['a']);
    // Four voters need three: with two down, nothing commits.
    c.isolate(3);
    c.crash(4);
    c.propose(1, 'b');
    c.stabilize();
    expect(c.applied(1)).toEqual(['a']);
  });

  it('removes a voter, after which the smaller quorum suffices', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.stabilize();
    c.act(1, (n) => n.proposeMembershipChange({ type: 'remove-voter', nodeId: 3 }));
    c.stabilize();
    c.crash(3);
    c.propose(1, 'a');
    c.stabilize();
    expect(c.applied(1)).toEqual(['a']);
    expect(c.node(2).status().voters).toEqual([1, 2]);
  });

  it('refuses a second change while the first is uncommitted, and any change before the leader’s no-op commits', () => {
    const c = new ManualCluster({ voters: [1, 2, 3], spares: [4, 5] });
    c.campaign(1);
    for (let i = 0; i < 4; i++) c.deliver((m) => m.type !== 'append' && m.type !== 'append-response');
    expect(c.node(1).role).toBe('leader');
    expectError(() => c.node(1).proposeMembershipChange({ type: 'add-voter', nodeId: 4 }), ErrorCode.LEADER_NOT_AVAILABLE);
    c.stabilize();
    c.act(1, (n) => n.proposeMembershipChange({ type: 'add-voter', nodeId: 4 }));
    const error = expectError(() => c.node(1).proposeMembershipChange({ type: 'add-voter', nodeId: 5 }), ErrorCode.INVALID_REQUEST);
    expect(error.message).toContain('in progress');
    c.stabilize();
    c.act(1, (n) => n.proposeMembershipChange({ type: 'add-voter', nodeId: 5 }));
    expectError(() => c.node(1).proposeMembershipChange({ type: 'add-voter', nodeId: 2 }), ErrorCode.INVALID_REQUEST);
  });

  it('steps a leader that removed itself down once the change commits, handing over at once', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.stabilize();
    c.act(1, (n) => n.proposeMembershipChange({ type: 'remove-voter', nodeId: 1 }));
    c.stabilize();
    expect(c.node(1).role).toBe('follower');
    expect(c.leaders()).toHaveLength(1);
    const leader = c.leaders()[0]!;
    expect([2, 3]).toContain(leader);
    c.propose(leader, 'after');
    c.stabilize();
    expect(c.applied(2)).toEqual(['after']);
    c.tickAll(50);
    expect(c.node(1).role).toBe('follower');
  });

  it('returns to the previous configuration when an uncommitted config entry is truncated', () => {
    const c = new ManualCluster({ voters: [1, 2, 3], spares: [4] });
    c.elect(1);
    c.stabilize();
    c.isolate(1);
    c.act(1, (n) => n.proposeMembershipChange({ type: 'add-voter', nodeId: 4 }));
    expect(c.node(1).status().voters).toEqual([1, 2, 3, 4]);
    c.tickAll(30);
    const leader = c.leaders().find((id) => id !== 1)!;
    c.propose(leader, 'b');
    c.stabilize();
    c.heal();
    c.tickAll(10);
    expect(c.node(1).status().voters).toEqual([1, 2, 3]);
    expect(c.applied(1)).toEqual(['b']);
  });
});

describe('raft > leadership transfer', () => {
  it('hands leadership to an up-to-date follower with TimeoutNow', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.tickAll(2);
    const term = c.node(1).term;
    c.act(1, (n) => n.transferLeadership(3));
    c.stabilize();
    expect(c.leaders()).toEqual([3]);
    expect(c.node(3).term).toBe(term + 1);
  });

  it('catches a lagging target up before telling it to campaign', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(3);
    c.propose(1, 'a');
    c.stabilize();
    c.heal();
    c.act(1, (n) => n.transferLeadership(3));
    expect(c.queue.some((m) => m.type === 'timeout-now')).toBe(false);
    c.stabilize();
    expect(c.leaders()).toEqual([3]);
    expect(c.applied(3)).toEqual(['a']);
  });

  it('refuses proposals during a transfer and gives up after an election timeout', () => {
    const c = new ManualCluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(3);
    c.act(1, (n) => n.transferLeadership(3));
    expectError(() => c.node(1).propose(text('x')), ErrorCode.NOT_CONTROLLER);
    c.tick(1, 11);
    expect(c.node(1).status().leadTransferee).toBe(0);
    expect(c.node(1).role).toBe('leader');
    c.propose(1, 'x');
  });
});

describe('raft > ready contract and bad input', () => {
  it('hands out one Ready at a time', () => {
    const n = node({ id: 1 });
    n.ready();
    expect(() => n.ready()).toThrow(RaftAssertionError);
    n.advance();
    expect(() => n.advance()).toThrow(RaftAssertionError);
  });

  it('persists a brand-new node’s bootstrap configuration in its first Ready', () => {
    const n = node({ id: 1 });
    const [first] = drain(n);
    expect(first?.snapshot?.meta).toEqual({ index: 0, term: 0, voters: [1, 2, 3] });
  });

  it('re-sends a truncated tail so storage overwrites exactly the replaced entries', () => {
    const follower = node({ id: 2 });
    const storage = new MemoryRaftStorage();
    drain(follower, storage);
    const e = (index: number, term: number): Entry => ({ kind: 'normal', index, term, data: text(`${index}/${term}`) });
    follower.step({ type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, entries: [e(1, 1), e(2, 1), e(3, 1)], commit: 1 });
    drain(follower, storage);
    follower.step({ type: 'append', from: 3, to: 2, term: 2, prevIndex: 1, prevTerm: 1, entries: [e(2, 2)], commit: 1 });
    const [ready] = drain(follower, storage);
    expect(ready?.entries.map((x) => [x.index, x.term])).toEqual([[2, 2]]);
    expect(storage.entries.map((x) => [x.index, x.term])).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it('refuses to start from a log with a gap, with KAFKA_STORAGE_ERROR', () => {
    const snapshot = { meta: { index: 0, term: 0, voters: [1, 2, 3] }, data: new Uint8Array() };
    const entries: Entry[] = [
      { kind: 'normal', index: 1, term: 1, data: text('a') },
      { kind: 'normal', index: 3, term: 1, data: text('c') },
    ];
    const error = expectError(() => node({ id: 1, restored: { hardState: { term: 1, vote: 0, commit: 0 }, snapshot, entries } }), ErrorCode.KAFKA_STORAGE_ERROR);
    expect(error.message).toContain('gap');
    expectError(
      () => node({ id: 1, restored: { hardState: { term: 1, vote: 0, commit: 5 }, snapshot, entries: entries.slice(0, 1) } }),
      ErrorCode.KAFKA_STORAGE_ERROR,
    );
  });

  it('rejects a malformed or misaddressed message with INVALID_REQUEST and changes nothing', () => {
    const n = node({ id: 1 });
    drain(n);
    const bad = [
      { type: 'heartbeat', from: 2, to: 9, term: 5, commit: 0, readSeq: 0 },
      { type: 'nonsense', from: 2, to: 1, term: 5 },
      { type: 'heartbeat', from: -1, to: 1, term: 5, commit: 0, readSeq: 0 },
      { type: 'heartbeat', from: 2, to: 1, term: 1.5, commit: 0, readSeq: 0 },
    ] as unknown as Message[];
    for (const m of bad) expectError(() => n.step(m), ErrorCode.INVALID_REQUEST);
    expect(n.term).toBe(0);
    expect(n.hasReady()).toBe(false);
  });

  it('rejects bad options with INVALID_CONFIG', () => {
    expectError(() => node({ id: 0 }), ErrorCode.INVALID_CONFIG);
    expectError(() => node({ id: 1, electionTicks: 1, heartbeatTicks: 1 }), ErrorCode.INVALID_CONFIG);
    expectError(() => node({ id: 1, initialVoters: [1, 1] }), ErrorCode.INVALID_CONFIG);
    expectError(() => node({ id: 1, maxInflightAppends: 0 }), ErrorCode.INVALID_CONFIG);
  });

  it('refuses a proposal larger than maxBytesPerAppend with MESSAGE_TOO_LARGE', () => {
    const n = new RaftNode({ id: 1, electionTicks: 10, heartbeatTicks: 1, randomInt: () => 0, initialVoters: [1], maxBytesPerAppend: 4 });
    n.campaign();
    drain(n);
    expectError(() => n.propose(new Uint8Array(5)), ErrorCode.MESSAGE_TOO_LARGE);
  });
});
