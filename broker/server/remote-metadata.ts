/**
 * The broker's two links to a coordinator group running in other processes: the metadata it
 * follows (RemoteMetadataLog) and the admin and session requests it forwards
 * (remoteControllerGateway). Both sit on one CoordinatorClient, which finds the Raft leader,
 * retries and moves between nodes; `streambus dev` wires the same broker to an in-process
 * coordinator instead (cli/server/single-node.ts).
 *
 * RemoteMetadataLog is a FollowableLog fed by CoordinatorClient.followMetadata's long poll, so a
 * MetadataCache follows it exactly as it follows a local log. It keeps the records it received,
 * from startOffset to committedOffset; once it holds more than twice `retainRecords`, the oldest
 * are folded into a MetadataState of its own, which snapshot() serves. A reader behind
 * startOffset therefore always finds a snapshot that reaches it, which is the FollowableLog
 * contract, and memory stays bounded (the metadata state twice, plus the retained records).
 * When the coordinator answers with a snapshot (the broker asked for offsets it has compacted
 * away), that snapshot replaces everything held, and the commit listeners are told with an empty
 * batch: a live MetadataCache sees startOffset move past it and loads the snapshot.
 *
 * When the stream fails (no coordinator answered within the client's request timeout, or an
 * answer broke the protocol), the log waits `retryBackoffMs` and follows again from the offset
 * after the last record it holds: nothing is fetched twice and nothing is skipped. Meanwhile the
 * broker keeps serving from the metadata it has.
 *
 * The gateway forwards topic admin requests one topic per coordinator call, so that one topic's
 * failure (TOPIC_ALREADY_EXISTS, or an outcome left unknown by a leader change) neither hides the
 * others' results nor the metadata offset the broker must reach before it answers.
 */
import type * as M from '../../proto/messages.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import {
  MetadataCommandType,
  MetadataState,
  silentLogger,
  type BrokerHeartbeatRequest,
  type BrokerRegistrationRequest,
  type FollowableLog,
  type Logger,
  type MetadataRecord,
  type MetadataSnapshot,
} from '../../coordinator/index.js';
import { AdminError, type CoordinatorClient, type MetadataUpdate as CoordinatorUpdate } from '../../client/index.js';
import type { AdminResult, ControllerGateway, TopicDefaults } from './metadata-view.js';
import { Waiters } from './waiters.js';

/** Records kept past a reader's reach before the oldest are folded into the log's own snapshot. */
export const DEFAULT_RETAIN_RECORDS = 1000;
const DEFAULT_RETRY_BACKOFF_MS = 1000;
/** A heartbeat is worth nothing once the next is due; a shutdown's fencing request should not hold up exit. */
const DEFAULT_HEARTBEAT_TIMEOUT_MS = 5000;
/** Coordinator calls in flight at once for one multi-topic admin request. */
const TOPIC_CALLS_IN_FLIGHT = 8;
const CONFIG_SET = 0;
const CONFIG_DELETE = 1;

export interface RemoteMetadataLogOptions {
  readonly client: Pick<CoordinatorClient, 'followMetadata'>;
  /** See the module comment. Default 1000. */
  readonly retainRecords?: number;
  /** How long one fetch waits on the coordinator for new records (long poll). Client default when unset. */
  readonly maxWaitMs?: number;
  /** Records per fetch, at most. Client default when unset. */
  readonly maxRecords?: number;
  /** Wait before following again after the stream failed. Default 1000. */
  readonly retryBackoffMs?: number;
  readonly logger?: Logger;
}

export class RemoteMetadataLog implements FollowableLog {
  readonly #client: Pick<CoordinatorClient, 'followMetadata'>;
  readonly #retainRecords: number;
  readonly #retryBackoffMs: number;
  readonly #maxWaitMs: number | undefined;
  readonly #maxRecords: number | undefined;
  readonly #logger: Logger;
  /** The state after every record before #startOffset (offset #startOffset − 1). */
  #base = MetadataState.empty();
  /** Whether #base holds anything a reader could need: false until the first fold or snapshot. */
  #compacted = false;
  /** Records #startOffset..#committedOffset, in order, without gaps. */
  #records: MetadataRecord[] = [];
  #startOffset = 0;
  #committedOffset = -1;
  /** The cluster the records received belong to; null before the init-cluster record. */
  #clusterId: string | null = null;
  /** The coordinator's committed offset as its latest answer reported it. */
  #remoteCommittedOffset = -1;
  #caughtUp = false;
  readonly #caughtUpWaiters = new Waiters();
  readonly #listeners = new Set<(records: readonly MetadataRecord[]) => void>();
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #closed = false;

  /** Throws StreamBusError INVALID_CONFIG for a retainRecords or retryBackoffMs that is not a whole number ≥ 1. */
  constructor(options: RemoteMetadataLogOptions) {
    this.#client = options.client;
    this.#retainRecords = wholeNumber('retainRecords', options.retainRecords ?? DEFAULT_RETAIN_RECORDS);
    this.#retryBackoffMs = wholeNumber('retryBackoffMs', options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS);
    this.#maxWaitMs = options.maxWaitMs;
    this.#maxRecords = options.maxRecords;
    this.#logger = options.logger ?? silentLogger;
  }

  /** The offset of the last record received (and readable); -1 before any. */
  get committedOffset(): number {
    return this.#committedOffset;
  }

  get startOffset(): number {
    return this.#startOffset;
  }

  /** How far this log trails the coordinator's committed offset, as of the coordinator's latest answer. */
  get lag(): number {
    return Math.max(0, this.#remoteCommittedOffset - this.#committedOffset);
  }

  /** Starts following the coordinator group from offset 0. Throws INVALID_REQUEST when called twice or after close(). */
  start(): void {
    if (this.#running !== undefined || this.#closed) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, this.#closed ? 'the remote metadata log is closed' : 'the remote metadata log is already started');
    }
    this.#running = this.#follow();
  }

  /**
   * Resolves once this log holds everything the coordinator had committed when it answered, at
   * the latest, the first fetch that returned anything. Rejects with the signal's reason on abort
   * and with SHUTTING_DOWN when the log closes first.
   */
  caughtUp(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.#caughtUp) return Promise.resolve();
    if (this.#closed) return Promise.reject(closedError());
    const signal = options.signal;
    return this.#caughtUpWaiters.wait(signal);
  }

  /**
   * Up to `maxRecords` records from `fromOffset`. Rejects with OFFSET_OUT_OF_RANGE outside
   * startOffset..committedOffset + 1 (below: load snapshot() instead), INVALID_REQUEST for a
   * maxRecords that is not a whole number ≥ 1.
   */
  read(fromOffset: number, maxRecords: number): Promise<MetadataRecord[]> {
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      return Promise.reject(new StreamBusError(ErrorCode.INVALID_REQUEST, `maxRecords must be a whole number ≥ 1, got ${maxRecords}`));
    }
    if (!Number.isSafeInteger(fromOffset) || fromOffset < this.#startOffset || fromOffset > this.#committedOffset + 1) {
      return Promise.reject(
        new StreamBusError(
          ErrorCode.OFFSET_OUT_OF_RANGE,
          `metadata offset ${fromOffset} is outside the readable range ${this.#startOffset}..${this.#committedOffset + 1}` +
            (fromOffset < this.#startOffset ? ' (older records are in the snapshot)' : ''),
        ),
      );
    }
    const at = fromOffset - this.#startOffset;
    return Promise.resolve(this.#records.slice(at, at + maxRecords));
  }

  /** The state at startOffset − 1, or undefined while nothing was folded away and no snapshot arrived. */
  snapshot(): Promise<{ readonly offset: number; readonly snapshot: MetadataSnapshot } | undefined> {
    if (!this.#compacted) return Promise.resolve(undefined);
    return Promise.resolve({ offset: this.#base.lastAppliedOffset, snapshot: this.#base.snapshot() });
  }

  /**
   * Calls `listener` with each batch of records as it arrives (an empty batch when a snapshot
   * replaced what this log held). Listeners must not throw: a throw is a bug and is rethrown
   * asynchronously. Returns an unsubscribe function.
   */
  onCommit(listener: (records: readonly MetadataRecord[]) => void): () => void {
    const entry = (records: readonly MetadataRecord[]): void => listener(records);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Stops following and waits for the stream to end; what was received stays readable. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#abort.abort(closedError());
      this.#settleCaughtUp(closedError());
    }
    await this.#running;
  }

  /** Follows until closed, starting again after a failure from the offset after the last record held. */
  async #follow(): Promise<void> {
    const signal = this.#abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const stream = this.#client.followMetadata(this.#committedOffset + 1, {
          signal,
          ...(this.#maxWaitMs === undefined ? {} : { maxWaitMs: this.#maxWaitMs }),
          ...(this.#maxRecords === undefined ? {} : { maxRecords: this.#maxRecords }),
        });
        for await (const update of stream) {
          this.#accept(update);
          if (failures > 0) this.#logger.info({ offset: this.#committedOffset }, 'following the coordinator metadata again');
          failures = 0;
        }
        if (signal.aborted) return;
        // The stream ends without an abort only when the client was closed: nobody can feed us now.
        this.#logger.warn({ offset: this.#committedOffset }, 'the coordinator client was closed; no longer following the metadata');
        this.#settleCaughtUp(closedError());
        return;
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        const fields = { err: error, offset: this.#committedOffset, retryInMs: this.#retryBackoffMs };
        if (failures === 1) this.#logger.warn(fields, 'lost the coordinator metadata stream; following again shortly');
        else this.#logger.debug(fields, 'the coordinator metadata stream failed again');
      }
      await sleep(this.#retryBackoffMs, signal);
    }
  }

  /** Takes one update from the stream; throws (changing nothing) when it does not continue this log. */
  #accept(update: CoordinatorUpdate): void {
    this.#remoteCommittedOffset = Math.max(this.#remoteCommittedOffset, update.committedOffset);
    if (update.kind === 'snapshot') this.#acceptSnapshot(update.offset, update.snapshot);
    else this.#acceptRecords(update.records);
    if (this.#committedOffset >= update.committedOffset) this.#settleCaughtUp();
  }

  #acceptSnapshot(offset: number, snapshot: MetadataSnapshot): void {
    if (offset <= this.#committedOffset) return;
    const state = MetadataState.restore(snapshot);
    if (state.lastAppliedOffset !== offset) {
      throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `the coordinator's metadata snapshot at offset ${offset} holds records up to ${state.lastAppliedOffset}`);
    }
    const clusterId = this.#clusterId;
    if (clusterId !== null && state.clusterId !== clusterId) {
      throw new StreamBusError(
        ErrorCode.INCONSISTENT_CLUSTER_ID,
        `the coordinator's metadata snapshot belongs to cluster ${state.clusterId ?? '(none)'}, but this broker follows cluster ${clusterId}`,
      );
    }
    this.#base = state;
    this.#clusterId = state.clusterId;
    this.#compacted = true;
    this.#records = [];
    this.#startOffset = offset + 1;
    this.#committedOffset = offset;
    this.#logger.info({ offset, topics: state.topics().length }, 'loaded a metadata snapshot from the coordinator group');
    this.#notify([]);
  }

  #acceptRecords(records: readonly MetadataRecord[]): void {
    const fresh = records.filter((record) => record.offset > this.#committedOffset);
    let expected = this.#committedOffset + 1;
    for (const record of fresh) {
      if (record.offset !== expected) {
        throw new StreamBusError(ErrorCode.MALFORMED_FRAME, `the coordinator sent metadata record ${record.offset} where ${expected} was due`);
      }
      expected += 1;
    }
    if (fresh.length === 0) return;
    for (const record of fresh) if (record.command.type === MetadataCommandType.INIT_CLUSTER) this.#clusterId ??= record.command.clusterId;
    this.#records.push(...fresh);
    this.#committedOffset = expected - 1;
    // Listeners first: a record the state machine refuses then fails the follower's cache, which
    // applies it with the same code, before it can fail the fold below.
    this.#notify(fresh);
    this.#compact();
  }

  /**
   * Folds the oldest records into #base once more than twice retainRecords are held, keeping
   * retainRecords: the copying happens once per retainRecords appended, not per record.
   */
  #compact(): void {
    if (this.#records.length <= 2 * this.#retainRecords) return;
    const fold = this.#records.length - this.#retainRecords;
    for (let i = 0; i < fold; i++) this.#base.apply(this.#records[i]!);
    this.#records = this.#records.slice(fold);
    this.#startOffset += fold;
    this.#compacted = true;
  }

  #notify(records: readonly MetadataRecord[]): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(records);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  #settleCaughtUp(error?: Error): void {
    if (error === undefined) this.#caughtUp = true;
    if (error === undefined) this.#caughtUpWaiters.resolveAll();
    else this.#caughtUpWaiters.rejectAll(error);
  }
}

export interface RemoteControllerGatewayOptions {
  readonly client: Pick<CoordinatorClient, 'createTopics' | 'deleteTopics' | 'alterConfigs' | 'createPartitions' | 'registerBroker' | 'brokerHeartbeat'>;
  /** The cluster id the broker registers under: the followed metadata's. */
  readonly clusterId: () => string | null;
  /** Longest a heartbeat call may take, retries included. Default 5000. */
  readonly heartbeatTimeoutMs?: number;
}

/**
 * A ControllerGateway that forwards to the coordinator group. Topic requests are sent one topic
 * per call (at most 8 at once) and every failure lands in that topic's result, as Kafka reports
 * controller errors per topic; metadataOffset is the highest offset among the topics that
 * succeeded (-1 when none did). registerBroker rejects with INVALID_REQUEST before the followed
 * metadata has told it the cluster id.
 */
export function remoteControllerGateway(options: RemoteControllerGatewayOptions): ControllerGateway {
  const { client } = options;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
  return {
    createTopics: (request: M.CreateTopicsRequest, defaults: TopicDefaults) =>
      perTopic(request.topics, async (topic) => {
        const created = await client.createTopics(
          [
            {
              topic: topic.name,
              partitions: countOrDefault(topic.partitions, defaults.numPartitions, ErrorCode.INVALID_PARTITIONS, 'partition count', topic.name),
              replicationFactor: countOrDefault(topic.replicationFactor, defaults.replicationFactor, ErrorCode.INVALID_REPLICATION_FACTOR, 'replication factor', topic.name),
              configs: topic.configs,
            },
          ],
          { validateOnly: request.validateOnly, ...callTimeout(request.timeoutMs) },
        );
        return { topicId: created.topics[0]?.topicId ?? '', metadataOffset: created.metadataOffset };
      }),
    deleteTopics: (request: M.DeleteTopicsRequest) =>
      perTopic(
        request.names.map((name) => ({ name })),
        async (topic) => ({ topicId: '', metadataOffset: (await client.deleteTopics([topic.name], callTimeout(request.timeoutMs))).metadataOffset }),
      ),
    alterConfigs: (request: M.AlterConfigsRequest) =>
      perTopic(request.topics, async (topic) => {
        const written = await client.alterConfigs([configChange(topic)], { validateOnly: request.validateOnly });
        return { topicId: '', metadataOffset: written.metadataOffset };
      }),
    createPartitions: (request: M.CreatePartitionsRequest) =>
      perTopic(request.topics, async (topic) => {
        const written = await client.createPartitions([{ topic: topic.name, count: topic.count }], { validateOnly: request.validateOnly, ...callTimeout(request.timeoutMs) });
        return { topicId: '', metadataOffset: written.metadataOffset };
      }),
    async registerBroker(request: BrokerRegistrationRequest) {
      const clusterId = options.clusterId();
      if (clusterId === null) {
        throw new StreamBusError(ErrorCode.INVALID_REQUEST, `broker ${request.nodeId} cannot register before it has followed the metadata far enough to know the cluster id`);
      }
      const registration = await client.registerBroker({
        nodeId: request.nodeId,
        incarnationId: request.incarnationId,
        clusterId,
        host: request.host,
        port: request.port,
        rack: request.rack ?? undefined,
        listeners: request.listeners ?? [],
      });
      return { brokerEpoch: registration.brokerEpoch, metadataOffset: registration.metadataOffset };
    },
    brokerHeartbeat: (request: BrokerHeartbeatRequest) =>
      client.brokerHeartbeat(
        { nodeId: request.nodeId, brokerEpoch: request.brokerEpoch, metadataOffset: request.metadataOffset, wantFence: request.wantFence },
        { timeoutMs: heartbeatTimeoutMs },
      ),
  };
}

/** 0 (and Kafka's -1) on the wire mean the broker's default; other counts below 1 are refused. */
function countOrDefault(value: number, fallback: number, code: ErrorCode, what: string, topic: string): number {
  if (value === 0 || value === -1) return fallback;
  if (value < 1) throw new StreamBusError(code, `the ${what} of topic '${topic}' must be at least 1, got ${value}`, { context: { topic } });
  return value;
}

/** The request's own timeout when it gives one; the client's otherwise. */
function callTimeout(timeoutMs: number): { timeoutMs?: number } {
  return timeoutMs > 0 ? { timeoutMs } : {};
}

/** A wire config change (op 0 set, 1 delete); an unknown op or a set without value is refused, naming the key. */
function configChange(topic: M.AlterTopicConfigs): { topic: string; set: Record<string, string>; delete: string[] } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const op of topic.ops) {
    if (op.op === CONFIG_SET && op.value !== undefined) set[op.name] = op.value;
    else if (op.op === CONFIG_DELETE) remove.push(op.name);
    else {
      throw new StreamBusError(
        ErrorCode.INVALID_REQUEST,
        op.op === CONFIG_SET ? `config op 'set' of ${op.name} has no value` : `config op ${op.op} of ${op.name} is unknown: use 0 (set) or 1 (delete)`,
        { context: { topic: topic.name } },
      );
    }
  }
  return { topic: topic.name, set, delete: remove };
}

/**
 * Runs `call` for each topic, at most TOPIC_CALLS_IN_FLIGHT at once, and turns each outcome into
 * that topic's result. A name given twice is answered INVALID_REQUEST at each occurrence (as the
 * controller does) and never sent. Errors other than StreamBusError are bugs and reject.
 */
async function perTopic<T extends { readonly name: string }>(
  topics: readonly T[],
  call: (topic: T) => Promise<{ topicId: string; metadataOffset: number }>,
): Promise<AdminResult<M.TopicResult>> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const { name } of topics) (seen.has(name) ? twice : seen).add(name);
  const results = new Array<M.TopicResult>(topics.length);
  let metadataOffset = -1;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < topics.length) {
      const index = next++;
      const topic = topics[index]!;
      if (twice.has(topic.name)) {
        results[index] = failed(topic.name, new StreamBusError(ErrorCode.INVALID_REQUEST, `topic '${topic.name}' appears more than once in the request`));
        continue;
      }
      try {
        const outcome = await call(topic);
        metadataOffset = Math.max(metadataOffset, outcome.metadataOffset);
        results[index] = { name: topic.name, errorCode: ErrorCode.NONE, errorMessage: '', topicId: outcome.topicId };
      } catch (error) {
        results[index] = failed(topic.name, topicError(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TOPIC_CALLS_IN_FLIGHT, topics.length) }, worker));
  return { results, metadataOffset };
}

/** The typed error of one topic's call: an AdminError's own failure, or the call's error. */
function topicError(error: unknown): StreamBusError {
  if (error instanceof AdminError) return error.failures[0]?.error ?? error;
  if (error instanceof StreamBusError) return error;
  throw error;
}

function failed(name: string, error: StreamBusError): M.TopicResult {
  return { name, errorCode: error.code, errorMessage: error.message, topicId: '' };
}

function wholeNumber(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a whole number ≥ 1, got ${value}`);
  return value;
}

function closedError(): StreamBusError {
  return new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the remote metadata log is closed');
}

/** Waits `ms` or until the signal aborts, whichever comes first; never rejects. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
