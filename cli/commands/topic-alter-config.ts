/**
 * `streambus topic alter-config <name> --set k=v --delete k`: incremental config changes. Keys not
 * named keep their values; --delete reverts a key to the broker default.
 */
import { defineCommand, parseKeyValue, UsageError } from '../command.js';

export const command = defineCommand({
  name: 'topic alter-config',
  summary: 'Set or reset a topic\'s configs',
  positionals: [{ name: 'name', description: 'The topic' }],
  options: {
    // Shadows the global --set (StreamBus settings) for this command, where configs mean topic configs.
    set: { type: 'string', short: 's', multiple: true, valueName: 'key=value', description: 'Set a topic config' },
    delete: { type: 'string', short: 'd', multiple: true, valueName: 'key', description: 'Revert a topic config to the broker default' },
  },
  examples: ['streambus topic alter-config orders --set retention.ms=3600000 --delete cleanup.policy'],
  async run(ctx) {
    const { name } = ctx.args;
    const set: Record<string, string> = {};
    for (const text of ctx.options.set) {
      const { key, value } = parseKeyValue(text, '--set', 'topic alter-config');
      set[key] = value;
    }
    const deleted = [...ctx.options.delete];
    if (Object.keys(set).length === 0 && deleted.length === 0) {
      throw new UsageError('nothing to change: give --set key=value or --delete key', 'topic alter-config');
    }
    const both = deleted.filter((key) => Object.hasOwn(set, key));
    if (both.length > 0) throw new UsageError(`${both.join(', ')} is both set and deleted`, 'topic alter-config');
    await (await ctx.client()).admin().alterConfigs([{ topic: name, set, delete: deleted }], { signal: ctx.signal });
    if (ctx.out.json) {
      ctx.out.writeJson({ topic: { name, set, deleted } });
      return;
    }
    const changes = [...Object.entries(set).map(([k, v]) => `${k}=${v}`), ...deleted.map((k) => `${k} (reverted to default)`)];
    ctx.out.line(`Updated topic ${name}: ${changes.join(', ')}.`);
  },
});
