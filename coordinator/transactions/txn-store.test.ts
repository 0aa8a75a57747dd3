import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type MetadataCommand, decodeMetadataCommand, encodeMetadataCommand } from '../metadata/commands.js';
import { METADATA_SNAPSHOT_VERSION, MetadataState } from '../metadata/state.js';
import { type TransactionImage, TxnState } from './txn-types.js';

const image = (over: Partial<TransactionImage> = {}): TransactionImage => ({
  transactionalId: 'tx-1',
  producerId: 3,
  producerEpoch: 1,
  lastProducerEpoch: 0,
  timeoutMs: 60_000,
  state: TxnState.ONGOING,
  startTimeMs: 1_000,
  updateTimeMs: 2_000,
  topics: [{ topic: 'orders', partitions: [0, 2] }],
  groups: ['billing'],
  pendingOffsets: [{ group: 'billing', topic: 'orders', partition: 0, offset: 10, leaderEpoch: -1, metadata: 'm' }],
  ...over,
});

function stateOf(commands: readonly MetadataCommand[]): MetadataState {
  const state = MetadataState.empty();
  commands.forEach((command, offset) => state.apply({ offset, command }));
  return state;
}

function codeOf(run: () => unknown): ErrorCode {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return (error as StreamBusError).code;
  }
  throw new Error('expected a failure');
}

describe('transactions > log commands', () => {
  it('round-trips each transaction command through its bytes', () => {
    const commands: MetadataCommand[] = [
      { type: 'allocate-producer-ids', firstId: 0, count: 1000 },
      { type: 'store-transaction', transaction: image() },
      { type: 'delete-transaction', transactionalId: 'tx-1', producerId: 3, producerEpoch: 1 },
    ];
    for (const command of commands) expect(decodeMetadataCommand(encodeMetadataCommand(command))).toEqual(command);
  });

  it('refuses malformed transactions before they reach the log (INVALID_REQUEST)', () => {
    const bad: TransactionImage[] = [
      image({ state: 'Dead' as TransactionImage['state'] }),
      image({ topics: [{ topic: 'orders', partitions: [2, 0] }] }),
      image({ topics: [{ topic: 'b', partitions: [0] }, { topic: 'a', partitions: [0] }] }),
      image({ pendingOffsets: [{ group: 'other', topic: 'orders', partition: 0, offset: 1, leaderEpoch: -1, metadata: '' }] }),
      image({ state: TxnState.EMPTY }),
      image({ startTimeMs: -1 }),
      image({ producerEpoch: 40_000 }),
    ];
    for (const transaction of bad) expect(codeOf(() => encodeMetadataCommand({ type: 'store-transaction', transaction }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(codeOf(() => encodeMetadataCommand({ type: 'allocate-producer-ids', firstId: 0, count: 0 }))).toBe(ErrorCode.INVALID_REQUEST);
  });
});

describe('transactions > applied state', () => {
  it('moves the next producer id past each allocated block', () => {
    const state = stateOf([
      { type: 'allocate-producer-ids', firstId: 0, count: 1000 },
      { type: 'allocate-producer-ids', firstId: 1000, count: 1000 },
    ]);
    expect(state.transactions.nextProducerId).toBe(2000);
  });

  it('stores transactions by id and deletes one only for its current producer id and epoch', () => {
    const state = stateOf([
      { type: 'allocate-producer-ids', firstId: 0, count: 10 },
      { type: 'store-transaction', transaction: image() },
      { type: 'store-transaction', transaction: image({ transactionalId: 'tx-0', state: TxnState.EMPTY, startTimeMs: -1, topics: [], groups: [], pendingOffsets: [] }) },
      { type: 'delete-transaction', transactionalId: 'tx-1', producerId: 3, producerEpoch: 0 },
    ]);
    expect(state.transactions.transactions().map((t) => t.transactionalId)).toEqual(['tx-0', 'tx-1']);
    state.apply({ offset: 10, command: { type: 'delete-transaction', transactionalId: 'tx-1', producerId: 3, producerEpoch: 1 } });
    expect(state.transactions.transaction('tx-1')).toBeUndefined();
  });

  it('carries producer ids and transactions through a snapshot, and leaves them out while there are none', () => {
    expect(MetadataState.empty().snapshot().transactions).toBeUndefined();
    const state = stateOf([
      { type: 'allocate-producer-ids', firstId: 0, count: 1000 },
      { type: 'store-transaction', transaction: image() },
    ]);
    const snapshot = JSON.parse(JSON.stringify(state.snapshot())) as unknown;
    const restored = MetadataState.restore(snapshot);
    expect(restored.snapshot().version).toBe(METADATA_SNAPSHOT_VERSION);
    expect(restored.transactions.nextProducerId).toBe(1000);
    expect(restored.transactions.transaction('tx-1')).toEqual(image());
  });

  it('restores a snapshot from before transactions with none, and refuses transactions in one (CORRUPT_MESSAGE)', () => {
    const older = { ...MetadataState.empty().snapshot(), version: 6 };
    expect(MetadataState.restore(older).transactions.nextProducerId).toBe(0);
    const withTransactions = { ...older, transactions: { nextProducerId: 10, transactions: [] } };
    expect(codeOf(() => MetadataState.restore(withTransactions))).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  it('refuses a snapshot with a transaction whose producer id was never allocated (CORRUPT_MESSAGE)', () => {
    const snapshot = { ...MetadataState.empty().snapshot(), transactions: { nextProducerId: 2, transactions: [image()] } };
    expect(codeOf(() => MetadataState.restore(JSON.parse(JSON.stringify(snapshot))))).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  it('keeps a clone independent of the state it was copied from', () => {
    const state = stateOf([{ type: 'allocate-producer-ids', firstId: 0, count: 10 }]);
    const copy = state.clone();
    copy.apply({ offset: 5, command: { type: 'store-transaction', transaction: image() } });
    expect(state.transactions.transaction('tx-1')).toBeUndefined();
    expect(copy.transactions.transaction('tx-1')).toBeDefined();
  });
});
