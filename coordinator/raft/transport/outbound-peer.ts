/**
 * OutboundPeer: the sending side of the TcpRaftTransport for one peer — its bounded frame queue,
 * the one connection it opens to the peer, the opener's half of the handshake and the reconnect
 * backoff.
 *
 * The opener's first frame is a HELLO; it sends nothing else until the peer answers with its own
 * HELLO (same cluster id, the node it meant to reach) or refuses, so no Raft message ever reaches a
 * node of another cluster. Frames leave the queue only while the socket accepts them: writes are
 * corked into one writev per flush, and when write() returns false the queue waits for 'drain'.
 * A failed or lost connection reports the peer unreachable and, while frames wait, redials after
 * reconnectDelayMs; the queue is kept. The transport decides when a peer is current and delivers
 * unreachable reports (OutboundHost).
 */
import { connect, type Socket } from 'node:net';
import { ErrorCode, errorName } from '../../../proto/errors.js';
import { FrameDecoder, type Frame } from '../../../proto/framing.js';
import type { Message } from '../index.js';
import type { PeerAddress } from './raft-transport.js';
import { MAX_HANDSHAKE_FRAME_BYTES, type ConnectionContext } from './transport-settings.js';
import { RAFT_PROTOCOL_VERSION, RaftApi, decodeHello, decodeRefusal, encodeHelloFrame } from './wire.js';

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

/** What an OutboundPeer needs from its transport. */
export interface OutboundHost extends ConnectionContext {
  /** Uniform in [0, 1): the backoff jitter. */
  readonly random: () => number;
  /** The local address outgoing connections bind, if any. */
  readonly localAddress: string | undefined;
  /** True once the transport is closing. */
  isClosing(): boolean;
  /** False once the transport is closing or this peer was removed. */
  isCurrent(peer: OutboundPeer): boolean;
  /** Queues an unreachable report for the peer (delivered from a microtask). */
  reportUnreachable(peerId: number): void;
}

export class OutboundPeer {
  readonly id: number;
  address: PeerAddress;
  readonly queue = new FrameQueue();
  socket: Socket | undefined = undefined;
  /** The peer answered our hello: frames may be written. */
  ready = false;
  waitingForDrain = false;
  /** Consecutive failed or lost connections, for the backoff; 0 after a good handshake. */
  failures = 0;
  connectTimer: NodeJS.Timeout | undefined = undefined;
  retryTimer: NodeJS.Timeout | undefined = undefined;
  droppedMessages = 0;
  readonly #host: OutboundHost;

  constructor(id: number, address: PeerAddress, host: OutboundHost) {
    this.id = id;
    this.address = address;
    this.#host = host;
  }

  /** Appends a frame to the queue, or drops it (and reports) when it does not fit. */
  enqueue(frame: Buffer, message: Message): boolean {
    const host = this.#host;
    const { maxQueuedMessages, maxQueuedBytes, maxFrameBytes } = host.settings;
    let why: string | undefined;
    if (frame.length > maxFrameBytes) why = `its frame of ${frame.length} bytes exceeds maxFrameBytes ${maxFrameBytes}`;
    else if (this.queue.length >= maxQueuedMessages) why = `the queue holds ${maxQueuedMessages} messages`;
    else if (this.queue.bytes + frame.length > maxQueuedBytes) why = `the queue would pass ${maxQueuedBytes} bytes`;
    if (why === undefined) {
      this.queue.push(frame);
      return true;
    }
    this.droppedMessages++;
    if (host.warnings.allow(`drop:${this.id}`)) {
      host.log.warn({ nodeId: host.nodeId, peer: this.id, type: message.type, droppedMessages: this.droppedMessages }, `raft message dropped: ${why}`);
    }
    host.reportUnreachable(this.id);
    return false;
  }

  /** Opens a connection to the peer and sends our hello once it is up. */
  connect(): void {
    const host = this.#host;
    const socket = connect({
      host: this.address.host,
      port: this.address.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 10_000,
      ...(host.localAddress === undefined ? {} : { localAddress: host.localAddress }),
    });
    this.socket = socket;
    this.ready = false;
    this.waitingForDrain = false;
    const decoder = new FrameDecoder({ maxFrameBytes: MAX_HANDSHAKE_FRAME_BYTES });
    let failure: string | undefined;
    const fail = (why: string): void => {
      failure ??= why;
      socket.destroy();
    };
    this.connectTimer = setTimeout(() => fail(`no handshake within ${host.settings.connectTimeoutMs} ms`), host.settings.connectTimeoutMs);
    socket.on('connect', () => {
      socket.write(encodeHelloFrame({ clusterId: host.clusterId, from: host.nodeId, to: this.id, protocolVersion: RAFT_PROTOCOL_VERSION }));
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      decoder.push(chunk);
      try {
        for (let frame = decoder.next(); frame !== undefined && !socket.destroyed; frame = decoder.next()) this.#onHandshakeFrame(frame, fail);
      } catch (err) {
        fail(`the peer sent a bad frame: ${(err as Error).message}`);
      }
    });
    socket.on('drain', () => {
      if (this.socket !== socket) return;
      this.waitingForDrain = false;
      this.flush();
    });
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => {
      if (this.socket === socket) this.#connectionLost(failure ?? 'the peer closed the connection');
    });
  }

  /** Writes queued frames while the socket takes them, corked into one writev. */
  flush(): void {
    const socket = this.socket;
    if (socket === undefined || !this.ready || this.waitingForDrain || this.queue.length === 0) return;
    socket.cork();
    for (let frame = this.queue.shift(); frame !== undefined; frame = this.queue.shift()) {
      if (!socket.write(frame)) {
        this.waitingForDrain = true;
        break;
      }
    }
    socket.uncork();
  }

  /** Closes the outgoing connection and cancels the timers, without reporting anything. */
  dropConnection(): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.retryTimer);
    this.connectTimer = undefined;
    this.retryTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    this.ready = false;
    this.waitingForDrain = false;
    socket?.destroy();
  }

  /** A frame on an outgoing connection: only the peer's answer to our hello may arrive. */
  #onHandshakeFrame(frame: Frame, fail: (why: string) => void): void {
    const host = this.#host;
    if (this.ready) return fail(`the peer sent a frame (api ${frame.api}) after the handshake`);
    if (frame.api === RaftApi.REFUSAL) {
      const refusal = decodeRefusal(frame.body);
      const code = errorName(refusal.errorCode);
      const fields = { nodeId: host.nodeId, peer: this.id, address: this.address, code, reason: refusal.errorMessage };
      if (host.warnings.allow(`refused:${this.id}:${code}`)) {
        if (refusal.errorCode === ErrorCode.INCONSISTENT_CLUSTER_ID) host.log.error(fields, 'raft peer refused us: it belongs to another cluster');
        else host.log.warn(fields, 'raft peer refused our connection');
      }
      return fail(`refused: ${code}: ${refusal.errorMessage}`);
    }
    if (frame.api !== RaftApi.HELLO) return fail(`the peer answered with api ${frame.api}, not a hello`);
    const hello = decodeHello(frame.body);
    if (hello.clusterId !== host.clusterId) {
      if (host.warnings.allow(`answered-cluster:${this.id}`)) {
        host.log.error(
          { nodeId: host.nodeId, peer: this.id, address: this.address, code: errorName(ErrorCode.INCONSISTENT_CLUSTER_ID), theirs: hello.clusterId, ours: host.clusterId },
          'raft peer belongs to another cluster',
        );
      }
      return fail('INCONSISTENT_CLUSTER_ID');
    }
    if (hello.from !== this.id || hello.to !== host.nodeId) {
      if (host.warnings.allow(`wrong-node:${this.id}`)) {
        host.log.warn({ nodeId: host.nodeId, peer: this.id, address: this.address, answeredAs: hello.from }, 'raft peer address is served by another node');
      }
      return fail(`node ${hello.from} answered at the address of node ${this.id}`);
    }
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.ready = true;
    if (this.failures > 0) host.log.info({ nodeId: host.nodeId, peer: this.id, address: this.address }, 'raft peer reachable again');
    this.failures = 0;
    this.flush();
  }

  /** A connection attempt failed or an established connection broke. */
  #connectionLost(why: string): void {
    const host = this.#host;
    const wasReady = this.ready;
    this.dropConnection();
    if (!host.isCurrent(this)) return;
    this.failures++;
    const fields = { nodeId: host.nodeId, peer: this.id, address: this.address, reason: why, failures: this.failures };
    const message = wasReady ? 'raft peer connection lost' : 'raft peer unreachable';
    if (host.warnings.allow(`lost:${this.id}`)) host.log.warn(fields, message);
    else host.log.debug(fields, message);
    host.reportUnreachable(this.id);
    const delay = reconnectDelayMs(this.failures, host.settings.backoffMinMs, host.settings.backoffMaxMs, host.random);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // Redial only for something to send; otherwise the next send() dials.
      if (this.queue.length > 0 && this.socket === undefined && !host.isClosing()) this.connect();
    }, delay);
  }
}
