import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import type { Message } from '../index.js';
import { HostCluster, RecordingLogger, waitFor } from './testing/host-cluster.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
let cluster: HostCluster | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  await cluster?.close();
  cluster = undefined;
});

async function rejection(promise: Promise<unknown>): Promise<StreamBusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StreamBusError);
  return error as StreamBusError;
}

describe('raft host > crashes and restarts', () => {
  it('elects a new leader when the leader goes down; the old one restarts from its storage and catches up', async () => {
    cluster = await HostCluster.start([1, 2, 3]);
    const c = cluster;
    const first = await c.leader();
    for (let i = 0; i < 20; i++) await c.host(first).propose(text(`before-${i}`));
    await c.stopNode(first);

    const rest = c.running;
    const second = await c.leader(rest);
    expect(second).not.toBe(first);
    for (let i = 0; i < 20; i++) await c.host(second).propose(text(`after-${i}`));

    const restarted = await c.startNode(first);
    // The state machine is rebuilt from the stored snapshot plus the committed entries after it.
    await waitFor(() => c.items(first).length === 40, 'the restarted node to apply all 40 entries');
    expect(c.items(first)).toEqual(c.items(second));
    expect(restarted.host.status().term).toBe(c.host(second).status().term);
    expect(await c.leader()).toBe(second);
  });

  it('sends a snapshot to a node that fell behind the compaction point, and the node restores it', async () => {
    cluster = await HostCluster.start([1, 2, 3], { host: { snapshotEntries: 20 } });
    const c = cluster;
    const leaderId = await c.leader();
    const lagging = c.running.find((id) => id !== leaderId)!;
    c.network.isolate(lagging);
    for (let i = 0; i < 70; i++) await c.host(leaderId).propose(text(`s${i}`));
    expect(c.host(leaderId).status().snapshotIndex).toBeGreaterThanOrEqual(60);
    const restoresBefore = c.member(lagging).stateMachine.restores;
    const snapshotsSent: Message[] = [];
    // heal() clears any drop predicate, so the recorder goes on after it.
    c.network.heal();
    c.network.dropWhere((m) => {
      if (m.type === 'snapshot') snapshotsSent.push(m);
      return false;
    });

    await waitFor(() => c.items(lagging).length === 70, 'the lagging node to catch up');
    expect(c.items(lagging)).toEqual(c.items(leaderId));
    expect(snapshotsSent.some((m) => m.to === lagging)).toBe(true);
    expect(c.member(lagging).stateMachine.restores).toBeGreaterThan(restoresBefore);
    expect(c.host(lagging).status().snapshotIndex).toBeGreaterThanOrEqual(60);
  });

  it('lets an isolated follower rejoin without raising the term (PreVote)', async () => {
    cluster = await HostCluster.start([1, 2, 3]);
    const c = cluster;
    const leaderId = await c.leader();
    const follower = c.running.find((id) => id !== leaderId)!;
    const term = c.host(leaderId).status().term;
    c.network.isolate(follower);
    // Long enough for several election timeouts (20 ms ticks × 10–20): the follower campaigns.
    await waitFor(() => c.host(follower).status().role !== 'follower', 'the isolated follower to campaign');
    await sleep(600);
    expect(c.host(follower).status().term).toBe(term);
    c.network.heal();
    await waitFor(() => c.host(follower).leaderId === leaderId, 'the follower to hear its leader again');
    await c.host(leaderId).propose(text('after the heal'));
    await sleep(300);
    for (const id of c.running) {
      expect(c.host(id).status().term).toBe(term);
      expect(c.host(id).leaderId).toBe(leaderId);
    }
  });

  it('times out a proposal whose leader was cut off, saying the outcome is unknown', async () => {
    cluster = await HostCluster.start([1, 2, 3], { host: { proposalTimeoutMs: 300 } });
    const c = cluster;
    const leaderId = await c.leader();
    c.network.isolate(leaderId);
    const error = await rejection(c.host(leaderId).propose(text('stranded')));
    expect(error.code).toBe(ErrorCode.REQUEST_TIMED_OUT);
    expect(error.message).toContain('unknown');
    // CheckQuorum made it step down: it no longer claims to lead.
    expect(c.host(leaderId).status().role).not.toBe('leader');
  });

  it('rejects with NOT_CONTROLLER a proposal that a newer leader overwrote', async () => {
    cluster = await HostCluster.start([1, 2, 3]);
    const c = cluster;
    const oldLeader = await c.leader();
    c.network.isolate(oldLeader);
    const outcome = rejection(c.host(oldLeader).propose(text('lost')));
    const rest = c.running.filter((id) => id !== oldLeader);
    const newLeader = await c.leader(rest);
    for (let i = 0; i < 3; i++) await c.host(newLeader).propose(text(`kept-${i}`));
    c.network.heal();
    const error = await outcome;
    expect(error.code).toBe(ErrorCode.NOT_CONTROLLER);
    expect(error.message).toContain('overwritten');
    await waitFor(() => c.items(oldLeader).length === 3, 'the old leader to apply the new leader entries');
    expect(c.items(oldLeader)).toEqual(['kept-0', 'kept-1', 'kept-2']);
  });
});

describe('raft host > bad days', () => {
  it('stops for good when its storage fails: onFatal once, pending calls rejected, nothing more sent', async () => {
    cluster = await HostCluster.start([1, 2, 3]);
    const c = cluster;
    const leaderId = await c.leader();
    await c.host(leaderId).propose(text('durable'));
    const failing = c.member(leaderId);
    // A full disk cannot be produced safely on a shared machine: LevelDB's native batch write for
    // this node's directory fails the way it would (ENOSPC). Everything else is the real store.
    // (A batch is written by its `_write`, which calls LevelDB's native write.)
    const proto = ClassicLevel.prototype as unknown as { _chainedBatch: (this: { location: string }) => { _write: (...args: unknown[]) => Promise<void> } };
    const original = proto._chainedBatch;
    vi.spyOn(proto, '_chainedBatch').mockImplementation(function (this: { location: string }) {
      const batch = original.call(this);
      if (this.location === failing.dir) batch._write = () => Promise.reject(new Error('IO error: ENOSPC: no space left on device'));
      return batch;
    });

    const pending = Array.from({ length: 5 }, (_, i) => rejection(failing.host.propose(text(`doomed-${i}`))));
    const sentAtFailure = await (async () => {
      await waitFor(() => failing.fatal.length > 0, 'onFatal');
      return c.network.sentBy(leaderId);
    })();
    for (const error of await Promise.all(pending)) expect(error.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(failing.fatal).toHaveLength(1);
    expect((failing.fatal[0] as StreamBusError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(failing.host.status().failed).toBe(true);
    expect((await rejection(failing.host.propose(text('later')))).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect((await rejection(failing.host.readBarrier())).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);

    // The others elect a new leader; the failed node sends nothing more, not even heartbeats.
    const rest = c.running.filter((id) => id !== leaderId);
    const next = await c.leader(rest);
    await c.host(next).propose(text('after the failure'));
    expect(c.network.sentBy(leaderId)).toBe(sentAtFailure);
    // The failed write's entries may have reached the followers (the leader sends its appends while
    // it writes), so their proposals got an error, not a verdict: like any write whose leader died,
    // each may or may not commit later. What must hold is that the survivors agree on it.
    await waitFor(() => c.items(rest[0]!).join() === c.items(rest[1]!).join(), 'the survivors to apply the same items');
    expect(c.items(rest[0]!)).toContain('after the failure');
    expect(failing.fatal).toHaveLength(1);
  });

  it('stops for good when the late write of a commit-index advance fails', async () => {
    cluster = await HostCluster.start([1, 2, 3]);
    const c = cluster;
    const leaderId = await c.leader();
    await c.host(leaderId).propose(text('before'));
    const failing = c.member(leaderId);
    // Only this node's unsynced writes (commit-index advances) fail; its synced ones succeed.
    type NativeBatch = { _write: (options: { sync?: boolean }) => Promise<void> };
    const proto = ClassicLevel.prototype as unknown as { _chainedBatch: (this: { location: string }) => NativeBatch };
    const original = proto._chainedBatch;
    vi.spyOn(proto, '_chainedBatch').mockImplementation(function (this: { location: string }) {
      const batch = original.call(this);
      const write = batch._write.bind(batch);
      if (this.location === failing.dir) batch._write = (options) => (options.sync === false ? Promise.reject(new Error('IO error: EIO')) : write(options));
      return batch;
    });

    // The entry is durable on a quorum before its commit advance is written, so it commits and
    // is answered; the advance is written on its own a tick later, and that write fails.
    await failing.host.propose(text('committed'));
    await waitFor(() => failing.fatal.length > 0, 'onFatal after the failed commit-index write');
    expect(failing.fatal).toHaveLength(1);
    expect((failing.fatal[0] as StreamBusError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(failing.host.status().failed).toBe(true);
    expect((await rejection(failing.host.propose(text('later')))).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const rest = c.running.filter((id) => id !== leaderId);
    await waitFor(() => rest.every((id) => c.items(id).includes('committed')), 'the others to apply the committed entry');
  });

  it('drops and logs messages from a node that is neither a voter nor a peer, once per 10 s per node', async () => {
    const logger = new RecordingLogger();
    cluster = await HostCluster.start([1, 2, 3], { host: { logger } });
    const c = cluster;
    const leaderId = await c.leader();
    const follower = c.running.find((id) => id !== leaderId)!;
    const term = c.host(follower).status().term;
    for (let i = 0; i < 3; i++) {
      // A disruptive vote request for a much later term, which would unseat the leader if stepped.
      c.network.inject({ type: 'vote', from: 9, to: follower, term: term + 50, lastIndex: 1000, lastTerm: term + 49, transfer: true });
    }
    c.network.inject({ type: 'heartbeat', from: 8, to: follower, term: term + 50, commit: 0, readSeq: 0 });
    await sleep(100);
    const dropped = logger.warnings.filter((w) => w.message.includes('neither a voter nor a known peer'));
    expect(dropped.map((w) => (w.fields as { from: number }).from)).toEqual([9, 8]);
    expect(c.host(follower).status().term).toBe(term);
    expect(c.host(follower).leaderId).toBe(leaderId);
  });
});
