/**
 * Confluent's wire format for schema-tagged records (reference §3.1), as pure functions:
 *
 *   magic byte 0x00 | schema id int32 big-endian | payload
 *
 * Protobuf payloads carry a message-index path between the id and the message, naming which
 * message of the schema's file the bytes hold: a zig-zag varint count, then that many zig-zag
 * varint indexes (the position among the file's top-level messages, then among the nested ones).
 * The common path [0] (the first top-level message) is written as the single byte 0x00 (a count of
 * zero); readers accept both that shortcut and the long form [1, 0].
 *
 * Written here rather than imported from the registry (coordinator/) because the client library
 * must not depend on server code (the layering rule). Pure: no node:* imports.
 */
import { SerdeError, SerdeErrorCode } from './serde-error.js';

export const MAGIC_BYTE = 0;
/** Magic byte plus the 4-byte schema id. */
export const HEADER_BYTES = 5;
/** A message-index path longer than this is not a real schema's nesting; refuse it rather than allocate. */
export const MAX_MESSAGE_INDEXES = 64;
const MAX_SCHEMA_ID = 0x7fffffff;

/** A framed record's schema id and where its payload starts. */
export interface Frame {
  readonly schemaId: number;
  /** The bytes after the 5-byte header (for Protobuf still including the message indexes). */
  readonly payload: Buffer;
}

/** The header and `payload` in one buffer. Throws SerdeError INVALID_CONFIG for an id outside 1..2^31-1. */
export function encodeFrame(schemaId: number, payload: Uint8Array, prefix?: Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > MAX_SCHEMA_ID) {
    throw new SerdeError(SerdeErrorCode.INVALID_CONFIG, `schema id ${schemaId} is not a 32-bit non-negative integer`);
  }
  const prefixBytes = prefix?.length ?? 0;
  const out = Buffer.allocUnsafe(HEADER_BYTES + prefixBytes + payload.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(schemaId, 1);
  if (prefix !== undefined) out.set(prefix, HEADER_BYTES);
  out.set(payload, HEADER_BYTES + prefixBytes);
  return out;
}

/** Reads the header. Throws SerdeError UNKNOWN_MAGIC_BYTE for bytes not in the wire format. */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length < HEADER_BYTES) {
    throw new SerdeError(SerdeErrorCode.UNKNOWN_MAGIC_BYTE, `${bytes.length} bytes cannot hold the 5-byte schema header (magic byte 0 and a schema id)`);
  }
  if (bytes[0] !== MAGIC_BYTE) {
    throw new SerdeError(SerdeErrorCode.UNKNOWN_MAGIC_BYTE, `unknown magic byte 0x${bytes[0]!.toString(16).padStart(2, '0')}: the bytes were not written in the schema registry's wire format`);
  }
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return { schemaId: buffer.readInt32BE(1), payload: buffer.subarray(HEADER_BYTES) };
}

// ---- Protobuf message indexes

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function unzigzag(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

function pushVarint(out: number[], value: number): void {
  let v = zigzag(value);
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** The bytes of a message-index path; [0] (or []) is the single byte 0x00. */
export function encodeMessageIndexes(indexes: readonly number[]): Uint8Array {
  if (indexes.length === 0 || (indexes.length === 1 && indexes[0] === 0)) return Uint8Array.of(0);
  const out: number[] = [];
  pushVarint(out, indexes.length);
  for (const index of indexes) pushVarint(out, index);
  return Uint8Array.from(out);
}

/** A message-index path and the bytes after it (the Protobuf message). */
export interface MessageIndexes {
  readonly indexes: readonly number[];
  readonly message: Buffer;
}

/** Reads the message-index path at the start of a Protobuf payload. Throws SerdeError INVALID_PAYLOAD when it is cut short or absurd. */
export function decodeMessageIndexes(payload: Buffer): MessageIndexes {
  let position = 0;
  const readVarint = (): number => {
    let result = 0;
    let scale = 1;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = payload[position];
      if (byte === undefined) throw new SerdeError(SerdeErrorCode.INVALID_PAYLOAD, 'the Protobuf message-index path is cut short');
      position += 1;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return unzigzag(result);
      scale *= 0x80;
    }
    throw new SerdeError(SerdeErrorCode.INVALID_PAYLOAD, 'a Protobuf message index is longer than 5 bytes');
  };
  const count = readVarint();
  if (count === 0) return { indexes: [0], message: payload.subarray(position) };
  if (count < 0 || count > MAX_MESSAGE_INDEXES) {
    throw new SerdeError(SerdeErrorCode.INVALID_PAYLOAD, `the Protobuf message-index path claims ${count} indexes (at most ${MAX_MESSAGE_INDEXES})`);
  }
  const indexes: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const index = readVarint();
    if (index < 0) throw new SerdeError(SerdeErrorCode.INVALID_PAYLOAD, `Protobuf message index ${index} is negative`);
    indexes.push(index);
  }
  return { indexes, message: payload.subarray(position) };
}
