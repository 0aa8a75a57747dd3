/**
 * The broker: serves the native protocol's requests from its partition logs, and keeps the set of
 * open partition logs in step with the metadata it follows.
 *
 * Hot paths: produce validates each batch's framing and CRC once (no record decoding unless the
 * topic is compacted, where keys are required), then hands the bytes to the log, which patches
 * the base offset in place and stores them. Fetch returns stored bytes untouched and uncopied:
 * each partition's `records` is the list of stored batch Buffers (BytesPieces), which the server
 * encodes as one `bytes` field and writes with writev.
 *
 * Replication (../replication/, docs/replication.md): the broker leads or follows each partition
 * it holds as the metadata says. A fetch with a replica_id is a follower's: it reads up to the
 * log end and moves the follower's position (and so the high watermark); a consumer's fetch reads
 * only below the high watermark, and a follower serves it too (below its own high watermark), for
 * consumers that fetch from a replica in their rack. acks=all produce waits until the high
 * watermark covers the batch.
 *
 * Transactions (docs/transactions-broker.md): produce is checked and deduped by the partition's
 * producer state; a read_committed fetch reads below the last stable offset and lists the aborted
 * transactions of what it returns; WRITE_TXN_MARKERS and DESCRIBE_PRODUCERS are ./txn-markers.ts.
 */
import type { Logger } from 'pino';
import type { ApiName, BrokerApiName, RequestOf, ResponseOf } from '../../proto/api.js';
import type * as M from '../../proto/messages.js';
import type { EncodableResponseOf } from '../../proto/native-codec.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { BATCH_HEADER_BYTES, Offsets, crc32c, decodeRecordBatches, patchPartitionLeaderEpoch, validateBatches } from '../../proto/record-batch/index.js';
import { ListOffsetTimestamp, type LogConfig, type LogStore, type PartitionLog } from '../log/index.js';
import type { Handler, RequestContext } from '../network/server.js';
import { isCoordinatorApi, supportedApiVersions } from '../../proto/api.js';
import { connect } from '../../client/index.js';
import { ReplicaManager, type PartitionReplicationStatus, type ReplicationOptions } from '../replication/replica-manager.js';
import { AppendWaiter } from './append-waiter.js';
import { type FetchAnswer, type FetchReadDeps, READ_COMMITTED, fetchesAs, isReplica, readFetch } from './fetch-read.js';
import { describeProducers, writeTxnMarkers } from './txn-markers.js';
import type { ResolvedTopicConfig } from '../../coordinator/index.js';
import type { ControllerGateway, MetadataView, TopicConfigResolver, TopicDefaults, TopicView } from './metadata-view.js';
import { type SchemaIdLookup, type SchemaValidation, checkSchemaIds, schemaValidationOf } from './schema-validation.js';

export interface BrokerTraffic {
  /** Records and bytes appended to a topic. */
  produced(topic: string, records: number, bytes: number): void;
  /** Records and bytes returned by fetches of a topic. */
  fetched(topic: string, records: number, bytes: number): void;
}

export interface BrokerOptions {
  readonly nodeId: number;
  readonly logs: LogStore;
  readonly metadata: MetadataView;
  readonly controller: ControllerGateway;
  readonly configs: TopicConfigResolver;
  readonly topicDefaults: TopicDefaults;
  readonly autoCreateTopics: boolean;
  readonly logger: Logger;
  readonly traffic?: BrokerTraffic;
  readonly serverVersion: string;
  readonly maxFrameBytes: number;
  readonly maxInFlight: number;
  /** Upper bound on a fetch's max wait, whatever the client asks. */
  readonly fetchMaxWaitMs?: number;
  /** Injected so tests can control time; defaults to Date.now. */
  readonly nowMs?: () => number;
  /** Follower fetching and ISR tracking settings; defaults: the native client's connect, Kafka's timings. */
  readonly replication?: ReplicationOptions;
  /**
   * The schema registry's ids as the followed metadata has them, for topics with
   * confluent.key/value.schema.validation (./schema-validation.ts). Without it such topics refuse every record.
   */
  readonly schemaIds?: SchemaIdLookup;
}

const METADATA_WAIT_MS = 10_000;

type Handlers = { [A in BrokerApiName]: (body: RequestOf<A>, ctx: RequestContext) => Promise<ResponseOf<A> | EncodableResponseOf<A>> };

export class Broker implements Handler {
  readonly #options: BrokerOptions;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  /** topicId -> resolved log config it was opened with, so config changes reach open logs. */
  readonly #openTopics = new Map<string, { name: string; config: LogConfig }>();
  #reconciling: Promise<void> = Promise.resolve();
  /**
   * What a topic config record (replaced, never mutated, when configs change) resolves to: its
   * settings and its schema validation (undefined: none). Resolving parses every setting; produce
   * needs min.insync.replicas on every request, and parsing per request cost about 5 % of the
   * broker's main thread at 5,000 produces a second.
   */
  readonly #topicConfigs = new WeakMap<object, { readonly resolved: ResolvedTopicConfig; readonly validation: SchemaValidation | undefined }>();
  #unsubscribe: (() => void) | undefined;
  readonly #handlers: Handlers;
  readonly #replicas: ReplicaManager;

  constructor(options: BrokerOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#replicas = new ReplicaManager(
      options.nodeId,
      options.replication ?? { connect },
      () => options.metadata.brokers(),
      options.logger,
      this.#nowMs,
    );
    this.#handlers = {
      API_VERSIONS: (body) => this.#apiVersions(body),
      METADATA: (body) => this.#metadata(body),
      PRODUCE: (body) => this.#produce(body),
      FETCH: (body, ctx) => this.#fetch(body, ctx),
      LIST_OFFSETS: (body) => this.#listOffsets(body),
      CREATE_TOPICS: (body) => this.#createTopics(body),
      DELETE_TOPICS: (body) => this.#deleteTopics(body),
      DESCRIBE_CONFIGS: (body) => Promise.resolve(this.#describeConfigs(body)),
      ALTER_CONFIGS: (body) => this.#alterConfigs(body),
      CREATE_PARTITIONS: (body) => this.#createPartitions(body),
      DELETE_RECORDS: (body) => this.#deleteRecords(body),
      WRITE_TXN_MARKERS: (body) => this.#writeTxnMarkers(body),
      DESCRIBE_PRODUCERS: (body) => Promise.resolve(this.#describeProducers(body)),
    };
  }

  /** Opens the logs of every partition the metadata assigns to this broker and follows changes. */
  async start(): Promise<void> {
    this.#unsubscribe = this.#options.metadata.onChange(() => {
      this.#reconciling = this.#reconciling.then(() => this.#reconcile()).catch((error: unknown) => {
        this.#log.error({ err: error }, 'failed to apply metadata change to partition logs');
      });
    });
    this.#reconciling = this.#reconcile();
    await this.#reconciling;
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#reconciling;
    await this.#replicas.close();
  }

  /**
   * Replication state of every partition this broker leads or follows: positions, lag and which
   * followers should leave or join the ISR. The ISR itself changes only through the coordinator.
   */
  replicationStatus(): PartitionReplicationStatus[] {
    return this.#replicas.status();
  }

  handle<A extends ApiName>(api: A, _version: number, body: RequestOf<A>, ctx: RequestContext): Promise<ResponseOf<A> | EncodableResponseOf<A>> {
    if (isCoordinatorApi(api)) {
      return Promise.reject(new StreamBusError(ErrorCode.UNKNOWN_API, `${api} is served by coordinator nodes, not by a broker`));
    }
    const brokerApi: BrokerApiName = api;
    const handler = this.#handlers[brokerApi] as (body: RequestOf<A>, ctx: RequestContext) => Promise<ResponseOf<A> | EncodableResponseOf<A>>;
    return handler(body, ctx);
  }

  /** Resolves once the followed metadata has applied `offset`, so an admin change is visible here. */
  async waitForMetadata(offset: number): Promise<void> {
    const metadata = this.#options.metadata;
    if (metadata.offset >= offset) {
      await this.#reconciling;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `metadata offset ${offset} not applied within ${METADATA_WAIT_MS} ms`));
      }, METADATA_WAIT_MS);
      const unsubscribe = metadata.onChange(() => {
        if (metadata.offset < offset) return;
        clearTimeout(timer);
        unsubscribe();
        resolve();
      });
    });
    // The change listener registered in start() queued the reconcile before ours ran.
    await this.#reconciling;
  }

  // ---- partition lifecycle

  async #reconcile(): Promise<void> {
    const { metadata, logs, nodeId } = this.#options;
    const live = new Set<string>();
    const held: { topic: string; view: TopicView['partitions'][number]; log: PartitionLog }[] = [];
    for (const topic of metadata.topics()) {
      live.add(topic.topicId);
      const config = this.#logConfig(topic);
      const known = this.#openTopics.get(topic.topicId);
      for (const partition of topic.partitions) {
        if (!partition.replicas.includes(nodeId)) continue;
        const log = logs.getPartition(topic.topicId, partition.partition);
        if (log === undefined) {
          held.push({ topic: topic.name, view: partition, log: await logs.openPartition(topic.topicId, partition.partition, config) });
          continue;
        } else if (known !== undefined && !sameConfig(known.config, config)) {
          log.updateConfig(config);
        }
        held.push({ topic: topic.name, view: partition, log });
      }
      this.#openTopics.set(topic.topicId, { name: topic.name, config });
    }
    await this.#replicas.reconcile(held);
    await this.#dropRemovedReplicas();
    for (const [topicId, { name }] of this.#openTopics) {
      if (live.has(topicId)) continue;
      this.#openTopics.delete(topicId);
      await logs.deleteTopic(topicId);
      this.#log.info({ topic: name, topicId }, 'deleted topic data');
    }
    // Data of topics the metadata no longer has: a delete committed while this broker was down, or
    // one it crashed in the middle of carrying out.
    const orphans = new Set(logs.storedPartitions().map((stored) => stored.topicId).filter((topicId) => !live.has(topicId)));
    for (const topicId of orphans) {
      await logs.deleteTopic(topicId);
      this.#log.info({ topicId }, 'deleted data of a topic that no longer exists');
    }
  }

  /**
   * Deletes the logs of partitions whose topic still exists but whose replicas no longer include
   * this broker: a reassignment completed and moved them away (while this broker ran, or while it
   * was down). Replication stopped following them in the reconcile just before. Topics that are
   * gone altogether are deleted whole below, as before.
   */
  async #dropRemovedReplicas(): Promise<void> {
    const { metadata, logs, nodeId } = this.#options;
    const topics = new Map<string, TopicView>();
    for (const topic of metadata.topics()) topics.set(topic.topicId, topic);
    for (const { topicId, partition } of logs.storedPartitions()) {
      const topic = topics.get(topicId);
      if (topic === undefined || topic.partitions[partition]?.replicas.includes(nodeId) === true) continue;
      await logs.deletePartition(topicId, partition);
      this.#log.info({ topic: topic.name, topicId, partition }, 'deleted the data of a partition reassigned away from this broker');
    }
  }

  #topicConfig(topic: TopicView): { readonly resolved: ResolvedTopicConfig; readonly validation: SchemaValidation | undefined } {
    let entry = this.#topicConfigs.get(topic.configs);
    if (entry === undefined) {
      const resolved = this.#options.configs.resolve(topic.configs);
      entry = { resolved, validation: schemaValidationOf(resolved) };
      this.#topicConfigs.set(topic.configs, entry);
    }
    return entry;
  }

  #logConfig(topic: TopicView): LogConfig {
    const resolved = this.#topicConfig(topic).resolved;
    return {
      cleanupDelete: resolved.cleanupDelete,
      cleanupCompact: resolved.cleanupCompact,
      retentionMs: resolved.retentionMs,
      retentionBytes: resolved.retentionBytes,
      deleteRetentionMs: resolved.deleteRetentionMs,
      minCompactionLagMs: resolved.minCompactionLagMs,
      maxMessageBytes: resolved.maxMessageBytes,
      timestampType: resolved.timestampType,
    };
  }

  /**
   * The log of a partition this broker serves, or the error the client should see. `as`
   * 'leader' (produce, offsets, follower fetches) requires this broker to lead the partition;
   * 'replica' (a consumer's fetch) accepts any replica whose log is open: a follower serves
   * consumers below its own high watermark (the client's rack-aware fetch, docs/clients.md).
   */
  #partitionLog(topicName: string, partition: number, as: 'leader' | 'replica' = 'leader'): { topic: TopicView; log: PartitionLog } | StreamBusError {
    const topic = this.#options.metadata.topic(topicName);
    if (topic === undefined) {
      return new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topicName}' does not exist`, { context: { topic: topicName } });
    }
    const assignment = topic.partitions[partition];
    if (assignment === undefined || !Number.isInteger(partition)) {
      return new StreamBusError(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        `topic '${topicName}' has no partition ${partition} (it has ${topic.partitions.length})`,
        { context: { topic: topicName, partition } },
      );
    }
    if (assignment.leader !== this.#options.nodeId) {
      // A follower serves consumers only once replication drives its high watermark: a log just
      // opened still has the single-node rule (high watermark = log end), which would expose a tail
      // the leader may have never committed.
      const follower = as === 'replica' && assignment.replicas.includes(this.#options.nodeId);
      const log = follower ? this.#options.logs.getPartition(topic.topicId, partition) : undefined;
      if (log !== undefined && !log.autoHighWatermark) return { topic, log };
      return new StreamBusError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${this.#options.nodeId} does not lead ${topicName}-${partition}`, {
        context: { topic: topicName, partition },
      });
    }
    const log = this.#options.logs.getPartition(topic.topicId, partition);
    if (log === undefined) {
      // Metadata says we lead it but the log is not open yet: the reconcile is still running.
      return new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `${topicName}-${partition} is still opening`, { context: { topic: topicName, partition } });
    }
    return { topic, log };
  }

  // ---- APIs

  #apiVersions(_body: M.ApiVersionsRequest): Promise<M.ApiVersionsResponse> {
    return Promise.resolve({
      errorCode: ErrorCode.NONE,
      apis: supportedApiVersions(),
      serverVersion: this.#options.serverVersion,
      clusterId: this.#options.metadata.clusterId,
      nodeId: this.#options.nodeId,
      maxFrameBytes: this.#options.maxFrameBytes,
      maxInFlight: this.#options.maxInFlight,
    });
  }

  async #metadata(body: M.MetadataRequest): Promise<M.MetadataResponse> {
    const metadata = this.#options.metadata;
    const missing = body.allTopics ? [] : body.topics.filter((name) => metadata.topic(name) === undefined);
    const created = new Map<string, M.TopicResult>();
    if (missing.length > 0 && body.allowAutoTopicCreation && this.#options.autoCreateTopics) {
      const outcome = await this.#options.controller.createTopics(
        { topics: missing.map((name) => ({ name, partitions: 0, replicationFactor: 0, configs: {} })), timeoutMs: 0, validateOnly: false },
        this.#options.topicDefaults,
      );
      await this.waitForMetadata(outcome.metadataOffset);
      for (const result of outcome.results) created.set(result.name, result);
    }
    const names = body.allTopics ? [...metadata.topics()].map((topic) => topic.name) : body.topics;
    const topics = names.map((name): M.TopicInfo => {
      const topic = metadata.topic(name);
      if (topic === undefined) {
        const failure = created.get(name);
        const lost = failure !== undefined && failure.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS;
        return {
          name,
          topicId: '',
          errorCode: lost ? failure.errorCode : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          errorMessage: lost ? failure.errorMessage : `topic '${name}' does not exist`,
          internal: false,
          partitions: [],
        };
      }
      return {
        name,
        topicId: topic.topicId,
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        internal: false,
        partitions: topic.partitions.map((p) => ({
          partition: p.partition,
          errorCode: p.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
          leader: p.leader,
          leaderEpoch: p.leaderEpoch,
          replicas: [...p.replicas],
          isr: [...p.isr],
        })),
      };
    });
    return {
      clusterId: metadata.clusterId,
      controllerId: metadata.controllerId,
      brokers: [...metadata.brokers()].map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack ?? '' })),
      topics,
      metadataOffset: metadata.offset,
    };
  }

  async #produce(body: M.ProduceRequest): Promise<M.ProduceResponse> {
    const acksValid = body.acks === 0 || body.acks === 1 || body.acks === -1;
    const topics = await Promise.all(
      body.topics.map(async (topic): Promise<M.ProduceTopicResult> => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map((p) =>
            acksValid
              ? this.#produceToPartition(topic.name, p, body)
              : Promise.resolve(produceError(p.partition, new StreamBusError(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1, not ${body.acks}`))),
          ),
        ),
      })),
    );
    return { topics, throttleMs: 0 };
  }

  async #produceToPartition(topicName: string, request: M.ProducePartition, body: M.ProduceRequest): Promise<M.ProducePartitionResult> {
    const found = this.#partitionLog(topicName, request.partition);
    if (found instanceof StreamBusError) return produceError(request.partition, found);
    const { topic, log } = found;
    try {
      const config = this.#openTopics.get(topic.topicId)?.config ?? this.#logConfig(topic);
      const assignment = topic.partitions[request.partition]!;
      if (body.acks === -1) {
        // Refused before writing anything: with fewer in-sync replicas than the topic requires,
        // an acknowledged record could be lost with one more failure (Kafka's NOT_ENOUGH_REPLICAS).
        const minInsyncReplicas = this.#topicConfig(topic).resolved.minInsyncReplicas;
        if (assignment.isr.length < minInsyncReplicas) {
          throw new StreamBusError(
            ErrorCode.NOT_ENOUGH_REPLICAS,
            `${topicName}-${request.partition} has ${assignment.isr.length} in-sync replicas, min.insync.replicas is ${minInsyncReplicas}`,
            { context: { topic: topicName, partition: request.partition } },
          );
        }
      }
      const headers = validateBatches(request.records, { maxBatchBytes: config.maxMessageBytes, crc32c });
      if (headers.length === 0) throw new StreamBusError(ErrorCode.INVALID_RECORD, 'the produce request holds no record batch');
      // Control batches (transaction markers) are written by the broker itself, never by clients.
      if (headers.some((header) => header.isControl)) {
        throw new StreamBusError(ErrorCode.INVALID_RECORD, 'clients may not produce control batches (transaction markers)');
      }
      if (config.cleanupCompact) await requireKeys(request.records, topicName);
      const validation = this.#topicConfig(topic).validation;
      if (validation !== undefined) {
        await checkSchemaIds(request.records, { topic: topicName, partition: request.partition, validation, lookup: this.#options.schemaIds });
      }
      // Stamp the leader epoch the batches were written under (outside the CRC): the truncation
      // logic of replication compares it with the leader epoch history.
      for (let position = 0, i = 0; i < headers.length; position += headers[i]!.sizeBytes, i += 1) {
        patchPartitionLeaderEpoch(request.records, position, assignment.leaderEpoch);
      }
      const appended = await log.append(request.records, { nowMs: this.#nowMs() });
      if (body.acks === -1) {
        const endOffset = appended.lastOffset + 1;
        await this.#replicas.waitForHighWatermark(topicName, request.partition, log, endOffset, Math.max(1, body.timeoutMs), assignment.leaderEpoch);
      }
      let records = 0;
      for (const header of headers) records += header.recordCount;
      this.#options.traffic?.produced(topicName, records, request.records.length);
      return {
        partition: request.partition,
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        baseOffset: appended.baseOffset,
        logAppendTimeMs: appended.logAppendTimeMs,
        logStartOffset: appended.logStartOffset,
      };
    } catch (error) {
      return produceError(request.partition, asStreamBusError(error, topicName, request.partition, this.#log));
    }
  }

  /** What fetch-read.ts needs of this broker. */
  readonly #fetchReads: FetchReadDeps = {
    partitionLog: (topic, partition, as) => this.#partitionLog(topic, partition, as),
    checkFetch: (...args) => this.#replicas.checkFetch(...args),
    typed: (error, topic, partition) => asStreamBusError(error, topic, partition, this.#log),
  };

  async #fetch(body: M.FetchRequest, ctx: RequestContext): Promise<FetchAnswer> {
    const maxWaitMs = Math.min(body.maxWaitMs, this.#options.fetchMaxWaitMs ?? 30_000);
    const deadline = this.#nowMs() + maxWaitMs;
    // min_bytes 0 means "answer at once", as in Kafka.
    const minBytes = body.minBytes;
    const logs: PartitionLog[] = [];
    const as = fetchesAs(body);
    for (const topic of body.topics) {
      for (const p of topic.partitions) {
        const found = this.#partitionLog(topic.name, p.partition, as);
        if (!(found instanceof StreamBusError)) logs.push(found.log);
      }
    }
    // A follower waits for the log end to move, a consumer for the high watermark.
    const waiter = new AppendWaiter(logs, isReplica(body) ? 'logEnd' : 'highWatermark');
    try {
      for (;;) {
        const { response, bytes, failed } = await readFetch(this.#fetchReads, body);
        const remainingMs = deadline - this.#nowMs();
        if (bytes >= minBytes || failed || remainingMs <= 0 || ctx.signal.aborted) {
          this.#countFetched(response);
          return response;
        }
        if (!(await waiter.wait(remainingMs, ctx.signal))) {
          // Timed out (or abandoned): answer with what is there now, which may be a little.
          const last = await readFetch(this.#fetchReads, body);
          this.#countFetched(last.response);
          return last.response;
        }
      }
    } finally {
      waiter.close();
    }
  }

  #countFetched(response: FetchAnswer): void {
    const traffic = this.#options.traffic;
    if (traffic === undefined) return;
    for (const topic of response.topics) {
      let records = 0;
      let bytes = 0;
      for (const p of topic.partitions) {
        for (const batches of p.records) {
          bytes += batches.length;
          records += countRecords(batches);
        }
      }
      if (bytes > 0) traffic.fetched(topic.name, records, bytes);
    }
  }

  async #listOffsets(body: M.ListOffsetsRequest): Promise<M.ListOffsetsResponse> {
    const topics = await Promise.all(
      body.topics.map(async (topic): Promise<M.ListOffsetsTopicResult> => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async (p): Promise<M.ListOffsetsPartitionResult> => {
            const found = this.#partitionLog(topic.name, p.partition);
            const fail = (error: StreamBusError): M.ListOffsetsPartitionResult => ({
              partition: p.partition,
              errorCode: error.code,
              errorMessage: error.message,
              offset: -1,
              timestamp: -1,
            });
            if (found instanceof StreamBusError) return fail(found);
            try {
              // read_committed: the latest offset a consumer can read is the last stable offset.
              if (p.timestamp === ListOffsetTimestamp.latest && body.isolationLevel === READ_COMMITTED) {
                return { partition: p.partition, errorCode: ErrorCode.NONE, errorMessage: '', offset: found.log.lastStableOffset, timestamp: -1 };
              }
              const { offset, timestamp } = await found.log.listOffset(p.timestamp);
              return { partition: p.partition, errorCode: ErrorCode.NONE, errorMessage: '', offset, timestamp };
            } catch (error) {
              return fail(asStreamBusError(error, topic.name, p.partition, this.#log));
            }
          }),
        ),
      })),
    );
    return { topics };
  }

  /** WRITE_TXN_MARKERS (./txn-markers.ts): the coordinator ends a transaction on the partitions this broker leads. */
  #writeTxnMarkers(body: M.WriteTxnMarkersRequest): Promise<M.WriteTxnMarkersResponse> {
    return writeTxnMarkers(body, {
      partition: (topic, partition) => {
        const found = this.#partitionLog(topic, partition);
        return found instanceof StreamBusError ? found : { log: found.log, leaderEpoch: found.topic.partitions[partition]!.leaderEpoch };
      },
      waitReplicated: (topic, partition, log, endOffset, timeoutMs, leaderEpoch) =>
        this.#replicas.waitForHighWatermark(topic, partition, log, endOffset, timeoutMs, leaderEpoch),
      nowMs: this.#nowMs,
      logger: this.#log,
    });
  }

  #describeProducers(body: M.DescribeProducersRequest): M.DescribeProducersResponse {
    return describeProducers(body, (topic, partition) => {
      const found = this.#partitionLog(topic, partition);
      return found instanceof StreamBusError ? found : found.log;
    });
  }

  async #deleteRecords(body: M.DeleteRecordsRequest): Promise<M.DeleteRecordsResponse> {
    const topics = await Promise.all(
      body.topics.map(async (topic): Promise<M.DeleteRecordsTopicResult> => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async (p): Promise<M.DeleteRecordsPartitionResult> => {
            const found = this.#partitionLog(topic.name, p.partition);
            const fail = (error: StreamBusError): M.DeleteRecordsPartitionResult => ({
              partition: p.partition,
              errorCode: error.code,
              errorMessage: error.message,
              lowWatermark: -1,
            });
            if (found instanceof StreamBusError) return fail(found);
            try {
              const lowWatermark = await found.log.deleteRecords(p.offset);
              return { partition: p.partition, errorCode: ErrorCode.NONE, errorMessage: '', lowWatermark };
            } catch (error) {
              return fail(asStreamBusError(error, topic.name, p.partition, this.#log));
            }
          }),
        ),
      })),
    );
    return { topics };
  }

  async #createTopics(body: M.CreateTopicsRequest): Promise<M.CreateTopicsResponse> {
    const outcome = await this.#options.controller.createTopics(body, this.#options.topicDefaults);
    await this.waitForMetadata(outcome.metadataOffset);
    return { topics: outcome.results, metadataOffset: outcome.metadataOffset };
  }

  async #deleteTopics(body: M.DeleteTopicsRequest): Promise<M.DeleteTopicsResponse> {
    const outcome = await this.#options.controller.deleteTopics(body);
    await this.waitForMetadata(outcome.metadataOffset);
    return { topics: outcome.results, metadataOffset: outcome.metadataOffset };
  }

  async #alterConfigs(body: M.AlterConfigsRequest): Promise<M.AlterConfigsResponse> {
    const outcome = await this.#options.controller.alterConfigs(body);
    await this.waitForMetadata(outcome.metadataOffset);
    return { topics: outcome.results, metadataOffset: outcome.metadataOffset };
  }

  async #createPartitions(body: M.CreatePartitionsRequest): Promise<M.CreatePartitionsResponse> {
    const outcome = await this.#options.controller.createPartitions(body);
    await this.waitForMetadata(outcome.metadataOffset);
    return { topics: outcome.results, metadataOffset: outcome.metadataOffset };
  }

  #describeConfigs(body: M.DescribeConfigsRequest): M.DescribeConfigsResponse {
    return {
      topics: body.topics.map((name): M.TopicConfigs => {
        const topic = this.#options.metadata.topic(name);
        if (topic === undefined) {
          return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${name}' does not exist`, entries: [] };
        }
        return {
          name,
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          entries: this.#options.configs.describe(topic.configs).map((entry) => ({
            name: entry.name,
            value: entry.value,
            source: entry.source,
            readOnly: entry.readOnly,
            sensitive: entry.sensitive,
            documentation: entry.documentation,
          })),
        };
      }),
    };
  }
}

function sameConfig(a: LogConfig, b: LogConfig): boolean {
  return (Object.keys(a) as (keyof LogConfig)[]).every((key) => a[key] === b[key]);
}

/** Records in a run of stored batches, read from their headers (no decoding). */
function countRecords(records: Buffer): number {
  let count = 0;
  for (let position = 0; position + BATCH_HEADER_BYTES <= records.length; ) {
    count += records.readInt32BE(position + Offsets.recordCount);
    position += records.readInt32BE(position + Offsets.batchLength) + 12;
  }
  return count;
}

/** Compacted topics keep the latest record per key, so a record without a key cannot be kept. */
async function requireKeys(records: Buffer, topic: string): Promise<void> {
  for (const batch of await decodeRecordBatches(records)) {
    if (batch.header.isControl) continue;
    for (const record of batch.records) {
      if (record.key === null) {
        throw new StreamBusError(ErrorCode.INVALID_RECORD, `topic '${topic}' is compacted (cleanup.policy=compact): every record needs a key`);
      }
    }
  }
}

function asStreamBusError(error: unknown, topic: string, partition: number, log: Logger): StreamBusError {
  if (error instanceof StreamBusError) return error;
  log.error({ err: error, topic, partition }, 'unexpected error serving a partition');
  return new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, error instanceof Error ? error.message : String(error), {
    cause: error,
    context: { topic, partition },
  });
}

function produceError(partition: number, error: StreamBusError): M.ProducePartitionResult {
  return { partition, errorCode: error.code, errorMessage: error.message, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
}
