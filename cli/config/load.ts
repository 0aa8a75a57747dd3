/**
 * The I/O shell around resolve.ts: reads the config file and the process environment.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InvalidConfigError, parseAssignment, parseConfigFile, resolveConfig, type RawSetting, type ResolvedConfig } from './resolve.js';

export interface LoadConfigOptions {
  /** A JSON or Java-properties file; absent: no file. */
  readonly configPath?: string;
  /** Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `key=value` texts from repeated --set flags, in command-line order. */
  readonly sets?: readonly string[];
  /** First-class flags already mapped to keys (e.g. --data-dir → data.dir); they win over --set. */
  readonly flags?: readonly RawSetting[];
}

/**
 * Reads the sources and resolves the configuration (flags > env > file > defaults).
 * Throws InvalidConfigError (INVALID_CONFIG) for an unreadable file, a malformed --set, an unknown
 * key or a bad value, naming the key, value and source of each.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const flags: RawSetting[] = [];
  for (const text of options.sets ?? []) {
    const assignment = parseAssignment(text);
    if (assignment === undefined) {
      throw new InvalidConfigError([
        { key: text, source: 'flag', origin: '--set', message: `--set expects key=value, got "${text}"` },
      ]);
    }
    flags.push({ ...assignment, origin: '--set' });
  }
  flags.push(...(options.flags ?? []));

  let file: { path: string; settings: RawSetting[] } | undefined;
  if (options.configPath !== undefined) {
    const path = options.configPath;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      const reason = cause instanceof Error && 'code' in cause ? String(cause.code) : String(cause);
      throw new InvalidConfigError([
        { key: '(file)', source: 'file', origin: path, message: `cannot read config file ${path} (${reason})` },
      ]);
    }
    file = { path, settings: parseConfigFile(text, path) };
  }

  return resolveConfig({
    ...(file === undefined ? {} : { file }),
    env: options.env ?? process.env,
    flags,
  });
}

/** A new cluster id: 16 random bytes in base64url (22 characters), the shape Kafka uses. */
export function generateClusterId(): string {
  return randomBytes(16).toString('base64url');
}
