/**
 * `streambus group list`: every consumer group the coordinator knows, with its state and protocol
 * type, optionally only those in the given states (Kafka's kafka-consumer-groups.sh --list --state).
 */
import type { GroupStateName } from '../../client/index.js';
import { UsageError, defineCommand } from '../command.js';
import { withGroupCoordinators } from './group-shared.js';

const STATES: readonly GroupStateName[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

export const command = defineCommand({
  name: 'group list',
  summary: 'List consumer groups with their state',
  positionals: [],
  options: {
    state: { type: 'string', multiple: true, valueName: 'state', description: `Only groups in this state (${STATES.join(', ')}); repeatable` },
  },
  examples: ['streambus group list', 'streambus group list --state Stable --json'],
  async run(ctx) {
    const states = ctx.options.state.map((s) => {
      const state = STATES.find((known) => known.toLowerCase() === s.toLowerCase());
      if (state === undefined) throw new UsageError(`--state must be one of ${STATES.join(', ')}, got '${s}'`, 'group list');
      return state;
    });
    const groups = await withGroupCoordinators(ctx, (coordinators) => coordinators.groups.listGroups(states.length === 0 ? {} : { states }, { signal: ctx.signal }));
    const rows = groups
      .map((g) => ({ groupId: g.groupId, state: g.state, protocolType: g.protocolType }))
      .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    if (ctx.out.json) {
      ctx.out.writeJson({ groups: rows });
      return;
    }
    if (rows.length === 0) {
      ctx.out.note('No groups.');
      return;
    }
    ctx.out.table([{ key: 'groupId', header: 'GROUP' }, { key: 'state' }, { key: 'protocolType', header: 'TYPE' }], rows);
  },
});
