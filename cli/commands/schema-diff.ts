/**
 * `streambus schema diff`: every difference that matters for compatibility between two versions
 * of a subject (or a version and a local file), in both directions: what stops the newer schema
 * reading data written with the older (BACKWARD), and the older reading the newer (FORWARD).
 *
 * The comparison runs here, with the registry's own formats, on schemas (and their references)
 * fetched from the registry, so it works against any version, including soft-deleted ones.
 */
import { defineCommand } from '../command.js';
import {
  CompatibilityLevel,
  compatibilityProblems,
  formatFor,
  type ResolvedReference,
  type SchemaReference,
  type SchemaType,
} from '../../coordinator/index.js';
import { printProblems, readSchemaText, referencesOption, registryOf, schemaTypeOption, subjectPath, type ProblemLine, type RegistryHttp } from './schema-shared.js';

const NAME = 'schema diff';

interface VersionAnswer {
  readonly version: number;
  readonly schemaType?: SchemaType;
  readonly schema: string;
  readonly references?: readonly SchemaReference[];
}

function getVersion(registry: RegistryHttp, subject: string, version: string): Promise<VersionAnswer> {
  return registry.call<VersionAnswer>('GET', `/subjects/${subjectPath(subject)}/versions/${encodeURIComponent(version)}?deleted=true`);
}

async function resolve(registry: RegistryHttp, references: readonly SchemaReference[], depth = 0): Promise<ResolvedReference[]> {
  const out: ResolvedReference[] = [];
  for (const r of references) {
    const v = await getVersion(registry, r.subject, String(r.version));
    out.push({ ...r, schema: v.schema, schemaType: v.schemaType ?? 'AVRO', references: depth > 32 ? [] : await resolve(registry, v.references ?? [], depth + 1) });
  }
  return out;
}

export const command = defineCommand({
  name: NAME,
  summary: 'Show what breaks compatibility between two versions of a subject, both ways',
  description:
    'Compares version <from> with version <to> (default latest), or with the schema in --file. BACKWARD lists what stops the newer ' +
    'schema reading data written with the older; FORWARD what stops the older reading the newer. Each problem names its location and rule.',
  positionals: [
    { name: 'subject', description: 'The subject' },
    { name: 'from', description: 'The older version (a number)' },
    { name: 'to', description: 'The newer version (a number or latest; default latest)', optional: true },
  ],
  options: {
    file: { type: 'string', short: 'f', valueName: 'path', description: 'Compare <from> with this schema file instead of a version' },
    type: { type: 'string', valueName: 'type', description: 'The file\'s type: AVRO (default), PROTOBUF or JSON' },
    reference: { type: 'string', multiple: true, valueName: 'name=subject:version', description: 'A schema the file references (repeatable)' },
  },
  examples: ['streambus schema diff orders-value 1 2', 'streambus schema diff orders-value 3 --file order-v4.avsc --json'],
  async run(ctx) {
    const registry = registryOf(ctx);
    const subject = ctx.args.subject;
    const older = await getVersion(registry, subject, ctx.args.from);
    const newer: VersionAnswer =
      ctx.options.file !== undefined
        ? { version: 0, schemaType: schemaTypeOption(ctx.options.type, NAME), schema: await readSchemaText(ctx.options.file, ctx.stdin, NAME), references: referencesOption(ctx.options.reference, NAME) }
        : await getVersion(registry, subject, ctx.args.to ?? 'latest');
    const parse = async (v: VersionAnswer) => formatFor(v.schemaType ?? 'AVRO').parse(v.schema, await resolve(registry, v.references ?? []));
    const olderParsed = await parse(older);
    const newerParsed = await parse(newer);
    const problems = compatibilityProblems(CompatibilityLevel.FULL, newerParsed, [{ version: older.version, parsed: olderParsed }]);
    const lines = (direction: string): ProblemLine[] =>
      problems.filter((p) => p.direction === direction).map((p) => ({ rule: p.rule, location: p.location, description: p.message, version: null, direction: null }));
    const backward = lines('BACKWARD');
    const forward = lines('FORWARD');
    const to = newer.version === 0 ? (ctx.options.file ?? 'stdin') : newer.version;
    if (ctx.out.json) {
      ctx.out.writeJson({ subject, from: older.version, to, backwardCompatible: backward.length === 0, forwardCompatible: forward.length === 0, backward, forward });
      return;
    }
    ctx.out.line(`${subject}: version ${older.version} → ${to}`);
    ctx.out.line(`BACKWARD (the newer reads the older): ${backward.length === 0 ? 'compatible' : `${backward.length} problem${backward.length === 1 ? '' : 's'}`}`);
    printProblems(ctx, backward);
    ctx.out.line(`FORWARD (the older reads the newer): ${forward.length === 0 ? 'compatible' : `${forward.length} problem${forward.length === 1 ? '' : 's'}`}`);
    printProblems(ctx, forward);
  },
});
