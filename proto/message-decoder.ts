/**
 * The decoder of the protobuf codec: wire bytes to a plain object following a MessagePlan.
 *
 * The result has every proto3 default present (no prototype defaults, no frozen shared arrays, no
 * `$unknowns`); presence fields stay absent unless the wire carries them. int64 values are JS
 * numbers, `bytes` values are Buffer views into the input (no copy), unknown fields are skipped, a
 * repeated singular message merges as protobuf specifies, and map keys are defined as own
 * properties so a key named `__proto__` cannot change the object's prototype.
 *
 * Pure: no node:* imports, no clock, no randomness. Buffer is used as a global.
 */
import { type FieldPlan, type Message, type MessagePlan, Kind, MAX_DEPTH, Shape, WireType, wireTypeOf } from './message-plan.js';
import { type ReadState, countObject, int64FromHalves, malformed, readLengthEnd, readVarint32, readVarint64, skipField } from './wire-reader.js';

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

/** Decodes the message that ends at `end` into `into` (merging) or a new object. */
export function decodeMessage(plan: MessagePlan, r: ReadState, end: number, depth: number, into: Message | undefined): Message {
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
