/**
 * The registry's operations over a real MetadataState: writes are decided and applied in order
 * (what the coordinator's write pipeline does on a leader of one), and the state goes through
 * encode/decode of every command and a snapshot round trip, as replicas and restarts see it.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { decodeMetadataCommand, encodeMetadataCommand } from '../metadata/commands.js';
import { MetadataState } from '../metadata/state.js';
import type { WriteStep } from '../write-pipeline.js';
import { avroFormat } from './formats/avro.js';
import type { SchemaFormat, SchemaType } from './formats/types.js';
import { RegistryErrorCode, SchemaRegistryError } from './registry-errors.js';
import { SchemaRegistry, type SchemaRequest } from './schema-registry.js';

function formats(type: SchemaType): SchemaFormat {
  if (type !== 'AVRO') throw new Error(`this test registers Avro only, not ${type}`);
  return avroFormat;
}

/** A registry on a state of its own; every write goes through the log's encoding. */
function harness(): { registry: SchemaRegistry; state: () => MetadataState } {
  let state = MetadataState.empty();
  let offset = 0;
  const submit = <T>(_signal: AbortSignal | undefined, decide: (s: MetadataState) => WriteStep<T>): Promise<T> => {
    try {
      const step = decide(state);
      if (step.kind === 'read') return Promise.resolve(step.answer(state.lastAppliedOffset));
      if (step.kind !== 'write') throw new Error('membership in a registry test');
      const offsets = step.commands.map((command) => {
        state.apply({ offset: ++offset, command: decodeMetadataCommand(encodeMetadataCommand(command)) });
        return offset;
      });
      return Promise.resolve(step.answer(offsets));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  };
  const registry = new SchemaRegistry({ store: () => state.schemas, submit, formatFor: formats });
  return {
    registry,
    state: () => {
      // Every read of the state goes through a snapshot round trip, as a restarted node would see it.
      state = MetadataState.restore(JSON.parse(JSON.stringify(state.snapshot())));
      return state;
    },
  };
}

const record = (fields: object[]): SchemaRequest => ({
  schema: JSON.stringify({ type: 'record', name: 'Order', namespace: 'acme', fields }),
  schemaType: 'AVRO',
  references: [],
});

async function code(promise: Promise<unknown> | (() => unknown)): Promise<number> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    if (error instanceof SchemaRegistryError) return error.errorCode;
    throw error;
  }
  throw new Error('expected a registry error');
}

describe('schema registry > register', () => {
  it('gives the same id to the same schema across subjects and whitespace, and a new version only once', async () => {
    const { registry, state } = harness();
    const v1 = record([{ name: 'id', type: 'long' }]);
    const { id } = await registry.register('orders-value', v1);
    const spaced = { ...v1, schema: `  ${JSON.stringify(JSON.parse(v1.schema), null, 2)}` };
    expect(await registry.register('orders-value', spaced)).toEqual({ id });
    expect(await registry.register('payments-value', v1)).toEqual({ id });
    state();
    expect(registry.versions('orders-value')).toEqual([1]);
    expect(registry.idVersions(id)).toEqual([
      { subject: 'orders-value', version: 1 },
      { subject: 'payments-value', version: 1 },
    ]);
  });

  it('refuses a change BACKWARD forbids with every problem, and takes one it allows', async () => {
    const { registry } = harness();
    await registry.register('s', record([{ name: 'id', type: 'long' }]));
    expect(await code(registry.register('s', record([{ name: 'id', type: 'long' }, { name: 'qty', type: 'int' }])))).toBe(RegistryErrorCode.INCOMPATIBLE_SCHEMA);
    const ok = await registry.register('s', record([{ name: 'id', type: 'long' }, { name: 'qty', type: 'int', default: 0 }]));
    expect(ok.id).toBe(2);
    const verdict = registry.testCompatibility('s', 'latest', record([{ name: 'id', type: 'string' }, { name: 'x', type: 'int' }]), { verbose: true });
    expect(verdict.is_compatible).toBe(false);
    expect(verdict.messages?.some((m) => m.includes('READER_FIELD_MISSING_DEFAULT_VALUE'))).toBe(true);
    expect(verdict.messages?.some((m) => m.includes('TYPE_MISMATCH'))).toBe(true);
  });

  it('answers 42201 for an invalid schema and for a missing reference', async () => {
    const { registry } = harness();
    expect(await code(registry.register('s', { schema: '{"type":"record","name":"X"}', schemaType: 'AVRO', references: [] }))).toBe(RegistryErrorCode.INVALID_SCHEMA);
    expect(
      await code(registry.register('s', { ...record([{ name: 'a', type: 'acme.Address' }]), references: [{ name: 'acme.Address', subject: 'address', version: 1 }] })),
    ).toBe(RegistryErrorCode.INVALID_SCHEMA);
  });
});

describe('schema registry > delete', () => {
  it('follows Confluent\'s order: soft first, then permanent; ids stay resolvable after a soft delete', async () => {
    const { registry, state } = harness();
    const { id } = await registry.register('s', record([{ name: 'id', type: 'long' }]));
    await registry.register('s', record([{ name: 'id', type: 'long' }, { name: 'n', type: 'int', default: 1 }]));
    expect(await code(registry.deleteVersion('s', 1, true))).toBe(RegistryErrorCode.SCHEMA_VERSION_NOT_SOFT_DELETED);
    expect(await registry.deleteVersion('s', 1, false)).toBe(1);
    expect(await code(registry.deleteVersion('s', 1, false))).toBe(RegistryErrorCode.SCHEMA_VERSION_SOFT_DELETED);
    state();
    expect(await code(() => registry.version('s', 1))).toBe(RegistryErrorCode.VERSION_NOT_FOUND);
    expect(registry.version('s', 1, { deleted: true }).id).toBe(id);
    expect(registry.schemaById(id).schema).toContain('Order');
    expect(await registry.deleteVersion('s', 1, true)).toBe(1);
    expect(await code(registry.deleteVersion('s', 1, true))).toBe(RegistryErrorCode.VERSION_NOT_FOUND);
    expect(await code(registry.deleteSubject('s', true))).toBe(RegistryErrorCode.SUBJECT_NOT_SOFT_DELETED);
    expect(await registry.deleteSubject('s', false)).toEqual([2]);
    expect(await code(registry.deleteSubject('s', false))).toBe(RegistryErrorCode.SUBJECT_SOFT_DELETED);
    expect(await registry.deleteSubject('s', true)).toEqual([2]);
    expect(await code(() => registry.versions('s'))).toBe(RegistryErrorCode.SUBJECT_NOT_FOUND);
    // The content keeps its id when registered again.
    expect(await registry.register('s', record([{ name: 'id', type: 'long' }]))).toEqual({ id });
  });

  it('refuses to delete a version another schema references, even a soft-deleted referrer', async () => {
    const { registry } = harness();
    await registry.register('address', { schema: JSON.stringify({ type: 'record', name: 'Address', namespace: 'acme', fields: [{ name: 'city', type: 'string' }] }), schemaType: 'AVRO', references: [] });
    const person = await registry.register('person', {
      schema: JSON.stringify({ type: 'record', name: 'Person', namespace: 'acme', fields: [{ name: 'home', type: 'acme.Address' }] }),
      schemaType: 'AVRO',
      references: [{ name: 'acme.Address', subject: 'address', version: 1 }],
    });
    expect(registry.referencedBy('address', 1)).toEqual([person.id]);
    expect(await code(registry.deleteVersion('address', 1, false))).toBe(RegistryErrorCode.REFERENCE_EXISTS);
    await registry.deleteVersion('person', 1, false);
    expect(await code(registry.deleteVersion('address', 1, false))).toBe(RegistryErrorCode.REFERENCE_EXISTS);
    await registry.deleteVersion('person', 1, true);
    expect(await registry.deleteVersion('address', 1, false)).toBe(1);
  });
});

describe('schema registry > config and mode', () => {
  it('keeps subject levels apart from the global one and answers 40408 for a subject without one', async () => {
    const { registry } = harness();
    expect(registry.config(null)).toEqual({ compatibilityLevel: 'BACKWARD' });
    expect(await registry.setConfig('s', 'none')).toEqual({ compatibility: 'NONE' });
    expect(registry.config('s')).toEqual({ compatibilityLevel: 'NONE' });
    expect(await code(() => registry.config('other'))).toBe(RegistryErrorCode.SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED);
    expect(registry.config('other', { defaultToGlobal: true })).toEqual({ compatibilityLevel: 'BACKWARD' });
    expect(await code(registry.setConfig('s', 'SIDEWAYS'))).toBe(RegistryErrorCode.INVALID_COMPATIBILITY_LEVEL);
    expect(await registry.deleteConfig('s')).toEqual({ compatibilityLevel: 'NONE' });
  });

  it('refuses writes in READONLY, and IMPORT on a registry with subjects unless forced', async () => {
    const { registry } = harness();
    await registry.register('s', record([{ name: 'id', type: 'long' }]));
    expect(await code(registry.setMode(null, 'IMPORT'))).toBe(RegistryErrorCode.OPERATION_NOT_PERMITTED);
    await registry.setMode('s', 'READONLY');
    expect(await code(registry.register('s', record([{ name: 'id', type: 'long' }, { name: 'y', type: 'int', default: 0 }])))).toBe(RegistryErrorCode.OPERATION_NOT_PERMITTED);
    await registry.setMode('t', 'IMPORT', { force: true });
    expect(await registry.register('t', { ...record([{ name: 'id', type: 'string' }]), id: 100, version: 5 })).toEqual({ id: 100 });
    expect(registry.version('t', 'latest')).toMatchObject({ id: 100, version: 5 });
    expect(await code(registry.register('t', { ...record([{ name: 'other', type: 'string' }]), id: 100 }))).toBe(RegistryErrorCode.ID_DOES_NOT_MATCH);
  });

  it('registry errors are StreamBus errors with a StreamBus code', async () => {
    const { registry } = harness();
    await expect(registry.setConfig(null, 'SIDEWAYS')).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST, status: 422 });
  });
});
