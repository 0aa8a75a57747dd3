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
 *
 * This file holds the event loop and the run's phases. The models it drives: world.ts (clock,
 * queue, the one random stream, stats, trace), nodes.ts (nodes, disks, the Ready driver),
 * network.ts (loss, delay, partitions), clients.ts (workload and history), faults.ts (process
 * faults and the administrator), options.ts (the knobs a seed derives) and trace.ts.
 */
import { RaftAssertionError } from '../assert.js';
import { SimClients } from './clients.js';
import { FaultInjector } from './faults.js';
import { InvariantChecker, SafetyViolation } from './invariants.js';
import { checkKvHistory } from './linearizability.js';
import { SimNetwork } from './network.js';
import { type SimNode, SimNodes, persistedLogsOf } from './nodes.js';
import type { SimOptions, SimResult, SimStats } from './options.js';
import { type SimEvent, SimWorld } from './world.js';

export { FaultKind, simOptionsForSeed, type SimOptions, type SimResult, type SimStats } from './options.js';
export { describeFailure } from './trace.js';

export class Simulation {
  readonly options: SimOptions;
  readonly stats: SimStats;
  readonly #world: SimWorld;
  readonly #nodes: SimNodes;
  readonly #network: SimNetwork;
  readonly #clients: SimClients;
  readonly #faults: FaultInjector;

  constructor(options: SimOptions) {
    this.options = options;
    const world = new SimWorld(options);
    this.#world = world;
    this.stats = world.stats;
    const nodes = new Map<number, SimNode>();
    const checker = new InvariantChecker(persistedLogsOf(nodes), { ghost: options.ghostChecks });
    this.#network = new SimNetwork(world, checker);
    this.#nodes = new SimNodes(world, nodes, checker, this.#network, (event) => this.#handle(event));
    this.#clients = new SimClients(world, () => this.#nodes.randomNodeId());
    this.#faults = new FaultInjector(world, this.#nodes, this.#network);

    const voters = Array.from({ length: options.voters }, (_, i) => i + 1);
    const total = options.voters + options.spares;
    for (let id = 1; id <= total; id++) this.#nodes.add(id, id <= options.voters ? voters : []);
    for (let c = 0; c < options.clients; c++) this.#clients.add(total);
    world.schedule(this.#faults.nextDelay(), { kind: 'fault' });
    world.schedule(world.random.range(100, 300), { kind: 'admin' });
    world.schedule(options.faultPhaseMs, { kind: 'liveness' });
  }

  /** Runs to the end; returns the result instead of throwing on a violation. */
  run(): SimResult {
    const w = this.#world;
    let violation: string | undefined;
    try {
      const endMs = this.options.faultPhaseMs + this.options.livenessPhaseMs;
      for (;;) {
        const next = w.queue.pop();
        if (next === undefined || next.timeMs > endMs) break;
        w.nowMs = next.timeMs;
        this.stats.events++;
        this.#handle(next.event);
        if (w.liveness && this.stats.livenessWriteMs >= 0 && w.nowMs > w.livenessStartMs + 300) break;
      }
      this.#finalChecks();
    } catch (error) {
      if (error instanceof SafetyViolation || error instanceof RaftAssertionError) violation = error.message;
      else violation = `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      w.note(`!! ${violation}`);
    }
    return {
      options: this.options,
      ok: violation === undefined,
      violation,
      traceHash: w.trace.hash,
      stats: this.stats,
      traceTail: w.trace.tailLines(),
      history: this.#clients.historyForCheck(),
    };
  }

  #handle(event: SimEvent): void {
    const w = this.#world;
    switch (event.kind) {
      case 'tick':
        this.#nodes.tick(event);
        return;
      case 'deliver':
        this.#nodes.deliver(event);
        return;
      case 'disk':
        this.#nodes.diskEvent(event);
        return;
      case 'request':
        this.#nodes.request(event);
        return;
      case 'reply':
        this.#clients.onReply(event.client, event.reply);
        return;
      case 'client-next':
        this.#clients.next(event.client);
        return;
      case 'client-retry':
        this.#clients.retry(event.client, event.opId);
        return;
      case 'client-timeout':
        this.#clients.timeout(event.client, event.opId);
        return;
      case 'fault':
        if (w.liveness) return;
        this.#faults.inject();
        w.schedule(this.#faults.nextDelay(), { kind: 'fault' });
        return;
      case 'restart':
        this.#nodes.restart(event.node);
        return;
      case 'resume':
        this.#nodes.resume(this.#nodes.get(event.node));
        return;
      case 'heal':
        if (event.generation === this.#network.generation) this.#network.heal();
        return;
      case 'admin':
        if (w.liveness) return;
        this.#faults.adminChange();
        w.schedule(w.random.range(100, 400), { kind: 'admin' });
        return;
      case 'liveness':
        this.#startLiveness();
        return;
    }
  }

  /** The end of the fault phase: no more loss or duplication, every partition healed, every node back. */
  #startLiveness(): void {
    const w = this.#world;
    w.liveness = true;
    w.livenessStartMs = w.nowMs;
    this.#network.calm();
    w.note(`liveness phase: heal everything`);
    this.#network.heal();
    for (const node of this.#nodes.all()) {
      if (node.core === undefined) w.schedule(w.random.range(1, 20), { kind: 'restart', node: node.id });
      else if (node.paused) w.schedule(w.random.range(1, 20), { kind: 'resume', node: node.id });
    }
  }

  #finalChecks(): void {
    this.stats.writesUnknown = this.#clients.unansweredWrites();
    const result = checkKvHistory(this.#clients.historyForCheck(), 2_000_000);
    if (result.outcome === 'illegal') {
      throw new SafetyViolation('linearizability', `the history of key ${result.partition} is not linearizable (${result.operations} operations, longest linearizable prefix ${result.longestPrefix})`);
    }
    if (result.outcome === 'unknown') throw new SafetyViolation('linearizability', `the checker ran out of steps on key ${result.partition}`);
    if (this.stats.livenessWriteMs < 0) {
      throw new SafetyViolation('liveness', `no write issued after the final heal committed within ${this.options.livenessPhaseMs} ms`);
    }
  }
}

/** Runs one seed. */
export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
