/**
 * The small vocabulary the coordinator's operation files share: how they submit a decision to the
 * write pipeline (Submit, which refuses once the coordinator failed or closes), and the two kinds
 * of step a decision returns: a read answered at the applied offset, or a write of commands.
 */
import type { MetadataCommand } from './metadata/commands.js';
import type { MetadataStateView } from './metadata/state.js';
import type { WriteStep } from './write-pipeline.js';

/** Runs `decide` in the write pipeline on the leader; rejects when the coordinator refuses work. */
export type Submit = <T>(signal: AbortSignal | undefined, decide: (state: MetadataStateView) => WriteStep<T>) => Promise<T>;

/** A step that changes nothing: answered with the metadata offset it was decided at. */
export function read<T>(answer: (metadataOffset: number) => T): WriteStep<T> {
  return { kind: 'read', answer };
}

/** A step that appends `commands` (a read when there are none), answered with their offsets. */
export function write<T>(commands: readonly MetadataCommand[], answer: (offsets: readonly number[]) => T): WriteStep<T> {
  return commands.length === 0 ? { kind: 'read', answer: () => answer([]) } : { kind: 'write', commands, answer };
}
