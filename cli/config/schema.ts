/**
 * The declared settings of StreamBus: every key the server (`streambus dev`, later `broker` and
 * `coordinator`) and the command line read, with its type, default, documentation and where else
 * it may come from. Nothing reads a setting that is not declared here, so `--print-config`, the
 * "did you mean" suggestions and docs/configuration.md cannot drift from what the code uses.
 *
 * Keys are lower-case words joined by dots; where Kafka has a broker setting for the same thing we
 * use Kafka's name (num.partitions, log.retention.ms...) so a server.properties reads naturally.
 * Each key has one environment form: `STREAMBUS_` + the key upper-cased with '.' turned into '_'
 * (node.id → STREAMBUS_NODE_ID). Keys never contain '_' or '-', which keeps that mapping one to one.
 *
 * This module is pure: no I/O, no clock.
 */

/** Who reads a setting: the server process, or the command-line client. */
export const SettingScope = { SERVER: 'server', CLIENT: 'client' } as const;
export type SettingScope = (typeof SettingScope)[keyof typeof SettingScope];

interface BaseSpec {
  readonly doc: string;
  readonly scope: SettingScope;
  /** Never printed: --print-config and error messages show `[redacted]`. */
  readonly secret?: boolean;
  /** Declared so files that carry it validate, but nothing reads it yet; the text says why. */
  readonly unused?: string;
  /** Other key names accepted in files and --set (Kafka's names for the same setting). */
  readonly aliases?: readonly string[];
  /** Extra environment variable names accepted besides the derived one. */
  readonly envAliases?: readonly string[];
  /** A first-class command-line flag for this setting (without the leading dashes). */
  readonly flag?: string;
  /** For broker-wide defaults of topic configs: the topic-level config name. */
  readonly topicConfig?: string;
}

export interface IntSpec extends BaseSpec {
  readonly type: 'int';
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}
export interface StringSpec extends BaseSpec {
  readonly type: 'string';
  /** null: unset unless configured (the doc says what happens then). */
  readonly default: string | null;
}
export interface BooleanSpec extends BaseSpec {
  readonly type: 'boolean';
  readonly default: boolean;
}
export interface EnumSpec extends BaseSpec {
  readonly type: 'enum';
  readonly values: readonly string[];
  readonly default: string;
}
export interface ListSpec extends BaseSpec {
  readonly type: 'list';
  readonly default: readonly string[];
  /** Each item must be host:port. */
  readonly items?: 'host-port';
}
export type SettingSpec = IntSpec | StringSpec | BooleanSpec | EnumSpec | ListSpec;

const MIB = 1024 * 1024;
const PORT = { min: 0, max: 65_535 } as const;

/** Every setting, in the order --print-config and the docs list them. */
export const settings = {
  // ---- Identity and storage.
  'node.id': {
    type: 'int', default: 1, min: 0, max: 2_147_483_647, scope: 'server', aliases: ['broker.id'], flag: 'node-id',
    doc: 'This node\'s id in the cluster; unique per node and never reused.',
  },
  'cluster.id': {
    type: 'string', default: null, scope: 'server',
    doc: 'The cluster id. Unset: `streambus dev` generates one on first start and keeps it in <data.dir>/meta.properties; `streambus coordinator` needs it on a new data directory (the same on every node of a group). A node refuses to start on data from another cluster.',
  },
  'data.dir': {
    type: 'string', default: './data', scope: 'server', aliases: ['log.dirs', 'log.dir'], flag: 'data-dir',
    doc: 'Directory holding this node\'s LevelDB database and metadata.',
  },

  // ---- Listeners. Each has a bind host and port and the host it advertises to clients.
  'native.host': { type: 'string', default: '127.0.0.1', scope: 'server', doc: 'Bind address of the native protocol listener.' },
  'native.port': { type: 'int', default: 9093, ...PORT, scope: 'server', doc: 'Port of the native protocol listener (0 picks a free port).' },
  'native.advertised.host': {
    type: 'string', default: null, scope: 'server',
    doc: 'Host clients are told to connect to for the native listener. Unset: native.host, or this machine\'s host name when that is a wildcard address.',
  },
  'kafka.host': {
    type: 'string', default: 'localhost', scope: 'server',
    doc: 'Bind address of the Kafka wire-protocol listener. localhost binds both 127.0.0.1 and ::1, so Kafka clients reach it whichever way they resolve localhost.',
  },
  'kafka.port': { type: 'int', default: 9092, ...PORT, scope: 'server', doc: 'Port of the Kafka wire-protocol listener (0 picks a free port).' },
  'kafka.advertised.host': {
    type: 'string', default: null, scope: 'server',
    doc: 'Host Kafka clients are told to connect to (in Metadata answers). Unset: kafka.host, or the host name for a wildcard address.',
  },
  'kafka.advertised.port': {
    type: 'int', default: 0, ...PORT, scope: 'server',
    doc: 'Port Kafka clients are told to connect to (behind a port mapping, say). 0: the bound port.',
  },
  'admin.host': { type: 'string', default: '127.0.0.1', scope: 'server', doc: 'Bind address of the HTTP admin server (/metrics, /livez, /readyz). Keep it on localhost unless admin.auth.token is set.' },
  'admin.port': { type: 'int', default: 9644, ...PORT, scope: 'server', doc: 'Port of the HTTP admin server (0 picks a free port).' },
  'admin.advertised.host': {
    type: 'string', default: null, scope: 'server',
    doc: 'Host printed for the admin server. Unset: admin.host, or the host name for a wildcard address.',
  },
  'raft.host': {
    type: 'string', default: '127.0.0.1', scope: 'server',
    doc: 'Bind address of the coordinator\'s Raft listener, where coordinator nodes replicate the metadata log between them.',
  },
  'raft.port': {
    type: 'int', default: 9095, ...PORT, scope: 'server',
    doc: 'Port of the Raft listener. A coordinator of a group needs the fixed port its peers know (its entry in coordinator.voters); 0 picks a free one, which suits `streambus dev` (a group of one).',
  },
  'raft.advertised.host': {
    type: 'string', default: null, scope: 'server',
    doc: 'Host a coordinator records as its Raft address (with its Raft port), where its peers dial it. Needed when raft.host is a wildcard and the node is not among coordinator.voters (a node added later); for a founding voter keep it to the name its voters entry gives. Unset: its coordinator.voters entry, else raft.host, or the host name when that is a wildcard address.',
  },
  'coordinator.host': {
    type: 'string', default: '127.0.0.1', scope: 'server',
    doc: 'Bind address of `streambus coordinator`\'s API listener (coordinator status, metadata fetch, broker registration and heartbeats, membership, topic administration). `streambus dev` serves these APIs on its native port.',
  },
  'coordinator.port': { type: 'int', default: 9094, ...PORT, scope: 'server', doc: 'Port of the coordinator API listener (0 picks a free one).' },
  'coordinator.advertised.host': {
    type: 'string', default: null, scope: 'server',
    doc: 'Host a coordinator records as its API address (with its API port): brokers and the cluster commands are sent there when it leads. Unset: coordinator.host, or the host name when that is a wildcard address.',
  },
  'coordinator.voters': {
    type: 'string', default: null, scope: 'server',
    doc: 'The founding voters of the coordinator group and their Raft addresses, id@host:port comma-separated (like KRaft\'s controller.quorum.voters): 1@127.0.0.1:9095,2@127.0.0.2:9095,3@127.0.0.3:9095. Read on a new data directory only; later the group\'s membership lives in its log. A node not listed starts empty and waits to be added (`streambus cluster members add`). Unset: a group of this node alone.',
  },
  'schema.registry.enable': {
    type: 'boolean', default: true, scope: 'server',
    doc: 'Serve the Confluent-compatible schema registry REST API (docs/schema-registry.md) from `streambus dev` and each `streambus coordinator`.',
  },
  'schema.registry.host': { type: 'string', default: '127.0.0.1', scope: 'server', doc: 'Bind address of the schema registry REST API.' },
  'schema.registry.port': { type: 'int', default: 8081, ...PORT, scope: 'server', doc: 'Port of the schema registry REST API (Confluent\'s default 8081; 0 picks a free port).' },
  'schema.registry.advertised.host': {
    type: 'string', default: null, scope: 'server',
    doc: 'Host a coordinator records as its schema registry address (with its port); followers forward writes there when it leads. Unset: schema.registry.host, or the host name when that is a wildcard address.',
  },
  'schema.registry.incompatible.error.code': {
    type: 'enum', values: ['409', '40901'], default: '409', scope: 'server',
    doc: 'The error_code in the body of an incompatible registration (HTTP 409 either way): 409 as Karapace and Confluent before 8.1, or 40901 as Confluent 8.1 and later.',
  },
  'admin.auth.token': {
    type: 'string', default: null, scope: 'server', secret: true,
    doc: 'When set, /metrics and every admin endpoint except /livez and /readyz require `Authorization: Bearer <token>`.',
  },

  // ---- Logging.
  'log.level': {
    type: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', scope: 'server', flag: 'log-level',
    doc: 'Least severe log level written.',
  },
  'log.format': {
    type: 'enum', values: ['auto', 'json', 'compact'], default: 'auto', scope: 'server',
    doc: 'json: one JSON object per line (pino). compact: one readable line per entry. auto: compact when stdout is a terminal, json otherwise.',
  },

  // ---- Durability and limits.
  durability: {
    type: 'enum', values: ['group', 'sync', 'interval'], default: 'group', scope: 'server',
    doc: 'When writes reach the disk: sync (fsync each write before acknowledging), group (one fsync covers the writes that arrived meanwhile; nothing is acknowledged before it), interval (writes are acknowledged before fsync, which runs every durability.interval.ms: a killed process loses nothing, but power loss or an OS crash can lose the last interval of acknowledged writes).',
  },
  'durability.interval.ms': { type: 'int', default: 1000, min: 1, max: 3_600_000, scope: 'server', doc: 'Fsync period when durability=interval.' },
  'max.frame.bytes': { type: 'int', default: 64 * MIB + 1024, min: 1024, max: 1024 * MIB, scope: 'server', doc: 'Largest frame the server accepts on the native and Kafka listeners; a larger frame closes the connection (native: with FRAME_TOO_LARGE).' },
  'max.in.flight.per.connection': { type: 'int', default: 32, min: 1, max: 10_000, scope: 'server', doc: 'Requests a connection (native or Kafka) may have outstanding; beyond this the server stops reading from that connection until responses go out (backpressure, not an error).' },
  'log.tail.cache.bytes': {
    type: 'int', default: 64 * MIB, min: 0, max: 64 * 1024 * MIB, scope: 'server',
    doc: 'Memory for the newest batches of every partition (at most 4 MiB each), so fetches at the log end (consumers and followers that keep up) are answered without reading LevelDB; 0 turns the cache off.',
  },
  'producer.id.expiration.ms': {
    type: 'int', default: 86_400_000, min: 1, max: 2_147_483_647, scope: 'server',
    doc: 'A partition forgets a producer id (its sequence numbers, for duplicate detection) this long after its last write, unless it has a transaction open (Kafka\'s name and default: 1 day).',
  },
  'retention.check.interval.ms': { type: 'int', default: 300_000, min: 1000, scope: 'server', aliases: ['log.retention.check.interval.ms'], doc: 'How often retention deletes expired data.' },

  // ---- Broker sessions with the coordinator (Kafka's names and defaults).
  'broker.session.timeout.ms': {
    type: 'int', default: 9000, min: 100, max: 3_600_000, scope: 'server',
    doc: 'The coordinator fences a broker it has not heard a heartbeat from for this long: the broker takes no new partition replicas until a heartbeat unfences it again. Must be larger than broker.heartbeat.interval.ms.',
  },
  'broker.heartbeat.interval.ms': {
    type: 'int', default: 2000, min: 10, max: 3_600_000, scope: 'server',
    doc: 'How often a broker sends a heartbeat to the coordinator (more often, at most every 100 ms, while it is fenced).',
  },
  'broker.rack': {
    type: 'string', default: null, scope: 'server',
    doc: 'The rack (or availability zone) of this broker, sent with its registration. When every broker has one, replicas of a partition are placed on distinct racks first. Unset: no rack.',
  },
  'broker.disconnect.fence.ms': {
    type: 'int', default: 500, min: 0, max: 3_600_000, scope: 'server',
    doc: 'The coordinator leader fences a broker this long after the connection carrying its heartbeats closes, unless a heartbeat arrives on another connection meanwhile: a killed broker fails over in about this time instead of broker.session.timeout.ms. A paused broker keeps its connection open; the session timeout covers it.',
  },
  'controlled.shutdown.timeout.ms': {
    type: 'int', default: 30_000, min: 0, max: 3_600_000, scope: 'server',
    doc: 'How long a stopping broker waits for the coordinator to move its partition leaderships to other in-sync replicas (controlled shutdown) before it stops anyway.',
  },

  // ---- Replication and the controller (Kafka's names and defaults).
  'replica.lag.time.max.ms': {
    type: 'int', default: 30_000, min: 10, max: 3_600_000, scope: 'server',
    doc: 'A partition leader asks the coordinator to remove a follower from the in-sync replicas when the follower has not caught up with the leader\'s log end for this long; a follower that catches up is added back.',
  },
  'auto.leader.rebalance.enable': {
    type: 'boolean', default: true, scope: 'server',
    doc: 'The coordinator leader moves each partition\'s leadership back to its preferred replica (the first one) when that replica is in sync and alive, every leader.imbalance.check.interval.seconds.',
  },
  'leader.imbalance.check.interval.seconds': {
    type: 'int', default: 300, min: 1, max: 86_400, scope: 'server',
    doc: 'How often the coordinator leader checks for partitions not led by their preferred replica (auto.leader.rebalance.enable).',
  },

  // ---- Consumer groups and offsets on the coordinator (Kafka's names and defaults; docs/groups.md).
  'group.min.session.timeout.ms': {
    type: 'int', default: 6000, min: 1, max: 3_600_000, scope: 'server',
    doc: 'The shortest session timeout a consumer group member may ask for; a JoinGroup asking for less is refused with INVALID_SESSION_TIMEOUT.',
  },
  'group.max.session.timeout.ms': {
    type: 'int', default: 1_800_000, min: 1, max: 86_400_000, scope: 'server',
    doc: 'The longest session timeout a consumer group member may ask for (static members use long ones to restart without a rebalance).',
  },
  'group.initial.rebalance.delay.ms': {
    type: 'int', default: 3000, min: 0, max: 3_600_000, scope: 'server',
    doc: 'How long an empty group waits for more members before its first rebalance (extended by each new member, up to the rebalance timeout), so an application starting its consumers one by one rebalances once. 0 in tests.',
  },
  'group.max.size': { type: 'int', default: 10_000, min: 1, max: 1_000_000, scope: 'server', doc: 'The most members a consumer group may have; more are refused with GROUP_MAX_SIZE_REACHED.' },
  'offsets.retention.minutes': {
    type: 'int', default: 10_080, min: 1, max: 52_560_000, scope: 'server',
    doc: 'Committed offsets of a group with no members are deleted this long after the later of their commit and the moment the group emptied (7 days by default). A group with members keeps its offsets.',
  },
  'offsets.retention.ms': {
    type: 'int', default: -1, min: -1, scope: 'server',
    doc: 'offsets.retention.minutes in milliseconds, for short retentions in tests; -1 (the default) leaves it to offsets.retention.minutes.',
  },
  'offsets.retention.check.interval.ms': {
    type: 'int', default: 600_000, min: 1, max: 2_147_483_647, scope: 'server',
    doc: 'How often the coordinator leader looks for expired offsets.',
  },
  'offset.metadata.max.bytes': { type: 'int', default: 4096, min: 0, max: 1_048_576, scope: 'server', doc: 'The longest metadata string an offset commit may carry; longer ones fail with OFFSET_METADATA_TOO_LARGE.' },

  // ---- Producer ids and transactions on the coordinator (Kafka's names and defaults; docs/transactions.md).
  'transaction.max.timeout.ms': {
    type: 'int', default: 900_000, min: 1, max: 2_147_483_647, scope: 'server',
    doc: 'The longest transaction timeout a producer may ask for; InitProducerId asking for more is refused with INVALID_TRANSACTION_TIMEOUT. A transaction open longer than its own timeout is aborted by the coordinator.',
  },
  'transactional.id.expiration.ms': {
    type: 'int', default: 604_800_000, min: 1, max: 2_147_483_647, scope: 'server',
    doc: 'A transactional id with no open transaction and no activity for this long is forgotten (7 days by default); a producer that comes back with it starts afresh.',
  },
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': {
    type: 'int', default: 10_000, min: 1, max: 2_147_483_647, scope: 'server',
    doc: 'How often the coordinator leader aborts transactions open past their timeout (fencing their producers) and expires idle transactional ids.',
  },

  // ---- Topic creation defaults.
  'num.partitions': { type: 'int', default: 1, min: 1, max: 10_000, scope: 'server', doc: 'Partitions of a topic created without a partition count (and of auto-created topics).' },
  'default.replication.factor': { type: 'int', default: 1, min: 1, max: 32, scope: 'server', doc: 'Replication factor of a topic created without one.' },
  'auto.create.topics.enable': { type: 'boolean', default: true, scope: 'server', doc: 'Let a producer create a topic the first time it writes to one that does not exist (with num.partitions partitions). Admin tools and consumers never create topics.' },

  // ---- Broker-wide defaults of topic configs (Kafka's broker names; a topic's own config wins).
  'log.retention.ms': { type: 'int', default: 604_800_000, min: -1, scope: 'server', topicConfig: 'retention.ms', doc: 'Default retention.ms: how long data is kept (-1: forever).' },
  'log.retention.bytes': { type: 'int', default: -1, min: -1, scope: 'server', topicConfig: 'retention.bytes', doc: 'Default retention.bytes: largest size of a partition before old data is deleted (-1: no limit).' },
  'log.cleanup.policy': {
    type: 'enum', values: ['delete', 'compact', 'compact,delete', 'delete,compact'], default: 'delete', scope: 'server', topicConfig: 'cleanup.policy',
    doc: 'Default cleanup.policy: delete old data, compact by key, or both.',
  },
  'log.cleaner.delete.retention.ms': { type: 'int', default: 86_400_000, min: 0, scope: 'server', topicConfig: 'delete.retention.ms', doc: 'Default delete.retention.ms: how long tombstones survive compaction.' },
  'message.max.bytes': { type: 'int', default: 1_048_588, min: 0, scope: 'server', topicConfig: 'max.message.bytes', doc: 'Default max.message.bytes: largest record batch a topic accepts.' },
  'min.insync.replicas': { type: 'int', default: 1, min: 1, max: 32, scope: 'server', topicConfig: 'min.insync.replicas', doc: 'Default min.insync.replicas: replicas that must have a write before acks=all succeeds.' },
  'compression.type': {
    type: 'enum', values: ['producer'], default: 'producer', scope: 'server', topicConfig: 'compression.type',
    doc: 'Default compression.type. Only producer (keep each batch as the producer compressed it): the broker never re-encodes batches.',
  },
  'log.message.timestamp.type': {
    type: 'enum', values: ['CreateTime', 'LogAppendTime'], default: 'CreateTime', scope: 'server', topicConfig: 'message.timestamp.type',
    doc: 'Default message.timestamp.type: keep the producer\'s timestamps or stamp the append time.',
  },
  'unclean.leader.election.enable': { type: 'boolean', default: false, scope: 'server', topicConfig: 'unclean.leader.election.enable', doc: 'Default unclean.leader.election.enable: elect an out-of-sync replica rather than stay unavailable (loses data).' },

  // ---- The command-line client.
  brokers: {
    type: 'list', items: 'host-port', default: ['127.0.0.1:9093'], scope: 'client', aliases: ['bootstrap.servers'], flag: 'brokers',
    doc: 'Brokers the command line bootstraps from (native protocol), comma-separated host:port.',
  },
  coordinators: {
    type: 'list', items: 'host-port', default: ['127.0.0.1:9093'], scope: 'client', flag: 'coordinators',
    doc: 'Coordinator API addresses the cluster commands and `streambus broker` start from, comma-separated host:port; one reachable node is enough.',
  },
  'schema.registry.url': {
    type: 'string', default: 'http://127.0.0.1:8081', scope: 'client', flag: 'registry',
    doc: 'The schema registry the `schema` commands talk to (any coordinator node\'s registry; writes are forwarded to the leader).',
  },
  'client.id': { type: 'string', default: 'streambus-cli', scope: 'client', doc: 'Client id the command line sends to brokers.' },
  'request.timeout.ms': { type: 'int', default: 30_000, min: 1, max: 3_600_000, scope: 'client', doc: 'How long the command line waits for one response.' },
} as const satisfies Record<string, SettingSpec>;

export type Settings = typeof settings;
export type SettingKey = keyof Settings;

type ValueOfSpec<S> = S extends { readonly type: 'int' }
  ? number
  : S extends { readonly type: 'boolean' }
    ? boolean
    : S extends { readonly type: 'enum'; readonly values: readonly (infer V)[] }
      ? V
      : S extends { readonly type: 'list' }
        ? readonly string[]
        : S extends { readonly default: null }
          ? string | null
          : string;

/** The effective value of every setting, typed per setting. */
export type ConfigValues = { readonly [K in SettingKey]: ValueOfSpec<Settings[K]> };

/** Every declared key, in declaration order. */
export const settingKeys = Object.keys(settings) as SettingKey[];

/** The spec of a key, as the general SettingSpec type. */
export function specOf(key: SettingKey): SettingSpec {
  return settings[key];
}

/** The environment variable derived from a key: STREAMBUS_ + upper case, '.' → '_'. */
export function envNameOf(key: string): string {
  return `STREAMBUS_${key.toUpperCase().replace(/\./g, '_')}`;
}

/** Every environment variable name a key is read from, the derived one first. */
export function envNamesOf(key: SettingKey): readonly string[] {
  const spec = specOf(key);
  return [envNameOf(key), ...(spec.envAliases ?? [])];
}

/** The broker-wide defaults of topic configs, keyed by topic-level config name (retention.ms → value). */
export function topicConfigDefaults(values: ConfigValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of settingKeys) {
    const spec = specOf(key);
    if (spec.topicConfig === undefined) continue;
    out[spec.topicConfig] = String(values[key]);
  }
  return out;
}

const wildcardHosts = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * The host a listener advertises: its advertised.host when set, else its bind host, else (for a
 * wildcard bind address) the machine's host name, which the caller passes in.
 */
export function advertisedHost(values: ConfigValues, listener: 'native' | 'kafka' | 'admin' | 'coordinator' | 'schema.registry', hostname: string): string {
  const advertised = values[`${listener}.advertised.host`];
  if (advertised !== null && advertised !== '') return advertised;
  const host = values[`${listener}.host`];
  return wildcardHosts.has(host) ? hostname : host;
}
