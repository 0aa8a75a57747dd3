/**
 * A hand-driven cluster for scripted tests (the idea of etcd's interaction tests, our own code):
 * nothing happens unless the test says so. Messages wait in one queue until deliver() or
 * stabilize(); a node only ticks when told; Ready batches are persisted to MemoryRaftStorage and
 * applied at once, honouring persist-before-send. Links can be cut one way or both, nodes crashed
 * (keeping only what they persisted) and restarted.
 *
 * The state machine is a list of the applied proposals' texts; its snapshot is that list as JSON.
 */
import { RaftNode, type RaftNodeOptions, type RaftTestBugs } from '../raft-node.js';
import type { Entry, Message, ProposalPosition, ReadState } from '../types.js';
import { MemoryRaftStorage } from './memory-storage.js';
import { Prng } from './prng.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type ManualNodeOptions = Partial<
  Pick<RaftNodeOptions, 'electionTicks' | 'heartbeatTicks' | 'preVote' | 'checkQuorum' | 'maxInflightAppends' | 'maxEntriesPerAppend'>
>;

export interface ManualClusterOptions {
  /** The founding voters. */
  readonly voters: readonly number[];
  /** Nodes that start empty, to be added by membership changes. */
  readonly spares?: readonly number[];
  readonly seed?: number;
  readonly node?: ManualNodeOptions;
  readonly bugs?: RaftTestBugs;
}

interface Member {
  core: RaftNode | undefined;
  readonly storage: MemoryRaftStorage;
  readonly initialVoters: readonly number[];
  /** Applied proposals (index and text); no-ops and config entries are not listed. */
  applied: { index: number; text: string }[];
  readStates: ReadState[];
  readonly random: Prng;
}

export class ManualCluster {
  readonly #options: ManualClusterOptions;
  readonly #members = new Map<number, Member>();
  readonly #blocked = new Set<string>();
  /** Messages sent and not yet delivered or dropped, in send order. */
  queue: Message[] = [];
  /** Every message delivered so far, in order. */
  readonly delivered: Message[] = [];

  constructor(options: ManualClusterOptions) {
    this.#options = options;
    const random = new Prng(options.seed ?? 1);
    for (const id of options.voters) this.#add(id, options.voters, random.fork());
    for (const id of options.spares ?? []) this.#add(id, [], random.fork());
  }

  #add(id: number, initialVoters: readonly number[], random: Prng): void {
    const member: Member = { core: undefined, storage: new MemoryRaftStorage(), initialVoters, applied: [], readStates: [], random };
    this.#members.set(id, member);
    this.#start(id, member);
  }

  #start(id: number, member: Member): void {
    const o = this.#options.node ?? {};
    const restored = member.storage.restored();
    member.core = new RaftNode({
      id,
      electionTicks: o.electionTicks ?? 10,
      heartbeatTicks: o.heartbeatTicks ?? 1,
      preVote: o.preVote ?? true,
      checkQuorum: o.checkQuorum ?? true,
      randomInt: (n) => member.random.int(n),
      ...(o.maxInflightAppends === undefined ? {} : { maxInflightAppends: o.maxInflightAppends }),
      ...(o.maxEntriesPerAppend === undefined ? {} : { maxEntriesPerAppend: o.maxEntriesPerAppend }),
      ...(restored === undefined ? { initialVoters: member.initialVoters } : { restored }),
      ...(this.#options.bugs === undefined ? {} : { testOnlyBugs: this.#options.bugs }),
    });
    member.applied = restored === undefined ? [] : decodeApplied(restored.snapshot.data);
    this.#drain(id);
  }

  get ids(): number[] {
    return [...this.#members.keys()];
  }

  #member(id: number): Member {
    const member = this.#members.get(id);
    if (member === undefined) throw new RangeError(`no node ${id}`);
    return member;
  }

  node(id: number): RaftNode {
    const core = this.#member(id).core;
    if (core === undefined) throw new RangeError(`node ${id} is crashed`);
    return core;
  }

  isUp(id: number): boolean {
    return this.#member(id).core !== undefined;
  }

  storage(id: number): MemoryRaftStorage {
    return this.#member(id).storage;
  }

  /** Texts of the proposals node `id` applied, in order. */
  applied(id: number): string[] {
    return this.#member(id).applied.map((a) => a.text);
  }

  /** Read states node `id` has been handed, oldest first; taking them clears the list. */
  takeReadStates(id: number): ReadState[] {
    const member = this.#member(id);
    const out = member.readStates;
    member.readStates = [];
    return out;
  }

  /** The ids of the nodes that are up and think they lead. */
  leaders(): number[] {
    return this.ids.filter((id) => this.isUp(id) && this.node(id).role === 'leader');
  }

  /** Runs every Ready of node `id` until it has none: persist, then send, then apply. */
  #drain(id: number): void {
    const member = this.#member(id);
    const core = member.core;
    if (core === undefined) return;
    while (core.hasReady()) {
      const ready = core.ready();
      this.queue.push(...ready.leaderAppends);
      member.storage.persist(ready);
      this.queue.push(...ready.messages);
      if (ready.snapshot !== undefined) member.applied = decodeApplied(ready.snapshot.data);
      for (const entry of ready.committedEntries) applyEntry(member, entry);
      member.readStates.push(...ready.readStates);
      core.advance();
    }
  }

  drainAll(): void {
    for (const id of this.ids) this.#drain(id);
  }

  /** Delivers the messages queued right now (not the answers they cause); returns how many arrived. */
  deliver(filter: (m: Message) => boolean = () => true): number {
    const batch = this.queue;
    this.queue = [];
    let count = 0;
    for (const m of batch) {
      if (!filter(m)) {
        this.queue.push(m);
        continue;
      }
      if (this.#blocked.has(`${m.from}>${m.to}`)) continue;
      const member = this.#members.get(m.to);
      if (member?.core === undefined) continue;
      this.delivered.push(m);
      member.core.step(m);
      this.#drain(m.to);
      count++;
    }
    return count;
  }

  /** Delivers until no message is left (blocked ones are dropped). Bounded, for safety. */
  stabilize(maxRounds = 1000): void {
    this.drainAll();
    for (let round = 0; round < maxRounds; round++) {
      if (this.queue.length === 0) return;
      this.deliver();
    }
    throw new Error(`cluster did not stabilize in ${maxRounds} rounds`);
  }

  drop(filter: (m: Message) => boolean = () => true): Message[] {
    const dropped = this.queue.filter(filter);
    this.queue = this.queue.filter((m) => !filter(m));
    return dropped;
  }

  tick(id: number, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).tick();
      this.#drain(id);
    }
  }

  /** Ticks every live node `times` times, delivering all messages after each round. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.ids) if (this.isUp(id)) this.tick(id);
      this.stabilize();
    }
  }

  campaign(id: number): void {
    this.node(id).campaign();
    this.#drain(id);
  }

  /** Campaigns node `id` and delivers everything: it ends up leader if it can win. */
  elect(id: number): void {
    this.campaign(id);
    this.stabilize();
  }

  propose(id: number, text: string): ProposalPosition {
    const position = this.node(id).propose(encoder.encode(text));
    this.#drain(id);
    return position;
  }

  /** Runs fn against node `id` and persists/sends what it caused. */
  act<T>(id: number, fn: (node: RaftNode) => T): T {
    const result = fn(this.node(id));
    this.#drain(id);
    return result;
  }

  /** Compacts node `id` through `index` and persists the snapshot. */
  compact(id: number, index: number): void {
    const member = this.#member(id);
    const data = encodeApplied(member.applied.filter((a) => a.index <= index));
    const snapshot = this.node(id).compact(index, data);
    if (snapshot !== undefined) member.storage.compact(snapshot);
  }

  cut(from: number, to: number): void {
    this.#blocked.add(`${from}>${to}`);
  }

  isolate(id: number): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut(id, other);
      this.cut(other, id);
    }
  }

  /** Only nodes in the same group can talk. */
  partition(...groups: readonly (readonly number[])[]): void {
    this.heal();
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cut(x, y);
      }
    }
  }

  heal(): void {
    this.#blocked.clear();
  }

  /** Loses everything not persisted: the in-memory core, unsent messages from it, the state machine. */
  crash(id: number): void {
    const member = this.#member(id);
    member.core = undefined;
    member.applied = [];
    member.readStates = [];
    this.queue = this.queue.filter((m) => m.from !== id && m.to !== id);
  }

  restart(id: number): void {
    const member = this.#member(id);
    if (member.core !== undefined) throw new RangeError(`node ${id} is already up`);
    this.#start(id, member);
  }
}

function applyEntry(member: Member, entry: Entry): void {
  if (entry.kind === 'normal' && entry.data.byteLength > 0) member.applied.push({ index: entry.index, text: decoder.decode(entry.data) });
}

function encodeApplied(applied: readonly { index: number; text: string }[]): Uint8Array {
  return encoder.encode(JSON.stringify(applied));
}

function decodeApplied(data: Uint8Array): { index: number; text: string }[] {
  if (data.byteLength === 0) return [];
  return JSON.parse(decoder.decode(data)) as { index: number; text: string }[];
}
