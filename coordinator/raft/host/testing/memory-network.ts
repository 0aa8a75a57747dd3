/**
 * An in-process network of RaftTransports, for RaftHost tests: a stand-in for TCP only (storage in
 * those tests is the real LevelRaftStorage). It keeps the transport contract: best-effort delivery,
 * never blocking the sender, order kept per (sender, receiver), a message to a peer without an
 * address dropped and reported unreachable. Delivery happens on setImmediate, never inside send(),
 * so a host is never re-entered while it runs its Ready loop. Messages are structured-cloned on
 * the way, as a real network would copy them.
 *
 * Faults: isolate a node, partition groups, cut single links one way, drop messages matching a
 * predicate, heal everything. A node may reconnect (a restart) after its transport was closed.
 */
import type { Message } from '../../index.js';
import type { PeerAddress, RaftTransport } from '../../transport/raft-transport.js';

type MessageHandler = (message: Message) => void;
type UnreachableHandler = (peerId: number) => void;

export class MemoryTransport implements RaftTransport {
  readonly id: number;
  readonly #network: MemoryNetwork;
  #onMessage: MessageHandler | undefined;
  #onUnreachable: UnreachableHandler | undefined;
  #peers: ReadonlySet<number> = new Set();
  #closed = false;

  constructor(network: MemoryNetwork, id: number) {
    this.#network = network;
    this.id = id;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(messages: readonly Message[]): void {
    if (this.#closed) return;
    this.#network.recordSent(this.id, messages.length);
    for (const message of messages) {
      if (!this.#peers.has(message.to)) {
        this.#unreachableLater(message.to);
        continue;
      }
      this.#network.route(message);
    }
  }

  onMessage(handler: MessageHandler): void {
    this.#onMessage = handler;
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.#onUnreachable = handler;
  }

  setPeers(peers: ReadonlyMap<number, PeerAddress>): void {
    this.#peers = new Set(peers.keys());
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#network.detach(this);
    return Promise.resolve();
  }

  /** Called by the network on delivery. */
  deliver(message: Message): void {
    if (!this.#closed) this.#onMessage?.(message);
  }

  #unreachableLater(peerId: number): void {
    setImmediate(() => {
      if (!this.#closed) this.#onUnreachable?.(peerId);
    });
  }
}

export class MemoryNetwork {
  readonly #nodes = new Map<number, MemoryTransport>();
  /** Cut links, as "from>to". */
  readonly #cut = new Set<string>();
  readonly #isolated = new Set<number>();
  #drop: ((message: Message) => boolean) | undefined;
  readonly #sent = new Map<number, number>();
  #delivered = 0;

  /** The transport of node `id`; a node whose previous transport was closed may connect again. */
  connect(id: number): MemoryTransport {
    const existing = this.#nodes.get(id);
    if (existing !== undefined && !existing.closed) throw new Error(`node ${id} is already connected to the memory network`);
    const transport = new MemoryTransport(this, id);
    this.#nodes.set(id, transport);
    return transport;
  }

  /** Peer map with a placeholder address for each id (the memory network routes by id). */
  static peers(ids: readonly number[]): Map<number, PeerAddress> {
    return new Map(ids.map((id) => [id, { host: '127.0.0.1', port: 1 }]));
  }

  /** Cuts every link to and from `id` (including nodes that connect later), until heal(). */
  isolate(id: number): void {
    this.#isolated.add(id);
  }

  /** Cuts the one-way link from → to. */
  cut(from: number, to: number): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Cuts every link between the groups (both ways). */
  partition(groupA: readonly number[], groupB: readonly number[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  /** Drops every message for which `predicate` returns true, until cleared with undefined. */
  dropWhere(predicate: ((message: Message) => boolean) | undefined): void {
    this.#drop = predicate;
  }

  /** Restores every link and stops dropping. */
  heal(): void {
    this.#cut.clear();
    this.#isolated.clear();
    this.#drop = undefined;
  }

  /** Messages node `id`'s transports were asked to send, in total (dropped ones included). */
  sentBy(id: number): number {
    return this.#sent.get(id) ?? 0;
  }

  get delivered(): number {
    return this.#delivered;
  }

  /** Delivers `message` to its `to` as if it came off the wire, bypassing the sender's peer map. */
  inject(message: Message): void {
    this.route(message);
  }

  recordSent(id: number, count: number): void {
    this.#sent.set(id, this.sentBy(id) + count);
  }

  route(message: Message): void {
    if (this.#isCut(message) || this.#drop?.(message) === true) return;
    const copy = structuredClone(message);
    setImmediate(() => {
      // Checked again at delivery: a cut made meanwhile loses messages in flight, as a real one would.
      if (this.#isCut(message)) return;
      const target = this.#nodes.get(message.to);
      if (target === undefined || target.closed) return;
      this.#delivered++;
      target.deliver(copy);
    });
  }

  #isCut(message: Message): boolean {
    return this.#isolated.has(message.from) || this.#isolated.has(message.to) || this.#cut.has(`${message.from}>${message.to}`);
  }

  detach(transport: MemoryTransport): void {
    if (this.#nodes.get(transport.id) === transport) this.#nodes.delete(transport.id);
  }
}
