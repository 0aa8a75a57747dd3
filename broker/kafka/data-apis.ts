/**
 * Kafka's data-plane APIs (Produce, Fetch, ListOffsets, DeleteRecords) mapped onto the broker's
 * own handlers. Each translates the Kafka request into the native one, calls the broker, and
 * translates the answer back, error codes through proto/kafka/errors.ts.
 *
 * Produce hands the request's record bytes (a view into the frame) to the broker's append path,
 * which validates them exactly as for native clients (magic 2, CRC-32C, sizes, codecs) and stores
 * them. Idempotent batches (a producer id, epoch and sequence in the header) go through: the
 * partition leader checks and dedupes them against its producer state and answers Kafka's errors
 * (DUPLICATE_SEQUENCE_NUMBER, OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID,
 * INVALID_PRODUCER_EPOCH, ...). Transactional batches go through the same way: the client has added
 * the partition to its transaction through this listener (./txn-apis.ts), the leader opens the
 * producer's transaction on the partition at the batch, and the coordinator's marker closes it.
 *
 * Fetch returns the broker's stored batches untouched and uncopied; the long poll, min/max bytes,
 * the whole-batch rule and "at least one batch" are the broker's own fetch. read_committed is the
 * broker's: it reads below the last stable offset and lists the aborted transactions of the
 * returned range; read_uncommitted reads to the high watermark and gets a null list, as in Kafka.
 */
import type * as M from '../../proto/messages.js';
import type { EncodableResponseOf } from '../../proto/native-codec.js';
import { KafkaErrorCode, toKafkaErrorCode, type KafkaApiName, type KafkaRequest } from '../../proto/kafka/index.js';
import { kafkaFailureOf, type KafkaFailure } from './failure.js';
import { respond, type KafkaApiOptions, type KafkaContext, type KafkaOutcome } from './types.js';

const EMPTY = Buffer.alloc(0);
const READ_COMMITTED = 1;

type Outcome<A extends KafkaApiName> = Promise<KafkaOutcome<A>>;

export async function produce(options: KafkaApiOptions, request: KafkaRequest<'PRODUCE'>, ctx: KafkaContext): Outcome<'PRODUCE'> {
  const topics: M.ProduceTopic[] = request.topicData.map((topic) => ({
    name: topic.name,
    partitions: topic.partitionData.map((p) => ({ partition: p.index, records: p.records ?? EMPTY })),
  }));
  let answer: M.ProduceResponse | undefined;
  let failure: KafkaFailure | undefined;
  try {
    answer = await options.handler.handle('PRODUCE', 0, { acks: request.acks, timeoutMs: request.timeoutMs, topics }, ctx);
  } catch (error) {
    failure = kafkaFailureOf(error, ctx.logger, 'produce');
  }
  let firstError: string | undefined;
  const responses = request.topicData.map((topic, t) => {
    const results = answer?.topics[t]?.partitions ?? [];
    return {
      name: topic.name,
      partitionResponses: topic.partitionData.map((p, i) => {
        const result = results[i];
        const error = failure ?? (result === undefined ? missingResult : undefined);
        const errorCode = error?.code ?? toKafkaErrorCode(result?.errorCode ?? 0);
        if (errorCode !== KafkaErrorCode.NONE) firstError ??= `${topic.name}-${p.index}: ${error?.message ?? result?.errorMessage ?? ''}`;
        return {
          index: p.index,
          errorCode,
          baseOffset: errorCode === KafkaErrorCode.NONE ? (result?.baseOffset ?? -1) : -1,
          logAppendTimeMs: errorCode === KafkaErrorCode.NONE ? (result?.logAppendTimeMs ?? -1) : -1,
          logStartOffset: errorCode === KafkaErrorCode.NONE ? (result?.logStartOffset ?? -1) : -1,
        };
      }),
    };
  });
  if (request.acks === 0) {
    // The client reads no response; Kafka tells it about a failed write by closing the connection.
    return firstError === undefined ? { kind: 'none' } : { kind: 'close', reason: `a produce with acks=0 failed (${firstError})` };
  }
  return respond({ responses, throttleTimeMs: 0 });
}

const missingResult: KafkaFailure = { code: KafkaErrorCode.UNKNOWN_SERVER_ERROR, message: 'the broker returned no result for the partition' };

export async function fetch(options: KafkaApiOptions, request: KafkaRequest<'FETCH'>, ctx: KafkaContext): Outcome<'FETCH'> {
  const sessionError = fetchSessionError(request, ctx.apiVersion);
  if (sessionError !== undefined) return respond({ throttleTimeMs: 0, errorCode: sessionError, sessionId: 0, responses: [] });
  const body: M.FetchRequest = {
    maxWaitMs: Math.max(0, request.maxWaitMs),
    minBytes: request.minBytes,
    maxBytes: request.maxBytes,
    isolationLevel: request.isolationLevel,
    // replicaId stays unset: whatever the Kafka client sent, it is served as a consumer.
    topics: request.topics.map((topic) => ({
      name: topic.topic,
      partitions: topic.partitions.map((p) => ({
        partition: p.partition,
        fetchOffset: p.fetchOffset,
        maxBytes: p.partitionMaxBytes,
        currentLeaderEpoch: p.currentLeaderEpoch,
      })),
    })),
  };
  // The broker answers with its stored batches as lists of Buffers (passed through uncopied).
  let answer: M.FetchResponse | EncodableResponseOf<'FETCH'> | undefined;
  let failure: KafkaFailure | undefined;
  try {
    answer = await options.handler.handle('FETCH', 0, body, ctx);
  } catch (error) {
    failure = kafkaFailureOf(error, ctx.logger, 'fetch');
  }
  const readCommitted = request.isolationLevel === READ_COMMITTED;
  const noAborted = readCommitted ? [] : null;
  return respond({
    throttleTimeMs: 0,
    errorCode: KafkaErrorCode.NONE,
    sessionId: 0,
    responses: request.topics.map((topic, t) => ({
      topic: topic.topic,
      partitions: topic.partitions.map((p, i) => {
        const result = answer?.topics[t]?.partitions[i];
        if (result === undefined || failure !== undefined) {
          return {
            partitionIndex: p.partition,
            errorCode: (failure ?? missingResult).code,
            highWatermark: -1,
            lastStableOffset: -1,
            logStartOffset: -1,
            abortedTransactions: noAborted,
            preferredReadReplica: -1,
            records: EMPTY,
          };
        }
        return {
          partitionIndex: p.partition,
          errorCode: toKafkaErrorCode(result.errorCode),
          highWatermark: result.highWatermark,
          lastStableOffset: result.lastStableOffset,
          logStartOffset: result.logStartOffset,
          abortedTransactions: readCommitted ? result.abortedTransactions.map((txn) => ({ producerId: txn.producerId, firstOffset: txn.firstOffset })) : null,
          preferredReadReplica: -1,
          records: result.records,
        };
      }),
    })),
  });
}

/**
 * StreamBus keeps no fetch sessions (KIP-227): sessionless fetches (id 0, epoch -1) and requests
 * to open one (id 0, epoch 0) get full answers with session id 0, which tells the client no session
 * was made. A request naming a session can only come from a confused client.
 */
function fetchSessionError(request: KafkaRequest<'FETCH'>, version: number): number | undefined {
  if (version < 7) return undefined;
  if (request.sessionId !== 0) return KafkaErrorCode.FETCH_SESSION_ID_NOT_FOUND;
  if (request.sessionEpoch !== -1 && request.sessionEpoch !== 0) return KafkaErrorCode.INVALID_FETCH_SESSION_EPOCH;
  return undefined;
}

export async function listOffsets(options: KafkaApiOptions, request: KafkaRequest<'LIST_OFFSETS'>, ctx: KafkaContext): Outcome<'LIST_OFFSETS'> {
  let answer: M.ListOffsetsResponse | undefined;
  let failure: KafkaFailure | undefined;
  try {
    answer = await options.handler.handle(
      'LIST_OFFSETS',
      0,
      {
        isolationLevel: request.isolationLevel,
        topics: request.topics.map((topic) => ({
          name: topic.name,
          partitions: topic.partitions.map((p) => ({ partition: p.partitionIndex, timestamp: p.timestamp })),
        })),
      },
      ctx,
    );
  } catch (error) {
    failure = kafkaFailureOf(error, ctx.logger, 'list offsets');
  }
  return respond({
    throttleTimeMs: 0,
    topics: request.topics.map((topic, t) => ({
      name: topic.name,
      partitions: topic.partitions.map((p, i) => {
        const result = answer?.topics[t]?.partitions[i];
        const errorCode = failure?.code ?? (result === undefined ? missingResult.code : toKafkaErrorCode(result.errorCode));
        const ok = errorCode === KafkaErrorCode.NONE && result !== undefined;
        return { partitionIndex: p.partitionIndex, errorCode, timestamp: ok ? result.timestamp : -1, offset: ok ? result.offset : -1 };
      }),
    })),
  });
}

export async function deleteRecords(options: KafkaApiOptions, request: KafkaRequest<'DELETE_RECORDS'>, ctx: KafkaContext): Outcome<'DELETE_RECORDS'> {
  let answer: M.DeleteRecordsResponse | undefined;
  let failure: KafkaFailure | undefined;
  try {
    answer = await options.handler.handle(
      'DELETE_RECORDS',
      0,
      {
        timeoutMs: request.timeoutMs,
        topics: request.topics.map((topic) => ({
          name: topic.name,
          partitions: topic.partitions.map((p) => ({ partition: p.partitionIndex, offset: p.offset })),
        })),
      },
      ctx,
    );
  } catch (error) {
    failure = kafkaFailureOf(error, ctx.logger, 'delete records');
  }
  return respond({
    throttleTimeMs: 0,
    topics: request.topics.map((topic, t) => ({
      name: topic.name,
      partitions: topic.partitions.map((p, i) => {
        const result = answer?.topics[t]?.partitions[i];
        const errorCode = failure?.code ?? (result === undefined ? missingResult.code : toKafkaErrorCode(result.errorCode));
        return { partitionIndex: p.partitionIndex, errorCode, lowWatermark: errorCode === KafkaErrorCode.NONE && result !== undefined ? result.lowWatermark : -1 };
      }),
    })),
  });
}
