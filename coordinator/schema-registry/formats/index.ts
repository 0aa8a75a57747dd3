/**
 * The schema formats' entry: the format for a schemaType, and the compatibility check for the
 * seven levels over a format's reader/writer comparison.
 *
 * | level | compared with | direction |
 * |---|---|---|
 * | BACKWARD / BACKWARD_TRANSITIVE | the latest older version / every older version | the newer schema reads data written with the older |
 * | FORWARD / FORWARD_TRANSITIVE | same | the older schema reads data written with the newer |
 * | FULL / FULL_TRANSITIVE | same | both |
 * | NONE | nothing | — |
 *
 * The caller passes the live (not soft-deleted) older versions, oldest first. A schema of another
 * type than an older version is incompatible with it at every level but NONE. Every problem is
 * kept and tagged with the version and direction of the check that found it.
 *
 * Pure: no node: imports, no I/O.
 */
import { avroFormat } from './avro.js';
import { jsonSchemaFormat } from './json-schema.js';
import { protobufFormat } from './protobuf.js';
import { CompatibilityDirection, CompatibilityLevel, SchemaType } from './types.js';
import type { CompatibilityProblem, ParsedSchema, SchemaFormat } from './types.js';

export * from './types.js';
export { AvroRule, avroFormat, parseAvro } from './avro.js';
export { JsonSchemaRule } from './json-schema-diff.js';
export { JsonSchemaDraft, draftOf, jsonSchemaFormat, parseJsonSchema } from './json-schema.js';
export { ProtobufRule } from './protobuf-diff.js';
export {
  parseProtobuf, protobufFormat, protobufMessageIndexes, protobufMessageName, protobufSerializedToText, protobufToSerialized,
} from './protobuf.js';


/** The rule of a problem found when two versions have different schema types. */
export const SCHEMA_TYPE_MISMATCH = 'SCHEMA_TYPE_MISMATCH';

/** An older version to compare with. */
export interface OlderVersion {
  readonly version: number;
  readonly parsed: ParsedSchema;
}

/** A problem, with the older version and the direction of the check that found it. */
export interface VersionedProblem extends CompatibilityProblem {
  readonly version: number;
  readonly direction: CompatibilityDirection;
}

export interface CompatibilityResult {
  readonly compatible: boolean;
  readonly problems: readonly VersionedProblem[];
}

const FORMATS: Readonly<Record<SchemaType, SchemaFormat>> = {
  [SchemaType.AVRO]: avroFormat,
  [SchemaType.PROTOBUF]: protobufFormat,
  [SchemaType.JSON]: jsonSchemaFormat,
};

/** The format of a schemaType (an absent schemaType is AVRO: pass SchemaType.AVRO). */
export function formatFor(schemaType: SchemaType): SchemaFormat {
  return FORMATS[schemaType];
}

/**
 * Checks `newer` against the `olders` (live versions, oldest first) the level names: only the
 * latest for the non-transitive levels, all of them for the transitive ones, none for NONE.
 * Compatible when no problem is found; every problem says which version and direction found it.
 */
export function checkCompatibility(level: CompatibilityLevel, newer: ParsedSchema, olders: readonly OlderVersion[]): CompatibilityResult {
  const problems: VersionedProblem[] = [];
  for (const older of versionsFor(level, olders)) {
    for (const direction of directionsFor(level)) problems.push(...compareVersions(direction, newer, older));
  }
  return { compatible: problems.length === 0, problems };
}

function versionsFor(level: CompatibilityLevel, olders: readonly OlderVersion[]): readonly OlderVersion[] {
  switch (level) {
    case CompatibilityLevel.NONE:
      return [];
    case CompatibilityLevel.BACKWARD_TRANSITIVE:
    case CompatibilityLevel.FORWARD_TRANSITIVE:
    case CompatibilityLevel.FULL_TRANSITIVE:
      return olders;
    case CompatibilityLevel.BACKWARD:
    case CompatibilityLevel.FORWARD:
    case CompatibilityLevel.FULL:
      return olders.slice(-1);
  }
}

function directionsFor(level: CompatibilityLevel): readonly CompatibilityDirection[] {
  switch (level) {
    case CompatibilityLevel.BACKWARD:
    case CompatibilityLevel.BACKWARD_TRANSITIVE:
      return [CompatibilityDirection.BACKWARD];
    case CompatibilityLevel.FORWARD:
    case CompatibilityLevel.FORWARD_TRANSITIVE:
      return [CompatibilityDirection.FORWARD];
    case CompatibilityLevel.FULL:
    case CompatibilityLevel.FULL_TRANSITIVE:
      return [CompatibilityDirection.BACKWARD, CompatibilityDirection.FORWARD];
    case CompatibilityLevel.NONE:
      return [];
  }
}

function compareVersions(direction: CompatibilityDirection, newer: ParsedSchema, older: OlderVersion): VersionedProblem[] {
  const reading = direction === CompatibilityDirection.BACKWARD
    ? `the new schema reading data written with version ${older.version}`
    : `version ${older.version} reading data written with the new schema`;
  const tag = (problem: CompatibilityProblem): VersionedProblem => ({
    ...problem,
    message: `${problem.message} (${reading})`,
    version: older.version,
    direction,
  });
  if (newer.schemaType !== older.parsed.schemaType) {
    return [tag({
      rule: SCHEMA_TYPE_MISMATCH,
      location: '$',
      message: `the schema type changed from ${older.parsed.schemaType} to ${newer.schemaType}`,
    })];
  }
  const format = formatFor(newer.schemaType);
  const problems = direction === CompatibilityDirection.BACKWARD
    ? format.compatibility(newer, older.parsed)
    : format.compatibility(older.parsed, newer);
  return problems.map(tag);
}
