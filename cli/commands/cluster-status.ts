/**
 * `streambus cluster status`: the coordinator group as its leader sees it: the leader, its term,
 * commit and applied index, and every member with its addresses, match index, lag and whether
 * the leader hears from it. Exits 1 (NOT_CONTROLLER) when no node knows a leader within the wait,
 * with what each node said, so a script can tell "no leader" from "all fine".
 */
import { defineCommand } from '../command.js';
import { address, printMembers, statusJson, withCoordinators } from './cluster-shared.js';

export const command = defineCommand({
  name: 'cluster status',
  summary: 'Show the coordinator group: leader, term, commit index and members with their lag',
  positionals: [],
  options: {
    'wait-ms': { type: 'integer', min: 1, max: 3_600_000, default: 5_000, valueName: 'ms', description: 'How long to look for a leader (an election takes a second or two)' },
  },
  examples: ['streambus cluster status', 'streambus cluster status --coordinators 127.0.0.1:9094,127.0.0.2:9094 --json'],
  async run(ctx) {
    const status = await withCoordinators(ctx, (client) => client.clusterStatus({ timeoutMs: ctx.options['wait-ms'], signal: ctx.signal }));
    if (ctx.out.json) {
      ctx.out.writeJson(statusJson(status));
      return;
    }
    ctx.out.pairs([
      ['Cluster', status.clusterId],
      ['Leader', `${status.nodeId} (${address(status.address) ?? '-'})`],
      ['Term', status.term],
      ['Commit index', status.commitIndex],
      ['Applied index', status.appliedIndex],
      ['Metadata offset', status.metadataOffset],
    ]);
    ctx.out.line();
    printMembers(ctx, status.members);
  },
});
