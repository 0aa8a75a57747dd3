/**
 * The contract between the schema registry's store and REST API (../) and its three formats
 * (Avro, Protobuf, JSON Schema, in this folder). A format parses a schema text (with the schemas it
 * references already resolved), gives the canonical form that decides identity (the same schema
 * gets the same global id in every subject), and compares two parsed schemas.
 *
 * Pure: no node: imports, no I/O. Compatibility is reported as a list of every problem found, each
 * with where it is and which rule it breaks, so the API's `verbose=true` answer and the CLI can say
 * why a schema is incompatible rather than only that it is.
 */

/** Confluent's schemaType names. An absent schemaType means AVRO. */
export const SchemaType = { AVRO: 'AVRO', PROTOBUF: 'PROTOBUF', JSON: 'JSON' } as const;
export type SchemaType = (typeof SchemaType)[keyof typeof SchemaType];

/** Confluent's compatibility levels; BACKWARD is a subject's default. */
export const CompatibilityLevel = {
  NONE: 'NONE',
  BACKWARD: 'BACKWARD',
  BACKWARD_TRANSITIVE: 'BACKWARD_TRANSITIVE',
  FORWARD: 'FORWARD',
  FORWARD_TRANSITIVE: 'FORWARD_TRANSITIVE',
  FULL: 'FULL',
  FULL_TRANSITIVE: 'FULL_TRANSITIVE',
} as const;
export type CompatibilityLevel = (typeof CompatibilityLevel)[keyof typeof CompatibilityLevel];

/** A reference as registered: `name` is how the referring schema names it (an import path for
 * Protobuf, a full type name for Avro, a URL/$id for JSON Schema). */
export interface SchemaReference {
  readonly name: string;
  readonly subject: string;
  readonly version: number;
}

/** A reference with the text of the schema it points to, and that schema's own references resolved. */
export interface ResolvedReference extends SchemaReference {
  readonly schema: string;
  readonly schemaType: SchemaType;
  readonly references: readonly ResolvedReference[];
}

/** A schema parsed by its format. Opaque to the store except for these fields. */
export interface ParsedSchema {
  readonly schemaType: SchemaType;
  /** The canonical text: equal for schemas that differ only in whitespace, key order or layout. */
  readonly canonical: string;
  /** Record / message / root type names, for RecordNameStrategy (Avro full name, Protobuf first message). */
  readonly recordName: string | undefined;
  readonly references: readonly ResolvedReference[];
}

/** Which way a compatibility check goes, from the newer schema's point of view. */
export const CompatibilityDirection = {
  /** The newer schema reads data written with the older one. */
  BACKWARD: 'BACKWARD',
  /** The older schema reads data written with the newer one. */
  FORWARD: 'FORWARD',
} as const;
export type CompatibilityDirection = (typeof CompatibilityDirection)[keyof typeof CompatibilityDirection];

/** One reason two schemas are incompatible. */
export interface CompatibilityProblem {
  /** A stable rule name, e.g. 'READER_FIELD_MISSING_DEFAULT_VALUE', 'TYPE_MISMATCH', 'FIELD_NUMBER_REUSED'. */
  readonly rule: string;
  /** Where: a JSON-pointer-like path into the schema, e.g. '$.fields[3]' or 'Order.price'. */
  readonly location: string;
  /** A sentence for people: "field 'price' changed type from int to string at $.fields[3]". */
  readonly message: string;
}

/** A schema the format cannot parse: the REST API answers 42201 with this message. */
export class InvalidSchemaError extends Error {
  override readonly name = 'InvalidSchemaError';
  constructor(
    message: string,
    readonly location?: string,
  ) {
    super(message);
  }
}

export interface SchemaFormat {
  readonly schemaType: SchemaType;
  /** Parses `schema` with its references resolved; throws InvalidSchemaError when it is not valid. */
  parse(schema: string, references: readonly ResolvedReference[]): ParsedSchema;
  /**
   * Every problem that stops `reader` reading data written with `writer`; empty when compatible.
   * BACKWARD checks (reader = newer, writer = older); FORWARD swaps them; FULL does both.
   */
  compatibility(reader: ParsedSchema, writer: ParsedSchema): CompatibilityProblem[];
}
