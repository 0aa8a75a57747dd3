import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { encodeSubscription } from './consumer-protocol.js';
import { Group, type GroupAction, type GroupContext } from './group.js';
import type { StoredGroup } from './group-commands.js';
import { type GroupProtocol, type GroupSettings, GroupState, type JoinGroupRequest, type JoinGroupResponse, type SyncGroupResponse } from './group-types.js';

const settings: GroupSettings = { minSessionTimeoutMs: 1_000, maxSessionTimeoutMs: 60_000, initialRebalanceDelayMs: 0, maxSize: 5 };
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const range = (topics = ['orders']): GroupProtocol => ({ name: 'range', metadata: encodeSubscription(topics) });
const roundrobin = (topics = ['orders']): GroupProtocol => ({ name: 'roundrobin', metadata: encodeSubscription(topics) });

/**
 * Drives one Group by hand: a clock, member ids c-1, c-2..., and the answers and stores its actions
 * produce, kept by waiter number.
 */
class Harness {
  nowMs = 0;
  wallMs = 1_700_000_000_000;
  #ids = 0;
  #waiters = 0;
  readonly joins = new Map<number, JoinGroupResponse>();
  readonly syncs = new Map<number, SyncGroupResponse>();
  readonly stores: Extract<GroupAction, { type: 'store' }>[] = [];
  readonly logs: string[] = [];
  group: Group;

  constructor(s: GroupSettings = settings, group?: Group) {
    this.group = group ?? new Group('g', s, this.wallMs);
  }

  ctx(): GroupContext {
    return { nowMs: this.nowMs, wallMs: this.wallMs, newMemberId: (clientId) => `${clientId}-${++this.#ids}` };
  }

  apply(actions: readonly GroupAction[]): void {
    for (const action of actions) {
      if (action.type === 'join-response') this.joins.set(action.waiter, action.response);
      else if (action.type === 'sync-response') this.syncs.set(action.waiter, action.response);
      else if (action.type === 'store') this.stores.push(action);
      else this.logs.push(action.message);
    }
  }

  join(request: Partial<JoinGroupRequest> = {}): number {
    const waiter = ++this.#waiters;
    const full: JoinGroupRequest = {
      groupId: 'g',
      memberId: '',
      groupInstanceId: null,
      clientId: 'c',
      clientHost: '/127.0.0.1',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 5_000,
      protocolType: 'consumer',
      protocols: [range()],
      requireKnownMemberId: false,
      ...request,
    };
    this.apply(this.group.join(full, waiter, this.ctx()));
    return waiter;
  }

  sync(memberId: string, generation: number, assignments: Record<string, string> = {}, extra: { groupInstanceId?: string | null; protocolName?: string | null } = {}): number {
    const waiter = ++this.#waiters;
    const list = Object.entries(assignments).map(([id, a]) => ({ memberId: id, assignment: bytes(a) }));
    this.apply(
      this.group.sync(
        { groupId: 'g', generation, memberId, groupInstanceId: extra.groupInstanceId ?? null, protocolType: null, protocolName: extra.protocolName ?? null, assignments: list },
        waiter,
        this.ctx(),
      ),
    );
    return waiter;
  }

  heartbeat(memberId: string, generation: number, groupInstanceId: string | null = null): ErrorCode {
    return this.group.heartbeat({ groupId: 'g', generation, memberId, groupInstanceId }, this.ctx());
  }

  advance(ms: number): void {
    this.nowMs += ms;
    this.wallMs += ms;
    this.apply(this.group.tick(this.ctx()));
  }

  /** Completes every store asked for so far (the log accepted them), in order. */
  commitStores(error?: ErrorCode): StoredGroup[] {
    const done = this.stores.splice(0);
    for (const store of done) this.apply(this.group.stored(store.token, error, this.ctx()));
    return done.map((s) => s.group);
  }

  joined(waiter: number): JoinGroupResponse {
    const answer = this.joins.get(waiter);
    expect(answer, `join ${waiter} has no answer yet`).toBeDefined();
    return answer!;
  }

  synced(waiter: number): SyncGroupResponse {
    const answer = this.syncs.get(waiter);
    expect(answer, `sync ${waiter} has no answer yet`).toBeDefined();
    return answer!;
  }

  /** One member joins an empty group, syncs its own assignment and the group is Stable. */
  stableWithOne(request: Partial<JoinGroupRequest> = {}): string {
    const join = this.joined(this.join(request));
    this.sync(join.memberId, join.generation, { [join.memberId]: 'all' });
    this.commitStores();
    expect(this.group.state).toBe(GroupState.STABLE);
    return join.memberId;
  }
}

describe('group > join and sync', () => {
  it('takes a first member through Empty, PreparingRebalance and CompletingRebalance to Stable', () => {
    const h = new Harness();
    expect(h.group.state).toBe(GroupState.EMPTY);
    const join = h.joined(h.join());
    expect(join).toMatchObject({ error: ErrorCode.NONE, generation: 1, protocolType: 'consumer', protocolName: 'range', memberId: 'c-1', leader: 'c-1' });
    expect(join.members.map((m) => m.memberId)).toEqual(['c-1']);
    expect(h.group.state).toBe(GroupState.COMPLETING_REBALANCE);
    const sync = h.sync('c-1', 1, { 'c-1': 'p0,p1' });
    expect(h.syncs.has(sync)).toBe(false);
    const [stored] = h.commitStores();
    expect(stored).toMatchObject({ groupId: 'g', generation: 1, protocolType: 'consumer', protocolName: 'range', leader: 'c-1', members: [{ memberId: 'c-1', clientId: 'c', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000 }] });
    expect(text(Buffer.from(stored!.members[0]!.assignment, 'base64'))).toBe('p0,p1');
    expect(text(h.synced(sync).assignment)).toBe('p0,p1');
    expect(h.group.state).toBe(GroupState.STABLE);
  });

  it('waits for every member at the join barrier, gives the members to the leader only, and the assignment to each', () => {
    const h = new Harness();
    const first = h.stableWithOne();
    const second = h.join({ clientId: 'd' });
    expect(h.group.state).toBe(GroupState.PREPARING_REBALANCE);
    expect(h.joins.has(second)).toBe(false);
    expect(h.heartbeat(first, 1)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoin = h.join({ memberId: first });
    const leader = h.joined(rejoin);
    const follower = h.joined(second);
    expect(leader).toMatchObject({ generation: 2, leader: first, memberId: first });
    expect(leader.members.map((m) => m.memberId)).toEqual([first, 'd-2']);
    expect(follower).toMatchObject({ generation: 2, leader: first, memberId: 'd-2', members: [] });
    const followerSync = h.sync('d-2', 2);
    const leaderSync = h.sync(first, 2, { [first]: 'p0', 'd-2': 'p1' });
    expect(h.syncs.size).toBe(1);
    h.commitStores();
    expect(text(h.synced(leaderSync).assignment)).toBe('p0');
    expect(text(h.synced(followerSync).assignment)).toBe('p1');
    expect(h.heartbeat('d-2', 2)).toBe(ErrorCode.NONE);
  });

  it('selects the protocol every member supports that most members prefer', () => {
    const h = new Harness();
    const a = h.stableWithOne({ protocols: [roundrobin(), range()] });
    expect(h.group.protocolName).toBe('roundrobin');
    const b = h.join({ protocols: [range(), roundrobin()] });
    const c = h.join({ protocols: [range()] });
    h.join({ memberId: a, protocols: [roundrobin(), range()] });
    expect(h.joined(b)).toMatchObject({ generation: 2, protocolName: 'range' });
    expect(h.joined(c).protocolName).toBe('range');
  });

  it('refuses a member with no protocol in common, another protocol type, or no protocols', () => {
    const h = new Harness();
    h.stableWithOne();
    expect(h.joined(h.join({ protocols: [roundrobin()] })).error).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(h.joined(h.join({ protocolType: 'connect' })).error).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(h.joined(h.join({ protocols: [] })).error).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(h.group.state).toBe(GroupState.STABLE);
  });

  it('refuses session timeouts outside the configured range and a rebalance timeout below 1', () => {
    const h = new Harness();
    expect(h.joined(h.join({ sessionTimeoutMs: 999 })).error).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect(h.joined(h.join({ sessionTimeoutMs: 60_001 })).error).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect(h.joined(h.join({ rebalanceTimeoutMs: 0 })).error).toBe(ErrorCode.INVALID_REQUEST);
    expect(h.group.idle).toBe(true);
  });

  it('asks a new dynamic member to join again with its id (KIP-394), and forgets it if it does not in time', () => {
    const h = new Harness();
    const first = h.joined(h.join({ requireKnownMemberId: true }));
    expect(first).toMatchObject({ error: ErrorCode.MEMBER_ID_REQUIRED, memberId: 'c-1', generation: -1 });
    expect(h.group.memberCount).toBe(0);
    const second = h.joined(h.join({ memberId: 'c-1', requireKnownMemberId: true }));
    expect(second).toMatchObject({ error: ErrorCode.NONE, memberId: 'c-1', generation: 1 });
    h.sync('c-1', 1, { 'c-1': 'a' });
    h.commitStores();
    // A pending member blocks the join barrier until it comes back or its grace ends.
    const pending = h.joined(h.join({ requireKnownMemberId: true, sessionTimeoutMs: 2_000 }));
    expect(pending.error).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(h.group.state).toBe(GroupState.STABLE);
    expect(h.joined(h.join({ memberId: 'nobody' })).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('answers a repeated join in CompletingRebalance with the same generation, and a follower\'s in Stable without a rebalance', () => {
    const h = new Harness();
    const a = h.stableWithOne();
    const b = h.join({ clientId: 'd' });
    h.join({ memberId: a });
    const bId = h.joined(b).memberId;
    expect(h.group.state).toBe(GroupState.COMPLETING_REBALANCE);
    const again = h.joined(h.join({ memberId: bId, clientId: 'd' }));
    expect(again).toMatchObject({ error: ErrorCode.NONE, generation: 2, memberId: bId, members: [] });
    expect(h.group.state).toBe(GroupState.COMPLETING_REBALANCE);
    h.sync(a, 2, { [a]: 'x', [bId]: 'y' });
    h.commitStores();
    const follower = h.joined(h.join({ memberId: bId, clientId: 'd' }));
    expect(follower).toMatchObject({ error: ErrorCode.NONE, generation: 2 });
    expect(h.group.state).toBe(GroupState.STABLE);
    // The leader rejoining always rebalances (it may want to assign again).
    h.join({ memberId: a });
    expect(h.group.state).toBe(GroupState.PREPARING_REBALANCE);
  });

  it('refuses syncs of unknown members, old generations, other protocols, and during the join barrier', () => {
    const h = new Harness();
    const a = h.stableWithOne();
    expect(h.synced(h.sync('nobody', 1)).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(h.synced(h.sync(a, 0)).error).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(h.synced(h.sync(a, 1, {}, { protocolName: 'roundrobin' })).error).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    h.join({ clientId: 'd' });
    expect(h.synced(h.sync(a, 1)).error).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('refuses an assignment that names a member twice', () => {
    const h = new Harness();
    const join = h.joined(h.join());
    const assignments = [{ memberId: 'c-1', assignment: bytes('a') }, { memberId: 'c-1', assignment: bytes('b') }];
    h.apply(h.group.sync({ groupId: 'g', generation: 1, memberId: join.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments }, 99, h.ctx()));
    expect(h.syncs.get(99)?.error).toBe(ErrorCode.INVALID_REQUEST);
    expect(h.stores).toHaveLength(0);
  });

  it('answers every waiting sync with the error and rebalances when the assignment cannot be stored', () => {
    const h = new Harness();
    const a = h.stableWithOne();
    const b = h.join({ clientId: 'd' });
    h.join({ memberId: a });
    const bId = h.joined(b).memberId;
    const followerSync = h.sync(bId, 2);
    const leaderSync = h.sync(a, 2, { [a]: 'x', [bId]: 'y' });
    h.commitStores(ErrorCode.NOT_COORDINATOR);
    expect(h.synced(followerSync).error).toBe(ErrorCode.NOT_COORDINATOR);
    expect(h.synced(leaderSync).error).toBe(ErrorCode.NOT_COORDINATOR);
    expect(h.group.state).toBe(GroupState.PREPARING_REBALANCE);
  });

  it('keeps a member owning its partitions across a rebalance: commits pass while the group prepares (cooperative)', () => {
    const h = new Harness();
    const a = h.stableWithOne();
    h.join({ clientId: 'd' });
    expect(h.group.state).toBe(GroupState.PREPARING_REBALANCE);
    expect(h.group.checkCommit({ generation: 1, memberId: a, groupInstanceId: null }, h.ctx())).toBe(ErrorCode.NONE);
    h.join({ memberId: a });
    expect(h.group.state).toBe(GroupState.COMPLETING_REBALANCE);
    expect(h.group.checkCommit({ generation: 2, memberId: a, groupInstanceId: null }, h.ctx())).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('refuses a member beyond group.max.size', () => {
    const h = new Harness({ ...settings, maxSize: 2 });
    h.join();
    h.join();
    expect(h.joined(h.join()).error).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
  });
});

describe('group > timeouts', () => {
  it('removes a member whose session expires and rebalances the others', () => {
    const h = new Harness();
    const a = h.stableWithOne({ sessionTimeoutMs: 3_000 });
    const b = h.join({ clientId: 'd', sessionTimeoutMs: 10_000 });
    h.join({ memberId: a, sessionTimeoutMs: 3_000 });
    const bId = h.joined(b).memberId;
    h.sync(bId, 2);
    h.sync(a, 2, { [a]: 'x', [bId]: 'y' });
    h.commitStores();
    h.advance(2_500);
    expect(h.heartbeat(bId, 2)).toBe(ErrorCode.NONE);
    h.advance(600);
    expect(h.group.memberIds()).toEqual([bId]);
    expect(h.group.state).toBe(GroupState.PREPARING_REBALANCE);
    expect(h.heartbeat(a, 2)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(h.logs.some((l) => l === 'member removed from the group')).toBe(true);
  });

  it('removes members that did not rejoin within the rebalance timeout and completes the join without them', () => {
    const h = new Harness();
    const a = h.stableWithOne({ rebalanceTimeoutMs: 4_000 });
    const b = h.join({ clientId: 'd', rebalanceTimeoutMs: 4_000 });
    expect(h.joins.has(b)).toBe(false);
    h.advance(3_999);
    expect(h.joins.has(b)).toBe(false);
    h.advance(1);
    const answer = h.joined(b);
    expect(answer).toMatchObject({ error: ErrorCode.NONE, generation: 2, leader: answer.memberId });
    expect(h.group.memberIds()).toEqual([answer.memberId]);
    expect(h.heartbeat(a, 1)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('removes a member that sends no SyncGroup within the rebalance timeout after the join', () => {
    const h = new Harness();
    const a = h.stableWithOne({ rebalanceTimeoutMs: 4_000 });
    const b = h.join({ clientId: 'd', rebalanceTimeoutMs: 4_000 });
    h.join({ memberId: a, rebalanceTimeoutMs: 4_000 });
    const bId = h.joined(b).memberId;
    h.sync(a, 2, { [a]: 'x', [bId]: 'y' });
    h.commitStores();
    expect(h.group.state).toBe(GroupState.STABLE);
    h.heartbeat(bId, 2);
    h.advance(4_000);
    expect(h.group.memberIds()).toEqual([a]);
    expect(h.group.state).toBe(GroupState.PREPARING_REBALANCE);
  });

  it('empties the group when its last member leaves or expires, bumps the generation and stores it empty', () => {
    const h = new Harness();
    const a = h.stableWithOne({ sessionTimeoutMs: 2_000 });
    h.advance(2_001);
    expect(h.group.state).toBe(GroupState.EMPTY);
    expect(h.group.generation).toBe(2);
    const [stored] = h.commitStores();
    expect(stored).toMatchObject({ generation: 2, protocolType: 'consumer', protocolName: null, leader: null, members: [], stateTimestampMs: h.wallMs });
    expect(h.heartbeat(a, 2)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('holds an empty group\'s first rebalance for the initial delay, extended while members keep arriving', () => {
    const h = new Harness({ ...settings, initialRebalanceDelayMs: 1_000 });
    const first = h.join({ rebalanceTimeoutMs: 10_000 });
    h.advance(900);
    const second = h.join({ rebalanceTimeoutMs: 10_000 });
    h.advance(100);
    expect(h.joins.size).toBe(0);
    h.advance(999);
    expect(h.joins.size).toBe(0);
    h.advance(1);
    expect(h.joined(first).generation).toBe(1);
    expect(h.joined(second).generation).toBe(1);
  });
});

describe('group > leave', () => {
  it('removes members by id and static members by instance id, in one batch, each with its own result', () => {
    const h = new Harness();
    const a = h.stableWithOne({ groupInstanceId: 'i-a' });
    const b = h.join({ clientId: 'd' });
    h.join({ memberId: a, groupInstanceId: 'i-a' });
    const bId = h.joined(b).memberId;
    const { response, actions } = h.group.leave(
      [
        { memberId: '', groupInstanceId: 'i-a' },
        { memberId: bId, groupInstanceId: null },
        { memberId: 'nobody', groupInstanceId: null },
        { memberId: '', groupInstanceId: 'i-unknown' },
      ],
      h.ctx(),
    );
    h.apply(actions);
    expect(response.members.map((m) => m.error)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID]);
    expect(h.group.state).toBe(GroupState.EMPTY);
  });

  it('fences a leave that names a static member with another member id', () => {
    const h = new Harness();
    h.stableWithOne({ groupInstanceId: 'i-a' });
    const { response } = h.group.leave([{ memberId: 'old-id', groupInstanceId: 'i-a' }], h.ctx());
    expect(response.members[0]!.error).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(h.group.memberCount).toBe(1);
  });

  it('answers a leaving member\'s own waiting join with UNKNOWN_MEMBER_ID and completes the barrier for the rest', () => {
    const h = new Harness();
    const a = h.stableWithOne();
    const b = h.join({ clientId: 'd' });
    const rejoin = h.join({ memberId: a });
    const bId = h.joined(b).memberId;
    h.sync(a, 2, { [a]: 'x', [bId]: 'y' });
    h.commitStores();
    const again = h.join({ memberId: bId, protocols: [range(['orders', 'payments'])] });
    expect(h.joins.has(again)).toBe(false);
    h.apply(h.group.leave([{ memberId: a, groupInstanceId: null }], h.ctx()).actions);
    expect(h.joined(again)).toMatchObject({ error: ErrorCode.NONE, generation: 3, leader: bId });
    void rejoin;
  });
});

describe('group > static membership', () => {
  it('lets a restarted static member take over its instance id without a rebalance, and fences the old id', () => {
    const h = new Harness();
    const leader = h.stableWithOne({ groupInstanceId: 'i-a' });
    const b = h.join({ groupInstanceId: 'i-b', clientId: 'd' });
    h.join({ memberId: leader, groupInstanceId: 'i-a' });
    const old = h.joined(b).memberId;
    h.sync(leader, 2, { [leader]: 'p0', [old]: 'p1' }, { groupInstanceId: 'i-a' });
    h.commitStores();
    // i-b restarts: it joins with no member id and the same subscription.
    const restart = h.join({ groupInstanceId: 'i-b', clientId: 'd' });
    expect(h.group.state).toBe(GroupState.STABLE);
    expect(h.joins.has(restart)).toBe(false);
    const [stored] = h.commitStores();
    expect(stored!.members.find((m) => m.groupInstanceId === 'i-b')?.memberId).not.toBe(old);
    const answer = h.joined(restart);
    expect(answer).toMatchObject({ error: ErrorCode.NONE, generation: 2, leader, skipAssignment: false, members: [] });
    expect(text(h.synced(h.sync(answer.memberId, 2, {}, { groupInstanceId: 'i-b' })).assignment)).toBe('p1');
    expect(h.group.generation).toBe(2);
    expect(h.heartbeat(old, 2, 'i-b')).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(h.group.checkCommit({ generation: 2, memberId: old, groupInstanceId: 'i-b' }, h.ctx())).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(h.joined(h.join({ memberId: old, groupInstanceId: 'i-b' })).error).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(h.heartbeat(answer.memberId, 2, 'i-b')).toBe(ErrorCode.NONE);
  });

  it('gives a static leader that takes over without a rebalance the members, with skipAssignment', () => {
    const h = new Harness();
    h.stableWithOne({ groupInstanceId: 'i-a' });
    const restart = h.join({ groupInstanceId: 'i-a' });
    h.commitStores();
    const answer = h.joined(restart);
    expect(answer).toMatchObject({ error: ErrorCode.NONE, generation: 1, skipAssignment: true, leader: answer.memberId });
    expect(answer.members.map((m) => m.memberId)).toEqual([answer.memberId]);
  });

  it('rebalances when a static member comes back with a changed subscription', () => {
    const h = new Harness();
    h.stableWithOne({ groupInstanceId: 'i-a' });
    const restart = h.join({ groupInstanceId: 'i-a', protocols: [range(['orders', 'payments'])] });
    expect(h.stores).toHaveLength(0);
    expect(h.joined(restart)).toMatchObject({ error: ErrorCode.NONE, generation: 2 });
  });

  it('answers UNKNOWN_MEMBER_ID to a static member with an id the group never gave it', () => {
    const h = new Harness();
    h.stableWithOne({ groupInstanceId: 'i-a' });
    expect(h.joined(h.join({ memberId: 'made-up', groupInstanceId: 'i-z' })).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });
});

describe('group > commits', () => {
  it('validates a commit against the generation and member, and takes simple commits only while the group has no members', () => {
    const h = new Harness();
    const simple = { generation: -1, memberId: '', groupInstanceId: null };
    expect(h.group.checkCommit(simple, h.ctx())).toBe(ErrorCode.NONE);
    const a = h.stableWithOne();
    expect(h.group.checkCommit(simple, h.ctx())).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(h.group.checkCommit({ generation: 1, memberId: a, groupInstanceId: null }, h.ctx())).toBe(ErrorCode.NONE);
    expect(h.group.checkCommit({ generation: 7, memberId: a, groupInstanceId: null }, h.ctx())).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(h.group.checkCommit({ generation: 1, memberId: 'x', groupInstanceId: null }, h.ctx())).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('renews the committer\'s session', () => {
    const h = new Harness();
    const a = h.stableWithOne({ sessionTimeoutMs: 2_000 });
    h.advance(1_500);
    h.group.checkCommit({ generation: 1, memberId: a, groupInstanceId: null }, h.ctx());
    h.advance(1_500);
    expect(h.group.memberIds()).toEqual([a]);
  });

  it('allows deleting offsets of topics no member subscribes to, and refuses the others', () => {
    const h = new Harness();
    expect(h.group.checkOffsetDelete('orders')).toBe(ErrorCode.NONE);
    h.stableWithOne({ protocols: [range(['orders'])] });
    expect(h.group.checkOffsetDelete('orders')).toBe(ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
    expect(h.group.checkOffsetDelete('payments')).toBe(ErrorCode.NONE);
    const other = new Harness();
    other.stableWithOne({ protocolType: 'connect', protocols: [{ name: 'v1', metadata: bytes('x') }] });
    expect(other.group.checkOffsetDelete('payments')).toBe(ErrorCode.NON_EMPTY_GROUP);
  });
});

describe('group > stored and restored', () => {
  it('comes back Stable from its stored state, with fresh sessions, and its members carry on', () => {
    const h = new Harness();
    const a = h.stableWithOne({ sessionTimeoutMs: 3_000, groupInstanceId: 'i-a' });
    const stored = h.group.toStored(h.wallMs);
    const restored = new Harness(settings, Group.fromStored(stored, settings, 0));
    expect(restored.group.state).toBe(GroupState.STABLE);
    expect(restored.group.generation).toBe(1);
    restored.advance(2_000);
    expect(restored.heartbeat(a, 1, 'i-a')).toBe(ErrorCode.NONE);
    expect(text(restored.synced(restored.sync(a, 1, {}, { groupInstanceId: 'i-a' })).assignment)).toBe('all');
    restored.advance(3_001);
    expect(restored.group.state).toBe(GroupState.EMPTY);
  });

  it('can be deleted only while empty', () => {
    const h = new Harness();
    h.stableWithOne();
    expect(h.group.markDead()).toBe(ErrorCode.NON_EMPTY_GROUP);
    const empty = new Harness();
    expect(empty.group.markDead()).toBe(ErrorCode.NONE);
    expect(empty.group.state).toBe(GroupState.DEAD);
    expect(empty.joined(empty.join()).error).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(empty.group.markDead()).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });

  it('describes members with metadata and assignment only once Stable', () => {
    const h = new Harness();
    h.join();
    expect(h.group.describe().members[0]!.assignment).toHaveLength(0);
    h.sync('c-1', 1, { 'c-1': 'abc' });
    h.commitStores();
    const described = h.group.describe();
    expect(described).toMatchObject({ state: 'Stable', protocolType: 'consumer', protocolName: 'range' });
    expect(text(described.members[0]!.assignment)).toBe('abc');
    expect(described.members[0]!.metadata).toEqual(range().metadata);
  });
});
