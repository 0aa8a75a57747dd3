/**
 * The metadata commands of producer ids and transactions, and their structural readers.
 *
 * Like groups (../groups/group-commands.ts), transactions live in the Raft metadata log, and only
 * what a new coordinator leader needs reaches it:
 * - `allocate-producer-ids`: the next block of producer ids goes to the current leader. Ids are
 *   handed out from the block in memory; a leader that takes over allocates a block of its own, so
 *   an id is never handed out twice (the old leader's unused ids are simply never used).
 * - `store-transaction`: a transactional id's whole image after a change (init, a partition or
 *   group added, a pending offset, Prepare*, Complete*). A new leader resumes from these images.
 * - `delete-transaction`: an idle transactional id expired (transactional.id.expiration.ms). It
 *   names the producer id and epoch it was decided for, and applies only while they are current.
 *
 * Completing a commit writes store-transaction (CompleteCommit) together with the group offsets
 * the transaction carried (a commit-offsets command of ../groups/group-commands.ts) in ONE Raft
 * entry, so the offsets become visible exactly when the transaction is complete.
 *
 * Times are the leader's wall clock in ms, decided once and logged. Pure: no node:* imports.
 */
import type { ShapeReader } from '../metadata/shape.js';
import {
  MAX_PRODUCER_EPOCH,
  MAX_TRANSACTIONAL_ID_LENGTH,
  type PendingTxnOffset,
  type StoredTxnState,
  type TransactionImage,
  TxnState,
  type TxnTopicPartitions,
} from './txn-types.js';

export const TxnCommandType = {
  ALLOCATE_PRODUCER_IDS: 'allocate-producer-ids',
  STORE_TRANSACTION: 'store-transaction',
  DELETE_TRANSACTION: 'delete-transaction',
} as const;
export type TxnCommandType = (typeof TxnCommandType)[keyof typeof TxnCommandType];

/** The largest block of producer ids one command may allocate. */
export const MAX_PRODUCER_ID_BLOCK = 1_000_000;
const MAX_TOPIC_LENGTH = 249;
const MAX_GROUP_ID_LENGTH = 1024;
const MAX_PARTITION = 2 ** 31 - 1;
const MAX_INT32 = 2 ** 31 - 1;
/** Bounds for the reader: partitions, groups and offsets in one transaction. */
const MAX_TXN_TOPICS = 100_000;
const MAX_TXN_PARTITIONS = 1_000_000;
const MAX_TXN_GROUPS = 10_000;
const MAX_OFFSET_METADATA_LENGTH = 1024 * 1024;

/** Producer ids firstId .. firstId + count - 1 go to the leader; firstId is the state's next id. */
export interface AllocateProducerIdsCommand {
  readonly type: 'allocate-producer-ids';
  readonly firstId: number;
  readonly count: number;
}

export interface StoreTransactionCommand {
  readonly type: 'store-transaction';
  readonly transaction: TransactionImage;
}

export interface DeleteTransactionCommand {
  readonly type: 'delete-transaction';
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
}

export type TxnCommand = AllocateProducerIdsCommand | StoreTransactionCommand | DeleteTransactionCommand;

const txnCommandTypes: ReadonlySet<unknown> = new Set(Object.values(TxnCommandType));

/** Whether `type` names a transaction command (so commands.ts hands its reading to this file). */
export function isTxnCommandType(type: unknown): type is TxnCommandType {
  return txnCommandTypes.has(type);
}

/** Whether a metadata command is a transaction command (narrows the command). */
export function isTxnCommand(command: { readonly type: string }): command is TxnCommand {
  return txnCommandTypes.has(command.type);
}

const storedStates: ReadonlySet<unknown> = new Set(Object.values(TxnState).filter((s) => s !== TxnState.DEAD));

function transactionalId(shape: ShapeReader, value: unknown, path: string): string {
  return shape.string(value, path, { maxLength: MAX_TRANSACTIONAL_ID_LENGTH });
}

function readTopics(shape: ShapeReader, value: unknown, path: string): TxnTopicPartitions[] {
  let previous: string | undefined;
  return shape.array(value, path, MAX_TXN_TOPICS, (v, at) => {
    const t = shape.object(v, at, ['topic', 'partitions']);
    const topic = shape.string(t.topic, `${at}.topic`, { maxLength: MAX_TOPIC_LENGTH });
    if (previous !== undefined && previous >= topic) shape.fail(`${at}.topic`, `after ${JSON.stringify(previous)} (sorted, unique)`, topic);
    previous = topic;
    let last = -1;
    const partitions = shape.array(t.partitions, `${at}.partitions`, MAX_TXN_PARTITIONS, (pv, pat) => {
      last = shape.integer(pv, pat, last + 1, MAX_PARTITION);
      return last;
    });
    if (partitions.length === 0) shape.fail(`${at}.partitions`, 'non-empty', []);
    return { topic, partitions };
  });
}

function readGroups(shape: ShapeReader, value: unknown, path: string): string[] {
  let previous: string | undefined;
  return shape.array(value, path, MAX_TXN_GROUPS, (v, at) => {
    const group = shape.string(v, at, { maxLength: MAX_GROUP_ID_LENGTH });
    if (previous !== undefined && previous >= group) shape.fail(at, `after ${JSON.stringify(previous)} (sorted, unique)`, group);
    previous = group;
    return group;
  });
}

function offsetOrder(a: PendingTxnOffset, b: PendingTxnOffset): number {
  if (a.group !== b.group) return a.group < b.group ? -1 : 1;
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}

function readPendingOffsets(shape: ShapeReader, value: unknown, path: string, groups: readonly string[]): PendingTxnOffset[] {
  let previous: PendingTxnOffset | undefined;
  return shape.array(value, path, MAX_TXN_PARTITIONS, (v, at) => {
    const o = shape.object(v, at, ['group', 'topic', 'partition', 'offset', 'leaderEpoch', 'metadata']);
    const offset: PendingTxnOffset = {
      group: shape.string(o.group, `${at}.group`, { maxLength: MAX_GROUP_ID_LENGTH }),
      topic: shape.string(o.topic, `${at}.topic`, { maxLength: MAX_TOPIC_LENGTH }),
      partition: shape.integer(o.partition, `${at}.partition`, 0, MAX_PARTITION),
      offset: shape.integer(o.offset, `${at}.offset`, 0),
      leaderEpoch: shape.integer(o.leaderEpoch, `${at}.leaderEpoch`, -1, MAX_INT32),
      metadata: shape.string(o.metadata, `${at}.metadata`, { minLength: 0, maxLength: MAX_OFFSET_METADATA_LENGTH }),
    };
    if (!groups.includes(offset.group)) shape.fail(`${at}.group`, 'one of the transaction\'s groups', offset.group);
    if (previous !== undefined && offsetOrder(previous, offset) >= 0) shape.fail(at, 'after the previous offset (sorted by group, topic, partition; unique)', v);
    previous = offset;
    return offset;
  });
}

/**
 * Reads a transaction image (a command's or a snapshot's). An open or completing transaction has
 * a start time; one without (Empty, Complete*) holds no partitions, groups or offsets.
 */
export function readTransactionImage(shape: ShapeReader, value: unknown, path: string): TransactionImage {
  const t = shape.object(value, path, [
    'transactionalId',
    'producerId',
    'producerEpoch',
    'lastProducerEpoch',
    'timeoutMs',
    'state',
    'startTimeMs',
    'updateTimeMs',
    'topics',
    'groups',
    'pendingOffsets',
  ]);
  if (!storedStates.has(t.state)) shape.fail(`${path}.state`, `one of ${[...storedStates].join(', ')}`, t.state);
  const groups = readGroups(shape, t.groups, `${path}.groups`);
  const image: TransactionImage = {
    transactionalId: transactionalId(shape, t.transactionalId, `${path}.transactionalId`),
    producerId: shape.integer(t.producerId, `${path}.producerId`, 0),
    producerEpoch: shape.integer(t.producerEpoch, `${path}.producerEpoch`, 0, MAX_PRODUCER_EPOCH),
    lastProducerEpoch: shape.integer(t.lastProducerEpoch, `${path}.lastProducerEpoch`, -1, MAX_PRODUCER_EPOCH),
    timeoutMs: shape.integer(t.timeoutMs, `${path}.timeoutMs`, 1, MAX_INT32),
    state: t.state as StoredTxnState,
    startTimeMs: shape.integer(t.startTimeMs, `${path}.startTimeMs`, -1),
    updateTimeMs: shape.integer(t.updateTimeMs, `${path}.updateTimeMs`, 0),
    topics: readTopics(shape, t.topics, `${path}.topics`),
    groups,
    pendingOffsets: readPendingOffsets(shape, t.pendingOffsets, `${path}.pendingOffsets`, groups),
  };
  const open = image.state === TxnState.ONGOING || image.state === TxnState.PREPARE_COMMIT || image.state === TxnState.PREPARE_ABORT;
  if (open !== image.startTimeMs >= 0) shape.fail(`${path}.startTimeMs`, open ? 'a start time for an open transaction' : '-1 without an open transaction', t.startTimeMs);
  if (!open && (image.topics.length > 0 || image.groups.length > 0)) shape.fail(`${path}.topics`, 'empty without an open transaction', t.topics);
  return image;
}

/**
 * Checks a transaction command's structure and returns a fresh copy in canonical field order (see
 * readMetadataCommand in ../metadata/commands.ts, which hands transaction commands here).
 */
export function readTxnCommand(shape: ShapeReader, value: unknown, type: TxnCommandType, path: string): TxnCommand {
  switch (type) {
    case TxnCommandType.ALLOCATE_PRODUCER_IDS: {
      const c = shape.object(value, path, ['type', 'firstId', 'count']);
      return { type, firstId: shape.integer(c.firstId, `${path}.firstId`, 0), count: shape.integer(c.count, `${path}.count`, 1, MAX_PRODUCER_ID_BLOCK) };
    }
    case TxnCommandType.STORE_TRANSACTION: {
      const c = shape.object(value, path, ['type', 'transaction']);
      return { type, transaction: readTransactionImage(shape, c.transaction, `${path}.transaction`) };
    }
    case TxnCommandType.DELETE_TRANSACTION: {
      const c = shape.object(value, path, ['type', 'transactionalId', 'producerId', 'producerEpoch']);
      return {
        type,
        transactionalId: transactionalId(shape, c.transactionalId, `${path}.transactionalId`),
        producerId: shape.integer(c.producerId, `${path}.producerId`, 0),
        producerEpoch: shape.integer(c.producerEpoch, `${path}.producerEpoch`, 0, MAX_PRODUCER_EPOCH),
      };
    }
  }
}
