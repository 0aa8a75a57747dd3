/**
 * A minimal Redis client for the benchmark: RESP2 requests, replies parsed incrementally, and
 * automatic pipelining (every command issued in the same tick goes out in one socket write).
 * It knows no commands; callers pass argument lists (XADD, XREAD, DEL, PING...).
 *
 * Why our own: the benchmark needs exactly pipelined XADD and large XREAD replies, and the
 * parser below returns bulk strings as views of the received bytes (no copy, no UTF-8 decode),
 * so the client costs the comparison as little as possible.
 */
import net from 'node:net';

/** An error reply ("-ERR ..."), kept as a value inside arrays and raised for top-level replies. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** A RESP2 reply: simple string, integer, bulk string (bytes), array, or null (nil bulk or array). */
export type RespValue = string | number | Buffer | null | RespError | RespValue[];

export type RespCallback = (error: Error | undefined, reply: RespValue) => void;

const CR = 13;
const CRLF = Buffer.from('\r\n');

/** Bytes of queued requests above which they are written at once instead of at the end of the tick. */
const FLUSH_BYTES = 1 << 20;

interface Frame {
  readonly items: RespValue[];
  remaining: number;
}

/**
 * Incremental RESP2 reply parser. Feed it socket chunks; it calls `onReply` once per complete
 * top-level reply, in order. Progress inside a large array survives across chunks, so a 10 MB
 * XREAD reply is parsed once, not once per chunk.
 */
export class RespParser {
  readonly #onReply: (reply: RespValue) => void;
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  readonly #stack: Frame[] = [];

  constructor(onReply: (reply: RespValue) => void) {
    this.#onReply = onReply;
  }

  /** Parses what `chunk` completes; throws RespError on bytes that are not RESP. */
  push(chunk: Buffer): void {
    this.#buf = this.#pos >= this.#buf.length ? chunk : Buffer.concat([this.#buf.subarray(this.#pos), chunk]);
    this.#pos = 0;
    for (;;) {
      const start = this.#pos;
      const value = this.#next();
      if (value === INCOMPLETE) {
        this.#pos = start;
        return;
      }
      if (value === ARRAY_OPENED) continue;
      this.#deliver(value);
    }
  }

  #deliver(value: RespValue): void {
    let current = value;
    for (;;) {
      const top = this.#stack[this.#stack.length - 1];
      if (top === undefined) {
        this.#onReply(current);
        return;
      }
      top.items.push(current);
      if (--top.remaining > 0) return;
      this.#stack.pop();
      current = top.items;
    }
  }

  /** One element, ARRAY_OPENED after a non-empty array header, or INCOMPLETE (position unchanged). */
  #next(): RespValue | typeof INCOMPLETE | typeof ARRAY_OPENED {
    const buf = this.#buf;
    if (this.#pos >= buf.length) return INCOMPLETE;
    const type = buf[this.#pos]!;
    const lineEnd = buf.indexOf(CR, this.#pos + 1);
    if (lineEnd < 0 || lineEnd + 1 >= buf.length) return INCOMPLETE;
    const lineStart = this.#pos + 1;
    switch (type) {
      case 0x2b /* + */:
        this.#pos = lineEnd + 2;
        return buf.toString('latin1', lineStart, lineEnd);
      case 0x2d /* - */:
        this.#pos = lineEnd + 2;
        return new RespError(buf.toString('utf8', lineStart, lineEnd));
      case 0x3a /* : */:
        this.#pos = lineEnd + 2;
        return parseInteger(buf, lineStart, lineEnd);
      case 0x24 /* $ */: {
        const length = parseInteger(buf, lineStart, lineEnd);
        if (length < 0) {
          this.#pos = lineEnd + 2;
          return null;
        }
        const dataStart = lineEnd + 2;
        if (dataStart + length + 2 > buf.length) return INCOMPLETE;
        this.#pos = dataStart + length + 2;
        return buf.subarray(dataStart, dataStart + length);
      }
      case 0x2a /* * */: {
        const count = parseInteger(buf, lineStart, lineEnd);
        this.#pos = lineEnd + 2;
        if (count < 0) return null;
        if (count === 0) return [];
        this.#stack.push({ items: [], remaining: count });
        return ARRAY_OPENED;
      }
      default:
        throw new RespError(`not a RESP reply: type byte 0x${type.toString(16)} at offset ${this.#pos}`);
    }
  }
}

const INCOMPLETE = Symbol('incomplete');
const ARRAY_OPENED = Symbol('array opened');

function parseInteger(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (buf[i] === 0x2d) {
    negative = true;
    i++;
  }
  let value = 0;
  for (; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) throw new RespError(`bad integer in RESP reply: ${buf.toString('latin1', start, end)}`);
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/** Encodes one request as a RESP array of bulk strings, as chunks (Buffers are not copied). */
export function encodeCommand(args: readonly (string | Buffer)[], out: Buffer[]): number {
  let bytes = 0;
  const header = `*${args.length}\r\n`;
  let pending = header;
  for (const arg of args) {
    if (typeof arg === 'string') {
      pending += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
    } else {
      pending += `$${arg.length}\r\n`;
      const head = Buffer.from(pending, 'latin1');
      out.push(head, arg, CRLF);
      bytes += head.length + arg.length + 2;
      pending = '';
    }
  }
  if (pending !== '') {
    const tail = Buffer.from(pending);
    out.push(tail);
    bytes += tail.length;
  }
  return bytes;
}

export interface RespConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
}

/**
 * One connection. Replies arrive in request order, so callbacks wait in a FIFO queue. Requests
 * issued in one tick are written together at the end of it (or when 1 MiB is queued); while the
 * socket's buffer is full, requests queue here until 'drain'. Callers bound how many requests
 * they leave outstanding.
 */
export class RespConnection {
  readonly #socket: net.Socket;
  readonly #callbacks: RespCallback[] = [];
  #callbackHead = 0;
  #out: Buffer[] = [];
  #outBytes = 0;
  #flushScheduled = false;
  #blocked = false;
  #failure: Error | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const parser = new RespParser((reply) => this.#onReply(reply));
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (error) {
        this.#fail(error instanceof Error ? error : new Error(String(error)));
        socket.destroy();
      }
    });
    socket.on('drain', () => {
      this.#blocked = false;
      this.#flush();
    });
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('redis connection closed')));
  }

  /** Connects (TCP_NODELAY on) or rejects after timeoutMs. */
  static connect(options: RespConnectOptions): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: options.host, port: options.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`redis at ${options.host}:${options.port} did not accept a connection within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RespConnection(socket));
      });
    });
  }

  /** Queues a request; `callback` gets its reply (a top-level error reply as `error`). */
  send(args: readonly (string | Buffer)[], callback: RespCallback): void {
    if (this.#failure !== undefined) {
      const failure = this.#failure;
      queueMicrotask(() => callback(failure, null));
      return;
    }
    this.#callbacks.push(callback);
    this.#outBytes += encodeCommand(args, this.#out);
    if (this.#outBytes >= FLUSH_BYTES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(() => this.#flush());
    }
  }

  /** send() as a promise. */
  call(args: readonly (string | Buffer)[]): Promise<RespValue> {
    return new Promise((resolve, reject) => {
      this.send(args, (error, reply) => (error === undefined ? resolve(reply) : reject(error)));
    });
  }

  /** Closes the socket; outstanding requests fail. */
  async close(): Promise<void> {
    if (this.#socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), 2_000).unref();
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#blocked || this.#out.length === 0 || this.#failure !== undefined) return;
    const chunks = this.#out;
    this.#out = [];
    this.#outBytes = 0;
    // One write per tick: Buffer.concat costs one copy, far less than a syscall per request.
    if (!this.#socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))) this.#blocked = true;
  }

  #onReply(reply: RespValue): void {
    const callback = this.#callbacks[this.#callbackHead];
    if (callback === undefined) {
      this.#fail(new RespError('redis sent a reply nobody asked for'));
      this.#socket.destroy();
      return;
    }
    this.#callbacks[this.#callbackHead++] = noop;
    // Compact the queue now and then instead of shift() per reply (O(n) each).
    if (this.#callbackHead > 4096 && this.#callbackHead * 2 > this.#callbacks.length) {
      this.#callbacks.splice(0, this.#callbackHead);
      this.#callbackHead = 0;
    }
    if (reply instanceof RespError) callback(reply, null);
    else callback(undefined, reply);
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    const waiting = this.#callbacks.slice(this.#callbackHead);
    this.#callbacks.length = 0;
    this.#callbackHead = 0;
    for (const callback of waiting) callback(error, null);
  }
}

const noop: RespCallback = () => undefined;
