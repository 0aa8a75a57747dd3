/**
 * `streambus cluster members remove <node-id>`: removes a voter from the coordinator group. Removing
 * the leader is allowed: it steps down once the change commits and the others elect a new one.
 * Stop the removed node's process afterwards.
 */
import { defineCommand } from '../command.js';
import { parseNodeId, withCoordinators } from './cluster-shared.js';

const NAME = 'cluster members remove';

export const command = defineCommand({
  name: NAME,
  summary: 'Remove a coordinator node from the Raft group',
  positionals: [{ name: 'node-id', description: 'The member to remove' }],
  options: {},
  examples: ['streambus cluster members remove 4'],
  async run(ctx) {
    const nodeId = parseNodeId(ctx.args['node-id'], NAME);
    const { voters } = await withCoordinators(ctx, (client) => client.changeMembership({ op: 'remove', nodeId }, { signal: ctx.signal }));
    if (ctx.out.json) {
      ctx.out.writeJson({ removed: nodeId, voters });
      return;
    }
    ctx.out.line(`Removed node ${nodeId}. Voters: ${voters.join(', ')}.`);
  },
});
