/**
 * The simulated clients: each runs one operation at a time against a key-value store kept in the
 * Raft log, and every operation goes into the history that the linearizability checker judges at
 * the end of the run.
 *
 * A client sends to the node it believes leads, follows redirects, and retries when a write is
 * known lost (another entry took its index, so retrying cannot apply it twice). A timeout leaves
 * the outcome unknown: the write may still commit, so it is never retried with the same value and
 * enters the history as possibly applied. Every value written is unique (client and op id), which
 * is what lets the checker tell writes apart.
 */
import type { KvInput, KvOperation } from './linearizability.js';
import type { SimWorld } from './world.js';

export interface ClientRequest {
  readonly client: number;
  readonly opId: number;
  readonly attempt: number;
  readonly input: KvInput;
}

export type ClientReply =
  | { readonly opId: number; readonly attempt: number; readonly type: 'ok'; readonly value: string | null }
  | { readonly opId: number; readonly attempt: number; readonly type: 'redirect'; readonly leaderId: number }
  | { readonly opId: number; readonly attempt: number; readonly type: 'lost' };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

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

/** Sends a node's answer back to the client that asked, after a short network delay. */
export function scheduleReply(world: SimWorld, request: ClientRequest, reply: DistributiveOmit<ClientReply, 'opId' | 'attempt'>): void {
  world.schedule(world.random.range(1, 3), { kind: 'reply', client: request.client, reply: { ...reply, opId: request.opId, attempt: request.attempt } as ClientReply });
}

export class SimClients {
  readonly #world: SimWorld;
  /** A node id to try when no leader is known. */
  readonly #randomNodeId: () => number;
  readonly #clients: ClientState[] = [];
  readonly #history: HistoryRecord[] = [];

  constructor(world: SimWorld, randomNodeId: () => number) {
    this.#world = world;
    this.#randomNodeId = randomNodeId;
  }

  /** Adds a client that first guesses a random one of `nodeCount` nodes leads, and starts it soon. */
  add(nodeCount: number): void {
    const w = this.#world;
    const id = this.#clients.length + 1;
    this.#clients.push({ id, leaderGuess: 1 + w.random.int(nodeCount), opId: 0, attempt: 0, current: undefined });
    w.schedule(w.random.range(0, 50), { kind: 'client-next', client: id });
  }

  /** Starts the client's next operation: a read or a write of a random key. */
  next(clientId: number): void {
    const w = this.#world;
    const client = this.#clients[clientId - 1]!;
    client.opId++;
    client.attempt = 0;
    const key = `k${w.random.int(w.options.keys)}`;
    const input: KvInput = w.random.chance(w.options.readRate) ? { kind: 'get', key } : { kind: 'put', key, value: `c${client.id}.${client.opId}` };
    const record: HistoryRecord = { clientId: client.id, input, output: null, callMs: w.nowMs, returnMs: Infinity, status: 'pending' };
    this.#history.push(record);
    client.current = record;
    w.schedule(w.options.opTimeoutMs, { kind: 'client-timeout', client: client.id, opId: client.opId });
    this.#sendAttempt(client);
  }

  /** Retries the operation `opId` if it is still the client's pending one. */
  retry(clientId: number, opId: number): void {
    const client = this.#clients[clientId - 1]!;
    if (client.current?.status === 'pending' && client.opId === opId) this.#sendAttempt(client);
  }

  /** Gives up on operation `opId` if it is still pending: its outcome is unknown. */
  timeout(clientId: number, opId: number): void {
    const w = this.#world;
    const client = this.#clients[clientId - 1]!;
    const op = client.current;
    if (op === undefined || client.opId !== opId || op.status !== 'pending') return;
    // The outcome is unknown: the write may still commit. Never retry it with the same value.
    op.status = 'unknown';
    client.current = undefined;
    client.leaderGuess = this.#randomNodeId();
    w.note(`client ${client.id} op ${op.input.kind} ${op.input.key} timed out`);
    w.schedule(w.random.range(0, 20), { kind: 'client-next', client: client.id });
  }

  onReply(clientId: number, reply: ClientReply): void {
    const w = this.#world;
    const client = this.#clients[clientId - 1]!;
    const op = client.current;
    if (op === undefined || op.status !== 'pending' || reply.opId !== client.opId || reply.attempt !== client.attempt) return;
    switch (reply.type) {
      case 'ok':
        op.status = 'ok';
        op.returnMs = w.nowMs;
        op.output = op.input.kind === 'get' ? reply.value : null;
        if (op.input.kind === 'put') {
          w.stats.writesOk++;
          if (w.liveness && op.callMs >= w.livenessStartMs && w.stats.livenessWriteMs < 0) {
            w.stats.livenessWriteMs = w.nowMs - w.livenessStartMs;
          }
        } else {
          w.stats.readsOk++;
        }
        w.note(`client ${clientId} ${op.input.kind} ${op.input.key}${op.input.kind === 'put' ? `=${op.input.value}` : ` -> ${String(reply.value)}`} ok`);
        client.current = undefined;
        w.schedule(w.random.range(0, 20), { kind: 'client-next', client: clientId });
        return;
      case 'lost':
        // Another entry took the index: this attempt definitely failed, so retrying is safe.
        w.stats.writesLost++;
        client.leaderGuess = this.#randomNodeId();
        w.schedule(w.random.range(5, 15), { kind: 'client-retry', client: clientId, opId: client.opId });
        return;
      case 'redirect':
        client.leaderGuess = reply.leaderId !== 0 ? reply.leaderId : this.#randomNodeId();
        w.schedule(w.random.range(5, 15), { kind: 'client-retry', client: clientId, opId: client.opId });
        return;
    }
  }

  /** Writes that never got an answer: they may or may not have happened. */
  unansweredWrites(): number {
    return this.#history.filter((r) => r.input.kind === 'put' && r.status !== 'ok').length;
  }

  /** The history as the linearizability checker takes it. */
  historyForCheck(): KvOperation[] {
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

  #sendAttempt(client: ClientState): void {
    const w = this.#world;
    const op = client.current;
    if (op === undefined) return;
    client.attempt++;
    const request: ClientRequest = { client: client.id, opId: client.opId, attempt: client.attempt, input: op.input };
    w.schedule(w.random.range(1, 3), { kind: 'request', node: client.leaderGuess, request });
  }
}
