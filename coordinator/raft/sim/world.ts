/**
 * The shared frame of one simulated run: its options, its one random stream, its virtual clock and
 * event queue, its statistics and its trace.
 *
 * Every model of the run (network.ts, nodes.ts, clients.ts, faults.ts) schedules its events on
 * this one queue and draws from this one Prng, in the order the events happen. Nothing else is
 * random and nothing reads a real clock, so a seed replays to the same trace hash, event for event.
 */
import type { Message } from '../types.js';
import type { ClientReply, ClientRequest } from './clients.js';
import { EventQueue } from './event-queue.js';
import { type SimOptions, type SimStats, emptyStats } from './options.js';
import { Prng } from './prng.js';
import { Trace } from './trace.js';

export type SimEvent =
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

export class SimWorld {
  readonly options: SimOptions;
  readonly random: Prng;
  readonly queue = new EventQueue<SimEvent>();
  readonly stats: SimStats = emptyStats();
  readonly trace = new Trace();
  /** Virtual time of the event being handled. */
  nowMs = 0;
  /** The final phase: no new faults, everything healed, and a write issued now must commit. */
  liveness = false;
  livenessStartMs = Infinity;

  constructor(options: SimOptions) {
    this.options = options;
    this.random = new Prng(options.seed);
  }

  schedule(delayMs: number, event: SimEvent): void {
    this.queue.push(this.nowMs + delayMs, event);
  }

  /** Records a rare event (fault, election, client outcome) in the trace. */
  note(line: string): void {
    this.trace.line(this.nowMs, line);
  }
}
