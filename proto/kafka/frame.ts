/**
 * Kafka's framing: every request and response is an int32 size followed by that many bytes. The
 * reader splits a byte stream into frames without copying when a frame lies within one received
 * chunk, and checks the size field as soon as its four bytes arrive, before buffering anything of
 * the frame: a size above the limit gives FRAME_TOO_LARGE and a size below a request header's
 * minimum (8 bytes) MALFORMED_FRAME. Either loses the framing for good; the connection must close.
 *
 * Pure: no node:* imports.
 */
import { ErrorCode, StreamBusError } from '../errors.js';
import { REQUEST_HEADER_PREFIX_BYTES } from './header.js';

export const FRAME_SIZE_BYTES = 4;

/** Kafka's socket.request.max.bytes default (100 MiB). */
export const DEFAULT_MAX_KAFKA_FRAME_BYTES = 100 * 1024 * 1024;

export class KafkaFrameReader {
  readonly #maxFrameBytes: number;
  readonly #minFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #broken: StreamBusError | undefined;

  /**
   * `maxFrameBytes` bounds a frame including its size field. `minFrameBytes` (default 8, a request
   * header's fixed part) is the least a frame may hold after the size field; use 4 for responses.
   */
  constructor(options: { maxFrameBytes?: number; minFrameBytes?: number } = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_KAFKA_FRAME_BYTES;
    this.#minFrameBytes = options.minFrameBytes ?? REQUEST_HEADER_PREFIX_BYTES;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The next whole frame (without its size field), or undefined until more bytes arrive. Throws
   * StreamBusError (FRAME_TOO_LARGE, MALFORMED_FRAME) for a size field no frame may have, and
   * throws the same error on every later call.
   */
  next(): Buffer | undefined {
    if (this.#broken !== undefined) throw this.#broken;
    if (this.#buffered < FRAME_SIZE_BYTES) return undefined;
    const size = this.#peekSize();
    if (size < this.#minFrameBytes) {
      this.#broken = new StreamBusError(ErrorCode.MALFORMED_FRAME, `a frame size of ${size} bytes is below the minimum ${this.#minFrameBytes}`);
      throw this.#broken;
    }
    if (size + FRAME_SIZE_BYTES > this.#maxFrameBytes) {
      this.#broken = new StreamBusError(
        ErrorCode.FRAME_TOO_LARGE,
        `a frame of ${size + FRAME_SIZE_BYTES} bytes is above the limit of ${this.#maxFrameBytes}`,
      );
      throw this.#broken;
    }
    if (this.#buffered < FRAME_SIZE_BYTES + size) return undefined;
    return this.#take(FRAME_SIZE_BYTES + size).subarray(FRAME_SIZE_BYTES);
  }

  #peekSize(): number {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= FRAME_SIZE_BYTES) return first.readInt32BE(0);
    const head = Buffer.alloc(FRAME_SIZE_BYTES);
    let filled = 0;
    for (const chunk of this.#chunks) {
      filled += chunk.copy(head, filled, 0, Math.min(chunk.length, FRAME_SIZE_BYTES - filled));
      if (filled === FRAME_SIZE_BYTES) break;
    }
    return head.readInt32BE(0);
  }

  /** Removes and returns the first `bytes` buffered bytes; a view when they lie in one chunk. */
  #take(bytes: number): Buffer {
    this.#buffered -= bytes;
    const first = this.#chunks[0] as Buffer;
    if (first.length >= bytes) {
      if (first.length === bytes) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    const out = Buffer.allocUnsafe(bytes);
    let filled = 0;
    while (filled < bytes) {
      const chunk = this.#chunks[0] as Buffer;
      const used = Math.min(chunk.length, bytes - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}
