/**
 * The Kafka API service: one handler per API of proto/kafka/apis.ts, dispatched by name. A
 * handler answers every failure it can name in the response's error codes; an error that escapes
 * one is a bug, which the connection logs before closing (Kafka has no generic error response).
 */
import type { KafkaApiName, KafkaRequest } from '../../proto/kafka/index.js';
import { createPartitions, createTopics, deleteTopics } from './admin-apis.js';
import { apiVersions, findCoordinator, metadata } from './cluster-apis.js';
import { alterConfigs, describeConfigs } from './config-apis.js';
import { deleteRecords, fetch, listOffsets, produce } from './data-apis.js';
import { KafkaGroupApis, noGroupCoordinator } from './group-apis.js';
import { KafkaTxnApis, noTxnCoordinator } from './txn-apis.js';
import type { KafkaApiOptions, KafkaContext, KafkaEndpoint, KafkaOutcome } from './types.js';

type Serve<A extends KafkaApiName> = (request: KafkaRequest<A>, ctx: KafkaContext) => Promise<KafkaOutcome<A>>;
type ServeTable = { readonly [A in KafkaApiName]: Serve<A> };

export class KafkaApiService {
  readonly #table: ServeTable;

  /** `self` is the answering broker's advertised Kafka address, known once the listener is bound. */
  constructor(options: KafkaApiOptions, self: () => KafkaEndpoint) {
    const groups = new KafkaGroupApis(options.groups ?? noGroupCoordinator);
    const txns = new KafkaTxnApis(options.transactions ?? noTxnCoordinator);
    this.#table = {
      API_VERSIONS: () => apiVersions(),
      METADATA: (request, ctx) => metadata(options, self(), request, ctx),
      PRODUCE: (request, ctx) => produce(options, request, ctx),
      FETCH: (request, ctx) => fetch(options, request, ctx),
      LIST_OFFSETS: (request, ctx) => listOffsets(options, request, ctx),
      FIND_COORDINATOR: (request) => findCoordinator(options, self(), request),
      JOIN_GROUP: (request, ctx) => groups.joinGroup(request, ctx),
      SYNC_GROUP: (request, ctx) => groups.syncGroup(request, ctx),
      HEARTBEAT: (request, ctx) => groups.heartbeat(request, ctx),
      LEAVE_GROUP: (request, ctx) => groups.leaveGroup(request, ctx),
      OFFSET_COMMIT: (request, ctx) => groups.offsetCommit(request, ctx),
      OFFSET_FETCH: (request, ctx) => groups.offsetFetch(request, ctx),
      DESCRIBE_GROUPS: (request, ctx) => groups.describeGroups(request, ctx),
      LIST_GROUPS: (_request, ctx) => groups.listGroups(ctx),
      DELETE_GROUPS: (request, ctx) => groups.deleteGroups(request, ctx),
      OFFSET_DELETE: (request, ctx) => groups.offsetDelete(request, ctx),
      INIT_PRODUCER_ID: (request, ctx) => txns.initProducerId(request, ctx),
      ADD_PARTITIONS_TO_TXN: (request, ctx) => txns.addPartitionsToTxn(request, ctx),
      ADD_OFFSETS_TO_TXN: (request, ctx) => txns.addOffsetsToTxn(request, ctx),
      END_TXN: (request, ctx) => txns.endTxn(request, ctx),
      TXN_OFFSET_COMMIT: (request, ctx) => txns.txnOffsetCommit(request, ctx),
      CREATE_TOPICS: (request, ctx) => createTopics(options, request, ctx),
      DELETE_TOPICS: (request, ctx) => deleteTopics(options, request, ctx),
      DELETE_RECORDS: (request, ctx) => deleteRecords(options, request, ctx),
      DESCRIBE_CONFIGS: (request, ctx) => describeConfigs(options, request, ctx),
      ALTER_CONFIGS: (request, ctx) => alterConfigs(options, request, ctx),
      CREATE_PARTITIONS: (request, ctx) => createPartitions(options, request, ctx),
    };
  }

  serve<A extends KafkaApiName>(api: A, request: KafkaRequest<A>, ctx: KafkaContext): Promise<KafkaOutcome<A>> {
    const serve = this.#table[api] as Serve<A>;
    return serve(request, ctx);
  }
}
