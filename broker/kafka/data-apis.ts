/**
 * Kafka's data-plane APIs (Produce, Fetch, ListOffsets, DeleteRecords) mapped onto the broker's
 * own handlers. Each translates the Kafka request into the native one, calls the broker, and
 * translates the answer back, error codes through proto/kafka/errors.ts.
 *
 * Produce hands the request's record bytes (a view into the frame) to the broker's append path,
 * which validates them exactly as for native clients (magic 2, CRC-32C, sizes, codecs) and stores
 * them. Before that the listener refuses what it cannot honour: transactional batches (no
 * transaction coordinator serves the Kafka protocol yet) and idempotent ones (producer ids come
 * from InitProducerId, which is not served, so there is no sequence state to check them against).
 *
 * Fetch returns the broker's stored batches untouched and uncopied; the long poll, min/max bytes,
 * the whole-batch rule and "at least one batch" are the broker's own fetch. StreamBus has no
 * transactions yet, so the last stable offset is the high watermark under either isolation level.
 */
import type * as M from '../../proto/messages.js';
import type { EncodableResponseOf } from '../../proto/native-codec.js';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD, MAGIC_V2, Offsets } from '../../proto/record-batch/index.js';
import { KafkaErrorCode, toKafkaErrorCode, type KafkaApiName, type KafkaRequest } from '../../proto/kafka/index.js';
import { kafkaFailureOf, type KafkaFailure } from './failure.js';
import { respond, type KafkaApiOptions, type KafkaContext, type KafkaOutcome } from './types.js';

const EMPTY = Buffer.alloc(0);
const TRANSACTIONAL_BIT = 0x10;
const READ_COMMITTED = 1;

type Outcome<A extends KafkaApiName> = Promise<KafkaOutcome<A>>;

export async function produce(options: KafkaApiOptions, request: KafkaRequest<'PRODUCE'>, ctx: KafkaContext): Outcome<'PRODUCE'> {
  // Refusals per [topic index][partition index]; the rest goes to the broker in one request.
  const refused = new Map<string, KafkaFailure>();
  const topics: M.ProduceTopic[] = request.topicData.map((topic, t) => ({
    name: topic.name,
    partitions: topic.partitionData.flatMap((p, i) => {
      const refusal = producerRefusal(request.transactionalId, p.records);
      if (refusal !== undefined) {
        refused.set(`${t}:${i}`, refusal);
        return [];
      }
      return [{ partition: p.index, records: p.records ?? EMPTY }];
    }),
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
    let next = 0;
    return {
      name: topic.name,
      partitionResponses: topic.partitionData.map((p, i) => {
        const refusal = refused.get(`${t}:${i}`);
        const result = refusal === undefined ? results[next++] : undefined;
        const error = refusal ?? failure ?? (result === undefined ? missingResult : undefined);
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

/**
 * Why the listener refuses a partition's records before the broker sees them, if it does:
 * transactional writes, and writes carrying a producer id (idempotent producers).
 */
function producerRefusal(transactionalId: string | null, records: Buffer | null): KafkaFailure | undefined {
  if (transactionalId !== null) {
    return { code: KafkaErrorCode.INVALID_TXN_STATE, message: 'transactions are not served over the Kafka protocol yet' };
  }
  if (records === null) return undefined;
  // Walk the batch headers only; framing faults and legacy formats are left to the broker's validation.
  for (let position = 0; records.length - position >= BATCH_HEADER_BYTES; ) {
    if (records[position + Offsets.magic] !== MAGIC_V2) break;
    const attributes = records.readInt16BE(position + Offsets.attributes);
    if ((attributes & TRANSACTIONAL_BIT) !== 0) {
      return { code: KafkaErrorCode.INVALID_TXN_STATE, message: 'transactional batches are not served over the Kafka protocol yet' };
    }
    const producerId = records.readBigInt64BE(position + Offsets.producerId);
    if (producerId >= 0n) {
      return { code: KafkaErrorCode.UNKNOWN_PRODUCER_ID, message: `producer id ${producerId} was not issued by this cluster (idempotent producers are not served yet)` };
    }
    const batchLength = records.readInt32BE(position + Offsets.batchLength);
    if (batchLength <= 0) break;
    position += batchLength + BATCH_LOG_OVERHEAD;
  }
  return undefined;
}

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
  const abortedTransactions = request.isolationLevel === READ_COMMITTED ? [] : null;
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
            abortedTransactions,
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
          abortedTransactions,
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
