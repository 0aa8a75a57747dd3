/**
 * Resolves the effective configuration from its sources, in precedence order
 *
 *   flags (--set key=value, first-class flags) > environment (STREAMBUS_*) > config file > defaults
 *
 * and validates every value against the schema. Pure: the caller reads the file and passes the
 * environment in (see load.ts), which keeps precedence and validation testable without I/O.
 *
 * All problems are collected and reported together in one InvalidConfigError, so a user fixing a
 * file sees every mistake at once rather than one per restart.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { parseProperties } from './properties.js';
import {
  envNamesOf,
  settingKeys,
  settings,
  specOf,
  type ConfigValues,
  type SettingKey,
  type SettingSpec,
} from './schema.js';
import { suggest } from './suggest.js';

export const ConfigSource = { DEFAULT: 'default', FILE: 'file', ENV: 'env', FLAG: 'flag' } as const;
export type ConfigSource = (typeof ConfigSource)[keyof typeof ConfigSource];

/** One key/value pair as a source gave it, before validation. */
export interface RawSetting {
  readonly key: string;
  /** A string from properties files, env and flags; any JSON value from a JSON file. */
  readonly value: unknown;
  /** Where exactly it came from: `server.properties:12`, `STREAMBUS_NODE_ID`, `--set`. */
  readonly origin: string;
}

export interface ConfigInputs {
  readonly file?: { readonly path: string; readonly settings: readonly RawSetting[] };
  /** The process environment (or a test's). Empty values count as unset. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** In command-line order; a later flag for the same key wins. */
  readonly flags?: readonly RawSetting[];
}

export interface SettingOrigin {
  readonly source: ConfigSource;
  /** The file position, variable name or flag; absent for defaults. */
  readonly origin?: string;
}

export interface ResolvedConfig {
  readonly values: ConfigValues;
  readonly origins: { readonly [K in SettingKey]: SettingOrigin };
  /** Things worth telling the user that do not stop start-up (near-miss env names, unused keys). */
  readonly warnings: readonly string[];
}

export interface ConfigProblem {
  /** The key as written by the user (possibly unknown). */
  readonly key: string;
  /** The offending value as text, `[redacted]` for secrets; absent for unknown keys. */
  readonly value?: string;
  readonly source: ConfigSource;
  readonly origin: string;
  readonly message: string;
  readonly suggestion?: string;
}

/**
 * INVALID_CONFIG with every problem found. Each problem names the key, the value, the source and,
 * for an unknown key, the closest declared key.
 */
export class InvalidConfigError extends StreamBusError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const text =
      problems.length === 1
        ? problems[0]!.message
        : `${problems.length} configuration problems:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`;
    super(ErrorCode.INVALID_CONFIG, text);
    this.problems = problems;
  }
}

export const REDACTED = '[redacted]';

const aliasToKey: ReadonlyMap<string, SettingKey> = new Map(
  settingKeys.flatMap((key) => (specOf(key).aliases ?? []).map((alias) => [alias, key] as const)),
);
const topicConfigToKey: ReadonlyMap<string, SettingKey> = new Map(
  settingKeys.flatMap((key) => {
    const topicConfig = specOf(key).topicConfig;
    return topicConfig === undefined || topicConfig === key ? [] : [[topicConfig, key] as const];
  }),
);
const isSettingKey = (key: string): key is SettingKey => Object.hasOwn(settings, key);

/** The declared key a user-written name stands for (itself or a Kafka alias), if any. */
export function canonicalKey(name: string): SettingKey | undefined {
  if (isSettingKey(name)) return name;
  return aliasToKey.get(name);
}

/** The declared key most likely meant by an unknown name. */
export function suggestKey(name: string): string | undefined {
  const viaTopicConfig = topicConfigToKey.get(name);
  if (viaTopicConfig !== undefined) return viaTopicConfig;
  return suggest(name, [...settingKeys, ...aliasToKey.keys()]);
}

/**
 * Parses a config file's text: JSON when the path ends in .json or the text starts with '{',
 * Java properties otherwise. JSON may be flat ({"node.id": 2}) or nested ({"node": {"id": 2}}).
 * Throws InvalidConfigError for text that is not valid in its format.
 */
export function parseConfigFile(text: string, path: string): RawSetting[] {
  const looksJson = path.toLowerCase().endsWith('.json') || text.trimStart().startsWith('{');
  if (!looksJson) {
    return parseProperties(text).map((e) => ({ key: e.key, value: e.value, origin: `${path}:${e.line}` }));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new InvalidConfigError([{ key: '(file)', source: 'file', origin: path, message: `config file ${path} is not valid JSON: ${detail}` }]);
  }
  if (!isPlainObject(parsed)) {
    throw new InvalidConfigError([{ key: '(file)', source: 'file', origin: path, message: `config file ${path} must hold a JSON object of settings` }]);
  }
  const out: RawSetting[] = [];
  flatten(parsed, '', path, out);
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function flatten(object: Record<string, unknown>, prefix: string, path: string, out: RawSetting[]): void {
  for (const [name, value] of Object.entries(object)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (isPlainObject(value)) flatten(value, key, path, out);
    else out.push({ key, value, origin: path });
  }
}

/**
 * Parses one `key=value` argument of --set. Returns undefined when there is no '=' or no key.
 */
export function parseAssignment(text: string): { key: string; value: string } | undefined {
  const at = text.indexOf('=');
  if (at <= 0) return undefined;
  return { key: text.slice(0, at).trim(), value: text.slice(at + 1) };
}

/**
 * Resolves and validates. Throws InvalidConfigError listing every problem; otherwise returns every
 * key's value and where it came from.
 */
export function resolveConfig(inputs: ConfigInputs): ResolvedConfig {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const values: Record<string, unknown> = {};
  const origins: Record<string, SettingOrigin> = {};
  for (const key of settingKeys) {
    values[key] = specOf(key).default;
    origins[key] = { source: ConfigSource.DEFAULT };
  }

  const apply = (raw: RawSetting, source: ConfigSource): void => {
    const key = canonicalKey(raw.key);
    if (key === undefined) {
      const suggestion = suggestKey(raw.key);
      const hint = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
      problems.push({
        key: raw.key,
        source,
        origin: raw.origin,
        message: `unknown config key "${raw.key}" (from ${describe(source, raw.origin)})${hint}`,
        ...(suggestion === undefined ? {} : { suggestion }),
      });
      return;
    }
    const spec = specOf(key);
    const result = coerce(spec, raw.value);
    if ('error' in result) {
      const shown = spec.secret === true ? REDACTED : display(raw.value);
      const named = key === raw.key ? key : `${key} (written as ${raw.key})`;
      problems.push({
        key,
        value: shown,
        source,
        origin: raw.origin,
        message: `invalid value ${shown} for ${named} (from ${describe(source, raw.origin)}): ${result.error}`,
      });
      return;
    }
    values[key] = result.value;
    origins[key] = { source, origin: raw.origin };
  };

  for (const raw of inputs.file?.settings ?? []) apply(raw, ConfigSource.FILE);
  if (inputs.env !== undefined) applyEnv(inputs.env, (raw) => apply(raw, ConfigSource.ENV), warnings);
  for (const raw of inputs.flags ?? []) apply(raw, ConfigSource.FLAG);

  checkListenerPorts(values as ConfigValues, origins, problems);
  if (problems.length > 0) throw new InvalidConfigError(problems);

  for (const key of settingKeys) {
    const unused = specOf(key).unused;
    if (unused !== undefined && origins[key]!.source !== ConfigSource.DEFAULT) {
      warnings.push(`${key} is set but not used yet: ${unused}`);
    }
  }
  return {
    values: values as ConfigValues,
    origins: origins as ResolvedConfig['origins'],
    warnings,
  };
}

function applyEnv(env: Readonly<Record<string, string | undefined>>, apply: (raw: RawSetting) => void, warnings: string[]): void {
  // STREAMBUS_CONFIG names the config file (read by the loader's caller), not a setting.
  const known = new Set<string>(['STREAMBUS_CONFIG']);
  for (const key of settingKeys) {
    let used: { name: string; value: string } | undefined;
    for (const name of envNamesOf(key)) {
      known.add(name);
      const value = env[name];
      if (value === undefined || value === '') continue;
      if (used === undefined) used = { name, value };
      else if (used.value !== value) warnings.push(`${name} is ignored: ${used.name} is also set and takes precedence`);
    }
    if (used !== undefined) apply({ key, value: used.value, origin: used.name });
  }
  // Other STREAMBUS_* variables may belong to tools (test switches, scripts), so they are not
  // errors; only near misses of a declared name are worth a warning.
  for (const name of Object.keys(env)) {
    if (!name.startsWith('STREAMBUS_') || known.has(name)) continue;
    const close = suggest(name, known);
    if (close !== undefined) warnings.push(`environment variable ${name} is not a StreamBus setting; did you mean ${close}?`);
  }
}

/** Two listeners on the same host cannot share a fixed port; port 0 picks a free one each. */
function checkListenerPorts(values: ConfigValues, origins: Record<string, SettingOrigin>, problems: ConfigProblem[]): void {
  const listeners = (['native', 'admin'] as const).map((name) => ({
    name,
    host: values[`${name}.host`],
    port: values[`${name}.port`],
  }));
  const [a, b] = listeners as [(typeof listeners)[number], (typeof listeners)[number]];
  if (a.port !== 0 && a.port === b.port && (a.host === b.host || a.host === '0.0.0.0' || b.host === '0.0.0.0')) {
    const origin = origins[`${b.name}.port`]!;
    problems.push({
      key: `${b.name}.port`,
      value: String(b.port),
      source: origin.source,
      origin: origin.origin ?? 'default',
      message: `${a.name}.port and ${b.name}.port are both ${a.port} on ${a.host}; each listener needs its own port`,
    });
  }
}

function describe(source: ConfigSource, origin: string): string {
  switch (source) {
    case ConfigSource.FILE:
      return `file ${origin}`;
    case ConfigSource.ENV:
      return `env ${origin}`;
    case ConfigSource.FLAG:
      return `flag ${origin}`;
    default:
      return 'default';
  }
}

function display(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}

type Coerced = { readonly value: unknown } | { readonly error: string };

const hostPortPattern = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

/** Turns a raw value into the spec's type, or says what is wrong with it. */
export function coerce(spec: SettingSpec, raw: unknown): Coerced {
  switch (spec.type) {
    case 'int': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && /^[+-]?\d+$/.test(raw.trim())) n = Number(raw.trim());
      else return { error: 'expected an integer' };
      if (!Number.isSafeInteger(n)) return { error: 'expected an integer' };
      if (spec.min !== undefined && n < spec.min) return { error: rangeText(spec) };
      if (spec.max !== undefined && n > spec.max) return { error: rangeText(spec) };
      return { value: n };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { value: raw };
      if (typeof raw === 'string') {
        const lowered = raw.trim().toLowerCase();
        if (lowered === 'true') return { value: true };
        if (lowered === 'false') return { value: false };
      }
      return { error: 'expected true or false' };
    }
    case 'enum': {
      if (typeof raw === 'string') {
        const lowered = raw.trim().toLowerCase();
        const match = spec.values.find((v) => v.toLowerCase() === lowered);
        if (match !== undefined) return { value: match };
      }
      return { error: `expected one of ${spec.values.join(', ')}` };
    }
    case 'string': {
      if (raw === null || raw === '') {
        return spec.default === null ? { value: null } : { error: 'must not be empty' };
      }
      if (typeof raw !== 'string') return { error: 'expected a string' };
      return { value: raw };
    }
    case 'list': {
      let items: string[];
      if (typeof raw === 'string') items = raw.split(',');
      else if (Array.isArray(raw) && raw.every((item): item is string => typeof item === 'string')) items = [...raw];
      else return { error: 'expected a comma-separated list' };
      items = items.map((item) => item.trim()).filter((item) => item !== '');
      if (items.length === 0) return { error: 'expected at least one item' };
      if (spec.items === 'host-port') {
        for (const item of items) {
          const match = hostPortPattern.exec(item);
          const port = match === null ? Number.NaN : Number(match[2]);
          if (!(port >= 1 && port <= 65_535)) return { error: `"${item}" is not host:port` };
        }
      }
      return { value: items };
    }
  }
}

function rangeText(spec: { readonly min?: number; readonly max?: number }): string {
  if (spec.min !== undefined && spec.max !== undefined) return `expected an integer from ${spec.min} to ${spec.max}`;
  if (spec.min !== undefined) return `expected an integer of at least ${spec.min}`;
  return `expected an integer of at most ${spec.max ?? 0}`;
}
