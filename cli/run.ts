/**
 * The `streambus` runner: finds the command in argv, parses its options with node:util parseArgs,
 * resolves the configuration, runs the command and turns the outcome into an exit code.
 *
 * Exit codes are part of the contract:
 *   0  success (also --help, --version, --print-config, and consume stopped by Ctrl-C)
 *   1  the operation failed; the typed error (code name and message) was printed
 *   2  usage error: unknown command or option, missing argument, bad flag value
 * 130  interrupted (SIGINT/SIGTERM) before the operation finished
 *
 * Command words come first (`streambus topic create orders -p 3`); global options may appear
 * anywhere. Only the module of the command being run is imported.
 */
import { parseArgs } from 'node:util';
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import { ReportedFailure, UsageError, type CliStreams, type CommandContext, type OptionSpec, type OptionSpecs } from './command.js';
import { defaultClientFactory, type ClientFactory, type StreamBusClient } from './client.js';
import {
  InvalidConfigError,
  describeConfig,
  formatConfigValue,
  loadConfig,
  suggest,
  type RawSetting,
  type ResolvedConfig,
  type SettingScope,
} from './config/index.js';
import { commandHelp, groupHelp, PROGRAM, topHelp } from './help.js';
import { globalOptions, settingFlags, type SettingFlag } from './options.js';
import { Output, printError } from './output/output.js';
import { commands as defaultCommands, type AnyCommand, type CommandEntry } from './registry.js';
import { packageVersion } from './version.js';

export const ExitCode = { OK: 0, FAILED: 1, USAGE: 2, INTERRUPTED: 130 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface CliIo extends CliStreams {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** stdout is a terminal: tables get a bold header unless NO_COLOR is set. */
  readonly isTTY?: boolean;
  /** Aborted on SIGINT/SIGTERM by main.ts; commands stop cleanly. */
  readonly signal?: AbortSignal;
  /** Default: the client library (client/index.ts), loaded on first use. */
  readonly createClient?: ClientFactory;
  /** Default: the registry. Tests pass their own. */
  readonly commands?: readonly CommandEntry[];
}

type ParsedValue = string | boolean | (string | boolean)[] | undefined;

interface Located {
  /** The words that named a command or group, e.g. ['topic', 'create']. */
  readonly words: readonly string[];
  /** argv without those words (and without a leading `help`). */
  readonly rest: readonly string[];
  /** `streambus help ...` */
  readonly helpWord: boolean;
  /** The first word that matched no command, when it came before any full command matched. */
  readonly unknownWord?: string;
}

const globalValueOptions = new Set(['--config', '--set', '-X', '--brokers', '-b']);

/** Runs one invocation and returns its exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const entries = io.commands ?? defaultCommands;
  const color = io.isTTY === true && (io.env.NO_COLOR ?? '') === '' && io.env.TERM !== 'dumb';
  // Errors can happen before options are parsed; --json anywhere already asks for JSON errors.
  let out = new Output({ stdout: io.stdout, stderr: io.stderr, json: argv.includes('--json'), color });
  const signal = io.signal ?? new AbortController().signal;
  try {
    const located = locate(argv, entries);
    const name = located.words.join(' ');
    const entry = entries.find((e) => e.name === name);

    if (entry === undefined) {
      if (located.unknownWord !== undefined) {
        const typed = [...located.words, located.unknownWord].join(' ');
        // Groups are candidates too, so 'topik' finds 'topic'.
        const candidates = new Set(entries.flatMap((e) => e.name.split(' ').map((_, i, words) => words.slice(0, i + 1).join(' '))));
        const close = suggest(typed, candidates);
        const hint = close === undefined ? '' : `; did you mean '${close}'?`;
        throw new UsageError(`unknown command '${typed}'${hint}`, name);
      }
      // The top level or a group: only global options make sense here.
      const specs = { ...flagSpecs(settingFlags('client')), ...globalOptions };
      const parsed = parse(located.rest, specs, false, name);
      out = new Output({ stdout: io.stdout, stderr: io.stderr, json: parsed.values.json === true, color });
      if (parsed.values.version === true) {
        if (out.json) out.writeJson({ version: packageVersion() });
        else out.line(`${PROGRAM} ${packageVersion()}`);
        return ExitCode.OK;
      }
      if (parsed.values['print-config'] === true && !located.helpWord && parsed.values.help !== true) {
        const config = await resolve(parsed.values, settingFlags('client'), io, out);
        printConfig(out, config, undefined);
        return ExitCode.OK;
      }
      io.stdout.write(name === '' ? topHelp(entries, specs, packageVersion()) : groupHelp(name, entries));
      return ExitCode.OK;
    }

    const command = await entry.load();
    const scope: SettingScope = command.scope ?? 'client';
    const flags = scope === 'server' ? [...settingFlags('client'), ...settingFlags('server')] : settingFlags('client');
    // A command's own option shadows a global one of the same name (topic alter-config --set
    // sets topic configs); the global is then not available to that command.
    const globals = withoutKeys({ ...flagSpecs(settingFlags('client')), ...globalOptions }, command.options);
    const scoped = withoutKeys(scope === 'server' ? flagSpecs(settingFlags('server')) : {}, command.options);
    const parsed = parse(located.rest, { ...globals, ...scoped, ...command.options }, true, name);
    const globalValues = Object.fromEntries(Object.entries(parsed.values).filter(([key]) => !Object.hasOwn(command.options, key)));
    out = new Output({ stdout: io.stdout, stderr: io.stderr, json: globalValues.json === true, color });
    if (globalValues.help === true || located.helpWord) {
      io.stdout.write(commandHelp(command, globals, scoped));
      return ExitCode.OK;
    }
    if (globalValues.version === true) {
      out.line(`${PROGRAM} ${packageVersion()}`);
      return ExitCode.OK;
    }
    const settingsFlags = flags.filter((f) => !Object.hasOwn(command.options, f.flag));
    if (globalValues['print-config'] === true) {
      // Shows what the command would run with; its own arguments need not be complete for that.
      printConfig(out, await resolve(globalValues, settingsFlags, io, out), scope);
      return ExitCode.OK;
    }
    const options = commandOptions(command, parsed.values);
    const args = commandArgs(command, parsed.positionals);
    const config = await resolve(globalValues, settingsFlags, io, out);

    let client: Promise<StreamBusClient> | undefined;
    const ctx: CommandContext = {
      // commandOptions and commandArgs built these from the descriptor's own specs.
      options: options as CommandContext['options'],
      args: args as CommandContext['args'],
      config,
      out,
      stdin: io.stdin,
      signal,
      client: () => {
        client ??= (io.createClient ?? defaultClientFactory)({
          brokers: config.values.brokers,
          clientId: config.values['client.id'],
          requestTimeoutMs: config.values['request.timeout.ms'],
        });
        return client;
      },
    };
    try {
      await command.run(ctx);
    } finally {
      if (client !== undefined) await closeQuietly(client, out);
    }
    return ExitCode.OK;
  } catch (error) {
    return report(error, out, signal);
  }
}

/** Splits the command words off argv (see Located). */
function locate(argv: readonly string[], entries: readonly CommandEntry[]): Located {
  const words: string[] = [];
  const wordIndexes = new Set<number>();
  let helpWord = false;
  let unknownWord: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const token = argv[i]!;
    if (token === '--') break;
    if (token.startsWith('-') && token !== '-') {
      if (globalValueOptions.has(token)) i += 1;
      continue;
    }
    if (words.length === 0 && !helpWord && token === 'help') {
      helpWord = true;
      wordIndexes.add(i);
      continue;
    }
    const next = [...words, token].join(' ');
    if (entries.some((e) => e.name === next || e.name.startsWith(`${next} `))) {
      words.push(token);
      wordIndexes.add(i);
      continue;
    }
    if (!entries.some((e) => e.name === words.join(' '))) unknownWord = token;
    break;
  }
  return {
    words,
    rest: argv.filter((_, i) => !wordIndexes.has(i)),
    helpWord,
    ...(unknownWord === undefined ? {} : { unknownWord }),
  };
}

function withoutKeys(specs: OptionSpecs, taken: OptionSpecs): OptionSpecs {
  return Object.fromEntries(Object.entries(specs).filter(([key]) => !Object.hasOwn(taken, key)));
}

function flagSpecs(flags: readonly SettingFlag[]): OptionSpecs {
  return Object.fromEntries(flags.map((f) => [f.flag, f.spec]));
}

interface Parsed {
  readonly values: Readonly<Record<string, ParsedValue>>;
  readonly positionals: readonly string[];
}

/** node:util parseArgs in strict mode, with its errors turned into UsageErrors that suggest fixes. */
function parse(args: readonly string[], specs: OptionSpecs, allowPositionals: boolean, command: string): Parsed {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    config[name] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.multiple === true ? { multiple: true } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: config, strict: true, allowPositionals });
    return { values, positionals };
  } catch (error) {
    if (!(error instanceof Error) || !('code' in error) || typeof error.code !== 'string' || !error.code.startsWith('ERR_PARSE_ARGS')) throw error;
    if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'(-[^']*)'/.exec(error.message)?.[1] ?? '';
      const close = option.startsWith('--') ? suggest(option.slice(2), Object.keys(specs)) : undefined;
      const hint = close === undefined ? '' : `; did you mean '--${close}'?`;
      throw new UsageError(`unknown option '${option}'${hint}`, command);
    }
    if (error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const word = /'([^']*)'/.exec(error.message)?.[1] ?? '';
      throw new UsageError(`unexpected argument '${word}'`, command);
    }
    throw new UsageError(error.message, command);
  }
}

function commandOptions(command: AnyCommand, values: Readonly<Record<string, ParsedValue>>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(command.options)) {
    const raw = values[name];
    if (spec.type === 'boolean') {
      options[name] = raw === true;
    } else if (spec.multiple === true) {
      const list = Array.isArray(raw) ? raw.map(String) : [];
      options[name] = spec.type === 'integer' ? list.map((v) => toInteger(v, name, spec, command.name)) : list;
    } else if (typeof raw === 'string') {
      options[name] = spec.type === 'integer' ? toInteger(raw, name, spec, command.name) : raw;
    } else if (spec.default !== undefined) {
      options[name] = spec.default;
    }
  }
  return options;
}

function toInteger(text: string, name: string, spec: OptionSpec, command: string): number {
  const value = /^[+-]?\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`--${name} expects an integer, got '${text}'`, command);
  if (spec.min !== undefined && value < spec.min) throw new UsageError(`--${name} must be at least ${spec.min}, got ${value}`, command);
  if (spec.max !== undefined && value > spec.max) throw new UsageError(`--${name} must be at most ${spec.max}, got ${value}`, command);
  return value;
}

function commandArgs(command: AnyCommand, positionals: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  let index = 0;
  for (const spec of command.positionals) {
    if (spec.variadic === true) {
      const restArgs = positionals.slice(index);
      if (restArgs.length === 0 && spec.optional !== true) throw new UsageError(`missing <${spec.name}>`, command.name);
      args[spec.name] = restArgs;
      index = positionals.length;
      continue;
    }
    const value = positionals[index];
    if (value === undefined && spec.optional !== true) throw new UsageError(`missing <${spec.name}>`, command.name);
    args[spec.name] = value;
    index += 1;
  }
  if (index < positionals.length) throw new UsageError(`unexpected argument '${positionals[index]!}'`, command.name);
  return args;
}

async function resolve(values: Readonly<Record<string, ParsedValue>>, flags: readonly SettingFlag[], io: CliIo, out: Output): Promise<ResolvedConfig> {
  const flagSettings: RawSetting[] = [];
  for (const flag of flags) {
    const value = values[flag.flag];
    if (typeof value === 'string') flagSettings.push({ key: flag.key, value, origin: `--${flag.flag}` });
  }
  const sets = Array.isArray(values.set) ? values.set.map(String) : [];
  // STREAMBUS_CONFIG also names the file, which matters for commands whose own --config shadows
  // the global one (topic create --config k=v, as in kafka-topics).
  const configPath = typeof values.config === 'string' ? values.config : nonEmpty(io.env.STREAMBUS_CONFIG);
  const config = await loadConfig({ env: io.env, sets, flags: flagSettings, ...(configPath === undefined ? {} : { configPath }) });
  for (const warning of config.warnings) out.warn(warning);
  return config;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function printConfig(out: Output, config: ResolvedConfig, scope: SettingScope | undefined): void {
  const entries = describeConfig(config, scope);
  if (out.json) {
    out.writeJson({ config: entries });
    return;
  }
  out.table(
    [{ key: 'key' }, { key: 'value' }, { key: 'source' }, { key: 'note' }],
    entries.map((e) => ({
      key: e.key,
      value: formatConfigValue(e.value),
      source: e.origin === null ? e.source : `${e.source} ${e.origin}`,
      note: e.unused === null ? '' : 'not used yet',
    })),
  );
}

async function closeQuietly(client: Promise<StreamBusClient>, out: Output): Promise<void> {
  try {
    await (await client).close();
  } catch (error) {
    // Creating the client failed (already reported by run()) or closing did: nothing to undo.
    if (error instanceof Error && !(error instanceof StreamBusError)) out.warn(`closing the client failed: ${error.message}`);
  }
}

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

/** Prints an error and picks the exit code. */
function report(error: unknown, out: Output, signal: AbortSignal): ExitCode {
  if (error instanceof UsageError) {
    if (out.json) {
      printError(out, error);
    } else {
      const where = error.command === '' ? PROGRAM : `${PROGRAM} ${error.command}`;
      out.stderr.write(`error: ${error.message}\nRun '${where} --help' for usage.\n`);
    }
    return ExitCode.USAGE;
  }
  if (error instanceof InvalidConfigError) {
    printError(out, error, "Run with --print-config to see every setting and where it comes from.");
    // Only the command line was wrong: a usage error.
    return error.problems.every((p) => p.source === 'flag') ? ExitCode.USAGE : ExitCode.FAILED;
  }
  if (signal.aborted) return ExitCode.INTERRUPTED;
  if (error instanceof ReportedFailure) return ExitCode.FAILED;
  if (error instanceof StreamBusError) {
    printError(out, error);
    return ExitCode.FAILED;
  }
  const systemCode = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (systemCode !== undefined && networkCodes.has(systemCode)) {
    printError(out, new StreamBusError(ErrorCode.NETWORK_EXCEPTION, message, { cause: error }));
    return ExitCode.FAILED;
  }
  printError(out, new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `unexpected error: ${message}`, { cause: error }));
  if (!out.json && error instanceof Error && error.stack !== undefined) out.stderr.write(`${error.stack}\n`);
  return ExitCode.FAILED;
}
