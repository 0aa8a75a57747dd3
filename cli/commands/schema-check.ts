/**
 * `streambus schema check`: would this schema be accepted under the subject's compatibility level?
 * Prints every problem with its location and rule; exits 1 (INCOMPATIBLE_SCHEMA) when incompatible.
 */
import { ReportedFailure, defineCommand } from '../command.js';
import { RegistryErrorCode, SchemaRegistryError } from '../../coordinator/index.js';
import { parseProblem, printProblems, readSchemaText, referencesOption, registryOf, schemaBody, schemaTypeOption, subjectPath, type ProblemLine } from './schema-shared.js';

const NAME = 'schema check';

export const command = defineCommand({
  name: NAME,
  summary: 'Test a schema against a subject\'s compatibility level, listing every problem',
  description:
    'Without --against, runs the check registration would run (the latest live version, or every live version for a transitive level). ' +
    'Each problem is printed with where it is in the schema and the rule it breaks. Exits 1 when the schema is incompatible.',
  positionals: [{ name: 'subject', description: 'The subject' }],
  options: {
    file: { type: 'string', short: 'f', valueName: 'path', description: 'The schema file (- or absent: stdin)' },
    type: { type: 'string', valueName: 'type', description: 'AVRO (default), PROTOBUF or JSON' },
    reference: { type: 'string', multiple: true, valueName: 'name=subject:version', description: 'A schema this one references (repeatable)' },
    against: { type: 'string', valueName: 'version', description: 'Check against this version only (a number or latest)' },
  },
  examples: ['streambus schema check orders-value --file order-v2.avsc', 'streambus schema check orders-value --against 1 --file order-v2.avsc --json'],
  async run(ctx) {
    const registry = registryOf(ctx);
    const subject = ctx.args.subject;
    const body = schemaBody(await readSchemaText(ctx.options.file, ctx.stdin, NAME), schemaTypeOption(ctx.options.type, NAME), referencesOption(ctx.options.reference, NAME));
    const version = ctx.options.against === undefined ? '' : `/${encodeURIComponent(ctx.options.against)}`;
    const answer = await registry.call<{ is_compatible: boolean; messages?: string[] }>(
      'POST',
      `/compatibility/subjects/${subjectPath(subject)}/versions${version}?verbose=true`,
      body,
    );
    const problems = (answer.messages ?? []).map(parseProblem).filter((p): p is ProblemLine => p !== undefined);
    if (ctx.out.json) ctx.out.writeJson({ subject, compatible: answer.is_compatible, problems });
    else if (answer.is_compatible) ctx.out.line(`Compatible with ${subject}.`);
    else {
      ctx.out.line(`Incompatible with ${subject}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
      printProblems(ctx, problems);
    }
    if (!answer.is_compatible) {
      const incompatible = new SchemaRegistryError(RegistryErrorCode.INCOMPATIBLE_SCHEMA, `the schema is incompatible with ${subject} (${problems.length} problems)`);
      // The JSON document above already says so: exit 1 without a second document.
      throw ctx.out.json ? new ReportedFailure(incompatible) : incompatible;
    }
  },
});
