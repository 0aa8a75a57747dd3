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
 * Pure: no node:* imports, no clock, no randomness. Buffer is used as a global.
 */
import type { Field, Type } from 'protobufjs';
import { ErrorCode, StreamBusError } from './errors.js';

/** Nesting deeper than this is refused; the native schema nests four levels at most. */
const MAX_DEPTH = 32;

/**
 * The most strings, byte arrays, messages and map entries one decode may allocate. A two-byte wire
 * element (an empty nested message) becomes a JS object of ~100 bytes; this cap keeps a hostile
 * 64 MiB frame from turning into gigabytes of heap.
 */
export const MAX_DECODED_OBJECTS = 1_000_000;

const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
type WireType = (typeof WireType)[keyof typeof WireType];

const Kind = {
  INT32: 0,
  UINT32: 1,
  SINT32: 2,
  INT64: 3,
  UINT64: 4,
  SINT64: 5,
  BOOL: 6,
  FIXED32: 7,
  SFIXED32: 8,
  FIXED64: 9,
  SFIXED64: 10,
  DOUBLE: 11,
  FLOAT: 12,
  STRING: 13,
  BYTES: 14,
  MESSAGE: 15,
} as const;
type Kind = (typeof Kind)[keyof typeof Kind];

const kindByTypeName: Readonly<Record<string, Kind>> = {
  int32: Kind.INT32,
  uint32: Kind.UINT32,
  sint32: Kind.SINT32,
  int64: Kind.INT64,
  uint64: Kind.UINT64,
  sint64: Kind.SINT64,
  bool: Kind.BOOL,
  fixed32: Kind.FIXED32,
  sfixed32: Kind.SFIXED32,
  fixed64: Kind.FIXED64,
  sfixed64: Kind.SFIXED64,
  double: Kind.DOUBLE,
  float: Kind.FLOAT,
  string: Kind.STRING,
  bytes: Kind.BYTES,
};

function wireTypeOf(kind: Kind): WireType {
  switch (kind) {
    case Kind.FIXED64:
    case Kind.SFIXED64:
    case Kind.DOUBLE:
      return WireType.I64;
    case Kind.FIXED32:
    case Kind.SFIXED32:
    case Kind.FLOAT:
      return WireType.I32;
    case Kind.STRING:
    case Kind.BYTES:
    case Kind.MESSAGE:
      return WireType.LEN;
    default:
      return WireType.VARINT;
  }
}

const Shape = { IMPLICIT: 0, PRESENCE: 1, REPEATED: 2, PACKED: 3, MAP: 4 } as const;
type Shape = (typeof Shape)[keyof typeof Shape];

interface FieldPlan {
  readonly id: number;
  readonly name: string;
  readonly shape: Shape;
  /** The kind of the value (of the map value, for maps). */
  readonly kind: Kind;
  readonly keyKind: Kind;
  readonly wireType: WireType;
  /** Tag of one element: (id << 3 | wireType). For packed and map fields, the LEN tag. */
  readonly tag: number;
  readonly tagBytes: number;
  /** The nested message plan, for MESSAGE kinds; filled after construction so cycles resolve. */
  message: MessagePlan | undefined;
}

interface MessagePlan {
  readonly name: string;
  /** Sorted by field number: the encoder writes in this order. */
  readonly fields: FieldPlan[];
  readonly byId: Map<number, FieldPlan>;
}

type Message = Record<string, unknown>;

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

// ---------------------------------------------------------------------------------------------
// Plans

function planFor(type: Type, plans: Map<Type, MessagePlan>): MessagePlan {
  const existing = plans.get(type);
  if (existing !== undefined) return existing;
  const fields: FieldPlan[] = [];
  const plan: MessagePlan = { name: type.name, fields, byId: new Map() };
  plans.set(type, plan);
  const nested: [FieldPlan, Type][] = [];
  for (const field of [...type.fieldsArray].sort((a, b) => a.id - b.id)) {
    const [fieldPlan, nestedType] = planField(type, field);
    fields.push(fieldPlan);
    plan.byId.set(fieldPlan.id, fieldPlan);
    if (nestedType !== undefined) nested.push([fieldPlan, nestedType]);
  }
  for (const [fieldPlan, nestedType] of nested) fieldPlan.message = planFor(nestedType, plans);
  return plan;
}

function planField(type: Type, field: Field): [FieldPlan, Type | undefined] {
  field.resolve();
  const where = `${type.name}.${field.name}`;
  if (field.required) throw new Error(`${where}: proto2 required fields are not supported`);
  if (field.delimited) throw new Error(`${where}: groups are not supported`);
  const resolved = field.resolvedType;
  let kind: Kind;
  let nestedType: Type | undefined;
  if (resolved === null) {
    const k = kindByTypeName[field.type];
    if (k === undefined) throw new Error(`${where}: unsupported field type ${field.type}`);
    kind = k;
  } else if ('fieldsArray' in resolved) {
    kind = Kind.MESSAGE;
    nestedType = resolved;
  } else {
    kind = Kind.INT32; // enums travel as int32
  }
  let shape: Shape;
  let keyKind: Kind = Kind.STRING;
  if (field.map) {
    shape = Shape.MAP;
    const k = kindByTypeName[(field as Field & { keyType: string }).keyType];
    if (k === undefined || k === Kind.BYTES || k === Kind.DOUBLE || k === Kind.FLOAT) throw new Error(`${where}: unsupported map key type`);
    keyKind = k;
  } else if (field.repeated) {
    shape = field.packed && wireTypeOf(kind) !== WireType.LEN ? Shape.PACKED : Shape.REPEATED;
  } else if (kind === Kind.MESSAGE || Boolean(field.hasPresence)) {
    shape = Shape.PRESENCE;
  } else {
    shape = Shape.IMPLICIT;
  }
  const wireType = shape === Shape.MAP || shape === Shape.PACKED ? WireType.LEN : wireTypeOf(kind);
  const tag = ((field.id << 3) | wireType) >>> 0;
  return [{ id: field.id, name: field.name, shape, kind, keyKind, wireType, tag, tagBytes: varint32Size(tag), message: undefined }, nestedType];
}

// ---------------------------------------------------------------------------------------------
// Encoding, pass 1: measure. Every nested length (message, packed run, map entry), every string's
// UTF-8 length and every BytesPieces total is pushed onto `sizes` in the order pass 2 will need it.

interface MeasureState {
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

function measureMessage(plan: MessagePlan, value: Message, m: MeasureState, depth: number): number {
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
// Encoding, pass 2: write front to back into the exact-size buffer.

interface WriteState {
  /** Where copied bytes go (everything, for encode()). */
  buf: Buffer;
  pos: number;
  sizes: number[];
  next: number;
  /** encodeChunks() only: the list being built; `buf` from chunkStart to pos is not in it yet. */
  chunks: Buffer[] | undefined;
  chunkStart: number;
  zeroCopyMinBytes: number;
}

function writeMessage(plan: MessagePlan, value: Message, w: WriteState): void {
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

/** Copies `bytes` into the buffer, or (encodeChunks, large enough) ends the chunk and passes them through. */
function writeBytes(w: WriteState, bytes: Uint8Array): void {
  if (w.chunks !== undefined && bytes.length >= w.zeroCopyMinBytes) {
    if (w.pos > w.chunkStart) w.chunks.push(w.buf.subarray(w.chunkStart, w.pos));
    w.chunks.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    w.chunkStart = w.pos;
    return;
  }
  w.buf.set(bytes, w.pos);
  w.pos += bytes.length;
}

function varint32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Size of a non-negative integer up to 2^54 as a varint. */
function varintNumberSize(v: number): number {
  if (v < 0x10000000) return varint32Size(v);
  let size = 4;
  let rest = Math.floor(v / 0x10000000);
  while (rest > 0) {
    size++;
    rest = Math.floor(rest / 0x80);
  }
  return size;
}

function writeVarint32(w: WriteState, value: number): void {
  let v = value >>> 0;
  const buf = w.buf;
  while (v > 0x7f) {
    buf[w.pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[w.pos++] = v;
}

function writeVarint64(w: WriteState, lo: number, hi: number): void {
  const buf = w.buf;
  while (hi !== 0 || lo > 0x7f) {
    buf[w.pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[w.pos++] = lo;
}

/** Two's-complement 64-bit halves of a safe integer. */
function splitInt64(v: number): [number, number] {
  const magnitude = Math.abs(v);
  let lo = magnitude >>> 0;
  let hi = Math.floor(magnitude / 0x100000000) >>> 0;
  if (v < 0) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  return [lo, hi];
}

function writeInt64(w: WriteState, v: number, zigzag: boolean): void {
  if (!zigzag && v >= 0 && v <= 0xffffffff) {
    writeVarint32(w, v);
    return;
  }
  let [lo, hi] = splitInt64(v);
  if (zigzag) {
    const sign = hi >> 31; // 0 or -1
    hi = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0;
    lo = ((lo << 1) ^ sign) >>> 0;
  }
  writeVarint64(w, lo, hi);
}

// ---------------------------------------------------------------------------------------------
// Decoding

interface ReadState {
  readonly buf: Buffer;
  pos: number;
  /** Strings, byte arrays, messages and map entries allocated so far (see MAX_DECODED_OBJECTS). */
  objects: number;
  /** Halves of the last 64-bit varint read. */
  lo?: number;
  hi?: number;
}

function malformed(plan: MessagePlan, r: ReadState, what: string): StreamBusError {
  return new StreamBusError(ErrorCode.MALFORMED_FRAME, `${plan.name}: ${what} at byte ${r.pos}`);
}

const EMPTY_BYTES = Buffer.alloc(0);

function defaultOf(kind: Kind): unknown {
  switch (kind) {
    case Kind.STRING:
      return '';
    case Kind.BYTES:
      return EMPTY_BYTES; // zero-length, so sharing one instance is safe
    case Kind.BOOL:
      return false;
    default:
      return 0;
  }
}

function newMessage(plan: MessagePlan): Message {
  const m: Message = {};
  for (const field of plan.fields) {
    switch (field.shape) {
      case Shape.IMPLICIT:
        m[field.name] = defaultOf(field.kind);
        break;
      case Shape.REPEATED:
      case Shape.PACKED:
        m[field.name] = [];
        break;
      case Shape.MAP:
        m[field.name] = {};
        break;
      // PRESENCE fields stay absent until the wire carries them.
    }
  }
  return m;
}

function countObject(plan: MessagePlan, r: ReadState): void {
  if (++r.objects > MAX_DECODED_OBJECTS) throw malformed(plan, r, `more than ${MAX_DECODED_OBJECTS} decoded elements`);
}

function decodeMessage(plan: MessagePlan, r: ReadState, end: number, depth: number, into: Message | undefined): Message {
  if (depth > MAX_DEPTH) throw malformed(plan, r, `nesting deeper than ${MAX_DEPTH}`);
  const m = into ?? newMessage(plan);
  while (r.pos < end) {
    const tag = readVarint32(plan, r, end);
    const id = tag >>> 3;
    const wireType = tag & 7;
    if (id === 0) throw malformed(plan, r, 'field number 0');
    const field = plan.byId.get(id);
    if (field === undefined) {
      skipField(plan, r, end, wireType);
      continue;
    }
    if (field.shape === Shape.PACKED) {
      const items = m[field.name] as unknown[];
      if (wireType === WireType.LEN) {
        const runEnd = readLengthEnd(plan, r, end);
        while (r.pos < runEnd) items.push(readScalar(plan, field.kind, r, runEnd));
        if (r.pos !== runEnd) throw malformed(plan, r, `packed ${field.name} overruns its length`);
      } else if (wireType === wireTypeOf(field.kind)) {
        items.push(readScalar(plan, field.kind, r, end)); // an unpacked writer: also valid proto3
      } else {
        skipField(plan, r, end, wireType);
      }
      continue;
    }
    if (wireType !== field.wireType) {
      // Protobuf parsers treat a known field with an unexpected wire type as an unknown field.
      skipField(plan, r, end, wireType);
      continue;
    }
    switch (field.shape) {
      case Shape.IMPLICIT:
      case Shape.PRESENCE:
        if (field.kind === Kind.MESSAGE) {
          const existing = m[field.name] as Message | undefined; // a repeated singular message merges
          m[field.name] = readNestedMessage(field, r, end, depth, existing);
        } else {
          m[field.name] = readScalar(plan, field.kind, r, end);
        }
        break;
      case Shape.REPEATED:
        (m[field.name] as unknown[]).push(
          field.kind === Kind.MESSAGE ? readNestedMessage(field, r, end, depth, undefined) : readScalar(plan, field.kind, r, end),
        );
        break;
      case Shape.MAP:
        readMapEntry(plan, field, r, end, depth, m[field.name] as Record<string, unknown>);
        break;
    }
  }
  if (r.pos !== end) throw malformed(plan, r, 'a field overruns the message');
  return m;
}

function readNestedMessage(field: FieldPlan, r: ReadState, end: number, depth: number, into: Message | undefined): Message {
  const nested = field.message as MessagePlan;
  const nestedEnd = readLengthEnd(nested, r, end);
  if (into === undefined) countObject(nested, r);
  return decodeMessage(nested, r, nestedEnd, depth + 1, into);
}

function readMapEntry(plan: MessagePlan, field: FieldPlan, r: ReadState, end: number, depth: number, target: Record<string, unknown>): void {
  const entryEnd = readLengthEnd(plan, r, end);
  countObject(plan, r);
  let key: unknown = defaultOf(field.keyKind);
  let value: unknown = undefined;
  while (r.pos < entryEnd) {
    const tag = readVarint32(plan, r, entryEnd);
    const wireType = tag & 7;
    if (tag >>> 3 === 1 && wireType === wireTypeOf(field.keyKind)) key = readScalar(plan, field.keyKind, r, entryEnd);
    else if (tag >>> 3 === 2 && wireType === wireTypeOf(field.kind))
      value = field.kind === Kind.MESSAGE ? readNestedMessage(field, r, entryEnd, depth, undefined) : readScalar(plan, field.kind, r, entryEnd);
    else skipField(plan, r, entryEnd, wireType);
  }
  if (r.pos !== entryEnd) throw malformed(plan, r, `an entry of ${field.name} overruns its length`);
  if (value === undefined) value = field.kind === Kind.MESSAGE ? newMessage(field.message as MessagePlan) : defaultOf(field.kind);
  // defineProperty: a plain assignment of '__proto__' would set the object's prototype instead.
  Object.defineProperty(target, String(key), { value, enumerable: true, writable: true, configurable: true });
}

function readLengthEnd(plan: MessagePlan, r: ReadState, end: number): number {
  const length = readVarint32(plan, r, end);
  if (length > end - r.pos) throw malformed(plan, r, `length ${length} runs past the end`);
  return r.pos + length;
}

function skipField(plan: MessagePlan, r: ReadState, end: number, wireType: number): void {
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
function readVarint32(plan: MessagePlan, r: ReadState, end: number): number {
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
function readVarint64(plan: MessagePlan, r: ReadState, end: number): void {
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

function int64FromHalves(plan: MessagePlan, r: ReadState, lo: number, hi: number, signed: boolean): number {
  const value = (signed ? hi | 0 : hi) * 0x100000000 + lo;
  if (!Number.isSafeInteger(value)) throw malformed(plan, r, 'a 64-bit integer beyond 2^53');
  return value;
}

function readScalar(plan: MessagePlan, kind: Kind, r: ReadState, end: number): unknown {
  switch (kind) {
    case Kind.INT32:
      return readVarint32(plan, r, end) | 0;
    case Kind.UINT32:
      return readVarint32(plan, r, end);
    case Kind.SINT32: {
      const v = readVarint32(plan, r, end);
      return (v >>> 1) ^ -(v & 1);
    }
    case Kind.INT64:
    case Kind.UINT64: {
      readVarint64(plan, r, end);
      return int64FromHalves(plan, r, r.lo as number, r.hi as number, kind === Kind.INT64);
    }
    case Kind.SINT64: {
      readVarint64(plan, r, end);
      const lo = r.lo as number;
      const hi = r.hi as number;
      const mask = -(lo & 1);
      return int64FromHalves(plan, r, (((lo >>> 1) | (hi << 31)) ^ mask) >>> 0, ((hi >>> 1) ^ mask) >>> 0, true);
    }
    case Kind.BOOL:
      readVarint64(plan, r, end);
      return r.lo !== 0 || r.hi !== 0;
    case Kind.FIXED32:
    case Kind.SFIXED32:
    case Kind.FLOAT: {
      if (end - r.pos < 4) throw malformed(plan, r, 'a fixed32 runs past the end');
      const at = r.pos;
      r.pos += 4;
      return kind === Kind.FIXED32 ? r.buf.readUInt32LE(at) : kind === Kind.SFIXED32 ? r.buf.readInt32LE(at) : r.buf.readFloatLE(at);
    }
    case Kind.FIXED64:
    case Kind.SFIXED64:
    case Kind.DOUBLE: {
      if (end - r.pos < 8) throw malformed(plan, r, 'a fixed64 runs past the end');
      const at = r.pos;
      r.pos += 8;
      if (kind === Kind.DOUBLE) return r.buf.readDoubleLE(at);
      return int64FromHalves(plan, r, r.buf.readUInt32LE(at), r.buf.readUInt32LE(at + 4), kind === Kind.SFIXED64);
    }
    case Kind.STRING: {
      const stop = readLengthEnd(plan, r, end);
      const start = r.pos;
      r.pos = stop;
      if (stop === start) return '';
      countObject(plan, r);
      return r.buf.toString('utf8', start, stop);
    }
    case Kind.BYTES: {
      const stop = readLengthEnd(plan, r, end);
      const start = r.pos;
      r.pos = stop;
      countObject(plan, r);
      return r.buf.subarray(start, stop);
    }
    default:
      throw new Error(`unreachable kind ${kind}`);
  }
}
