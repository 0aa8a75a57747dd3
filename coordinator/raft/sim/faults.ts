/**
 * What disturbs the cluster during the fault phase: process faults (crashes and pauses, of a random
 * node or of the leader), network partitions (see network.ts for their shapes) and an
 * administrator who adds and removes voters and transfers leadership.
 *
 * Faults arrive as a Poisson process (exponential gaps with mean faultIntervalMs), drawn only from
 * the run's faultKinds. Each pause ends on its own after a while; a crashed node restarts after a
 * while (see nodes.ts); a partition heals after a while unless a newer one replaced it.
 */
import { StreamBusError } from '../../../proto/errors.js';
import type { SimNetwork } from './network.js';
import type { SimNode, SimNodes } from './nodes.js';
import { FaultKind } from './options.js';
import type { SimWorld } from './world.js';

export class FaultInjector {
  readonly #world: SimWorld;
  readonly #nodes: SimNodes;
  readonly #network: SimNetwork;

  constructor(world: SimWorld, nodes: SimNodes, network: SimNetwork) {
    this.#world = world;
    this.#nodes = nodes;
    this.#network = network;
  }

  /** The gap before the next fault. */
  nextDelay(): number {
    return -Math.log(1 - this.#world.random.float()) * this.#world.options.faultIntervalMs;
  }

  /** Injects one fault of a kind drawn from the run's mix. */
  inject(): void {
    const w = this.#world;
    const kind = w.random.pick(w.options.faultKinds);
    const ids = this.#nodes.ids();
    const leader = this.#nodes.leader();
    const target = (preferLeader: boolean): SimNode => (preferLeader && leader !== undefined ? leader : this.#nodes.get(w.random.pick(ids)));
    switch (kind) {
      case FaultKind.CRASH:
      case FaultKind.CRASH_LEADER:
        this.#nodes.crash(target(kind === FaultKind.CRASH_LEADER), kind);
        return;
      case FaultKind.PAUSE:
      case FaultKind.PAUSE_LEADER: {
        const node = target(kind === FaultKind.PAUSE_LEADER);
        if (node.core === undefined || node.paused) return;
        node.paused = true;
        w.stats.pauses++;
        w.note(`pause ${node.id}`);
        w.schedule(w.random.pick([20, 100, 300, 600]) * (0.5 + w.random.float()), { kind: 'resume', node: node.id });
        return;
      }
      case FaultKind.HEAL:
        this.#network.heal();
        return;
      default:
        this.#network.partition(kind, ids, (preferLeader) => target(preferLeader).id);
        return;
    }
  }

  /** The administrator's move, through the current leader: add or remove a voter, or transfer leadership. */
  adminChange(): void {
    const w = this.#world;
    const leader = this.#nodes.leader();
    const core = leader?.core;
    if (leader === undefined || core === undefined || leader.paused) return;
    const o = w.options;
    const voters = core.status().voters;
    const outside = this.#nodes.ids().filter((id) => !voters.includes(id));
    const canAdd = o.membershipChanges && outside.length > 0 && voters.length < o.voters + o.spares;
    const canRemove = o.membershipChanges && voters.length > Math.max(2, o.voters - 1);
    try {
      if (canAdd && (!canRemove || w.random.chance(0.5))) {
        const id = w.random.pick(outside);
        core.proposeMembershipChange({ type: 'add-voter', nodeId: id });
        w.note(`admin: add voter ${id} via ${leader.id}`);
      } else if (w.random.chance(0.25)) {
        const to = w.random.pick(voters);
        core.transferLeadership(to);
        w.note(`admin: transfer leadership ${leader.id} -> ${to}`);
      } else if (canRemove) {
        const id = w.random.pick(voters);
        core.proposeMembershipChange({ type: 'remove-voter', nodeId: id });
        w.note(`admin: remove voter ${id} via ${leader.id}`);
      } else if (w.random.chance(0.3)) {
        const to = w.random.pick(voters);
        core.transferLeadership(to);
        w.note(`admin: transfer leadership ${leader.id} -> ${to}`);
      }
    } catch (error) {
      if (!(error instanceof StreamBusError)) throw error;
    }
    this.#nodes.afterInput(leader);
  }
}
