/**
 * The coordinator client's transaction calls (KIP-98, KIP-360, KIP-447): producer ids, the
 * transaction protocol a transactional producer runs (add partitions, add offsets, commit offsets
 * in the transaction, end it), and the administration of transactions (list, describe). The
 * transaction coordinator runs on the coordinator leader, the same node as the group coordinator,
 * so these calls share its discovery with `CoordinatorClient.groups` (GroupCalls).
 *
 * Retries. Every call runs until its deadline (timeoutMs, default the client's requestTimeoutMs)
 * and is sent again after NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, NOT_CONTROLLER and a dropped
 * connection or timeout (to the coordinator found anew), and after COORDINATOR_LOAD_IN_PROGRESS,
 * CONCURRENT_TRANSACTIONS (the previous transaction's markers are still being written),
 * TOO_MANY_IN_FLIGHT and THROTTLING_QUOTA_EXCEEDED (to the same one, a little later). Repeating any
 * of them is harmless: InitProducerId bumps the epoch once more (the caller uses the newest),
 * AddPartitions and AddOffsets add what is already there, TxnOffsetCommit overwrites the same
 * pending offsets, and an EndTxn repeated after it completed is answered as the same outcome.
 *
 * Errors. Every other answer is thrown as a StreamBusError with its Kafka code for the producer to
 * act on: PRODUCER_FENCED and INVALID_PRODUCER_EPOCH (a newer instance took the transactional id),
 * INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING, INVALID_TRANSACTION_TIMEOUT, UNKNOWN_PRODUCER_ID,
 * TRANSACTIONAL_ID_NOT_FOUND, and the group's ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
 * FENCED_INSTANCE_ID for TxnOffsetCommit. Bad arguments reject with INVALID_REQUEST before anything
 * is sent.
 */
import type { ApiName, RequestOf, ResponseOf } from '../../proto/api.js';
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { decideRetry } from '../policy/retry.js';
import { delay, throwIfAborted } from '../signal.js';
import type { TopicPartition } from '../types.js';
import { formatEndpoint } from './endpoints.js';
import type { GroupCalls, GroupTransport } from './group-calls.js';
import type { CoordinatorCallOptions, Endpoint } from './types.js';

/** A producer id and epoch from InitProducerId. */
export interface ProducerIdGrant {
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface InitProducerIdSpec {
  /** Absent or '': an idempotent producer without transactions. */
  readonly transactionalId?: string | undefined;
  /** The coordinator aborts a transaction open longer than this. Default 60 000. */
  readonly transactionTimeoutMs?: number | undefined;
  /** The id and epoch to bump (KIP-360 recovery); absent: a new producer. */
  readonly current?: ProducerIdGrant | undefined;
}

/** The transaction a request is part of. */
export interface TxnMember extends ProducerIdGrant {
  readonly transactionalId: string;
}

/** Offsets committed in a transaction: `offset` is the next record to read (last processed + 1). */
export interface TxnOffset extends TopicPartition {
  readonly offset: number;
  readonly leaderEpoch?: number | undefined;
  readonly metadata?: string | undefined;
}

export interface TxnOffsetCommitSpec extends TxnMember {
  readonly groupId: string;
  /** The consumer's generation (KIP-447 fencing of zombie consumers); -1 or absent: not checked. */
  readonly generation?: number | undefined;
  readonly memberId?: string | undefined;
  readonly groupInstanceId?: string | undefined;
  readonly offsets: readonly TxnOffset[];
}

/** Coordinator states of a transactional id. */
export type TransactionState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort' | 'Dead';

export const TRANSACTION_STATES: readonly TransactionState[] = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'Dead'];

export interface TransactionListing {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly state: TransactionState;
}

export interface TransactionDescription {
  readonly transactionalId: string;
  /** TRANSACTIONAL_ID_NOT_FOUND for an unknown id; the other fields are then empty. */
  readonly error: StreamBusError | undefined;
  readonly state: TransactionState;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly transactionTimeoutMs: number;
  /** When the open transaction started (ms since the epoch); undefined with none open. */
  readonly startTimeMs: number | undefined;
  readonly partitions: readonly TopicPartition[];
  /** Groups whose offsets ride in the open transaction. */
  readonly groups: readonly string[];
}

/** The coordinator moved or is not there: find it again, then retry. */
const moved: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_CONTROLLER,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.SHUTTING_DOWN,
]);
/** Busy or not ready: the same coordinator, a little later. */
const later: ReadonlySet<number> = new Set([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.CONCURRENT_TRANSACTIONS,
  ErrorCode.TOO_MANY_IN_FLIGHT,
  ErrorCode.THROTTLING_QUOTA_EXCEEDED,
]);

const DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000;

export class TxnCalls {
  readonly #transport: GroupTransport;
  readonly #groups: GroupCalls;

  constructor(transport: GroupTransport, groups: GroupCalls) {
    this.#transport = transport;
    this.#groups = groups;
  }

  /**
   * A producer id and epoch. Without a transactional id: a fresh id (idempotence), or with
   * `current` that id's epoch bumped (KIP-360). With one: the id bound to it with its epoch bumped,
   * which fences older instances and aborts their open transaction first.
   */
  async initProducerId(spec: InitProducerIdSpec = {}, options: CoordinatorCallOptions = {}): Promise<ProducerIdGrant> {
    const transactionalId = spec.transactionalId ?? '';
    if (typeof transactionalId !== 'string') throw invalid('initProducerId: transactionalId must be a string');
    const transactionTimeoutMs = spec.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS;
    positiveInt(transactionTimeoutMs, 'transactionTimeoutMs');
    const body: M.InitProducerIdRequest = {
      transactionalId,
      transactionTimeoutMs,
      producerId: spec.current?.producerId ?? -1,
      producerEpoch: spec.current?.producerEpoch ?? -1,
    };
    return this.#call('initProducerId', options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'INIT_PRODUCER_ID', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, transactionalId);
      return { producerId: response.producerId, producerEpoch: response.producerEpoch };
    });
  }

  /** Adds partitions to the open transaction (starting it); resolves once the coordinator recorded them. */
  async addPartitionsToTxn(member: TxnMember, partitions: readonly TopicPartition[], options: CoordinatorCallOptions = {}): Promise<void> {
    checkMember(member, 'addPartitionsToTxn');
    const list: unknown = partitions;
    if (!Array.isArray(list) || list.length === 0) throw invalid('addPartitionsToTxn: partitions must be a non-empty array');
    const body: M.AddPartitionsToTxnRequest = { ...memberFields(member), topics: txnTopics(partitions) };
    await this.#call('addPartitionsToTxn', options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'ADD_PARTITIONS_TO_TXN', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, member.transactionalId);
      throwFirstPartitionError(response.topics, member.transactionalId);
    });
  }

  /** Adds a group's offsets to the open transaction (then commit them with txnOffsetCommit). */
  async addOffsetsToTxn(member: TxnMember, groupId: string, options: CoordinatorCallOptions = {}): Promise<void> {
    checkMember(member, 'addOffsetsToTxn');
    if (typeof groupId !== 'string' || groupId === '') throw invalid('addOffsetsToTxn: groupId must be a non-empty string');
    const body: M.AddOffsetsToTxnRequest = { ...memberFields(member), groupId };
    await this.#call('addOffsetsToTxn', options, async (endpoint, timeoutMs) => {
      throwIfFailed(await this.#request(endpoint, 'ADD_OFFSETS_TO_TXN', body, timeoutMs, options.signal), endpoint, member.transactionalId);
    });
  }

  /**
   * Commits a group's offsets inside the open transaction: the group sees them only if the
   * transaction commits. With the consumer's generation and member id, a zombie consumer whose
   * generation has passed is refused (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID).
   */
  async txnOffsetCommit(spec: TxnOffsetCommitSpec, options: CoordinatorCallOptions = {}): Promise<void> {
    checkMember(spec, 'txnOffsetCommit');
    if (typeof spec.groupId !== 'string' || spec.groupId === '') throw invalid('txnOffsetCommit: groupId must be a non-empty string');
    const offsets: unknown = spec.offsets;
    if (!Array.isArray(offsets) || offsets.length === 0) throw invalid('txnOffsetCommit: offsets must be a non-empty array');
    const byTopic = new Map<string, M.OffsetCommitPartition[]>();
    for (const o of spec.offsets) {
      if (typeof o?.topic !== 'string' || o.topic === '') throw invalid('txnOffsetCommit: each offset needs a topic');
      nonNegativeInt(o.partition, 'partition');
      nonNegativeInt(o.offset, 'offset');
      const partitions = byTopic.get(o.topic) ?? [];
      partitions.push({ partition: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch ?? -1, committedMetadata: o.metadata ?? '' });
      byTopic.set(o.topic, partitions);
    }
    const body: M.TxnOffsetCommitRequest = {
      transactionalId: spec.transactionalId,
      groupId: spec.groupId,
      producerId: spec.producerId,
      producerEpoch: spec.producerEpoch,
      generationId: spec.generation ?? -1,
      memberId: spec.memberId ?? '',
      groupInstanceId: spec.groupInstanceId ?? '',
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    };
    await this.#call('txnOffsetCommit', options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'TXN_OFFSET_COMMIT', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, spec.transactionalId);
      throwFirstPartitionError(response.topics, spec.transactionalId);
    });
  }

  /**
   * Ends the open transaction: commit or abort. Resolves once the outcome is decided (recorded in
   * the coordinator's Raft log); the markers reach the partitions right after, and a read_committed
   * consumer sees committed records once they have.
   */
  async endTxn(member: TxnMember, committed: boolean, options: CoordinatorCallOptions = {}): Promise<void> {
    checkMember(member, 'endTxn');
    const body: M.EndTxnRequest = { ...memberFields(member), committed: committed === true };
    await this.#call('endTxn', options, async (endpoint, timeoutMs) => {
      throwIfFailed(await this.#request(endpoint, 'END_TXN', body, timeoutMs, options.signal), endpoint, member.transactionalId);
    });
  }

  /** The transactional ids the coordinator knows, optionally only in the given states or of the given producer ids. */
  async listTransactions(
    filter: { readonly states?: readonly TransactionState[]; readonly producerIds?: readonly number[] } = {},
    options: CoordinatorCallOptions = {},
  ): Promise<TransactionListing[]> {
    const body: M.ListTransactionsRequest = { stateFilters: [...(filter.states ?? [])], producerIdFilters: [...(filter.producerIds ?? [])] };
    return this.#call('listTransactions', options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'LIST_TRANSACTIONS', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, '*');
      return response.transactions.map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, state: t.state as TransactionState }));
    });
  }

  /** Each transactional id's state, producer, timeout and open transaction (partitions, groups, start time). */
  async describeTransactions(transactionalIds: readonly string[], options: CoordinatorCallOptions = {}): Promise<TransactionDescription[]> {
    const ids: unknown = transactionalIds;
    if (!Array.isArray(ids) || ids.length === 0 || transactionalIds.some((id) => typeof id !== 'string' || id === '')) {
      throw invalid('describeTransactions: transactionalIds must be a non-empty array of non-empty strings');
    }
    const body: M.DescribeTransactionsRequest = { transactionalIds: [...transactionalIds] };
    return this.#call('describeTransactions', options, async (endpoint, timeoutMs) => {
      const response = await this.#request(endpoint, 'DESCRIBE_TRANSACTIONS', body, timeoutMs, options.signal);
      // A coordinator that is not the leader answers NOT_COORDINATOR per id: find it again.
      const movedAway = response.transactions.find((t) => moved.has(t.errorCode) || later.has(t.errorCode));
      if (movedAway !== undefined) throwIfFailed(movedAway, endpoint, movedAway.transactionalId);
      return response.transactions.map(describedFromWire);
    });
  }

  // ---- Retrying

  async #call<T>(operation: string, options: CoordinatorCallOptions, attempt: (endpoint: Endpoint, timeoutMs: number) => Promise<T>): Promise<T> {
    const { signal } = options;
    const timeoutMs = options.timeoutMs ?? this.#transport.requestTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalid(`${operation}: timeoutMs must be a positive number, got ${String(timeoutMs)}`);
    const deadlineMs = Date.now() + timeoutMs;
    for (let retriesDone = 0; ; retriesDone++) {
      throwIfAborted(signal);
      let endpoint: Endpoint | undefined;
      let failure: StreamBusError;
      try {
        endpoint = (await this.#groups.coordinatorEndpoint(signal)).endpoint;
        const remainingMs = deadlineMs - Date.now();
        if (remainingMs <= 0) throw new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `${operation} did not finish within ${timeoutMs} ms`);
        return await attempt(endpoint, remainingMs);
      } catch (error) {
        if (!(error instanceof StreamBusError)) throw error;
        failure = error;
      }
      if (!moved.has(failure.code) && !later.has(failure.code)) throw failure;
      if (moved.has(failure.code) && endpoint !== undefined) this.#groups.forgetCoordinator(endpoint);
      const decision = decideRetry({ retriesDone, retriable: true, nowMs: Date.now(), deadlineMs }, this.#transport.retry, this.#transport.random);
      if (!decision.retry) throw failure;
      this.#transport.logger.debug(
        { operation, node: endpoint === undefined ? undefined : formatEndpoint(endpoint), code: failure.codeName, retryInMs: decision.delayMs },
        'transaction call failed; retrying',
      );
      await delay(decision.delayMs, signal);
    }
  }

  #request<A extends ApiName>(endpoint: Endpoint, api: A, body: RequestOf<A>, timeoutMs: number, signal: AbortSignal | undefined): Promise<ResponseOf<A>> {
    return this.#transport.request(endpoint, api, body, timeoutMs, signal);
  }
}

// ---- Answers

function throwIfFailed(response: { readonly errorCode: number; readonly errorMessage: string }, endpoint: Endpoint, transactionalId: string): void {
  const detail = response.errorMessage === '' ? undefined : transactionalId === '' ? response.errorMessage : `transactional id ${transactionalId}: ${response.errorMessage}`;
  const error = errorFromCode(response.errorCode, detail, { broker: formatEndpoint(endpoint) });
  if (error !== undefined) throw error;
}

/** A partition-level refusal fails the whole call: the transaction cannot go on without that partition. */
function throwFirstPartitionError(topics: readonly M.GroupTopicResult[], transactionalId: string): void {
  for (const t of topics) {
    for (const p of t.partitions) {
      const detail = p.errorMessage === '' ? undefined : `transactional id ${transactionalId}: ${p.errorMessage}`;
      const error = errorFromCode(p.errorCode, detail, { topic: t.name, partition: p.partition });
      if (error !== undefined) throw error;
    }
  }
}

function describedFromWire(t: M.DescribedTransaction): TransactionDescription {
  return {
    transactionalId: t.transactionalId,
    error: errorFromCode(t.errorCode, t.errorMessage === '' ? undefined : t.errorMessage),
    state: t.state as TransactionState,
    producerId: t.producerId,
    producerEpoch: t.producerEpoch,
    transactionTimeoutMs: t.transactionTimeoutMs,
    startTimeMs: t.transactionStartTimeMs < 0 ? undefined : t.transactionStartTimeMs,
    partitions: t.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition }))),
    groups: [...t.groups],
  };
}

function txnTopics(partitions: readonly TopicPartition[]): M.TxnTopic[] {
  const byTopic = new Map<string, number[]>();
  for (const tp of partitions) {
    if (typeof tp?.topic !== 'string' || tp.topic === '') throw invalid('each partition needs a topic');
    nonNegativeInt(tp.partition, 'partition');
    const list = byTopic.get(tp.topic) ?? [];
    if (!list.includes(tp.partition)) list.push(tp.partition);
    byTopic.set(tp.topic, list);
  }
  return [...byTopic].map(([name, list]) => ({ name, partitions: list.sort((a, b) => a - b) }));
}

// ---- Argument checks

function invalid(message: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_REQUEST, message);
}

function memberFields(member: TxnMember): { transactionalId: string; producerId: number; producerEpoch: number } {
  return { transactionalId: member.transactionalId, producerId: member.producerId, producerEpoch: member.producerEpoch };
}

function checkMember(member: TxnMember, operation: string): void {
  if (typeof member?.transactionalId !== 'string' || member.transactionalId === '') throw invalid(`${operation}: transactionalId must be a non-empty string`);
  if (!Number.isSafeInteger(member.producerId) || member.producerId < 0) throw invalid(`${operation}: producerId must be an integer >= 0, got ${String(member.producerId)}`);
  if (!Number.isInteger(member.producerEpoch) || member.producerEpoch < 0 || member.producerEpoch > 0x7fff) {
    throw invalid(`${operation}: producerEpoch must be an integer from 0 to 32767, got ${String(member.producerEpoch)}`);
  }
}

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 0x7fff_ffff) throw invalid(`${what} must be a positive 32-bit integer, got ${String(value)}`);
  return value;
}

function nonNegativeInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`${what} must be an integer >= 0, got ${String(value)}`);
  return value;
}
