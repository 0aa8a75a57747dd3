/**
 * The simulated network: it loses, duplicates and delays messages (a slow share up to ten times
 * the usual delay, which reorders them behind later ones), and it partitions the nodes.
 *
 * A partition is a set of blocked one-way links. The shapes: a node isolated both ways, a split
 * into two sides, random one-way cuts, and a bridge (the partial partition behind the 2020 etcd
 * outage), where two sides reach each other only through one node that sees everyone. Partitions
 * replace each other, and each heals after a while unless a newer one replaced it first.
 */
import type { Message } from '../types.js';
import type { InvariantChecker } from './invariants.js';
import { FaultKind } from './options.js';
import type { SimWorld } from './world.js';

/** The fault kinds that cut links. */
export type PartitionKind = typeof FaultKind.ISOLATE | typeof FaultKind.ISOLATE_LEADER | typeof FaultKind.SPLIT | typeof FaultKind.ONE_WAY | typeof FaultKind.BRIDGE;

export class SimNetwork {
  readonly #world: SimWorld;
  readonly #checker: InvariantChecker;
  /** Blocked links, as from * 64 + to. */
  readonly #blocked = new Set<number>();
  #generation = 0;
  #dropRate: number;
  #duplicateRate: number;

  constructor(world: SimWorld, checker: InvariantChecker) {
    this.#world = world;
    this.#checker = checker;
    this.#dropRate = world.options.dropRate;
    this.#duplicateRate = world.options.duplicateRate;
  }

  /** Counts the current partition; a scheduled heal of an older one is ignored. */
  get generation(): number {
    return this.#generation;
  }

  /** Puts a message on the wire: checked, counted, then dropped, delivered once, or twice. */
  send(m: Message): void {
    const w = this.#world;
    this.#checker.checkSent(m);
    w.stats.messagesSent++;
    if (m.type === 'snapshot') w.stats.snapshotsSent++;
    if (m.type === 'timeout-now') w.stats.transfers++;
    if (this.#blocked.has(m.from * 64 + m.to) || w.random.chance(this.#dropRate)) {
      w.stats.messagesDropped++;
      return;
    }
    const copies = w.random.chance(this.#duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = w.options.minDelayMs + w.random.float() * (w.options.maxDelayMs - w.options.minDelayMs);
      if (w.random.chance(w.options.slowRate)) delay *= 1 + 9 * w.random.float();
      w.schedule(delay, { kind: 'deliver', message: m });
    }
  }

  /** Unblocks every link and ends the current partition. */
  heal(): void {
    if (this.#blocked.size > 0) this.#world.note(`heal`);
    this.#blocked.clear();
    this.#generation++;
  }

  /** The liveness phase: no more loss or duplication (delays stay). */
  calm(): void {
    this.#dropRate = 0;
    this.#duplicateRate = 0;
  }

  /**
   * Replaces any partition by a new one of `kind` among `ids`, and schedules its heal. `target`
   * picks the node to isolate (the leader when asked for and known).
   */
  partition(kind: PartitionKind, ids: readonly number[], target: (preferLeader: boolean) => number): void {
    const w = this.#world;
    this.heal();
    w.stats.partitions++;
    const generation = this.#generation;
    const shuffled = ids.map((id) => ({ id, r: w.random.float() })).sort((a, b) => a.r - b.r).map((x) => x.id);
    let description: string;
    switch (kind) {
      case FaultKind.ISOLATE:
      case FaultKind.ISOLATE_LEADER: {
        const isolated = target(kind === FaultKind.ISOLATE_LEADER);
        for (const other of ids) {
          if (other === isolated) continue;
          this.#cut(isolated, other);
          this.#cut(other, isolated);
        }
        description = `isolate ${isolated}`;
        break;
      }
      case FaultKind.SPLIT: {
        const cutAt = 1 + w.random.int(ids.length - 1);
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
        const links = 1 + w.random.int(ids.length);
        const cuts: string[] = [];
        for (let i = 0; i < links; i++) {
          const from = w.random.pick(ids);
          const to = w.random.pick(ids);
          if (from === to) continue;
          this.#cut(from, to);
          cuts.push(`${from}->${to}`);
        }
        description = `one-way ${cuts.join(' ')}`;
        break;
      }
      case FaultKind.BRIDGE: {
        // Two sides that reach each other only through one node, which sees everyone.
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
    w.note(`partition: ${description}`);
    w.schedule(w.random.pick([50, 200, 500, 1000]) * (0.5 + w.random.float()), { kind: 'heal', generation });
  }

  #cut(from: number, to: number): void {
    this.#blocked.add(from * 64 + to);
  }
}
