/**
 * Per-topic configuration: the keys a topic may override, with Kafka's names, types, defaults and
 * validation, so `kafka-topics --config ...`, kafkajs `configEntries` and Terraform providers work
 * unchanged and get a clear answer when a value is wrong.
 *
 * Values travel and are stored as strings (as in Kafka's protocol); `validateTopicConfigs` turns
 * user input into canonical strings ("  1000" becomes "1000", "TRUE" becomes "true"), and
 * `resolveTopicConfig` turns the stored overrides into typed values for the broker.
 *
 * Two choices differ from Kafka on purpose:
 * - `compression.type` accepts only `producer`. The broker stores each batch exactly as the producer
 *   built it (DESIGN.md decision 1: no re-encoding on the hot path), so a topic-level codec that
 *   the broker would have to recompress into cannot be honoured. Rejecting it is better than
 *   accepting a setting that silently does nothing.
 * - `segment.bytes` and `segment.ms` are accepted and validated with Kafka's bounds, stored and
 *   described, but have no effect: LevelDB has no segment files, and retention and compaction act
 *   on batches directly. They are accepted because tools and infrastructure-as-code routinely set
 *   or copy them (mirroring, migrations), and a refusal would break those flows while protecting
 *   nobody; their documentation string says plainly that they do nothing.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

/** The value types of Kafka's ConfigDef that topic configs use. */
export const TopicConfigType = {
  BOOLEAN: 'boolean',
  INT: 'int',
  LONG: 'long',
  DOUBLE: 'double',
  STRING: 'string',
  LIST: 'list',
} as const;
export type TopicConfigType = (typeof TopicConfigType)[keyof typeof TopicConfigType];

/** Where a described value comes from: the built-in default, a broker-wide default, or the topic. */
export const TopicConfigSource = { DEFAULT: 'default', BROKER: 'broker', TOPIC: 'topic' } as const;
export type TopicConfigSource = (typeof TopicConfigSource)[keyof typeof TopicConfigSource];

export type TimestampType = 'CreateTime' | 'LogAppendTime';

/**
 * How the broker's schema-id validation names the subject a record's schema must be registered
 * under (Confluent's `confluent.*.subject.name.strategy`): `<topic>-key|value`, the record's full
 * name, or `<topic>-<full name>`. Confluent's fully qualified class names are accepted too and
 * stored in this short form.
 */
export type SubjectNameStrategyName = 'TopicNameStrategy' | 'RecordNameStrategy' | 'TopicRecordNameStrategy';

type Parsed<T> =
  | { readonly ok: true; readonly canonical: string; readonly value: T }
  | { readonly ok: false; readonly reason: string };

interface Definition<T> {
  readonly type: TopicConfigType;
  readonly defaultValue: string;
  /**
   * A read-only key cannot be changed from its default: requests may still name it with the default
   * value (tools that echo back a whole config keep working), and describe reports it as read-only.
   */
  readonly readOnly: boolean;
  readonly documentation: string;
  readonly parse: (raw: string) => Parsed<T>;
}

/** The public description of one topic config key. */
export interface TopicConfigDefinition {
  readonly name: string;
  readonly type: TopicConfigType;
  readonly defaultValue: string;
  readonly readOnly: boolean;
  readonly documentation: string;
}

/** One described config value of a topic, as DescribeConfigs returns it. */
export interface TopicConfigEntry {
  readonly name: string;
  readonly value: string;
  readonly source: TopicConfigSource;
  readonly readOnly: boolean;
  /** Always false today: no topic config holds a secret. Kept because the wire format carries it. */
  readonly sensitive: boolean;
  readonly type: TopicConfigType;
  readonly documentation: string;
}

/** Typed topic configuration: the overrides merged over the defaults. */
export interface ResolvedTopicConfig {
  /** cleanup.policy contains `delete`: old batches are removed by time and size. */
  readonly cleanupDelete: boolean;
  /** cleanup.policy contains `compact`: only the latest record per key is kept. */
  readonly cleanupCompact: boolean;
  /** -1: no time limit. */
  readonly retentionMs: number;
  /** -1: no size limit. Per partition. */
  readonly retentionBytes: number;
  readonly deleteRetentionMs: number;
  readonly minCompactionLagMs: number;
  /** Number.MAX_SAFE_INTEGER stands for Kafka's Long.MAX_VALUE (no limit). */
  readonly maxCompactionLagMs: number;
  readonly minCleanableDirtyRatio: number;
  readonly maxMessageBytes: number;
  readonly minInsyncReplicas: number;
  readonly timestampType: TimestampType;
  readonly compressionType: 'producer';
  readonly uncleanLeaderElectionEnable: boolean;
  /** Accepted for compatibility; has no effect. */
  readonly segmentBytes: number;
  /** Accepted for compatibility; has no effect. */
  readonly segmentMs: number;
  /** confluent.key.schema.validation: produced keys must carry a schema id registered under the key subject. */
  readonly keySchemaValidation: boolean;
  /** confluent.value.schema.validation: produced values must carry a schema id registered under the value subject. */
  readonly valueSchemaValidation: boolean;
  readonly keySubjectNameStrategy: SubjectNameStrategyName;
  readonly valueSubjectNameStrategy: SubjectNameStrategyName;
}

// ---- Parsers. Each trims surrounding whitespace (as Kafka's ConfigDef does) and returns the
// canonical text that is stored and described.

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const WHOLE_NUMBER = /^[+-]?\d+$/;

function fail(reason: string): Parsed<never> {
  return { ok: false, reason };
}

/**
 * A 64-bit integer at least `min`. Values beyond 2^53 (people write Long.MAX_VALUE to mean "forever")
 * are kept exactly in the canonical text and clamp to Number.MAX_SAFE_INTEGER in the typed value,
 * which is just as unbounded for millisecond and byte counts.
 */
function longAtLeast(min: number, hint = ''): (raw: string) => Parsed<number> {
  return (raw) => {
    const text = raw.trim();
    if (!WHOLE_NUMBER.test(text)) return fail(`must be a whole number${hint}`);
    const big = BigInt(text);
    if (big < INT64_MIN || big > INT64_MAX) return fail('is outside the 64-bit integer range');
    if (big < BigInt(min)) return fail(`must be at least ${min}${hint}`);
    const clamped = big > SAFE_MAX ? SAFE_MAX : big < -SAFE_MAX ? -SAFE_MAX : big;
    return { ok: true, canonical: big.toString(), value: Number(clamped) };
  };
}

function intAtLeast(min: number, hint = ''): (raw: string) => Parsed<number> {
  return (raw) => {
    const text = raw.trim();
    if (!WHOLE_NUMBER.test(text)) return fail(`must be a whole number${hint}`);
    const value = Number(text);
    if (value < INT32_MIN || value > INT32_MAX) return fail(`is outside the 32-bit integer range (at most ${INT32_MAX})`);
    if (value < min) return fail(`must be at least ${min}${hint}`);
    return { ok: true, canonical: String(value), value };
  };
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function doubleBetween(min: number, max: number): (raw: string) => Parsed<number> {
  return (raw) => {
    const text = raw.trim();
    if (!DECIMAL.test(text)) return fail('must be a decimal number');
    const value = Number(text);
    if (!(value >= min && value <= max)) return fail(`must be between ${min} and ${max}`);
    return { ok: true, canonical: String(value), value };
  };
}

function parseBoolean(raw: string): Parsed<boolean> {
  const text = raw.trim().toLowerCase();
  if (text === 'true') return { ok: true, canonical: 'true', value: true };
  if (text === 'false') return { ok: true, canonical: 'false', value: false };
  return fail('must be true or false');
}

function oneOf<T extends string>(allowed: readonly T[], caseInsensitive: boolean): (raw: string) => Parsed<T> {
  return (raw) => {
    const text = raw.trim();
    const found = allowed.find((a) => (caseInsensitive ? a.toLowerCase() === text.toLowerCase() : a === text));
    if (found !== undefined) return { ok: true, canonical: found, value: found };
    const near = allowed.find((a) => a.toLowerCase() === text.toLowerCase());
    const hint = near !== undefined ? ` (values are case-sensitive: did you mean '${near}'?)` : '';
    return fail(`must be one of ${allowed.map((a) => `'${a}'`).join(', ')}${hint}`);
  };
}

function parseCleanupPolicy(raw: string): Parsed<{ readonly delete: boolean; readonly compact: boolean }> {
  const items = raw.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) {
    return fail("must be 'delete', 'compact' or both separated by a comma (e.g. 'compact,delete'), with no empty items");
  }
  const seen = new Set<string>();
  for (const item of items) {
    if (item !== 'delete' && item !== 'compact') {
      const hint = item.toLowerCase() === 'delete' || item.toLowerCase() === 'compact' ? ' (values are lower case)' : '';
      return fail(`contains '${item}'; the policies are 'delete' and 'compact'${hint}`);
    }
    if (seen.has(item)) return fail(`names '${item}' twice`);
    seen.add(item);
  }
  return { ok: true, canonical: items.join(','), value: { delete: seen.has('delete'), compact: seen.has('compact') } };
}

function parseCompressionType(raw: string): Parsed<'producer'> {
  const text = raw.trim().toLowerCase();
  if (text === 'producer') return { ok: true, canonical: 'producer', value: 'producer' };
  return fail(
    "is not supported: StreamBus stores every batch exactly as the producer compressed it and never " +
      "recompresses on the broker, so the only accepted value is 'producer'; choose the codec in the producer instead",
  );
}

const SUBJECT_STRATEGIES: readonly SubjectNameStrategyName[] = ['TopicNameStrategy', 'RecordNameStrategy', 'TopicRecordNameStrategy'];
const CONFLUENT_STRATEGY_PACKAGE = 'io.confluent.kafka.serializers.subject.';

function parseSubjectNameStrategy(raw: string): Parsed<SubjectNameStrategyName> {
  const text = raw.trim();
  const short = text.startsWith(CONFLUENT_STRATEGY_PACKAGE) ? text.slice(CONFLUENT_STRATEGY_PACKAGE.length) : text;
  const found = SUBJECT_STRATEGIES.find((name) => name === short);
  if (found !== undefined) return { ok: true, canonical: found, value: found };
  return fail(`must be one of ${SUBJECT_STRATEGIES.map((name) => `'${name}'`).join(', ')} (optionally prefixed with '${CONFLUENT_STRATEGY_PACKAGE}')`);
}

function define<T>(definition: Definition<T>): Definition<T> {
  // Assert at load time that every default passes its own validation.
  const parsed = definition.parse(definition.defaultValue);
  if (!parsed.ok || parsed.canonical !== definition.defaultValue) {
    throw new Error(`topic config default ${definition.defaultValue} is not canonical`);
  }
  return definition;
}

const definitions = {
  'cleanup.policy': define({
    type: TopicConfigType.LIST,
    defaultValue: 'delete',
    readOnly: false,
    documentation:
      "'delete' removes old batches once they pass retention.ms or retention.bytes; 'compact' keeps the " +
      "latest record for each key; 'compact,delete' does both.",
    parse: parseCleanupPolicy,
  }),
  'retention.ms': define({
    type: TopicConfigType.LONG,
    defaultValue: '604800000',
    readOnly: false,
    documentation: 'How long a batch is kept before it may be deleted (cleanup.policy delete). -1: no time limit.',
    parse: longAtLeast(-1, ' (use -1 for no time limit)'),
  }),
  'retention.bytes': define({
    type: TopicConfigType.LONG,
    defaultValue: '-1',
    readOnly: false,
    documentation:
      'The most bytes a partition keeps before the oldest batches may be deleted (cleanup.policy delete). -1: no size limit.',
    parse: longAtLeast(-1, ' (use -1 for no size limit)'),
  }),
  'delete.retention.ms': define({
    type: TopicConfigType.LONG,
    defaultValue: '86400000',
    readOnly: false,
    documentation:
      'How long compaction keeps a tombstone (a record with a null value), so consumers that read slowly still see the delete.',
    parse: longAtLeast(0),
  }),
  'min.compaction.lag.ms': define({
    type: TopicConfigType.LONG,
    defaultValue: '0',
    readOnly: false,
    documentation: 'The minimum age a record must reach before compaction may remove it.',
    parse: longAtLeast(0),
  }),
  'max.compaction.lag.ms': define({
    type: TopicConfigType.LONG,
    defaultValue: '9223372036854775807',
    readOnly: false,
    documentation: 'The maximum time a record may stay uncompacted once it is eligible. The default means no limit.',
    parse: longAtLeast(1),
  }),
  'min.cleanable.dirty.ratio': define({
    type: TopicConfigType.DOUBLE,
    defaultValue: '0.5',
    readOnly: false,
    documentation: 'Compaction starts once this fraction of a partition has not been compacted yet.',
    parse: doubleBetween(0, 1),
  }),
  'max.message.bytes': define({
    type: TopicConfigType.INT,
    defaultValue: '1048588',
    readOnly: false,
    documentation:
      'The largest record batch (after the producer compressed it) the topic accepts; larger batches fail with MESSAGE_TOO_LARGE.',
    parse: intAtLeast(0),
  }),
  'min.insync.replicas': define({
    type: TopicConfigType.INT,
    defaultValue: '1',
    readOnly: false,
    documentation:
      'With acks=all, the least number of in-sync replicas that must have a batch before the produce succeeds; ' +
      'fewer fail with NOT_ENOUGH_REPLICAS.',
    parse: intAtLeast(1),
  }),
  'message.timestamp.type': define<TimestampType>({
    type: TopicConfigType.STRING,
    defaultValue: 'CreateTime',
    readOnly: false,
    documentation:
      "'CreateTime' keeps the timestamp the producer set; 'LogAppendTime' replaces it with the broker's time when the batch is appended.",
    parse: oneOf<TimestampType>(['CreateTime', 'LogAppendTime'], false),
  }),
  'compression.type': define<'producer'>({
    type: TopicConfigType.STRING,
    defaultValue: 'producer',
    readOnly: true,
    documentation:
      "Always 'producer': batches are stored as the producer compressed them; the broker never recompresses.",
    parse: parseCompressionType,
  }),
  'unclean.leader.election.enable': define({
    type: TopicConfigType.BOOLEAN,
    defaultValue: 'false',
    readOnly: false,
    documentation:
      'Whether a replica outside the in-sync set may become leader when no in-sync replica is alive; true favours availability over committed data.',
    parse: parseBoolean,
  }),
  'segment.bytes': define({
    type: TopicConfigType.INT,
    defaultValue: '1073741824',
    readOnly: false,
    documentation:
      'Accepted for compatibility with Kafka tools; has no effect. StreamBus stores batches in LevelDB, which has no segment files.',
    parse: intAtLeast(14),
  }),
  'segment.ms': define({
    type: TopicConfigType.LONG,
    defaultValue: '604800000',
    readOnly: false,
    documentation:
      'Accepted for compatibility with Kafka tools; has no effect. StreamBus stores batches in LevelDB, which has no segment files to roll.',
    parse: longAtLeast(1),
  }),
  'confluent.key.schema.validation': define({
    type: TopicConfigType.BOOLEAN,
    defaultValue: 'false',
    readOnly: false,
    documentation:
      'When true, every produced record with a key must carry the schema registry wire format (magic byte 0 and a schema id) ' +
      'with an id registered under the key subject; otherwise the batch fails with INVALID_RECORD. Null keys pass.',
    parse: parseBoolean,
  }),
  'confluent.value.schema.validation': define({
    type: TopicConfigType.BOOLEAN,
    defaultValue: 'false',
    readOnly: false,
    documentation:
      'When true, every produced record value must carry the schema registry wire format (magic byte 0 and a schema id) ' +
      'with an id registered under the value subject; otherwise the batch fails with INVALID_RECORD. Tombstones (null values) pass.',
    parse: parseBoolean,
  }),
  'confluent.key.subject.name.strategy': define<SubjectNameStrategyName>({
    type: TopicConfigType.STRING,
    defaultValue: 'TopicNameStrategy',
    readOnly: false,
    documentation:
      "The subject key schema ids are checked against: 'TopicNameStrategy' (<topic>-key), 'RecordNameStrategy' (the record's full name) " +
      "or 'TopicRecordNameStrategy' (<topic>-<full name>).",
    parse: parseSubjectNameStrategy,
  }),
  'confluent.value.subject.name.strategy': define<SubjectNameStrategyName>({
    type: TopicConfigType.STRING,
    defaultValue: 'TopicNameStrategy',
    readOnly: false,
    documentation:
      "The subject value schema ids are checked against: 'TopicNameStrategy' (<topic>-value), 'RecordNameStrategy' (the record's full name) " +
      "or 'TopicRecordNameStrategy' (<topic>-<full name>).",
    parse: parseSubjectNameStrategy,
  }),
} as const;

export type TopicConfigName = keyof typeof definitions;

type ValueOf<K extends TopicConfigName> = (typeof definitions)[K] extends Definition<infer T> ? T : never;

const names = (Object.keys(definitions) as TopicConfigName[]).sort();

/** Every topic config key StreamBus knows, sorted by name. */
export const topicConfigDefinitions: readonly TopicConfigDefinition[] = Object.freeze(
  names.map((name) => {
    const { type, defaultValue, readOnly, documentation } = definitions[name];
    return Object.freeze({ name, type, defaultValue, readOnly, documentation });
  }),
);

export function isTopicConfigName(key: string): key is TopicConfigName {
  return Object.prototype.hasOwnProperty.call(definitions, key);
}

// ---- "Did you mean": broker-level names people paste by mistake, then edit distance.

/** Kafka broker settings whose topic-level counterpart has another name. */
const brokerSynonyms: Readonly<Record<string, string>> = {
  'log.cleanup.policy': 'cleanup.policy',
  'log.retention.ms': 'retention.ms',
  'log.retention.minutes': 'retention.ms',
  'log.retention.hours': 'retention.ms',
  'log.retention.bytes': 'retention.bytes',
  'log.cleaner.delete.retention.ms': 'delete.retention.ms',
  'log.cleaner.min.compaction.lag.ms': 'min.compaction.lag.ms',
  'log.cleaner.max.compaction.lag.ms': 'max.compaction.lag.ms',
  'log.cleaner.min.cleanable.ratio': 'min.cleanable.dirty.ratio',
  'message.max.bytes': 'max.message.bytes',
  'log.message.timestamp.type': 'message.timestamp.type',
  'log.segment.bytes': 'segment.bytes',
  'log.roll.ms': 'segment.ms',
  'log.roll.hours': 'segment.ms',
  'retention.minutes': 'retention.ms',
  'retention.hours': 'retention.ms',
};

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known key an unknown one most likely meant, or undefined when nothing is close. */
export function suggestTopicConfigName(key: string): TopicConfigName | undefined {
  const normalized = key.trim().toLowerCase().replaceAll('_', '.').replaceAll('-', '.');
  if (isTopicConfigName(normalized)) return normalized;
  const synonym = brokerSynonyms[normalized];
  if (synonym !== undefined && isTopicConfigName(synonym)) return synonym;
  let best: TopicConfigName | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const distance = editDistance(normalized, name);
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  // A third of the length keeps 'retention.msx' → 'retention.ms' but not 'foo' → 'segment.ms'.
  return bestDistance <= Math.max(2, Math.floor(normalized.length / 3)) ? best : undefined;
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/**
 * Why `key` is not a topic config key (with a "did you mean" when one is close), or undefined when
 * it is one. `value`, when given, is quoted in the message.
 */
export function topicConfigKeyProblem(key: string, value?: unknown): string | undefined {
  if (isTopicConfigName(key)) return undefined;
  const suggestion = suggestTopicConfigName(key);
  const unit = /\.(hours|minutes)$/.test(key) ? ' (topic configs take milliseconds)' : '';
  const hint = suggestion !== undefined ? `; did you mean '${suggestion}'${unit}?` : '';
  const shown = value === undefined ? '' : ` (value ${describeValue(value)})`;
  return `unknown topic config '${key}'${shown}${hint}`;
}

function problemWith(key: string, raw: unknown): { readonly canonical?: string; readonly problem?: string } {
  if (!isTopicConfigName(key)) return { problem: topicConfigKeyProblem(key, raw) ?? key };
  if (typeof raw !== 'string') return { problem: `${key}=${describeValue(raw)}: the value must be a string` };
  const definition: Definition<unknown> = definitions[key];
  const parsed = definition.parse(raw);
  if (!parsed.ok) return { problem: `${key}='${raw}' is invalid: the value ${parsed.reason}` };
  if (definition.readOnly && parsed.canonical !== definition.defaultValue) {
    return { problem: `${key}='${raw}' is invalid: ${key} is read-only and stays '${definition.defaultValue}'` };
  }
  return { canonical: parsed.canonical };
}

/**
 * Validates topic config overrides and returns them in canonical form (trimmed, canonical numbers
 * and booleans), which is what gets stored. Throws StreamBusError INVALID_CONFIG naming every bad
 * key, its value and why; unknown keys get a "did you mean" suggestion when one is close.
 */
export function validateTopicConfigs(entries: Readonly<Record<string, string>>): Record<string, string> {
  if (typeof entries !== 'object' || entries === null) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'topic configs must be an object of key → string value');
  }
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const key of Object.keys(entries).sort()) {
    const { canonical, problem } = problemWith(key, (entries as Record<string, unknown>)[key]);
    if (problem !== undefined) problems.push(problem);
    else if (canonical !== undefined) out[key] = canonical;
  }
  if (problems.length > 0) throw new StreamBusError(ErrorCode.INVALID_CONFIG, problems.join('; '));
  return out;
}

function own(record: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/**
 * Describes every topic config key: the topic's override when it sets one, else the broker-wide
 * default when `brokerDefaults` has one (keyed by the topic-level name, e.g. a broker's
 * log.retention.ms given as 'retention.ms'), else the built-in default. Both records must already
 * be valid and canonical (validateTopicConfigs); entries are sorted by name.
 */
export function describeTopicConfigs(
  overrides: Readonly<Record<string, string>>,
  brokerDefaults: Readonly<Record<string, string>> = {},
): TopicConfigEntry[] {
  return names.map((name) => {
    const { type, defaultValue, readOnly, documentation } = definitions[name];
    const override = own(overrides, name);
    const brokerDefault = own(brokerDefaults, name);
    return {
      name,
      value: override ?? brokerDefault ?? defaultValue,
      source:
        override !== undefined
          ? TopicConfigSource.TOPIC
          : brokerDefault !== undefined
            ? TopicConfigSource.BROKER
            : TopicConfigSource.DEFAULT,
      readOnly,
      sensitive: false,
      type,
      documentation,
    };
  });
}

/**
 * The typed configuration of a topic: its overrides over the broker-wide defaults (same keys as
 * describeTopicConfigs) over the built-in defaults. Throws INVALID_CONFIG if a value is invalid
 * (stored overrides never are: they were validated before being logged).
 */
export function resolveTopicConfig(
  overrides: Readonly<Record<string, string>>,
  brokerDefaults: Readonly<Record<string, string>> = {},
): ResolvedTopicConfig {
  const valid = { ...validateTopicConfigs(brokerDefaults), ...validateTopicConfigs(overrides) };
  function value<K extends TopicConfigName>(name: K): ValueOf<K> {
    const definition = definitions[name] as Definition<ValueOf<K>>;
    const parsed = definition.parse(valid[name] ?? definition.defaultValue);
    if (!parsed.ok) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name}: ${parsed.reason}`);
    return parsed.value;
  }
  const cleanup = value('cleanup.policy');
  return {
    cleanupDelete: cleanup.delete,
    cleanupCompact: cleanup.compact,
    retentionMs: value('retention.ms'),
    retentionBytes: value('retention.bytes'),
    deleteRetentionMs: value('delete.retention.ms'),
    minCompactionLagMs: value('min.compaction.lag.ms'),
    maxCompactionLagMs: value('max.compaction.lag.ms'),
    minCleanableDirtyRatio: value('min.cleanable.dirty.ratio'),
    maxMessageBytes: value('max.message.bytes'),
    minInsyncReplicas: value('min.insync.replicas'),
    timestampType: value('message.timestamp.type'),
    compressionType: value('compression.type'),
    uncleanLeaderElectionEnable: value('unclean.leader.election.enable'),
    segmentBytes: value('segment.bytes'),
    segmentMs: value('segment.ms'),
    keySchemaValidation: value('confluent.key.schema.validation'),
    valueSchemaValidation: value('confluent.value.schema.validation'),
    keySubjectNameStrategy: value('confluent.key.subject.name.strategy'),
    valueSubjectNameStrategy: value('confluent.value.subject.name.strategy'),
  };
}
