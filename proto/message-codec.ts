/**
 * A protobuf (proto3) wire codec driven by protobufjs reflection: protobufjs parses the .proto, and
 * this module turns each message Type into a plan and encodes/decodes plain objects with it.
 *
 * Why not protobufjs's own generated encode/decode:
 * - Encoding: protobufjs grows one buffer by doubling and shifts every nested message once its
 *   length is known, so a 1 MiB `bytes` field inside ProduceRequest > ProduceTopic > ProducePartition
 *   is copied five times or more. Here a measuring pass computes every length first, then one
 *   exact-size buffer is written front to back: each `bytes` field is copied exactly once, and the
 *   caller may reserve headroom at the front for the frame header, so the frame needs no concat.
 * - Zero-copy: encodeChunks() writes the same bytes as a list of Buffers instead of one, leaving each
 *   large `bytes` value (or piece of one) out of the copy: the list holds the caller's own Buffer
 *   there, so a socket can send stored record batches without copying them into a new frame.
 *   Any `bytes` field may also be given as a list of pieces (BytesPieces), encoded as one field
 *   whose content is the pieces in order, so a fetch response need not concatenate its batches.
 * - Decoding: the result is a plain object with every proto3 default present (no prototype
 *   defaults, no frozen shared arrays, no `$unknowns`), int64 as JS numbers without touching
 *   protobufjs's process-wide Long setting (which other protobufjs users, such as the schema
 *   registry, rely on), `bytes` as Buffer views into the input (no copy), and every fault as
 *   StreamBusError(MALFORMED_FRAME).
 *
 * Wire grammar (https://protobuf.dev/programming-guides/encoding/):
 *   message := (tag value)*            tag := varint(field_id << 3 | wire_type)
 *   wire_type 0 VARINT: int32 uint32 sint32 int64 uint64 sint64 bool enum
 *   wire_type 1 I64:    fixed64 sfixed64 double (little-endian)
 *   wire_type 2 LEN:    varint(length) then bytes: string bytes message, packed repeated, map entry
 *   wire_type 5 I32:    fixed32 sfixed32 float (little-endian)
 *   negative int32/int64 take 10 varint bytes (sign-extended); sint* are zigzag-encoded.
 *   A map<K,V> entry is a LEN message { 1: key, 2: value }. Groups (wire types 3, 4) are rejected.
 * Fields are written in field-number order and proto3 implicit-presence fields are skipped when they
 * hold their default, so the output is byte-identical to protobufjs's encoder (a test checks it).
 *
 * The parts: message-plan.ts (schema → plan), message-encoder.ts (measure, then write, over the
 * primitives in wire-writer.ts) and message-decoder.ts (over the primitives in wire-reader.ts).
 * This file holds the public types and puts the parts together into one codec per message type.
 *
 * Pure: no node:* imports, no clock, no randomness. Buffer is used as a global.
 */
import type { Type } from 'protobufjs';
import { decodeMessage } from './message-decoder.js';
import { type MeasureState, measureMessage, writeMessage } from './message-encoder.js';
import { type Message, planFor } from './message-plan.js';
import type { ReadState } from './wire-reader.js';
import type { WriteState } from './wire-writer.js';

export { MAX_DECODED_OBJECTS } from './wire-reader.js';

/**
 * A `bytes` value given in pieces: it is encoded as ONE `bytes` field whose length is the sum of
 * the pieces' lengths and whose content is the pieces in order, byte-identical to encoding their
 * concatenation. Decoding always yields one Buffer.
 */
export type BytesPieces = readonly Uint8Array[];

/**
 * `T` as the encoders accept it: wherever `T` holds a Buffer (a `bytes` field), a BytesPieces list
 * is accepted too. Every `T` is an `Encodable<T>`.
 */
export type Encodable<T> = T extends Uint8Array
  ? T | BytesPieces
  : T extends (infer U)[]
    ? Encodable<U>[]
    : T extends readonly (infer U)[]
      ? readonly Encodable<U>[]
      : T extends object
        ? { [K in keyof T]: Encodable<T[K]> }
        : T;

export interface EncodeChunksOptions {
  /** Bytes left free at the front of the first chunk for the caller (a frame header). Default 0. */
  readonly headroomBytes?: number;
  /**
   * A `bytes` value, or a piece of one, at least this long is put in the list as it is instead of
   * being copied. Smaller ones are copied: one iovec per few bytes would cost more than the copy.
   * Default DEFAULT_ZERO_COPY_MIN_BYTES.
   */
  readonly zeroCopyMinBytes?: number;
}

/** The default size from which encodeChunks() passes a `bytes` value through instead of copying it. */
export const DEFAULT_ZERO_COPY_MIN_BYTES = 16 * 1024;

/** A codec for one message type. */
export interface MessageCodec<T> {
  /** The fully qualified type name, for messages. */
  readonly typeName: string;
  /**
   * Encodes `value` into a new Buffer of exactly `headroomBytes + encoded length` bytes, with the
   * message at `headroomBytes` (the bytes before it are left for the caller to fill). Copies each
   * `bytes` field once. Throws StreamBusError(INVALID_REQUEST) for a value that does not fit its
   * field (a non-integer int32, an int64 beyond 2^53, a string where bytes belong, ...).
   */
  encode(value: T | Encodable<T>, headroomBytes?: number): Buffer;
  /**
   * Encodes `value` into a list of Buffers whose concatenation is exactly what
   * `encode(value, headroomBytes)` returns (headroom included, in the first chunk, which always
   * exists). Each `bytes` value or piece of at least `zeroCopyMinBytes` is in the list as the
   * caller's own Buffer (a Uint8Array piece becomes a Buffer view of the same memory), not a copy:
   * the caller must not modify those until the chunks have been consumed. Everything else sits in
   * views of one new allocation. Throws as encode() does.
   */
  encodeChunks(value: T | Encodable<T>, options?: EncodeChunksOptions): Buffer[];
  /**
   * Decodes one message. `bytes` fields are views into `bytes`, not copies. Throws
   * StreamBusError(MALFORMED_FRAME) for input that is not a valid encoding of the type.
   */
  decode(bytes: Uint8Array): T;
}

/**
 * Builds a codec for a resolved protobufjs message type (call `root.resolveAll()` first). Throws a
 * plain Error for schema features this codec does not support (groups, proto2 required fields):
 * that is a programmer error found at load time.
 */
export function buildMessageCodec<T>(type: Type): MessageCodec<T> {
  const plan = planFor(type, new Map());
  const typeName = type.fullName.replace(/^\./, '');
  return {
    typeName,
    encode(value: T | Encodable<T>, headroomBytes = 0): Buffer {
      const m: MeasureState = { sizes: [], zeroCopyMinBytes: Number.POSITIVE_INFINITY, zeroCopyBytes: 0 };
      const length = measureMessage(plan, value as Message, m, 0);
      const buf = Buffer.allocUnsafe(headroomBytes + length);
      const w: WriteState = { buf, pos: headroomBytes, sizes: m.sizes, next: 0, chunks: undefined, chunkStart: 0, zeroCopyMinBytes: m.zeroCopyMinBytes };
      writeMessage(plan, value as Message, w);
      if (w.pos !== buf.length) throw new Error(`${typeName}: encoder wrote ${w.pos - headroomBytes} bytes, measured ${length}`);
      return buf;
    },
    encodeChunks(value: T | Encodable<T>, options: EncodeChunksOptions = {}): Buffer[] {
      const headroomBytes = options.headroomBytes ?? 0;
      const zeroCopyMinBytes = options.zeroCopyMinBytes ?? DEFAULT_ZERO_COPY_MIN_BYTES;
      // At least 1, so an empty piece is never a chunk of its own.
      if (!(zeroCopyMinBytes >= 1)) throw new RangeError(`zeroCopyMinBytes must be at least 1, got ${zeroCopyMinBytes}`);
      const m: MeasureState = { sizes: [], zeroCopyMinBytes, zeroCopyBytes: 0 };
      const length = measureMessage(plan, value as Message, m, 0);
      // One allocation for everything that is copied: the bytes between the passed-through values.
      const buf = Buffer.allocUnsafe(headroomBytes + length - m.zeroCopyBytes);
      const chunks: Buffer[] = [];
      const w: WriteState = { buf, pos: headroomBytes, sizes: m.sizes, next: 0, chunks, chunkStart: 0, zeroCopyMinBytes };
      writeMessage(plan, value as Message, w);
      if (w.pos > w.chunkStart || chunks.length === 0) chunks.push(buf.subarray(w.chunkStart, w.pos));
      if (w.pos !== buf.length) throw new Error(`${typeName}: encoder copied ${w.pos - headroomBytes} bytes, measured ${length - m.zeroCopyBytes}`);
      return chunks;
    },
    decode(bytes: Uint8Array): T {
      const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const r: ReadState = { buf, pos: 0, objects: 0 };
      return decodeMessage(plan, r, buf.length, 0, undefined) as T;
    },
  };
}
