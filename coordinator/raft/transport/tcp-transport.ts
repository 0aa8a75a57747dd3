/**
 * TcpRaftTransport: the RaftTransport of a coordinator node, over TCP, in the native protocol's
 * framing (proto/framing.ts) with the Raft peer protocol's bodies (proto/raft.proto, wire.ts).
 *
 * The Raft port speaks only this protocol, so its frame api numbers are its own (RaftApi in
 * wire.ts: 1 HELLO, 2 MESSAGE, 3 REFUSAL) and do not collide with the native protocol's table.
 *
 * Connections. Each node opens one connection to each peer it sends to and uses it only to send;
 * connections it accepts only receive. Messages to one peer therefore leave in one stream, in the
 * order send() was called. The opener's first frame is a HELLO (cluster id, its id, the id it
 * expects to reach, protocol version). The acceptor checks the cluster id (a mismatch is logged as
 * an error: two clusters are wired together), that `to` is itself (a stale address) and that `from`
 * is one of its peers (an unknown or removed member: logged as a warning, rate-limited, because it
 * retries every second). It answers with its own HELLO, or with a REFUSAL naming the error code and
 * closes. The opener checks the answer the same way (cluster id, that it reached the node it meant)
 * and sends nothing else until it has one, so no Raft message ever reaches a node of another
 * cluster. After the handshake the acceptor only reads: a MESSAGE whose `from` is not the node that
 * said hello, or whose `to` is not this node, is dropped and logged; a frame that does not decode
 * closes that connection only. A newer greeted connection from a peer replaces the older one.
 *
 * Queues and backpressure. send() encodes each message into a frame at once and appends it to the
 * peer's bounded queue (maxQueuedMessages frames, maxQueuedBytes bytes); it never blocks and never
 * throws for a network reason. A message that does not fit is dropped, the newest first, and the
 * peer reported unreachable: Raft retransmits what matters (heartbeats, probes), so dropping is
 * safe where blocking the core would not be. Frames leave the queue only while the socket accepts
 * them: writes are corked into one writev per flush, and when write() returns false the queue waits
 * for 'drain'. So the bytes held for a peer are its queue plus one socket buffer.
 *
 * Failures. A connection that fails to open (refused, timed out, refused by the peer's handshake)
 * or is lost reports the peer unreachable and, while frames wait for it, retries after a backoff:
 * 50 ms doubling to 1 s, each delay drawn uniformly from its upper half (the jitter keeps a
 * restarted cluster's nodes from reconnecting in lockstep). The queue is kept, within its bounds.
 * A peer with nothing to send is not redialled until something is queued for it.
 *
 * Unreachable reports are delivered from a microtask, at most once per peer per batch, never from
 * inside send(): the host may call back into the Raft core from the handler.
 *
 * Files. This one ties the parts together: the listener, the peer set, send(), status and close.
 * outbound-peer.ts holds a peer's queue, its outgoing connection and the reconnect backoff;
 * inbound-connection.ts the acceptor's handshake and the reading of messages; transport-settings.ts
 * the options, their defaults and their validation.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { silentLogger, type Logger } from '../../logger.js';
import type { Message } from '../index.js';
import { InboundConnection, type InboundHost } from './inbound-connection.js';
import { OutboundPeer, type OutboundHost } from './outbound-peer.js';
import type { PeerAddress, RaftTransport } from './raft-transport.js';
import { WarnLimiter, checkAddress, checkPeers, settingsOf, type Settings, type TcpRaftTransportOptions } from './transport-settings.js';
import { encodeRaftMessageFrame } from './wire.js';

export { reconnectDelayMs } from './outbound-peer.js';
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_QUEUED_MESSAGES,
  DEFAULT_RECONNECT_BACKOFF_MAX_MS,
  DEFAULT_RECONNECT_BACKOFF_MIN_MS,
  type TcpRaftTransportOptions,
} from './transport-settings.js';

/** One peer as the sending side sees it. */
export interface OutboundPeerStatus {
  readonly id: number;
  readonly address: PeerAddress;
  /** Handshake done: frames are flowing. */
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Messages dropped because the queue was full or the frame too large, since start. */
  readonly droppedMessages: number;
}

export interface TcpRaftTransportStatus {
  readonly nodeId: number;
  readonly address: PeerAddress;
  readonly peers: readonly OutboundPeerStatus[];
  /** Peers with a greeted incoming connection, ascending. */
  readonly inbound: readonly number[];
}

export class TcpRaftTransport implements RaftTransport {
  readonly #nodeId: number;
  readonly #clusterId: string;
  readonly #settings: Settings;
  readonly #random: () => number;
  readonly #localAddress: string | undefined;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #address: PeerAddress;
  readonly #peers = new Map<number, OutboundPeer>();
  readonly #inbound = new Set<InboundConnection>();
  /** The greeted incoming connection of each peer. */
  readonly #inboundByPeer = new Map<number, InboundConnection>();
  readonly #warnings = new WarnLimiter();
  #onMessage: ((message: Message) => void) | undefined;
  #onUnreachable: ((peerId: number) => void) | undefined;
  readonly #unreachable = new Set<number>();
  #closing: Promise<void> | undefined;
  readonly #outboundView: OutboundHost;
  readonly #inboundView: InboundHost;

  private constructor(options: TcpRaftTransportOptions, settings: Settings, server: Server, address: PeerAddress) {
    this.#nodeId = options.nodeId;
    this.#clusterId = options.clusterId;
    this.#settings = settings;
    this.#random = options.random ?? Math.random;
    this.#localAddress = options.localAddress;
    this.#log = options.logger ?? silentLogger;
    this.#server = server;
    this.#address = address;
    this.#outboundView = this.#outboundHost();
    this.#inboundView = this.#inboundHost();
    server.on('connection', (socket) => this.#accept(socket));
    server.on('error', (err) => this.#log.error({ nodeId: this.#nodeId, err }, 'raft listener failed'));
    this.setPeers(options.peers);
  }

  /**
   * Binds the listener and returns the transport. Rejects with INVALID_CONFIG for bad options and
   * with the listen error (EADDRINUSE, ...) when the port cannot be bound. No connection is opened
   * until something is sent.
   */
  static async start(options: TcpRaftTransportOptions): Promise<TcpRaftTransport> {
    const settings = settingsOf(options);
    checkAddress('listen', options.listen);
    checkPeers(options.peers);
    const server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 10_000 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.listen.host, port: options.listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('a TCP listener has an address with a port');
    const transport = new TcpRaftTransport(options, settings, server, { host: bound.address, port: bound.port });
    transport.#log.info({ nodeId: options.nodeId, address: transport.#address }, 'raft transport listening');
    return transport;
  }

  /** Where peers reach this node: the bound host and port. */
  get address(): PeerAddress {
    return this.#address;
  }

  /** Where received messages go. Messages that arrive before a handler is set are dropped (logged at debug). */
  onMessage(handler: (message: Message) => void): void {
    this.#onMessage = handler;
  }

  /** Told, from a microtask, when a peer cannot be reached: at most once per peer per batch of reports. */
  onUnreachable(handler: (peerId: number) => void): void {
    this.#onUnreachable = handler;
  }

  /**
   * Queues each message for its `to` peer, opening the connection if there is none, and returns.
   * A message for an unknown peer, one whose queue is full or one larger than maxFrameBytes is
   * dropped and the peer reported unreachable. After close() messages are dropped silently.
   * Throws StreamBusError(INVALID_REQUEST) for a message that is not a valid Raft message (a bug in
   * the caller); the messages before it are queued.
   */
  send(messages: readonly Message[]): void {
    if (this.#closing !== undefined) return;
    const touched = new Set<OutboundPeer>();
    try {
      for (const message of messages) {
        const peer = this.#peers.get(message.to);
        if (peer === undefined) {
          this.#log.debug({ nodeId: this.#nodeId, peer: message.to, type: message.type }, 'raft message for a node with no known address dropped');
          this.#reportUnreachable(message.to);
          continue;
        }
        const frame = encodeRaftMessageFrame(message);
        if (peer.enqueue(frame, message)) touched.add(peer);
      }
    } finally {
      for (const peer of touched) {
        if (peer.socket === undefined && peer.retryTimer === undefined) peer.connect();
        else peer.flush();
      }
    }
  }

  /**
   * Replaces the peer set. Peers that are new get a connection on their first send; peers that are
   * gone have their connections (both directions) closed and their queues dropped; a peer whose
   * address changed is redialled at the new one, keeping its queue.
   */
  setPeers(peers: ReadonlyMap<number, PeerAddress>): void {
    checkPeers(peers);
    if (this.#closing !== undefined) return;
    for (const [id, peer] of this.#peers) {
      if (peers.has(id) && id !== this.#nodeId) continue;
      this.#peers.delete(id);
      peer.dropConnection();
      peer.queue.clear();
      const inbound = this.#inboundByPeer.get(id);
      if (inbound !== undefined) inbound.close();
      this.#log.info({ nodeId: this.#nodeId, peer: id }, 'raft peer removed');
    }
    for (const [id, address] of peers) {
      if (id === this.#nodeId) continue;
      const peer = this.#peers.get(id);
      if (peer === undefined) {
        this.#peers.set(id, new OutboundPeer(id, { host: address.host, port: address.port }, this.#outboundView));
      } else if (peer.address.host !== address.host || peer.address.port !== address.port) {
        this.#log.info({ nodeId: this.#nodeId, peer: id, from: peer.address, to: address }, 'raft peer address changed');
        peer.address = { host: address.host, port: address.port };
        peer.dropConnection();
        peer.failures = 0;
        if (peer.queue.length > 0) peer.connect();
      }
    }
  }

  /** A snapshot of the connections and queues, for status pages and tests. */
  status(): TcpRaftTransportStatus {
    return {
      nodeId: this.#nodeId,
      address: this.#address,
      peers: [...this.#peers.values()]
        .sort((a, b) => a.id - b.id)
        .map((p) => ({ id: p.id, address: p.address, connected: p.ready, queuedMessages: p.queue.length, queuedBytes: p.queue.bytes, droppedMessages: p.droppedMessages })),
      inbound: [...this.#inboundByPeer.keys()].sort((a, b) => a - b),
    };
  }

  /**
   * Stops listening, closes every connection at once and drops every queued frame. Resolves once
   * the listener is closed; no timer or socket of this transport is left. Idempotent: later calls
   * return the same promise.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closing = new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
    });
    for (const peer of this.#peers.values()) {
      peer.dropConnection();
      peer.queue.clear();
    }
    this.#peers.clear();
    for (const connection of [...this.#inbound]) connection.close();
    this.#unreachable.clear();
    this.#log.info({ nodeId: this.#nodeId }, 'raft transport closed');
    return this.#closing;
  }

  // -------------------------------------------------------------------------------------------
  // Shared with the connections

  /** The transport as its outbound peers see it. */
  #outboundHost(): OutboundHost {
    return {
      nodeId: this.#nodeId,
      clusterId: this.#clusterId,
      settings: this.#settings,
      log: this.#log,
      warnings: this.#warnings,
      random: this.#random,
      localAddress: this.#localAddress,
      isClosing: () => this.#closing !== undefined,
      isCurrent: (peer) => this.#closing === undefined && this.#peers.get(peer.id) === peer,
      reportUnreachable: (peerId) => this.#reportUnreachable(peerId),
    };
  }

  /** The transport as its inbound connections see it. */
  #inboundHost(): InboundHost {
    return {
      nodeId: this.#nodeId,
      clusterId: this.#clusterId,
      settings: this.#settings,
      log: this.#log,
      warnings: this.#warnings,
      isPeer: (nodeId) => this.#peers.has(nodeId),
      adopt: (connection) => {
        const older = this.#inboundByPeer.get(connection.peerId);
        if (older !== undefined) older.close();
        this.#inboundByPeer.set(connection.peerId, connection);
      },
      forget: (connection) => {
        this.#inbound.delete(connection);
        if (connection.peerId !== 0 && this.#inboundByPeer.get(connection.peerId) === connection) this.#inboundByPeer.delete(connection.peerId);
      },
      messageHandler: () => this.#onMessage,
    };
  }

  #reportUnreachable(peerId: number): void {
    if (this.#closing !== undefined) return;
    if (this.#unreachable.size === 0) queueMicrotask(() => this.#deliverUnreachable());
    this.#unreachable.add(peerId);
  }

  #deliverUnreachable(): void {
    const ids = [...this.#unreachable];
    this.#unreachable.clear();
    if (this.#closing !== undefined) return;
    for (const id of ids) {
      try {
        this.#onUnreachable?.(id);
      } catch (err) {
        this.#log.error({ nodeId: this.#nodeId, peer: id, err }, 'raft unreachable handler threw');
      }
    }
  }

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    this.#inbound.add(new InboundConnection(socket, this.#inboundView));
  }
}
