/**
 * `streambus schema list`: subjects with their latest version, its global id and schema type.
 */
import { defineCommand } from '../command.js';
import { registryOf } from './schema-shared.js';

export const command = defineCommand({
  name: 'schema list',
  summary: 'List subjects with their latest version, id and type',
  positionals: [],
  options: {
    prefix: { type: 'string', valueName: 'text', description: 'Only subjects starting with this' },
    deleted: { type: 'boolean', description: 'Include soft-deleted versions' },
  },
  examples: ['streambus schema list', 'streambus schema list --prefix orders --json'],
  async run(ctx) {
    const registry = registryOf(ctx);
    const query = new URLSearchParams({ latestOnly: 'true', subjectPrefix: ctx.options.prefix ?? '', ...(ctx.options.deleted ? { deleted: 'true' } : {}) });
    const latest = await registry.call<{ subject: string; version: number; id: number; schemaType?: string }[]>('GET', `/schemas?${query.toString()}`);
    const subjects = latest.map((s) => ({ subject: s.subject, version: s.version, id: s.id, schemaType: s.schemaType ?? 'AVRO' }));
    if (ctx.out.json) {
      ctx.out.writeJson({ subjects });
      return;
    }
    if (subjects.length === 0) {
      ctx.out.note('No subjects.');
      return;
    }
    ctx.out.table([{ key: 'subject' }, { key: 'version', header: 'LATEST' }, { key: 'id' }, { key: 'schemaType', header: 'TYPE' }], subjects);
  },
});
