import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { LevelRaftStorage } from '../storage/level-raft-storage.js';
import type { RaftWrite } from '../storage/raft-storage.js';
import { RaftHost } from './raft-host.js';
import { HostCluster, ListStateMachine, waitFor } from './testing/host-cluster.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
let cluster: HostCluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function threeNodes(host: Parameters<typeof HostCluster.start>[1] = {}): Promise<HostCluster> {
  cluster = await HostCluster.start([1, 2, 3], host);
  return cluster;
}

async function rejection(promise: Promise<unknown>): Promise<StreamBusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StreamBusError);
  return error as StreamBusError;
}

describe('raft host > replication', () => {
  it('elects one leader that every node knows', async () => {
    const c = await threeNodes();
    const leader = await c.leader();
    for (const id of c.running) expect(c.host(id).leaderId).toBe(leader);
    expect(c.host(leader).status().term).toBeGreaterThan(0);
  });

  it('commits proposals and applies them on every node in proposal order', async () => {
    const c = await threeNodes();
    const leader = c.host(await c.leader());
    const positions = await Promise.all(Array.from({ length: 30 }, (_, i) => leader.propose(text(`w${i}`))));
    const indexes = positions.map((p) => p.index);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(new Set(positions.map((p) => p.term)).size).toBe(1);
    const expected = Array.from({ length: 30 }, (_, i) => `w${i}`);
    // Resolved means applied on the leader; followers apply once they learn the commit index.
    expect(c.items(leader.nodeId)).toEqual(expected);
    await waitFor(() => c.running.every((id) => c.items(id).length === 30), 'every node to apply 30 entries');
    for (const id of c.running) expect(c.items(id)).toEqual(expected);
  });

  it('batches many concurrent proposals into far fewer synced writes', async () => {
    const c = await threeNodes();
    const leaderId = await c.leader();
    const leader = c.host(leaderId);
    await leader.propose(text('warm-up'));
    const before = c.member(leaderId).storage.persists;
    const count = 500;
    await Promise.all(Array.from({ length: count }, (_, i) => leader.propose(text(`b${i}`))));
    const writes = c.member(leaderId).storage.persists - before;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(count / 20);
    expect(c.items(leaderId)).toHaveLength(count + 1);
  });

  it('writes no Ready of its own for a commit-index advance: the next synced write carries it', async () => {
    const c = await threeNodes();
    const leaderId = await c.leader();
    const leader = c.host(leaderId);
    await leader.propose(text('warm-up'));
    const storage = c.member(leaderId).storage;
    const [persists, synced] = [storage.persists, storage.syncedPersists];
    const count = 20;
    // Each proposal's write carries, in the same synced batch, the commit index the previous
    // one reached. A commit that nothing carries is written late, on its own, after a tick of quiet.
    for (let i = 0; i < count; i++) await leader.propose(text(`s${i}`));
    const syncedWrites = storage.syncedPersists - synced;
    const unsyncedWrites = storage.persists - persists - syncedWrites;
    expect(syncedWrites).toBeGreaterThanOrEqual(count);
    expect(syncedWrites).toBeLessThanOrEqual(count + 2);
    expect(unsyncedWrites).toBeLessThan(count / 2);
    const carried = storage.writes.slice(-count).filter((w) => w.entries.length > 0 && w.hardState !== undefined);
    expect(carried.length).toBeGreaterThanOrEqual(count - 2);
    for (const write of carried) expect(write.hardState!.commit).toBe(write.entries[0]!.index - 1);
    for (const id of c.running) {
      const writes = c.member(id).storage.writes;
      writes.forEach((write, i) => {
        if (write.sync !== false) return;
        // Unsynced writes carry nothing but a commit index, with the term and vote already on disk.
        expect(write.entries).toEqual([]);
        expect(write.snapshot).toBeUndefined();
        const previous = writes.slice(0, i).reverse().find((w) => w.hardState !== undefined)?.hardState;
        expect(write.hardState).toMatchObject({ term: previous?.term, vote: previous?.vote });
        expect(write.hardState!.commit).toBeGreaterThan(previous!.commit);
      });
    }
  });

  it('writes a commit advance that no other write carries within a tick, without fsync, and one still unwritten on close', async () => {
    const c = await threeNodes();
    const leaderId = await c.leader();
    const { index } = await c.host(leaderId).propose(text('quiet after this'));
    const storage = c.member(leaderId).storage;
    const lastCommit = (writes: readonly RaftWrite[]): number => writes.reduce((commit, w) => Math.max(commit, w.hardState?.commit ?? 0), 0);
    await waitFor(() => lastCommit(storage.writes) >= index, 'the leader to write its commit index late');
    const late = storage.writes.findLast((w) => w.hardState !== undefined)!;
    expect(late).toMatchObject({ sync: false, entries: [], snapshot: undefined });

    const follower = c.running.find((id) => id !== leaderId)!;
    const followerStorage = c.member(follower).storage;
    const { index: next } = await c.host(leaderId).propose(text('then closed'));
    await waitFor(() => c.items(follower).includes('then closed'), 'the follower to apply the last entry');
    await c.stopNode(follower);
    expect(lastCommit(followerStorage.writes)).toBeGreaterThanOrEqual(next);
  });

  it('restarts from a log whose last commit advances were written without fsync', async () => {
    const c = await threeNodes();
    const leaderId = await c.leader();
    for (let i = 0; i < 5; i++) await c.host(leaderId).propose(text(`k${i}`));
    const follower = c.running.find((id) => id !== leaderId)!;
    await waitFor(() => c.items(follower).length === 5, 'the follower to apply five entries');
    await c.stopNode(follower);
    await c.startNode(follower);
    await waitFor(() => c.items(follower).length === 5, 'the restarted follower to apply the five entries again');
    expect(c.items(follower)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
  });

  it('proposeNow throws a refusal synchronously and returns where an accepted entry landed', async () => {
    const c = await threeNodes();
    const leaderId = await c.leader();
    const follower = c.host(c.running.find((id) => id !== leaderId)!);
    expect(() => follower.proposeNow(text('refused'))).toThrow(expect.objectContaining({ code: ErrorCode.NOT_CONTROLLER, context: { leaderId } }));
    const leader = c.host(leaderId);
    const appended = leader.proposeNow(text('accepted'));
    expect(appended.position.index).toBe(leader.status().lastIndex);
    await expect(appended.applied).resolves.toEqual(appended.position);
    const change = leader.changeMembershipNow({ type: 'remove-voter', nodeId: follower.nodeId });
    await expect(change.applied).resolves.toEqual(change.position);
    expect(leader.status().voters).not.toContain(follower.nodeId);
  });

  it('campaign() makes a one-voter group lead without waiting for an election timeout', async () => {
    cluster = await HostCluster.start([1], { host: { electionTicks: 1000 } });
    const host = cluster.host(1);
    expect(host.status().role).toBe('follower');
    host.campaign();
    await cluster.leader([1], 2000);
    await expect(host.propose(text('alone'))).resolves.toMatchObject({ term: host.status().term });
  });

  it('rejects a proposal on a follower at once with NOT_CONTROLLER naming the leader', async () => {
    const c = await threeNodes();
    const leaderId = await c.leader();
    const follower = c.running.find((id) => id !== leaderId)!;
    const error = await rejection(c.host(follower).propose(text('nope')));
    expect(error.code).toBe(ErrorCode.NOT_CONTROLLER);
    expect(error.retriable).toBe(true);
    expect(error.context.leaderId).toBe(leaderId);
  });

  it('rejects proposals beyond maxPendingProposals with THROTTLING_QUOTA_EXCEEDED', async () => {
    const c = await threeNodes({ host: { maxPendingProposals: 5 } });
    const leader = c.host(await c.leader());
    const accepted = Array.from({ length: 5 }, (_, i) => leader.propose(text(`p${i}`)));
    const error = await rejection(leader.propose(text('one too many')));
    expect(error.code).toBe(ErrorCode.THROTTLING_QUOTA_EXCEEDED);
    await Promise.all(accepted);
    await expect(leader.propose(text('room again'))).resolves.toMatchObject({ term: expect.any(Number) as number });
  });

  it('serves a linearizable read on a follower that sees a write completed before it', async () => {
    const c = await threeNodes();
    const leaderId = await c.leader();
    const follower = c.host(c.running.find((id) => id !== leaderId)!);
    for (let round = 0; round < 5; round++) {
      const written = await c.host(leaderId).propose(text(`r${round}`));
      const readIndex = await follower.readBarrier();
      expect(readIndex).toBeGreaterThanOrEqual(written.index);
      expect(c.items(follower.nodeId)).toContain(`r${round}`);
    }
  });

  it('hands leadership to another voter and tells leader-change listeners', async () => {
    const c = await threeNodes();
    const oldLeader = await c.leader();
    const target = c.running.find((id) => id !== oldLeader)!;
    const seen: [number, number][] = [];
    c.host(oldLeader).onLeaderChange((leaderId, term) => seen.push([leaderId, term]));
    const termBefore = c.host(oldLeader).status().term;
    await c.host(oldLeader).transferLeadership(target);
    expect(c.host(oldLeader).leaderId).toBe(target);
    expect(await c.leader()).toBe(target);
    expect(seen.at(-1)).toEqual([target, termBefore + 1]);
    await expect(c.host(target).propose(text('after transfer'))).resolves.toMatchObject({ term: termBefore + 1 });
  });

  it('adds a fourth voter that starts empty, catches it up, then removes it', async () => {
    cluster = await HostCluster.start([1, 2, 3], { ids: [1, 2, 3, 4] });
    const c = cluster;
    const leader = c.host(await c.leader());
    for (let i = 0; i < 10; i++) await leader.propose(text(`m${i}`));
    await c.startNode(4, { initialVoters: [] });
    expect(c.host(4).status().voters).toEqual([]);

    await leader.changeMembership({ type: 'add-voter', nodeId: 4 });
    expect(leader.status().voters).toEqual([1, 2, 3, 4]);
    await leader.propose(text('with four'));
    await waitFor(() => c.items(4).length === 11, 'node 4 to apply everything');
    expect(c.items(4)).toEqual(c.items(leader.nodeId));
    expect(c.host(4).status().voters).toEqual([1, 2, 3, 4]);
    const members = leader.status().members;
    expect(members.map((m) => m.id)).toEqual([1, 2, 3, 4]);
    await waitFor(() => leader.status().members.every((m) => m.lag === 0), 'every member to catch up (lag 0)');

    await leader.changeMembership({ type: 'remove-voter', nodeId: 4 });
    expect(leader.status().voters).toEqual([1, 2, 3]);
    await expect(leader.propose(text('back to three'))).resolves.toBeDefined();
  });

  it('refuses to start a node with empty storage and no initialVoters', async () => {
    cluster = await threeNodes();
    const storage = await LevelRaftStorage.open({ dir: `${cluster.root}/lonely`, nodeId: 9, clusterId: 'test-cluster' });
    const transport = cluster.network.connect(9);
    const error = await rejection(RaftHost.start({ nodeId: 9, storage, transport, stateMachine: new ListStateMachine() }));
    expect(error.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(error.message).toContain('initialVoters');
    await storage.close();
    await transport.close();
  });

  it('close() is idempotent and rejects pending and later calls with SHUTTING_DOWN', async () => {
    const c = await threeNodes();
    const leaderId = await c.leader();
    const leader = c.host(leaderId);
    c.network.isolate(leaderId);
    const pending = rejection(leader.propose(text('never acknowledged')));
    const closing = leader.close();
    expect(leader.close()).toBe(closing);
    await closing;
    expect((await pending).code).toBe(ErrorCode.SHUTTING_DOWN);
    expect((await rejection(leader.propose(text('after close')))).code).toBe(ErrorCode.SHUTTING_DOWN);
    expect((await rejection(leader.readBarrier())).code).toBe(ErrorCode.SHUTTING_DOWN);
    await leader.close();
  });

  it('honours an AbortSignal on a pending proposal', async () => {
    const c = await threeNodes();
    const leaderId = await c.leader();
    c.network.isolate(leaderId);
    const controller = new AbortController();
    const pending = rejection(c.host(leaderId).propose(text('abandoned'), { signal: controller.signal }));
    controller.abort(new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, 'caller gave up'));
    expect((await pending).message).toBe('caller gave up');
  });
});
