/**
 * `streambus schema get`: one version of a subject (latest by default), or a schema by global id,
 * with its type, references and text.
 */
import { UsageError, defineCommand } from '../command.js';
import { registryOf, subjectPath } from './schema-shared.js';

const NAME = 'schema get';

interface VersionAnswer {
  readonly subject: string;
  readonly id: number;
  readonly version: number;
  readonly schemaType?: string;
  readonly schema: string;
  readonly references?: readonly { readonly name: string; readonly subject: string; readonly version: number }[];
}

/** Avro and JSON Schema texts printed indented; Protobuf as registered. */
function pretty(schema: string): string {
  try {
    return JSON.stringify(JSON.parse(schema), null, 2);
  } catch {
    return schema;
  }
}

export const command = defineCommand({
  name: NAME,
  summary: 'Show a subject\'s schema (a version, latest by default) or a schema by id',
  positionals: [
    { name: 'subject', description: 'The subject', optional: true },
    { name: 'version', description: 'A version number or latest (default)', optional: true },
  ],
  options: {
    id: { type: 'integer', min: 1, valueName: 'id', description: 'Show the schema with this global id instead' },
    deleted: { type: 'boolean', description: 'Include soft-deleted versions' },
  },
  examples: ['streambus schema get orders-value', 'streambus schema get orders-value 2 --json', 'streambus schema get --id 7'],
  async run(ctx) {
    const registry = registryOf(ctx);
    const deleted = ctx.options.deleted ? '?deleted=true' : '';
    if (ctx.options.id !== undefined) {
      const id = ctx.options.id;
      const schema = await registry.call<Omit<VersionAnswer, 'subject' | 'id' | 'version'>>('GET', `/schemas/ids/${id}`);
      const usedBy = await registry.call<{ subject: string; version: number }[]>('GET', `/schemas/ids/${id}/versions${deleted}`);
      if (ctx.out.json) {
        ctx.out.writeJson({ id, schemaType: schema.schemaType ?? 'AVRO', references: schema.references ?? [], schema: schema.schema, versions: usedBy });
        return;
      }
      ctx.out.pairs([
        ['id', id],
        ['type', schema.schemaType ?? 'AVRO'],
        ['used by', usedBy.map((u) => `${u.subject} v${u.version}`).join(', ') || '(only soft-deleted versions)'],
      ]);
      ctx.out.line(pretty(schema.schema));
      return;
    }
    const subject = ctx.args.subject;
    if (subject === undefined) throw new UsageError('name a subject, or pass --id', NAME);
    const answer = await registry.call<VersionAnswer>('GET', `/subjects/${subjectPath(subject)}/versions/${encodeURIComponent(ctx.args.version ?? 'latest')}${deleted}`);
    if (ctx.out.json) {
      ctx.out.writeJson({ ...answer, schemaType: answer.schemaType ?? 'AVRO', references: answer.references ?? [] });
      return;
    }
    ctx.out.pairs([
      ['subject', answer.subject],
      ['version', answer.version],
      ['id', answer.id],
      ['type', answer.schemaType ?? 'AVRO'],
      ...(answer.references === undefined ? [] : [['references', answer.references.map((r) => `${r.name} = ${r.subject} v${r.version}`).join(', ')] as const]),
    ]);
    ctx.out.line(pretty(answer.schema));
  },
});
