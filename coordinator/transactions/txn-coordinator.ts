/**
 * The transaction coordinator: producer ids and transactional ids, served by the coordinator
 * (Raft) leader with Kafka's semantics (KIP-98, KIP-360, KIP-447); docs/transactions.md explains
 * the design.
 *
 * Durable state. Everything a new leader needs is in the metadata log (txn-commands.ts): producer
 * id blocks, and each transactional id's image after every change. Calls are decided inside the
 * write pipeline against its speculative state (the committed state plus what this leader has
 * proposed), by the pure state machine in txn.ts, so requests for one id are decided one after
 * another without locks, and a call is answered once its entry is applied: what was answered is on
 * a quorum and survives the leader.
 *
 * Producer ids. The leader takes a block of ids (PRODUCER_ID_BLOCK_SIZE) with one log entry and
 * hands ids out of it in memory; a node that becomes leader starts without a block and allocates
 * its own on first need, so an id is never given twice, whatever happened to the previous leader.
 *
 * Markers. Once Prepare* is applied the outcome is decided. The leader then sends WRITE_TXN_MARKERS
 * to each partition's current leader (marker-sender.ts), with coordinator_epoch = its Raft term,
 * retrying with backoff (a new leader, a broker down) until every partition answered, and then
 * writes Complete*, in the same entry as the group offsets a commit publishes. A node that becomes
 * leader resumes every Prepare* transaction it finds in the state. A node that stops leading stops
 * sending: the next leader takes over from the log.
 *
 * Timers (only while leading): every transaction.abort.timed.out.transaction.cleanup.interval.ms
 * the leader aborts transactions Ongoing past their timeout (bumping the epoch, which fences the
 * producer that opened them) and forgets transactional ids idle past
 * transactional.id.expiration.ms.
 *
 * Reads (ListTransactions, DescribeTransactions) answer on the leader only, from the applied state.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { type Submit, read, write } from '../coordinator-steps.js';
import { commitOffsetsCommand } from '../groups/group-commands.js';
import type { CoordinatorPhase } from '../groups/group-coordinator.js';
import type { CommitIdentity } from '../groups/group-types.js';
import type { Logger } from '../logger.js';
import type { MetadataCommand } from '../metadata/commands.js';
import type { MetadataStateView } from '../metadata/state.js';
import { type MarkerPartition, type TxnMarkerSender, planMarkers } from './marker-sender.js';
import {
  type TxnStep,
  addOffsets,
  addPartitions,
  commitTxnOffsets,
  completed,
  endTransaction,
  expired,
  fenceAndAbort,
  initTransactional,
  isPrepared,
  timedOut,
} from './txn.js';
import { TxnCommandType } from './txn-commands.js';
import {
  type AddOffsetsRequest,
  type AddPartitionsRequest,
  type AddPartitionsResponse,
  DEFAULT_TRANSACTION_SETTINGS,
  type DescribedTransaction,
  type EndTxnRequest,
  EXHAUSTED_PRODUCER_EPOCH,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
  type ListTransactionsFilter,
  type ListedTransaction,
  MAX_PRODUCER_EPOCH,
  MAX_TRANSACTIONAL_ID_LENGTH,
  type PendingTxnOffset,
  type TransactionImage,
  type TransactionSettings,
  type TxnOffsetCommitRequest,
  type TxnPartitionResult,
  TxnState,
} from './txn-types.js';

/** Producer ids one allocate-producer-ids entry gives the leader. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;
/** Backoff between rounds of markers: doubling from the first to the cap. */
const MARKER_BACKOFF_FIRST_MS = 50;
const MARKER_BACKOFF_MAX_MS = 2_000;
/** How long one round waits for a broker's answer: longer than a partition waits for its ISR (30 s). */
const MARKER_REQUEST_TIMEOUT_MS = 35_000;
/** Transactions completing at once; more wait their turn (a bound on marker traffic after a takeover). */
const MAX_CONCURRENT_COMPLETIONS = 256;
/** How often a step that needed a fresh block of producer ids is decided again before giving up. */
const MAX_BLOCK_ATTEMPTS = 3;
const MAX_GROUP_ID_LENGTH = 1024;

/**
 * The settings with every unset one at its default. Throws INVALID_CONFIG for a value out of range.
 */
export function transactionSettings(given: Partial<TransactionSettings> = {}): TransactionSettings {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<TransactionSettings>;
  const settings: TransactionSettings = { ...DEFAULT_TRANSACTION_SETTINGS, ...defined };
  const whole = (name: string, value: number, min: number, max: number): void => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a whole number in ${min}..${max}, got ${value}`);
    }
  };
  whole('transaction.max.timeout.ms', settings.maxTimeoutMs, 1, 2 ** 31 - 1);
  whole('transactional.id.expiration.ms', settings.idExpirationMs, 1, 2 ** 31 - 1);
  whole('transaction.abort.timed.out.transaction.cleanup.interval.ms', settings.abortTimedOutIntervalMs, 1, 2 ** 31 - 1);
  return settings;
}

export interface TransactionCoordinatorOptions {
  readonly settings: TransactionSettings;
  /** Wall clock ms (transaction start and update times, timeouts, expiry). */
  readonly wallMs: () => number;
  readonly logger: Logger;
  readonly submit: Submit;
  /** The applied (committed) metadata state. */
  readonly state: () => MetadataStateView;
  readonly phase: () => CoordinatorPhase;
  /** The NOT_COORDINATOR refusal of a node that does not lead (naming the leader when known). */
  readonly notCoordinator: () => StreamBusError;
  /** This leader's Raft term: the coordinator epoch markers carry. */
  readonly term: () => number;
  /** Sends markers to partition leaders. Closed by close(). */
  readonly sender: TxnMarkerSender;
  /** Whether a consumer may commit offsets of a group now (KIP-447): the group coordinator's commit check. */
  readonly checkGroupMember: (groupId: string, who: CommitIdentity) => ErrorCode;
  /** offset.metadata.max.bytes for transactional offsets. Default 4096. */
  readonly offsetMetadataMaxBytes?: number;
}

/** What the protocol handler asks of the transaction coordinator (txn-api.ts). */
export type TransactionCoordinatorApi = Pick<
  TransactionCoordinator,
  'initProducerId' | 'addPartitions' | 'addOffsets' | 'endTransaction' | 'commitOffsets' | 'listTransactions' | 'describeTransactions'
>;

/** The producer ids of the block this leader holds. */
interface ProducerIdBlock {
  next: number;
  readonly end: number;
}

export class TransactionCoordinator {
  readonly #options: TransactionCoordinatorOptions;
  readonly #settings: TransactionSettings;
  readonly #logger: Logger;
  /** Bumped on every reset and stop: completions and allocations of an earlier leadership are ignored. */
  #epoch = 0;
  #block: ProducerIdBlock | undefined;
  #allocating: Promise<void> | undefined;
  /** Transactions whose markers are being sent, by transactional id. */
  readonly #completing = new Map<string, Promise<void>>();
  /** Ids waiting for a completion slot, in arrival order. */
  readonly #queued: TransactionImage[] = [];
  /** Aborted when this leadership ends: stops marker rounds and their backoff. */
  #leadership = new AbortController();
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;

  constructor(options: TransactionCoordinatorOptions) {
    this.#options = options;
    this.#settings = options.settings;
    this.#logger = options.logger;
    this.#leadership.abort(options.notCoordinator());
  }

  /** Transactions whose markers are being sent now (tests, metrics). */
  get completing(): readonly string[] {
    return [...this.#completing.keys()];
  }

  // ---------------------------------------------------------------------------------------------
  // Leadership

  /** This node leads and has applied every earlier entry: start from nothing held in memory. */
  reset(): void {
    this.#drop(this.#options.notCoordinator());
    this.#leadership = new AbortController();
  }

  /** Starts the timer and resumes every transaction whose outcome is decided (this node accepts writes now). */
  start(): void {
    this.#stopTimer();
    this.#timer = setInterval(() => this.#onTimer(), this.#settings.abortTimedOutIntervalMs);
    this.#timer.unref();
    const prepared = this.#options.state().transactions.transactions().filter((t) => isPrepared(t.state));
    if (prepared.length > 0) this.#logger.info({ transactions: prepared.length }, 'resuming the markers of prepared transactions');
    for (const image of prepared) this.#complete(image);
  }

  /** Leadership lost or closing: marker rounds stop, the block of producer ids is dropped. */
  stop(reason: StreamBusError = this.#options.notCoordinator()): void {
    this.#stopTimer();
    this.#drop(reason);
  }

  /** Stops and closes the marker sender's connections. */
  async close(): Promise<void> {
    this.stop();
    await this.#options.sender.close();
  }

  #drop(reason: StreamBusError): void {
    this.#epoch++;
    this.#block = undefined;
    this.#allocating = undefined;
    this.#queued.length = 0;
    if (!this.#leadership.signal.aborted) this.#leadership.abort(reason);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Producer ids and transactional ids

  /**
   * InitProducerId. Without a transactional id: a fresh producer id at epoch 0, or (KIP-360) the
   * given id with its epoch bumped. With one: the id bound to it with its epoch bumped (a fresh id
   * the first time), which fences the previous instance; if that instance left a transaction open
   * it is aborted first and the answer is CONCURRENT_TRANSACTIONS until the abort completed.
   * Rejects with NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS when this node does not serve.
   */
  async initProducerId(request: InitProducerIdRequest): Promise<InitProducerIdResponse> {
    this.#refuseIfNotServing();
    const none = (error: ErrorCode): InitProducerIdResponse => ({ error, producerId: -1, producerEpoch: -1 });
    const recovering = request.producerId !== -1 || request.producerEpoch !== -1;
    if (recovering && (!Number.isSafeInteger(request.producerId) || request.producerId < 0 || !validEpoch(request.producerEpoch))) return none(ErrorCode.INVALID_REQUEST);
    if (request.transactionalId === null) return this.#initIdempotent(request, none);
    if (request.transactionalId === '' || request.transactionalId.length > MAX_TRANSACTIONAL_ID_LENGTH) return none(ErrorCode.INVALID_REQUEST);
    if (!Number.isSafeInteger(request.transactionTimeoutMs) || request.transactionTimeoutMs < 1 || request.transactionTimeoutMs > this.#settings.maxTimeoutMs) {
      return none(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    }
    const transactionalId = request.transactionalId;
    const step = await this.#decide(transactionalId, (current, nowMs) =>
      initTransactional(current, { transactionalId, transactionTimeoutMs: request.transactionTimeoutMs, producerId: request.producerId, producerEpoch: request.producerEpoch }, nowMs, () =>
        this.#takeProducerId(),
      ),
    );
    switch (step.kind) {
      case 'refuse':
        return none(step.error);
      case 'keep':
        return { error: ErrorCode.NONE, producerId: step.image.producerId, producerEpoch: step.image.producerEpoch };
      case 'store':
        if (step.error !== ErrorCode.NONE) return none(step.error);
        this.#logger.info({ transactionalId, producerId: step.image.producerId, producerEpoch: step.image.producerEpoch }, 'initialized a transactional producer');
        return { error: ErrorCode.NONE, producerId: step.image.producerId, producerEpoch: step.image.producerEpoch };
      case 'needs-producer-id':
        return none(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
  }

  async #initIdempotent(request: InitProducerIdRequest, none: (error: ErrorCode) => InitProducerIdResponse): Promise<InitProducerIdResponse> {
    if (request.producerId >= 0) {
      const state = this.#options.state().transactions;
      // Only an id some leader handed out, and not one bound to a transactional id, may be bumped.
      if (request.producerId >= state.nextProducerId || state.transactions().some((t) => t.producerId === request.producerId)) {
        return none(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
      }
      if (request.producerEpoch < EXHAUSTED_PRODUCER_EPOCH) return { error: ErrorCode.NONE, producerId: request.producerId, producerEpoch: request.producerEpoch + 1 };
    }
    for (let attempt = 0; attempt < MAX_BLOCK_ATTEMPTS; attempt++) {
      const producerId = this.#takeProducerId();
      if (producerId !== undefined) return { error: ErrorCode.NONE, producerId, producerEpoch: 0 };
      const failed = await this.#allocateBlock().then(
        () => undefined,
        (error: unknown) => error,
      );
      if (failed !== undefined) return none(codeOf(failed));
      this.#refuseIfNotServing();
    }
    return none(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }

  /** AddPartitionsToTxn: every partition must exist; the answer carries the whole request's error in each. */
  async addPartitions(request: AddPartitionsRequest): Promise<AddPartitionsResponse> {
    this.#refuseIfNotServing();
    const whole = (error: ErrorCode): AddPartitionsResponse => ({
      error,
      topics: request.topics.map((t): TxnPartitionResult => ({ topic: t.topic, partitions: t.partitions.map((partition) => ({ partition, error })) })),
    });
    const invalid = this.#callerProblem(request);
    if (invalid !== undefined) return whole(invalid);
    if (request.topics.some((t) => t.partitions.some((p) => !Number.isSafeInteger(p) || p < 0))) return whole(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const step = await this.#decide(request.transactionalId, (current, nowMs, state) => {
      const exists = request.topics.every((t) => t.partitions.every((p) => (state.topic(t.topic)?.partitions.length ?? 0) > p));
      return exists ? addPartitions(current, request, request.topics, nowMs) : { kind: 'refuse', error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    });
    return whole(step.kind === 'refuse' ? step.error : ErrorCode.NONE);
  }

  /** AddOffsetsToTxn: the group's offsets may ride in the transaction. */
  async addOffsets(request: AddOffsetsRequest): Promise<ErrorCode> {
    this.#refuseIfNotServing();
    const invalid = this.#callerProblem(request) ?? groupIdProblem(request.groupId);
    if (invalid !== undefined) return invalid;
    const step = await this.#decide(request.transactionalId, (current, nowMs) => addOffsets(current, request, request.groupId, nowMs));
    return step.kind === 'refuse' ? step.error : ErrorCode.NONE;
  }

  /**
   * TxnOffsetCommit: offsets pending in the transaction, published as the group's committed
   * offsets when (and only when) it commits. With a generation or member id (KIP-447) the consumer
   * is checked against its group as an OffsetCommit would be; a zombie is refused.
   */
  async commitOffsets(request: TxnOffsetCommitRequest): Promise<AddPartitionsResponse> {
    this.#refuseIfNotServing();
    const whole = (error: ErrorCode): AddPartitionsResponse => ({
      error,
      topics: request.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, error })) })),
    });
    const invalid = this.#callerProblem(request) ?? groupIdProblem(request.groupId);
    if (invalid !== undefined) return whole(invalid);
    if (request.generation >= 0 || request.memberId !== '') {
      const member = this.#options.checkGroupMember(request.groupId, { generation: request.generation, memberId: request.memberId, groupInstanceId: request.groupInstanceId });
      if (member !== ErrorCode.NONE) return whole(member);
    }
    const state = this.#options.state();
    const maxMetadataBytes = this.#options.offsetMetadataMaxBytes ?? 4096;
    const offsets: PendingTxnOffset[] = [];
    const errors = request.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => {
        let error: ErrorCode = ErrorCode.NONE;
        if (!Number.isSafeInteger(p.partition) || p.partition < 0 || (state.topic(t.topic)?.partitions.length ?? 0) <= p.partition) error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (!Number.isSafeInteger(p.offset) || p.offset < 0) error = ErrorCode.INVALID_REQUEST;
        else if (utf8.encode(p.metadata).length > maxMetadataBytes) error = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        if (error === ErrorCode.NONE) {
          offsets.push({ group: request.groupId, topic: t.topic, partition: p.partition, offset: p.offset, leaderEpoch: Math.max(-1, Math.min(p.leaderEpoch, 2 ** 31 - 1)), metadata: p.metadata });
        }
        return { partition: p.partition, error };
      }),
    }));
    const step = await this.#decide(request.transactionalId, (current, nowMs) => commitTxnOffsets(current, request, offsets, nowMs));
    if (step.kind === 'refuse') return whole(step.error);
    return { error: ErrorCode.NONE, topics: errors };
  }

  /**
   * EndTxn: resolves once PrepareCommit or PrepareAbort is applied (the outcome is then decided and
   * survives any crash); markers and Complete* follow in the background.
   */
  async endTransaction(request: EndTxnRequest): Promise<ErrorCode> {
    this.#refuseIfNotServing();
    const invalid = this.#callerProblem(request);
    if (invalid !== undefined) return invalid;
    const step = await this.#decide(request.transactionalId, (current, nowMs) => endTransaction(current, request, request.commit, nowMs));
    if (step.kind === 'store') this.#logger.debug({ transactionalId: request.transactionalId, state: step.image.state }, 'transaction outcome decided');
    return step.kind === 'refuse' ? step.error : ErrorCode.NONE;
  }

  /** ListTransactions: every transactional id, optionally filtered by state and producer id. */
  listTransactions(filter: ListTransactionsFilter = {}): Promise<ListedTransaction[]> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const states = new Set((filter.states ?? []).map((s) => s.toLowerCase()));
    const producerIds = new Set(filter.producerIds ?? []);
    const listed = this.#options
      .state()
      .transactions.transactions()
      .filter((t) => (states.size === 0 || states.has(t.state.toLowerCase())) && (producerIds.size === 0 || producerIds.has(t.producerId)))
      .map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, state: t.state }));
    return Promise.resolve(listed);
  }

  /** DescribeTransactions: each id's state, producer, timeout and contents; TRANSACTIONAL_ID_NOT_FOUND for an unknown id. */
  describeTransactions(transactionalIds: readonly string[]): Promise<DescribedTransaction[]> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const store = this.#options.state().transactions;
    const described = transactionalIds.map((transactionalId): DescribedTransaction => {
        const t = store.transaction(transactionalId);
        if (t === undefined) {
          return { transactionalId, error: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, state: TxnState.DEAD, timeoutMs: 0, startTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [], groups: [] };
        }
        return {
          transactionalId,
          error: ErrorCode.NONE,
          state: t.state,
          timeoutMs: t.timeoutMs,
          startTimeMs: t.startTimeMs,
          producerId: t.producerId,
          producerEpoch: t.producerEpoch,
          topics: t.topics,
          groups: t.groups,
        };
      });
    return Promise.resolve(described);
  }

  // ---------------------------------------------------------------------------------------------
  // Timeouts and expiry

  /**
   * Aborts, now, every transaction Ongoing past its timeout (the epoch bumped: the producer that
   * opened it is fenced); resolves with their transactional ids. The timer calls this; tests call it.
   */
  async abortTimedOut(): Promise<string[]> {
    this.#refuseIfNotServing();
    const nowMs = this.#wallMs();
    const candidates = this.#options.state().transactions.transactions().filter((t) => timedOut(t, nowMs));
    const aborted: string[] = [];
    for (const candidate of candidates) {
      const step = await this.#decide(candidate.transactionalId, (current, now) =>
        current !== undefined && current.producerId === candidate.producerId && current.producerEpoch === candidate.producerEpoch && timedOut(current, now)
          ? { kind: 'store', error: ErrorCode.NONE, image: fenceAndAbort(current, now) }
          : { kind: 'refuse', error: ErrorCode.NONE },
      );
      if (step.kind === 'store') {
        aborted.push(candidate.transactionalId);
        this.#logger.info({ transactionalId: candidate.transactionalId, producerId: candidate.producerId, timeoutMs: candidate.timeoutMs }, 'aborting a transaction past its timeout; its producer is fenced');
      }
    }
    return aborted;
  }

  /**
   * Forgets, now, every transactional id with no open transaction that has been idle for
   * transactional.id.expiration.ms; resolves with them. The timer calls this; tests call it.
   */
  async expireTransactionalIds(): Promise<string[]> {
    this.#refuseIfNotServing();
    const decided = await this.#options.submit(undefined, (state) => {
      const nowMs = this.#wallMs();
      const gone = state.transactions.transactions().filter((t) => expired(t, nowMs, this.#settings.idExpirationMs));
      const commands: MetadataCommand[] = gone.map((t) => ({
        type: TxnCommandType.DELETE_TRANSACTION,
        transactionalId: t.transactionalId,
        producerId: t.producerId,
        producerEpoch: t.producerEpoch,
      }));
      return write(commands, () => gone.map((t) => t.transactionalId));
    });
    if (decided.length > 0) this.#logger.info({ transactionalIds: decided.length, expirationMs: this.#settings.idExpirationMs }, 'expired idle transactional ids');
    return decided;
  }

  #onTimer(): void {
    if (this.#sweeping || this.#options.phase() !== 'ready') return;
    this.#sweeping = true;
    this.abortTimedOut()
      .then(() => this.expireTransactionalIds())
      .catch((error: unknown) => {
        if (this.#options.phase() === 'ready') this.#logger.warn({ err: error }, 'the transaction timeout sweep failed; retrying at the next check');
      })
      .finally(() => {
        this.#sweeping = false;
      });
  }

  // ---------------------------------------------------------------------------------------------
  // Completion: markers, then Complete*

  /** Starts completing a Prepare* transaction (once per id at a time, at most MAX_CONCURRENT_COMPLETIONS at once). */
  #complete(image: TransactionImage): void {
    if (this.#completing.has(image.transactionalId) || this.#leadership.signal.aborted) return;
    if (this.#completing.size >= MAX_CONCURRENT_COMPLETIONS) {
      if (!this.#queued.some((q) => q.transactionalId === image.transactionalId)) this.#queued.push(image);
      return;
    }
    const epoch = this.#epoch;
    const run = this.#markAndComplete(image, this.#leadership.signal)
      .catch((error: unknown) => {
        if (epoch === this.#epoch) this.#logger.warn({ err: error, transactionalId: image.transactionalId }, 'could not complete a transaction; the next leader resumes it');
      })
      .finally(() => {
        this.#completing.delete(image.transactionalId);
        const next = this.#queued.shift();
        if (next !== undefined && epoch === this.#epoch) this.#complete(next);
      });
    this.#completing.set(image.transactionalId, run);
  }

  async #markAndComplete(image: TransactionImage, signal: AbortSignal): Promise<void> {
    await this.#writeMarkers(image, signal);
    // A write that fails while this node still leads (the pipeline refused it) is tried again:
    // left Prepare*, the transaction would wait for the next change of leader.
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      try {
        await this.#writeComplete(image, signal);
        break;
      } catch (error) {
        if (signal.aborted) throw error;
        this.#logger.warn({ err: error, transactionalId: image.transactionalId, attempt }, 'could not write the completion of a transaction; retrying');
        await sleep(backoffMs(attempt + 1), signal);
      }
    }
    this.#logger.debug({ transactionalId: image.transactionalId, state: image.state }, 'transaction complete');
  }

  /** Writes Complete* (with a commit's offsets) if the transaction is still the prepared one `image` describes. */
  async #writeComplete(image: TransactionImage, signal: AbortSignal): Promise<void> {
    await this.#options.submit(signal, (state) => {
      const current = state.transactions.transaction(image.transactionalId);
      // Completed already, or a later decision replaced it: nothing to write.
      if (current === undefined || current.state !== image.state || current.producerId !== image.producerId || current.producerEpoch !== image.producerEpoch) return read(() => undefined);
      const done = completed(current, this.#wallMs());
      const commands: MetadataCommand[] = [{ type: TxnCommandType.STORE_TRANSACTION, transaction: done.image }];
      if (done.offsets.length > 0) {
        const commitTimeMs = this.#wallMs();
        commands.push(commitOffsetsCommand(done.offsets.map((o) => ({ ...o, commitTimeMs }))));
      }
      return write(commands, () => undefined);
    });
  }

  /** Sends the markers of a Prepare* transaction until every partition has answered (or its topic is gone). */
  async #writeMarkers(image: TransactionImage, signal: AbortSignal): Promise<void> {
    const committed = image.state === TxnState.PREPARE_COMMIT;
    let remaining: MarkerPartition[] = image.topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
    const coordinatorEpoch = this.#options.term();
    for (let round = 0; remaining.length > 0; round++) {
      if (round > 0) await sleep(backoffMs(round), signal);
      signal.throwIfAborted();
      const plan = planMarkers(this.#options.state(), remaining);
      const done = new Set<string>(plan.gone.map(partitionKey));
      await Promise.all(
        plan.byBroker.map(async ({ broker, topics }) => {
          const request: M.WriteTxnMarkersRequest = {
            markers: [{ producerId: image.producerId, producerEpoch: image.producerEpoch, committed, coordinatorEpoch, topics: topics.map((t) => ({ name: t.name, partitions: [...t.partitions] })) }],
          };
          try {
            const response = await this.#options.sender.send(broker, request, AbortSignal.any([signal, AbortSignal.timeout(MARKER_REQUEST_TIMEOUT_MS)]));
            for (const result of response.markers) {
              if (result.producerId !== image.producerId) continue;
              for (const t of result.topics) {
                for (const p of t.partitions) {
                  if (markerDone(p.errorCode, image, t.name, p.partition, this.#logger)) done.add(partitionKey({ topic: t.name, partition: p.partition }));
                }
              }
            }
          } catch (error) {
            if (!signal.aborted) this.#logger.debug({ err: error, broker: broker.nodeId, transactionalId: image.transactionalId, round }, 'markers not delivered; retrying');
          }
        }),
      );
      remaining = remaining.filter((p) => !done.has(partitionKey(p)));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The shell around the state machine

  /**
   * Decides a step for `transactionalId` in the write pipeline and stores its image when it says
   * so; resolves once that is applied. A step that needs a producer id gets a fresh block and is
   * decided again. A stored Prepare* starts its completion.
   */
  async #decide(transactionalId: string, step: (current: TransactionImage | undefined, nowMs: number, state: MetadataStateView) => TxnStep): Promise<TxnStep> {
    for (let attempt = 0; ; attempt++) {
      let decided: TxnStep;
      try {
        decided = await this.#options.submit<TxnStep>(undefined, (state) => {
          const s = step(state.transactions.transaction(transactionalId), this.#wallMs(), state);
          if (s.kind !== 'store') return read(() => s);
          return write([{ type: TxnCommandType.STORE_TRANSACTION, transaction: s.image }], () => s);
        });
      } catch (error) {
        if (!(error instanceof StreamBusError)) this.#logger.error({ err: error, transactionalId }, 'unexpected error deciding a transaction step');
        return { kind: 'refuse', error: codeOf(error) };
      }
      if (decided.kind === 'store' && isPrepared(decided.image.state)) this.#complete(decided.image);
      if (decided.kind !== 'needs-producer-id' || attempt + 1 >= MAX_BLOCK_ATTEMPTS) return decided;
      try {
        await this.#allocateBlock();
      } catch (error) {
        return { kind: 'refuse', error: codeOf(error) };
      }
    }
  }

  /** The next id of this leader's block, if it has one left. */
  #takeProducerId(): number | undefined {
    const block = this.#block;
    if (block === undefined || block.next >= block.end) return undefined;
    return block.next++;
  }

  /** Allocates a fresh block of producer ids to this leader (single-flight); resolves once it is applied. */
  #allocateBlock(): Promise<void> {
    this.#allocating ??= (async () => {
      const epoch = this.#epoch;
      try {
        const block = await this.#options.submit(undefined, (state) => {
          const firstId = state.transactions.nextProducerId;
          const count = Math.min(PRODUCER_ID_BLOCK_SIZE, Number.MAX_SAFE_INTEGER - firstId);
          if (count < 1) throw new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, 'producer ids are exhausted');
          return write([{ type: TxnCommandType.ALLOCATE_PRODUCER_IDS, firstId, count }], () => ({ next: firstId, end: firstId + count }));
        });
        // A block decided in an earlier leadership is never used: the ids stay unused.
        if (epoch === this.#epoch) {
          this.#block = block;
          this.#logger.info({ firstId: block.next, count: block.end - block.next }, 'allocated a block of producer ids');
        }
      } finally {
        if (epoch === this.#epoch) this.#allocating = undefined;
      }
    })();
    return this.#allocating;
  }

  #callerProblem(caller: { readonly transactionalId: string; readonly producerId: number; readonly producerEpoch: number }): ErrorCode | undefined {
    if (caller.transactionalId === '' || caller.transactionalId.length > MAX_TRANSACTIONAL_ID_LENGTH) return ErrorCode.INVALID_REQUEST;
    if (!Number.isSafeInteger(caller.producerId) || caller.producerId < 0 || !validEpoch(caller.producerEpoch)) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    return undefined;
  }

  #wallMs(): number {
    return Math.max(0, Math.floor(this.#options.wallMs()));
  }

  /** Throws why this node does not serve transactions now, if it does not. */
  #refuseIfNotServing(): void {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
  }

  /** Why this node does not serve transactions now, if it does not. */
  #refusal(): StreamBusError | undefined {
    switch (this.#options.phase()) {
      case 'ready':
        return undefined;
      case 'loading':
        return new StreamBusError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'this node has just become the coordinator leader and is still loading');
      case 'follower':
        return this.#options.notCoordinator();
    }
  }
}

/** Whether a partition's marker answer settles it: written, or a state in which no marker can ever be written. */
function markerDone(code: number, image: TransactionImage, topic: string, partition: number, logger: Logger): boolean {
  if (code === ErrorCode.NONE) return true;
  // The broker holds a newer epoch of this producer: a later transaction has superseded this one
  // there, which cannot happen while this one is prepared. Retrying could never succeed; say so.
  if (code === ErrorCode.INVALID_PRODUCER_EPOCH || code === ErrorCode.PRODUCER_FENCED) {
    logger.error({ transactionalId: image.transactionalId, producerId: image.producerId, producerEpoch: image.producerEpoch, topic, partition, code }, 'a partition refused a transaction marker for an old producer epoch; skipping it');
    return true;
  }
  return false;
}

/** The wait before retry `round` (1, 2, ...): doubling from the first backoff to the cap. */
function backoffMs(round: number): number {
  return Math.min(MARKER_BACKOFF_FIRST_MS * 2 ** Math.min(round - 1, 10), MARKER_BACKOFF_MAX_MS);
}

function partitionKey(p: MarkerPartition): string {
  return `${p.topic}\u0000${p.partition}`;
}

function validEpoch(epoch: number): boolean {
  return Number.isSafeInteger(epoch) && epoch >= 0 && epoch <= MAX_PRODUCER_EPOCH;
}

function groupIdProblem(groupId: string): ErrorCode | undefined {
  return groupId === '' || groupId.length > MAX_GROUP_ID_LENGTH ? ErrorCode.INVALID_GROUP_ID : undefined;
}

/** The code a failed write is answered with: a lost leadership sends the client to the new leader. */
function codeOf(error: unknown): ErrorCode {
  if (!(error instanceof StreamBusError)) return ErrorCode.UNKNOWN_SERVER_ERROR;
  if (error.code === ErrorCode.NOT_CONTROLLER || error.code === ErrorCode.SHUTTING_DOWN) return ErrorCode.NOT_COORDINATOR;
  return error.code;
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const utf8 = new TextEncoder();
