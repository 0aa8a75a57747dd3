/**
 * The admin client: topics, partitions, configs, offsets and cluster information.
 *
 * Error model. Calls that act on several topics or partitions are not atomic: each item succeeds
 * or fails on its own. A call resolves only if every item succeeded; otherwise it rejects with an
 * AdminError whose `failures` name each failed topic (and partition) with its own StreamBusError,
 * and the items not listed took effect. Request-level failures (no broker reachable, timeout)
 * reject with a plain StreamBusError.
 *
 * Routing and retries. Topic and config changes go to the controller when the metadata names one
 * (any broker otherwise); offset lookups and record deletion go to each partition's leader.
 * Retriable failures (connection loss, NOT_CONTROLLER, a moved leader) are retried with backoff
 * until the call's timeoutMs. A create retried after a lost answer may report
 * TOPIC_ALREADY_EXISTS for a topic the first attempt created.
 */
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type { ApiName, RequestOf, ResponseOf } from '../../proto/index.js';
import type { Cluster } from '../cluster/cluster.js';
import { isStaleMetadataError } from '../cluster/cluster.js';
import { topicFromWire, type BrokerMetadata, type TopicMetadata } from '../cluster/metadata.js';
import { decideRetry } from '../policy/retry.js';
import { delay, throwIfAborted } from '../signal.js';
import { AdminError, type ItemFailure } from '../errors.js';
import type { CallOptions, TopicPartition } from '../types.js';
import type { TransactionDescription, TransactionListing, TransactionState, TxnCalls } from '../coordinator/txn-calls.js';

export interface AdminCallOptions extends CallOptions {
  /** Longest the call may take, retries included. Default: the client's requestTimeoutMs. */
  readonly timeoutMs?: number | undefined;
}

export interface ValidateOptions extends AdminCallOptions {
  /** Check the request without applying it. */
  readonly validateOnly?: boolean | undefined;
}

export interface NewTopicSpec {
  readonly topic: string;
  /** Default: the broker's num.partitions. */
  readonly partitions?: number | undefined;
  /** Default: the broker's default replication factor. */
  readonly replicationFactor?: number | undefined;
  readonly configs?: Readonly<Record<string, string>> | undefined;
}

export interface CreatedTopic {
  readonly topic: string;
  readonly topicId: string;
}

export interface PartitionDescription {
  readonly partition: number;
  /** -1 when the partition has no leader. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** The log start offset; -1 if it could not be read (leaderless partition). */
  readonly earliestOffset: number;
  /** The high watermark (next offset to be written); -1 if it could not be read. */
  readonly latestOffset: number;
}

export interface TopicDescription {
  readonly topic: string;
  readonly topicId: string;
  readonly internal: boolean;
  readonly partitions: readonly PartitionDescription[];
}

export interface ConfigDescription {
  readonly name: string;
  /** null when the config has no value (or is sensitive). */
  readonly value: string | null;
  /** 'default', 'topic' (set on the topic) or 'broker' (a broker-wide default). */
  readonly source: string;
  readonly readOnly: boolean;
  readonly sensitive: boolean;
  readonly documentation: string;
}

export interface TopicConfigDescription {
  readonly topic: string;
  readonly entries: readonly ConfigDescription[];
}

export interface ConfigChange {
  readonly topic: string;
  /** Configs to set on the topic. */
  readonly set?: Readonly<Record<string, string>> | undefined;
  /** Configs to remove from the topic (they fall back to their defaults). */
  readonly delete?: readonly string[] | undefined;
}

export interface PartitionIncrease {
  readonly topic: string;
  /** The new total number of partitions; must exceed the current count. */
  readonly count: number;
}

/** Where to look: the log start, the log end, or the first record at or after a time (ms). */
export type OffsetSpec = 'earliest' | 'latest' | { readonly timestamp: number };

export interface OffsetQuery extends TopicPartition {
  readonly at: OffsetSpec;
}

export interface OffsetResult extends TopicPartition {
  /** -1 for a timestamp query when no record is at or after the timestamp. */
  readonly offset: number;
  /** The found record's timestamp for timestamp queries; -1 otherwise. */
  readonly timestamp: number;
}

export interface RecordDeletion extends TopicPartition {
  /** Records before this offset are deleted; -1 means up to the high watermark. */
  readonly offset: number;
}

export interface DeletedRecords extends TopicPartition {
  /** The partition's new log start offset. */
  readonly lowWatermark: number;
}

export interface ClusterDescription {
  readonly clusterId: string;
  /** -1 when unknown. */
  readonly controllerId: number;
  readonly brokers: readonly BrokerMetadata[];
}

export interface ListTopicsOptions extends AdminCallOptions {
  /** Include internal topics. Default false. */
  readonly includeInternal?: boolean | undefined;
}

export interface AdminDeps {
  readonly cluster: Cluster;
  readonly now: () => number;
  readonly requestTimeoutMs: number;
  /** The coordinator's transaction calls, made on first use (listTransactions, describeTransactions). */
  readonly transactions?: () => TxnCalls;
}

/** One producer a partition leader keeps state for (idempotent or transactional). */
export interface ProducerState {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** The last sequence number the leader wrote for it. */
  readonly lastSequence: number;
  readonly lastTimestampMs: number;
  readonly coordinatorEpoch: number;
  /** The first offset of its open transaction on this partition; undefined with none open. */
  readonly currentTxnStartOffset: number | undefined;
}

export interface PartitionProducers extends TopicPartition {
  readonly producers: readonly ProducerState[];
}

type TopicResult = ResponseOf<'CREATE_TOPICS'>['topics'][number];

/** A partition-level request item, routed to the partition's leader. */
interface PartitionItem<R> {
  readonly topic: string;
  readonly partition: number;
  result?: R;
  error?: StreamBusError;
}

const EARLIEST_TIMESTAMP = -2;
const LATEST_TIMESTAMP = -1;
const CONFIG_SET = 0;
const CONFIG_DELETE = 1;

/**
 * Cluster administration. Get it from `StreamBus.admin()`. Calls over several topics or partitions
 * resolve only if every item succeeded, else reject with AdminError listing each failed item and
 * its StreamBusError; items not listed took effect.
 */
export class Admin {
  readonly #cluster: Cluster;
  readonly #now: () => number;
  readonly #requestTimeoutMs: number;
  readonly #transactions: (() => TxnCalls) | undefined;

  constructor(deps: AdminDeps) {
    this.#cluster = deps.cluster;
    this.#now = deps.now;
    this.#requestTimeoutMs = deps.requestTimeoutMs;
    this.#transactions = deps.transactions;
  }

  /**
   * Creates topics. Resolves with each topic's id once the controller has committed the creation
   * (leaders may take a moment longer to be elected). Rejects with AdminError naming each topic
   * that failed (e.g. TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_CONFIG).
   */
  async createTopics(topics: readonly NewTopicSpec[], options: ValidateOptions = {}): Promise<CreatedTopic[]> {
    const names = topics.map((t) => checkTopicName(t?.topic));
    for (const spec of topics) {
      checkCount(spec.partitions, 'partitions', spec.topic);
      checkCount(spec.replicationFactor, 'replicationFactor', spec.topic);
    }
    const timeoutMs = this.#timeout(options);
    const response = await this.#controllerRequest(
      'CREATE_TOPICS',
      {
        topics: topics.map((t) => ({ name: t.topic, partitions: t.partitions ?? 0, replicationFactor: t.replicationFactor ?? 0, configs: { ...(t.configs ?? {}) } })),
        timeoutMs,
        validateOnly: options.validateOnly ?? false,
      },
      options,
    );
    const results = topicResults('createTopics', names, response.topics);
    return names.map((topic) => ({ topic, topicId: results.get(topic)?.topicId ?? '' }));
  }

  /** Deletes topics and their data. Rejects with AdminError naming each topic that failed (e.g. UNKNOWN_TOPIC_OR_PARTITION). */
  async deleteTopics(topics: readonly string[], options: AdminCallOptions = {}): Promise<void> {
    const names = topics.map((t) => checkTopicName(t));
    const response = await this.#controllerRequest('DELETE_TOPICS', { names, timeoutMs: this.#timeout(options) }, options);
    topicResults('deleteTopics', names, response.topics);
  }

  /** Names of the cluster's topics, sorted. */
  async listTopics(options: ListTopicsOptions = {}): Promise<string[]> {
    const response = await this.#cluster.requestWithRetry('METADATA', { topics: [], allTopics: true, allowAutoTopicCreation: false }, 'any', this.#retryOptions(options));
    return response.topics
      .filter((t) => t.errorCode === ErrorCode.NONE && (options.includeInternal === true || !t.internal))
      .map((t) => t.name)
      .sort();
  }

  /**
   * Partitions, leaders, replicas, ISR and each partition's earliest and latest offset. Rejects
   * with AdminError for topics that do not exist; offsets of a leaderless partition read -1.
   */
  async describeTopics(topics: readonly string[], options: AdminCallOptions = {}): Promise<TopicDescription[]> {
    const names = topics.map((t) => checkTopicName(t));
    const deadlineMs = this.#now() + this.#timeout(options);
    const metadata = await this.#metadata(names, options.signal, deadlineMs);
    const failures: ItemFailure[] = [];
    const found: TopicMetadata[] = [];
    for (const name of names) {
      const entry = metadata.get(name);
      if (entry instanceof StreamBusError || entry === undefined) {
        failures.push({ topic: name, error: entry ?? unknownTopic(name) });
      } else {
        found.push(entry);
      }
    }
    if (failures.length > 0) throw new AdminError('describeTopics', failures, names.length);
    const queries: { topic: string; partition: number; timestamp: number }[] = [];
    for (const topic of found) {
      // A leaderless partition has no one to answer: its offsets read -1 rather than stall the call.
      for (const p of topic.partitions) {
        if (p.leader < 0) continue;
        queries.push({ topic: topic.name, partition: p.partition, timestamp: EARLIEST_TIMESTAMP });
        queries.push({ topic: topic.name, partition: p.partition, timestamp: LATEST_TIMESTAMP });
      }
    }
    // Earliest and latest cannot share one ListOffsets request (one entry per partition), so ask twice.
    const earliest = await this.#listOffsetsRaw(queries.filter((q) => q.timestamp === EARLIEST_TIMESTAMP), options.signal, deadlineMs);
    const latest = await this.#listOffsetsRaw(queries.filter((q) => q.timestamp === LATEST_TIMESTAMP), options.signal, deadlineMs);
    return found.map((topic) => ({
      topic: topic.name,
      topicId: topic.topicId,
      internal: topic.internal,
      partitions: topic.partitions.map((p) => ({
        partition: p.partition,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicas: p.replicas,
        isr: p.isr,
        earliestOffset: earliest.get(keyOf(topic.name, p.partition))?.result?.offset ?? -1,
        latestOffset: latest.get(keyOf(topic.name, p.partition))?.result?.offset ?? -1,
      })),
    }));
  }

  /** Every config of each topic with its value and where the value comes from. */
  async describeConfigs(topics: readonly string[], options: AdminCallOptions = {}): Promise<TopicConfigDescription[]> {
    const names = topics.map((t) => checkTopicName(t));
    const response = await this.#cluster.requestWithRetry('DESCRIBE_CONFIGS', { topics: names }, 'any', this.#retryOptions(options));
    const byName = new Map(response.topics.map((t) => [t.name, t]));
    const failures: ItemFailure[] = [];
    for (const name of names) {
      const t = byName.get(name);
      const error = t === undefined ? missingResult(name) : errorFromCode(t.errorCode, t.errorMessage, { topic: name });
      if (error !== undefined) failures.push({ topic: name, error });
    }
    if (failures.length > 0) throw new AdminError('describeConfigs', failures, names.length);
    return names.map((name) => ({
      topic: name,
      entries: byName.get(name)!.entries.map((e) => ({
        name: e.name,
        value: e.value ?? null,
        source: e.source,
        readOnly: e.readOnly,
        sensitive: e.sensitive,
        documentation: e.documentation,
      })),
    }));
  }

  /**
   * Incrementally sets and deletes topic configs; configs not named are untouched. Each topic's
   * changes apply together or not at all. Rejects with AdminError naming each topic that failed.
   */
  async alterConfigs(changes: readonly ConfigChange[], options: ValidateOptions = {}): Promise<void> {
    const names = changes.map((c) => checkTopicName(c?.topic));
    const topics = changes.map((c) => ({
      name: c.topic,
      ops: [
        ...Object.entries(c.set ?? {}).map(([name, value]) => {
          if (typeof value !== 'string') {
            throw new StreamBusError(ErrorCode.INVALID_CONFIG, `config ${name} of topic "${c.topic}" must be a string value`, { context: { topic: c.topic } });
          }
          return { name, value, op: CONFIG_SET };
        }),
        ...(c.delete ?? []).map((name) => ({ name, op: CONFIG_DELETE })),
      ],
    }));
    const response = await this.#controllerRequest('ALTER_CONFIGS', { topics, validateOnly: options.validateOnly ?? false }, options);
    topicResults('alterConfigs', names, response.topics);
  }

  /** Raises topics' partition counts. Rejects with AdminError naming each topic that failed (e.g. INVALID_PARTITIONS). */
  async createPartitions(increases: readonly PartitionIncrease[], options: ValidateOptions = {}): Promise<void> {
    const names = increases.map((i) => checkTopicName(i?.topic));
    for (const i of increases) checkCount(i.count, 'count', i.topic);
    const response = await this.#controllerRequest(
      'CREATE_PARTITIONS',
      { topics: increases.map((i) => ({ name: i.topic, count: i.count })), timeoutMs: this.#timeout(options), validateOnly: options.validateOnly ?? false },
      options,
    );
    topicResults('createPartitions', names, response.topics);
  }

  /** Earliest, latest or by-timestamp offsets, one result per query in input order. */
  async listOffsets(queries: readonly OffsetQuery[], options: AdminCallOptions = {}): Promise<OffsetResult[]> {
    const raw = queries.map((q) => {
      checkTopicName(q?.topic);
      checkPartition(q);
      return { topic: q.topic, partition: q.partition, timestamp: specToTimestamp(q.at, q.topic) };
    });
    const deadlineMs = this.#now() + this.#timeout(options);
    // Several queries for one partition cannot share a request: group them into rounds.
    const rounds: (typeof raw)[] = [];
    for (const q of raw) {
      let round = rounds.find((r) => !r.some((x) => x.topic === q.topic && x.partition === q.partition));
      if (round === undefined) {
        round = [];
        rounds.push(round);
      }
      round.push(q);
    }
    const answers = new Map<string, PartitionItem<{ offset: number; timestamp: number }>>();
    for (const round of rounds) {
      const results = await this.#listOffsetsRaw(round, options.signal, deadlineMs);
      for (const q of round) answers.set(`${keyOf(q.topic, q.partition)}\u0000${q.timestamp}`, results.get(keyOf(q.topic, q.partition))!);
    }
    const failures: ItemFailure[] = [];
    const out: OffsetResult[] = [];
    for (const q of raw) {
      const item = answers.get(`${keyOf(q.topic, q.partition)}\u0000${q.timestamp}`)!;
      if (item.error !== undefined) failures.push({ topic: q.topic, partition: q.partition, error: item.error });
      else out.push({ topic: q.topic, partition: q.partition, offset: item.result!.offset, timestamp: q.timestamp >= 0 ? item.result!.timestamp : -1 });
    }
    if (failures.length > 0) throw new AdminError('listOffsets', failures, raw.length);
    return out;
  }

  /**
   * Deletes records before the given offsets by moving each partition's log start offset.
   * Resolves with the new low watermarks; rejects with AdminError naming each partition that failed.
   */
  async deleteRecords(deletions: readonly RecordDeletion[], options: AdminCallOptions = {}): Promise<DeletedRecords[]> {
    for (const d of deletions) {
      checkTopicName(d?.topic);
      checkPartition(d);
      if (!Number.isSafeInteger(d.offset) || d.offset < -1) {
        throw new StreamBusError(ErrorCode.INVALID_REQUEST, `offset must be -1 or a non-negative integer, got ${String(d.offset)}`, {
          context: { topic: d.topic, partition: d.partition },
        });
      }
    }
    const deadlineMs = this.#now() + this.#timeout(options);
    const timeoutMs = this.#timeout(options);
    const offsets = new Map(deletions.map((d) => [keyOf(d.topic, d.partition), d.offset]));
    const items = await this.#byLeader<{ lowWatermark: number }>(
      deletions,
      async (connection, group) => {
        const response = await connection.request(
          'DELETE_RECORDS',
          { topics: groupByTopic(group, (item) => ({ partition: item.partition, offset: offsets.get(keyOf(item.topic, item.partition))! })), timeoutMs },
          { timeoutMs: timeoutMs + 5_000 },
        );
        return response.topics.flatMap((t) =>
          t.partitions.map((p) => ({ topic: t.name, partition: p.partition, errorCode: p.errorCode, errorMessage: p.errorMessage, result: { lowWatermark: p.lowWatermark } })),
        );
      },
      options.signal,
      deadlineMs,
    );
    const failures: ItemFailure[] = [];
    const out: DeletedRecords[] = [];
    for (const d of deletions) {
      const item = items.get(keyOf(d.topic, d.partition))!;
      if (item.error !== undefined) failures.push({ topic: d.topic, partition: d.partition, error: item.error });
      else out.push({ topic: d.topic, partition: d.partition, lowWatermark: item.result!.lowWatermark });
    }
    if (failures.length > 0) throw new AdminError('deleteRecords', failures, deletions.length);
    return out;
  }

  /**
   * The producers each partition's leader keeps state for: id, epoch, last sequence, and the first
   * offset of the open transaction (what holds the partition's last stable offset back). Rejects
   * with AdminError naming partitions that failed (UNKNOWN_TOPIC_OR_PARTITION...).
   */
  async describeProducers(partitions: readonly TopicPartition[], options: AdminCallOptions = {}): Promise<PartitionProducers[]> {
    for (const tp of partitions) {
      checkTopicName(tp?.topic);
      checkPartition(tp);
    }
    const deadlineMs = this.#now() + this.#timeout(options);
    const items = await this.#byLeader<ProducerState[]>(
      partitions,
      async (connection, group) => {
        const response = await connection.request('DESCRIBE_PRODUCERS', { topics: groupByTopic(group, (item) => item.partition) }, { timeoutMs: this.#timeout(options) });
        return response.topics.flatMap((t) =>
          t.partitions.map((p) => ({
            topic: t.name,
            partition: p.partition,
            errorCode: p.errorCode,
            errorMessage: p.errorMessage,
            result: p.activeProducers.map((a) => ({
              producerId: a.producerId,
              producerEpoch: a.producerEpoch,
              lastSequence: a.lastSequence,
              lastTimestampMs: a.lastTimestampMs,
              coordinatorEpoch: a.coordinatorEpoch,
              currentTxnStartOffset: a.currentTxnStartOffset < 0 ? undefined : a.currentTxnStartOffset,
            })),
          })),
        );
      },
      options.signal,
      deadlineMs,
    );
    const failures: ItemFailure[] = [];
    const out: PartitionProducers[] = [];
    for (const tp of partitions) {
      const item = items.get(keyOf(tp.topic, tp.partition))!;
      if (item.error !== undefined) failures.push({ topic: tp.topic, partition: tp.partition, error: item.error });
      else out.push({ topic: tp.topic, partition: tp.partition, producers: item.result ?? [] });
    }
    if (failures.length > 0) throw new AdminError('describeProducers', failures, partitions.length);
    return out;
  }

  /** The transactional ids the transaction coordinator knows, optionally only in the given states. */
  async listTransactions(filter: { readonly states?: readonly TransactionState[]; readonly producerIds?: readonly number[] } = {}, options: AdminCallOptions = {}): Promise<TransactionListing[]> {
    return this.#txnCalls().listTransactions(filter, { ...options, timeoutMs: this.#timeout(options) });
  }

  /** Each transactional id's state, producer and open transaction (partitions, groups, start time). */
  async describeTransactions(transactionalIds: readonly string[], options: AdminCallOptions = {}): Promise<TransactionDescription[]> {
    return this.#txnCalls().describeTransactions(transactionalIds, { ...options, timeoutMs: this.#timeout(options) });
  }

  #txnCalls(): TxnCalls {
    if (this.#transactions === undefined) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'this admin client has no coordinator (get it from StreamBus.admin())');
    return this.#transactions();
  }

  /** The cluster id, the controller and every live broker. */
  async describeCluster(options: AdminCallOptions = {}): Promise<ClusterDescription> {
    const response = await this.#cluster.requestWithRetry('METADATA', { topics: [], allTopics: false, allowAutoTopicCreation: false }, 'any', this.#retryOptions(options));
    this.#cluster.applyMetadata(response);
    return {
      clusterId: response.clusterId,
      controllerId: response.controllerId,
      brokers: response.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })).sort((a, b) => a.nodeId - b.nodeId),
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  #timeout(options: AdminCallOptions): number {
    const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `timeoutMs must be a positive number, got ${String(options.timeoutMs)}`);
    }
    return timeoutMs;
  }

  #retryOptions(options: AdminCallOptions): { signal?: AbortSignal | undefined; deadlineMs: number } {
    return { signal: options.signal, deadlineMs: this.#now() + this.#timeout(options) };
  }

  /** A topic-management request to the controller, with the cluster's retry rules. */
  async #controllerRequest<A extends ApiName>(api: A, body: RequestOf<A>, options: AdminCallOptions): Promise<ResponseOf<A>> {
    const timeoutMs = this.#timeout(options);
    // The controller may wait up to timeoutMs itself; allow a little longer for the answer to arrive.
    const response = await this.#cluster.requestWithRetry(api, body, 'controller', {
      signal: options.signal,
      deadlineMs: this.#now() + timeoutMs,
      timeoutMs: timeoutMs + 5_000,
    });
    // Topic changes alter metadata; let the next user of the cache see them.
    this.#cluster.refreshMetadata().catch(() => undefined);
    return response;
  }

  /** Fresh metadata for the given topics (not cached as "in use"); each entry is the topic or its error. */
  async #metadata(names: readonly string[], signal: AbortSignal | undefined, deadlineMs: number): Promise<Map<string, TopicMetadata | StreamBusError>> {
    const response = await this.#cluster.requestWithRetry('METADATA', { topics: [...names], allTopics: false, allowAutoTopicCreation: false }, 'any', { signal, deadlineMs });
    this.#cluster.applyMetadata(response);
    const out = new Map<string, TopicMetadata | StreamBusError>();
    for (const wire of response.topics) {
      const topic = topicFromWire(wire);
      out.set(wire.name, topic ?? errorFromCode(wire.errorCode, wire.errorMessage, { topic: wire.name }) ?? unknownTopic(wire.name));
    }
    return out;
  }

  /** ListOffsets for at most one query per partition. */
  #listOffsetsRaw(
    queries: readonly { topic: string; partition: number; timestamp: number }[],
    signal: AbortSignal | undefined,
    deadlineMs: number,
  ): Promise<Map<string, PartitionItem<{ offset: number; timestamp: number }>>> {
    const timestamps = new Map(queries.map((q) => [keyOf(q.topic, q.partition), q.timestamp]));
    return this.#byLeader<{ offset: number; timestamp: number }>(
      queries,
      async (connection, group) => {
        const response = await connection.request('LIST_OFFSETS', {
          isolationLevel: 0,
          topics: groupByTopic(group, (item) => ({ partition: item.partition, timestamp: timestamps.get(keyOf(item.topic, item.partition))! })),
        });
        return response.topics.flatMap((t) =>
          t.partitions.map((p) => ({ topic: t.name, partition: p.partition, errorCode: p.errorCode, errorMessage: p.errorMessage, result: { offset: p.offset, timestamp: p.timestamp } })),
        );
      },
      signal,
      deadlineMs,
    );
  }

  /**
   * Sends partition-level requests to each partition's leader, retrying the partitions whose
   * answer (or request) failed retriably, with fresh metadata, until the deadline. Every input
   * partition ends with a result or an error.
   */
  async #byLeader<R>(
    partitions: readonly TopicPartition[],
    send: (
      connection: Awaited<ReturnType<Cluster['connection']>>,
      group: PartitionItem<R>[],
    ) => Promise<{ topic: string; partition: number; errorCode: number; errorMessage: string; result: R }[]>,
    signal: AbortSignal | undefined,
    deadlineMs: number,
  ): Promise<Map<string, PartitionItem<R>>> {
    const items = new Map<string, PartitionItem<R>>();
    for (const tp of partitions) items.set(keyOf(tp.topic, tp.partition), { topic: tp.topic, partition: tp.partition });
    const retry = this.#cluster.options.retry;
    const random = this.#cluster.options.random;
    for (let round = 0; ; round++) {
      throwIfAborted(signal);
      const pending = [...items.values()].filter((item) => item.result === undefined && (item.error === undefined || item.error.retriable));
      if (pending.length === 0) return items;
      const topics = [...new Set(pending.map((item) => item.topic))];
      let metadata: Map<string, TopicMetadata | StreamBusError>;
      try {
        metadata = await this.#metadata(topics, signal, deadlineMs);
      } catch (error) {
        if (!(error instanceof StreamBusError)) throw error;
        for (const item of pending) item.error = error;
        metadata = new Map();
      }
      const byLeader = new Map<number, PartitionItem<R>[]>();
      for (const item of pending) {
        const topic = metadata.get(item.topic);
        if (topic === undefined) {
          item.error ??= unknownTopic(item.topic);
          continue;
        }
        if (topic instanceof StreamBusError) {
          item.error = topic;
          continue;
        }
        const p = topic.partitions[item.partition];
        if (p === undefined) {
          item.error = new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${item.topic}" has no partition ${item.partition}`, {
            context: { topic: item.topic, partition: item.partition },
          });
          // Partitions may be being added; still retriable until the deadline.
          continue;
        }
        if (p.leader < 0) {
          item.error = new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, undefined, { context: { topic: item.topic, partition: item.partition } });
          continue;
        }
        const group = byLeader.get(p.leader);
        if (group === undefined) byLeader.set(p.leader, [item]);
        else group.push(item);
      }
      await Promise.all(
        [...byLeader].map(async ([nodeId, group]) => {
          try {
            const connection = await this.#cluster.connection(nodeId, signal);
            const answers = await send(connection, group);
            const answered = new Set<string>();
            for (const answer of answers) {
              const item = items.get(keyOf(answer.topic, answer.partition));
              if (item === undefined) continue;
              answered.add(keyOf(answer.topic, answer.partition));
              const error = errorFromCode(answer.errorCode, answer.errorMessage, { topic: answer.topic, partition: answer.partition, broker: String(nodeId) });
              if (error === undefined) {
                item.result = answer.result;
                delete item.error;
              } else {
                item.error = error;
              }
            }
            for (const item of group) {
              if (!answered.has(keyOf(item.topic, item.partition))) item.error = missingResult(item.topic, item.partition);
            }
          } catch (error) {
            if (!(error instanceof StreamBusError)) throw error;
            for (const item of group) item.error = error;
          }
        }),
      );
      const stillPending = [...items.values()].filter((item) => item.result === undefined && item.error?.retriable === true);
      if (stillPending.length === 0) return items;
      const decision = decideRetry({ retriesDone: round, retriable: true, nowMs: this.#now(), deadlineMs }, retry, random);
      if (!decision.retry) return items;
      if (stillPending.some((item) => isStaleMetadataError(item.error!.code))) this.#cluster.refreshMetadata().catch(() => undefined);
      await delay(decision.delayMs, signal);
    }
  }
}

function keyOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function groupByTopic<T extends TopicPartition, P>(items: readonly T[], toPartition: (item: T) => P): { name: string; partitions: P[] }[] {
  const byTopic = new Map<string, P[]>();
  for (const item of items) {
    const list = byTopic.get(item.topic);
    if (list === undefined) byTopic.set(item.topic, [toPartition(item)]);
    else list.push(toPartition(item));
  }
  return [...byTopic].map(([name, partitions]) => ({ name, partitions }));
}

/** Checks every topic has a result and collects failures into one AdminError. */
function topicResults(operation: string, names: readonly string[], results: readonly TopicResult[]): Map<string, TopicResult> {
  const byName = new Map(results.map((r) => [r.name, r]));
  const failures: ItemFailure[] = [];
  for (const name of names) {
    const result = byName.get(name);
    const error = result === undefined ? missingResult(name) : errorFromCode(result.errorCode, result.errorMessage, { topic: name });
    if (error !== undefined) failures.push({ topic: name, error });
  }
  if (failures.length > 0) throw new AdminError(operation, failures, names.length);
  return byName;
}

function missingResult(topic: string, partition?: number): StreamBusError {
  const what = partition === undefined ? `topic "${topic}"` : `${topic}-${partition}`;
  return new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `the broker's answer left out ${what}`, {
    context: partition === undefined ? { topic } : { topic, partition },
  });
}

function unknownTopic(topic: string): StreamBusError {
  return new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${topic}" does not exist`, { context: { topic } });
}

function checkTopicName(topic: unknown): string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new StreamBusError(ErrorCode.INVALID_TOPIC, `a topic name must be a non-empty string, got ${JSON.stringify(topic) ?? String(topic)}`);
  }
  return topic;
}

function checkPartition(tp: TopicPartition): void {
  if (!Number.isInteger(tp.partition) || tp.partition < 0) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `partition must be a non-negative integer, got ${String(tp.partition)}`, { context: { topic: tp.topic } });
  }
}

function checkCount(value: number | undefined, name: string, topic: string): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1) {
    throw new StreamBusError(
      name === 'replicationFactor' ? ErrorCode.INVALID_REPLICATION_FACTOR : ErrorCode.INVALID_PARTITIONS,
      `${name} of topic "${topic}" must be a positive integer, got ${String(value)}`,
      { context: { topic } },
    );
  }
}

function specToTimestamp(spec: OffsetSpec, topic: string): number {
  if (spec === 'earliest') return EARLIEST_TIMESTAMP;
  if (spec === 'latest') return LATEST_TIMESTAMP;
  if (spec !== null && typeof spec === 'object' && Number.isSafeInteger(spec.timestamp) && spec.timestamp >= 0) return spec.timestamp;
  throw new StreamBusError(ErrorCode.INVALID_REQUEST, `offset spec must be 'earliest', 'latest' or { timestamp: ms }`, { context: { topic } });
}
