/**
 * A deterministic simulation of a whole Raft cluster, in one thread, driven by one event queue and
 * one seed (the approach of Kafka's RaftEventSimulationTest and TigerBeetle's VOPR, our own code).
 *
 * Each node is the real RaftNode behind a small driver that follows the Ready contract: persist
 * (with a simulated disk latency) → send → apply → advance. Around the nodes:
 * - a network that loses, duplicates, delays and so reorders messages, with symmetric, one-way,
 *   split, bridge and leader-isolating partitions;
 * - crashes that lose everything not yet durable (including a write in flight: a crash may land
 *   exactly between "reply sent" and "next write synced"), pauses (a stopped process: no ticks,
 *   deliveries wait) and restarts from storage;
 * - clients writing and reading a key-value store through the leader, with redirects, retries and
 *   timeouts; their history goes to the linearizability checker at the end;
 * - an administrator adding and removing voters, and nodes compacting their logs into snapshots.
 *
 * Safety invariants are checked after every event (see invariants.ts). The run ends with a
 * liveness phase (TigerBeetle's lesson: faults that always heal hide livelocks): every fault is
 * healed, and a write issued after that must commit.
 *
 * Everything random comes from the seed, so a failing seed replays to the same trace hash.
 */
import { StreamBusError } from '../../../proto/errors.js';
import { RaftAssertionError } from '../assert.js';
import { RaftNode, type RaftTestBugs } from '../raft-node.js';
import type { Entry, Message, Ready } from '../types.js';
import { EventQueue } from './event-queue.js';
import { InvariantChecker, type PersistedLogs, SafetyViolation } from './invariants.js';
import { type KvInput, type KvOperation, checkKvHistory } from './linearizability.js';
import { MemoryRaftStorage } from './memory-storage.js';
import { Prng } from './prng.js';

export const FaultKind = {
  CRASH: 'crash',
  CRASH_LEADER: 'crash-leader',
  PAUSE: 'pause',
  PAUSE_LEADER: 'pause-leader',
  ISOLATE: 'isolate',
  ISOLATE_LEADER: 'isolate-leader',
  SPLIT: 'split',
  ONE_WAY: 'one-way',
  BRIDGE: 'bridge',
  HEAL: 'heal',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

/** Every knob of a run. simOptionsForSeed derives them all from the seed, and a failure prints them. */
export interface SimOptions {
  readonly seed: number;
  readonly voters: number;
  /** Nodes that start outside the cluster, for the administrator to add. */
  readonly spares: number;
  readonly faultPhaseMs: number;
  /** After the fault phase: everything healed; a new write must commit within this time. */
  readonly livenessPhaseMs: number;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxInflightAppends: number;
  readonly maxEntriesPerAppend: number;
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Share of messages delayed up to 10× maxDelayMs, which reorders them behind later ones. */
  readonly slowRate: number;
  readonly diskMinMs: number;
  readonly diskMaxMs: number;
  /** Mean time between faults in the fault phase. */
  readonly faultIntervalMs: number;
  readonly faultKinds: readonly FaultKind[];
  /** Chance that a disk write is interrupted by a crash of its node (the write is lost). */
  readonly crashOnWriteRate: number;
  readonly clients: number;
  readonly keys: number;
  readonly readRate: number;
  readonly opTimeoutMs: number;
  readonly membershipChanges: boolean;
  /** Compact when this many applied entries follow the snapshot. */
  readonly snapshotThreshold: number;
  /** Check Raft's justifications against the modelled disks too (see invariants.ts); default true. */
  readonly ghostChecks: boolean;
  readonly bugs: RaftTestBugs;
}

export interface SimStats {
  events: number;
  elections: number;
  maxTerm: number;
  crashes: number;
  pauses: number;
  partitions: number;
  writeCrashes: number;
  messagesSent: number;
  messagesDropped: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  compactions: number;
  membershipChanges: number;
  transfers: number;
  writesOk: number;
  writesLost: number;
  writesUnknown: number;
  readsOk: number;
  livenessWriteMs: number;
}

export interface SimResult {
  readonly options: SimOptions;
  readonly ok: boolean;
  readonly violation: string | undefined;
  readonly traceHash: string;
  readonly stats: SimStats;
  /** The last events before the end (or the violation), oldest first. */
  readonly traceTail: readonly string[];
  readonly history: readonly KvOperation[];
}

const ALL_FAULTS: readonly FaultKind[] = Object.values(FaultKind);

/** The option set for a seed: cluster size, network weather, fault mix, workload. */
export function simOptionsForSeed(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  const r = new Prng(seed ^ 0x5eed5eed);
  const voters = r.chance(0.6) ? 3 : 5;
  const membershipChanges = r.chance(0.35);
  const minDelayMs = r.range(1, 3);
  const base: SimOptions = {
    seed,
    voters,
    spares: membershipChanges ? 1 : 0,
    faultPhaseMs: 1500,
    livenessPhaseMs: 2500,
    tickMs: 10,
    electionTicks: 10,
    heartbeatTicks: r.pick([1, 2, 3]),
    maxInflightAppends: r.pick([1, 2, 8, 64]),
    maxEntriesPerAppend: r.pick([1, 3, 64]),
    dropRate: r.pick([0, 0.01, 0.05, 0.15]),
    duplicateRate: r.pick([0, 0.01, 0.05]),
    minDelayMs,
    maxDelayMs: minDelayMs + r.range(1, 15),
    slowRate: r.pick([0, 0.01, 0.05]),
    diskMinMs: 0,
    diskMaxMs: r.pick([0, 1, 3]),
    faultIntervalMs: r.pick([60, 150, 400]),
    faultKinds: r.chance(0.5) ? ALL_FAULTS : ALL_FAULTS.filter(() => r.chance(0.5)),
    crashOnWriteRate: r.pick([0, 0.002, 0.01]),
    clients: r.range(2, 4),
    keys: r.range(1, 3),
    readRate: r.pick([0.3, 0.5]),
    opTimeoutMs: 400,
    membershipChanges,
    snapshotThreshold: r.pick([5, 20, 1000]),
    ghostChecks: true,
    bugs: {},
  };
  const options = { ...base, ...overrides };
  return options.faultKinds.length === 0 ? { ...options, faultKinds: [FaultKind.CRASH] } : options;
}

type SimEvent =
  | { readonly kind: 'tick'; readonly node: number }
  | { readonly kind: 'deliver'; readonly message: Message }
  | { readonly kind: 'disk'; readonly node: number; readonly life: number }
  | { readonly kind: 'request'; readonly node: number; readonly request: ClientRequest }
  | { readonly kind: 'reply'; readonly client: number; readonly reply: ClientReply }
  | { readonly kind: 'client-next'; readonly client: number }
  | { readonly kind: 'client-retry'; readonly client: number; readonly opId: number }
  | { readonly kind: 'client-timeout'; readonly client: number; readonly opId: number }
  | { readonly kind: 'fault' }
  | { readonly kind: 'restart'; readonly node: number }
  | { readonly kind: 'resume'; readonly node: number }
  | { readonly kind: 'heal'; readonly generation: number }
  | { readonly kind: 'admin' }
  | { readonly kind: 'liveness' };

interface ClientRequest {
  readonly client: number;
  readonly opId: number;
  readonly attempt: number;
  readonly input: KvInput;
}

type ClientReply =
  | { readonly opId: number; readonly attempt: number; readonly type: 'ok'; readonly value: string | null }
  | { readonly opId: number; readonly attempt: number; readonly type: 'redirect'; readonly leaderId: number }
  | { readonly opId: number; readonly attempt: number; readonly type: 'lost' };

interface HistoryRecord {
  readonly clientId: number;
  readonly input: KvInput;
  output: string | null;
  readonly callMs: number;
  returnMs: number;
  status: 'pending' | 'ok' | 'failed' | 'unknown';
}

interface ClientState {
  readonly id: number;
  leaderGuess: number;
  opId: number;
  attempt: number;
  current: HistoryRecord | undefined;
}

interface SimNode {
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
const TRACE_TAIL = 300;

interface TraceItem {
  readonly timeMs: number;
  readonly text: string | undefined;
  readonly message: Message | undefined;
}

const MESSAGE_CODES: Readonly<Record<Message['type'], number>> = {
  append: 1,
  'append-response': 2,
  heartbeat: 3,
  'heartbeat-response': 4,
  'pre-vote': 5,
  'pre-vote-response': 6,
  vote: 7,
  'vote-response': 8,
  snapshot: 9,
  'timeout-now': 10,
  'read-index': 11,
  'read-index-response': 12,
};

/** Entries are shared by every node that holds them, so each is decoded once. */
const decodedOps = new WeakMap<Entry, { k: string; v: string }>();

export class Simulation {
  readonly options: SimOptions;
  readonly #random: Prng;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #nodes = new Map<number, SimNode>();
  readonly #clients: ClientState[] = [];
  readonly #history: HistoryRecord[] = [];
  readonly #checker: InvariantChecker;
  readonly #checkerDisks: PersistedLogs = {
    termAt: (id, index) => this.#nodes.get(id)!.storage.termAt(index),
    lastIndex: (id) => this.#nodes.get(id)!.storage.lastIndex,
    snapshotIndex: (id) => this.#nodes.get(id)!.storage.snapshot?.meta.index ?? 0,
    memoryTermAt: (id, term, index) => {
      const core = this.#nodes.get(id)!.core;
      if (core?.term !== term) return undefined;
      const log = core.inspectLog();
      if (index === log.snapshotIndex) return log.snapshotTerm;
      return log.entries[index - log.snapshotIndex - 1]?.term;
    },
    hardState: (id) => this.#nodes.get(id)!.storage.hardState,
  };
  readonly #blocked = new Set<number>();
  #partitionGeneration = 0;
  #now = 0;
  #liveness = false;
  #livenessStartMs = Infinity;
  #dropRate: number;
  #duplicateRate: number;
  #hash = 0x811c9dc5;
  readonly #tail: TraceItem[] = [];
  #tailNext = 0;
  readonly stats: SimStats = {
    events: 0,
    elections: 0,
    maxTerm: 0,
    crashes: 0,
    pauses: 0,
    partitions: 0,
    writeCrashes: 0,
    messagesSent: 0,
    messagesDropped: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    compactions: 0,
    membershipChanges: 0,
    transfers: 0,
    writesOk: 0,
    writesLost: 0,
    writesUnknown: 0,
    readsOk: 0,
    livenessWriteMs: -1,
  };

  constructor(options: SimOptions) {
    this.options = options;
    this.#checker = new InvariantChecker(this.#checkerDisks, { ghost: options.ghostChecks });
    this.#random = new Prng(options.seed);
    this.#dropRate = options.dropRate;
    this.#duplicateRate = options.duplicateRate;
    const voters = Array.from({ length: options.voters }, (_, i) => i + 1);
    const total = options.voters + options.spares;
    for (let id = 1; id <= total; id++) {
      const node: SimNode = {
        id,
        core: undefined,
        storage: new MemoryRaftStorage(),
        random: this.#random.fork(),
        initialVoters: id <= options.voters ? voters : [],
        // Clocks drift: each node ticks at its own slightly different rate.
        tickMs: options.tickMs * (0.9 + 0.2 * this.#random.float()),
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
      this.#start(node);
      this.#schedule(this.#random.float() * node.tickMs, { kind: 'tick', node: id });
    }
    for (let c = 0; c < options.clients; c++) {
      this.#clients.push({ id: c + 1, leaderGuess: 1 + this.#random.int(total), opId: 0, attempt: 0, current: undefined });
      this.#schedule(this.#random.range(0, 50), { kind: 'client-next', client: c + 1 });
    }
    this.#schedule(this.#nextFaultDelay(), { kind: 'fault' });
    this.#schedule(this.#random.range(100, 300), { kind: 'admin' });
    this.#schedule(options.faultPhaseMs, { kind: 'liveness' });
  }

  /** Runs to the end; returns the result instead of throwing on a violation. */
  run(): SimResult {
    let violation: string | undefined;
    try {
      const endMs = this.options.faultPhaseMs + this.options.livenessPhaseMs;
      for (;;) {
        const next = this.#queue.pop();
        if (next === undefined || next.timeMs > endMs) break;
        this.#now = next.timeMs;
        this.stats.events++;
        this.#handle(next.event);
        if (this.#liveness && this.stats.livenessWriteMs >= 0 && this.#now > this.#livenessStartMs + 300) break;
      }
      this.#finalChecks();
    } catch (error) {
      if (error instanceof SafetyViolation || error instanceof RaftAssertionError) violation = error.message;
      else violation = `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      this.#trace(`!! ${violation}`);
    }
    return {
      options: this.options,
      ok: violation === undefined,
      violation,
      traceHash: (this.#hash >>> 0).toString(16).padStart(8, '0'),
      stats: this.stats,
      traceTail: this.#tailLines(),
      history: this.#historyForCheck(),
    };
  }

  // ---------------------------------------------------------------------------------------------

  #schedule(delayMs: number, event: SimEvent): void {
    this.#queue.push(this.#now + delayMs, event);
  }

  /** A rare event (fault, election, client outcome): hashed and kept as text. */
  #trace(line: string): void {
    let h = this.#hash;
    for (let i = 0; i < line.length; i++) h = Math.imul(h ^ line.charCodeAt(i), 0x01000193);
    this.#hash = h >>> 0;
    this.#remember({ timeMs: this.#now, text: line, message: undefined });
  }

  /** A delivery, the common event: hashed from its numbers, formatted only if a failure is printed. */
  #traceDelivery(m: Message): void {
    let h = this.#hash;
    h = Math.imul(h ^ (this.#now * 1000), 0x01000193);
    h = Math.imul(h ^ MESSAGE_CODES[m.type], 0x01000193);
    h = Math.imul(h ^ m.from, 0x01000193);
    h = Math.imul(h ^ m.to, 0x01000193);
    h = Math.imul(h ^ m.term, 0x01000193);
    if (m.type === 'append') h = Math.imul(h ^ (m.prevIndex * 31 + m.entries.length), 0x01000193);
    else if (m.type === 'append-response') h = Math.imul(h ^ (m.index * 2 + (m.reject ? 1 : 0)), 0x01000193);
    this.#hash = h >>> 0;
    this.#remember({ timeMs: this.#now, text: undefined, message: m });
  }

  #remember(item: TraceItem): void {
    this.#tail[this.#tailNext] = item;
    this.#tailNext = (this.#tailNext + 1) % TRACE_TAIL;
  }

  #tailLines(): string[] {
    const items = [...this.#tail.slice(this.#tailNext), ...this.#tail.slice(0, this.#tailNext)];
    return items.map((item) => `${item.timeMs.toFixed(3)} ${item.text ?? `deliver ${describeMessage(item.message!)}`}`);
  }

  #handle(event: SimEvent): void {
    switch (event.kind) {
      case 'tick': {
        const node = this.#nodes.get(event.node)!;
        this.#schedule(node.tickMs, event);
        if (node.core === undefined || node.paused) return;
        node.core.tick();
        this.#afterInput(node);
        return;
      }
      case 'deliver': {
        const m = event.message;
        const node = this.#nodes.get(m.to)!;
        if (node.core === undefined) return;
        if (node.paused) {
          node.inbox.push(event);
          return;
        }
        this.#traceDelivery(m);
        if (m.type === 'snapshot') this.stats.snapshotsInstalled++;
        node.core.step(m);
        this.#afterInput(node);
        return;
      }
      case 'disk': {
        const node = this.#nodes.get(event.node)!;
        if (node.life !== event.life || node.writing === undefined) return;
        if (node.paused) {
          node.diskDoneWhilePaused = true;
          return;
        }
        this.#diskDone(node);
        return;
      }
      case 'request': {
        const node = this.#nodes.get(event.node)!;
        if (node.core === undefined) return;
        if (node.paused) {
          node.inbox.push(event);
          return;
        }
        this.#serveRequest(node, event.request);
        return;
      }
      case 'reply':
        this.#onReply(event.client, event.reply);
        return;
      case 'client-next':
        this.#nextOp(this.#clients[event.client - 1]!);
        return;
      case 'client-retry': {
        const client = this.#clients[event.client - 1]!;
        if (client.current?.status === 'pending' && client.opId === event.opId) this.#sendAttempt(client);
        return;
      }
      case 'client-timeout': {
        const client = this.#clients[event.client - 1]!;
        const op = client.current;
        if (op === undefined || client.opId !== event.opId || op.status !== 'pending') return;
        // The outcome is unknown: the write may still commit. Never retry it with the same value.
        op.status = 'unknown';
        client.current = undefined;
        client.leaderGuess = this.#randomNodeId();
        this.#trace(`client ${client.id} op ${op.input.kind} ${op.input.key} timed out`);
        this.#schedule(this.#random.range(0, 20), { kind: 'client-next', client: client.id });
        return;
      }
      case 'fault':
        if (this.#liveness) return;
        this.#injectFault();
        this.#schedule(this.#nextFaultDelay(), { kind: 'fault' });
        return;
      case 'restart': {
        const node = this.#nodes.get(event.node)!;
        if (node.core !== undefined) return;
        this.#trace(`restart ${node.id}`);
        this.#start(node);
        return;
      }
      case 'resume':
        this.#resume(this.#nodes.get(event.node)!);
        return;
      case 'heal':
        if (event.generation === this.#partitionGeneration) this.#heal();
        return;
      case 'admin':
        if (this.#liveness) return;
        this.#adminChange();
        this.#schedule(this.#random.range(100, 400), { kind: 'admin' });
        return;
      case 'liveness':
        this.#startLiveness();
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Nodes

  #start(node: SimNode): void {
    const o = this.options;
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
    this.#afterInput(node);
  }

  #crash(node: SimNode, why: string): void {
    if (node.core === undefined) return;
    this.#trace(`crash ${node.id} (${why})${node.writing === undefined ? '' : ', losing a write in flight'}`);
    this.stats.crashes++;
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
    if (this.#liveness) this.#schedule(this.#random.range(1, 50), { kind: 'restart', node: node.id });
    else this.#schedule(this.#random.pick([5, 20, 100, 400]) * (0.5 + this.#random.float()), { kind: 'restart', node: node.id });
  }

  #resume(node: SimNode): void {
    if (!node.paused) return;
    this.#trace(`resume ${node.id}`);
    node.paused = false;
    if (node.diskDoneWhilePaused) {
      node.diskDoneWhilePaused = false;
      this.#diskDone(node);
    }
    const inbox = node.inbox;
    node.inbox = [];
    for (const event of inbox) {
      if (node.core === undefined) return;
      this.#handle(event);
    }
  }

  /** After the core took an input: check it, and start persisting its next Ready if the disk is idle. */
  #afterInput(node: SimNode): void {
    const core = node.core;
    if (core === undefined) return;
    this.#checker.checkNode(node.id, core);
    const isLeader = core.role === 'leader';
    if (isLeader && !node.wasLeader) {
      this.stats.elections++;
      this.#trace(`node ${node.id} leads term ${core.term}`);
    }
    node.wasLeader = isLeader;
    if (core.term > this.stats.maxTerm) this.stats.maxTerm = core.term;
    this.#pump(node);
  }

  #pump(node: SimNode): void {
    const core = node.core;
    if (core === undefined || node.paused || node.writing !== undefined || !core.hasReady()) return;
    const ready = core.ready();
    node.writing = ready;
    if (ready.hardState === undefined && ready.snapshot === undefined && ready.entries.length === 0) {
      // Nothing to make durable: the messages depend only on what is already on disk.
      this.#diskDone(node);
      return;
    }
    this.#schedule(this.options.diskMinMs + this.#random.float() * (this.options.diskMaxMs - this.options.diskMinMs), {
      kind: 'disk',
      node: node.id,
      life: node.life,
    });
  }

  #diskDone(node: SimNode): void {
    const ready = node.writing;
    const core = node.core;
    if (ready === undefined || core === undefined) return;
    const durable = ready.hardState !== undefined || ready.snapshot !== undefined || ready.entries.length > 0;
    if (durable && !this.#liveness && this.#random.chance(this.options.crashOnWriteRate)) {
      // The crash lands before the write is synced: it is lost, and so is everything after it.
      this.stats.writeCrashes++;
      this.#crash(node, 'during a disk write');
      return;
    }
    node.storage.persist(ready);
    if (ready.hardState !== undefined) this.#checker.checkPersisted(node.id, ready.hardState);
    node.writing = undefined;

    for (const m of ready.messages) this.#send(m);
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
    this.#afterInput(node);
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
      this.stats.membershipChanges++;
    }
    const pending = node.pendingWrites.get(entry.index);
    if (pending !== undefined) {
      node.pendingWrites.delete(entry.index);
      const won = entry.term === pending.term;
      this.#reply(pending.request, won ? { type: 'ok', value: null } : { type: 'lost' });
    }
  }

  #serveConfirmedReads(node: SimNode): void {
    if (node.confirmedReads.length === 0) return;
    const waiting: { index: number; request: ClientRequest }[] = [];
    for (const read of node.confirmedReads) {
      if (read.index <= node.appliedIndex) this.#reply(read.request, { type: 'ok', value: node.kv.get(read.request.input.key) ?? null });
      else waiting.push(read);
    }
    node.confirmedReads = waiting;
  }

  #maybeCompact(node: SimNode, core: RaftNode): void {
    if (node.appliedIndex - core.inspectLog().snapshotIndex < this.options.snapshotThreshold) return;
    const snapshot = core.compact(node.appliedIndex, encodeKv(node.kv));
    if (snapshot !== undefined) {
      node.storage.compact(snapshot);
      this.stats.compactions++;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Network

  #send(m: Message): void {
    this.#checker.checkSent(m);
    this.stats.messagesSent++;
    if (m.type === 'snapshot') this.stats.snapshotsSent++;
    if (m.type === 'timeout-now') this.stats.transfers++;
    if (this.#blocked.has(m.from * 64 + m.to) || this.#random.chance(this.#dropRate)) {
      this.stats.messagesDropped++;
      return;
    }
    const copies = this.#random.chance(this.#duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = this.options.minDelayMs + this.#random.float() * (this.options.maxDelayMs - this.options.minDelayMs);
      if (this.#random.chance(this.options.slowRate)) delay *= 1 + 9 * this.#random.float();
      this.#schedule(delay, { kind: 'deliver', message: m });
    }
  }

  #cut(from: number, to: number): void {
    this.#blocked.add(from * 64 + to);
  }

  #heal(): void {
    if (this.#blocked.size > 0) this.#trace(`heal`);
    this.#blocked.clear();
    this.#partitionGeneration++;
  }

  // ---------------------------------------------------------------------------------------------
  // Faults

  #nextFaultDelay(): number {
    return -Math.log(1 - this.#random.float()) * this.options.faultIntervalMs;
  }

  #ids(): number[] {
    return [...this.#nodes.keys()];
  }

  #randomNodeId(): number {
    return 1 + this.#random.int(this.#nodes.size);
  }

  #leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.#nodes.values()) {
      if (node.core?.role === 'leader' && (best === undefined || node.core.term > best.core!.term)) best = node;
    }
    return best;
  }

  #injectFault(): void {
    const kind = this.#random.pick(this.options.faultKinds);
    const ids = this.#ids();
    const leader = this.#leader();
    const target = (preferLeader: boolean): SimNode => (preferLeader && leader !== undefined ? leader : this.#nodes.get(this.#random.pick(ids))!);
    switch (kind) {
      case FaultKind.CRASH:
      case FaultKind.CRASH_LEADER:
        this.#crash(target(kind === FaultKind.CRASH_LEADER), kind);
        return;
      case FaultKind.PAUSE:
      case FaultKind.PAUSE_LEADER: {
        const node = target(kind === FaultKind.PAUSE_LEADER);
        if (node.core === undefined || node.paused) return;
        node.paused = true;
        this.stats.pauses++;
        this.#trace(`pause ${node.id}`);
        this.#schedule(this.#random.pick([20, 100, 300, 600]) * (0.5 + this.#random.float()), { kind: 'resume', node: node.id });
        return;
      }
      case FaultKind.HEAL:
        this.#heal();
        return;
      default:
        break;
    }
    // Partitions replace each other; each heals after a while unless a newer one replaced it.
    this.#heal();
    this.stats.partitions++;
    const generation = this.#partitionGeneration;
    const shuffled = ids.map((id) => ({ id, r: this.#random.float() })).sort((a, b) => a.r - b.r).map((x) => x.id);
    let description: string;
    switch (kind) {
      case FaultKind.ISOLATE:
      case FaultKind.ISOLATE_LEADER: {
        const isolated = target(kind === FaultKind.ISOLATE_LEADER).id;
        for (const other of ids) {
          if (other === isolated) continue;
          this.#cut(isolated, other);
          this.#cut(other, isolated);
        }
        description = `isolate ${isolated}`;
        break;
      }
      case FaultKind.SPLIT: {
        const cutAt = 1 + this.#random.int(ids.length - 1);
        const a = shuffled.slice(0, cutAt);
        const b = shuffled.slice(cutAt);
        for (const x of a) for (const y of b) {
          this.#cut(x, y);
          this.#cut(y, x);
        }
        description = `split ${a.join(',')} | ${b.join(',')}`;
        break;
      }
      case FaultKind.ONE_WAY: {
        const links = 1 + this.#random.int(ids.length);
        const cuts: string[] = [];
        for (let i = 0; i < links; i++) {
          const from = this.#random.pick(ids);
          const to = this.#random.pick(ids);
          if (from === to) continue;
          this.#cut(from, to);
          cuts.push(`${from}->${to}`);
        }
        description = `one-way ${cuts.join(' ')}`;
        break;
      }
      default: {
        // Bridge (the partial partition behind the 2020 etcd outage): two sides that reach each
        // other only through one node, which sees everyone.
        const bridge = shuffled[0]!;
        const rest = shuffled.slice(1);
        const half = Math.ceil(rest.length / 2);
        const a = rest.slice(0, half);
        const b = rest.slice(half);
        for (const x of a) for (const y of b) {
          this.#cut(x, y);
          this.#cut(y, x);
        }
        description = `bridge ${bridge} between ${a.join(',')} and ${b.join(',')}`;
        break;
      }
    }
    this.#trace(`partition: ${description}`);
    this.#schedule(this.#random.pick([50, 200, 500, 1000]) * (0.5 + this.#random.float()), { kind: 'heal', generation });
  }

  #adminChange(): void {
    const leader = this.#leader();
    const core = leader?.core;
    if (leader === undefined || core === undefined || leader.paused) return;
    const o = this.options;
    const voters = core.status().voters;
    const outside = this.#ids().filter((id) => !voters.includes(id));
    const canAdd = o.membershipChanges && outside.length > 0 && voters.length < o.voters + o.spares;
    const canRemove = o.membershipChanges && voters.length > Math.max(2, o.voters - 1);
    try {
      if (canAdd && (!canRemove || this.#random.chance(0.5))) {
        const id = this.#random.pick(outside);
        core.proposeMembershipChange({ type: 'add-voter', nodeId: id });
        this.#trace(`admin: add voter ${id} via ${leader.id}`);
      } else if (this.#random.chance(0.25)) {
        const to = this.#random.pick(voters);
        core.transferLeadership(to);
        this.#trace(`admin: transfer leadership ${leader.id} -> ${to}`);
      } else if (canRemove) {
        const id = this.#random.pick(voters);
        core.proposeMembershipChange({ type: 'remove-voter', nodeId: id });
        this.#trace(`admin: remove voter ${id} via ${leader.id}`);
      } else if (this.#random.chance(0.3)) {
        const to = this.#random.pick(voters);
        core.transferLeadership(to);
        this.#trace(`admin: transfer leadership ${leader.id} -> ${to}`);
      }
    } catch (error) {
      if (!(error instanceof StreamBusError)) throw error;
    }
    this.#afterInput(leader);
  }

  #startLiveness(): void {
    this.#liveness = true;
    this.#livenessStartMs = this.#now;
    this.#dropRate = 0;
    this.#duplicateRate = 0;
    this.#trace(`liveness phase: heal everything`);
    this.#heal();
    for (const node of this.#nodes.values()) {
      if (node.core === undefined) this.#schedule(this.#random.range(1, 20), { kind: 'restart', node: node.id });
      else if (node.paused) this.#schedule(this.#random.range(1, 20), { kind: 'resume', node: node.id });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Clients

  #nextOp(client: ClientState): void {
    client.opId++;
    client.attempt = 0;
    const key = `k${this.#random.int(this.options.keys)}`;
    const input: KvInput = this.#random.chance(this.options.readRate) ? { kind: 'get', key } : { kind: 'put', key, value: `c${client.id}.${client.opId}` };
    const record: HistoryRecord = { clientId: client.id, input, output: null, callMs: this.#now, returnMs: Infinity, status: 'pending' };
    this.#history.push(record);
    client.current = record;
    this.#schedule(this.options.opTimeoutMs, { kind: 'client-timeout', client: client.id, opId: client.opId });
    this.#sendAttempt(client);
  }

  #sendAttempt(client: ClientState): void {
    const op = client.current;
    if (op === undefined) return;
    client.attempt++;
    const request: ClientRequest = { client: client.id, opId: client.opId, attempt: client.attempt, input: op.input };
    this.#schedule(this.#random.range(1, 3), { kind: 'request', node: client.leaderGuess, request });
  }

  #serveRequest(node: SimNode, request: ClientRequest): void {
    const core = node.core!;
    // Followers that know a leader serve half of the reads they get by forwarding ReadIndex.
    const forwardRead = request.input.kind === 'get' && core.role === 'follower' && core.leaderId !== 0 && this.#random.chance(0.5);
    if (core.role !== 'leader' && !forwardRead) {
      this.#reply(request, { type: 'redirect', leaderId: core.leaderId });
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
      this.#reply(request, { type: 'redirect', leaderId: 0 });
    }
    this.#afterInput(node);
  }

  #reply(request: ClientRequest, reply: DistributiveOmit<ClientReply, 'opId' | 'attempt'>): void {
    this.#schedule(this.#random.range(1, 3), { kind: 'reply', client: request.client, reply: { ...reply, opId: request.opId, attempt: request.attempt } as ClientReply });
  }

  #onReply(clientId: number, reply: ClientReply): void {
    const client = this.#clients[clientId - 1]!;
    const op = client.current;
    if (op === undefined || op.status !== 'pending' || reply.opId !== client.opId || reply.attempt !== client.attempt) return;
    switch (reply.type) {
      case 'ok':
        op.status = 'ok';
        op.returnMs = this.#now;
        op.output = op.input.kind === 'get' ? reply.value : null;
        if (op.input.kind === 'put') {
          this.stats.writesOk++;
          if (this.#liveness && op.callMs >= this.#livenessStartMs && this.stats.livenessWriteMs < 0) {
            this.stats.livenessWriteMs = this.#now - this.#livenessStartMs;
          }
        } else {
          this.stats.readsOk++;
        }
        this.#trace(`client ${clientId} ${op.input.kind} ${op.input.key}${op.input.kind === 'put' ? `=${op.input.value}` : ` -> ${String(reply.value)}`} ok`);
        client.current = undefined;
        this.#schedule(this.#random.range(0, 20), { kind: 'client-next', client: clientId });
        return;
      case 'lost':
        // Another entry took the index: this attempt definitely failed, so retrying is safe.
        this.stats.writesLost++;
        client.leaderGuess = this.#randomNodeId();
        this.#schedule(this.#random.range(5, 15), { kind: 'client-retry', client: clientId, opId: client.opId });
        return;
      case 'redirect':
        client.leaderGuess = reply.leaderId !== 0 ? reply.leaderId : this.#randomNodeId();
        this.#schedule(this.#random.range(5, 15), { kind: 'client-retry', client: clientId, opId: client.opId });
        return;
    }
  }

  #historyForCheck(): KvOperation[] {
    const out: KvOperation[] = [];
    for (const r of this.#history) {
      if (r.input.kind === 'get') {
        // A read without an answer constrains nothing.
        if (r.status === 'ok') out.push({ clientId: r.clientId, input: r.input, output: r.output, callMs: r.callMs, returnMs: r.returnMs });
      } else if (r.status === 'ok') {
        out.push({ clientId: r.clientId, input: r.input, output: null, callMs: r.callMs, returnMs: r.returnMs });
      } else {
        // Timed out or still pending: it may or may not have happened.
        out.push({ clientId: r.clientId, input: r.input, output: null, callMs: r.callMs, returnMs: Infinity });
      }
    }
    return out;
  }

  #finalChecks(): void {
    this.stats.writesUnknown = this.#history.filter((r) => r.input.kind === 'put' && r.status !== 'ok').length;
    const result = checkKvHistory(this.#historyForCheck(), 2_000_000);
    if (result.outcome === 'illegal') {
      throw new SafetyViolation('linearizability', `the history of key ${result.partition} is not linearizable (${result.operations} operations, longest linearizable prefix ${result.longestPrefix})`);
    }
    if (result.outcome === 'unknown') throw new SafetyViolation('linearizability', `the checker ran out of steps on key ${result.partition}`);
    if (this.stats.livenessWriteMs < 0) {
      throw new SafetyViolation('liveness', `no write issued after the final heal committed within ${this.options.livenessPhaseMs} ms`);
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Runs one seed. */
export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

/** A failed run, printed so it can be replayed: the seed, every option, and the last events. */
export function describeFailure(result: SimResult, tailLines = 60): string {
  const { seed, bugs } = result.options;
  const bugNames = Object.entries(bugs)
    .filter(([, on]) => on === true)
    .map(([name]) => name);
  const bugEnv = bugNames.length === 0 ? '' : ` STREAMBUS_RAFT_BUGS=${bugNames.join(',')}`;
  return [
    `raft simulation seed ${seed} failed: ${result.violation ?? 'no violation'}`,
    `replay: STREAMBUS_RAFT_SEED=${seed}${bugEnv} npx vitest run coordinator/raft/sim/simulator.test.ts -t "replays one seed"`,
    `options: ${JSON.stringify(result.options)}`,
    `stats: ${JSON.stringify(result.stats)}`,
    `trace hash ${result.traceHash}; last events:`,
    ...result.traceTail.slice(-tailLines),
  ].join('\n');
}

function describeMessage(m: Message): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'append':
      return `${head} prev=${m.prevIndex}/${m.prevTerm} n=${m.entries.length} commit=${m.commit}`;
    case 'append-response':
      return `${head} index=${m.index}${m.reject ? ` reject hint=${m.hintIndex}/${m.hintTerm}` : ''}`;
    case 'heartbeat':
      return `${head} commit=${m.commit} read=${m.readSeq}`;
    case 'heartbeat-response':
      return `${head} read=${m.readSeq}`;
    case 'vote':
    case 'pre-vote':
      return `${head} last=${m.lastIndex}/${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'vote-response':
    case 'pre-vote-response':
      return `${head}${m.reject ? ' reject' : ' grant'}`;
    case 'snapshot':
      return `${head} at=${m.snapshot.meta.index}/${m.snapshot.meta.term} voters=${m.snapshot.meta.voters.join(',')}`;
    case 'read-index':
    case 'read-index-response':
      return `${head} ctx=${m.context}`;
    case 'timeout-now':
      return head;
  }
}

function encodeKv(kv: Map<string, string>): Uint8Array {
  return encoder.encode(JSON.stringify([...kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))));
}

function decodeKv(data: Uint8Array): Map<string, string> {
  if (data.byteLength === 0) return new Map();
  return new Map(JSON.parse(decoder.decode(data)) as [string, string][]);
}
