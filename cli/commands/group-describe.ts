/**
 * `streambus group describe <group>`: the group's state, protocol and members, then one row per
 * partition: the member that owns it, the committed offset, the end offset, and the lag in offsets
 * and in seconds (the age of the oldest unconsumed record; docs/groups.md, "Reading lag").
 */
import { defineCommand } from '../command.js';
import { describeGroup, groupPartitions, withGroupCoordinators } from './group-shared.js';

export const command = defineCommand({
  name: 'group describe',
  summary: 'Show a consumer group: members, assignment, committed and end offsets, lag',
  positionals: [{ name: 'group', description: 'The group id' }],
  options: {},
  examples: ['streambus group describe billing', 'streambus group describe billing --json'],
  async run(ctx) {
    const client = await ctx.client();
    const { description, partitions } = await withGroupCoordinators(ctx, async (coordinators) => {
      const description = await describeGroup(coordinators, ctx.args.group, ctx.signal);
      return { description, partitions: await groupPartitions(coordinators, client, ctx.args.group, description, ctx.signal) };
    });
    const { groupLagSummary } = await import('../../client/index.js');
    const summary = groupLagSummary(partitions);
    const members = description.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, clientId: m.clientId, host: m.clientHost }));
    if (ctx.out.json) {
      ctx.out.writeJson({
        groupId: description.groupId,
        state: description.state,
        protocolType: description.protocolType,
        protocol: description.protocolName === '' ? null : description.protocolName,
        members,
        lag: summary.lag,
        maxLagSeconds: summary.maxLagSeconds ?? null,
        partitions: partitions.map((p) => ({ ...p, lagSeconds: p.lagSeconds ?? null })),
      });
      return;
    }
    ctx.out.pairs([
      ['Group', description.groupId],
      ['State', description.state],
      ['Protocol', description.protocolName === '' ? '-' : `${description.protocolType}/${description.protocolName}`],
      ['Members', members.length],
      ['Lag', summary.lag],
      ['Max lag (s)', summary.maxLagSeconds === undefined ? '-' : summary.maxLagSeconds.toFixed(1)],
    ]);
    if (members.length > 0) {
      ctx.out.line();
      ctx.out.table([{ key: 'memberId', header: 'MEMBER' }, { key: 'groupInstanceId', header: 'INSTANCE' }, { key: 'clientId', header: 'CLIENT' }, { key: 'host' }], members);
    }
    ctx.out.line();
    if (partitions.length === 0) {
      ctx.out.note('The group has no committed offsets and no assigned partitions.');
      return;
    }
    ctx.out.table(
      [
        { key: 'topic' },
        { key: 'partition' },
        { key: 'committed', header: 'COMMITTED' },
        { key: 'end', header: 'END' },
        { key: 'lag' },
        { key: 'lagSeconds', header: 'LAG-S' },
        { key: 'memberId', header: 'MEMBER' },
      ],
      partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        committed: p.committed < 0 ? '-' : p.committed,
        end: p.end,
        lag: p.lag,
        lagSeconds: p.lagSeconds === undefined ? '-' : p.lagSeconds.toFixed(1),
        memberId: p.memberId ?? '-',
      })),
    );
  },
});
