/**
 * `streambus topic list`: every topic with its partition count and replication factor. JSON output
 * holds complete objects, not just names, so scripts need no second call.
 */
import { defineCommand } from '../command.js';

export const command = defineCommand({
  name: 'topic list',
  summary: 'List topics with their partition counts',
  positionals: [],
  options: {
    internal: { type: 'boolean', description: 'Include internal topics' },
  },
  async run(ctx) {
    const admin = (await ctx.client()).admin();
    const names = await admin.listTopics({ includeInternal: ctx.options.internal, signal: ctx.signal });
    const descriptions = names.length === 0 ? [] : await admin.describeTopics(names, { signal: ctx.signal });
    const topics = descriptions
      .map((t) => ({
        name: t.topic,
        topicId: t.topicId,
        internal: t.internal,
        partitions: t.partitions.length,
        replicationFactor: t.partitions[0]?.replicas.length ?? 0,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (ctx.out.json) {
      ctx.out.writeJson({ topics });
      return;
    }
    if (topics.length === 0) {
      ctx.out.note('No topics.');
      return;
    }
    ctx.out.table(
      [{ key: 'name' }, { key: 'partitions' }, { key: 'replicationFactor', header: 'REPLICAS' }, { key: 'topicId', header: 'ID' }],
      topics,
    );
  },
});
