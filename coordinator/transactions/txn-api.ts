/**
 * The transaction APIs of the native protocol on a coordinator node (41 INIT_PRODUCER_ID,
 * 42 ADD_PARTITIONS_TO_TXN, 43 ADD_OFFSETS_TO_TXN, 44 END_TXN, 45 TXN_OFFSET_COMMIT,
 * 47 LIST_TRANSACTIONS, 48 DESCRIBE_TRANSACTIONS): each translates its message to a
 * TransactionCoordinator call and the answer back. The coordinator node's handler
 * (../service/handler.ts) serves them beside its own and the group APIs. FIND_COORDINATOR with
 * key type 1 (a transactional id) is answered by the group APIs' handler: both coordinators run on
 * the Raft leader.
 *
 * Errors follow the group APIs' rule: a failure of the whole request (NOT_COORDINATOR on a node
 * that does not lead, COORDINATOR_LOAD_IN_PROGRESS on a new leader) goes in the response's
 * error_code with a message naming the leader when known; the transaction's own answers
 * (PRODUCER_FENCED, CONCURRENT_TRANSACTIONS...) are data in the response, as in Kafka.
 */
import type { RequestContext } from '../../broker/network/index.js';
import type { RequestOf, ResponseOf } from '../../proto/api.js';
import { ErrorCode, type StreamBusError, errorInfo, errorName } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import type { TransactionCoordinatorApi } from './txn-coordinator.js';
import type { DescribedTransaction, TxnPartitionResult } from './txn-types.js';

/** The transaction APIs a coordinator node serves, in key order. */
export const transactionApis = ['INIT_PRODUCER_ID', 'ADD_PARTITIONS_TO_TXN', 'ADD_OFFSETS_TO_TXN', 'END_TXN', 'TXN_OFFSET_COMMIT', 'LIST_TRANSACTIONS', 'DESCRIBE_TRANSACTIONS'] as const;
export type TransactionApi = (typeof transactionApis)[number];

export interface TransactionApiDeps {
  readonly transactions: TransactionCoordinatorApi;
  /** The typed form of any failure (a bug is logged and answered UNKNOWN_SERVER_ERROR). */
  readonly typed: (error: unknown) => StreamBusError;
}

export type TransactionHandlers = { [A in TransactionApi]: (body: RequestOf<A>, ctx: RequestContext) => Promise<ResponseOf<A>> };

/** The handlers of the transaction APIs over `deps`. */
export function transactionHandlers(deps: TransactionApiDeps): TransactionHandlers {
  const { transactions } = deps;
  const failure = (error: unknown): { errorCode: number; errorMessage: string } => {
    const typed = deps.typed(error);
    return { errorCode: typed.code, errorMessage: typed.message };
  };
  const ok = { errorCode: ErrorCode.NONE, errorMessage: '' };
  return {
    INIT_PRODUCER_ID: async (body) => {
      try {
        const answer = await transactions.initProducerId({
          transactionalId: body.transactionalId === '' ? null : body.transactionalId,
          transactionTimeoutMs: body.transactionTimeoutMs,
          producerId: body.producerId,
          producerEpoch: body.producerEpoch,
        });
        return { ...coded(answer.error), producerId: answer.producerId, producerEpoch: answer.producerEpoch, throttleMs: 0 };
      } catch (error) {
        return { ...failure(error), producerId: -1, producerEpoch: -1, throttleMs: 0 };
      }
    },

    ADD_PARTITIONS_TO_TXN: async (body) => {
      try {
        const answer = await transactions.addPartitions({
          transactionalId: body.transactionalId,
          producerId: body.producerId,
          producerEpoch: body.producerEpoch,
          topics: body.topics.map((t) => ({ topic: t.name, partitions: t.partitions })),
        });
        return { ...coded(answer.error), topics: answer.topics.map(topicResult) };
      } catch (error) {
        const whole = failure(error);
        return { ...whole, topics: body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((partition) => ({ partition, ...whole })) })) };
      }
    },

    ADD_OFFSETS_TO_TXN: async (body) => {
      try {
        return coded(await transactions.addOffsets({ transactionalId: body.transactionalId, producerId: body.producerId, producerEpoch: body.producerEpoch, groupId: body.groupId }));
      } catch (error) {
        return failure(error);
      }
    },

    END_TXN: async (body) => {
      try {
        return coded(await transactions.endTransaction({ transactionalId: body.transactionalId, producerId: body.producerId, producerEpoch: body.producerEpoch, commit: body.committed }));
      } catch (error) {
        return failure(error);
      }
    },

    TXN_OFFSET_COMMIT: async (body) => {
      try {
        const answer = await transactions.commitOffsets({
          transactionalId: body.transactionalId,
          groupId: body.groupId,
          producerId: body.producerId,
          producerEpoch: body.producerEpoch,
          generation: body.generationId,
          memberId: body.memberId,
          groupInstanceId: body.groupInstanceId === '' ? null : body.groupInstanceId,
          topics: body.topics.map((t) => ({
            topic: t.name,
            partitions: t.partitions.map((p) => ({ partition: p.partition, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata })),
          })),
        });
        return { ...coded(answer.error), topics: answer.topics.map(topicResult) };
      } catch (error) {
        const whole = failure(error);
        return { ...whole, topics: body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, ...whole })) })) };
      }
    },

    LIST_TRANSACTIONS: async (body) => {
      try {
        const listed = await transactions.listTransactions({ states: body.stateFilters, producerIds: body.producerIdFilters });
        return { ...ok, transactions: listed.map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, state: t.state })) };
      } catch (error) {
        return { ...failure(error), transactions: [] };
      }
    },

    DESCRIBE_TRANSACTIONS: async (body) => {
      try {
        const described = await transactions.describeTransactions(body.transactionalIds);
        return { transactions: described.map(describedToWire) };
      } catch (error) {
        const whole = failure(error);
        return {
          transactions: body.transactionalIds.map((transactionalId) => ({
            ...whole,
            transactionalId,
            state: '',
            transactionTimeoutMs: 0,
            transactionStartTimeMs: -1,
            producerId: -1,
            producerEpoch: -1,
            topics: [],
            groups: [],
          })),
        };
      }
    },
  };
}

function describedToWire(t: DescribedTransaction): M.DescribedTransaction {
  return {
    ...coded(t.error),
    transactionalId: t.transactionalId,
    state: t.state,
    transactionTimeoutMs: t.timeoutMs,
    transactionStartTimeMs: t.startTimeMs,
    producerId: t.producerId,
    producerEpoch: t.producerEpoch,
    topics: t.topics.map((topic) => ({ name: topic.topic, partitions: [...topic.partitions] })),
    groups: [...t.groups],
  };
}

function topicResult(t: TxnPartitionResult): M.GroupTopicResult {
  return { name: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, ...coded(p.error) })) };
}

function coded(error: ErrorCode): { errorCode: number; errorMessage: string } {
  return { errorCode: error, errorMessage: error === ErrorCode.NONE ? '' : errorInfo[errorName(error)].message };
}
