/**
 * `streambus schema compat get`: the compatibility level in force, globally or for a subject (its
 * own level, or the global one it falls back to).
 */
import { defineCommand } from '../command.js';
import { RegistryErrorCode, SchemaRegistryError } from '../../coordinator/index.js';
import { registryOf, subjectPath } from './schema-shared.js';

export const command = defineCommand({
  name: 'schema compat get',
  summary: 'Show the compatibility level (global, or a subject\'s)',
  positionals: [{ name: 'subject', description: 'A subject; absent: the global level', optional: true }],
  options: {},
  examples: ['streambus schema compat get', 'streambus schema compat get orders-value --json'],
  async run(ctx) {
    const registry = registryOf(ctx);
    const subject = ctx.args.subject;
    let level: string;
    let scope: 'global' | 'subject' = 'global';
    if (subject === undefined) {
      level = (await registry.call<{ compatibilityLevel: string }>('GET', '/config')).compatibilityLevel;
    } else {
      try {
        level = (await registry.call<{ compatibilityLevel: string }>('GET', `/config/${subjectPath(subject)}`)).compatibilityLevel;
        scope = 'subject';
      } catch (error) {
        if (!(error instanceof SchemaRegistryError) || error.errorCode !== RegistryErrorCode.SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED) throw error;
        level = (await registry.call<{ compatibilityLevel: string }>('GET', '/config')).compatibilityLevel;
      }
    }
    if (ctx.out.json) {
      ctx.out.writeJson({ ...(subject === undefined ? {} : { subject }), compatibility: level, scope });
      return;
    }
    ctx.out.line(subject === undefined ? `${level} (global)` : `${level} (${scope === 'subject' ? `set on ${subject}` : 'the global level; the subject has none of its own'})`);
  },
});
