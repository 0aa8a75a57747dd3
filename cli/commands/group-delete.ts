/**
 * `streambus group delete <group>...`: deletes empty groups and their committed offsets. A group
 * with members is refused (NON_EMPTY_GROUP): stop its consumers first.
 */
import type { ItemFailure } from '../../client/index.js';
import { defineCommand } from '../command.js';
import { withGroupCoordinators } from './group-shared.js';

export const command = defineCommand({
  name: 'group delete',
  summary: 'Delete empty consumer groups and their offsets',
  positionals: [{ name: 'group', variadic: true, description: 'Groups to delete, each named in full' }],
  options: {},
  examples: ['streambus group delete billing'],
  async run(ctx) {
    const results = await withGroupCoordinators(ctx, (coordinators) => coordinators.groups.deleteGroups(ctx.args.group, { signal: ctx.signal }));
    const failures: ItemFailure[] = results.flatMap((r) => (r.error === undefined ? [] : [{ topic: r.groupId, error: r.error }]));
    if (ctx.out.json) {
      ctx.out.writeJson({ groups: results.map((r) => ({ groupId: r.groupId, deleted: r.error === undefined, error: r.error?.codeName ?? null })) });
    } else {
      for (const r of results) if (r.error === undefined) ctx.out.line(`Deleted group ${r.groupId}.`);
    }
    if (failures.length === 0) return;
    const { AdminError } = await import('../../client/index.js');
    throw new AdminError('deleteGroups', failures, results.length);
  },
});
