/**
 * The metadata commands of the schema registry, and their structural readers.
 *
 * Schemas live in the Raft metadata log with topics and groups (DESIGN.md decision 4), so every
 * coordinator node answers reads from its applied state and a registration acknowledged is on a
 * quorum. Each command is a fact the leader decided against its (speculative) state:
 * - `schema-register`: subject S gets version V, naming global id I. The command carries the
 *   schema text, its type, references and the canonical form the format computed on the leader,
 *   so no replica parses schemas to apply it; an id new to the registry enters the id table.
 * - `schema-delete-versions`: versions of a subject are soft-deleted (hidden, id still
 *   resolvable) or permanently deleted (gone).
 * - `schema-delete-subject`: every version of a subject, soft or permanent; permanent also drops
 *   the subject's compatibility level and mode, as Confluent's registry does.
 * - `schema-set-config` / `schema-set-mode`: the global (subject null) or a subject's
 *   compatibility level or mode; null removes the setting.
 * - `schema-registry-endpoint`: where a coordinator node serves the registry's REST API, recorded
 *   by each node when it leads, so followers can forward writes to the leader.
 *
 * Pure: no node:* imports.
 */
import type { ShapeReader } from '../metadata/shape.js';
import { CompatibilityLevel, SchemaType, type SchemaReference } from './formats/types.js';

export { CompatibilityLevel };

export const SchemaCommandType = {
  REGISTER: 'schema-register',
  DELETE_VERSIONS: 'schema-delete-versions',
  DELETE_SUBJECT: 'schema-delete-subject',
  SET_CONFIG: 'schema-set-config',
  SET_MODE: 'schema-set-mode',
  ENDPOINT: 'schema-registry-endpoint',
} as const;
export type SchemaCommandType = (typeof SchemaCommandType)[keyof typeof SchemaCommandType];

export const DEFAULT_COMPATIBILITY_LEVEL: CompatibilityLevel = CompatibilityLevel.BACKWARD;

/** Confluent's modes: READWRITE (default), READONLY (no writes), IMPORT (register with explicit ids). */
export const RegistryMode = { READWRITE: 'READWRITE', READONLY: 'READONLY', IMPORT: 'IMPORT' } as const;
export type RegistryMode = (typeof RegistryMode)[keyof typeof RegistryMode];
export const DEFAULT_REGISTRY_MODE: RegistryMode = RegistryMode.READWRITE;

const levels: ReadonlySet<unknown> = new Set(Object.values(CompatibilityLevel));
const modes: ReadonlySet<unknown> = new Set(Object.values(RegistryMode));
const schemaTypes: ReadonlySet<unknown> = new Set(Object.values(SchemaType));

export function isCompatibilityLevel(value: unknown): value is CompatibilityLevel {
  return levels.has(value);
}

export function isRegistryMode(value: unknown): value is RegistryMode {
  return modes.has(value);
}

export function isSchemaType(value: unknown): value is SchemaType {
  return schemaTypes.has(value);
}

/** The longest subject name (Confluent has no documented limit; this bounds memory). */
export const MAX_SUBJECT_LENGTH = 1024;
/** The longest schema text accepted; the log's records are at most 4 MiB and hold the canonical form too. */
export const MAX_SCHEMA_LENGTH = 1024 * 1024;
export const MAX_REFERENCES = 1024;
/** Versions and ids are positive 31-bit integers. */
export const MAX_VERSION = 2 ** 31 - 1;
export const MAX_SCHEMA_ID = 2 ** 31 - 1;

export interface RegisterSchemaCommand {
  readonly type: 'schema-register';
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  readonly schemaType: SchemaType;
  readonly schema: string;
  /** The format's canonical form: the identity of the schema with its type and references. */
  readonly canonical: string;
  readonly references: readonly SchemaReference[];
}

export interface DeleteSchemaVersionsCommand {
  readonly type: 'schema-delete-versions';
  readonly subject: string;
  /** Ascending. */
  readonly versions: readonly number[];
  readonly permanent: boolean;
}

export interface DeleteSubjectCommand {
  readonly type: 'schema-delete-subject';
  readonly subject: string;
  readonly permanent: boolean;
}

export interface SetSchemaConfigCommand {
  readonly type: 'schema-set-config';
  /** null: the global level. */
  readonly subject: string | null;
  /** null: remove the setting (the global one falls back to BACKWARD). */
  readonly compatibility: CompatibilityLevel | null;
}

export interface SetSchemaModeCommand {
  readonly type: 'schema-set-mode';
  readonly subject: string | null;
  readonly mode: RegistryMode | null;
}

export interface RegistryEndpointCommand {
  readonly type: 'schema-registry-endpoint';
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export type SchemaCommand =
  | RegisterSchemaCommand
  | DeleteSchemaVersionsCommand
  | DeleteSubjectCommand
  | SetSchemaConfigCommand
  | SetSchemaModeCommand
  | RegistryEndpointCommand;

const schemaCommandTypes: ReadonlySet<unknown> = new Set(Object.values(SchemaCommandType));

/** Whether `type` names a schema command (so commands.ts hands its reading to this file). */
export function isSchemaCommandType(type: unknown): type is SchemaCommandType {
  return schemaCommandTypes.has(type);
}

/** Whether a metadata command is a schema command (narrows the command). */
export function isSchemaCommand(command: { readonly type: string }): command is SchemaCommand {
  return schemaCommandTypes.has(command.type);
}

export function readSubject(shape: ShapeReader, value: unknown, path: string): string {
  return shape.string(value, path, { maxLength: MAX_SUBJECT_LENGTH });
}

export function readReference(shape: ShapeReader, value: unknown, path: string): SchemaReference {
  const r = shape.object(value, path, ['name', 'subject', 'version']);
  return {
    name: shape.string(r.name, `${path}.name`, { maxLength: MAX_SUBJECT_LENGTH }),
    subject: readSubject(shape, r.subject, `${path}.subject`),
    version: shape.integer(r.version, `${path}.version`, 1, MAX_VERSION),
  };
}

export function readSchemaType(shape: ShapeReader, value: unknown, path: string): SchemaType {
  if (!isSchemaType(value)) shape.fail(path, 'AVRO, PROTOBUF or JSON', value);
  return value;
}

function readBoolean(shape: ShapeReader, value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') shape.fail(path, 'true or false', value);
  return value;
}

/**
 * Checks a schema command's structure and returns a fresh copy in canonical field order (see
 * readMetadataCommand in ../metadata/commands.ts, which hands schema commands here).
 */
export function readSchemaCommand(shape: ShapeReader, value: unknown, type: SchemaCommandType, path: string): SchemaCommand {
  switch (type) {
    case SchemaCommandType.REGISTER: {
      const c = shape.object(value, path, ['type', 'subject', 'version', 'id', 'schemaType', 'schema', 'canonical', 'references']);
      return {
        type,
        subject: readSubject(shape, c.subject, `${path}.subject`),
        version: shape.integer(c.version, `${path}.version`, 1, MAX_VERSION),
        id: shape.integer(c.id, `${path}.id`, 1, MAX_SCHEMA_ID),
        schemaType: readSchemaType(shape, c.schemaType, `${path}.schemaType`),
        schema: shape.string(c.schema, `${path}.schema`, { maxLength: MAX_SCHEMA_LENGTH }),
        canonical: shape.string(c.canonical, `${path}.canonical`, { maxLength: 2 * MAX_SCHEMA_LENGTH }),
        references: shape.array(c.references, `${path}.references`, MAX_REFERENCES, (v, at) => readReference(shape, v, at)),
      };
    }
    case SchemaCommandType.DELETE_VERSIONS: {
      const c = shape.object(value, path, ['type', 'subject', 'versions', 'permanent']);
      const versions = shape.array(c.versions, `${path}.versions`, 1_000_000, (v, at) => shape.integer(v, at, 1, MAX_VERSION));
      if (versions.length === 0) shape.fail(`${path}.versions`, 'non-empty', versions);
      for (let i = 1; i < versions.length; i++) if (versions[i - 1]! >= versions[i]!) shape.fail(`${path}.versions`, 'ascending and unique', versions);
      return { type, subject: readSubject(shape, c.subject, `${path}.subject`), versions, permanent: readBoolean(shape, c.permanent, `${path}.permanent`) };
    }
    case SchemaCommandType.DELETE_SUBJECT: {
      const c = shape.object(value, path, ['type', 'subject', 'permanent']);
      return { type, subject: readSubject(shape, c.subject, `${path}.subject`), permanent: readBoolean(shape, c.permanent, `${path}.permanent`) };
    }
    case SchemaCommandType.SET_CONFIG: {
      const c = shape.object(value, path, ['type', 'subject', 'compatibility']);
      if (c.compatibility !== null && !isCompatibilityLevel(c.compatibility)) shape.fail(`${path}.compatibility`, 'a compatibility level or null', c.compatibility);
      return { type, subject: c.subject === null ? null : readSubject(shape, c.subject, `${path}.subject`), compatibility: c.compatibility };
    }
    case SchemaCommandType.SET_MODE: {
      const c = shape.object(value, path, ['type', 'subject', 'mode']);
      if (c.mode !== null && !isRegistryMode(c.mode)) shape.fail(`${path}.mode`, 'READWRITE, READONLY, IMPORT or null', c.mode);
      return { type, subject: c.subject === null ? null : readSubject(shape, c.subject, `${path}.subject`), mode: c.mode };
    }
    case SchemaCommandType.ENDPOINT: {
      const c = shape.object(value, path, ['type', 'nodeId', 'host', 'port']);
      return {
        type,
        nodeId: shape.integer(c.nodeId, `${path}.nodeId`, 1, 2 ** 31 - 1),
        host: shape.string(c.host, `${path}.host`, { maxLength: 255 }),
        port: shape.integer(c.port, `${path}.port`, 1, 65_535),
      };
    }
  }
}
