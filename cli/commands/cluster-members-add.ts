/**
 * `streambus cluster members add <node-id> --raft host:port [--api host:port]`: makes a node a
 * voter of the coordinator group (one server at a time, which is what keeps the change safe).
 * Start the new node first, empty and without founding voters, so it can catch up once added.
 */
import { UsageError, defineCommand } from '../command.js';
import { parseAddress, parseNodeId, withCoordinators } from './cluster-shared.js';

const NAME = 'cluster members add';

export const command = defineCommand({
  name: NAME,
  summary: 'Add a coordinator node to the Raft group as a voter',
  positionals: [{ name: 'node-id', description: 'The new node\'s id (a positive integer no member uses)' }],
  options: {
    raft: { type: 'string', valueName: 'host:port', description: 'The new node\'s Raft address (required)' },
    api: { type: 'string', valueName: 'host:port', description: 'The new node\'s coordinator API address, for clients to find it' },
  },
  examples: ['streambus cluster members add 4 --raft 127.0.0.4:9095 --api 127.0.0.4:9094'],
  async run(ctx) {
    const nodeId = parseNodeId(ctx.args['node-id'], NAME);
    if (ctx.options.raft === undefined) throw new UsageError('--raft <host:port> is required', NAME);
    const raft = parseAddress(ctx.options.raft, '--raft', NAME);
    const api = ctx.options.api === undefined ? undefined : parseAddress(ctx.options.api, '--api', NAME);
    const { voters } = await withCoordinators(ctx, (client) => client.changeMembership({ op: 'add', nodeId, raft, api }, { signal: ctx.signal }));
    if (ctx.out.json) {
      ctx.out.writeJson({ added: nodeId, voters });
      return;
    }
    ctx.out.line(`Added node ${nodeId} (raft ${ctx.options.raft}). Voters: ${voters.join(', ')}.`);
  },
});
