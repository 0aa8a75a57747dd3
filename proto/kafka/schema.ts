/**
 * The schema language of the Kafka codec: each message is a list of fields with the versions they
 * exist in and the versions in which they may be null, as Kafka's own message JSON describes them
 * (clients/src/main/resources/common/message/*.json in apache/kafka). The files in ./messages/
 * transcribe those descriptions for the versions StreamBus serves, with the wire grammar written
 * above each schema; ./codec.ts reads and writes any schema, so a version is served by a
 * declaration, not by a hand-written byte loop.
 *
 * The TypeScript shapes of the messages are derived from the schemas (`Decoded<S>` for what the
 * decoder returns, `Encodable<S>` for what the encoder takes), so a field added to a schema is a
 * compile error wherever the message is built without it.
 *
 * Field values are present in every version: a field the version lacks decodes as its default
 * (0, false, '', an empty Buffer, [], or `default` when the schema gives one) and is skipped when
 * encoding. int64 fields are JS numbers (safe integers). `records` fields hold RecordBatch bytes:
 * decoded as a view into the frame, encoded from one Buffer or a list of pieces without copying.
 *
 * Pure: no node:* imports.
 */

export type Primitive = 'bool' | 'int8' | 'int16' | 'int32' | 'int64' | 'string' | 'bytes' | 'records';

export interface ArrayType {
  readonly array: FieldType;
}

export interface StructType {
  readonly struct: readonly Field[];
}

export type FieldType = Primitive | ArrayType | StructType;

export interface Field {
  /** camelCase of Kafka's field name. */
  readonly name: string;
  readonly type: FieldType;
  /** First version the field is on the wire in. Default 0. */
  readonly since?: number;
  /** Last version the field is on the wire in. Default: every later version. */
  readonly until?: number;
  /** First version in which the field may be null (strings, bytes, records, arrays). Default: never. */
  readonly nullableSince?: number;
  /** The value of the field in versions that lack it, when not the type's zero value. */
  readonly default?: number | boolean | string | null;
}

export interface MessageSchema {
  /** Kafka's message name, e.g. 'ProduceRequest'; used in error texts. */
  readonly name: string;
  readonly fields: readonly Field[];
  /**
   * First flexible version (KIP-482: compact strings, arrays and bytes, and a tagged-field section
   * after every struct). Absent: no version is flexible.
   */
  readonly flexibleSince?: number;
}

/** Record data as the encoder takes it: one Buffer, or pieces sent as their concatenation. */
export type RecordsInput = Uint8Array | readonly Uint8Array[];

type Mode = 'decoded' | 'encodable';

type PrimitiveValue<P extends Primitive, M extends Mode> = P extends 'bool'
  ? boolean
  : P extends 'int8' | 'int16' | 'int32' | 'int64'
    ? number
    : P extends 'string'
      ? string
      : P extends 'bytes'
        ? Buffer
        : M extends 'decoded'
          ? Buffer
          : RecordsInput;

type TypeValue<T, M extends Mode> = T extends Primitive
  ? PrimitiveValue<T, M>
  : T extends { readonly array: infer E }
    ? M extends 'decoded'
      ? TypeValue<E, M>[]
      : readonly TypeValue<E, M>[]
    : T extends { readonly struct: infer F extends readonly Field[] }
      ? StructValue<F, M>
      : never;

type FieldValue<F extends Field, M extends Mode> = F extends { readonly nullableSince: number }
  ? TypeValue<F['type'], M> | null
  : TypeValue<F['type'], M>;

/** The object shape of a list of fields. */
export type StructValue<F extends readonly Field[], M extends Mode> = { [K in F[number] as K['name']]: FieldValue<K, M> };

/** What the decoder returns for a message. */
export type Decoded<S extends MessageSchema> = StructValue<S['fields'], 'decoded'>;

/** What the encoder takes for a message. */
export type Encodable<S extends MessageSchema> = StructValue<S['fields'], 'encodable'>;

/** Whether `field` is on the wire in `version`. */
export function hasField(field: Field, version: number): boolean {
  return version >= (field.since ?? 0) && (field.until === undefined || version <= field.until);
}

/** Whether `field` may be null in `version`. */
export function isNullable(field: Field, version: number): boolean {
  return field.nullableSince !== undefined && version >= field.nullableSince;
}

/** Whether `version` of a message is flexible. */
export function isFlexible(schema: MessageSchema, version: number): boolean {
  return schema.flexibleSince !== undefined && version >= schema.flexibleSince;
}
