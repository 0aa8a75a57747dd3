/**
 * `streambus schema delete`: soft-deletes a subject or one version (hidden, ids still resolvable),
 * or with --permanent removes what was soft-deleted before, in Confluent's order.
 */
import { defineCommand } from '../command.js';
import { registryOf, subjectPath } from './schema-shared.js';

export const command = defineCommand({
  name: 'schema delete',
  summary: 'Delete a subject or one version (soft; --permanent after a soft delete)',
  description:
    'A soft delete hides the subject or version from listings, latest and compatibility checks while its schema id still resolves, ' +
    'so data written with it stays readable. --permanent removes what was soft-deleted first. A version that other schemas reference cannot be deleted.',
  positionals: [
    { name: 'subject', description: 'The subject' },
    { name: 'version', description: 'One version (a number or latest); absent: the whole subject', optional: true },
  ],
  options: {
    permanent: { type: 'boolean', description: 'Remove for good (only after a soft delete)' },
  },
  examples: ['streambus schema delete orders-value 1', 'streambus schema delete orders-value && streambus schema delete orders-value --permanent'],
  async run(ctx) {
    const registry = registryOf(ctx);
    const subject = ctx.args.subject;
    const permanent = ctx.options.permanent ? '?permanent=true' : '';
    const version = ctx.args.version;
    const versions =
      version === undefined
        ? await registry.call<number[]>('DELETE', `/subjects/${subjectPath(subject)}${permanent}`)
        : [await registry.call<number>('DELETE', `/subjects/${subjectPath(subject)}/versions/${encodeURIComponent(version)}${permanent}`)];
    if (ctx.out.json) {
      ctx.out.writeJson({ subject, versions, permanent: ctx.options.permanent });
      return;
    }
    ctx.out.line(`${ctx.options.permanent ? 'Permanently deleted' : 'Soft-deleted'} ${subject} version${versions.length === 1 ? '' : 's'} ${versions.join(', ')}.`);
  },
});
