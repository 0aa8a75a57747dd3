/**
 * `streambus schema compat set`: sets the compatibility level globally or for one subject, or with
 * --reset removes the subject's own level (or the global one, back to BACKWARD).
 */
import { UsageError, defineCommand } from '../command.js';
import { registryOf, subjectPath } from './schema-shared.js';

const NAME = 'schema compat set';

export const command = defineCommand({
  name: NAME,
  summary: 'Set the compatibility level (global, or a subject\'s)',
  description: 'Levels: NONE, BACKWARD (the default), BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE.',
  positionals: [
    { name: 'level', description: 'The level (or "reset" with no level: see --reset)', optional: true },
    { name: 'subject', description: 'A subject; absent: the global level', optional: true },
  ],
  options: {
    reset: { type: 'boolean', description: 'Remove the level instead (give the subject as the only argument)' },
  },
  examples: ['streambus schema compat set FULL orders-value', 'streambus schema compat set NONE', 'streambus schema compat set --reset orders-value'],
  async run(ctx) {
    const registry = registryOf(ctx);
    if (ctx.options.reset) {
      if (ctx.args.subject !== undefined) throw new UsageError('--reset takes the subject as its only argument', NAME);
      const subject = ctx.args.level;
      const previous = await registry.call<{ compatibilityLevel: string }>('DELETE', subject === undefined ? '/config' : `/config/${subjectPath(subject)}`);
      if (ctx.out.json) ctx.out.writeJson({ ...(subject === undefined ? {} : { subject }), reset: true, previous: previous.compatibilityLevel });
      else ctx.out.line(`Removed the ${subject === undefined ? 'global' : `${subject}`} compatibility level (was ${previous.compatibilityLevel}).`);
      return;
    }
    const level = ctx.args.level;
    if (level === undefined) throw new UsageError('name a level (or pass --reset)', NAME);
    const subject = ctx.args.subject;
    const answer = await registry.call<{ compatibility: string }>('PUT', subject === undefined ? '/config' : `/config/${subjectPath(subject)}`, { compatibility: level.toUpperCase() });
    if (ctx.out.json) {
      ctx.out.writeJson({ ...(subject === undefined ? {} : { subject }), compatibility: answer.compatibility });
      return;
    }
    ctx.out.line(`Compatibility of ${subject ?? 'the registry (global)'}: ${answer.compatibility}.`);
  },
});
