/**
 * The registry's store and commands as the metadata log and snapshots see them: commands encode
 * canonically and refuse malformed input with a typed error, the store applies them identically
 * after a snapshot round trip, and restore refuses a snapshot that could not have been written.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { decodeMetadataCommand, encodeMetadataCommand, type MetadataCommand } from '../metadata/commands.js';
import { MetadataState } from '../metadata/state.js';

const register = (subject: string, version: number, id: number, canonical = `{"n":${id}}`): MetadataCommand => ({
  type: 'schema-register',
  subject,
  version,
  id,
  schemaType: 'AVRO',
  schema: canonical,
  canonical,
  references: [],
});

function stateOf(commands: readonly MetadataCommand[]): MetadataState {
  const state = MetadataState.empty();
  commands.forEach((command, i) => state.apply({ offset: i + 1, command: decodeMetadataCommand(encodeMetadataCommand(command)) }));
  return state;
}

function code(run: () => unknown): ErrorCode {
  try {
    run();
  } catch (error) {
    if (error instanceof StreamBusError) return error.code;
    throw error;
  }
  throw new Error('expected a StreamBusError');
}

describe('schema store > commands', () => {
  it('round-trips every schema command through the log encoding', () => {
    const commands: MetadataCommand[] = [
      register('a', 1, 1),
      { type: 'schema-delete-versions', subject: 'a', versions: [1], permanent: false },
      { type: 'schema-delete-subject', subject: 'a', permanent: true },
      { type: 'schema-set-config', subject: null, compatibility: 'FULL' },
      { type: 'schema-set-mode', subject: 'a', mode: null },
      { type: 'schema-registry-endpoint', nodeId: 1, host: '127.0.0.1', port: 8081 },
    ];
    for (const command of commands) expect(decodeMetadataCommand(encodeMetadataCommand(command))).toEqual(command);
  });

  it('refuses a command with an unknown field, a bad level, or versions out of order, with INVALID_REQUEST', () => {
    expect(code(() => encodeMetadataCommand({ ...register('a', 1, 1), extra: 1 } as unknown as MetadataCommand))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => encodeMetadataCommand({ type: 'schema-set-config', subject: null, compatibility: 'SIDEWAYS' } as unknown as MetadataCommand))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => encodeMetadataCommand({ type: 'schema-delete-versions', subject: 'a', versions: [2, 1], permanent: true }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => encodeMetadataCommand(register('a', 0, 1)))).toBe(ErrorCode.INVALID_REQUEST);
  });
});

describe('schema store > apply and snapshots', () => {
  it('keeps ids, versions, deletes and settings identical across a snapshot round trip', () => {
    const state = stateOf([
      register('a', 1, 1),
      register('b', 1, 1),
      register('a', 2, 2),
      { type: 'schema-delete-versions', subject: 'a', versions: [1], permanent: false },
      { type: 'schema-set-config', subject: 'b', compatibility: 'NONE' },
      { type: 'schema-set-mode', subject: null, mode: 'READONLY' },
      { type: 'schema-registry-endpoint', nodeId: 2, host: 'h', port: 1 },
    ]);
    const restored = MetadataState.restore(JSON.parse(JSON.stringify(state.snapshot())));
    expect(restored.snapshot()).toEqual(state.snapshot());
    const schemas = restored.schemas;
    expect(schemas.subject('a')?.versions).toEqual([
      { version: 1, id: 1, deleted: true },
      { version: 2, id: 2, deleted: false },
    ]);
    expect(schemas.usages(1).map((u) => u.subject)).toEqual(['a', 'b']);
    expect(schemas.idOf('AVRO', '{"n":1}', [])).toBe(1);
    expect(schemas.compatibility('b')).toBe('NONE');
    expect(schemas.mode(null)).toBe('READONLY');
    expect(schemas.endpoint(2)).toEqual({ nodeId: 2, host: 'h', port: 1 });
  });

  it('keeps an id\'s content after a permanent delete, and leaves no snapshot field for an empty registry', () => {
    const state = stateOf([register('a', 1, 7), { type: 'schema-delete-subject', subject: 'a', permanent: false }, { type: 'schema-delete-subject', subject: 'a', permanent: true }]);
    expect(state.schemas.subject('a')).toBeUndefined();
    expect(state.schemas.usages(7)).toEqual([]);
    expect(state.schemas.idOf('AVRO', '{"n":7}', [])).toBe(7);
    expect(state.schemas.maxId).toBe(7);
    expect(MetadataState.empty().snapshot()).not.toHaveProperty('schemas');
  });

  it('a clone changes apart from the state it was taken from', () => {
    const state = stateOf([register('a', 1, 1)]);
    const copy = state.clone();
    copy.apply({ offset: 2, command: register('a', 2, 2) });
    expect(state.schemas.subject('a')?.versions).toHaveLength(1);
    expect(copy.schemas.subject('a')?.versions).toHaveLength(2);
  });

  it('refuses a snapshot whose versions name an unknown id, or whose subjects are out of order, with CORRUPT_MESSAGE', () => {
    const good = stateOf([register('a', 1, 1), register('b', 1, 1)]).snapshot() as unknown as { schemas: { subjects: unknown[]; schemas: unknown[] } };
    const dangling = JSON.parse(JSON.stringify(good)) as typeof good;
    dangling.schemas.schemas = [];
    expect(code(() => MetadataState.restore(dangling))).toBe(ErrorCode.CORRUPT_MESSAGE);
    const unsorted = JSON.parse(JSON.stringify(good)) as typeof good;
    unsorted.schemas.subjects.reverse();
    expect(code(() => MetadataState.restore(unsorted))).toBe(ErrorCode.CORRUPT_MESSAGE);
    const old = { ...JSON.parse(JSON.stringify(good)), version: 5 } as unknown;
    expect(code(() => MetadataState.restore(old))).toBe(ErrorCode.CORRUPT_MESSAGE);
  });
});
