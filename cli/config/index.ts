/**
 * The configuration system shared by the server (`streambus dev`, `broker`, `coordinator`) and the
 * command line: a declared schema of settings, resolved from flags > environment > file > defaults,
 * validated with typed INVALID_CONFIG errors, and printable with sources and secrets redacted.
 */
export {
  SettingScope,
  advertisedHost,
  envNameOf,
  envNamesOf,
  settingKeys,
  settings,
  specOf,
  topicConfigDefaults,
  type ConfigValues,
  type SettingKey,
  type SettingSpec,
  type Settings,
} from './schema.js';
export {
  ConfigSource,
  InvalidConfigError,
  REDACTED,
  canonicalKey,
  coerce,
  parseAssignment,
  parseConfigFile,
  resolveConfig,
  suggestKey,
  type ConfigInputs,
  type ConfigProblem,
  type RawSetting,
  type ResolvedConfig,
  type SettingOrigin,
} from './resolve.js';
export { describeConfig, formatConfigValue, type ConfigEntry, type ConfigValue } from './describe.js';
export { generateClusterId, loadConfig, type LoadConfigOptions } from './load.js';
export { parseProperties, type PropertiesEntry } from './properties.js';
export { editDistance, suggest } from './suggest.js';
