/**
 * The native protocol listener: a TCP server that splits each connection's bytes into frames,
 * decodes requests, hands them to a Handler, and writes the responses back.
 *
 * Per connection:
 * - Pipelining: requests are dispatched as soon as they arrive, concurrently, up to
 *   maxInFlightPerConnection at once, and each response is written when it is ready, so a long-poll
 *   fetch does not hold up a produce behind it. Clients match responses by correlation id.
 * - Backpressure, inbound: at the in-flight limit the socket stops reading (TCP then pushes back on
 *   the client) instead of failing requests; reading resumes when a slot frees.
 * - Backpressure, outbound: when socket.write() returns false, further responses wait in a queue
 *   until 'drain', and no new request is dispatched meanwhile. A request keeps its in-flight slot
 *   until its response has been handed to the socket, so the queue never holds more than
 *   maxInFlightPerConnection responses.
 * - Zero-copy responses: a response is encoded as a list of Buffers (encodeResponseFrameChunks)
 *   in which large `bytes` values, such as the stored record batches of a fetch, are the handler's
 *   own Buffers rather than copies; the list is written corked, so it leaves in one writev.
 * - Faults: a request the server cannot serve (unknown API, unsupported version, a body that does
 *   not decode, a handler error) gets an ErrorResponse and the connection carries on. A broken
 *   length prefix (too large, too small) loses the framing: the server answers with an
 *   ErrorResponse (carrying the correlation id when it arrived), then closes that connection only.
 */
import { getEventListeners } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import { apiDescriptors, apiNameOf, isVersionSupported, type ApiName, type RequestOf, type ResponseOf } from '../../proto/api.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, type Frame, type FrameError } from '../../proto/framing.js';
import type { ApiVersionsRequest, ErrorResponse } from '../../proto/messages.js';
import { decodeRequest, encodeErrorFrame, encodeResponseFrameChunks, errorResponseOf, type EncodableResponseOf } from '../../proto/native-codec.js';

export interface RequestContext {
  readonly connectionId: number;
  /** From the connection's ApiVersions request; '' until one arrives. */
  readonly clientId: string;
  readonly remoteAddress: string;
  /** Aborted when the connection closes or the server shuts down: stop waiting and return. */
  readonly signal: AbortSignal;
  /**
   * Resolves when the peer goes away (the connection closes other than by this server's own
   * shutdown); never settles otherwise. The coordinator fences a broker whose heartbeat connection
   * is lost. Absent where requests do not come from a NativeServer connection.
   */
  readonly connectionLost?: Promise<void>;
}

/**
 * What serves the requests. Throw StreamBusError for a typed failure of the whole request.
 * A response's `bytes` fields may be lists of Buffers (EncodableResponseOf), sent as one field;
 * the server writes large ones as they are, so the handler must not modify a Buffer it returned.
 */
export interface Handler {
  handle<A extends ApiName>(api: A, version: number, body: RequestOf<A>, ctx: RequestContext): Promise<ResponseOf<A> | EncodableResponseOf<A>>;
}

export interface NativeServerOptions {
  readonly handler: Handler;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 (the default) binds an ephemeral port; read it from `port` after listen(). */
  readonly port?: number;
  /** Largest request frame accepted, length field included. Default 64 MiB + 1 KiB. */
  readonly maxFrameBytes?: number;
  /** Requests dispatched and not yet answered, per connection. Default 64. */
  readonly maxInFlightPerConnection?: number;
  /** How long close() waits for in-flight requests before destroying sockets. Default 5000. */
  readonly closeTimeoutMs?: number;
  readonly logger?: Logger;
  /**
   * Called once per request after its response (or error) was produced: for latency metrics.
   * `api` is undefined for an unknown API key. errorCode is NONE on success.
   */
  readonly onRequestDone?: (api: ApiName | undefined, durationMs: number, errorCode: ErrorCode) => void;
}

const DEFAULT_MAX_IN_FLIGHT = 64;
const DEFAULT_CLOSE_TIMEOUT_MS = 5000;
/** After a framing fault, how long to wait for the peer to close before destroying the socket. */
const FAULT_LINGER_MS = 5000;
/** Spare request controllers kept per connection (see #spareControllers). */
const MAX_SPARE_CONTROLLERS = 16;

interface ResolvedOptions {
  readonly handler: Handler;
  readonly maxFrameBytes: number;
  readonly maxInFlight: number;
  readonly logger: Logger;
  readonly onRequestDone: NativeServerOptions['onRequestDone'];
}

/**
 * The native protocol's TCP listener. Lifecycle: new → listen() → close(); after close() the
 * server accepts nothing and every connection is gone.
 */
export class NativeServer {
  readonly #server: Server;
  readonly #host: string;
  readonly #requestedPort: number;
  readonly #options: ResolvedOptions;
  readonly #closeTimeoutMs: number;
  readonly #connections = new Set<ServerConnection>();
  #nextConnectionId = 1;
  #closing: Promise<void> | undefined;

  constructor(options: NativeServerOptions) {
    const maxInFlight = options.maxInFlightPerConnection ?? DEFAULT_MAX_IN_FLIGHT;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError('maxInFlightPerConnection must be a positive integer');
    this.#host = options.host ?? '127.0.0.1';
    this.#requestedPort = options.port ?? 0;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.#options = {
      handler: options.handler,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxInFlight,
      logger: options.logger ?? pino({ name: 'native-server' }),
      onRequestDone: options.onRequestDone,
    };
    // No half-open connections: a FIN from the client means it has gone (TCP cannot tell a
    // half-close from a close until a write fails), so the connection closes at once and the
    // signals of its in-flight requests abort, instead of long polls running on for nobody.
    this.#server = createServer({ noDelay: true, allowHalfOpen: false }, (socket) => this.#accept(socket));
    this.#server.on('error', (err) => this.#options.logger.error({ err }, 'native listener error'));
  }

  get maxFrameBytes(): number {
    return this.#options.maxFrameBytes;
  }

  get maxInFlightPerConnection(): number {
    return this.#options.maxInFlight;
  }

  /** The bound port. Throws before listen() has resolved. */
  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the native server is not listening');
    return address.port;
  }

  get host(): string {
    return this.#host;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Binds the port. Rejects (e.g. EADDRINUSE) without leaving anything open. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#requestedPort, this.#host, () => {
        this.#server.off('error', onError);
        this.#options.logger.info({ host: this.#host, port: this.port }, 'native listener started');
        resolve();
      });
    });
  }

  /**
   * Stops accepting connections, aborts every in-flight request's signal, lets the handlers answer
   * (those honouring the signal answer SHUTTING_DOWN at once), and closes every connection. Sockets
   * still open after closeTimeoutMs are destroyed; their pending requests see the connection drop.
   * Resolves when every socket is closed. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
    const connections = [...this.#connections];
    for (const connection of connections) connection.shutdown();
    const deadline = setTimeout(() => {
      for (const connection of this.#connections) connection.destroy();
    }, this.#closeTimeoutMs);
    try {
      await Promise.all([stopped, ...connections.map((c) => c.closed)]);
    } finally {
      clearTimeout(deadline);
    }
  }

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    const connection = new ServerConnection(this.#nextConnectionId++, socket, this.#options);
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
  }
}

/** One client connection: its frame decoder, in-flight count and output queue. */
class ServerConnection {
  readonly closed: Promise<void>;
  /** Resolves when the socket closes unless shutdown() closed it (RequestContext.connectionLost). */
  readonly #lost: Promise<void>;
  #shutDown = false;
  readonly #id: number;
  readonly #socket: Socket;
  readonly #options: ResolvedOptions;
  readonly #log: Logger;
  readonly #decoder: FrameDecoder;
  /**
   * One controller per request in flight. Each request gets its own signal, rather than all
   * sharing the connection's, so the listeners a handler adds die with its request instead of
   * piling up on a signal that lives as long as the connection.
   */
  readonly #requests = new Set<AbortController>();
  /**
   * Controllers whose request finished with no abort listener left on their signal, kept for the
   * next requests: creating an AbortSignal costs several microseconds in Node 20, a measurable
   * share of a small request. A controller a handler left a listener on is never reused, so a
   * reused signal looks to its new request exactly like a fresh one.
   */
  readonly #spareControllers: AbortController[] = [];
  #abortReason: StreamBusError | undefined;
  readonly #remoteAddress: string;
  #clientId = '';
  #inFlight = 0;
  /** No more requests are dispatched: shutting down, the framing is lost, or the peer has gone. */
  #stopping = false;
  /** Responses (each a frame's chunks) waiting for 'drain'; each still holds its in-flight slot. */
  #queued: (readonly Buffer[])[] = [];
  #awaitingDrain = false;
  #corked = false;

  constructor(id: number, socket: Socket, options: ResolvedOptions) {
    this.#id = id;
    this.#socket = socket;
    this.#options = options;
    this.#remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.#log = options.logger.child({ connectionId: id, remote: this.#remoteAddress });
    this.#decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes });
    socket.setNoDelay(true);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.#lost = new Promise((resolve) => socket.once('close', () => (this.#shutDown ? undefined : resolve())));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', (err) => this.#log.debug({ err }, 'connection error'));
    socket.on('end', () => {
      this.#stopping = true;
      this.#abortAll(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the client closed the connection'));
    });
    socket.once('close', () => {
      this.#stopping = true;
      this.#queued = [];
      this.#abortAll(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the connection closed'));
      this.#log.debug('connection closed');
    });
    this.#log.debug('connection accepted');
  }

  /**
   * Stops taking requests, aborts those in flight and ends the socket once their answers are
   * written. Input that still arrives is read and discarded, so the peer's FIN is seen.
   */
  shutdown(): void {
    this.#shutDown = true;
    this.#stopping = true;
    this.#socket.resume();
    this.#abortAll(new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down'));
    this.#endIfIdle();
  }

  #abortAll(reason: StreamBusError): void {
    this.#abortReason ??= reason;
    for (const controller of this.#requests) controller.abort(reason);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#stopping) return; // discard: nothing more is served on this connection
    this.#decoder.push(chunk);
    this.#pump();
  }

  /** Dispatches decoded frames while there is room, and pauses or resumes reading to match. */
  #pump(): void {
    while (!this.#stopping && !this.#awaitingDrain && this.#inFlight < this.#options.maxInFlight) {
      let frame: Frame | undefined;
      try {
        frame = this.#decoder.next();
      } catch (err) {
        this.#onFramingFault(err as FrameError);
        return;
      }
      if (frame === undefined) break;
      this.#inFlight++;
      this.#serve(frame).catch((err: unknown) => this.#log.error({ err }, 'response path failed'));
    }
    if (this.#stopping) return;
    if (this.#awaitingDrain || this.#inFlight >= this.#options.maxInFlight) this.#socket.pause();
    else this.#socket.resume();
  }

  #onFramingFault(err: FrameError): void {
    this.#log.warn({ code: err.codeName, correlationId: err.correlationId, reason: err.message }, 'framing lost; closing the connection');
    this.#stopping = true;
    this.#abortAll(err);
    const body: ErrorResponse = errorResponseOf(err);
    this.#write([encodeErrorFrame(err.correlationId ?? 0, err.api ?? 0, body)]);
    // Keep reading (and discarding) until the peer closes: destroying a socket with unread input
    // sends a reset, which can make the peer drop our ErrorResponse before reading it.
    this.#socket.resume();
    this.#socket.end();
    const linger = setTimeout(() => this.#socket.destroy(), FAULT_LINGER_MS);
    this.#socket.once('close', () => clearTimeout(linger));
  }

  async #serve(frame: Frame): Promise<void> {
    const startedMs = performance.now();
    const api = apiNameOf(frame.api);
    const controller = this.#spareControllers.pop() ?? new AbortController();
    if (this.#abortReason !== undefined) controller.abort(this.#abortReason);
    this.#requests.add(controller);
    let response: readonly Buffer[];
    let errorCode: ErrorCode = ErrorCode.NONE;
    try {
      response = await this.#respond(api, frame, controller.signal);
    } catch (err) {
      const error = this.#toWireError(api, frame, err, controller.signal);
      errorCode = error.code;
      response = [encodeErrorFrame(frame.correlationId, frame.api, errorResponseOf(error))];
    }
    this.#requests.delete(controller);
    this.#recycle(controller);
    this.#reportDone(api, performance.now() - startedMs, errorCode);
    this.#complete(response);
  }

  #recycle(controller: AbortController): void {
    if (controller.signal.aborted || this.#spareControllers.length >= MAX_SPARE_CONTROLLERS) return;
    if (getEventListeners(controller.signal, 'abort').length > 0) return;
    this.#spareControllers.push(controller);
  }

  /** The response frame as chunks to write in order (see encodeResponseFrameChunks). */
  async #respond(api: ApiName | undefined, frame: Frame, signal: AbortSignal): Promise<Buffer[]> {
    if (api === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_API, `API key ${frame.api} is unknown to this server`);
    const version = frame.versionOrStatus;
    if (!isVersionSupported(api, version)) {
      const { minVersion, maxVersion } = apiDescriptors[api];
      throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, `${api} version ${version} is not supported (this server speaks ${minVersion}..${maxVersion})`);
    }
    const body = decodeRequest(api, frame.body);
    if (api === 'API_VERSIONS') this.#clientId = (body as ApiVersionsRequest).clientId;
    const ctx: RequestContext = { connectionId: this.#id, clientId: this.#clientId, remoteAddress: this.#remoteAddress, signal, connectionLost: this.#lost };
    const result = await this.#options.handler.handle(api, version, body, ctx);
    try {
      return encodeResponseFrameChunks(frame.correlationId, api, result);
    } catch (err) {
      // The handler returned a value that does not fit the schema: a server bug, not the client's.
      throw new HandlerBug(`${api} handler returned a response that does not encode`, err);
    }
  }

  #toWireError(api: ApiName | undefined, frame: Frame, err: unknown, signal: AbortSignal): StreamBusError {
    if (err instanceof StreamBusError && !(err instanceof HandlerBug) && err.code !== ErrorCode.NONE) return err;
    if (signal.aborted && !(err instanceof HandlerBug)) {
      return new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the request was cancelled: the server is shutting down');
    }
    this.#log.error({ err, api: api ?? frame.api, correlationId: frame.correlationId }, 'request failed with an unexpected error');
    return new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR);
  }

  #reportDone(api: ApiName | undefined, durationMs: number, errorCode: ErrorCode): void {
    const hook = this.#options.onRequestDone;
    if (hook === undefined) return;
    try {
      hook(api, durationMs, errorCode);
    } catch (err) {
      this.#log.error({ err }, 'onRequestDone hook threw');
    }
  }

  /** A response is ready: write it (releasing its slot) or queue it behind a pending 'drain'. */
  #complete(response: readonly Buffer[]): void {
    if (this.#socket.destroyed || !this.#socket.writable) {
      this.#inFlight--;
      this.#endIfIdle();
      return;
    }
    if (this.#awaitingDrain) {
      this.#queued.push(response);
      return;
    }
    this.#write(response);
    this.#inFlight--;
    this.#afterSlotFreed();
  }

  #onDrain(): void {
    this.#awaitingDrain = false;
    while (this.#queued.length > 0 && !this.#awaitingDrain) {
      this.#write(this.#queued.shift() as readonly Buffer[]);
      this.#inFlight--;
    }
    this.#afterSlotFreed();
  }

  #afterSlotFreed(): void {
    if (this.#stopping) this.#endIfIdle();
    else this.#pump();
  }

  #endIfIdle(): void {
    if (this.#stopping && this.#inFlight === 0 && !this.#socket.destroyed && this.#socket.writable) this.#socket.end();
  }

  /**
   * Writes one frame, given as chunks. Writes issued in the same tick (every chunk of this frame,
   * and other responses finished meanwhile) are corked together so they leave in one writev
   * syscall, without being copied into one buffer. A frame is always written whole, even when
   * write() reports a full buffer part-way: the stream keeps the chunks (the socket holds them
   * by reference), and what follows waits for 'drain'.
   */
  #write(frame: readonly Buffer[]): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    let flowing = true;
    for (const chunk of frame) flowing = this.#socket.write(chunk) && flowing;
    if (!flowing) this.#awaitingDrain = true;
  }
}

/** Marks an error as the server's fault, so it is logged and reported as UNKNOWN_SERVER_ERROR. */
class HandlerBug extends StreamBusError {
  constructor(message: string, cause: unknown) {
    super(ErrorCode.UNKNOWN_SERVER_ERROR, message, { cause });
  }
}
