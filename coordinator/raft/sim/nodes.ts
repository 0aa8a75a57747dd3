/**
 * The simulated nodes: each is the real RaftNode behind a small driver that follows the Ready
 * contract, persist (with a simulated disk latency) → send → apply → advance, over a modelled disk
 * (MemoryRaftStorage) and a key-value state machine that it snapshots into the log.
 *
 * A node's process can crash, losing everything not yet durable, including a write in flight: a
 * crash may land exactly between "reply sent" and "next write synced". It can be paused (a stopped
 * process: no ticks, deliveries and disk completions wait until it resumes), and it restarts from
 * what its disk holds. `life` counts crashes, so a disk completion from before a crash is ignored.
 *
 * The driver also serves the clients' requests on the node: writes as proposals (answered when an
 * entry at their index is applied: ok if it has their term, lost otherwise) and reads through
 * ReadIndex (answered once the node has applied up to the read's index).
 */
import { StreamBusError } from '../../../proto/errors.js';
import { RaftNode } from '../raft-node.js';
import type { Entry, Ready } from '../types.js';
import { type ClientRequest, scheduleReply } from './clients.js';
import type { InvariantChecker, PersistedLogs } from './invariants.js';
import { MemoryRaftStorage } from './memory-storage.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { SimEvent, SimWorld } from './world.js';

export interface SimNode {
  readonly id: number;
  core: RaftNode | undefined;
  readonly storage: MemoryRaftStorage;
  readonly random: Prng;
  readonly initialVoters: readonly number[];
  readonly tickMs: number;
  life: number;
  paused: boolean;
  writing: Ready | undefined;
  diskDoneWhilePaused: boolean;
  inbox: SimEvent[];
  kv: Map<string, string>;
  appliedIndex: number;
  pendingWrites: Map<number, { request: ClientRequest; term: number }>;
  pendingReads: Map<string, ClientRequest>;
  confirmedReads: { index: number; request: ClientRequest }[];
  wasLeader: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Entries are shared by every node that holds them, so each is decoded once. */
const decodedOps = new WeakMap<Entry, { k: string; v: string }>();

/** What the invariant checker may read of the nodes' disks and memory. */
export function persistedLogsOf(nodes: ReadonlyMap<number, SimNode>): PersistedLogs {
  return {
    termAt: (id, index) => nodes.get(id)!.storage.termAt(index),
    lastIndex: (id) => nodes.get(id)!.storage.lastIndex,
    snapshotIndex: (id) => nodes.get(id)!.storage.snapshot?.meta.index ?? 0,
    memoryTermAt: (id, term, index) => {
      const core = nodes.get(id)!.core;
      if (core?.term !== term) return undefined;
      const log = core.inspectLog();
      if (index === log.snapshotIndex) return log.snapshotTerm;
      return log.entries[index - log.snapshotIndex - 1]?.term;
    },
    hardState: (id) => nodes.get(id)!.storage.hardState,
  };
}

export class SimNodes {
  readonly #world: SimWorld;
  readonly #nodes: Map<number, SimNode>;
  readonly #checker: InvariantChecker;
  readonly #network: SimNetwork;
  /** Hands an event that waited in a paused node's inbox back to the simulation's dispatcher. */
  readonly #redeliver: (event: SimEvent) => void;

  constructor(world: SimWorld, nodes: Map<number, SimNode>, checker: InvariantChecker, network: SimNetwork, redeliver: (event: SimEvent) => void) {
    this.#world = world;
    this.#nodes = nodes;
    this.#checker = checker;
    this.#network = network;
    this.#redeliver = redeliver;
  }

  /** Creates and starts node `id`, with its own random stream and a clock that drifts from the others. */
  add(id: number, initialVoters: readonly number[]): void {
    const w = this.#world;
    const node: SimNode = {
      id,
      core: undefined,
      storage: new MemoryRaftStorage(),
      random: w.random.fork(),
      initialVoters,
      // Clocks drift: each node ticks at its own slightly different rate.
      tickMs: w.options.tickMs * (0.9 + 0.2 * w.random.float()),
      life: 0,
      paused: false,
      writing: undefined,
      diskDoneWhilePaused: false,
      inbox: [],
      kv: new Map(),
      appliedIndex: 0,
      pendingWrites: new Map(),
      pendingReads: new Map(),
      confirmedReads: [],
      wasLeader: false,
    };
    this.#nodes.set(id, node);
    this.start(node);
    w.schedule(w.random.float() * node.tickMs, { kind: 'tick', node: id });
  }

  get(id: number): SimNode {
    return this.#nodes.get(id)!;
  }

  get size(): number {
    return this.#nodes.size;
  }

  all(): IterableIterator<SimNode> {
    return this.#nodes.values();
  }

  ids(): number[] {
    return [...this.#nodes.keys()];
  }

  randomNodeId(): number {
    return 1 + this.#world.random.int(this.#nodes.size);
  }

  /** The leader of the highest term, if any node leads. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.#nodes.values()) {
      if (node.core?.role === 'leader' && (best === undefined || node.core.term > best.core!.term)) best = node;
    }
    return best;
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  tick(event: Extract<SimEvent, { kind: 'tick' }>): void {
    const node = this.#nodes.get(event.node)!;
    this.#world.schedule(node.tickMs, event);
    if (node.core === undefined || node.paused) return;
    node.core.tick();
    this.afterInput(node);
  }

  deliver(event: Extract<SimEvent, { kind: 'deliver' }>): void {
    const m = event.message;
    const node = this.#nodes.get(m.to)!;
    if (node.core === undefined) return;
    if (node.paused) {
      node.inbox.push(event);
      return;
    }
    this.#world.trace.delivery(this.#world.nowMs, m);
    if (m.type === 'snapshot') this.#world.stats.snapshotsInstalled++;
    node.core.step(m);
    this.afterInput(node);
  }

  diskEvent(event: Extract<SimEvent, { kind: 'disk' }>): void {
    const node = this.#nodes.get(event.node)!;
    if (node.life !== event.life || node.writing === undefined) return;
    if (node.paused) {
      node.diskDoneWhilePaused = true;
      return;
    }
    this.#diskDone(node);
  }

  request(event: Extract<SimEvent, { kind: 'request' }>): void {
    const node = this.#nodes.get(event.node)!;
    if (node.core === undefined) return;
    if (node.paused) {
      node.inbox.push(event);
      return;
    }
    this.#serveRequest(node, event.request);
  }

  restart(id: number): void {
    const node = this.#nodes.get(id)!;
    if (node.core !== undefined) return;
    this.#world.note(`restart ${node.id}`);
    this.start(node);
  }

  // ---------------------------------------------------------------------------------------------
  // Process lifecycle

  start(node: SimNode): void {
    const o = this.#world.options;
    const restored = node.storage.restored();
    node.core = new RaftNode({
      id: node.id,
      electionTicks: o.electionTicks,
      heartbeatTicks: o.heartbeatTicks,
      randomInt: (n) => node.random.int(n),
      maxInflightAppends: o.maxInflightAppends,
      maxEntriesPerAppend: o.maxEntriesPerAppend,
      testOnlyBugs: o.bugs,
      ...(restored === undefined ? { initialVoters: node.initialVoters } : { restored }),
    });
    node.kv = restored === undefined ? new Map<string, string>() : decodeKv(restored.snapshot.data);
    node.appliedIndex = restored?.snapshot.meta.index ?? 0;
    node.wasLeader = false;
    this.#checker.restarted(node.id, node.core);
    this.afterInput(node);
  }

  crash(node: SimNode, why: string): void {
    const w = this.#world;
    if (node.core === undefined) return;
    w.note(`crash ${node.id} (${why})${node.writing === undefined ? '' : ', losing a write in flight'}`);
    w.stats.crashes++;
    node.core = undefined;
    node.life++;
    node.writing = undefined;
    node.paused = false;
    node.diskDoneWhilePaused = false;
    node.inbox = [];
    node.kv = new Map();
    node.pendingWrites.clear();
    node.pendingReads.clear();
    node.confirmedReads = [];
    if (w.liveness) w.schedule(w.random.range(1, 50), { kind: 'restart', node: node.id });
    else w.schedule(w.random.pick([5, 20, 100, 400]) * (0.5 + w.random.float()), { kind: 'restart', node: node.id });
  }

  resume(node: SimNode): void {
    if (!node.paused) return;
    this.#world.note(`resume ${node.id}`);
    node.paused = false;
    if (node.diskDoneWhilePaused) {
      node.diskDoneWhilePaused = false;
      this.#diskDone(node);
    }
    const inbox = node.inbox;
    node.inbox = [];
    for (const event of inbox) {
      if (node.core === undefined) return;
      this.#redeliver(event);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The Ready cycle

  /** After the core took an input: check it, and start persisting its next Ready if the disk is idle. */
  afterInput(node: SimNode): void {
    const core = node.core;
    if (core === undefined) return;
    const w = this.#world;
    this.#checker.checkNode(node.id, core);
    const isLeader = core.role === 'leader';
    if (isLeader && !node.wasLeader) {
      w.stats.elections++;
      w.note(`node ${node.id} leads term ${core.term}`);
    }
    node.wasLeader = isLeader;
    if (core.term > w.stats.maxTerm) w.stats.maxTerm = core.term;
    this.#pump(node);
  }

  #pump(node: SimNode): void {
    const core = node.core;
    if (core === undefined || node.paused || node.writing !== undefined || !core.hasReady()) return;
    const o = this.#world.options;
    const ready = core.ready();
    node.writing = ready;
    // The leader's parallel append: these leave now, while its own write is still on the disk.
    for (const m of ready.leaderAppends) this.#network.send(m);
    if (ready.hardState === undefined && ready.snapshot === undefined && ready.entries.length === 0) {
      // Nothing to make durable: the messages depend only on what is already on disk.
      this.#diskDone(node);
      return;
    }
    this.#world.schedule(o.diskMinMs + this.#world.random.float() * (o.diskMaxMs - o.diskMinMs), {
      kind: 'disk',
      node: node.id,
      life: node.life,
    });
  }

  #diskDone(node: SimNode): void {
    const w = this.#world;
    const ready = node.writing;
    const core = node.core;
    if (ready === undefined || core === undefined) return;
    const durable = ready.hardState !== undefined || ready.snapshot !== undefined || ready.entries.length > 0;
    if (durable && !w.liveness && w.random.chance(w.options.crashOnWriteRate)) {
      // The crash lands before the write is synced: it is lost, and so is everything after it.
      w.stats.writeCrashes++;
      this.crash(node, 'during a disk write');
      return;
    }
    node.storage.persist(ready);
    if (ready.hardState !== undefined) this.#checker.checkPersisted(node.id, ready.hardState);
    node.writing = undefined;

    for (const m of ready.messages) this.#network.send(m);
    if (ready.snapshot !== undefined) {
      node.kv = decodeKv(ready.snapshot.data);
      node.appliedIndex = ready.snapshot.meta.index;
      for (const index of [...node.pendingWrites.keys()]) if (index <= node.appliedIndex) node.pendingWrites.delete(index);
    }
    for (const entry of ready.committedEntries) this.#apply(node, entry);
    for (const rs of ready.readStates) {
      const request = node.pendingReads.get(rs.context);
      if (request === undefined) continue;
      node.pendingReads.delete(rs.context);
      node.confirmedReads.push({ index: rs.index, request });
    }
    this.#serveConfirmedReads(node);
    core.advance();
    this.#maybeCompact(node, core);
    this.afterInput(node);
  }

  #apply(node: SimNode, entry: Entry): void {
    this.#checker.checkApply(node.id, entry, node.appliedIndex);
    node.appliedIndex = entry.index;
    if (entry.kind === 'normal' && entry.data.byteLength > 0) {
      let op = decodedOps.get(entry);
      if (op === undefined) {
        op = JSON.parse(decoder.decode(entry.data)) as { k: string; v: string };
        decodedOps.set(entry, op);
      }
      node.kv.set(op.k, op.v);
    } else if (entry.kind === 'config') {
      this.#world.stats.membershipChanges++;
    }
    const pending = node.pendingWrites.get(entry.index);
    if (pending !== undefined) {
      node.pendingWrites.delete(entry.index);
      const won = entry.term === pending.term;
      scheduleReply(this.#world, pending.request, won ? { type: 'ok', value: null } : { type: 'lost' });
    }
  }

  #serveConfirmedReads(node: SimNode): void {
    if (node.confirmedReads.length === 0) return;
    const waiting: { index: number; request: ClientRequest }[] = [];
    for (const read of node.confirmedReads) {
      if (read.index <= node.appliedIndex) scheduleReply(this.#world, read.request, { type: 'ok', value: node.kv.get(read.request.input.key) ?? null });
      else waiting.push(read);
    }
    node.confirmedReads = waiting;
  }

  #maybeCompact(node: SimNode, core: RaftNode): void {
    if (node.appliedIndex - core.inspectLog().snapshotIndex < this.#world.options.snapshotThreshold) return;
    const snapshot = core.compact(node.appliedIndex, encodeKv(node.kv));
    if (snapshot !== undefined) {
      node.storage.compact(snapshot);
      this.#world.stats.compactions++;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Client requests

  #serveRequest(node: SimNode, request: ClientRequest): void {
    const core = node.core!;
    // Followers that know a leader serve half of the reads they get by forwarding ReadIndex.
    const forwardRead = request.input.kind === 'get' && core.role === 'follower' && core.leaderId !== 0 && this.#world.random.chance(0.5);
    if (core.role !== 'leader' && !forwardRead) {
      scheduleReply(this.#world, request, { type: 'redirect', leaderId: core.leaderId });
      return;
    }
    try {
      if (request.input.kind === 'put') {
        const data = encoder.encode(JSON.stringify({ c: request.client, o: request.opId, k: request.input.key, v: request.input.value }));
        const position = core.propose(data);
        node.pendingWrites.set(position.index, { request, term: position.term });
      } else {
        const context = `${request.client}.${request.opId}.${request.attempt}`;
        core.readIndex(context);
        node.pendingReads.set(context, request);
      }
    } catch (error) {
      if (!(error instanceof StreamBusError)) throw error;
      scheduleReply(this.#world, request, { type: 'redirect', leaderId: 0 });
    }
    this.afterInput(node);
  }
}

function encodeKv(kv: Map<string, string>): Uint8Array {
  return encoder.encode(JSON.stringify([...kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))));
}

function decodeKv(data: Uint8Array): Map<string, string> {
  if (data.byteLength === 0) return new Map();
  return new Map(JSON.parse(decoder.decode(data)) as [string, string][]);
}
