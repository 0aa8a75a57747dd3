/**
 * The effective configuration as rows for --print-config: each setting's value, where it came from,
 * its default and documentation, with secrets redacted. Pure.
 */
import { REDACTED, type ResolvedConfig, type ConfigSource } from './resolve.js';
import { envNameOf, settingKeys, specOf, type SettingKey, type SettingScope } from './schema.js';

export type ConfigValue = string | number | boolean | null | readonly string[];

export interface ConfigEntry {
  readonly key: SettingKey;
  /** The effective value; `[redacted]` for a secret that is set. */
  readonly value: ConfigValue;
  readonly source: ConfigSource;
  /** File position, env variable or flag the value came from; null for defaults. */
  readonly origin: string | null;
  readonly default: ConfigValue;
  readonly type: string;
  readonly env: string;
  readonly secret: boolean;
  /** Why the setting is declared but not read yet; null when it is in use. */
  readonly unused: string | null;
  readonly doc: string;
}

/**
 * One entry per declared setting, in declaration order, restricted to `scope` when given.
 * Guarantees no secret value appears in the result.
 */
export function describeConfig(config: ResolvedConfig, scope?: SettingScope): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  for (const key of settingKeys) {
    const spec = specOf(key);
    if (scope !== undefined && spec.scope !== scope) continue;
    const value: ConfigValue = config.values[key];
    const origin = config.origins[key];
    const secret = spec.secret === true;
    entries.push({
      key,
      value: secret && value !== null ? REDACTED : value,
      source: origin.source,
      origin: origin.origin ?? null,
      default: spec.default,
      type: spec.type === 'enum' ? spec.values.join('|') : spec.type,
      env: envNameOf(key),
      secret,
      unused: spec.unused ?? null,
      doc: spec.doc,
    });
  }
  return entries;
}

/** A value as a person reads it in a table. */
export function formatConfigValue(value: ConfigValue): string {
  if (value === null) return '(unset)';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}
