/**
 * `streambus topic add-partitions <name> --count N`: raises the partition count to N (a total,
 * as in Kafka). Partitions can never be removed.
 */
import { defineCommand, UsageError } from '../command.js';

export const command = defineCommand({
  name: 'topic add-partitions',
  summary: 'Raise a topic\'s partition count',
  description: 'Records with a key may map to a different partition afterwards: per-key order holds only among records written after the change.',
  positionals: [{ name: 'name', description: 'The topic' }],
  options: {
    count: { type: 'integer', min: 1, description: 'The new total number of partitions (required; larger than the current count)' },
  },
  examples: ['streambus topic add-partitions orders --count 12'],
  async run(ctx) {
    const { name } = ctx.args;
    const count = ctx.options.count;
    if (count === undefined) throw new UsageError('missing --count <n>', 'topic add-partitions');
    const admin = (await ctx.client()).admin();
    const [before] = await admin.describeTopics([name], { signal: ctx.signal });
    await admin.createPartitions([{ topic: name, count }], { signal: ctx.signal });
    const previous = before?.partitions.length ?? null;
    if (ctx.out.json) {
      ctx.out.writeJson({ topic: { name, partitions: count, previousPartitions: previous } });
      return;
    }
    ctx.out.line(`Topic ${name} now has ${count} partitions${previous === null ? '' : ` (was ${previous})`}.`);
    ctx.out.note('Keyed records may now map to other partitions: per-key order holds only among records written from now on.');
  },
});
