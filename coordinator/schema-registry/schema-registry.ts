/**
 * The schema registry's operations, behind the REST API (rest-api.ts) and free of HTTP: what each
 * Confluent endpoint reads from the applied store, and what each write decides and logs.
 *
 * Reads answer on any coordinator node from the store it has applied (schema-store.ts). Writes go
 * through the coordinator's write pipeline on the Raft leader: `decide` runs against the leader's
 * speculative state (committed + proposed), so two registrations arriving together get distinct
 * versions and ids without waiting for each other's commit, and the answer comes once the entry is
 * applied (on a quorum). A write on a follower rejects with NOT_CONTROLLER naming the leader; the
 * HTTP layer forwards it there.
 *
 * Registration (Confluent's rules, reference §1.3):
 * 1. mode: READONLY refuses writes; an explicit id needs IMPORT, and IMPORT needs an explicit id;
 * 2. references resolve to registered versions, and the format parses the schema with them;
 * 3. the same content live in the subject already: its id, no new version;
 * 4. unless IMPORT: compatible with the live versions the level names, else 409 with every problem;
 * 5. the id: the one of the same content anywhere (global identity), else one past the highest.
 *
 * Parsed schemas are cached by id, checked against the id's canonical form on each use.
 *
 * Pure: no node:* imports.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type Submit, read, write } from '../coordinator-steps.js';
import {
  type CompatibilityProblem,
  type ParsedSchema,
  type ResolvedReference,
  type SchemaFormat,
  type SchemaReference,
  InvalidSchemaError,
  SchemaType,
} from './formats/types.js';
import { protobufSerializedToText } from './formats/index.js';
import { type VersionProblem, compatibilityProblems, isTransitive, problemMessage, versionsToCheck } from './compatibility-check.js';
import { registryErrors } from './registry-errors.js';
import {
  type CompatibilityLevel,
  type RegistryMode,
  type SchemaCommand,
  DEFAULT_COMPATIBILITY_LEVEL,
  DEFAULT_REGISTRY_MODE,
  MAX_REFERENCES,
  MAX_SCHEMA_ID,
  MAX_SCHEMA_LENGTH,
  MAX_SUBJECT_LENGTH,
  MAX_VERSION,
  RegistryMode as Mode,
  SchemaCommandType,
  isCompatibilityLevel,
  isRegistryMode,
  isSchemaType,
} from './schema-commands.js';
import type { SchemaStoreView, StoredSchema, SubjectImage, SubjectVersionImage } from './schema-store.js';

/** What a client sends to register, look up or test a schema (Confluent's body). */
export interface SchemaRequest {
  readonly schema: string;
  readonly schemaType: SchemaType;
  readonly references: readonly SchemaReference[];
  /** IMPORT mode only. */
  readonly id?: number;
  readonly version?: number;
}

/** A subject version as the API shows it (schemaType and references omitted when default/empty). */
export interface SubjectVersionAnswer {
  readonly subject: string;
  readonly id: number;
  readonly version: number;
  readonly schemaType?: SchemaType;
  readonly schema: string;
  readonly references?: readonly SchemaReference[];
}

export interface SchemaAnswer {
  readonly schema: string;
  readonly schemaType?: SchemaType;
  readonly references?: readonly SchemaReference[];
}

export interface CompatibilityAnswer {
  readonly is_compatible: boolean;
  readonly messages?: readonly string[];
}

/** How the registry reaches formats: formats/index.ts's formatFor in production. */
export type FormatLookup = (type: SchemaType) => SchemaFormat;

export interface SchemaRegistryOptions {
  /** The applied metadata's schema store on this node. */
  readonly store: () => SchemaStoreView;
  /** Runs a write on the Raft leader (Coordinator.submitWrite). */
  readonly submit: Submit;
  readonly formatFor: FormatLookup;
  /** Parsed schemas kept by id. */
  readonly parsedCacheSize?: number;
}

/** A version as a request names it: a number, or the latest (live) one. */
export type VersionSpec = number | 'latest';

/** Whether a subject holds a control character (U+0000..U+001F, U+007F). */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
const DEFAULT_PARSED_CACHE_SIZE = 1000;

/** Reads `latest`, `-1` or 1..2^31-1 from a path segment; 42202 otherwise. */
export function parseVersionSpec(text: string): VersionSpec {
  if (text === 'latest' || text === '-1') return 'latest';
  if (!/^[0-9]{1,10}$/.test(text)) throw registryErrors.invalidVersion(text);
  const n = Number(text);
  if (n < 1 || n > MAX_VERSION) throw registryErrors.invalidVersion(text);
  return n;
}

export function checkSubject(subject: string): string {
  if (subject.length === 0) throw registryErrors.invalidSubject(subject, 'it is empty');
  if (subject.length > MAX_SUBJECT_LENGTH) throw registryErrors.invalidSubject(subject.slice(0, 40), `it is longer than ${MAX_SUBJECT_LENGTH} characters`);
  if (hasControlCharacter(subject)) throw registryErrors.invalidSubject(subject, 'it contains control characters');
  return subject;
}

function answerOf(subject: string, v: SubjectVersionImage, schema: StoredSchema): SubjectVersionAnswer {
  return {
    subject,
    id: v.id,
    version: v.version,
    ...(schema.schemaType === SchemaType.AVRO ? {} : { schemaType: schema.schemaType }),
    schema: schema.schema,
    ...(schema.references.length === 0 ? {} : { references: schema.references }),
  };
}

function liveVersions(image: SubjectImage | undefined): SubjectVersionImage[] {
  return image === undefined ? [] : image.versions.filter((v) => !v.deleted);
}

export class SchemaRegistry {
  readonly #store: () => SchemaStoreView;
  readonly #submit: Submit;
  readonly #formatFor: FormatLookup;
  readonly #parsed = new Map<number, ParsedSchema>();
  readonly #parsedCacheSize: number;

  constructor(options: SchemaRegistryOptions) {
    this.#store = options.store;
    this.#submit = options.submit;
    this.#formatFor = options.formatFor;
    this.#parsedCacheSize = options.parsedCacheSize ?? DEFAULT_PARSED_CACHE_SIZE;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /** Subjects with a live version (or any version with `deleted`; only soft-deleted ones with `deletedOnly`). */
  subjects(options: { readonly prefix?: string; readonly deleted?: boolean; readonly deletedOnly?: boolean } = {}): string[] {
    const prefix = options.prefix ?? '';
    return this.#store()
      .subjects()
      .filter((s) => s.subject.startsWith(prefix))
      .filter((s) => {
        const live = s.versions.some((v) => !v.deleted);
        if (options.deletedOnly === true) return s.versions.some((v) => v.deleted);
        return live || options.deleted === true;
      })
      .map((s) => s.subject);
  }

  /** A subject's version numbers; 40401 when it has none visible. */
  versions(subject: string, options: { readonly deleted?: boolean; readonly deletedOnly?: boolean; readonly deletedAsNegative?: boolean } = {}): number[] {
    const image = this.#store().subject(subject);
    const visible = (image?.versions ?? []).filter((v) => (options.deletedOnly === true ? v.deleted : options.deleted === true || options.deletedAsNegative === true || !v.deleted));
    if (visible.length === 0 && (options.deletedOnly !== true || image === undefined)) throw registryErrors.subjectNotFound(subject);
    return visible.map((v) => (options.deletedAsNegative === true && v.deleted ? -v.version : v.version));
  }

  /** One version of a subject (`latest` is the highest live one). */
  version(subject: string, spec: VersionSpec, options: { readonly deleted?: boolean } = {}): SubjectVersionAnswer {
    const store = this.#store();
    const v = this.#findVersion(store, subject, spec, options.deleted === true);
    return answerOf(subject, v, this.#schemaOf(store, v.id));
  }

  /** The schema of a global id; 40403 when no subject version (live or soft-deleted) names it. */
  schemaById(id: number, options: { readonly subject?: string } = {}): SchemaAnswer {
    const store = this.#store();
    const schema = store.schema(id);
    const usages = store.usages(id);
    if (schema === undefined || usages.length === 0) throw registryErrors.schemaIdNotFound(id);
    if (options.subject !== undefined && options.subject !== '' && !usages.some((u) => u.subject === options.subject)) throw registryErrors.schemaIdNotFound(id);
    return {
      schema: schema.schema,
      ...(schema.schemaType === SchemaType.AVRO ? {} : { schemaType: schema.schemaType }),
      ...(schema.references.length === 0 ? {} : { references: schema.references }),
    };
  }

  /** The stored schema of an id, for callers that need its type (format=serialized). */
  storedSchema(id: number): StoredSchema {
    const store = this.#store();
    const schema = store.schema(id);
    if (schema === undefined || store.usages(id).length === 0) throw registryErrors.schemaIdNotFound(id);
    return schema;
  }

  /** The subjects that name an id. */
  idSubjects(id: number, options: { readonly deleted?: boolean } = {}): string[] {
    return [...new Set(this.idVersions(id, options).map((u) => u.subject))];
  }

  /** The subject versions that name an id. */
  idVersions(id: number, options: { readonly deleted?: boolean } = {}): { subject: string; version: number }[] {
    const store = this.#store();
    const usages = store.usages(id);
    if (store.schema(id) === undefined || usages.length === 0) throw registryErrors.schemaIdNotFound(id);
    return usages.filter((u) => options.deleted === true || !u.deleted).map((u) => ({ subject: u.subject, version: u.version }));
  }

  /** GET /schemas: subject versions with their schemas. */
  listSchemas(options: { readonly subjectPrefix?: string; readonly deleted?: boolean; readonly latestOnly?: boolean } = {}): (SubjectVersionAnswer & { readonly id: number })[] {
    const store = this.#store();
    const out: SubjectVersionAnswer[] = [];
    for (const image of store.subjects()) {
      if (!image.subject.startsWith(options.subjectPrefix ?? '')) continue;
      const versions = image.versions.filter((v) => options.deleted === true || !v.deleted);
      for (const v of options.latestOnly === true ? versions.slice(-1) : versions) out.push(answerOf(image.subject, v, this.#schemaOf(store, v.id)));
    }
    return out;
  }

  /** The ids of the schemas that reference a subject version. */
  referencedBy(subject: string, spec: VersionSpec): number[] {
    const store = this.#store();
    const v = this.#findVersion(store, subject, spec, true);
    return [...new Set(store.referencedBy(subject, v.version).map((r) => r.id))];
  }

  /** POST /subjects/{s}: the version of `subject` holding this schema. */
  lookup(subject: string, request: SchemaRequest, options: { readonly deleted?: boolean } = {}): SubjectVersionAnswer {
    const store = this.#store();
    const image = store.subject(subject);
    const candidates = (image?.versions ?? []).filter((v) => options.deleted === true || !v.deleted);
    if (candidates.length === 0) throw registryErrors.subjectNotFound(subject);
    const parsed = this.#parse(store, request);
    const id = store.idOf(parsed.schemaType, parsed.canonical, request.references);
    const found = id === undefined ? undefined : [...candidates].reverse().find((v) => v.id === id);
    if (found === undefined) throw registryErrors.schemaNotFound();
    return answerOf(subject, found, this.#schemaOf(store, found.id));
  }

  /** The compatibility level in force for a subject (its own, else the global one, else BACKWARD). */
  effectiveCompatibility(store: SchemaStoreView, subject: string | null): CompatibilityLevel {
    return (subject === null ? undefined : store.compatibility(subject)) ?? store.compatibility(null) ?? DEFAULT_COMPATIBILITY_LEVEL;
  }

  /** GET /config[/{s}]: 40408 for a subject without its own level, unless defaultToGlobal. */
  config(subject: string | null, options: { readonly defaultToGlobal?: boolean } = {}): { compatibilityLevel: CompatibilityLevel } {
    const store = this.#store();
    if (subject === null) return { compatibilityLevel: this.effectiveCompatibility(store, null) };
    const own = store.compatibility(subject);
    if (own !== undefined) return { compatibilityLevel: own };
    if (options.defaultToGlobal === true) return { compatibilityLevel: this.effectiveCompatibility(store, null) };
    throw registryErrors.subjectConfigNotFound(subject);
  }

  /** GET /mode[/{s}]: 40409 for a subject without its own mode, unless defaultToGlobal. */
  mode(subject: string | null, options: { readonly defaultToGlobal?: boolean } = {}): { mode: RegistryMode } {
    const store = this.#store();
    const global = store.mode(null) ?? DEFAULT_REGISTRY_MODE;
    if (subject === null) return { mode: global };
    const own = store.mode(subject);
    if (own !== undefined) return { mode: own };
    if (options.defaultToGlobal === true) return { mode: global };
    throw registryErrors.subjectModeNotFound(subject);
  }

  /**
   * POST /compatibility/subjects/{s}/versions[/{v}]: whether `request` may follow the subject's
   * versions under its level. With a version, the check is against that version (every live one
   * for a transitive level); without, it is the check registration would run.
   */
  testCompatibility(subject: string, spec: VersionSpec | undefined, request: SchemaRequest, options: { readonly verbose?: boolean } = {}): CompatibilityAnswer {
    const store = this.#store();
    const image = store.subject(subject);
    const level = this.effectiveCompatibility(store, subject);
    const live = liveVersions(image);
    let against: SubjectVersionImage[];
    if (spec === undefined || isTransitive(level) || (spec === 'latest' && live.length === 0)) {
      if (spec !== undefined && spec !== 'latest') this.#findVersion(store, subject, spec, false);
      against = [...versionsToCheck(level, live)];
    } else {
      against = level === 'NONE' ? [] : [this.#findVersion(store, subject, spec, false)];
    }
    const parsed = this.#parse(store, request);
    const problems = this.#problems(store, level, parsed, against);
    return this.#compatibilityAnswer(problems, level, options.verbose === true);
  }

  /** Every problem of `request` against chosen versions of a subject, under a level (for `schema diff`). */
  problemsAgainst(subject: string, versions: readonly number[], request: SchemaRequest, level: CompatibilityLevel): VersionProblem[] {
    const store = this.#store();
    const against = versions.map((v) => this.#findVersion(store, subject, v, true));
    return this.#problems(store, level, this.#parse(store, request), against);
  }

  /** The parsed schema of an id (cached), for answers in another form (format=serialized). */
  parsed(id: number): ParsedSchema {
    const store = this.#store();
    this.storedSchema(id);
    return this.#parsedOf(store, id);
  }

  // ---------------------------------------------------------------------------------------------
  // Writes (on the leader)

  /** POST /subjects/{s}/versions: resolves with the id once the version is applied. */
  register(subject: string, request: SchemaRequest, options: { readonly signal?: AbortSignal } = {}): Promise<{ id: number }> {
    checkSubject(subject);
    return this.#submit(options.signal, (state) => {
      const store = state.schemas;
      const mode = this.#modeOf(store, subject);
      if (mode === Mode.READONLY) throw registryErrors.notPermitted(`Subject ${subject} is in read-only mode`);
      if (request.id !== undefined && mode !== Mode.IMPORT) throw registryErrors.notPermitted(`Subject ${subject} is not in import mode`);
      if (request.id === undefined && mode === Mode.IMPORT) throw registryErrors.notPermitted(`Subject ${subject} is in import mode: register with an explicit id`);
      const parsed = this.#parse(store, request);
      const image = store.subject(subject);
      const live = liveVersions(image);
      const sameId = store.idOf(parsed.schemaType, parsed.canonical, request.references);
      const existing = sameId === undefined ? undefined : live.find((v) => v.id === sameId);
      if (existing !== undefined && request.id === undefined) return read(() => ({ id: existing.id }));
      if (mode !== Mode.IMPORT) {
        const level = this.effectiveCompatibility(store, subject);
        const problems = this.#problems(store, level, parsed, [...versionsToCheck(level, live)]);
        if (problems.length > 0) throw registryErrors.incompatible(subject, [...problems.map(problemMessage), `{compatibility: '${level}'}`]);
      }
      const id = this.#chooseId(store, request, parsed, sameId);
      const version = this.#chooseVersion(subject, image, request);
      const command: SchemaCommand = {
        type: SchemaCommandType.REGISTER,
        subject,
        version,
        id,
        schemaType: parsed.schemaType,
        schema: storedText(request),
        canonical: parsed.canonical,
        references: request.references,
      };
      return write([command], () => ({ id }));
    });
  }

  /** DELETE /subjects/{s}: the versions deleted. */
  deleteSubject(subject: string, permanent: boolean, options: { readonly signal?: AbortSignal } = {}): Promise<number[]> {
    return this.#submit(options.signal, (state) => {
      const store = state.schemas;
      this.#refuseReadOnly(store, subject);
      const image = store.subject(subject);
      if (image === undefined) throw registryErrors.subjectNotFound(subject);
      const live = liveVersions(image);
      if (permanent) {
        if (live.length > 0) throw registryErrors.subjectNotSoftDeleted(subject);
      } else if (live.length === 0) {
        throw registryErrors.subjectSoftDeleted(subject);
      }
      const targets = permanent ? image.versions : live;
      for (const v of targets) this.#refuseReferenced(store, subject, v.version, true);
      const versions = targets.map((v) => v.version);
      return write([{ type: SchemaCommandType.DELETE_SUBJECT, subject, permanent }], () => versions);
    });
  }

  /** DELETE /subjects/{s}/versions/{v}: the version deleted. */
  deleteVersion(subject: string, spec: VersionSpec, permanent: boolean, options: { readonly signal?: AbortSignal } = {}): Promise<number> {
    return this.#submit(options.signal, (state) => {
      const store = state.schemas;
      this.#refuseReadOnly(store, subject);
      const image = store.subject(subject);
      if (image === undefined) throw registryErrors.subjectNotFound(subject);
      const v = spec === 'latest' ? this.#findVersion(store, subject, spec, permanent) : image.versions.find((x) => x.version === spec);
      if (v === undefined) throw registryErrors.versionNotFound(spec);
      if (permanent && !v.deleted) throw registryErrors.versionNotSoftDeleted(subject, v.version);
      if (!permanent && v.deleted) throw registryErrors.versionSoftDeleted(subject, v.version);
      this.#refuseReferenced(store, subject, v.version, false);
      return write([{ type: SchemaCommandType.DELETE_VERSIONS, subject, versions: [v.version], permanent }], () => v.version);
    });
  }

  /** PUT /config[/{s}]: echoes the level set. */
  setConfig(subject: string | null, compatibility: unknown, options: { readonly signal?: AbortSignal } = {}): Promise<{ compatibility: CompatibilityLevel }> {
    const level = typeof compatibility === 'string' ? compatibility.toUpperCase() : compatibility;
    if (!isCompatibilityLevel(level)) return Promise.reject(registryErrors.invalidCompatibility(compatibility));
    if (subject !== null) checkSubject(subject);
    return this.#submit(options.signal, () => write([{ type: SchemaCommandType.SET_CONFIG, subject, compatibility: level }], () => ({ compatibility: level })));
  }

  /** DELETE /config[/{s}]: the level there was (a subject without its own: 40408). */
  deleteConfig(subject: string | null, options: { readonly signal?: AbortSignal } = {}): Promise<{ compatibilityLevel: CompatibilityLevel }> {
    return this.#submit(options.signal, (state) => {
      const store = state.schemas;
      const own = store.compatibility(subject);
      if (subject !== null && own === undefined) throw registryErrors.subjectConfigNotFound(subject);
      const previous = own ?? DEFAULT_COMPATIBILITY_LEVEL;
      return write(own === undefined ? [] : [{ type: SchemaCommandType.SET_CONFIG, subject, compatibility: null }], () => ({ compatibilityLevel: previous }));
    });
  }

  /**
   * PUT /mode[/{s}]: echoes the mode set. IMPORT on a registry (or subject) that holds schemas
   * needs `force`, because imported ids could collide with the ids already given.
   */
  setMode(subject: string | null, mode: unknown, options: { readonly force?: boolean; readonly signal?: AbortSignal } = {}): Promise<{ mode: RegistryMode }> {
    const wanted = typeof mode === 'string' ? mode.toUpperCase() : mode;
    if (!isRegistryMode(wanted)) return Promise.reject(registryErrors.invalidMode(mode));
    if (subject !== null) checkSubject(subject);
    return this.#submit(options.signal, (state) => {
      const store = state.schemas;
      if (wanted === Mode.IMPORT && options.force !== true) {
        const holds = subject === null ? store.subjects().length > 0 : store.subject(subject) !== undefined;
        if (holds) throw registryErrors.notPermitted(`Cannot import since found existing subjects${subject === null ? '' : ` (${subject})`}; use force=true to override`);
      }
      return write([{ type: SchemaCommandType.SET_MODE, subject, mode: wanted }], () => ({ mode: wanted }));
    });
  }

  /** DELETE /mode[/{s}]: the mode there was. */
  deleteMode(subject: string | null, options: { readonly signal?: AbortSignal } = {}): Promise<{ mode: RegistryMode }> {
    return this.#submit(options.signal, (state) => {
      const own = state.schemas.mode(subject);
      if (subject !== null && own === undefined) throw registryErrors.subjectModeNotFound(subject);
      const previous = own ?? DEFAULT_REGISTRY_MODE;
      return write(own === undefined ? [] : [{ type: SchemaCommandType.SET_MODE, subject, mode: null }], () => ({ mode: previous }));
    });
  }

  /** Records where node `nodeId` serves the REST API, when the log lacks or differs (on the leader). */
  recordEndpoint(nodeId: number, host: string, port: number, options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    return this.#submit(options.signal, (state) => {
      const known = state.schemas.endpoint(nodeId);
      const same = known !== undefined && known.host === host && known.port === port;
      return write(same ? [] : [{ type: SchemaCommandType.ENDPOINT, nodeId, host, port }], () => undefined);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  #modeOf(store: SchemaStoreView, subject: string): RegistryMode {
    return store.mode(subject) ?? store.mode(null) ?? DEFAULT_REGISTRY_MODE;
  }

  #refuseReadOnly(store: SchemaStoreView, subject: string): void {
    if (this.#modeOf(store, subject) === Mode.READONLY) throw registryErrors.notPermitted(`Subject ${subject} is in read-only mode`);
  }

  /** 42206 when any other subject version (even a soft-deleted one) references this one. */
  #refuseReferenced(store: SchemaStoreView, subject: string, version: number, wholeSubject: boolean): void {
    const referrers = store.referencedBy(subject, version).filter((r) => !(wholeSubject && r.subject === subject));
    if (referrers.length > 0) throw registryErrors.referenceExists(subject, version);
  }

  #findVersion(store: SchemaStoreView, subject: string, spec: VersionSpec, includeDeleted: boolean): SubjectVersionImage {
    const image = store.subject(subject);
    const visible = (image?.versions ?? []).filter((v) => includeDeleted || !v.deleted);
    if (image === undefined || (spec === 'latest' && visible.length === 0) || (!includeDeleted && liveVersions(image).length === 0)) {
      throw registryErrors.subjectNotFound(subject);
    }
    const found = spec === 'latest' ? visible[visible.length - 1] : visible.find((v) => v.version === spec);
    if (found === undefined) throw registryErrors.versionNotFound(spec === 'latest' ? 'latest' : spec);
    return found;
  }

  #schemaOf(store: SchemaStoreView, id: number): StoredSchema {
    const schema = store.schema(id);
    if (schema === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `subject version names schema id ${id}, which the store does not hold`);
    return schema;
  }

  #problems(store: SchemaStoreView, level: CompatibilityLevel, parsed: ParsedSchema, against: readonly SubjectVersionImage[]): VersionProblem[] {
    if (against.length === 0 || level === 'NONE') return [];
    const earlier = against.map((v) => ({ version: v.version, parsed: this.#parsedOf(store, v.id) }));
    return compatibilityProblems(level, parsed, earlier);
  }

  #compatibilityAnswer(problems: readonly VersionProblem[], level: CompatibilityLevel, verbose: boolean): CompatibilityAnswer {
    if (!verbose) return { is_compatible: problems.length === 0 };
    const messages = problems.length === 0 ? [] : [...problems.map(problemMessage), `{compatibility: '${level}'}`];
    return { is_compatible: problems.length === 0, messages };
  }

  /** Parses a request's schema with its references resolved; 42201 for anything invalid. */
  #parse(store: SchemaStoreView, request: SchemaRequest): ParsedSchema {
    if (request.schema.length > MAX_SCHEMA_LENGTH) throw registryErrors.schemaTooLarge(request.schema.length, MAX_SCHEMA_LENGTH);
    if (request.references.length > MAX_REFERENCES) throw registryErrors.invalidSchema(`a schema may have at most ${MAX_REFERENCES} references`);
    const references = request.references.map((r) => this.#resolve(store, r, 0));
    return this.#parseWith(request.schemaType, request.schema, references);
  }

  #parseWith(schemaType: SchemaType, schema: string, references: readonly ResolvedReference[]): ParsedSchema {
    const format = this.#formatFor(schemaType);
    try {
      return format.parse(schema, references);
    } catch (error) {
      if (error instanceof InvalidSchemaError) {
        const where = error.location === undefined ? '' : ` at ${error.location}`;
        throw registryErrors.invalidSchema(`Invalid schema ${schemaType}: ${error.message}${where}`);
      }
      throw registryErrors.invalidSchema(`Invalid schema ${schemaType}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** A reference with the schema it names (and that schema's references), as the format wants it. */
  #resolve(store: SchemaStoreView, reference: SchemaReference, depth: number): ResolvedReference {
    if (depth > 32) throw registryErrors.invalidSchema(`references nest deeper than 32 levels at ${reference.subject} version ${reference.version}`);
    const v = store.subject(reference.subject)?.versions.find((x) => x.version === reference.version);
    const schema = v === undefined ? undefined : store.schema(v.id);
    if (schema === undefined) {
      throw registryErrors.invalidSchema(`Invalid schema: reference ${JSON.stringify(reference.name)} names subject '${reference.subject}' version ${reference.version}, which is not registered`);
    }
    return {
      name: reference.name,
      subject: reference.subject,
      version: reference.version,
      schema: schema.schema,
      schemaType: schema.schemaType,
      references: schema.references.map((r) => this.#resolve(store, r, depth + 1)),
    };
  }

  #parsedOf(store: SchemaStoreView, id: number): ParsedSchema {
    const schema = this.#schemaOf(store, id);
    // Checked against the content: an id decided on a leader's speculative state may never commit
    // and be given to another schema by the next leader.
    const cached = this.#parsed.get(id);
    if (cached !== undefined && cached.canonical === schema.canonical && cached.schemaType === schema.schemaType) return cached;
    const parsed = this.#parseWith(schema.schemaType, schema.schema, schema.references.map((r) => this.#resolve(store, r, 0)));
    if (this.#parsed.size >= this.#parsedCacheSize) {
      const oldest = this.#parsed.keys().next();
      if (oldest.done !== true) this.#parsed.delete(oldest.value);
    }
    this.#parsed.set(id, parsed);
    return parsed;
  }

  #chooseId(store: SchemaStoreView, request: SchemaRequest, parsed: ParsedSchema, sameId: number | undefined): number {
    if (request.id === undefined) {
      if (sameId !== undefined) return sameId;
      if (store.maxId >= MAX_SCHEMA_ID) throw registryErrors.notPermitted('every schema id is taken');
      return store.maxId + 1;
    }
    const taken = store.schema(request.id);
    if (taken !== undefined && (taken.schemaType !== parsed.schemaType || taken.canonical !== parsed.canonical || !sameReferences(taken.references, request.references))) {
      throw registryErrors.idDoesNotMatch(`Overwrite new schema with id ${request.id} is not permitted: the id names another schema`);
    }
    return request.id;
  }

  #chooseVersion(subject: string, image: SubjectImage | undefined, request: SchemaRequest): number {
    const highest = image?.versions[image.versions.length - 1]?.version ?? 0;
    if (request.version === undefined) {
      if (highest >= MAX_VERSION) throw registryErrors.notPermitted(`subject ${subject} has used every version number`);
      return highest + 1;
    }
    if (image?.versions.some((v) => v.version === request.version) === true) {
      throw registryErrors.notPermitted(`Subject ${subject} already has version ${request.version}`);
    }
    return request.version;
  }
}

const BASE64_ONLY = /^[A-Za-z0-9+/=\s]+$/;

/**
 * The text kept for a registration: a Protobuf schema sent as a base64 FileDescriptorProto (what
 * Confluent's own clients send) is kept as .proto text, which GET answers by default, as
 * Confluent's registry does; format=serialized gives the descriptor back.
 */
function storedText(request: SchemaRequest): string {
  if (request.schemaType !== SchemaType.PROTOBUF || !BASE64_ONLY.test(request.schema)) return request.schema;
  return protobufSerializedToText(request.schema);
}

function sameReferences(a: readonly SchemaReference[], b: readonly SchemaReference[]): boolean {
  return a.length === b.length && a.every((r, i) => r.name === b[i]!.name && r.subject === b[i]!.subject && r.version === b[i]!.version);
}

/** Reads Confluent's register / lookup / compatibility body; 422 (42201 for a bad schemaType) otherwise. */
export function readSchemaRequest(body: unknown): SchemaRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw registryErrors.unprocessable('The request body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.schema !== 'string' || b.schema === '') throw registryErrors.invalidSchema('Invalid schema: the body needs a "schema" string');
  const type = b.schemaType ?? SchemaType.AVRO;
  if (!isSchemaType(type)) throw registryErrors.invalidSchema(`Invalid schemaType ${JSON.stringify(type)}: use AVRO, PROTOBUF or JSON`);
  const refs = b.references ?? [];
  if (!Array.isArray(refs)) throw registryErrors.invalidSchema('Invalid schema: "references" must be an array');
  const references = refs.map((r: unknown, i): SchemaReference => {
    const ref = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    const version = ref.version;
    if (typeof ref.name !== 'string' || ref.name === '' || typeof ref.subject !== 'string' || ref.subject === '' || typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > MAX_VERSION) {
      throw registryErrors.invalidSchema(`Invalid schema: references[${i}] needs a name, a subject and a version in 1..2^31-1`);
    }
    return { name: ref.name, subject: ref.subject, version };
  });
  const id = optionalPositive(b.id, 'id', MAX_SCHEMA_ID);
  const version = optionalPositive(b.version, 'version', MAX_VERSION);
  return { schema: b.schema, schemaType: type, references, ...(id === undefined ? {} : { id }), ...(version === undefined ? {} : { version }) };
}

/** An optional id or version; 0 and -1 (what some clients send for "none") read as absent. */
function optionalPositive(value: unknown, name: string, max: number): number | undefined {
  if (value === undefined || value === null || value === 0 || value === -1) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) throw registryErrors.unprocessable(`"${name}" must be an integer in 1..${max}`);
  return value;
}

export type { CompatibilityProblem, VersionProblem };
