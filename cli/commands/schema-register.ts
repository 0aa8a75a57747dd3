/**
 * `streambus schema register`: registers a schema under a subject (a new version, or the existing
 * one when the same schema is registered there already) and prints its global id and version.
 */
import { defineCommand } from '../command.js';
import { readSchemaText, referencesOption, registryOf, schemaBody, schemaTypeOption, subjectPath } from './schema-shared.js';

const NAME = 'schema register';

export const command = defineCommand({
  name: NAME,
  summary: 'Register a schema under a subject (prints its id and version)',
  description:
    'Reads the schema from --file (or stdin) and registers it with the schema registry (schema.registry.url, --registry). ' +
    'The same schema gets the same global id in every subject; an incompatible schema is refused with every problem listed.',
  positionals: [{ name: 'subject', description: 'The subject, e.g. orders-value' }],
  options: {
    file: { type: 'string', short: 'f', valueName: 'path', description: 'The schema file (- or absent: stdin)' },
    type: { type: 'string', valueName: 'type', description: 'AVRO (default), PROTOBUF or JSON' },
    reference: { type: 'string', multiple: true, valueName: 'name=subject:version', description: 'A schema this one references (repeatable)' },
  },
  examples: [
    'streambus schema register orders-value --file order.avsc',
    'streambus schema register orders-proto --type PROTOBUF --file order.proto --reference acme/money.proto=money:1',
  ],
  async run(ctx) {
    const registry = registryOf(ctx);
    const subject = ctx.args.subject;
    const schemaType = schemaTypeOption(ctx.options.type, NAME);
    const references = referencesOption(ctx.options.reference, NAME);
    const body = schemaBody(await readSchemaText(ctx.options.file, ctx.stdin, NAME), schemaType, references);
    const { id } = await registry.call<{ id: number }>('POST', `/subjects/${subjectPath(subject)}/versions`, body);
    const found = await registry.call<{ version: number }>('POST', `/subjects/${subjectPath(subject)}`, body);
    if (ctx.out.json) {
      ctx.out.writeJson({ subject, id, version: found.version, schemaType });
      return;
    }
    ctx.out.line(`Registered ${subject} version ${found.version} (schema id ${id}).`);
  },
});
