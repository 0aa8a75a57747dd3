/**
 * Plans for the reflection-driven protobuf codec (message-codec.ts): each protobufjs message Type
 * is turned once, at load time, into a MessagePlan that the encoder and decoder walk per message.
 *
 * A plan lists the message's fields in field-number order (the order the encoder writes, which is
 * what makes the output byte-identical to protobufjs's), each with its value kind, its shape
 * (implicit-presence scalar, explicit presence, repeated, packed, map), its wire type and its
 * precomputed tag. Nested message plans are filled in after construction so recursive schemas
 * resolve. Schema features the codec does not support (groups, proto2 required fields, bytes or
 * floating-point map keys) throw a plain Error here: a programmer error found at load time.
 *
 * Pure: no node:* imports, no clock, no randomness.
 */
import type { Field, Type } from 'protobufjs';
import { varint32Size } from './wire-writer.js';

/** Nesting deeper than this is refused; the native schema nests four levels at most. */
export const MAX_DEPTH = 32;

export const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

export const Kind = {
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
export type Kind = (typeof Kind)[keyof typeof Kind];

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

export function wireTypeOf(kind: Kind): WireType {
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

export const Shape = { IMPLICIT: 0, PRESENCE: 1, REPEATED: 2, PACKED: 3, MAP: 4 } as const;
export type Shape = (typeof Shape)[keyof typeof Shape];

export interface FieldPlan {
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

export interface MessagePlan {
  readonly name: string;
  /** Sorted by field number: the encoder writes in this order. */
  readonly fields: FieldPlan[];
  readonly byId: Map<number, FieldPlan>;
}

/** A message as the codec handles it: a plain object keyed by field name. */
export type Message = Record<string, unknown>;

/** The plan for `type` (resolved), sharing `plans` so each Type is planned once and cycles close. */
export function planFor(type: Type, plans: Map<Type, MessagePlan>): MessagePlan {
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
