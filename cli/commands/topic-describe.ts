/**
 * `streambus topic describe <name>`: a summary, then one row per partition (leader, replicas,
 * in-sync replicas, earliest and latest offsets), then the configs set on the topic or the broker.
 * JSON output holds everything, including configs at their defaults.
 */
import { defineCommand } from '../command.js';

export const command = defineCommand({
  name: 'topic describe',
  summary: 'Show a topic\'s partitions (leader, replicas, ISR, offsets) and configs',
  positionals: [{ name: 'name', description: 'The topic' }],
  options: {
    'all-configs': { type: 'boolean', description: 'List every config, not only those that differ from the default' },
  },
  async run(ctx) {
    const { name } = ctx.args;
    const admin = (await ctx.client()).admin();
    // Both reject with UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist.
    const [[description], configs] = await Promise.all([
      admin.describeTopics([name], { signal: ctx.signal }),
      admin.describeConfigs([name], { signal: ctx.signal }),
    ]);
    const rows = [...(description?.partitions ?? [])]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => ({
        partition: p.partition,
        // -1 means "none" or "could not be read" in the client's answers.
        leader: p.leader < 0 ? null : p.leader,
        leaderEpoch: p.leaderEpoch,
        replicas: [...p.replicas],
        isr: [...p.isr],
        earliestOffset: p.earliestOffset < 0 ? null : p.earliestOffset,
        latestOffset: p.latestOffset < 0 ? null : p.latestOffset,
      }));
    const entries = [...(configs.find((c) => c.topic === name)?.entries ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const replicationFactor = rows[0]?.replicas.length ?? 0;

    if (ctx.out.json) {
      ctx.out.writeJson({
        topic: {
          name,
          topicId: description?.topicId ?? null,
          internal: description?.internal ?? false,
          replicationFactor,
          partitions: rows,
          configs: entries.map((e) => ({ name: e.name, value: e.sensitive ? null : e.value, source: e.source, readOnly: e.readOnly, sensitive: e.sensitive })),
        },
      });
      return;
    }
    const underReplicated = rows.filter((r) => r.isr.length < r.replicas.length).length;
    const offline = rows.filter((r) => r.leader === null).length;
    const records = rows.reduce((sum, r) => sum + Math.max(0, (r.latestOffset ?? 0) - (r.earliestOffset ?? 0)), 0);
    ctx.out.pairs([
      ['Topic', name],
      ['ID', description?.topicId ?? null],
      ['Partitions', rows.length],
      ['Replication factor', replicationFactor],
      ['Under-replicated', underReplicated],
      ['Without leader', offline],
      ['Records', records],
    ]);
    ctx.out.line();
    ctx.out.table(
      [
        { key: 'partition' },
        { key: 'leader' },
        { key: 'replicas' },
        { key: 'isr', header: 'ISR' },
        { key: 'earliestOffset', header: 'EARLIEST' },
        { key: 'latestOffset', header: 'LATEST' },
      ],
      rows,
    );
    const shown = ctx.options['all-configs'] ? entries : entries.filter((e) => e.source !== 'default');
    ctx.out.line();
    if (shown.length === 0) {
      ctx.out.line('Configs: all at their defaults (--all-configs lists them).');
      return;
    }
    ctx.out.table(
      [{ key: 'config' }, { key: 'value' }, { key: 'source' }],
      shown.map((e) => ({ config: e.name, value: e.sensitive ? '[redacted]' : e.value, source: e.source })),
    );
  },
});
