/**
 * One TCP connection to a StreamBus server speaking the native protocol (see ./types.ts for the
 * contract).
 *
 * Requests are pipelined: each gets a correlation id and an entry in the pending map, and the
 * response, whenever it arrives and in whatever order, settles the matching entry. At most
 * maxInFlight requests are outstanding; further ones wait for a slot in FIFO order. A request's
 * timeout and AbortSignal cover both the wait for a slot and the wait for the answer; giving up
 * frees the slot at once, and the answer, if it comes later, is dropped.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { apiDescriptors, type ApiName, type RequestOf, type ResponseOf } from '../../proto/api.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameStatus, setFrameCorrelationId, type Frame } from '../../proto/framing.js';
import { decodeResponse, encodeRequestFrame, errorFromResponse } from '../../proto/native-codec.js';
import { RequestTimeoutError } from '../errors.js';
import type { Connection, ConnectionOptions, RequestOptions } from './types.js';

const DEFAULT_MAX_IN_FLIGHT = 16;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How long close() waits for queued writes to flush before destroying the socket. */
const CLOSE_TIMEOUT_MS = 2_000;
/** The version every request is sent with: the only one this build speaks (see proto/api.ts). */
const REQUEST_VERSION = 0;

/**
 * Opens a connection. Rejects with StreamBusError(NETWORK_EXCEPTION) when the server cannot be
 * reached within connectTimeoutMs, or with the signal's reason when options.signal aborts first.
 * Once connected, aborting options.signal closes the connection.
 */
export function connect(options: ConnectionOptions): Promise<Connection> {
  const { host, port, signal } = options;
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) return Promise.reject(new RangeError('maxInFlight must be a positive integer'));
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortError(signal));
      return;
    }
    const socket = netConnect({ host, port, noDelay: true });
    const settle = (error: Error | undefined): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (error === undefined) {
        resolve(new NativeConnection(socket, options));
      } else {
        socket.destroy();
        reject(error);
      }
    };
    const onConnect = (): void => settle(undefined);
    const onError = (err: Error): void =>
      settle(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `cannot connect to ${host}:${port}: ${err.message}`, { cause: err, context: { broker: `${host}:${port}` } }));
    const onAbort = (): void => settle(abortError(signal));
    const timer = setTimeout(
      () => settle(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `connecting to ${host}:${port} timed out after ${timeoutMs} ms`, { context: { broker: `${host}:${port}` } })),
      timeoutMs,
    );
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error an aborted signal stands for: its reason when that is an Error, else an AbortError. */
function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new DOMException(typeof reason === 'string' ? reason : 'This operation was aborted', 'AbortError');
}

const OpState = { WAITING: 0, SENT: 1, DONE: 2 } as const;
type OpState = (typeof OpState)[keyof typeof OpState];

/** One request from request() to its settlement. */
interface RequestOp {
  readonly api: ApiName;
  readonly frame: Buffer;
  state: OpState;
  correlationId: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** Clears the timer and the abort listener. */
  release(): void;
}

interface QueuedWrite {
  readonly frame: Buffer;
  readonly onWritten: ((error?: Error | null) => void) | undefined;
}

class NativeConnection implements Connection {
  readonly host: string;
  readonly port: number;
  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #maxInFlight: number;
  readonly #requestTimeoutMs: number;
  readonly #broker: string;
  readonly #pending = new Map<number, RequestOp>();
  /** Requests waiting for an in-flight slot, oldest first. */
  readonly #waiting: RequestOp[] = [];
  /** Frames held back while the socket's buffer is above its high-water mark. */
  #writeQueue: QueuedWrite[] = [];
  #awaitingDrain = false;
  #corked = false;
  #inFlight = 0;
  #nextCorrelationId = 1;
  #failure: StreamBusError | undefined;
  readonly #socketClosed: Promise<void>;
  readonly #signal: AbortSignal | undefined;
  readonly #onSignalAbort = (): void => void this.close();

  constructor(socket: Socket, options: ConnectionOptions) {
    this.host = options.host;
    this.port = options.port;
    this.#broker = `${options.host}:${options.port}`;
    this.#socket = socket;
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES });
    socket.setNoDelay(true);
    this.#socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', (err) => this.#fail(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `connection to ${this.#broker} failed: ${err.message}`, { cause: err, context: { broker: this.#broker } })));
    socket.once('close', () => this.#fail(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `connection to ${this.#broker} closed`, { context: { broker: this.#broker } })));
    this.#signal = options.signal;
    this.#signal?.addEventListener('abort', this.#onSignalAbort, { once: true });
  }

  get connected(): boolean {
    return this.#failure === undefined;
  }

  async request<A extends ApiName>(api: A, body: RequestOf<A>, options: RequestOptions = {}): Promise<ResponseOf<A>> {
    if (this.#failure !== undefined) throw this.#failure;
    const { signal } = options;
    if (signal?.aborted === true) throw abortError(signal);
    const frame = encodeRequestFrame(0, api, REQUEST_VERSION, body); // the id is set when a slot is granted
    const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
    return new Promise<ResponseOf<A>>((resolve, reject) => {
      const onAbort = (): void => this.#abandon(op, abortError(signal));
      const timer = setTimeout(() => this.#abandon(op, new RequestTimeoutError(api, this.#broker, timeoutMs)), timeoutMs);
      const op: RequestOp = {
        api,
        frame,
        state: OpState.WAITING,
        correlationId: 0,
        resolve: resolve, // decodeResponse(api) yields ResponseOf<A>
        reject,
        release: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.#inFlight < this.#maxInFlight && this.#waiting.length === 0) this.#dispatch(op);
      else this.#waiting.push(op);
    });
  }

  async send<A extends ApiName>(api: A, body: RequestOf<A>, options: RequestOptions = {}): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    const { signal } = options;
    if (signal?.aborted === true) throw abortError(signal);
    const frame = encodeRequestFrame(this.#takeCorrelationId(), api, REQUEST_VERSION, body);
    const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      // The frame may already sit in the socket's buffer: giving up stops the wait, not the write.
      const onAbort = (): void => settle(abortError(signal));
      const timer = setTimeout(
        () => settle(new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `${api} was not written to ${this.#broker} within ${timeoutMs} ms`, { context: { broker: this.#broker } })),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      // No response is awaited, so no in-flight slot is taken; the server's answer is dropped
      // on arrival because no pending entry has its correlation id.
      this.#write(frame, (err) =>
        settle(err == null ? undefined : (this.#failure ?? new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `writing to ${this.#broker} failed`, { cause: err }))),
      );
    });
  }

  async close(): Promise<void> {
    this.#fail(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `connection to ${this.#broker} was closed by the client`, { context: { broker: this.#broker } }));
    // Nothing outstanding is awaited any more, so there is no reason to wait for the server's side:
    // send the FIN once our writes are flushed, then release the socket.
    if (!this.#socket.destroyed) this.#socket.end(() => this.#socket.destroy());
    const deadline = setTimeout(() => this.#socket.destroy(), CLOSE_TIMEOUT_MS);
    try {
      await this.#socketClosed;
    } finally {
      clearTimeout(deadline);
    }
  }

  #takeCorrelationId(): number {
    // 0 is never used: a server that lost the framing before reading the id answers with 0.
    let id = this.#nextCorrelationId;
    while (id === 0 || this.#pending.has(id)) id = (id + 1) >>> 0;
    this.#nextCorrelationId = (id + 1) >>> 0;
    return id;
  }

  #dispatch(op: RequestOp): void {
    this.#inFlight++;
    op.state = OpState.SENT;
    op.correlationId = this.#takeCorrelationId();
    setFrameCorrelationId(op.frame, op.correlationId);
    this.#pending.set(op.correlationId, op);
    this.#write(op.frame, undefined);
  }

  /** Gives up on a request (timeout or abort): frees its slot or its place in the queue. */
  #abandon(op: RequestOp, error: Error): void {
    if (op.state === OpState.DONE) return;
    if (op.state === OpState.WAITING) {
      const index = this.#waiting.indexOf(op);
      if (index >= 0) this.#waiting.splice(index, 1);
    } else {
      this.#pending.delete(op.correlationId);
      this.#inFlight--;
    }
    this.#settle(op, error, undefined);
    this.#grantSlots();
  }

  #settle(op: RequestOp, error: Error | undefined, value: unknown): void {
    op.state = OpState.DONE;
    op.release();
    if (error === undefined) op.resolve(value);
    else op.reject(error);
  }

  #grantSlots(): void {
    while (this.#failure === undefined && this.#inFlight < this.#maxInFlight && this.#waiting.length > 0) {
      this.#dispatch(this.#waiting.shift() as RequestOp);
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#failure !== undefined) return;
    this.#decoder.push(chunk);
    for (;;) {
      let frame: Frame | undefined;
      try {
        frame = this.#decoder.next();
      } catch (err) {
        const reason = (err as StreamBusError).message;
        this.#fail(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `bad frame from ${this.#broker}: ${reason}`, { cause: err, context: { broker: this.#broker } }));
        this.#socket.destroy();
        return;
      }
      if (frame === undefined) break;
      this.#onFrame(frame);
    }
    this.#grantSlots();
  }

  #onFrame(frame: Frame): void {
    const op = this.#pending.get(frame.correlationId);
    if (op === undefined) return; // abandoned, or a send() whose answer nobody awaits
    this.#pending.delete(frame.correlationId);
    this.#inFlight--;
    const expectedApi = apiDescriptors[op.api].key;
    if (frame.api !== expectedApi) {
      this.#settle(op, new StreamBusError(ErrorCode.MALFORMED_FRAME, `response to ${op.api} carries api ${frame.api}`), undefined);
    } else if (frame.versionOrStatus === FrameStatus.OK) {
      let value: unknown;
      try {
        value = decodeResponse(op.api, frame.body);
      } catch (err) {
        this.#settle(op, err as StreamBusError, undefined);
        return;
      }
      this.#settle(op, undefined, value);
    } else if (frame.versionOrStatus === FrameStatus.ERROR) {
      this.#settle(op, errorFromResponse(frame.body), undefined);
    } else {
      this.#settle(op, new StreamBusError(ErrorCode.MALFORMED_FRAME, `response status ${frame.versionOrStatus} is unknown`), undefined);
    }
  }

  /**
   * Writes a frame, or queues it while the socket is above its high-water mark. The queue cannot
   * outgrow maxInFlight request frames plus the send() calls awaiting their write. Writes issued in
   * one tick are corked so they leave in one syscall.
   */
  #write(frame: Buffer, onWritten: QueuedWrite['onWritten']): void {
    if (this.#awaitingDrain) {
      this.#writeQueue.push({ frame, onWritten });
      return;
    }
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    if (!this.#socket.write(frame, onWritten)) this.#awaitingDrain = true;
  }

  #onDrain(): void {
    this.#awaitingDrain = false;
    while (this.#writeQueue.length > 0 && !this.#awaitingDrain) {
      const next = this.#writeQueue.shift() as QueuedWrite;
      this.#write(next.frame, next.onWritten);
    }
  }

  /** Marks the connection failed and rejects everything outstanding with `error`. Idempotent. */
  #fail(error: StreamBusError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#signal?.removeEventListener('abort', this.#onSignalAbort);
    const outstanding = [...this.#pending.values(), ...this.#waiting];
    this.#pending.clear();
    this.#waiting.length = 0;
    this.#inFlight = 0;
    for (const op of outstanding) this.#settle(op, error, undefined);
    const writes = this.#writeQueue;
    this.#writeQueue = [];
    for (const write of writes) write.onWritten?.(error);
  }
}
