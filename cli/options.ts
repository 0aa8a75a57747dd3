/**
 * Options every command accepts, and the first-class flags derived from the settings schema
 * (a setting with `flag: 'data-dir'` becomes `--data-dir <value>`).
 */
import type { OptionSpec, OptionSpecs } from './command.js';
import { envNameOf, formatConfigValue, settingKeys, specOf, type SettingKey, type SettingScope } from './config/index.js';

export const globalOptions = {
  json: { type: 'boolean', description: 'Machine-readable output: complete JSON objects (one per line for streams); errors as {"error": {...}}' },
  config: { type: 'string', valueName: 'file', description: 'Read settings from a JSON or Java .properties file (or env STREAMBUS_CONFIG)' },
  set: { type: 'string', short: 'X', multiple: true, valueName: 'key=value', description: 'Override any setting (see --print-config for the keys)' },
  'print-config': { type: 'boolean', description: 'Print every effective setting with its source (secrets redacted) and exit' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
  version: { type: 'boolean', description: 'Print the version and exit' },
} as const satisfies OptionSpecs;

/** A flag that sets a setting, e.g. --data-dir → data.dir. */
export interface SettingFlag {
  readonly flag: string;
  readonly key: SettingKey;
  readonly spec: OptionSpec;
}

const shortFlags: Readonly<Record<string, string>> = { brokers: 'b' };

/**
 * The first-class flags of the settings in `scope`. Client-scope flags (--brokers) are accepted
 * by every command; server-scope ones only by server commands.
 */
export function settingFlags(scope: SettingScope): SettingFlag[] {
  const flags: SettingFlag[] = [];
  for (const key of settingKeys) {
    const spec = specOf(key);
    if (spec.flag === undefined || spec.scope !== scope) continue;
    const short = shortFlags[spec.flag];
    flags.push({
      flag: spec.flag,
      key,
      spec: {
        type: 'string',
        valueName: spec.type === 'list' ? 'host:port,...' : spec.type === 'enum' ? spec.values.join('|') : spec.type === 'int' ? 'n' : 'value',
        description: `${firstSentence(spec.doc)} (setting ${key}; default ${formatConfigValue(spec.default)}; env ${envNameOf(key)})`,
        ...(short === undefined ? {} : { short }),
      },
    });
  }
  return flags;
}

function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  return end < 0 ? text : text.slice(0, end);
}
