/**
 * `streambus topic delete <name>...`: deletes the named topics and their data. It asks no question,
 * which is why every topic must be named in full: no patterns, no "all".
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { defineCommand } from '../command.js';

export const command = defineCommand({
  name: 'topic delete',
  summary: 'Delete topics and all their data',
  positionals: [{ name: 'name', variadic: true, description: 'Topics to delete, each named in full' }],
  options: {
    'if-exists': { type: 'boolean', description: 'Succeed when a topic does not exist' },
  },
  examples: ['streambus topic delete orders', 'streambus topic delete orders payments --if-exists'],
  async run(ctx) {
    const admin = (await ctx.client()).admin();
    const results: { name: string; deleted: boolean }[] = [];
    // One call per topic so that --if-exists can tell which ones were missing.
    for (const name of ctx.args.name) {
      try {
        await admin.deleteTopics([name], { signal: ctx.signal });
        results.push({ name, deleted: true });
      } catch (error) {
        const missing = error instanceof StreamBusError && error.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        if (!(missing && ctx.options['if-exists'])) throw error;
        results.push({ name, deleted: false });
      }
    }
    if (ctx.out.json) {
      ctx.out.writeJson({ topics: results });
      return;
    }
    for (const result of results) {
      ctx.out.line(result.deleted ? `Deleted topic ${result.name}.` : `Topic ${result.name} does not exist; nothing deleted.`);
    }
  },
});
