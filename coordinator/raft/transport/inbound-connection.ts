/**
 * InboundConnection: one connection a peer opened to this node — the acceptor's half of the
 * handshake and, after it, the stream of Raft messages it only reads.
 *
 * The first frame must be a HELLO. The acceptor checks the protocol version, the cluster id (a
 * mismatch is logged as an error: two clusters are wired together), that `to` is itself (a stale
 * address) and that `from` is one of its peers (an unknown or removed member: a rate-limited
 * warning, because it retries every second). It answers with its own HELLO, or with a REFUSAL
 * naming the error code and closes. After the handshake a MESSAGE whose `from` is not the node that
 * said hello, or whose `to` is not this node, is dropped and logged; a frame that does not decode
 * closes this connection only. The transport tracks connections per peer (InboundHost).
 */
import type { Socket } from 'node:net';
import { ErrorCode, StreamBusError, errorName } from '../../../proto/errors.js';
import { FrameDecoder, type Frame } from '../../../proto/framing.js';
import type { Message } from '../index.js';
import { MAX_HANDSHAKE_FRAME_BYTES, type ConnectionContext } from './transport-settings.js';
import { RAFT_PROTOCOL_VERSION, RaftApi, decodeHello, decodeRaftMessage, encodeHelloFrame, encodeRefusalFrame, type Hello } from './wire.js';

/** What an InboundConnection needs from its transport. */
export interface InboundHost extends ConnectionContext {
  /** Whether `nodeId` is a current peer of this node. */
  isPeer(nodeId: number): boolean;
  /** The connection greeted its peer: it replaces that peer's older connection, if any. */
  adopt(connection: InboundConnection): void;
  /** The connection is closed: forget it. */
  forget(connection: InboundConnection): void;
  /** Where received messages go; undefined until one is set. */
  messageHandler(): ((message: Message) => void) | undefined;
}

export class InboundConnection {
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  readonly remote: string;
  /** The node that said hello; 0 until then. */
  peerId = 0;
  helloTimer: NodeJS.Timeout | undefined = undefined;
  readonly #host: InboundHost;

  /** Takes over an accepted socket: arms the hello timeout and reads from it. */
  constructor(socket: Socket, host: InboundHost) {
    this.socket = socket;
    this.#host = host;
    this.decoder = new FrameDecoder({ maxFrameBytes: host.settings.maxFrameBytes });
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.helloTimer = setTimeout(() => {
      host.log.warn({ nodeId: host.nodeId, remote: this.remote }, `raft connection sent no hello within ${host.settings.connectTimeoutMs} ms; closed`);
      this.close();
    }, host.settings.connectTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => host.log.debug({ nodeId: host.nodeId, remote: this.remote, peer: this.peerId, err: err.message }, 'raft inbound connection error'));
    socket.on('close', () => this.#forget());
  }

  /** Destroys the socket and forgets the connection. */
  close(): void {
    this.socket.destroy();
    this.#forget();
  }

  #forget(): void {
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    this.#host.forget(this);
  }

  #onData(chunk: Buffer): void {
    const { socket, decoder } = this;
    const host = this.#host;
    decoder.push(chunk);
    try {
      for (let frame = decoder.next(); frame !== undefined && !socket.destroyed && !socket.writableEnded; frame = decoder.next()) {
        if (this.peerId === 0) this.#onHello(frame);
        else this.#onMessageFrame(frame);
      }
      // An opener sends its tiny hello and then waits for the answer, so a stranger that has sent
      // more than that without completing one is not a peer: do not buffer up to maxFrameBytes for it.
      if (this.peerId === 0 && decoder.bufferedBytes > MAX_HANDSHAKE_FRAME_BYTES) {
        throw new StreamBusError(ErrorCode.MALFORMED_FRAME, `${decoder.bufferedBytes} bytes before a hello`);
      }
    } catch (err) {
      // The frame or its body does not decode: the stream cannot be trusted any further.
      if (host.warnings.allow(`malformed:${this.remote}`)) {
        host.log.warn(
          { nodeId: host.nodeId, remote: this.remote, peer: this.peerId, code: err instanceof StreamBusError ? err.codeName : 'UNKNOWN_SERVER_ERROR', reason: (err as Error).message },
          'raft connection sent a malformed frame; closed',
        );
      }
      this.close();
    }
  }

  /** The first frame of the connection. Throws StreamBusError(MALFORMED_FRAME). */
  #onHello(frame: Frame): void {
    const host = this.#host;
    if (frame.api !== RaftApi.HELLO) throw new StreamBusError(ErrorCode.MALFORMED_FRAME, `the first frame has api ${frame.api}, not a hello`);
    const hello = decodeHello(frame.body);
    const fields = { nodeId: host.nodeId, remote: this.remote, from: hello.from };
    if (frame.versionOrStatus !== RAFT_PROTOCOL_VERSION || hello.protocolVersion !== RAFT_PROTOCOL_VERSION) {
      if (host.warnings.allow(`version:${hello.from}`)) host.log.warn({ ...fields, version: hello.protocolVersion }, 'raft peer speaks another protocol version; refused');
      return this.#refuse(ErrorCode.UNSUPPORTED_VERSION, `this node speaks raft protocol version ${RAFT_PROTOCOL_VERSION}`);
    }
    if (hello.clusterId !== host.clusterId) {
      if (host.warnings.allow(`cluster:${hello.from}`)) {
        host.log.error({ ...fields, code: errorName(ErrorCode.INCONSISTENT_CLUSTER_ID), theirs: hello.clusterId, ours: host.clusterId }, 'raft peer of another cluster refused');
      }
      return this.#refuse(ErrorCode.INCONSISTENT_CLUSTER_ID, `this node belongs to cluster ${host.clusterId}, not ${hello.clusterId}`);
    }
    if (hello.to !== host.nodeId) {
      if (host.warnings.allow(`wrong-to:${hello.from}`)) host.log.warn({ ...fields, to: hello.to }, 'raft hello meant for another node refused');
      return this.#refuse(ErrorCode.INVALID_REQUEST, `this is node ${host.nodeId}, not node ${hello.to}`);
    }
    if (!host.isPeer(hello.from)) {
      if (host.warnings.allow(`unknown:${hello.from}`)) host.log.warn(fields, 'raft hello from a node that is not a peer refused');
      return this.#refuse(ErrorCode.INVALID_REQUEST, `node ${hello.from} is not a peer of node ${host.nodeId}`);
    }
    this.#greet(hello);
  }

  #greet(hello: Hello): void {
    const host = this.#host;
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    this.peerId = hello.from;
    // The peer gave up on its older connection (or it is half-open): this one replaces it.
    host.adopt(this);
    this.socket.write(encodeHelloFrame({ clusterId: host.clusterId, from: host.nodeId, to: hello.from, protocolVersion: RAFT_PROTOCOL_VERSION }));
    host.log.debug({ nodeId: host.nodeId, peer: hello.from, remote: this.remote }, 'raft peer connected');
  }

  /** Answers with a REFUSAL and closes once it is written; reads nothing more. */
  #refuse(code: ErrorCode, reason: string): void {
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    const { socket } = this;
    socket.end(encodeRefusalFrame({ errorCode: code, errorMessage: reason }), () => socket.destroy());
  }

  #onMessageFrame(frame: Frame): void {
    const host = this.#host;
    if (frame.api !== RaftApi.MESSAGE || frame.versionOrStatus !== RAFT_PROTOCOL_VERSION) {
      throw new StreamBusError(ErrorCode.MALFORMED_FRAME, `api ${frame.api} version ${frame.versionOrStatus} where a message frame was due`);
    }
    const message = decodeRaftMessage(frame.body);
    if (message.from !== this.peerId || message.to !== host.nodeId) {
      if (host.warnings.allow(`misaddressed:${this.peerId}`)) {
        host.log.warn(
          { nodeId: host.nodeId, peer: this.peerId, from: message.from, to: message.to, type: message.type },
          'raft message whose sender or receiver does not match its connection dropped',
        );
      }
      return;
    }
    const handler = host.messageHandler();
    if (handler === undefined) {
      host.log.debug({ nodeId: host.nodeId, peer: message.from, type: message.type }, 'raft message arrived before a handler was set; dropped');
      return;
    }
    try {
      handler(message);
    } catch (err) {
      host.log.error({ nodeId: host.nodeId, peer: message.from, type: message.type, err }, 'raft message handler threw');
    }
  }
}
