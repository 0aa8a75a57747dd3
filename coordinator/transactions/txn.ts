/**
 * The transaction state machine of one transactional id: pure functions from the stored image and
 * a request to what to do (refuse with an error, answer without writing, or store a new image).
 * The leader's shell (txn-coordinator.ts) runs them inside the write pipeline, against the
 * speculative metadata state, so two requests for one id never decide on the same image.
 *
 * The transitions are Kafka's (KIP-98, KIP-360, KIP-447):
 *
 *   (none) --init--> Empty --add partitions / add offsets--> Ongoing --end--> PrepareCommit | PrepareAbort
 *   Prepare* --markers written--> CompleteCommit | CompleteAbort --init / add--> Empty | Ongoing
 *   Ongoing --timeout, or init by a new instance--> PrepareAbort (epoch bumped: the old instance is fenced)
 *
 * Once Prepare* is in the log the outcome is decided: every later step only carries it out.
 *
 * Pure: no node:* imports, no clock (nowMs is the leader's wall clock, passed in).
 */
import { ErrorCode } from '../../proto/errors.js';
import {
  EXHAUSTED_PRODUCER_EPOCH,
  MAX_PRODUCER_EPOCH,
  type PendingTxnOffset,
  type TransactionImage,
  type TxnCaller,
  TxnState,
  type TxnTopicPartitions,
} from './txn-types.js';

/** What a request does to a transactional id. */
export type TxnStep =
  /** Refused: answer `error`, write nothing. */
  | { readonly kind: 'refuse'; readonly error: ErrorCode }
  /** Nothing changes (a retry, or everything asked is in already): answer with `image` as it is. */
  | { readonly kind: 'keep'; readonly image: TransactionImage }
  /** Store `image`; once it is applied, answer `error` (NONE, or CONCURRENT_TRANSACTIONS for an init that aborts first). */
  | { readonly kind: 'store'; readonly image: TransactionImage; readonly error: ErrorCode }
  /** The step needs a fresh producer id and none was available: get a block and decide again. */
  | { readonly kind: 'needs-producer-id' };

const refuse = (error: ErrorCode): TxnStep => ({ kind: 'refuse', error });

/** Whether a state holds an open transaction (one with partitions, groups or offsets). */
export function isOpen(state: TxnState): boolean {
  return state === TxnState.ONGOING || state === TxnState.PREPARE_COMMIT || state === TxnState.PREPARE_ABORT;
}

/** Whether a state waits for its markers (the outcome is decided, Complete* is not written yet). */
export function isPrepared(state: TxnState): state is 'PrepareCommit' | 'PrepareAbort' {
  return state === TxnState.PREPARE_COMMIT || state === TxnState.PREPARE_ABORT;
}

/**
 * InitProducerId with a transactional id. `freshProducerId` hands out an id from the leader's
 * block, or undefined when the block is used up. `request.producerId` -1: a new instance takes
 * over (whatever epoch the id had); otherwise the instance asks to bump its own epoch (KIP-360),
 * and a retry of a bump that succeeded answers the current epoch again.
 */
export function initTransactional(
  current: TransactionImage | undefined,
  request: { readonly transactionalId: string; readonly transactionTimeoutMs: number; readonly producerId: number; readonly producerEpoch: number },
  nowMs: number,
  freshProducerId: () => number | undefined,
): TxnStep {
  const recovering = request.producerId >= 0;
  if (current === undefined) {
    if (recovering) return refuse(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    const producerId = freshProducerId();
    if (producerId === undefined) return { kind: 'needs-producer-id' };
    return {
      kind: 'store',
      error: ErrorCode.NONE,
      image: emptyImage(request.transactionalId, producerId, 0, -1, request.transactionTimeoutMs, nowMs),
    };
  }
  if (recovering) {
    if (request.producerId !== current.producerId) return refuse(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    const retry = request.producerEpoch === current.lastProducerEpoch && request.producerEpoch !== current.producerEpoch;
    if (retry && !isOpen(current.state)) return { kind: 'keep', image: current };
    if (request.producerEpoch !== current.producerEpoch) return refuse(ErrorCode.PRODUCER_FENCED);
  }
  if (isPrepared(current.state)) return refuse(ErrorCode.CONCURRENT_TRANSACTIONS);
  if (current.state === TxnState.ONGOING) {
    // The previous instance's transaction is aborted first, with a bumped epoch that fences it;
    // the caller retries once the abort completed.
    return { kind: 'store', error: ErrorCode.CONCURRENT_TRANSACTIONS, image: fenceAndAbort(current, nowMs) };
  }
  if (current.producerEpoch >= EXHAUSTED_PRODUCER_EPOCH) {
    const producerId = freshProducerId();
    if (producerId === undefined) return { kind: 'needs-producer-id' };
    return { kind: 'store', error: ErrorCode.NONE, image: emptyImage(current.transactionalId, producerId, 0, -1, request.transactionTimeoutMs, nowMs) };
  }
  return {
    kind: 'store',
    error: ErrorCode.NONE,
    image: emptyImage(current.transactionalId, current.producerId, current.producerEpoch + 1, current.producerEpoch, request.transactionTimeoutMs, nowMs),
  };
}

/** INVALID_PRODUCER_ID_MAPPING or PRODUCER_FENCED when `caller` is not the producer bound to the id now. */
export function callerProblem(current: TransactionImage | undefined, caller: TxnCaller): ErrorCode | undefined {
  if (current === undefined || current.producerId !== caller.producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
  if (current.producerEpoch !== caller.producerEpoch) return ErrorCode.PRODUCER_FENCED;
  return undefined;
}

/** AddPartitionsToTxn: the partitions join the open transaction (opening one if there is none). */
export function addPartitions(current: TransactionImage | undefined, caller: TxnCaller, topics: readonly TxnTopicPartitions[], nowMs: number): TxnStep {
  const problem = callerProblem(current, caller);
  if (problem !== undefined || current === undefined) return refuse(problem ?? ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  if (isPrepared(current.state)) return refuse(ErrorCode.CONCURRENT_TRANSACTIONS);
  const merged = mergeTopics(current.topics, topics);
  if (current.state === TxnState.ONGOING && sameTopics(merged, current.topics)) return { kind: 'keep', image: current };
  return { kind: 'store', error: ErrorCode.NONE, image: opened(current, nowMs, { topics: merged }) };
}

/** AddOffsetsToTxn: the group's offsets may ride in the transaction (opening one if there is none). */
export function addOffsets(current: TransactionImage | undefined, caller: TxnCaller, groupId: string, nowMs: number): TxnStep {
  const problem = callerProblem(current, caller);
  if (problem !== undefined || current === undefined) return refuse(problem ?? ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  if (isPrepared(current.state)) return refuse(ErrorCode.CONCURRENT_TRANSACTIONS);
  if (current.state === TxnState.ONGOING && current.groups.includes(groupId)) return { kind: 'keep', image: current };
  const groups = [...new Set([...current.groups, groupId])].sort(byString);
  return { kind: 'store', error: ErrorCode.NONE, image: opened(current, nowMs, { groups }) };
}

/**
 * TxnOffsetCommit: offsets become pending in the open transaction, which must have added the group
 * (AddOffsetsToTxn) first. A later offset for the same partition replaces an earlier one.
 */
export function commitTxnOffsets(current: TransactionImage | undefined, caller: TxnCaller, offsets: readonly PendingTxnOffset[], nowMs: number): TxnStep {
  const problem = callerProblem(current, caller);
  if (problem !== undefined || current === undefined) return refuse(problem ?? ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  if (isPrepared(current.state)) return refuse(ErrorCode.CONCURRENT_TRANSACTIONS);
  if (current.state !== TxnState.ONGOING || offsets.some((o) => !current.groups.includes(o.group))) return refuse(ErrorCode.INVALID_TXN_STATE);
  if (offsets.length === 0) return { kind: 'keep', image: current };
  const byKey = new Map(current.pendingOffsets.map((o) => [offsetKey(o), o]));
  for (const o of offsets) byKey.set(offsetKey(o), o);
  const pendingOffsets = [...byKey.values()].sort(offsetOrder);
  return { kind: 'store', error: ErrorCode.NONE, image: { ...current, updateTimeMs: nowMs, pendingOffsets } };
}

/**
 * EndTxn: Ongoing moves to PrepareCommit or PrepareAbort (the outcome is decided once that is
 * applied). A retry of an end already decided answers CONCURRENT_TRANSACTIONS while it completes
 * and NONE once it did; the opposite outcome, or an end without a transaction, is INVALID_TXN_STATE.
 */
export function endTransaction(current: TransactionImage | undefined, caller: TxnCaller, commit: boolean, nowMs: number): TxnStep {
  const problem = callerProblem(current, caller);
  if (problem !== undefined || current === undefined) return refuse(problem ?? ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  switch (current.state) {
    case TxnState.ONGOING:
      return { kind: 'store', error: ErrorCode.NONE, image: { ...current, state: commit ? TxnState.PREPARE_COMMIT : TxnState.PREPARE_ABORT, updateTimeMs: nowMs } };
    case TxnState.PREPARE_COMMIT:
      return refuse(commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE);
    case TxnState.PREPARE_ABORT:
      return refuse(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS);
    case TxnState.COMPLETE_COMMIT:
      return commit ? { kind: 'keep', image: current } : refuse(ErrorCode.INVALID_TXN_STATE);
    case TxnState.COMPLETE_ABORT:
      return commit ? refuse(ErrorCode.INVALID_TXN_STATE) : { kind: 'keep', image: current };
    case TxnState.EMPTY:
      return refuse(ErrorCode.INVALID_TXN_STATE);
  }
}

/**
 * The image once every marker of a Prepare* transaction is written: Complete*, holding nothing.
 * Returns the offsets to publish to the groups (a commit's pending offsets; none for an abort).
 */
export function completed(current: TransactionImage, nowMs: number): { readonly image: TransactionImage; readonly offsets: readonly PendingTxnOffset[] } {
  const commit = current.state === TxnState.PREPARE_COMMIT;
  return {
    image: { ...current, state: commit ? TxnState.COMPLETE_COMMIT : TxnState.COMPLETE_ABORT, startTimeMs: -1, updateTimeMs: nowMs, topics: [], groups: [], pendingOffsets: [] },
    offsets: commit ? current.pendingOffsets : [],
  };
}

/** Whether an Ongoing transaction ran past its timeout at `nowMs`. */
export function timedOut(image: TransactionImage, nowMs: number): boolean {
  return image.state === TxnState.ONGOING && image.startTimeMs + image.timeoutMs <= nowMs;
}

/**
 * The coordinator aborts a transaction itself (timeout, or a new instance's init): PrepareAbort
 * with the epoch bumped, so the instance that opened it is fenced (PRODUCER_FENCED on its next
 * call, and its batches refused by the partition leaders once the markers carry the new epoch).
 * The previous epoch is not kept for KIP-360 retries: that instance must not recover.
 */
export function fenceAndAbort(current: TransactionImage, nowMs: number): TransactionImage {
  return {
    ...current,
    producerEpoch: Math.min(current.producerEpoch + 1, MAX_PRODUCER_EPOCH),
    lastProducerEpoch: -1,
    state: TxnState.PREPARE_ABORT,
    updateTimeMs: nowMs,
  };
}

/** Whether an idle transactional id (no open transaction) has gone unused for `expirationMs`. */
export function expired(image: TransactionImage, nowMs: number, expirationMs: number): boolean {
  return !isOpen(image.state) && image.updateTimeMs + expirationMs <= nowMs;
}

function emptyImage(transactionalId: string, producerId: number, producerEpoch: number, lastProducerEpoch: number, timeoutMs: number, nowMs: number): TransactionImage {
  return {
    transactionalId,
    producerId,
    producerEpoch,
    lastProducerEpoch,
    timeoutMs,
    state: TxnState.EMPTY,
    startTimeMs: -1,
    updateTimeMs: nowMs,
    topics: [],
    groups: [],
    pendingOffsets: [],
  };
}

/** The image Ongoing with `change`; a transaction opening now starts now and holds nothing from before. */
function opened(current: TransactionImage, nowMs: number, change: Partial<Pick<TransactionImage, 'topics' | 'groups'>>): TransactionImage {
  const fresh = current.state !== TxnState.ONGOING;
  return {
    ...current,
    state: TxnState.ONGOING,
    startTimeMs: fresh ? nowMs : current.startTimeMs,
    updateTimeMs: nowMs,
    topics: change.topics ?? (fresh ? [] : current.topics),
    groups: change.groups ?? (fresh ? [] : current.groups),
    pendingOffsets: fresh ? [] : current.pendingOffsets,
  };
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** `added` merged into `current`: topics sorted by name, partitions sorted and unique. */
export function mergeTopics(current: readonly TxnTopicPartitions[], added: readonly TxnTopicPartitions[]): TxnTopicPartitions[] {
  const topics = new Map<string, Set<number>>();
  for (const t of [...current, ...added]) {
    const partitions = topics.get(t.topic) ?? new Set<number>();
    for (const p of t.partitions) partitions.add(p);
    topics.set(t.topic, partitions);
  }
  return [...topics]
    .filter(([, partitions]) => partitions.size > 0)
    .sort(([a], [b]) => byString(a, b))
    .map(([topic, partitions]) => ({ topic, partitions: [...partitions].sort((a, b) => a - b) }));
}

function sameTopics(a: readonly TxnTopicPartitions[], b: readonly TxnTopicPartitions[]): boolean {
  return a.length === b.length && a.every((t, i) => t.topic === b[i]?.topic && t.partitions.length === b[i].partitions.length && t.partitions.every((p, j) => p === b[i]?.partitions[j]));
}

const offsetKey = (o: PendingTxnOffset): string => `${o.group}\u0000${o.topic}\u0000${o.partition}`;

function offsetOrder(a: PendingTxnOffset, b: PendingTxnOffset): number {
  if (a.group !== b.group) return byString(a.group, b.group);
  if (a.topic !== b.topic) return byString(a.topic, b.topic);
  return a.partition - b.partition;
}
