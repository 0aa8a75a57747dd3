/**
 * The registry's side of compatibility (reference §2.1): which live versions a level compares a
 * new schema with, the check itself (the formats' checkCompatibility: formats/index.ts), and how a
 * problem reads in Confluent's verbose messages. Every problem is kept, tagged with the version
 * and direction that found it, so the REST API's verbose answer and the CLI can list them all.
 *
 * Pure: no node:* imports.
 */
import { type OlderVersion, type VersionedProblem, checkCompatibility } from './formats/index.js';
import type { ParsedSchema } from './formats/types.js';
import { type CompatibilityLevel, CompatibilityLevel as Level } from './schema-commands.js';

/** An earlier version to compare with. */
export type EarlierVersion = OlderVersion;

/** A problem found against one earlier version, and the direction of the check that found it. */
export type VersionProblem = VersionedProblem;

/** Whether the level compares with every live version rather than the latest. */
export function isTransitive(level: CompatibilityLevel): boolean {
  return level === Level.BACKWARD_TRANSITIVE || level === Level.FORWARD_TRANSITIVE || level === Level.FULL_TRANSITIVE;
}

/** The earlier versions a level compares with, from the live ones in ascending order. */
export function versionsToCheck<T>(level: CompatibilityLevel, live: readonly T[]): readonly T[] {
  if (level === Level.NONE || live.length === 0) return [];
  return isTransitive(level) ? live : live.slice(-1);
}

/**
 * Every problem with `newer` under `level` against `earlier` (ascending; the formats' check takes
 * the latest of them for a non-transitive level, all for a transitive one). Empty when compatible.
 */
export function compatibilityProblems(level: CompatibilityLevel, newer: ParsedSchema, earlier: readonly EarlierVersion[]): VersionProblem[] {
  return [...checkCompatibility(level, newer, earlier).problems];
}

/**
 * One problem as Confluent's verbose messages show them: a brace-delimited record naming the rule
 * (errorType), what is wrong (description), where (location), and the version it was checked against.
 */
export function problemMessage(problem: VersionProblem): string {
  const quote = (text: string): string => text.replaceAll("'", "\\'");
  return (
    `{errorType:'${problem.rule}', description:'${quote(problem.message)}', location:'${quote(problem.location)}', ` +
    `oldSchemaVersion:${problem.version}, direction:'${problem.direction}'}`
  );
}
