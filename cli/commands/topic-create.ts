/**
 * `streambus topic create <name>`: creates one topic. Partition count and replication factor
 * default to the broker's num.partitions and default.replication.factor.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { defineCommand, parseKeyValue } from '../command.js';

export const command = defineCommand({
  name: 'topic create',
  summary: 'Create a topic',
  positionals: [{ name: 'name', description: 'The topic to create' }],
  options: {
    partitions: { type: 'integer', short: 'p', min: 1, description: 'Number of partitions (default: the broker\'s num.partitions)' },
    'replication-factor': { type: 'integer', short: 'r', min: 1, description: 'Copies of each partition (default: the broker\'s default.replication.factor)' },
    config: { type: 'string', short: 'c', multiple: true, valueName: 'key=value', description: 'A topic config, e.g. retention.ms=86400000' },
    'if-not-exists': { type: 'boolean', description: 'Succeed without changes when the topic already exists' },
  },
  examples: ['streambus topic create orders -p 6 -c retention.ms=86400000 -c cleanup.policy=compact'],
  async run(ctx) {
    const { name } = ctx.args;
    const configs: Record<string, string> = {};
    for (const text of ctx.options.config) {
      const { key, value } = parseKeyValue(text, '--config', 'topic create');
      configs[key] = value;
    }
    const partitions = ctx.options.partitions;
    const replicationFactor = ctx.options['replication-factor'];
    const admin = (await ctx.client()).admin();
    let created = true;
    try {
      await admin.createTopics([
        {
          topic: name,
          ...(partitions === undefined ? {} : { partitions }),
          ...(replicationFactor === undefined ? {} : { replicationFactor }),
          ...(Object.keys(configs).length === 0 ? {} : { configs }),
        },
      ], { signal: ctx.signal });
    } catch (error) {
      if (!(ctx.options['if-not-exists'] && error instanceof StreamBusError && error.code === ErrorCode.TOPIC_ALREADY_EXISTS)) throw error;
      created = false;
    }
    // Report what the cluster actually made (defaults filled in), not what was asked for.
    const [description] = await admin.describeTopics([name], { signal: ctx.signal });
    const partitionCount = description?.partitions.length ?? partitions ?? null;
    const replicas = description?.partitions[0]?.replicas.length ?? replicationFactor ?? null;
    if (ctx.out.json) {
      ctx.out.writeJson({
        topic: { name, topicId: description?.topicId ?? null, partitions: partitionCount, replicationFactor: replicas, configs },
        created,
      });
      return;
    }
    ctx.out.line(
      created
        ? `Created topic ${name} (${partitionCount ?? '?'} ${partitionCount === 1 ? 'partition' : 'partitions'}, replication factor ${replicas ?? '?'}).`
        : `Topic ${name} already exists; nothing changed.`,
    );
  },
});
