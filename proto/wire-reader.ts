/**
 * Reader primitives of the protobuf codec: varints (with the 10-byte limit protobuf allows),
 * 64-bit integers as JS numbers (refused beyond 2^53 rather than rounded), length prefixes checked
 * against the enclosing end, skipping unknown fields, and the cap on how many objects one decode
 * may allocate.
 *
 * Input comes from the network, so every read is bounds-checked against `end` (the end of the
 * enclosing message, not of the buffer) and every fault is StreamBusError(MALFORMED_FRAME) naming
 * the message and the byte offset.
 *
 * Pure: no node:* imports, no clock, no randomness. Buffer is used as a global.
 */
import { ErrorCode, StreamBusError } from './errors.js';
import { type MessagePlan, WireType } from './message-plan.js';

/**
 * The most strings, byte arrays, messages and map entries one decode may allocate. A two-byte wire
 * element (an empty nested message) becomes a JS object of ~100 bytes; this cap keeps a hostile
 * 64 MiB frame from turning into gigabytes of heap.
 */
export const MAX_DECODED_OBJECTS = 1_000_000;

/** A position in the input being decoded. */
export interface ReadState {
  readonly buf: Buffer;
  pos: number;
  /** Strings, byte arrays, messages and map entries allocated so far (see MAX_DECODED_OBJECTS). */
  objects: number;
  /** Halves of the last 64-bit varint read. */
  lo?: number;
  hi?: number;
}

export function malformed(plan: MessagePlan, r: ReadState, what: string): StreamBusError {
  return new StreamBusError(ErrorCode.MALFORMED_FRAME, `${plan.name}: ${what} at byte ${r.pos}`);
}

/** Counts one allocated object against MAX_DECODED_OBJECTS. */
export function countObject(plan: MessagePlan, r: ReadState): void {
  if (++r.objects > MAX_DECODED_OBJECTS) throw malformed(plan, r, `more than ${MAX_DECODED_OBJECTS} decoded elements`);
}

/** Reads a length prefix and returns where that many bytes end, refusing one that runs past `end`. */
export function readLengthEnd(plan: MessagePlan, r: ReadState, end: number): number {
  const length = readVarint32(plan, r, end);
  if (length > end - r.pos) throw malformed(plan, r, `length ${length} runs past the end`);
  return r.pos + length;
}

/** Skips the value of an unknown field (or a known one with an unexpected wire type). */
export function skipField(plan: MessagePlan, r: ReadState, end: number, wireType: number): void {
  switch (wireType) {
    case WireType.VARINT:
      readVarint64(plan, r, end);
      return;
    case WireType.I64:
      if (end - r.pos < 8) throw malformed(plan, r, 'a fixed64 runs past the end');
      r.pos += 8;
      return;
    case WireType.LEN:
      r.pos = readLengthEnd(plan, r, end);
      return;
    case WireType.I32:
      if (end - r.pos < 4) throw malformed(plan, r, 'a fixed32 runs past the end');
      r.pos += 4;
      return;
    default:
      throw malformed(plan, r, `wire type ${wireType}`);
  }
}

/** Reads a varint and returns its low 32 bits, unsigned. Accepts up to 10 bytes, like protobuf. */
export function readVarint32(plan: MessagePlan, r: ReadState, end: number): number {
  const buf = r.buf;
  let pos = r.pos;
  let value = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= end) throw malformed(plan, r, 'a varint runs past the end');
    const b = buf[pos++] as number;
    if (shift < 32) value |= (b & 0x7f) << shift;
    if (b < 0x80) {
      r.pos = pos;
      return value >>> 0;
    }
  }
  throw malformed(plan, r, 'a varint longer than 10 bytes');
}

/** Reads a varint into r.lo / r.hi (unsigned 32-bit halves). */
export function readVarint64(plan: MessagePlan, r: ReadState, end: number): void {
  const buf = r.buf;
  let pos = r.pos;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw malformed(plan, r, 'a varint runs past the end');
    const b = buf[pos++] as number;
    if (i < 4) lo |= (b & 0x7f) << (i * 7);
    else if (i === 4) {
      lo |= (b & 0x7f) << 28;
      hi = (b & 0x7f) >>> 4;
    } else hi |= (b & 0x7f) << (i * 7 - 32);
    if (b < 0x80) {
      r.pos = pos;
      r.lo = lo >>> 0;
      r.hi = hi >>> 0;
      return;
    }
  }
  throw malformed(plan, r, 'a varint longer than 10 bytes');
}

/** The number that 64-bit halves encode; refuses values beyond 2^53 rather than rounding them. */
export function int64FromHalves(plan: MessagePlan, r: ReadState, lo: number, hi: number, signed: boolean): number {
  const value = (signed ? hi | 0 : hi) * 0x100000000 + lo;
  if (!Number.isSafeInteger(value)) throw malformed(plan, r, 'a 64-bit integer beyond 2^53');
  return value;
}
