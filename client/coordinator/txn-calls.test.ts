import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { StreamBus } from '../index.js';
import { runTransactional } from '../pipeline/run-transactional.js';
import { MiniBroker } from '../testing/mini-broker.js';
import { rejectionOf } from '../testing/wait.js';
import { CoordinatorClient } from './coordinator-client.js';

const closables: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(closables.splice(0).map((c) => c.close()));
});

function coordinators(): CoordinatorClient {
  const broker = new MiniBroker();
  const client = new CoordinatorClient({ bootstrap: ['127.0.0.1:9093'], connect: broker.connect });
  closables.push(client);
  return client;
}

async function codeOf(promise: Promise<unknown>): Promise<number> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(StreamBusError);
  return (error as StreamBusError).code;
}

const member = { transactionalId: 'tx', producerId: 1, producerEpoch: 0 };

describe('coordinator client > transaction calls', () => {
  it('hands out a producer id and bumps its epoch when asked with the current one', async () => {
    const calls = coordinators().transactions;
    const first = await calls.initProducerId();
    const bumped = await calls.initProducerId({ current: first });
    expect(bumped).toEqual({ producerId: first.producerId, producerEpoch: first.producerEpoch + 1 });
  });

  it('refuses bad arguments with INVALID_REQUEST before sending anything', async () => {
    const calls = coordinators().transactions;
    expect(await codeOf(calls.initProducerId({ transactionTimeoutMs: 0 }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(calls.addPartitionsToTxn(member, []))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(calls.addPartitionsToTxn({ ...member, transactionalId: '' }, [{ topic: 't', partition: 0 }]))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(calls.addPartitionsToTxn({ ...member, producerEpoch: 40_000 }, [{ topic: 't', partition: 0 }]))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(calls.addOffsetsToTxn(member, ''))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(calls.txnOffsetCommit({ ...member, groupId: 'g', offsets: [{ topic: 't', partition: 0, offset: -1 }] }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(calls.txnOffsetCommit({ ...member, groupId: 'g', offsets: [] }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(calls.endTxn({ ...member, producerId: -1 }, true))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(calls.describeTransactions([]))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(calls.endTxn(member, true, { timeoutMs: 0 }))).toBe(ErrorCode.INVALID_REQUEST);
  });

  it('fails at once with UNKNOWN_API when the addresses given are brokers, not coordinator nodes', async () => {
    const broker = new MiniBroker();
    // A broker answers every coordinator API with UNKNOWN_API, FIND_COORDINATOR included.
    broker.faults.push({ api: 'FIND_COORDINATOR', errorCode: ErrorCode.UNKNOWN_API, wholeRequest: true, times: 100 });
    const client = new CoordinatorClient({ bootstrap: ['127.0.0.1:9093'], connect: broker.connect });
    closables.push(client);
    const started = Date.now();
    expect(await codeOf(client.transactions.initProducerId({}, { timeoutMs: 10_000 }))).toBe(ErrorCode.UNKNOWN_API);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fails at once with UNKNOWN_API too when one broker of the list is down and the others say they are brokers', async () => {
    const broker = new MiniBroker();
    broker.faults.push({ api: 'FIND_COORDINATOR', errorCode: ErrorCode.UNKNOWN_API, wholeRequest: true, times: 100 });
    // 127.0.0.1:9094 is a broker that is down (or restarting): its connection is refused.
    const connect: typeof broker.connect = (options) =>
      options.port === 9094 ? Promise.reject(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'connect ECONNREFUSED 127.0.0.1:9094')) : broker.connect(options);
    const client = new CoordinatorClient({ bootstrap: ['127.0.0.1:9093', '127.0.0.1:9094'], connect });
    closables.push(client);
    const started = Date.now();
    expect(await codeOf(client.transactions.initProducerId({}, { timeoutMs: 10_000 }))).toBe(ErrorCode.UNKNOWN_API);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('pipeline > runTransactional', () => {
  it('refuses a consumer that commits on its own and a producer without a transactionalId', async () => {
    const broker = new MiniBroker();
    const bus = new StreamBus({ brokers: ['127.0.0.1:9093'], connect: broker.connect });
    closables.push(bus);
    const transform = (): [] => [];
    const autoCommitting = bus.consumer({ groupId: 'g' });
    const manual = bus.consumer({ groupId: 'g2', autoCommit: false });
    const transactional = bus.producer({ transactionalId: 'p' });
    expect(await codeOf(runTransactional({ consumer: autoCommitting, producer: transactional, transform }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(await codeOf(runTransactional({ consumer: manual, producer: bus.producer(), transform }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(await codeOf(runTransactional({ consumer: manual, producer: transactional, transform, maxRetries: -1 }))).toBe(ErrorCode.INVALID_CONFIG);
  });

  it('refuses an unknown isolation level with INVALID_CONFIG', () => {
    const bus = new StreamBus({ brokers: ['127.0.0.1:9093'], connect: new MiniBroker().connect });
    closables.push(bus);
    expect(() => bus.consumer({ isolationLevel: 'serializable' as 'read_committed' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }));
  });
});
