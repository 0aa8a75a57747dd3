/**
 * Kafka's transaction APIs, forwarded one to one to the transaction coordinator: InitProducerId,
 * AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit (KIP-98, KIP-447).
 *
 * Routing. The transaction coordinator runs on the coordinator (Raft) leader, beside the group
 * coordinator, and speaks only the native protocol. As for groups (./group-apis.ts), FindCoordinator
 * with key type 1 names the answering broker itself, and that broker forwards each request through
 * its coordinator client's transaction calls, which find the leader, follow it when it moves and
 * retry NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS and CONCURRENT_TRANSACTIONS until that
 * client's request timeout. kafkajs's idempotent producer asks the broker it takes for the
 * controller (the answering broker too) for InitProducerId without a transactional id; that is
 * forwarded the same way and gets a fresh producer id.
 *
 * Requests Kafka itself refuses before its coordinator sees them are refused here the same way:
 * an empty transactional id (null means "idempotent only" in InitProducerId and is allowed there)
 * gets INVALID_REQUEST, and a transaction timeout that is not positive INVALID_TRANSACTION_TIMEOUT.
 * A request naming no partition is answered at once with nothing to report, as Kafka does.
 *
 * Errors: the coordinator's codes are Kafka's and pass through the one table in
 * proto/kafka/errors.ts, which sends PRODUCER_FENCED as INVALID_PRODUCER_EPOCH (the versions
 * served predate KIP-588). The coordinator client reports a refused partition as the failure of
 * the whole call, so every partition of the answer carries it: the coordinator adds no partition of
 * a request it refuses in part, and a client that retries a TxnOffsetCommit rewrites the same
 * pending offsets.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { KafkaErrorCode, type KafkaApiName, type KafkaRequest } from '../../proto/kafka/index.js';
import type { TopicPartition, TxnMember, TxnOffset } from '../../client/index.js';
import { kafkaFailureOf } from './failure.js';
import { respond, type KafkaContext, type KafkaOutcome, type KafkaTxnCoordinator } from './types.js';

type Outcome<A extends KafkaApiName> = Promise<KafkaOutcome<A>>;

export class KafkaTxnApis {
  readonly #txns: KafkaTxnCoordinator;

  constructor(txns: KafkaTxnCoordinator) {
    this.#txns = txns;
  }

  async initProducerId(request: KafkaRequest<'INIT_PRODUCER_ID'>, ctx: KafkaContext): Outcome<'INIT_PRODUCER_ID'> {
    const failed = (code: number): KafkaOutcome<'INIT_PRODUCER_ID'> => respond({ throttleTimeMs: 0, errorCode: code, producerId: -1, producerEpoch: -1 });
    const { transactionalId, transactionTimeoutMs } = request;
    if (transactionalId === '') return failed(KafkaErrorCode.INVALID_REQUEST);
    // An idempotent producer's timeout means nothing (librdkafka sends -1): only a transactional one is checked.
    if (transactionalId !== null && transactionTimeoutMs <= 0) return failed(KafkaErrorCode.INVALID_TRANSACTION_TIMEOUT);
    try {
      const grant = await this.#txns.initProducerId(transactionalId === null ? {} : { transactionalId, transactionTimeoutMs }, { signal: ctx.signal });
      return respond({ throttleTimeMs: 0, errorCode: KafkaErrorCode.NONE, producerId: grant.producerId, producerEpoch: grant.producerEpoch });
    } catch (error) {
      return failed(kafkaFailureOf(error, ctx.logger, 'init producer id').code);
    }
  }

  async addPartitionsToTxn(request: KafkaRequest<'ADD_PARTITIONS_TO_TXN'>, ctx: KafkaContext): Outcome<'ADD_PARTITIONS_TO_TXN'> {
    const answer = (code: number): KafkaOutcome<'ADD_PARTITIONS_TO_TXN'> =>
      respond({
        throttleTimeMs: 0,
        results: request.topics.map((t) => ({ name: t.name, results: t.partitions.map((partitionIndex) => ({ partitionIndex, errorCode: code })) })),
      });
    if (request.transactionalId === '') return answer(KafkaErrorCode.INVALID_REQUEST);
    const partitions: TopicPartition[] = request.topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
    if (partitions.length === 0) return answer(KafkaErrorCode.NONE);
    const code = await this.#forward(ctx, 'add partitions to transaction', () => this.#txns.addPartitionsToTxn(memberOf(request), partitions, { signal: ctx.signal }));
    return answer(code);
  }

  async addOffsetsToTxn(request: KafkaRequest<'ADD_OFFSETS_TO_TXN'>, ctx: KafkaContext): Outcome<'ADD_OFFSETS_TO_TXN'> {
    if (request.transactionalId === '' || request.groupId === '') return respond({ throttleTimeMs: 0, errorCode: KafkaErrorCode.INVALID_REQUEST });
    const code = await this.#forward(ctx, 'add offsets to transaction', () => this.#txns.addOffsetsToTxn(memberOf(request), request.groupId, { signal: ctx.signal }));
    return respond({ throttleTimeMs: 0, errorCode: code });
  }

  async endTxn(request: KafkaRequest<'END_TXN'>, ctx: KafkaContext): Outcome<'END_TXN'> {
    if (request.transactionalId === '') return respond({ throttleTimeMs: 0, errorCode: KafkaErrorCode.INVALID_REQUEST });
    const code = await this.#forward(ctx, 'end transaction', () => this.#txns.endTxn(memberOf(request), request.committed, { signal: ctx.signal }));
    return respond({ throttleTimeMs: 0, errorCode: code });
  }

  async txnOffsetCommit(request: KafkaRequest<'TXN_OFFSET_COMMIT'>, ctx: KafkaContext): Outcome<'TXN_OFFSET_COMMIT'> {
    const answer = (code: number): KafkaOutcome<'TXN_OFFSET_COMMIT'> =>
      respond({
        throttleTimeMs: 0,
        topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code })) })),
      });
    if (request.transactionalId === '' || request.groupId === '') return answer(KafkaErrorCode.INVALID_REQUEST);
    const offsets: TxnOffset[] = request.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: p.committedLeaderEpoch,
        metadata: p.committedMetadata ?? '',
      })),
    );
    if (offsets.length === 0) return answer(KafkaErrorCode.NONE);
    // v0-2 carry no generation or member id: the coordinator does not check the consumer (KIP-447 needs v3).
    const code = await this.#forward(ctx, 'transactional offset commit', () =>
      this.#txns.txnOffsetCommit({ ...memberOf(request), groupId: request.groupId, offsets }, { signal: ctx.signal }),
    );
    return answer(code);
  }

  /** Runs a forwarded call: NONE when it resolves, else the Kafka code of its failure. */
  async #forward(ctx: KafkaContext, what: string, call: () => Promise<void>): Promise<number> {
    try {
      await call();
      return KafkaErrorCode.NONE;
    } catch (error) {
      return kafkaFailureOf(error, ctx.logger, what).code;
    }
  }
}

/** The transaction calls of a listener started without a coordinator: every call answers COORDINATOR_NOT_AVAILABLE. */
export const noTxnCoordinator: KafkaTxnCoordinator = {
  initProducerId: unavailable,
  addPartitionsToTxn: unavailable,
  addOffsetsToTxn: unavailable,
  txnOffsetCommit: unavailable,
  endTxn: unavailable,
};

function unavailable(): Promise<never> {
  return Promise.reject(new StreamBusError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'this broker has no transaction coordinator to forward to'));
}

function memberOf(request: { readonly transactionalId: string; readonly producerId: number; readonly producerEpoch: number }): TxnMember {
  return { transactionalId: request.transactionalId, producerId: request.producerId, producerEpoch: request.producerEpoch };
}
