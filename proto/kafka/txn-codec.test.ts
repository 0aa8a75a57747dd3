/**
 * The transaction APIs of the Kafka codec (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
 * EndTxn, TxnOffsetCommit): golden bytes written from Kafka's protocol description, the ranges
 * the three clients need, what a truncated or stretched request does, and the error code a
 * fenced producer is sent. Round trips of every served version, decoding one byte at a time and
 * mutated input run over these APIs with all the others in ./codec.test.ts; kafkajs's own codecs
 * read and write them in ./kafkajs-compat.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../errors.js';
import {
  KafkaErrorCode,
  decodeKafkaRequest,
  decodeKafkaResponse,
  decodeMessage,
  decodeRequestHeader,
  encodeKafkaRequestFrame,
  encodeKafkaResponseFrame,
  encodeMessageBuffer,
  kafkaApis,
  kafkaApiVersions,
  requestHeaderVersion,
  toKafkaErrorCode,
  type KafkaApiName,
} from './index.js';

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** "tx" and "t", "g", "md" as int16-length strings. */
const TX = '0002 7478';
const T = '0001 74';
const G = '0001 67';
/** Producer id 4001 (int64) and epoch 3 (int16). */
const PRODUCER = '0000000000000fa1 0003';

describe('kafka codec > transaction APIs > golden bytes', () => {
  it('reads InitProducerId v0 with a null transactional id (an idempotent producer) and v1 with one', () => {
    const frame = encodeKafkaRequestFrame('INIT_PRODUCER_ID', 0, 5, 'c', { transactionalId: null, transactionTimeoutMs: 60_000 });
    expect(frame).toEqual(hex(`00000011 0016 0000 00000005 0001 63 ffff 0000ea60`));
    const header = decodeRequestHeader(frame.subarray(4), requestHeaderVersion('INIT_PRODUCER_ID', 0));
    expect(decodeKafkaRequest('INIT_PRODUCER_ID', 0, frame.subarray(4), header.bodyOffset)).toEqual({ transactionalId: null, transactionTimeoutMs: 60_000 });
    expect(decodeMessage(kafkaApis.INIT_PRODUCER_ID.request, 1, hex(`${TX} 00007530`))).toEqual({ transactionalId: 'tx', transactionTimeoutMs: 30_000 });
  });

  it('writes InitProducerId v1 answers: throttle time, error code, the int64 producer id and the int16 epoch', () => {
    const frame = Buffer.concat(encodeKafkaResponseFrame('INIT_PRODUCER_ID', 1, 9, { throttleTimeMs: 0, errorCode: 0, producerId: 4001, producerEpoch: 3 }));
    expect(frame).toEqual(hex(`00000014 00000009 00000000 0000 ${PRODUCER}`));
    const fenced = encodeMessageBuffer(kafkaApis.INIT_PRODUCER_ID.response, 0, { throttleTimeMs: 0, errorCode: 47, producerId: -1, producerEpoch: -1 });
    expect(fenced).toEqual(hex(`00000000 002f ffffffffffffffff ffff`));
  });

  it('reads AddPartitionsToTxn v0 and writes its per-partition answer', () => {
    const request = hex(`${TX} ${PRODUCER} 00000001 ${T} 00000002 00000000 00000002`);
    expect(decodeMessage(kafkaApis.ADD_PARTITIONS_TO_TXN.request, 0, request)).toEqual({
      transactionalId: 'tx',
      producerId: 4001,
      producerEpoch: 3,
      topics: [{ name: 't', partitions: [0, 2] }],
    });
    const answer = encodeMessageBuffer(kafkaApis.ADD_PARTITIONS_TO_TXN.response, 1, {
      throttleTimeMs: 0,
      results: [{ name: 't', results: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 2, errorCode: 3 }] }],
    });
    expect(answer).toEqual(hex(`00000000 00000001 ${T} 00000002 00000000 0000 00000002 0003`));
  });

  it('reads AddOffsetsToTxn v0 and EndTxn v0-1 (commit 01, abort 00), and writes their one error code', () => {
    expect(decodeMessage(kafkaApis.ADD_OFFSETS_TO_TXN.request, 0, hex(`${TX} ${PRODUCER} ${G}`))).toEqual({ transactionalId: 'tx', producerId: 4001, producerEpoch: 3, groupId: 'g' });
    expect(decodeMessage(kafkaApis.END_TXN.request, 0, hex(`${TX} ${PRODUCER} 01`))).toEqual({ transactionalId: 'tx', producerId: 4001, producerEpoch: 3, committed: true });
    expect(decodeMessage(kafkaApis.END_TXN.request, 1, hex(`${TX} ${PRODUCER} 00`))).toMatchObject({ committed: false });
    expect(encodeMessageBuffer(kafkaApis.ADD_OFFSETS_TO_TXN.response, 0, { throttleTimeMs: 0, errorCode: 51 })).toEqual(hex('00000000 0033'));
    expect(encodeMessageBuffer(kafkaApis.END_TXN.response, 1, { throttleTimeMs: 7, errorCode: 0 })).toEqual(hex('00000007 0000'));
  });

  it('reads TxnOffsetCommit v0-1 without a leader epoch (-1) and v2 with one, metadata null or a string', () => {
    const v0 = hex(`${TX} ${G} ${PRODUCER} 00000001 ${T} 00000001 00000001 000000000000002a ffff`);
    expect(decodeMessage(kafkaApis.TXN_OFFSET_COMMIT.request, 0, v0)).toEqual({
      transactionalId: 'tx',
      groupId: 'g',
      producerId: 4001,
      producerEpoch: 3,
      topics: [{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
    const v2 = hex(`${TX} ${G} ${PRODUCER} 00000001 ${T} 00000001 00000001 000000000000002a 00000005 0002 6d64`);
    expect(decodeMessage(kafkaApis.TXN_OFFSET_COMMIT.request, 2, v2).topics[0]?.partitions[0]).toEqual({
      partitionIndex: 1,
      committedOffset: 42,
      committedLeaderEpoch: 5,
      committedMetadata: 'md',
    });
    const answer = encodeMessageBuffer(kafkaApis.TXN_OFFSET_COMMIT.response, 2, { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 1, errorCode: 0 }] }] });
    expect(answer).toEqual(hex(`00000000 00000001 ${T} 00000001 00000001 0000`));
  });

  it('round-trips a whole TxnOffsetCommit v2 answer frame through its header', () => {
    const body = { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 3, errorCode: 22 }] }] };
    const frame = Buffer.concat(encodeKafkaResponseFrame('TXN_OFFSET_COMMIT', 2, 41, body));
    expect(decodeKafkaResponse('TXN_OFFSET_COMMIT', 2, frame.subarray(4))).toEqual({ correlationId: 41, body });
  });
});

describe('kafka codec > transaction APIs > bad input', () => {
  function malformed(run: () => unknown): void {
    let caught: unknown;
    try {
      run();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StreamBusError);
    expect((caught as StreamBusError).code).toBe(ErrorCode.MALFORMED_FRAME);
  }

  it('refuses a null transactional id where only InitProducerId allows one, with MALFORMED_FRAME', () => {
    malformed(() => decodeMessage(kafkaApis.ADD_PARTITIONS_TO_TXN.request, 0, hex(`ffff ${PRODUCER} 00000000`)));
    malformed(() => decodeMessage(kafkaApis.END_TXN.request, 1, hex(`ffff ${PRODUCER} 01`)));
  });

  it('refuses a v2 TxnOffsetCommit read as v1 (bytes left over) and a v0 one read as v2 (too short), with MALFORMED_FRAME', () => {
    const v2 = hex(`${TX} ${G} ${PRODUCER} 00000001 ${T} 00000001 00000001 000000000000002a 00000005 0002 6d64`);
    malformed(() => decodeMessage(kafkaApis.TXN_OFFSET_COMMIT.request, 1, v2));
    malformed(() => decodeMessage(kafkaApis.TXN_OFFSET_COMMIT.request, 2, hex(`${TX} ${G} ${PRODUCER} 00000001 ${T} 00000001 00000001 000000000000002a ffff`)));
  });

  it('refuses an EndTxn cut anywhere before its last byte with MALFORMED_FRAME', () => {
    const whole = hex(`${TX} ${PRODUCER} 01`);
    for (let cut = 0; cut < whole.length; cut++) malformed(() => decodeMessage(kafkaApis.END_TXN.request, 0, whole.subarray(0, cut)));
  });
});

describe('kafka codec > transaction APIs > advertised versions', () => {
  const range = (api: KafkaApiName): [number, number] => [kafkaApis[api].minVersion, kafkaApis[api].maxVersion];

  it('advertises InitProducerId 0-1 (librdkafka turns idempotence on only with v0 in range), AddPartitionsToTxn and AddOffsetsToTxn 0-1 (librdkafka sends v0 only), EndTxn 0-1 and TxnOffsetCommit 0-2', () => {
    expect(range('INIT_PRODUCER_ID')).toEqual([0, 1]);
    expect(range('ADD_PARTITIONS_TO_TXN')).toEqual([0, 1]);
    expect(range('ADD_OFFSETS_TO_TXN')).toEqual([0, 1]);
    expect(range('END_TXN')).toEqual([0, 1]);
    expect(range('TXN_OFFSET_COMMIT')).toEqual([0, 2]);
    expect(kafkaApiVersions()).toEqual(
      expect.arrayContaining([
        { apiKey: 22, minVersion: 0, maxVersion: 1 },
        { apiKey: 24, minVersion: 0, maxVersion: 1 },
        { apiKey: 25, minVersion: 0, maxVersion: 1 },
        { apiKey: 26, minVersion: 0, maxVersion: 1 },
        { apiKey: 28, minVersion: 0, maxVersion: 2 },
      ]),
    );
  });

  it('serves only classic (non-flexible) versions of them: request header v1', () => {
    for (const api of ['INIT_PRODUCER_ID', 'ADD_PARTITIONS_TO_TXN', 'ADD_OFFSETS_TO_TXN', 'END_TXN', 'TXN_OFFSET_COMMIT'] as const) {
      for (let v = kafkaApis[api].minVersion; v <= kafkaApis[api].maxVersion; v++) expect(requestHeaderVersion(api, v), `${api} v${v}`).toBe(1);
    }
  });
});

describe('kafka errors > transactions', () => {
  it('sends PRODUCER_FENCED as INVALID_PRODUCER_EPOCH, as Kafka answers clients below KIP-588 versions, and the other transaction codes as they are', () => {
    expect(toKafkaErrorCode(ErrorCode.PRODUCER_FENCED)).toBe(KafkaErrorCode.INVALID_PRODUCER_EPOCH);
    for (const code of [
      ErrorCode.INVALID_PRODUCER_EPOCH,
      ErrorCode.INVALID_TXN_STATE,
      ErrorCode.INVALID_PRODUCER_ID_MAPPING,
      ErrorCode.INVALID_TRANSACTION_TIMEOUT,
      ErrorCode.CONCURRENT_TRANSACTIONS,
      ErrorCode.UNKNOWN_PRODUCER_ID,
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    ]) {
      expect(toKafkaErrorCode(code)).toBe(code);
    }
  });
});
