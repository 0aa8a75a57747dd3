/**
 * Where a command's results go: aligned tables and sentences for people, or JSON for programs.
 *
 * In JSON mode stdout carries only JSON (one complete document per result, or one object per line
 * for streams such as `consume`), so `| jq` always works; notes and warnings go to stderr in both
 * modes. Errors are printed by printError: `{ "error": { code, name, message, ... } }` on stdout in
 * JSON mode, `error: NAME (code): message` on stderr otherwise.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { StreamBusError } from '../../proto/errors.js';
import { renderPairs, renderTable, sanitize, type Cell, type Column } from './table.js';

export interface OutputOptions {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly json: boolean;
  /** Bold table headers; the runner sets it only for a terminal without NO_COLOR. */
  readonly color: boolean;
}

/** JSON.stringify that writes bigints as numbers when exact, as strings otherwise. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  });
}

export class Output {
  readonly json: boolean;
  readonly color: boolean;
  readonly stdout: Writable;
  readonly stderr: Writable;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.color = options.color;
    this.stdout = options.stdout;
    this.stderr = options.stderr;
  }

  /** A line of text on stdout. */
  line(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** One JSON document on one line on stdout. */
  writeJson(value: unknown): void {
    this.stdout.write(`${toJson(value)}\n`);
  }

  table<K extends string>(columns: readonly Column<K>[], rows: readonly Readonly<Partial<Record<K, Cell>>>[]): void {
    this.stdout.write(renderTable(columns, rows, { color: this.color }));
  }

  pairs(pairs: readonly (readonly [string, Cell])[]): void {
    this.stdout.write(renderPairs(pairs));
  }

  /** A remark for the person at the terminal (stderr), e.g. a consequence worth knowing. */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    this.stderr.write(`warning: ${text}\n`);
  }

  /**
   * Resolves once stdout can take more; call in loops that print without bound. Also resolves when
   * stdout is gone (the reader of a pipe exited): the caller's signal says whether to go on.
   */
  async drain(): Promise<void> {
    if (this.stdout.destroyed || !this.stdout.writableNeedDrain) return;
    await Promise.race([once(this.stdout, 'drain'), once(this.stdout, 'close')]).catch(() => undefined);
  }
}

export interface ErrorReport {
  readonly code: number;
  readonly name: string;
  readonly message: string;
  readonly retriable: boolean;
  readonly topic?: string;
  readonly partition?: number;
  readonly broker?: string;
  /** For an admin call that failed for several topics: each one's own error. */
  readonly failures?: readonly ErrorReport[];
  /** A schema registry error's own Confluent code (40401 subject not found, 409 incompatible...). */
  readonly registryErrorCode?: number;
}

/** The Confluent error code a schema registry error carries (SchemaRegistryError), read structurally. */
function registryErrorCode(error: StreamBusError): number | undefined {
  const code = (error as { errorCode?: unknown }).errorCode;
  return typeof code === 'number' ? code : undefined;
}

/** An admin call's per-item failures (the client's AdminError), read structurally. */
function itemFailures(error: StreamBusError): readonly StreamBusError[] | undefined {
  const failures = (error as { failures?: unknown }).failures;
  if (!Array.isArray(failures)) return undefined;
  const errors = failures.map((f: unknown) => (f as { error?: unknown }).error);
  return errors.every((e): e is StreamBusError => e instanceof Error && 'codeName' in e) ? errors : undefined;
}

/**
 * The error worth showing: an admin call that failed for one topic reads as that topic's own
 * error ("topic 'orders' already exists"), not as a summary of one.
 */
export function primaryError(error: StreamBusError): StreamBusError {
  const failures = itemFailures(error);
  return failures?.length === 1 ? failures[0]! : error;
}

/** The JSON shape of an error: stable fields, context only when known. */
export function errorReport(error: StreamBusError): ErrorReport {
  const shown = primaryError(error);
  const failures = shown === error ? itemFailures(error) : undefined;
  const registry = registryErrorCode(shown);
  return {
    code: shown.code,
    name: shown.codeName,
    message: shown.message,
    retriable: shown.retriable,
    ...shown.context,
    ...(failures === undefined ? {} : { failures: failures.map(errorReport) }),
    ...(registry === undefined ? {} : { registryErrorCode: registry }),
  };
}

/** Prints an error the way the output mode wants it; `hint` is a human-only second line. */
export function printError(out: Output, error: StreamBusError, hint?: string): void {
  if (out.json) {
    out.writeJson({ error: errorReport(error) });
    return;
  }
  const shown = primaryError(error);
  const registry = registryErrorCode(shown);
  const codes = registry === undefined ? `${shown.code}` : `${shown.code}, registry ${registry}`;
  out.stderr.write(`error: ${shown.codeName} (${codes}): ${sanitize(shown.message).replace(/\\n/g, '\n')}\n`);
  if (hint !== undefined) out.stderr.write(`${hint}\n`);
}
