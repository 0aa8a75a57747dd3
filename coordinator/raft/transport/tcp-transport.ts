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
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { ErrorCode, StreamBusError, errorName } from '../../../proto/errors.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, type Frame } from '../../../proto/framing.js';
import { silentLogger, type Logger } from '../../logger.js';
import type { Message } from '../index.js';
import type { PeerAddress, RaftTransport } from './raft-transport.js';
import {
  RAFT_PROTOCOL_VERSION,
  RaftApi,
  decodeHello,
  decodeRaftMessage,
  decodeRefusal,
  encodeHelloFrame,
  encodeRaftMessageFrame,
  encodeRefusalFrame,
  type Hello,
} from './wire.js';

export const DEFAULT_MAX_QUEUED_MESSAGES = 4096;
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
export const DEFAULT_RECONNECT_BACKOFF_MIN_MS = 50;
export const DEFAULT_RECONNECT_BACKOFF_MAX_MS = 1000;
/**
 * Repeated warnings and errors about one cause (an unknown node or another cluster's node retrying
 * every second, a peer refusing us) are logged at most this often.
 */
const WARN_INTERVAL_MS = 10_000;
/** The largest handshake frame (a HELLO or a REFUSAL, both tiny), and what a stranger may send before its hello. */
const MAX_HANDSHAKE_FRAME_BYTES = 64 * 1024;

export interface TcpRaftTransportOptions {
  /** This node's id (a positive integer). */
  readonly nodeId: number;
  /** Every node of the cluster has the same one; peers with another are refused. Not empty. */
  readonly clusterId: string;
  /** Where to accept peer connections; port 0 binds an ephemeral port (see `address`). */
  readonly listen: PeerAddress;
  /** The other nodes and their Raft addresses. An entry for this node itself is ignored. */
  readonly peers: ReadonlyMap<number, PeerAddress>;
  /** Frames queued per peer, at most. Default 4096. */
  readonly maxQueuedMessages?: number;
  /** Bytes of frames queued per peer, at most. Default 64 MiB. */
  readonly maxQueuedBytes?: number;
  /** Largest frame sent or accepted, length field included. Default 64 MiB + 1 KiB (a 64 MiB body). */
  readonly maxFrameBytes?: number;
  /** Time for a connection to open and finish its handshake, either side. Default 2000 ms. */
  readonly connectTimeoutMs?: number;
  /** First reconnect delay; it doubles per failure. Default 50 ms. */
  readonly reconnectBackoffMinMs?: number;
  /** Largest reconnect delay. Default 1000 ms. */
  readonly reconnectBackoffMaxMs?: number;
  /** Uniform in [0, 1): the backoff jitter. Default Math.random; tests pass a seeded one. */
  readonly random?: () => number;
  /** The local address outgoing connections bind (multi-node tests on 127.0.0.x). Default: the system picks it. */
  readonly localAddress?: string;
  readonly logger?: Logger;
}

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

/**
 * The reconnect delay after `failures` consecutive failures (1 for the first): min·2^(failures-1),
 * capped at max, then drawn uniformly from the upper half of that ([d/2, d)) with `random`.
 */
export function reconnectDelayMs(failures: number, minMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return ceiling / 2 + (ceiling / 2) * random();
}

/** A FIFO of encoded frames with running totals. */
class FrameQueue {
  #frames: (Buffer | undefined)[] = [];
  #head = 0;
  bytes = 0;

  get length(): number {
    return this.#frames.length - this.#head;
  }

  push(frame: Buffer): void {
    this.#frames.push(frame);
    this.bytes += frame.length;
  }

  shift(): Buffer | undefined {
    if (this.#head === this.#frames.length) return undefined;
    const frame = this.#frames[this.#head] as Buffer;
    this.#frames[this.#head++] = undefined;
    this.bytes -= frame.length;
    if (this.#head === this.#frames.length) this.clear();
    else if (this.#head >= 1024 && this.#head * 2 >= this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#head = 0;
    }
    return frame;
  }

  clear(): void {
    this.#frames = [];
    this.#head = 0;
    this.bytes = 0;
  }
}

/** Lets one warning per key through per interval; remembers a bounded number of keys. */
class WarnLimiter {
  readonly #lastMs = new Map<string, number>();

  allow(key: string): boolean {
    const now = performance.now();
    const last = this.#lastMs.get(key);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) return false;
    if (this.#lastMs.size >= 1024) this.#lastMs.clear();
    this.#lastMs.set(key, now);
    return true;
  }
}

interface OutboundPeer {
  readonly id: number;
  address: PeerAddress;
  readonly queue: FrameQueue;
  socket: Socket | undefined;
  /** The peer answered our hello: frames may be written. */
  ready: boolean;
  waitingForDrain: boolean;
  /** Consecutive failed or lost connections, for the backoff; 0 after a good handshake. */
  failures: number;
  connectTimer: NodeJS.Timeout | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  droppedMessages: number;
}

interface InboundConnection {
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  readonly remote: string;
  /** The node that said hello; 0 until then. */
  peerId: number;
  helloTimer: NodeJS.Timeout | undefined;
}

interface Settings {
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly maxFrameBytes: number;
  readonly connectTimeoutMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a positive integer, got ${value}`);
  return value;
}

function settingsOf(o: TcpRaftTransportOptions): Settings {
  if (!Number.isSafeInteger(o.nodeId) || o.nodeId < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `nodeId must be a positive integer, got ${o.nodeId}`);
  if (typeof o.clusterId !== 'string' || o.clusterId === '') throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'clusterId must not be empty');
  const settings: Settings = {
    maxQueuedMessages: positiveInteger('maxQueuedMessages', o.maxQueuedMessages, DEFAULT_MAX_QUEUED_MESSAGES),
    maxQueuedBytes: positiveInteger('maxQueuedBytes', o.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES),
    maxFrameBytes: positiveInteger('maxFrameBytes', o.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES),
    connectTimeoutMs: positiveInteger('connectTimeoutMs', o.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    backoffMinMs: positiveInteger('reconnectBackoffMinMs', o.reconnectBackoffMinMs, DEFAULT_RECONNECT_BACKOFF_MIN_MS),
    backoffMaxMs: positiveInteger('reconnectBackoffMaxMs', o.reconnectBackoffMaxMs, DEFAULT_RECONNECT_BACKOFF_MAX_MS),
  };
  if (settings.backoffMaxMs < settings.backoffMinMs) throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'reconnectBackoffMaxMs is below reconnectBackoffMinMs');
  // A frame needs its 12-byte header; the FrameDecoder refuses a smaller bound.
  if (settings.maxFrameBytes < 64) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `maxFrameBytes must be at least 64, got ${settings.maxFrameBytes}`);
  return settings;
}

function checkAddress(what: string, address: PeerAddress): void {
  if (typeof address.host !== 'string' || address.host === '' || !Number.isInteger(address.port) || address.port < 0 || address.port > 65535) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${what} must be a host and a port in 0..65535, got ${JSON.stringify(address)}`);
  }
}

function checkPeers(peers: ReadonlyMap<number, PeerAddress>): void {
  for (const [id, address] of peers) {
    if (!Number.isSafeInteger(id) || id < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `peer id must be a positive integer, got ${id}`);
    checkAddress(`the address of peer ${id}`, address);
  }
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

  private constructor(options: TcpRaftTransportOptions, settings: Settings, server: Server, address: PeerAddress) {
    this.#nodeId = options.nodeId;
    this.#clusterId = options.clusterId;
    this.#settings = settings;
    this.#random = options.random ?? Math.random;
    this.#localAddress = options.localAddress;
    this.#log = options.logger ?? silentLogger;
    this.#server = server;
    this.#address = address;
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
        if (this.#enqueue(peer, frame, message)) touched.add(peer);
      }
    } finally {
      for (const peer of touched) {
        if (peer.socket === undefined && peer.retryTimer === undefined) this.#connect(peer);
        else this.#flush(peer);
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
      this.#dropConnection(peer);
      peer.queue.clear();
      const inbound = this.#inboundByPeer.get(id);
      if (inbound !== undefined) this.#closeInbound(inbound);
      this.#log.info({ nodeId: this.#nodeId, peer: id }, 'raft peer removed');
    }
    for (const [id, address] of peers) {
      if (id === this.#nodeId) continue;
      const peer = this.#peers.get(id);
      if (peer === undefined) {
        this.#peers.set(id, newPeer(id, { host: address.host, port: address.port }));
      } else if (peer.address.host !== address.host || peer.address.port !== address.port) {
        this.#log.info({ nodeId: this.#nodeId, peer: id, from: peer.address, to: address }, 'raft peer address changed');
        peer.address = { host: address.host, port: address.port };
        this.#dropConnection(peer);
        peer.failures = 0;
        if (peer.queue.length > 0) this.#connect(peer);
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
      this.#dropConnection(peer);
      peer.queue.clear();
    }
    this.#peers.clear();
    for (const connection of [...this.#inbound]) this.#closeInbound(connection);
    this.#unreachable.clear();
    this.#log.info({ nodeId: this.#nodeId }, 'raft transport closed');
    return this.#closing;
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  /** Appends a frame to the peer's queue, or drops it (and reports) when it does not fit. */
  #enqueue(peer: OutboundPeer, frame: Buffer, message: Message): boolean {
    const { maxQueuedMessages, maxQueuedBytes, maxFrameBytes } = this.#settings;
    let why: string | undefined;
    if (frame.length > maxFrameBytes) why = `its frame of ${frame.length} bytes exceeds maxFrameBytes ${maxFrameBytes}`;
    else if (peer.queue.length >= maxQueuedMessages) why = `the queue holds ${maxQueuedMessages} messages`;
    else if (peer.queue.bytes + frame.length > maxQueuedBytes) why = `the queue would pass ${maxQueuedBytes} bytes`;
    if (why === undefined) {
      peer.queue.push(frame);
      return true;
    }
    peer.droppedMessages++;
    if (this.#warnings.allow(`drop:${peer.id}`)) {
      this.#log.warn({ nodeId: this.#nodeId, peer: peer.id, type: message.type, droppedMessages: peer.droppedMessages }, `raft message dropped: ${why}`);
    }
    this.#reportUnreachable(peer.id);
    return false;
  }

  #connect(peer: OutboundPeer): void {
    const socket = connect({
      host: peer.address.host,
      port: peer.address.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 10_000,
      ...(this.#localAddress === undefined ? {} : { localAddress: this.#localAddress }),
    });
    peer.socket = socket;
    peer.ready = false;
    peer.waitingForDrain = false;
    const decoder = new FrameDecoder({ maxFrameBytes: MAX_HANDSHAKE_FRAME_BYTES });
    let failure: string | undefined;
    const fail = (why: string): void => {
      failure ??= why;
      socket.destroy();
    };
    peer.connectTimer = setTimeout(() => fail(`no handshake within ${this.#settings.connectTimeoutMs} ms`), this.#settings.connectTimeoutMs);
    socket.on('connect', () => {
      socket.write(encodeHelloFrame({ clusterId: this.#clusterId, from: this.#nodeId, to: peer.id, protocolVersion: RAFT_PROTOCOL_VERSION }));
    });
    socket.on('data', (chunk: Buffer) => {
      if (peer.socket !== socket) return;
      decoder.push(chunk);
      try {
        for (let frame = decoder.next(); frame !== undefined && !socket.destroyed; frame = decoder.next()) this.#onHandshakeFrame(peer, frame, fail);
      } catch (err) {
        fail(`the peer sent a bad frame: ${(err as Error).message}`);
      }
    });
    socket.on('drain', () => {
      if (peer.socket !== socket) return;
      peer.waitingForDrain = false;
      this.#flush(peer);
    });
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => {
      if (peer.socket === socket) this.#connectionLost(peer, failure ?? 'the peer closed the connection');
    });
  }

  /** A frame on an outgoing connection: only the peer's answer to our hello may arrive. */
  #onHandshakeFrame(peer: OutboundPeer, frame: Frame, fail: (why: string) => void): void {
    if (peer.ready) return fail(`the peer sent a frame (api ${frame.api}) after the handshake`);
    if (frame.api === RaftApi.REFUSAL) {
      const refusal = decodeRefusal(frame.body);
      const code = errorName(refusal.errorCode);
      const fields = { nodeId: this.#nodeId, peer: peer.id, address: peer.address, code, reason: refusal.errorMessage };
      if (this.#warnings.allow(`refused:${peer.id}:${code}`)) {
        if (refusal.errorCode === ErrorCode.INCONSISTENT_CLUSTER_ID) this.#log.error(fields, 'raft peer refused us: it belongs to another cluster');
        else this.#log.warn(fields, 'raft peer refused our connection');
      }
      return fail(`refused: ${code}: ${refusal.errorMessage}`);
    }
    if (frame.api !== RaftApi.HELLO) return fail(`the peer answered with api ${frame.api}, not a hello`);
    const hello = decodeHello(frame.body);
    if (hello.clusterId !== this.#clusterId) {
      if (this.#warnings.allow(`answered-cluster:${peer.id}`)) {
        this.#log.error(
          { nodeId: this.#nodeId, peer: peer.id, address: peer.address, code: errorName(ErrorCode.INCONSISTENT_CLUSTER_ID), theirs: hello.clusterId, ours: this.#clusterId },
          'raft peer belongs to another cluster',
        );
      }
      return fail('INCONSISTENT_CLUSTER_ID');
    }
    if (hello.from !== peer.id || hello.to !== this.#nodeId) {
      if (this.#warnings.allow(`wrong-node:${peer.id}`)) {
        this.#log.warn({ nodeId: this.#nodeId, peer: peer.id, address: peer.address, answeredAs: hello.from }, 'raft peer address is served by another node');
      }
      return fail(`node ${hello.from} answered at the address of node ${peer.id}`);
    }
    clearTimeout(peer.connectTimer);
    peer.connectTimer = undefined;
    peer.ready = true;
    if (peer.failures > 0) this.#log.info({ nodeId: this.#nodeId, peer: peer.id, address: peer.address }, 'raft peer reachable again');
    peer.failures = 0;
    this.#flush(peer);
  }

  /** Writes queued frames while the socket takes them, corked into one writev. */
  #flush(peer: OutboundPeer): void {
    const socket = peer.socket;
    if (socket === undefined || !peer.ready || peer.waitingForDrain || peer.queue.length === 0) return;
    socket.cork();
    for (let frame = peer.queue.shift(); frame !== undefined; frame = peer.queue.shift()) {
      if (!socket.write(frame)) {
        peer.waitingForDrain = true;
        break;
      }
    }
    socket.uncork();
  }

  /** A connection attempt failed or an established connection broke. */
  #connectionLost(peer: OutboundPeer, why: string): void {
    const wasReady = peer.ready;
    this.#dropConnection(peer);
    if (this.#closing !== undefined || this.#peers.get(peer.id) !== peer) return;
    peer.failures++;
    const fields = { nodeId: this.#nodeId, peer: peer.id, address: peer.address, reason: why, failures: peer.failures };
    const message = wasReady ? 'raft peer connection lost' : 'raft peer unreachable';
    if (this.#warnings.allow(`lost:${peer.id}`)) this.#log.warn(fields, message);
    else this.#log.debug(fields, message);
    this.#reportUnreachable(peer.id);
    const delay = reconnectDelayMs(peer.failures, this.#settings.backoffMinMs, this.#settings.backoffMaxMs, this.#random);
    peer.retryTimer = setTimeout(() => {
      peer.retryTimer = undefined;
      // Redial only for something to send; otherwise the next send() dials.
      if (peer.queue.length > 0 && peer.socket === undefined && this.#closing === undefined) this.#connect(peer);
    }, delay);
  }

  /** Closes the peer's outgoing connection and cancels its timers, without reporting anything. */
  #dropConnection(peer: OutboundPeer): void {
    clearTimeout(peer.connectTimer);
    clearTimeout(peer.retryTimer);
    peer.connectTimer = undefined;
    peer.retryTimer = undefined;
    const socket = peer.socket;
    peer.socket = undefined;
    peer.ready = false;
    peer.waitingForDrain = false;
    socket?.destroy();
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

  // -------------------------------------------------------------------------------------------
  // Receiving

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    const connection: InboundConnection = {
      socket,
      decoder: new FrameDecoder({ maxFrameBytes: this.#settings.maxFrameBytes }),
      remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
      peerId: 0,
      helloTimer: undefined,
    };
    this.#inbound.add(connection);
    connection.helloTimer = setTimeout(() => {
      this.#log.warn({ nodeId: this.#nodeId, remote: connection.remote }, `raft connection sent no hello within ${this.#settings.connectTimeoutMs} ms; closed`);
      this.#closeInbound(connection);
    }, this.#settings.connectTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onInboundData(connection, chunk));
    socket.on('error', (err) => this.#log.debug({ nodeId: this.#nodeId, remote: connection.remote, peer: connection.peerId, err: err.message }, 'raft inbound connection error'));
    socket.on('close', () => this.#forgetInbound(connection));
  }

  #onInboundData(connection: InboundConnection, chunk: Buffer): void {
    const { socket, decoder } = connection;
    decoder.push(chunk);
    try {
      for (let frame = decoder.next(); frame !== undefined && !socket.destroyed && !socket.writableEnded; frame = decoder.next()) {
        if (connection.peerId === 0) this.#onHello(connection, frame);
        else this.#onMessageFrame(connection, frame);
      }
      // An opener sends its tiny hello and then waits for the answer, so a stranger that has sent
      // more than that without completing one is not a peer: do not buffer up to maxFrameBytes for it.
      if (connection.peerId === 0 && decoder.bufferedBytes > MAX_HANDSHAKE_FRAME_BYTES) {
        throw new StreamBusError(ErrorCode.MALFORMED_FRAME, `${decoder.bufferedBytes} bytes before a hello`);
      }
    } catch (err) {
      // The frame or its body does not decode: the stream cannot be trusted any further.
      if (this.#warnings.allow(`malformed:${connection.remote}`)) {
        this.#log.warn(
          { nodeId: this.#nodeId, remote: connection.remote, peer: connection.peerId, code: err instanceof StreamBusError ? err.codeName : 'UNKNOWN_SERVER_ERROR', reason: (err as Error).message },
          'raft connection sent a malformed frame; closed',
        );
      }
      this.#closeInbound(connection);
    }
  }

  /** The first frame of an incoming connection. Throws StreamBusError(MALFORMED_FRAME). */
  #onHello(connection: InboundConnection, frame: Frame): void {
    if (frame.api !== RaftApi.HELLO) throw new StreamBusError(ErrorCode.MALFORMED_FRAME, `the first frame has api ${frame.api}, not a hello`);
    const hello = decodeHello(frame.body);
    const fields = { nodeId: this.#nodeId, remote: connection.remote, from: hello.from };
    if (frame.versionOrStatus !== RAFT_PROTOCOL_VERSION || hello.protocolVersion !== RAFT_PROTOCOL_VERSION) {
      if (this.#warnings.allow(`version:${hello.from}`)) this.#log.warn({ ...fields, version: hello.protocolVersion }, 'raft peer speaks another protocol version; refused');
      return this.#refuse(connection, ErrorCode.UNSUPPORTED_VERSION, `this node speaks raft protocol version ${RAFT_PROTOCOL_VERSION}`);
    }
    if (hello.clusterId !== this.#clusterId) {
      if (this.#warnings.allow(`cluster:${hello.from}`)) {
        this.#log.error({ ...fields, code: errorName(ErrorCode.INCONSISTENT_CLUSTER_ID), theirs: hello.clusterId, ours: this.#clusterId }, 'raft peer of another cluster refused');
      }
      return this.#refuse(connection, ErrorCode.INCONSISTENT_CLUSTER_ID, `this node belongs to cluster ${this.#clusterId}, not ${hello.clusterId}`);
    }
    if (hello.to !== this.#nodeId) {
      if (this.#warnings.allow(`wrong-to:${hello.from}`)) this.#log.warn({ ...fields, to: hello.to }, 'raft hello meant for another node refused');
      return this.#refuse(connection, ErrorCode.INVALID_REQUEST, `this is node ${this.#nodeId}, not node ${hello.to}`);
    }
    if (!this.#peers.has(hello.from)) {
      if (this.#warnings.allow(`unknown:${hello.from}`)) this.#log.warn(fields, 'raft hello from a node that is not a peer refused');
      return this.#refuse(connection, ErrorCode.INVALID_REQUEST, `node ${hello.from} is not a peer of node ${this.#nodeId}`);
    }
    this.#greet(connection, hello);
  }

  #greet(connection: InboundConnection, hello: Hello): void {
    clearTimeout(connection.helloTimer);
    connection.helloTimer = undefined;
    connection.peerId = hello.from;
    // The peer gave up on its older connection (or it is half-open): this one replaces it.
    const older = this.#inboundByPeer.get(hello.from);
    if (older !== undefined) this.#closeInbound(older);
    this.#inboundByPeer.set(hello.from, connection);
    connection.socket.write(encodeHelloFrame({ clusterId: this.#clusterId, from: this.#nodeId, to: hello.from, protocolVersion: RAFT_PROTOCOL_VERSION }));
    this.#log.debug({ nodeId: this.#nodeId, peer: hello.from, remote: connection.remote }, 'raft peer connected');
  }

  /** Answers with a REFUSAL and closes once it is written; reads nothing more. */
  #refuse(connection: InboundConnection, code: ErrorCode, reason: string): void {
    clearTimeout(connection.helloTimer);
    connection.helloTimer = undefined;
    const { socket } = connection;
    socket.end(encodeRefusalFrame({ errorCode: code, errorMessage: reason }), () => socket.destroy());
  }

  #onMessageFrame(connection: InboundConnection, frame: Frame): void {
    if (frame.api !== RaftApi.MESSAGE || frame.versionOrStatus !== RAFT_PROTOCOL_VERSION) {
      throw new StreamBusError(ErrorCode.MALFORMED_FRAME, `api ${frame.api} version ${frame.versionOrStatus} where a message frame was due`);
    }
    const message = decodeRaftMessage(frame.body);
    if (message.from !== connection.peerId || message.to !== this.#nodeId) {
      if (this.#warnings.allow(`misaddressed:${connection.peerId}`)) {
        this.#log.warn(
          { nodeId: this.#nodeId, peer: connection.peerId, from: message.from, to: message.to, type: message.type },
          'raft message whose sender or receiver does not match its connection dropped',
        );
      }
      return;
    }
    const handler = this.#onMessage;
    if (handler === undefined) {
      this.#log.debug({ nodeId: this.#nodeId, peer: message.from, type: message.type }, 'raft message arrived before a handler was set; dropped');
      return;
    }
    try {
      handler(message);
    } catch (err) {
      this.#log.error({ nodeId: this.#nodeId, peer: message.from, type: message.type, err }, 'raft message handler threw');
    }
  }

  #closeInbound(connection: InboundConnection): void {
    connection.socket.destroy();
    this.#forgetInbound(connection);
  }

  #forgetInbound(connection: InboundConnection): void {
    clearTimeout(connection.helloTimer);
    connection.helloTimer = undefined;
    this.#inbound.delete(connection);
    if (connection.peerId !== 0 && this.#inboundByPeer.get(connection.peerId) === connection) this.#inboundByPeer.delete(connection.peerId);
  }
}

function newPeer(id: number, address: PeerAddress): OutboundPeer {
  return {
    id,
    address,
    queue: new FrameQueue(),
    socket: undefined,
    ready: false,
    waitingForDrain: false,
    failures: 0,
    connectTimer: undefined,
    retryTimer: undefined,
    droppedMessages: 0,
  };
}
