/**
 * Framing of the native protocol (the header comment of proto/streambus.proto is the spec):
 *
 *   frame := length:u32be correlation_id:u32be api:u16be version_or_status:u16be body
 *
 * `length` counts the bytes after itself, so it is at least 8. `version_or_status` is the API
 * version in a request, and in a response 0 (body is the API's response) or 1 (body is an
 * ErrorResponse).
 *
 * Pure: no node:* imports (Buffer is used as a global).
 */
import { ErrorCode, StreamBusError } from './errors.js';

/** Bytes before the body: length, correlation id, api, version_or_status. */
export const FRAME_HEADER_BYTES = 12;
/** The length field itself. */
export const FRAME_LENGTH_BYTES = 4;
/** The smallest legal value of the length field: a header with an empty body. */
export const MIN_FRAME_LENGTH = FRAME_HEADER_BYTES - FRAME_LENGTH_BYTES;
/** Default bound on a whole frame (length field included): a 64 MiB body plus room for the rest. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024 + 1024;
const MAX_U32 = 0xffffffff;

/** Values of version_or_status in a response frame. */
export const FrameStatus = { OK: 0, ERROR: 1 } as const;
export type FrameStatus = (typeof FrameStatus)[keyof typeof FrameStatus];

export interface FrameHeader {
  readonly correlationId: number;
  /** The Api key (u16). */
  readonly api: number;
  /** Request: the API version. Response: a FrameStatus. */
  readonly versionOrStatus: number;
}

export interface Frame extends FrameHeader {
  /** The protobuf body. It may be a view into a larger received chunk. */
  readonly body: Buffer;
}

function checkHeader(header: FrameHeader): void {
  const { correlationId, api, versionOrStatus } = header;
  if (!Number.isInteger(correlationId) || correlationId < 0 || correlationId > MAX_U32) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `correlation id ${correlationId} is not a u32`);
  }
  if (!Number.isInteger(api) || api < 0 || api > 0xffff) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `api ${api} is not a u16`);
  if (!Number.isInteger(versionOrStatus) || versionOrStatus < 0 || versionOrStatus > 0xffff) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `version_or_status ${versionOrStatus} is not a u16`);
  }
}

/**
 * Fills the first FRAME_HEADER_BYTES of `frame`, whose body already sits after them; the length
 * field is taken from frame.length. Throws StreamBusError(INVALID_REQUEST) for out-of-range fields.
 */
export function writeFrameHeader(frame: Buffer, header: FrameHeader): void {
  checkHeader(header);
  if (frame.length < FRAME_HEADER_BYTES) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'a frame needs room for its header');
  if (frame.length - FRAME_LENGTH_BYTES > MAX_U32) throw new StreamBusError(ErrorCode.FRAME_TOO_LARGE, `a frame of ${frame.length} bytes`);
  frame.writeUInt32BE(frame.length - FRAME_LENGTH_BYTES, 0);
  frame.writeUInt32BE(header.correlationId, 4);
  frame.writeUInt16BE(header.api, 8);
  frame.writeUInt16BE(header.versionOrStatus, 10);
}

/** Rewrites the correlation id of an encoded frame (used when the id is assigned at send time). */
export function setFrameCorrelationId(frame: Buffer, correlationId: number): void {
  frame.writeUInt32BE(correlationId, 4);
}

/** One frame in a new buffer: header, then a copy of `body`. */
export function encodeFrame(header: FrameHeader, body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.set(body, FRAME_HEADER_BYTES);
  writeFrameHeader(frame, header);
  return frame;
}

/**
 * The framing is lost: the stream cannot be resynchronised and the connection must close. Carries
 * the correlation id and api of the offending frame when enough of it arrived to read them, so the
 * peer can be told which request failed.
 */
export class FrameError extends StreamBusError {
  readonly correlationId: number | undefined;
  readonly api: number | undefined;

  constructor(code: ErrorCode, message: string, correlationId: number | undefined, api: number | undefined) {
    super(code, message);
    this.correlationId = correlationId;
    this.api = api;
  }
}

export interface FrameDecoderOptions {
  /** Largest whole frame (length field included) accepted. Default DEFAULT_MAX_FRAME_BYTES. */
  readonly maxFrameBytes?: number;
}

/**
 * Splits a byte stream into frames. Feed it chunks of any size with push(), then call next() until
 * it returns undefined. Guarantees:
 * - A frame's bytes are copied at most once: a frame inside one chunk is returned as a view of that
 *   chunk, a frame spread over several is copied into one buffer when its last byte arrives.
 * - A length field above the bound throws FRAME_TOO_LARGE as soon as its 4 bytes are in, before
 *   any of the frame is buffered beyond what already arrived; a length below 8 throws
 *   MALFORMED_FRAME. After either, the decoder stays failed: next() throws the same error and
 *   push() discards its input.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  // Unconsumed input: chunks[head] from byte `offset`, then chunks[head + 1], ...
  private chunks: (Buffer | undefined)[] = [];
  private head = 0;
  private offset = 0;
  private buffered = 0;
  /** The length field of the frame at the front, once its 4 bytes have been read; else -1. */
  private frameLength = -1;
  private failure: FrameError | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < FRAME_HEADER_BYTES) throw new RangeError(`maxFrameBytes must be an integer >= ${FRAME_HEADER_BYTES}`);
    this.maxFrameBytes = max;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The error the decoder failed with, if it has. */
  get error(): FrameError | undefined {
    return this.failure;
  }

  push(chunk: Uint8Array): void {
    if (this.failure !== undefined || chunk.length === 0) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.length;
  }

  /** The next complete frame, or undefined until more bytes arrive. Throws FrameError. */
  next(): Frame | undefined {
    if (this.failure !== undefined) throw this.failure;
    if (this.frameLength < 0) {
      if (this.buffered < FRAME_LENGTH_BYTES) return undefined;
      const length = this.peekUint32(0);
      if (length < MIN_FRAME_LENGTH) this.fail(ErrorCode.MALFORMED_FRAME, `frame length ${length} is below the minimum of ${MIN_FRAME_LENGTH}`);
      if (length > this.maxFrameBytes - FRAME_LENGTH_BYTES) {
        this.fail(ErrorCode.FRAME_TOO_LARGE, `a frame of ${length + FRAME_LENGTH_BYTES} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      this.frameLength = length;
    }
    const total = this.frameLength + FRAME_LENGTH_BYTES;
    if (this.buffered < total) return undefined;
    const bytes = this.take(total);
    this.frameLength = -1;
    return {
      correlationId: bytes.readUInt32BE(4),
      api: bytes.readUInt16BE(8),
      versionOrStatus: bytes.readUInt16BE(10),
      body: bytes.subarray(FRAME_HEADER_BYTES),
    };
  }

  private fail(code: ErrorCode, message: string): never {
    const correlationId = this.buffered >= 8 ? this.peekUint32(4) : undefined;
    const api = this.buffered >= 10 ? this.peekByte(8) * 256 + this.peekByte(9) : undefined;
    this.failure = new FrameError(code, message, correlationId, api);
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.buffered = 0;
    throw this.failure;
  }

  /** A byte of unconsumed input; the caller has checked that `at < buffered`. */
  private peekByte(at: number): number {
    let index = this.head;
    let position = this.offset + at;
    for (;;) {
      const chunk = this.chunks[index] as Buffer;
      if (position < chunk.length) return chunk[position] as number;
      position -= chunk.length;
      index++;
    }
  }

  private peekUint32(at: number): number {
    const chunk = this.chunks[this.head] as Buffer;
    if (this.offset + at + 4 <= chunk.length) return chunk.readUInt32BE(this.offset + at);
    return ((this.peekByte(at) << 24) | (this.peekByte(at + 1) << 16) | (this.peekByte(at + 2) << 8) | this.peekByte(at + 3)) >>> 0;
  }

  /** Removes `n <= buffered` bytes from the front: a view when they sit in one chunk, else one copy. */
  private take(n: number): Buffer {
    const first = this.chunks[this.head] as Buffer;
    let out: Buffer;
    if (first.length - this.offset >= n) {
      out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) this.dropHead();
    } else {
      out = Buffer.allocUnsafe(n);
      let copied = 0;
      while (copied < n) {
        const chunk = this.chunks[this.head] as Buffer;
        const count = Math.min(chunk.length - this.offset, n - copied);
        chunk.copy(out, copied, this.offset, this.offset + count);
        copied += count;
        this.offset += count;
        if (this.offset === chunk.length) this.dropHead();
      }
    }
    this.buffered -= n;
    return out;
  }

  private dropHead(): void {
    this.chunks[this.head] = undefined;
    this.head++;
    this.offset = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      // Byte-at-a-time input leaves many consumed slots; compacting only once they are the
      // majority keeps the cost amortised O(1) per chunk.
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
