/**
 * `streambus topic describe [name]`: for one topic (or every topic), a summary, then one row per
 * partition (leader, leader epoch, replicas, in-sync replicas, earliest and latest offsets, and
 * whether it is offline or under-replicated), then the configs set on the topic or the broker.
 * JSON output holds everything, including configs at their defaults.
 *
 * `--under-replicated-partitions` and `--unavailable-partitions` work as kafka-topics.sh's flags
 * of the same names: only the partitions in that state are listed (either state when both are
 * given), as one table across topics with no summaries or configs, so an empty answer means a
 * healthy cluster. The states are Kafka's: *offline* (unavailable) is a partition the metadata
 * names no leader for; *under-replicated* is one with a leader whose ISR is smaller than its
 * replica set.
 */
import type { PartitionDescription, TopicConfigDescription, TopicDescription } from '../client.js';
import { defineCommand } from '../command.js';
import type { Output } from '../output/output.js';
import type { Column } from '../output/table.js';

/** What a partition's row says about its replication. */
export type PartitionState = 'ok' | 'under-replicated' | 'offline';

/** One partition as the command shows it; -1 ("none") in the client's answers becomes null. */
export interface PartitionRow {
  readonly partition: number;
  readonly leader: number | null;
  readonly leaderEpoch: number;
  readonly replicas: number[];
  readonly isr: number[];
  readonly earliestOffset: number | null;
  readonly latestOffset: number | null;
  readonly offline: boolean;
  readonly underReplicated: boolean;
}

/** Which partitions to list: those in any of the chosen states; neither chosen lists all. */
export interface PartitionFilter {
  readonly underReplicated: boolean;
  readonly unavailable: boolean;
}

export function partitionRow(p: PartitionDescription): PartitionRow {
  const offline = p.leader < 0;
  return {
    partition: p.partition,
    leader: offline ? null : p.leader,
    leaderEpoch: p.leaderEpoch,
    replicas: [...p.replicas],
    isr: [...p.isr],
    earliestOffset: p.earliestOffset < 0 ? null : p.earliestOffset,
    latestOffset: p.latestOffset < 0 ? null : p.latestOffset,
    offline,
    // Kafka's rule: only a partition with a leader counts as under-replicated; without one it is offline.
    underReplicated: !offline && p.isr.length < p.replicas.length,
  };
}

export function partitionState(row: PartitionRow): PartitionState {
  if (row.offline) return 'offline';
  return row.underReplicated ? 'under-replicated' : 'ok';
}

export function filtering(filter: PartitionFilter): boolean {
  return filter.underReplicated || filter.unavailable;
}

/** Whether `row` is listed under `filter`. */
export function matchesFilter(row: PartitionRow, filter: PartitionFilter): boolean {
  if (!filtering(filter)) return true;
  return (filter.underReplicated && row.underReplicated) || (filter.unavailable && row.offline);
}

/** A topic's partitions in partition order, as rows. */
export function partitionRows(description: TopicDescription): PartitionRow[] {
  return [...description.partitions].sort((a, b) => a.partition - b.partition).map(partitionRow);
}

/** The replica count of the topic's first partition (every partition has as many, unless reassigned). */
function replicationFactor(description: TopicDescription): number {
  return description.partitions[0]?.replicas.length ?? 0;
}

/** The summary lines above a topic's partition table. */
export function topicSummary(description: TopicDescription, rows: readonly PartitionRow[]): [string, string | number | null][] {
  const records = rows.reduce((sum, r) => sum + Math.max(0, (r.latestOffset ?? 0) - (r.earliestOffset ?? 0)), 0);
  return [
    ['Topic', description.topic],
    ['ID', description.topicId === '' ? null : description.topicId],
    ['Partitions', rows.length],
    ['Replication factor', replicationFactor(description)],
    ['Under-replicated', rows.filter((r) => r.underReplicated).length],
    ['Offline', rows.filter((r) => r.offline).length],
    ['Records', records],
  ];
}

/** The sentence printed (on stderr) when a filter matches nothing. */
export function nothingMatches(filter: PartitionFilter): string {
  const states = [filter.underReplicated ? 'under-replicated' : undefined, filter.unavailable ? 'unavailable' : undefined].filter((s) => s !== undefined);
  return `No ${states.join(' or ')} partitions.`;
}

const partitionColumns: readonly Column[] = [
  { key: 'partition' },
  { key: 'leader' },
  { key: 'leaderEpoch', header: 'EPOCH' },
  { key: 'replicas' },
  { key: 'isr', header: 'ISR' },
  { key: 'earliestOffset', header: 'EARLIEST' },
  { key: 'latestOffset', header: 'LATEST' },
  { key: 'status' },
];

const filteredColumns: readonly Column[] = [
  { key: 'topic' },
  { key: 'partition' },
  { key: 'leader' },
  { key: 'leaderEpoch', header: 'EPOCH' },
  { key: 'replicas' },
  { key: 'isr', header: 'ISR' },
  { key: 'status' },
];

function byName(a: { topic: string }, b: { topic: string }): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0;
}

function topicJson(description: TopicDescription, rows: readonly PartitionRow[], configs: TopicConfigDescription | undefined): Record<string, unknown> {
  return {
    name: description.topic,
    topicId: description.topicId === '' ? null : description.topicId,
    internal: description.internal,
    replicationFactor: replicationFactor(description),
    partitions: rows,
    ...(configs === undefined
      ? {}
      : {
          configs: sortedEntries(configs).map((e) => ({ name: e.name, value: e.sensitive ? null : e.value, source: e.source, readOnly: e.readOnly, sensitive: e.sensitive })),
        }),
  };
}

function sortedEntries(configs: TopicConfigDescription): TopicConfigDescription['entries'][number][] {
  return [...configs.entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The full view of one topic: summary, partitions, configs. */
function printTopic(out: Output, description: TopicDescription, rows: readonly PartitionRow[], configs: TopicConfigDescription | undefined, allConfigs: boolean): void {
  out.pairs(topicSummary(description, rows));
  out.line();
  out.table(
    partitionColumns,
    rows.map((r) => ({ ...r, status: partitionState(r) })),
  );
  const entries = configs === undefined ? [] : sortedEntries(configs);
  const shown = allConfigs ? entries : entries.filter((e) => e.source !== 'default');
  out.line();
  if (shown.length === 0) {
    out.line('Configs: all at their defaults (--all-configs lists them).');
    return;
  }
  out.table(
    [{ key: 'config' }, { key: 'value' }, { key: 'source' }],
    shown.map((e) => ({ config: e.name, value: e.sensitive ? '[redacted]' : e.value, source: e.source })),
  );
}

export const command = defineCommand({
  name: 'topic describe',
  summary: 'Show a topic\'s partitions (leader, replicas, ISR, offsets) and configs',
  description:
    'Without a name, describes every topic. --under-replicated-partitions and --unavailable-partitions list only the partitions in that state (either, when both are given), across the topics described, as kafka-topics.sh does.',
  positionals: [{ name: 'name', description: 'The topic (default: every topic)', optional: true }],
  options: {
    'all-configs': { type: 'boolean', description: 'List every config, not only those that differ from the default' },
    'under-replicated-partitions': { type: 'boolean', description: 'List only partitions with a leader and fewer in-sync replicas than replicas' },
    'unavailable-partitions': { type: 'boolean', description: 'List only partitions without a leader' },
  },
  examples: ['streambus topic describe orders', 'streambus topic describe --under-replicated-partitions', 'streambus topic describe --unavailable-partitions --json'],
  async run(ctx) {
    const { name } = ctx.args;
    const filter: PartitionFilter = { underReplicated: ctx.options['under-replicated-partitions'], unavailable: ctx.options['unavailable-partitions'] };
    const admin = (await ctx.client()).admin();
    const names = name !== undefined ? [name] : await admin.listTopics({ signal: ctx.signal });
    // describeTopics and describeConfigs reject with UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist.
    const [descriptions, configs] =
      names.length === 0
        ? [[], []]
        : await Promise.all([
            admin.describeTopics(names, { signal: ctx.signal }),
            // A filtered listing shows partitions only, as kafka-topics.sh does: no configs to fetch.
            filtering(filter) ? Promise.resolve([]) : admin.describeConfigs(names, { signal: ctx.signal }),
          ]);
    const topics = [...descriptions].sort(byName).map((description) => ({
      description,
      rows: partitionRows(description).filter((r) => matchesFilter(r, filter)),
      configs: filtering(filter) ? undefined : configs.find((c) => c.topic === description.topic),
    }));

    if (ctx.out.json) {
      if (name !== undefined) {
        const [only] = topics;
        if (only !== undefined) ctx.out.writeJson({ topic: topicJson(only.description, only.rows, only.configs) });
        return;
      }
      const listed = filtering(filter) ? topics.filter((t) => t.rows.length > 0) : topics;
      ctx.out.writeJson({ topics: listed.map((t) => topicJson(t.description, t.rows, t.configs)) });
      return;
    }

    if (filtering(filter)) {
      const rows = topics.flatMap((t) => t.rows.map((r) => ({ topic: t.description.topic, ...r, status: partitionState(r) })));
      if (rows.length === 0) ctx.out.note(nothingMatches(filter));
      else ctx.out.table(filteredColumns, rows);
      return;
    }
    if (topics.length === 0) {
      ctx.out.note('No topics.');
      return;
    }
    topics.forEach((t, i) => {
      if (i > 0) ctx.out.line();
      printTopic(ctx.out, t.description, t.rows, t.configs, ctx.options['all-configs']);
    });
  },
});
