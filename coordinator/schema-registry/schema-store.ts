/**
 * The applied state of the schema registry: the table of global schema ids, the subjects with
 * their versions, the compatibility levels and modes, and where each coordinator node serves the
 * REST API. Part of MetadataState (../metadata/state.ts), which hands it the schema commands in log
 * order and carries it in snapshots.
 *
 * Identity. An id names one schema content: its type, its canonical form and its references. The
 * same content registered under any subject gets the same id (fingerprint → id), and the id table
 * keeps an id's content even after every version naming it was permanently deleted, so the same
 * schema registered again gets its old id back (content-stable ids, as Karapace does). Whether an
 * id is *visible* (GET /schemas/ids/{id}) depends on some subject version, live or soft-deleted,
 * naming it: soft-deleted versions keep old data decodable.
 *
 * Versions per subject ascend; a soft-deleted version stays (flagged) until permanently deleted,
 * so the next version is always one past the highest left, live or not.
 *
 * Images are frozen and replaced on change, never mutated. clone() shares the tables and each side
 * copies them on its first change (copy on write), because the coordinator's write pipeline clones
 * the metadata state at the start of every burst of writes.
 *
 * Pure: no node:* imports, no clock.
 */
import type { ShapeReader } from '../metadata/shape.js';
import { deepFreeze } from '../metadata/shape.js';
import type { SchemaReference, SchemaType } from './formats/types.js';
import {
  type CompatibilityLevel,
  type RegistryMode,
  type SchemaCommand,
  MAX_REFERENCES,
  MAX_SCHEMA_ID,
  MAX_SCHEMA_LENGTH,
  MAX_VERSION,
  SchemaCommandType,
  isCompatibilityLevel,
  isRegistryMode,
  readReference,
  readSchemaType,
  readSubject,
} from './schema-commands.js';

/** One global id and the content it names. */
export interface StoredSchema {
  readonly id: number;
  readonly schemaType: SchemaType;
  /** The text as first registered under this id. */
  readonly schema: string;
  readonly canonical: string;
  readonly references: readonly SchemaReference[];
}

export interface SubjectVersionImage {
  readonly version: number;
  readonly id: number;
  /** Soft-deleted: hidden from listings, `latest` and compatibility checks unless asked for. */
  readonly deleted: boolean;
}

export interface SubjectImage {
  readonly subject: string;
  /** Ascending by version; never empty. */
  readonly versions: readonly SubjectVersionImage[];
}

/** Where a coordinator node serves the registry's REST API. */
export interface RegistryEndpoint {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** A subject version that names a schema, or references another. */
export interface SubjectVersionRef {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  readonly deleted: boolean;
}

export interface SchemaStoreSnapshot {
  /** Sorted by id. */
  readonly schemas: readonly StoredSchema[];
  /** Sorted by subject. */
  readonly subjects: readonly SubjectImage[];
  /** The global level first (subject null), then by subject. */
  readonly configs: readonly { readonly subject: string | null; readonly compatibility: CompatibilityLevel }[];
  readonly modes: readonly { readonly subject: string | null; readonly mode: RegistryMode }[];
  /** Sorted by node id. */
  readonly endpoints: readonly RegistryEndpoint[];
}

/** The read side: what the registry service and the REST API look at. */
export interface SchemaStoreView {
  /** Whether the store holds nothing at all (no ids, subjects, settings or endpoints). */
  readonly empty: boolean;
  /** The highest id ever given; 0 before any. */
  readonly maxId: number;
  schema(id: number): StoredSchema | undefined;
  /** The id of this content, if any id names it. */
  idOf(schemaType: SchemaType, canonical: string, references: readonly SchemaReference[]): number | undefined;
  subject(subject: string): SubjectImage | undefined;
  /** Sorted by subject. */
  subjects(): readonly SubjectImage[];
  /** Every subject version naming `id`, by subject then version. */
  usages(id: number): readonly SubjectVersionRef[];
  /** Every subject version whose schema references `subject` version `version` (live or soft-deleted). */
  referencedBy(subject: string, version: number): readonly SubjectVersionRef[];
  /** The compatibility level set for a subject (or globally, for null); undefined when unset. */
  compatibility(subject: string | null): CompatibilityLevel | undefined;
  /** The mode set for a subject (or globally, for null); undefined when unset. */
  mode(subject: string | null): RegistryMode | undefined;
  endpoint(nodeId: number): RegistryEndpoint | undefined;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The key of the id table's reverse index. */
export function fingerprint(schemaType: SchemaType, canonical: string, references: readonly SchemaReference[]): string {
  return `${schemaType}\n${JSON.stringify(references.map((r) => [r.name, r.subject, r.version]))}\n${canonical}`;
}

interface Tables {
  schemas: Map<number, StoredSchema>;
  ids: Map<string, number>;
  subjects: Map<string, SubjectImage>;
  configs: Map<string | null, CompatibilityLevel>;
  modes: Map<string | null, RegistryMode>;
  endpoints: Map<number, RegistryEndpoint>;
  maxId: number;
}

function copyTables(t: Tables): Tables {
  return {
    schemas: new Map(t.schemas),
    ids: new Map(t.ids),
    subjects: new Map(t.subjects),
    configs: new Map(t.configs),
    modes: new Map(t.modes),
    endpoints: new Map(t.endpoints),
    maxId: t.maxId,
  };
}

function emptyTables(): Tables {
  return { schemas: new Map(), ids: new Map(), subjects: new Map(), configs: new Map(), modes: new Map(), endpoints: new Map(), maxId: 0 };
}

/** Derived indexes, built on first use and dropped on any change of subjects. */
interface Indexes {
  readonly sorted: readonly SubjectImage[];
  readonly usages: ReadonlyMap<number, SubjectVersionRef[]>;
  readonly referrers: ReadonlyMap<string, SubjectVersionRef[]>;
}

const referenceKey = (subject: string, version: number): string => `${version}\n${subject}`;

export class SchemaStore implements SchemaStoreView {
  #tables: Tables;
  #shared = false;
  #indexes: Indexes | undefined;

  private constructor(tables: Tables) {
    this.#tables = tables;
  }

  static empty(): SchemaStore {
    return new SchemaStore(emptyTables());
  }

  /** An independent copy; both share the tables until either changes (copy on write). */
  clone(): SchemaStore {
    const copy = new SchemaStore(this.#tables);
    copy.#shared = true;
    copy.#indexes = this.#indexes;
    this.#shared = true;
    return copy;
  }

  get empty(): boolean {
    const t = this.#tables;
    return t.schemas.size === 0 && t.subjects.size === 0 && t.configs.size === 0 && t.modes.size === 0 && t.endpoints.size === 0;
  }

  get maxId(): number {
    return this.#tables.maxId;
  }

  schema(id: number): StoredSchema | undefined {
    return this.#tables.schemas.get(id);
  }

  idOf(schemaType: SchemaType, canonical: string, references: readonly SchemaReference[]): number | undefined {
    return this.#tables.ids.get(fingerprint(schemaType, canonical, references));
  }

  subject(subject: string): SubjectImage | undefined {
    return this.#tables.subjects.get(subject);
  }

  subjects(): readonly SubjectImage[] {
    return this.#index().sorted;
  }

  usages(id: number): readonly SubjectVersionRef[] {
    return this.#index().usages.get(id) ?? [];
  }

  referencedBy(subject: string, version: number): readonly SubjectVersionRef[] {
    return this.#index().referrers.get(referenceKey(subject, version)) ?? [];
  }

  compatibility(subject: string | null): CompatibilityLevel | undefined {
    return this.#tables.configs.get(subject);
  }

  mode(subject: string | null): RegistryMode | undefined {
    return this.#tables.modes.get(subject);
  }

  endpoint(nodeId: number): RegistryEndpoint | undefined {
    return this.#tables.endpoints.get(nodeId);
  }

  snapshot(): SchemaStoreSnapshot {
    const t = this.#tables;
    const settings = <V>(map: Map<string | null, V>): [string | null, V][] =>
      [...map].sort(([a], [b]) => (a === null ? -1 : b === null ? 1 : byString(a, b)));
    return {
      schemas: [...t.schemas.values()].sort((a, b) => a.id - b.id),
      subjects: this.subjects(),
      configs: settings(t.configs).map(([subject, compatibility]) => ({ subject, compatibility })),
      modes: settings(t.modes).map(([subject, mode]) => ({ subject, mode })),
      endpoints: [...t.endpoints.values()].sort((a, b) => a.nodeId - b.nodeId),
    };
  }

  /**
   * Applies one committed schema command. Total: a command decided against a state that a
   * concurrent entry changed first applies to what is there, identically on every replica.
   */
  apply(command: SchemaCommand): void {
    switch (command.type) {
      case SchemaCommandType.REGISTER:
        this.#register(command.subject, command.version, {
          id: command.id,
          schemaType: command.schemaType,
          schema: command.schema,
          canonical: command.canonical,
          references: command.references,
        });
        return;
      case SchemaCommandType.DELETE_VERSIONS: {
        const current = this.#tables.subjects.get(command.subject);
        if (current === undefined) return;
        const chosen = new Set(command.versions);
        const versions = command.permanent
          ? current.versions.filter((v) => !chosen.has(v.version))
          : current.versions.map((v) => (chosen.has(v.version) && !v.deleted ? { ...v, deleted: true } : v));
        this.#putSubject(command.subject, versions);
        return;
      }
      case SchemaCommandType.DELETE_SUBJECT: {
        const current = this.#tables.subjects.get(command.subject);
        if (command.permanent) {
          const t = this.#writable();
          t.configs.delete(command.subject);
          t.modes.delete(command.subject);
          if (current !== undefined) this.#putSubject(command.subject, []);
        } else if (current !== undefined) {
          this.#putSubject(command.subject, current.versions.map((v) => (v.deleted ? v : { ...v, deleted: true })));
        }
        return;
      }
      case SchemaCommandType.SET_CONFIG: {
        const configs = this.#writable().configs;
        if (command.compatibility === null) configs.delete(command.subject);
        else configs.set(command.subject, command.compatibility);
        return;
      }
      case SchemaCommandType.SET_MODE: {
        const modes = this.#writable().modes;
        if (command.mode === null) modes.delete(command.subject);
        else modes.set(command.subject, command.mode);
        return;
      }
      case SchemaCommandType.ENDPOINT:
        this.#writable().endpoints.set(command.nodeId, deepFreeze({ nodeId: command.nodeId, host: command.host, port: command.port }));
        return;
    }
  }

  /**
   * Rebuilds a store from snapshot() output read back from JSON. Throws the reader's error
   * (CORRUPT_MESSAGE) for anything malformed, unsorted, duplicated or dangling.
   */
  static restore(shape: ShapeReader, value: unknown, path: string): SchemaStore {
    const s = shape.object(value, path, ['schemas', 'subjects', 'configs', 'modes', 'endpoints']);
    const t = emptyTables();
    let previousId = 0;
    shape.array(s.schemas, `${path}.schemas`, 10_000_000, (v, at) => {
      const r = shape.object(v, at, ['id', 'schemaType', 'schema', 'canonical', 'references']);
      const schema: StoredSchema = {
        id: shape.integer(r.id, `${at}.id`, previousId + 1, MAX_SCHEMA_ID),
        schemaType: readSchemaType(shape, r.schemaType, `${at}.schemaType`),
        schema: shape.string(r.schema, `${at}.schema`, { maxLength: MAX_SCHEMA_LENGTH }),
        canonical: shape.string(r.canonical, `${at}.canonical`, { maxLength: 2 * MAX_SCHEMA_LENGTH }),
        references: shape.array(r.references, `${at}.references`, MAX_REFERENCES, (rv, rat) => readReference(shape, rv, rat)),
      };
      previousId = schema.id;
      t.schemas.set(schema.id, deepFreeze(schema));
      const key = fingerprint(schema.schemaType, schema.canonical, schema.references);
      if (!t.ids.has(key)) t.ids.set(key, schema.id);
      t.maxId = schema.id;
    });
    let previousSubject: string | undefined;
    shape.array(s.subjects, `${path}.subjects`, 10_000_000, (v, at) => {
      const r = shape.object(v, at, ['subject', 'versions']);
      const subject = readSubject(shape, r.subject, `${at}.subject`);
      if (previousSubject !== undefined && previousSubject >= subject) shape.fail(`${at}.subject`, `after ${JSON.stringify(previousSubject)} (sorted, unique)`, subject);
      previousSubject = subject;
      let previousVersion = 0;
      const versions = shape.array(r.versions, `${at}.versions`, 10_000_000, (vv, vat) => {
        const e = shape.object(vv, vat, ['version', 'id', 'deleted']);
        const version = shape.integer(e.version, `${vat}.version`, previousVersion + 1, MAX_VERSION);
        previousVersion = version;
        const id = shape.integer(e.id, `${vat}.id`, 1, MAX_SCHEMA_ID);
        if (!t.schemas.has(id)) shape.fail(`${vat}.id`, 'an id of the snapshot\'s schemas', id);
        if (typeof e.deleted !== 'boolean') shape.fail(`${vat}.deleted`, 'true or false', e.deleted);
        return { version, id, deleted: e.deleted };
      });
      if (versions.length === 0) shape.fail(`${at}.versions`, 'non-empty', versions);
      t.subjects.set(subject, deepFreeze({ subject, versions }));
    });
    const readSettingSubject = (v: unknown, at: string, seen: Set<string | null>): string | null => {
      const subject = v === null ? null : readSubject(shape, v, at);
      if (seen.has(subject)) shape.fail(at, 'unique', subject);
      seen.add(subject);
      return subject;
    };
    const seenConfigs = new Set<string | null>();
    shape.array(s.configs, `${path}.configs`, 10_000_000, (v, at) => {
      const r = shape.object(v, at, ['subject', 'compatibility']);
      const subject = readSettingSubject(r.subject, `${at}.subject`, seenConfigs);
      if (!isCompatibilityLevel(r.compatibility)) shape.fail(`${at}.compatibility`, 'a compatibility level', r.compatibility);
      t.configs.set(subject, r.compatibility);
    });
    const seenModes = new Set<string | null>();
    shape.array(s.modes, `${path}.modes`, 10_000_000, (v, at) => {
      const r = shape.object(v, at, ['subject', 'mode']);
      const subject = readSettingSubject(r.subject, `${at}.subject`, seenModes);
      if (!isRegistryMode(r.mode)) shape.fail(`${at}.mode`, 'READWRITE, READONLY or IMPORT', r.mode);
      t.modes.set(subject, r.mode);
    });
    shape.array(s.endpoints, `${path}.endpoints`, 10_000, (v, at) => {
      const r = shape.object(v, at, ['nodeId', 'host', 'port']);
      const endpoint = {
        nodeId: shape.integer(r.nodeId, `${at}.nodeId`, 1, 2 ** 31 - 1),
        host: shape.string(r.host, `${at}.host`, { maxLength: 255 }),
        port: shape.integer(r.port, `${at}.port`, 1, 65_535),
      };
      if (t.endpoints.has(endpoint.nodeId)) shape.fail(`${at}.nodeId`, 'unique', endpoint.nodeId);
      t.endpoints.set(endpoint.nodeId, deepFreeze(endpoint));
    });
    return new SchemaStore(t);
  }

  #register(subject: string, version: number, schema: StoredSchema): void {
    const t = this.#writable();
    if (!t.schemas.has(schema.id)) {
      t.schemas.set(schema.id, deepFreeze({ ...schema, references: schema.references.map((r) => ({ name: r.name, subject: r.subject, version: r.version })) }));
      const key = fingerprint(schema.schemaType, schema.canonical, schema.references);
      if (!t.ids.has(key)) t.ids.set(key, schema.id);
      t.maxId = Math.max(t.maxId, schema.id);
    }
    const current = t.subjects.get(subject)?.versions ?? [];
    const entry: SubjectVersionImage = { version, id: schema.id, deleted: false };
    const versions = current.filter((v) => v.version !== version);
    const at = versions.findIndex((v) => v.version > version);
    if (at < 0) versions.push(entry);
    else versions.splice(at, 0, entry);
    this.#putSubject(subject, versions);
  }

  /** Replaces a subject's versions; none removes the subject. */
  #putSubject(subject: string, versions: readonly SubjectVersionImage[]): void {
    const subjects = this.#writable().subjects;
    if (versions.length === 0) subjects.delete(subject);
    else subjects.set(subject, deepFreeze({ subject, versions: [...versions] }));
    this.#indexes = undefined;
  }

  #writable(): Tables {
    if (this.#shared) {
      this.#tables = copyTables(this.#tables);
      this.#shared = false;
    }
    return this.#tables;
  }

  #index(): Indexes {
    if (this.#indexes !== undefined) return this.#indexes;
    const sorted = Object.freeze([...this.#tables.subjects.values()].sort((a, b) => byString(a.subject, b.subject)));
    const usages = new Map<number, SubjectVersionRef[]>();
    const referrers = new Map<string, SubjectVersionRef[]>();
    for (const image of sorted) {
      for (const v of image.versions) {
        const ref: SubjectVersionRef = Object.freeze({ subject: image.subject, version: v.version, id: v.id, deleted: v.deleted });
        let list = usages.get(v.id);
        if (list === undefined) usages.set(v.id, (list = []));
        list.push(ref);
        for (const r of this.#tables.schemas.get(v.id)?.references ?? []) {
          const key = referenceKey(r.subject, r.version);
          let named = referrers.get(key);
          if (named === undefined) referrers.set(key, (named = []));
          named.push(ref);
        }
      }
    }
    this.#indexes = { sorted, usages, referrers };
    return this.#indexes;
  }
}
