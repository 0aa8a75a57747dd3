/**
 * A small client of a Confluent-compatible schema registry's REST API (StreamBus's own on port
 * 8081, or Confluent's, or Karapace), with the caches the serdes need so that the hot path never
 * waits on HTTP:
 *
 * - id → schema: ids are immutable (an id names one content forever), so an entry never goes stale;
 * - subject + schema → id: filled by register and lookup; a schema's id under a subject only
 *   changes if the subject is hard-deleted and the schema registered again, which a serializer
 *   meets as a broker rejection, not a wrong decode.
 *
 * Both caches are bounded (least recently used out) and single-flight: concurrent misses of one
 * key share one request. Requests carry Confluent's content type, a timeout, and the caller's
 * AbortSignal; failures become SerdeError with the registry's error code kept.
 */
import { BoundedCache } from './bounded-cache.js';
import { SerdeError, SerdeErrorCode, type SerdeErrorContext } from './serde-error.js';

export const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const DEFAULT_CACHE_CAPACITY = 1000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Confluent's schemaType names; a schema without one is Avro. */
export const SchemaFormat = { AVRO: 'AVRO', PROTOBUF: 'PROTOBUF', JSON: 'JSON' } as const;
export type SchemaFormat = (typeof SchemaFormat)[keyof typeof SchemaFormat];

export interface SchemaReference {
  readonly name: string;
  readonly subject: string;
  readonly version: number;
}

/** A schema as sent to the registry. */
export interface SchemaInput {
  readonly schemaType: SchemaFormat;
  readonly schema: string;
  readonly references?: readonly SchemaReference[];
}

/** A schema as the registry holds it under a global id. */
export interface RegisteredSchema extends SchemaInput {
  readonly id: number;
  readonly references: readonly SchemaReference[];
}

/** One version of a subject. */
export interface SubjectVersion extends RegisteredSchema {
  readonly subject: string;
  readonly version: number;
}

export interface SchemaRegistryClientOptions {
  /** The registry's base URL, e.g. "http://127.0.0.1:8081". */
  readonly url: string;
  /** Entries in each cache (id → schema, subject + schema → id). Default 1000. */
  readonly cacheCapacity?: number;
  /** How long one HTTP request may take. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** Sent as HTTP basic authentication, for registries that require it. */
  readonly basicAuth?: { readonly username: string; readonly password: string };
}

export interface RegistryCallOptions {
  readonly signal?: AbortSignal;
}

export class SchemaRegistryClient {
  readonly #baseUrl: string;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;
  readonly #byId: BoundedCache<number, RegisteredSchema>;
  readonly #idBySchema: BoundedCache<string, number>;

  /** Throws SerdeError INVALID_CONFIG for a URL that does not parse or an out-of-range option. */
  constructor(options: SchemaRegistryClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (cause) {
      throw new SerdeError(SerdeErrorCode.INVALID_CONFIG, `schema registry url '${String(options.url)}' is not a URL`, { cause });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SerdeError(SerdeErrorCode.INVALID_CONFIG, `schema registry url '${options.url}' must be http or https`);
    }
    this.#baseUrl = url.href.replace(/\/+$/, '');
    const capacity = options.cacheCapacity ?? DEFAULT_CACHE_CAPACITY;
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new SerdeError(SerdeErrorCode.INVALID_CONFIG, `cacheCapacity must be an integer >= 1, got ${capacity}`);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new SerdeError(SerdeErrorCode.INVALID_CONFIG, `requestTimeoutMs must be a positive number, got ${timeoutMs}`);
    this.#timeoutMs = timeoutMs;
    this.#byId = new BoundedCache(capacity);
    this.#idBySchema = new BoundedCache(capacity);
    this.#headers = { accept: `${CONTENT_TYPE}, application/json`, 'content-type': CONTENT_TYPE };
    if (options.basicAuth !== undefined) {
      this.#headers.authorization = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
    }
  }

  /**
   * The schema with global id `id` (GET /schemas/ids/{id}); cached. Rejects with SerdeError
   * SCHEMA_NOT_FOUND when the registry has no such id.
   */
  getSchema(id: number, options: RegistryCallOptions = {}): Promise<RegisteredSchema> {
    return this.#byId.getOrLoad(id, async () => {
      const body = await this.#request('GET', `/schemas/ids/${id}`, undefined, options.signal, { schemaId: id });
      return { id, ...readSchema(body, `schema ${id}`) };
    });
  }

  /** The schema with id `id` if this client has it cached; never calls the registry. */
  cachedSchema(id: number): RegisteredSchema | undefined {
    return this.#byId.get(id);
  }

  /**
   * Registers `schema` under `subject` (POST /subjects/{subject}/versions) and resolves with its
   * global id; registering a schema the subject already holds returns its id and adds no version.
   * Cached. Rejects with INCOMPATIBLE_SCHEMA when the subject's compatibility level refuses it and
   * INVALID_SCHEMA when the registry cannot parse it.
   */
  register(subject: string, schema: SchemaInput, options: RegistryCallOptions = {}): Promise<number> {
    return this.#idBySchema.getOrLoad(schemaKey(subject, schema), async () => {
      const body = await this.#request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, requestBody(schema), options.signal, { subject });
      const id = readId(body);
      this.#byId.set(id, { id, schemaType: schema.schemaType, schema: schema.schema, references: schema.references ?? [] });
      return id;
    });
  }

  /**
   * The id of `schema` under `subject` without registering it (POST /subjects/{subject}); cached.
   * Rejects with SUBJECT_NOT_FOUND or SCHEMA_NOT_FOUND.
   */
  lookupId(subject: string, schema: SchemaInput, options: RegistryCallOptions = {}): Promise<number> {
    return this.#idBySchema.getOrLoad(schemaKey(subject, schema), async () => {
      const body = await this.#request('POST', `/subjects/${encodeURIComponent(subject)}`, requestBody(schema), options.signal, { subject });
      return readId(body);
    });
  }

  /** The latest live version of `subject` (GET /subjects/{subject}/versions/latest); never cached. */
  async latestVersion(subject: string, options: RegistryCallOptions = {}): Promise<SubjectVersion> {
    const body = await this.#request('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`, undefined, options.signal, { subject });
    const id = readId(body);
    const version = (body as { version?: unknown }).version;
    if (typeof version !== 'number') throw malformed('a subject version without a version number');
    const schema = { id, ...readSchema(body, `subject '${subject}'`) };
    this.#byId.set(id, schema);
    return { ...schema, subject, version };
  }

  /** Forgets every cached schema and id (the bench measures uncached lookups with it). */
  clearCaches(): void {
    this.#byId.clear();
    this.#idBySchema.clear();
  }

  async #request(method: string, path: string, body: unknown, signal: AbortSignal | undefined, context: SerdeErrorContext): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        method,
        headers: this.#headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: combined,
      });
      text = await response.text();
    } catch (cause) {
      const why = timeout.aborted ? `timed out after ${this.#timeoutMs} ms` : signal?.aborted === true ? 'was aborted' : `failed: ${cause instanceof Error ? cause.message : String(cause)}`;
      throw new SerdeError(SerdeErrorCode.REGISTRY_UNAVAILABLE, `schema registry request ${method} ${path} ${why}`, { cause, context });
    }
    const parsed = parseJson(text);
    if (response.ok) return parsed;
    throw registryFailure(response.status, parsed, text, method, path, context);
  }
}

function schemaKey(subject: string, schema: SchemaInput): string {
  const references = schema.references === undefined || schema.references.length === 0 ? '' : JSON.stringify(schema.references);
  return `${subject}\u0000${schema.schemaType}\u0000${references}\u0000${schema.schema}`;
}

function requestBody(schema: SchemaInput): Record<string, unknown> {
  return {
    // Avro is the default; leaving it out is what every Confluent client does, so older registries accept it too.
    ...(schema.schemaType === SchemaFormat.AVRO ? {} : { schemaType: schema.schemaType }),
    schema: schema.schema,
    ...(schema.references === undefined || schema.references.length === 0 ? {} : { references: schema.references }),
  };
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function malformed(what: string): SerdeError {
  return new SerdeError(SerdeErrorCode.REGISTRY_ERROR, `the schema registry answered with ${what}`);
}

function readId(body: unknown): number {
  const id = (body as { id?: unknown } | undefined)?.id;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw malformed('no schema id');
  return id;
}

function readSchema(body: unknown, what: string): Omit<RegisteredSchema, 'id'> {
  const b = body as { schema?: unknown; schemaType?: unknown; references?: unknown } | undefined;
  if (typeof b?.schema !== 'string') throw malformed(`no schema text for ${what}`);
  const schemaType = b.schemaType ?? SchemaFormat.AVRO;
  if (schemaType !== SchemaFormat.AVRO && schemaType !== SchemaFormat.PROTOBUF && schemaType !== SchemaFormat.JSON) {
    throw malformed(`schema type ${JSON.stringify(schemaType)} for ${what}`);
  }
  const references = Array.isArray(b.references) ? (b.references as SchemaReference[]) : [];
  return { schemaType, schema: b.schema, references };
}

/** Confluent's error body `{error_code, message}` as a SerdeError. */
function registryFailure(status: number, body: unknown, text: string, method: string, path: string, context: SerdeErrorContext): SerdeError {
  const b = body as { error_code?: unknown; message?: unknown } | undefined;
  const registryErrorCode = typeof b?.error_code === 'number' ? b.error_code : undefined;
  const message = typeof b?.message === 'string' ? b.message : text.slice(0, 200) || `HTTP ${status}`;
  const full = { ...context, httpStatus: status, ...(registryErrorCode === undefined ? {} : { registryErrorCode }) };
  const say = (code: SerdeErrorCode): SerdeError => new SerdeError(code, `schema registry ${method} ${path}: ${message}`, { context: full });
  if (status >= 500) return say(SerdeErrorCode.REGISTRY_UNAVAILABLE);
  if (registryErrorCode === 40401) return say(SerdeErrorCode.SUBJECT_NOT_FOUND);
  if (status === 404) return say(SerdeErrorCode.SCHEMA_NOT_FOUND);
  if (status === 409) return say(SerdeErrorCode.INCOMPATIBLE_SCHEMA);
  if (registryErrorCode === 42201) return say(SerdeErrorCode.INVALID_SCHEMA);
  return say(SerdeErrorCode.REGISTRY_ERROR);
}
