/**
 * `streambus cluster members transfer-leader <node-id>`: hands Raft leadership to another voter,
 * e.g. before restarting the leader's machine, so writes pause for a round trip instead of an
 * election timeout. Succeeds at once when that node already leads.
 */
import { defineCommand } from '../command.js';
import { parseNodeId, withCoordinators } from './cluster-shared.js';

const NAME = 'cluster members transfer-leader';

export const command = defineCommand({
  name: NAME,
  summary: 'Hand coordinator leadership to another voter',
  positionals: [{ name: 'node-id', description: 'The voter that should lead' }],
  options: {},
  examples: ['streambus cluster members transfer-leader 2'],
  async run(ctx) {
    const nodeId = parseNodeId(ctx.args['node-id'], NAME);
    const { leaderId, term } = await withCoordinators(ctx, (client) => client.transferLeadership(nodeId, { signal: ctx.signal }));
    if (ctx.out.json) {
      ctx.out.writeJson({ leaderId, term });
      return;
    }
    ctx.out.line(`Node ${leaderId} leads (term ${term}).`);
  },
});
