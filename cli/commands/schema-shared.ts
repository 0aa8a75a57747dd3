/**
 * What the `schema` commands share: a small client of the registry's REST API (any node's; writes
 * are forwarded to the leader there), reading a schema from a file or stdin, and printing
 * compatibility problems.
 *
 * Registry errors come back as SchemaRegistryError with Confluent's code, so `--json` prints
 * `{"error": {...}}` like every other failure and the exit code is 1.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { UsageError, type CommandContext } from '../command.js';
import { SchemaRegistryError, isSchemaType, type RegistryErrorCode, type SchemaReference, type SchemaType } from '../../coordinator/index.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

const V1_JSON = 'application/vnd.schemaregistry.v1+json';

/** A thin client of one registry URL. */
export class RegistryHttp {
  readonly #base: string;
  readonly #signal: AbortSignal;
  readonly #timeoutMs: number;

  constructor(url: string, signal: AbortSignal, timeoutMs: number) {
    this.#base = url.replace(/\/+$/, '');
    this.#signal = signal;
    this.#timeoutMs = timeoutMs;
  }

  get url(): string {
    return this.#base;
  }

  /** One request; resolves with the parsed JSON answer, rejects with the registry's error. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: { accept: V1_JSON, ...(body === undefined ? {} : { 'content-type': V1_JSON }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.any([this.#signal, AbortSignal.timeout(this.#timeoutMs)]),
      });
    } catch (error) {
      throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `cannot reach the schema registry at ${this.#base}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (!response.ok) {
      const err = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { error_code?: number; message?: string };
      const code = (typeof err.error_code === 'number' ? err.error_code : response.status) as RegistryErrorCode;
      throw new SchemaRegistryError(code, err.message ?? `HTTP ${response.status} from ${method} ${path}`);
    }
    return parsed as T;
  }
}

export function registryOf(ctx: Pick<CommandContext, 'config' | 'signal'>): RegistryHttp {
  return new RegistryHttp(ctx.config.values['schema.registry.url'], ctx.signal, ctx.config.values['request.timeout.ms']);
}

/** The path segment of a subject. */
export function subjectPath(subject: string): string {
  return encodeURIComponent(subject);
}

/** A schema's text from --file, or stdin when the file is '-' or absent. */
export async function readSchemaText(file: string | undefined, stdin: Readable, command: string): Promise<string> {
  if (file !== undefined && file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new UsageError('no schema given: pass --file <path> or pipe the schema on stdin', command);
  return text;
}

/** --type, upper-cased; AVRO when absent. */
export function schemaTypeOption(value: string | undefined, command: string): SchemaType {
  const type = (value ?? 'AVRO').toUpperCase();
  if (!isSchemaType(type)) throw new UsageError(`--type must be AVRO, PROTOBUF or JSON, got "${value ?? ''}"`, command);
  return type;
}

/** --reference name=subject:version, repeated. */
export function referencesOption(values: readonly string[], command: string): SchemaReference[] {
  return values.map((text) => {
    const match = /^(.+)=(.+):([0-9]+)$/.exec(text);
    if (match === null) throw new UsageError(`--reference expects name=subject:version, got "${text}"`, command);
    return { name: match[1]!, subject: match[2]!, version: Number(match[3]) };
  });
}

/** A schema body as the REST API takes it (schemaType left out for Avro, references when any). */
export function schemaBody(schema: string, schemaType: SchemaType, references: readonly SchemaReference[]): object {
  return { schema, ...(schemaType === 'AVRO' ? {} : { schemaType }), ...(references.length === 0 ? {} : { references }) };
}

/**
 * One verbose compatibility message read back into its parts. The registry writes them as
 * `{errorType:'RULE', description:'...', location:'...', oldSchemaVersion:N, direction:'...'}`;
 * anything else (another registry's wording) is kept whole as the description.
 */
export interface ProblemLine {
  readonly rule: string;
  readonly location: string;
  readonly description: string;
  readonly version: number | null;
  readonly direction: string | null;
}

export function parseProblem(message: string): ProblemLine | undefined {
  const field = (name: string): string | undefined => {
    const m = new RegExp(`${name}:'((?:[^'\\\\]|\\\\.)*)'`).exec(message);
    return m?.[1]?.replaceAll("\\'", "'");
  };
  const rule = field('errorType');
  if (rule === undefined) return message.startsWith('{compatibility:') ? undefined : { rule: '', location: '', description: message, version: null, direction: null };
  const version = /oldSchemaVersion:([0-9]+)/.exec(message)?.[1];
  return { rule, location: field('location') ?? '', description: field('description') ?? '', version: version === undefined ? null : Number(version), direction: field('direction') ?? null };
}

/** Prints problems one per line: where, which rule, what. */
export function printProblems(ctx: Pick<CommandContext, 'out'>, problems: readonly ProblemLine[]): void {
  for (const p of problems) {
    const against = p.version === null ? '' : ` (against version ${p.version}${p.direction === null ? '' : `, ${p.direction}`})`;
    ctx.out.line(p.rule === '' ? `  ${p.description}` : `  ${p.location}  ${p.rule}: ${p.description}${against}`);
  }
}
