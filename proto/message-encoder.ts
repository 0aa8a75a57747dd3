/**
 * The encoder of the protobuf codec, in two passes over a plain object following a MessagePlan.
 *
 * Pass 1 (measure) checks every value against its field's type and computes every length the
 * output needs: each nested message, packed run and map entry, each string's UTF-8 length and each
 * BytesPieces total, pushed onto `sizes` in the order pass 2 will need them. It also adds up the
 * `bytes` content that encodeChunks() will pass through rather than copy.
 *
 * Pass 2 (write) then writes front to back into a buffer of exactly the measured size, so nothing
 * is shifted or copied twice. Fields go out in field-number order and proto3 implicit-presence
 * fields holding their default are skipped, which makes the output byte-identical to protobufjs.
 *
 * A value that does not fit its field (a non-integer int32, an int64 beyond 2^53, a string where
 * bytes belong, ...) throws StreamBusError(INVALID_REQUEST) from pass 1, before anything is written.
 *
 * Pure: no node:* imports, no clock, no randomness. Buffer is used as a global.
 */
import { ErrorCode, StreamBusError } from './errors.js';
import type { BytesPieces } from './message-codec.js';
import { type FieldPlan, type Message, type MessagePlan, Kind, MAX_DEPTH, Shape, wireTypeOf } from './message-plan.js';
import {
  type WriteState,
  splitInt64,
  varint32Size,
  varintNumberSize,
  writeBytes,
  writeInt64,
  writeVarint32,
  writeVarint64,
} from './wire-writer.js';

// ---------------------------------------------------------------------------------------------
// Pass 1: measure

/** What pass 1 collects for pass 2. */
export interface MeasureState {
  readonly sizes: number[];
  /** Bytes values (and pieces) at least this long are passed through by encodeChunks(). */
  readonly zeroCopyMinBytes: number;
  /** The sum of those: bytes the encoder will not copy. */
  zeroCopyBytes: number;
}

function invalid(plan: MessagePlan, field: FieldPlan, expected: string, value: unknown): StreamBusError {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value.slice(0, 40));
  else if (value === null) shown = 'null';
  else if (typeof value === 'object') shown = Array.isArray(value) ? 'an array' : 'an object';
  else shown = typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
  return new StreamBusError(ErrorCode.INVALID_REQUEST, `${plan.name}.${field.name} must be ${expected}, got ${shown}`);
}

function isDefault(kind: Kind, value: unknown): boolean {
  switch (kind) {
    case Kind.STRING:
      return value === '';
    case Kind.BYTES:
      if (value instanceof Uint8Array) return value.length === 0;
      // Pieces adding up to nothing are the default too, as their concatenation would be.
      return Array.isArray(value) && value.every((piece) => piece instanceof Uint8Array && piece.length === 0);
    case Kind.BOOL:
      return value === false;
    case Kind.DOUBLE:
    case Kind.FLOAT:
      return Object.is(value, 0);
    default:
      return value === 0;
  }
}

/** Checks `value` against `plan` and returns its encoded length, recording the sizes pass 2 needs. */
export function measureMessage(plan: MessagePlan, value: Message, m: MeasureState, depth: number): number {
  if (typeof value !== 'object' || value === null) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `${plan.name} must be an object, got ${value === null ? 'null' : typeof value}`);
  }
  if (depth > MAX_DEPTH) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `${plan.name}: nested deeper than ${MAX_DEPTH}`);
  let total = 0;
  for (const field of plan.fields) {
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    switch (field.shape) {
      case Shape.IMPLICIT:
        if (isDefault(field.kind, v)) break;
        total += field.tagBytes + measureValue(plan, field, field.kind, v, m, depth);
        break;
      case Shape.PRESENCE:
        total += field.tagBytes + measureValue(plan, field, field.kind, v, m, depth);
        break;
      case Shape.REPEATED: {
        if (!Array.isArray(v)) throw invalid(plan, field, 'an array', v);
        for (const item of v as unknown[]) total += field.tagBytes + measureValue(plan, field, field.kind, item, m, depth);
        break;
      }
      case Shape.PACKED: {
        if (!Array.isArray(v)) throw invalid(plan, field, 'an array', v);
        const items = v as unknown[];
        if (items.length === 0) break;
        let run = 0;
        for (const item of items) run += measureScalar(plan, field, field.kind, item, m);
        m.sizes.push(run);
        total += field.tagBytes + varint32Size(run) + run;
        break;
      }
      case Shape.MAP: {
        if (typeof v !== 'object' || Array.isArray(v)) throw invalid(plan, field, 'an object', v);
        for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
          const slot = m.sizes.length;
          m.sizes.push(0);
          // Entry fields are tags 1 and 2, one byte each.
          const entry =
            1 + measureScalar(plan, field, field.keyKind, mapKeyValue(plan, field, key), m) + 1 + measureValue(plan, field, field.kind, item, m, depth);
          m.sizes[slot] = entry;
          total += field.tagBytes + varint32Size(entry) + entry;
        }
        break;
      }
    }
  }
  return total;
}

function measureValue(plan: MessagePlan, field: FieldPlan, kind: Kind, v: unknown, m: MeasureState, depth: number): number {
  if (kind !== Kind.MESSAGE) return measureScalar(plan, field, kind, v, m);
  const nested = field.message as MessagePlan;
  const slot = m.sizes.length;
  m.sizes.push(0);
  const length = measureMessage(nested, v as Message, m, depth + 1);
  m.sizes[slot] = length;
  return varint32Size(length) + length;
}

function isInt32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff;
}
function isUint32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
function isSafeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** The encoded size of one scalar (with its length prefix, for strings and bytes), after checking its type. */
function measureScalar(plan: MessagePlan, field: FieldPlan, kind: Kind, v: unknown, m: MeasureState): number {
  switch (kind) {
    case Kind.INT32:
      if (!isInt32(v)) throw invalid(plan, field, 'an int32', v);
      return v < 0 ? 10 : varint32Size(v);
    case Kind.UINT32:
      if (!isUint32(v)) throw invalid(plan, field, 'a uint32', v);
      return varint32Size(v);
    case Kind.SINT32:
      if (!isInt32(v)) throw invalid(plan, field, 'an int32', v);
      return varint32Size(((v << 1) ^ (v >> 31)) >>> 0);
    case Kind.INT64:
      if (!isSafeInteger(v)) throw invalid(plan, field, 'a safe integer', v);
      return v < 0 ? 10 : varintNumberSize(v);
    case Kind.UINT64:
      if (!isSafeInteger(v) || v < 0) throw invalid(plan, field, 'a non-negative safe integer', v);
      return varintNumberSize(v);
    case Kind.SINT64:
      if (!isSafeInteger(v)) throw invalid(plan, field, 'a safe integer', v);
      return v < 0 ? varintNumberSize(-v * 2 - 1) : varintNumberSize(v * 2);
    case Kind.BOOL:
      if (typeof v !== 'boolean') throw invalid(plan, field, 'a boolean', v);
      return 1;
    case Kind.FIXED32:
      if (!isUint32(v)) throw invalid(plan, field, 'a uint32', v);
      return 4;
    case Kind.SFIXED32:
      if (!isInt32(v)) throw invalid(plan, field, 'an int32', v);
      return 4;
    case Kind.FIXED64:
      if (!isSafeInteger(v) || v < 0) throw invalid(plan, field, 'a non-negative safe integer', v);
      return 8;
    case Kind.SFIXED64:
      if (!isSafeInteger(v)) throw invalid(plan, field, 'a safe integer', v);
      return 8;
    case Kind.DOUBLE:
      if (typeof v !== 'number') throw invalid(plan, field, 'a number', v);
      return 8;
    case Kind.FLOAT:
      if (typeof v !== 'number') throw invalid(plan, field, 'a number', v);
      return 4;
    case Kind.STRING: {
      if (typeof v !== 'string') throw invalid(plan, field, 'a string', v);
      const length = Buffer.byteLength(v, 'utf8');
      m.sizes.push(length);
      return varint32Size(length) + length;
    }
    case Kind.BYTES: {
      if (v instanceof Uint8Array) {
        if (v.length >= m.zeroCopyMinBytes) m.zeroCopyBytes += v.length;
        return varint32Size(v.length) + v.length;
      }
      if (!Array.isArray(v)) throw invalid(plan, field, 'a Buffer or a list of Buffers', v);
      let length = 0;
      for (const piece of v as unknown[]) {
        if (!(piece instanceof Uint8Array)) throw invalid(plan, field, 'a Buffer or a list of Buffers', v);
        length += piece.length;
        if (piece.length >= m.zeroCopyMinBytes) m.zeroCopyBytes += piece.length;
      }
      // A length prefix is a varint32; no frame comes near this, but a wrong prefix would be silent.
      if (length > 0xffffffff) throw invalid(plan, field, 'at most 4 GiB in all', v);
      m.sizes.push(length);
      return varint32Size(length) + length;
    }
    default:
      throw new Error(`unreachable kind ${kind}`);
  }
}

/** Map keys arrive as object keys (strings); non-string key kinds are parsed and checked here. */
function mapKeyValue(plan: MessagePlan, field: FieldPlan, key: string): unknown {
  switch (field.keyKind) {
    case Kind.STRING:
      return key;
    case Kind.BOOL:
      if (key === 'true') return true;
      if (key === 'false') return false;
      throw invalid(plan, field, 'keyed by true/false', key);
    default:
      return /^-?\d+$/.test(key) ? Number(key) : key; // a non-numeric key fails the kind check
  }
}

// ---------------------------------------------------------------------------------------------
// Pass 2: write

/** Writes `value`, already measured, at w.pos. */
export function writeMessage(plan: MessagePlan, value: Message, w: WriteState): void {
  for (const field of plan.fields) {
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    switch (field.shape) {
      case Shape.IMPLICIT:
        if (isDefault(field.kind, v)) break;
        writeVarint32(w, field.tag);
        writeValue(field, field.kind, v, w);
        break;
      case Shape.PRESENCE:
        writeVarint32(w, field.tag);
        writeValue(field, field.kind, v, w);
        break;
      case Shape.REPEATED:
        for (const item of v as unknown[]) {
          writeVarint32(w, field.tag);
          writeValue(field, field.kind, item, w);
        }
        break;
      case Shape.PACKED: {
        const items = v as unknown[];
        if (items.length === 0) break;
        writeVarint32(w, field.tag);
        writeVarint32(w, w.sizes[w.next++] as number);
        for (const item of items) writeScalar(field.kind, item, w);
        break;
      }
      case Shape.MAP:
        for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
          writeVarint32(w, field.tag);
          writeVarint32(w, w.sizes[w.next++] as number);
          writeVarint32(w, (1 << 3) | wireTypeOf(field.keyKind));
          writeScalar(field.keyKind, field.keyKind === Kind.STRING ? key : field.keyKind === Kind.BOOL ? key === 'true' : Number(key), w);
          writeVarint32(w, (2 << 3) | wireTypeOf(field.kind));
          writeValue(field, field.kind, item, w);
        }
        break;
    }
  }
}

function writeValue(field: FieldPlan, kind: Kind, v: unknown, w: WriteState): void {
  if (kind !== Kind.MESSAGE) {
    writeScalar(kind, v, w);
    return;
  }
  writeVarint32(w, w.sizes[w.next++] as number);
  writeMessage(field.message as MessagePlan, v as Message, w);
}

/** Writes one scalar whose type measureScalar has already checked. */
function writeScalar(kind: Kind, v: unknown, w: WriteState): void {
  switch (kind) {
    case Kind.INT32:
    case Kind.UINT32:
      if ((v as number) < 0) writeVarint64(w, (v as number) >>> 0, 0xffffffff);
      else writeVarint32(w, v as number);
      return;
    case Kind.SINT32: {
      const n = v as number;
      writeVarint32(w, ((n << 1) ^ (n >> 31)) >>> 0);
      return;
    }
    case Kind.INT64:
    case Kind.UINT64:
      writeInt64(w, v as number, false);
      return;
    case Kind.SINT64:
      writeInt64(w, v as number, true);
      return;
    case Kind.BOOL:
      w.buf[w.pos++] = v === true ? 1 : 0;
      return;
    case Kind.FIXED32:
      w.buf.writeUInt32LE(v as number, w.pos);
      w.pos += 4;
      return;
    case Kind.SFIXED32:
      w.buf.writeInt32LE(v as number, w.pos);
      w.pos += 4;
      return;
    case Kind.FIXED64:
    case Kind.SFIXED64: {
      const [lo, hi] = splitInt64(v as number);
      w.buf.writeUInt32LE(lo, w.pos);
      w.buf.writeUInt32LE(hi, w.pos + 4);
      w.pos += 8;
      return;
    }
    case Kind.DOUBLE:
      w.buf.writeDoubleLE(v as number, w.pos);
      w.pos += 8;
      return;
    case Kind.FLOAT:
      w.buf.writeFloatLE(v as number, w.pos);
      w.pos += 4;
      return;
    case Kind.STRING: {
      const length = w.sizes[w.next++] as number;
      writeVarint32(w, length);
      if (length > 0) w.pos += w.buf.write(v as string, w.pos, length, 'utf8');
      return;
    }
    case Kind.BYTES: {
      if (v instanceof Uint8Array) {
        writeVarint32(w, v.length);
        writeBytes(w, v);
      } else {
        writeVarint32(w, w.sizes[w.next++] as number);
        for (const piece of v as BytesPieces) writeBytes(w, piece);
      }
      return;
    }
    default:
      throw new Error(`unreachable kind ${kind}`);
  }
}
