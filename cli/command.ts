/**
 * The contract between the `streambus` runner and each command module in cli/commands/.
 *
 * A command module exports `command`, a descriptor built with defineCommand(). The runner parses
 * the command line against the descriptor's options and positionals (usage errors exit 2), resolves
 * the configuration, and calls run() with everything already typed and validated. run() throws a
 * StreamBusError for operating failures (exit 1) and returns normally on success (exit 0).
 */
import type { Readable, Writable } from 'node:stream';
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import type { ResolvedConfig, SettingScope } from './config/index.js';
import type { StreamBusClient } from './client.js';
import type { Output } from './output/output.js';

export interface OptionSpec {
  /** integer options arrive as numbers, already range-checked against min/max. */
  readonly type: 'string' | 'boolean' | 'integer';
  readonly description: string;
  /** One letter: -n. */
  readonly short?: string;
  /** Repeatable; the value is an array in command-line order. */
  readonly multiple?: boolean;
  readonly default?: string | number;
  /** Placeholder shown in help: `--partitions <n>`. */
  readonly valueName?: string;
  readonly min?: number;
  readonly max?: number;
}
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
  /** Absent from the command line is allowed. Default: required. */
  readonly optional?: boolean;
  /** Takes the remaining arguments (one or more, or zero or more when optional). Must be last. */
  readonly variadic?: boolean;
}
export type PositionalSpecs = readonly PositionalSpec[];

type ScalarOf<S extends OptionSpec> = S['type'] extends 'boolean' ? boolean : S['type'] extends 'integer' ? number : string;

/** The parsed value of each option: arrays for repeatable ones, undefined for absent ones without default. */
export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]: O[K] extends { readonly multiple: true }
    ? readonly ScalarOf<O[K]>[]
    : O[K] extends { readonly type: 'boolean' }
      ? boolean
      : O[K] extends { readonly default: string | number }
        ? ScalarOf<O[K]>
        : ScalarOf<O[K]> | undefined;
};

/** The parsed positionals by name. */
export type ArgValues<P extends PositionalSpecs> = {
  readonly [E in P[number] as E['name']]: E extends { readonly variadic: true }
    ? readonly string[]
    : E extends { readonly optional: true }
      ? string | undefined
      : string;
};

export interface CommandContext<O extends OptionSpecs = OptionSpecs, P extends PositionalSpecs = PositionalSpecs> {
  readonly options: OptionValues<O>;
  readonly args: ArgValues<P>;
  /** The resolved configuration (flags > env > file > defaults). */
  readonly config: ResolvedConfig;
  /** Human or JSON output, chosen by --json. */
  readonly out: Output;
  readonly stdin: Readable;
  /** Aborted on the first SIGINT/SIGTERM: finish cleanly and return. */
  readonly signal: AbortSignal;
  /**
   * The client library, connected to the configured brokers on first call and closed by the
   * runner after run() settles.
   */
  client(): Promise<StreamBusClient>;
}

export interface CommandDescriptor<O extends OptionSpecs = OptionSpecs, P extends PositionalSpecs = PositionalSpecs> {
  /** Words as typed: 'topic create'. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Paragraphs shown by --help after the usage line. */
  readonly description?: string;
  readonly positionals: P;
  readonly options: O;
  readonly examples?: readonly string[];
  /**
   * Which settings the command reads. 'server' commands also accept the server's first-class flags
   * (--data-dir, --node-id, --log-level) and --print-config shows server settings. Default 'client'.
   */
  readonly scope?: SettingScope;
  // Method syntax on purpose: a command's run() takes its own narrower context, and method
  // parameters are checked bivariantly, so every descriptor fits the registry's general type.
  run(ctx: CommandContext<O, P>): Promise<void>;
}

/** Declares a command with its option and positional types inferred from the literals. */
export function defineCommand<const O extends OptionSpecs, const P extends PositionalSpecs>(
  descriptor: CommandDescriptor<O, P>,
): CommandDescriptor<O, P> {
  return descriptor;
}

/**
 * The command line is wrong (unknown option, missing argument, bad number): exit code 2. Typed as
 * INVALID_REQUEST so JSON output keeps one error shape.
 */
/**
 * A failure the command has already shown in its own output (a `--json` document saying what went
 * wrong): the CLI exits 1 without printing a second document.
 */
export class ReportedFailure extends StreamBusError {
  constructor(cause: StreamBusError) {
    super(cause.code, cause.message, { cause });
    this.name = 'ReportedFailure';
  }
}

export class UsageError extends StreamBusError {
  /** The command whose help explains the fix ('' for the top level). */
  readonly command: string;

  constructor(message: string, command = '') {
    super(ErrorCode.INVALID_REQUEST, message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** Parses `key=value`; a usage error names the option when the text has no '=' or no key. */
export function parseKeyValue(text: string, option: string, command: string): { key: string; value: string } {
  const at = text.indexOf('=');
  if (at <= 0) throw new UsageError(`${option} expects key=value, got "${text}"`, command);
  return { key: text.slice(0, at), value: text.slice(at + 1) };
}

/** Streams the runner hands to commands and writes to; injectable for tests. */
export interface CliStreams {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
}
