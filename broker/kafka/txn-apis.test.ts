/**
 * The Kafka listener's translation of the transaction APIs onto the coordinator client's
 * transaction calls, with a stand-in for those calls that records what it is asked and fails as
 * each test sets: what each request becomes, what Kafka refuses before forwarding, how a failure
 * reaches every partition, and FindCoordinator for transactional ids. The real coordinator behind
 * real clients is in test/kafka/txn-*.test.ts.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { KafkaErrorCode, type KafkaApiName, type KafkaRequest } from '../../proto/kafka/index.js';
import type { Handler } from '../network/server.js';
import { KafkaApiService } from './service.js';
import type { KafkaContext, KafkaOutcome, KafkaTxnCoordinator } from './types.js';

class StandInTxnCoordinator implements KafkaTxnCoordinator {
  readonly asked: { call: string; args: unknown[] }[] = [];
  /** Thrown by the next calls when set. */
  failure: Error | undefined;

  initProducerId(...args: Parameters<KafkaTxnCoordinator['initProducerId']>): ReturnType<KafkaTxnCoordinator['initProducerId']> {
    return this.#answer('initProducerId', args, { producerId: 4001, producerEpoch: 3 });
  }
  addPartitionsToTxn(...args: Parameters<KafkaTxnCoordinator['addPartitionsToTxn']>): Promise<void> {
    return this.#answer('addPartitionsToTxn', args, undefined);
  }
  addOffsetsToTxn(...args: Parameters<KafkaTxnCoordinator['addOffsetsToTxn']>): Promise<void> {
    return this.#answer('addOffsetsToTxn', args, undefined);
  }
  txnOffsetCommit(...args: Parameters<KafkaTxnCoordinator['txnOffsetCommit']>): Promise<void> {
    return this.#answer('txnOffsetCommit', args, undefined);
  }
  endTxn(...args: Parameters<KafkaTxnCoordinator['endTxn']>): Promise<void> {
    return this.#answer('endTxn', args, undefined);
  }

  #answer<T>(call: string, args: unknown[], value: T): Promise<T> {
    // The options (abort signal) are the listener's business; the request is what is checked.
    this.asked.push({ call, args: args.slice(0, -1) });
    return this.failure === undefined ? Promise.resolve(value) : Promise.reject(this.failure);
  }
}

const noBroker: Handler = {
  handle: () => Promise.reject(new Error('the transaction APIs must not ask the broker')),
};

function setup(withTxns = true) {
  const txns = new StandInTxnCoordinator();
  const service = new KafkaApiService({ handler: noBroker, nodeId: 2, cluster: { brokers: () => [], topicConfigOverrides: () => undefined }, ...(withTxns ? { transactions: txns } : {}) }, () => ({
    host: 'self.example',
    port: 9092,
  }));
  const serve = async <A extends KafkaApiName>(api: A, version: number, request: KafkaRequest<A>): Promise<KafkaOutcome<A>> => {
    const ctx: KafkaContext = { connectionId: 1, clientId: 'test', remoteAddress: 'test', signal: new AbortController().signal, apiVersion: version, logger: pino({ level: 'silent' }) };
    return service.serve(api, request, ctx);
  };
  return { txns, serve };
}

function body<A extends KafkaApiName>(outcome: KafkaOutcome<A>) {
  if (outcome.kind !== 'response') throw new Error(`expected a response, got ${outcome.kind}`);
  return outcome.body;
}

const member = { transactionalId: 'tx', producerId: 4001, producerEpoch: 3 };

describe('kafka service > transactions > forwarding', () => {
  it('asks for a fresh producer id without a transactional id (idempotent producers), whatever timeout came with it', async () => {
    const { txns, serve } = setup();
    const answer = body(await serve('INIT_PRODUCER_ID', 0, { transactionalId: null, transactionTimeoutMs: -1 }));
    expect(answer).toEqual({ throttleTimeMs: 0, errorCode: 0, producerId: 4001, producerEpoch: 3 });
    expect(txns.asked).toEqual([{ call: 'initProducerId', args: [{}] }]);
  });

  it('passes a transactional id and its timeout to InitProducerId', async () => {
    const { txns, serve } = setup();
    body(await serve('INIT_PRODUCER_ID', 1, { transactionalId: 'tx', transactionTimeoutMs: 30_000 }));
    expect(txns.asked).toEqual([{ call: 'initProducerId', args: [{ transactionalId: 'tx', transactionTimeoutMs: 30_000 }] }]);
  });

  it('adds every named partition, and answers each one', async () => {
    const { txns, serve } = setup();
    const answer = body(await serve('ADD_PARTITIONS_TO_TXN', 0, { ...member, topics: [{ name: 'a', partitions: [0, 2] }, { name: 'b', partitions: [1] }] }));
    expect(txns.asked).toEqual([
      {
        call: 'addPartitionsToTxn',
        args: [
          member,
          [
            { topic: 'a', partition: 0 },
            { topic: 'a', partition: 2 },
            { topic: 'b', partition: 1 },
          ],
        ],
      },
    ]);
    expect(answer.results).toEqual([
      { name: 'a', results: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 2, errorCode: 0 }] },
      { name: 'b', results: [{ partitionIndex: 1, errorCode: 0 }] },
    ]);
  });

  it('forwards AddOffsetsToTxn with its group and EndTxn with commit or abort', async () => {
    const { txns, serve } = setup();
    expect(body(await serve('ADD_OFFSETS_TO_TXN', 0, { ...member, groupId: 'g' }))).toEqual({ throttleTimeMs: 0, errorCode: 0 });
    expect(body(await serve('END_TXN', 1, { ...member, committed: true }))).toEqual({ throttleTimeMs: 0, errorCode: 0 });
    expect(body(await serve('END_TXN', 0, { ...member, committed: false }))).toEqual({ throttleTimeMs: 0, errorCode: 0 });
    expect(txns.asked).toEqual([
      { call: 'addOffsetsToTxn', args: [member, 'g'] },
      { call: 'endTxn', args: [member, true] },
      { call: 'endTxn', args: [member, false] },
    ]);
  });

  it('commits transactional offsets with their leader epochs, a null metadata as empty, and no consumer generation (v0-2 carry none)', async () => {
    const { txns, serve } = setup();
    const answer = body(
      await serve('TXN_OFFSET_COMMIT', 2, {
        ...member,
        groupId: 'g',
        topics: [
          {
            name: 'a',
            partitions: [
              { partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: 4, committedMetadata: null },
              { partitionIndex: 1, committedOffset: 11, committedLeaderEpoch: -1, committedMetadata: 'md' },
            ],
          },
        ],
      }),
    );
    expect(txns.asked).toEqual([
      {
        call: 'txnOffsetCommit',
        args: [
          {
            ...member,
            groupId: 'g',
            offsets: [
              { topic: 'a', partition: 0, offset: 10, leaderEpoch: 4, metadata: '' },
              { topic: 'a', partition: 1, offset: 11, leaderEpoch: -1, metadata: 'md' },
            ],
          },
        ],
      },
    ]);
    expect(answer.topics).toEqual([{ name: 'a', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }] }]);
  });
});

describe('kafka service > transactions > refusals', () => {
  it('refuses an empty transactional id with INVALID_REQUEST without forwarding, in every API', async () => {
    const { txns, serve } = setup();
    const empty = { ...member, transactionalId: '' };
    expect(body(await serve('INIT_PRODUCER_ID', 0, { transactionalId: '', transactionTimeoutMs: 1000 }))).toMatchObject({ errorCode: KafkaErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 });
    expect(body(await serve('ADD_PARTITIONS_TO_TXN', 0, { ...empty, topics: [{ name: 'a', partitions: [0] }] })).results).toEqual([
      { name: 'a', results: [{ partitionIndex: 0, errorCode: KafkaErrorCode.INVALID_REQUEST }] },
    ]);
    expect(body(await serve('ADD_OFFSETS_TO_TXN', 0, { ...empty, groupId: 'g' })).errorCode).toBe(KafkaErrorCode.INVALID_REQUEST);
    expect(body(await serve('ADD_OFFSETS_TO_TXN', 0, { ...member, groupId: '' })).errorCode).toBe(KafkaErrorCode.INVALID_REQUEST);
    expect(body(await serve('END_TXN', 0, { ...empty, committed: true })).errorCode).toBe(KafkaErrorCode.INVALID_REQUEST);
    const commit = body(
      await serve('TXN_OFFSET_COMMIT', 0, { ...empty, groupId: 'g', topics: [{ name: 'a', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] }),
    );
    expect(commit.topics[0]?.partitions[0]?.errorCode).toBe(KafkaErrorCode.INVALID_REQUEST);
    expect(txns.asked).toEqual([]);
  });

  it('refuses a transactional InitProducerId whose timeout is not positive with INVALID_TRANSACTION_TIMEOUT', async () => {
    const { txns, serve } = setup();
    expect(body(await serve('INIT_PRODUCER_ID', 0, { transactionalId: 'tx', transactionTimeoutMs: 0 })).errorCode).toBe(KafkaErrorCode.INVALID_TRANSACTION_TIMEOUT);
    expect(body(await serve('INIT_PRODUCER_ID', 1, { transactionalId: 'tx', transactionTimeoutMs: -5 })).errorCode).toBe(KafkaErrorCode.INVALID_TRANSACTION_TIMEOUT);
    expect(txns.asked).toEqual([]);
  });

  it('answers requests that name no partition at once, with nothing to report', async () => {
    const { txns, serve } = setup();
    expect(body(await serve('ADD_PARTITIONS_TO_TXN', 1, { ...member, topics: [] }))).toEqual({ throttleTimeMs: 0, results: [] });
    expect(body(await serve('TXN_OFFSET_COMMIT', 1, { ...member, groupId: 'g', topics: [] }))).toEqual({ throttleTimeMs: 0, topics: [] });
    expect(txns.asked).toEqual([]);
  });
});

describe('kafka service > transactions > coordinator failures', () => {
  it('sends a fenced producer INVALID_PRODUCER_EPOCH (the versions served predate PRODUCER_FENCED)', async () => {
    const { txns, serve } = setup();
    txns.failure = new StreamBusError(ErrorCode.PRODUCER_FENCED);
    expect(body(await serve('INIT_PRODUCER_ID', 1, { transactionalId: 'tx', transactionTimeoutMs: 1000 }))).toEqual({
      throttleTimeMs: 0,
      errorCode: KafkaErrorCode.INVALID_PRODUCER_EPOCH,
      producerId: -1,
      producerEpoch: -1,
    });
    expect(body(await serve('END_TXN', 1, { ...member, committed: true })).errorCode).toBe(KafkaErrorCode.INVALID_PRODUCER_EPOCH);
    expect(body(await serve('ADD_OFFSETS_TO_TXN', 0, { ...member, groupId: 'g' })).errorCode).toBe(KafkaErrorCode.INVALID_PRODUCER_EPOCH);
  });

  it('reports a refused partition on every partition of the request, since the coordinator adds none of them', async () => {
    const { txns, serve } = setup();
    txns.failure = new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no such partition', { context: { topic: 'a', partition: 9 } });
    const answer = body(await serve('ADD_PARTITIONS_TO_TXN', 0, { ...member, topics: [{ name: 'a', partitions: [0, 9] }] }));
    expect(answer.results).toEqual([
      {
        name: 'a',
        results: [
          { partitionIndex: 0, errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
          { partitionIndex: 9, errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
        ],
      },
    ]);
  });

  it('passes the consumer group codes of TxnOffsetCommit through to every partition', async () => {
    const { txns, serve } = setup();
    txns.failure = new StreamBusError(ErrorCode.INVALID_TXN_STATE);
    const answer = body(
      await serve('TXN_OFFSET_COMMIT', 1, { ...member, groupId: 'g', topics: [{ name: 'a', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] }),
    );
    expect(answer.topics).toEqual([{ name: 'a', partitions: [{ partitionIndex: 0, errorCode: KafkaErrorCode.INVALID_TXN_STATE }] }]);
  });

  it('answers UNKNOWN_SERVER_ERROR for an error that is not a StreamBusError (a bug), and keeps serving', async () => {
    const { txns, serve } = setup();
    txns.failure = new TypeError('boom');
    expect(body(await serve('END_TXN', 0, { ...member, committed: false })).errorCode).toBe(KafkaErrorCode.UNKNOWN_SERVER_ERROR);
    txns.failure = undefined;
    expect(body(await serve('END_TXN', 0, { ...member, committed: false })).errorCode).toBe(KafkaErrorCode.NONE);
  });

  it('answers COORDINATOR_NOT_AVAILABLE to every transaction API, InitProducerId included, when it has no coordinator to forward to', async () => {
    const { serve } = setup(false);
    expect(body(await serve('INIT_PRODUCER_ID', 0, { transactionalId: null, transactionTimeoutMs: 1000 })).errorCode).toBe(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(body(await serve('END_TXN', 0, { ...member, committed: true })).errorCode).toBe(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(body(await serve('ADD_PARTITIONS_TO_TXN', 0, { ...member, topics: [{ name: 'a', partitions: [0] }] })).results[0]?.results[0]?.errorCode).toBe(
      KafkaErrorCode.COORDINATOR_NOT_AVAILABLE,
    );
  });
});

describe('kafka service > transactions > FindCoordinator', () => {
  it('names itself the coordinator of a transactional id (key type 1)', async () => {
    const { serve } = setup();
    expect(body(await serve('FIND_COORDINATOR', 1, { key: 'tx', keyType: 1 }))).toEqual({ throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 2, host: 'self.example', port: 9092 });
  });

  it('refuses an empty transactional id and an unknown key type with INVALID_REQUEST, and answers COORDINATOR_NOT_AVAILABLE without a transaction coordinator', async () => {
    const { serve } = setup();
    expect(body(await serve('FIND_COORDINATOR', 2, { key: '', keyType: 1 }))).toMatchObject({ errorCode: KafkaErrorCode.INVALID_REQUEST, nodeId: -1 });
    expect(body(await serve('FIND_COORDINATOR', 2, { key: 'x', keyType: 7 }))).toMatchObject({ errorCode: KafkaErrorCode.INVALID_REQUEST, nodeId: -1 });
    const without = setup(false);
    expect(body(await without.serve('FIND_COORDINATOR', 1, { key: 'tx', keyType: 1 }))).toMatchObject({ errorCode: KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1, port: -1 });
  });
});
