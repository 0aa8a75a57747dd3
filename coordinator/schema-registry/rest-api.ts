/**
 * Confluent's REST surface (reference §1.3) over the registry's operations: a router from method,
 * path and query to an answer, free of sockets so every route can be read in one place. The HTTP
 * shell (registry-server.ts) reads bodies, negotiates content types, and forwards writes that
 * land on a follower.
 *
 * Answers are `{status, body}`; a string body is sent as is (the `/schema` routes return the raw
 * schema text). Errors are SchemaRegistryError and become Confluent's `{error_code, message}`.
 *
 * Pure: no node:* imports.
 */
import { registryErrors } from './registry-errors.js';
import { SchemaType } from './formats/types.js';
import { type SchemaRegistry, type VersionSpec, checkSubject, parseVersionSpec, readSchemaRequest } from './schema-registry.js';
import type { StoredSchema } from './schema-store.js';

export interface RestRequest {
  readonly method: string;
  /** The path without the query, still percent-encoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The parsed JSON body; undefined when there was none. */
  readonly body: unknown;
}

export interface RestAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Converts stored Protobuf schemas to and from Confluent's `serialized` form (base64 FileDescriptorProto). */
export interface SerializedFormat {
  /** The schema as base64 FileDescriptorProto; throws for a schema it cannot convert. */
  serialize(schema: StoredSchema): string;
}

export interface RestApiOptions {
  readonly registry: SchemaRegistry;
  /** format=serialized for Protobuf; absent: such requests answer 42201. */
  readonly serialized?: SerializedFormat;
  /** The highest id ever given (`fetchMaxId`). */
  readonly maxId: () => number;
  /** The error code of an incompatible registration: 409 (Karapace, older CSR) or 40901 (CSR 8). */
  readonly incompatibleErrorCode?: 409 | 40901;
}

/** Whether a route changes state (and so must run on the leader). */
export function isWrite(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'DELETE';
}

/** Whether a POST only reads (lookup and compatibility tests run on any node). */
export function isReadOnlyPost(path: string): boolean {
  const parts = segments(path);
  return parts[0] === 'compatibility' || (parts[0] === 'subjects' && parts.length === 2);
}

function segments(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return [];
  return trimmed.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw registryErrors.unprocessable(`The path segment ${JSON.stringify(s)} is not valid percent-encoding`);
    }
  });
}

function flag(query: URLSearchParams, name: string): boolean {
  return query.get(name)?.toLowerCase() === 'true';
}

function optional(query: URLSearchParams, name: string): string | undefined {
  const value = query.get(name);
  return value === null || value === '' ? undefined : value;
}

function schemaId(text: string): number {
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) < 1 || Number(text) > 2 ** 31 - 1) throw registryErrors.schemaNotFound();
  return Number(text);
}

/** offset/limit paging of list answers (limit -1 or absent: all). */
function page<T>(items: readonly T[], query: URLSearchParams): T[] {
  const offset = Math.max(0, Number.parseInt(query.get('offset') ?? '0', 10) || 0);
  const limit = Number.parseInt(query.get('limit') ?? '-1', 10);
  return items.slice(offset, Number.isFinite(limit) && limit > 0 ? offset + limit : undefined);
}

const ok = (body: unknown): RestAnswer => ({ status: 200, body });

export class RestApi {
  readonly #registry: SchemaRegistry;
  readonly #serialized: SerializedFormat | undefined;
  readonly #maxId: () => number;
  readonly #incompatibleCode: 409 | 40901;

  constructor(options: RestApiOptions) {
    this.#registry = options.registry;
    this.#serialized = options.serialized;
    this.#maxId = options.maxId;
    this.#incompatibleCode = options.incompatibleErrorCode ?? 409;
  }

  /** The error code incompatible registrations answer with. */
  get incompatibleErrorCode(): 409 | 40901 {
    return this.#incompatibleCode;
  }

  /** Routes one request; rejects with SchemaRegistryError (or the coordinator's NOT_CONTROLLER for a write on a follower). */
  async handle(request: RestRequest, signal?: AbortSignal): Promise<RestAnswer> {
    const parts = segments(request.path);
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const q = request.query;
    const opts = signal === undefined ? {} : { signal };
    const [root, a, b, c, d] = parts;
    const n = parts.length;
    const r = this.#registry;

    if (n === 0 && method === 'GET') return ok({});
    switch (root) {
      case 'schemas': {
        if (n === 1 && method === 'GET') {
          const all = r.listSchemas({ subjectPrefix: q.get('subjectPrefix') ?? '', deleted: flag(q, 'deleted'), latestOnly: flag(q, 'latestOnly') });
          return ok(page(all, q));
        }
        if (n === 2 && a === 'types' && method === 'GET') return ok([SchemaType.JSON, SchemaType.PROTOBUF, SchemaType.AVRO]);
        if (a === 'ids' && b !== undefined && method === 'GET') {
          const id = schemaId(b);
          if (n === 3) return ok(this.#schemaById(id, q));
          if (n === 4 && c === 'schema') return ok(this.#schemaText(id, q));
          if (n === 4 && c === 'subjects') return ok(r.idSubjects(id, { deleted: flag(q, 'deleted') }));
          if (n === 4 && c === 'versions') return ok(r.idVersions(id, { deleted: flag(q, 'deleted') }));
        }
        break;
      }
      case 'subjects': {
        if (n === 1 && method === 'GET') {
          const prefix = optional(q, 'subjectPrefix');
          return ok(page(r.subjects({ ...(prefix === undefined ? {} : { prefix }), deleted: flag(q, 'deleted'), deletedOnly: flag(q, 'deletedOnly') }), q));
        }
        if (a === undefined) break;
        const subject = checkSubject(a);
        if (n === 2 && method === 'POST') {
          return ok(this.#formatted(r.lookup(subject, readSchemaRequest(request.body), { deleted: flag(q, 'deleted') }), q));
        }
        if (n === 2 && method === 'DELETE') return ok(await r.deleteSubject(subject, flag(q, 'permanent'), opts));
        if (b !== 'versions') break;
        if (n === 3 && method === 'GET') {
          return ok(r.versions(subject, { deleted: flag(q, 'deleted'), deletedOnly: flag(q, 'deletedOnly'), deletedAsNegative: flag(q, 'deletedAsNegative') }));
        }
        if (n === 3 && method === 'POST') return ok(await r.register(subject, readSchemaRequest(request.body), opts));
        if (c === undefined) break;
        const version = parseVersionSpec(c);
        if (n === 4 && method === 'GET') return ok(this.#formatted(r.version(subject, version, { deleted: flag(q, 'deleted') }), q));
        if (n === 4 && method === 'DELETE') return ok(await r.deleteVersion(subject, version, flag(q, 'permanent'), opts));
        if (n === 5 && d === 'schema' && method === 'GET') {
          const answer = r.version(subject, version, { deleted: flag(q, 'deleted') });
          return ok(this.#schemaText(answer.id, q));
        }
        if (n === 5 && d === 'referencedby' && method === 'GET') return ok(r.referencedBy(subject, version));
        break;
      }
      case 'compatibility': {
        if (a !== 'subjects' || b === undefined || c !== 'versions' || method !== 'POST') break;
        const subject = checkSubject(b);
        const spec: VersionSpec | undefined = d === undefined ? undefined : parseVersionSpec(d);
        if (n !== 4 && n !== 5) break;
        return ok(r.testCompatibility(subject, spec, readSchemaRequest(request.body), { verbose: flag(q, 'verbose') }));
      }
      case 'config':
      case 'mode': {
        if (n > 2) break;
        const subject = a === undefined ? null : checkSubject(a);
        const defaultToGlobal = flag(q, 'defaultToGlobal');
        if (root === 'config') {
          if (method === 'GET') return ok(r.config(subject, { defaultToGlobal }));
          if (method === 'PUT') return ok(await r.setConfig(subject, field(request.body, 'compatibility', 'compatibilityLevel'), opts));
          if (method === 'DELETE') return ok(await r.deleteConfig(subject, opts));
        } else {
          if (method === 'GET') return ok(r.mode(subject, { defaultToGlobal }));
          if (method === 'PUT') return ok(await r.setMode(subject, field(request.body, 'mode'), { force: flag(q, 'force'), ...opts }));
          if (method === 'DELETE') return ok(await r.deleteMode(subject, opts));
        }
        return methodNotAllowed(method, request.path);
      }
      case 'contexts':
        if (n === 1 && method === 'GET') return ok(['.']);
        break;
      case 'v1':
        if (n === 3 && a === 'metadata' && b === 'id' && method === 'GET') return ok({ scope: { path: [], clusters: {} } });
        if (n === 3 && a === 'metadata' && b === 'version' && method === 'GET') return ok({ version: 'streambus', commitId: '' });
        break;
      default:
        break;
    }
    throw registryErrors.notFound(`${request.method} ${request.path}`);
  }

  #schemaById(id: number, q: URLSearchParams): object {
    const subject = optional(q, 'subject');
    const answer = this.#registry.schemaById(id, subject === undefined ? {} : { subject });
    const formatted = this.#formatted({ ...answer, id }, q);
    const { id: _id, ...rest } = formatted as { id: number };
    return flag(q, 'fetchMaxId') ? { ...rest, maxId: this.#maxId() } : rest;
  }

  /** The raw schema text of an id (serialized when asked and Protobuf). */
  #schemaText(id: number, q: URLSearchParams): string {
    const stored = this.#registry.storedSchema(id);
    return this.#wantsSerialized(q, stored) ? this.#serialize(stored) : stored.schema;
  }

  /** An answer with `schema`, re-encoded when `format=serialized` asks for a Protobuf schema's descriptor. */
  #formatted<T extends { readonly id: number; readonly schema: string }>(answer: T, q: URLSearchParams): T {
    const stored = this.#registry.storedSchema(answer.id);
    if (!this.#wantsSerialized(q, stored)) return answer;
    return { ...answer, schema: this.#serialize(stored) };
  }

  #wantsSerialized(q: URLSearchParams, stored: StoredSchema): boolean {
    return q.get('format')?.toLowerCase() === 'serialized' && stored.schemaType === SchemaType.PROTOBUF;
  }

  #serialize(stored: StoredSchema): string {
    if (this.#serialized === undefined) throw registryErrors.invalidSchema('format=serialized is not available on this server');
    try {
      return this.#serialized.serialize(stored);
    } catch (error) {
      throw registryErrors.invalidSchema(`Cannot serialize schema ${stored.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** A config or mode body's value: `{"compatibility": ...}` (also `compatibilityLevel`), `{"mode": ...}`. */
function field(body: unknown, ...names: string[]): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw registryErrors.unprocessable('The request body must be a JSON object');
  const record = body as Record<string, unknown>;
  for (const name of names) if (record[name] !== undefined) return record[name];
  return undefined;
}

function methodNotAllowed(method: string, path: string): never {
  throw registryErrors.methodNotAllowed(`${method} ${path}`);
}
