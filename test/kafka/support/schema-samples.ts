/**
 * Sample messages for the Kafka codec's tests, made from the schemas themselves: every field of a
 * message gets a deterministic value of its type (nulls where the version allows them, on odd
 * variants), and `expectedDecode` says what decoding that sample at a version must give: the
 * fields of the version as sent, the others at their defaults.
 */
import type { Field, FieldType, MessageSchema } from '../../../proto/kafka/index.js';

/** A seeded pseudo-random source (mulberry32), so a failing case replays exactly. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function present(field: Field, version: number): boolean {
  return version >= (field.since ?? 0) && (field.until === undefined || version <= field.until);
}

function nullable(field: Field, version: number): boolean {
  return field.nullableSince !== undefined && version >= field.nullableSince;
}

function sampleValue(type: FieldType, name: string, version: number, variant: number): unknown {
  switch (type) {
    case 'bool':
      return variant % 2 === 0;
    case 'int8':
      return -(variant % 100) - 1;
    case 'int16':
      return 300 + variant;
    case 'int32':
      return 70_000 + variant;
    case 'int64':
      return 2 ** 40 + variant * 3 - 17;
    case 'string':
      return `${name}-${variant}-é`;
    case 'bytes':
    case 'records':
      return Buffer.from(`${name}:${variant}`.repeat(3));
    default:
      break;
  }
  if ('array' in type) return [0, 1].map((i) => sampleValue(type.array, name, version, variant * 2 + i));
  return sampleStruct(type.struct, version, variant);
}

function sampleStruct(fields: readonly Field[], version: number, variant: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  fields.forEach((field, i) => {
    out[field.name] = nullable(field, version) && (variant + i) % 2 === 1 ? null : sampleValue(field.type, field.name, version, variant + i);
  });
  return out;
}

/** A sample of the message for `version`; `variant` varies the values and which nullable fields are null. */
export function sampleMessage(schema: MessageSchema, version: number, variant = 0): Record<string, unknown> {
  return sampleStruct(schema.fields, version, variant);
}

function defaultValue(field: Field): unknown {
  if (field.default !== undefined) return field.default;
  return zeroOf(field.type);
}

function zeroOf(type: FieldType): unknown {
  switch (type) {
    case 'bool':
      return false;
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
      return 0;
    case 'string':
      return '';
    case 'bytes':
    case 'records':
      return Buffer.alloc(0);
    default:
      break;
  }
  if ('array' in type) return [];
  return Object.fromEntries(type.struct.map((field) => [field.name, defaultValue(field)]));
}

function expectedStruct(fields: readonly Field[], version: number, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) out[field.name] = present(field, version) ? expectedValue(field.type, version, value[field.name]) : defaultValue(field);
  return out;
}

function expectedValue(type: FieldType, version: number, value: unknown): unknown {
  if (value === null || typeof type === 'string') return value;
  if ('array' in type) return (value as unknown[]).map((item) => expectedValue(type.array, version, item));
  return expectedStruct(type.struct, version, value as Record<string, unknown>);
}

/** What decoding `sample` encoded at `version` must return. */
export function expectedDecode(schema: MessageSchema, version: number, sample: Record<string, unknown>): Record<string, unknown> {
  return expectedStruct(schema.fields, version, sample);
}
