/** The one table from StreamBus error codes to Kafka's. */
import { describe, expect, it } from 'vitest';
import { ErrorCode, type ErrorName } from '../errors.js';
import { FIRST_STREAMBUS_ONLY_CODE, KafkaErrorCode, streamBusToKafka, toKafkaErrorCode } from './errors.js';

describe('kafka errors > the StreamBus-to-Kafka table', () => {
  it('has a row for every StreamBus-only code (1000 and up), each a Kafka code', () => {
    const only = (Object.entries(ErrorCode) as [ErrorName, number][]).filter(([, code]) => code >= FIRST_STREAMBUS_ONLY_CODE);
    expect(only.length).toBeGreaterThan(0);
    for (const [name] of only) {
      expect(streamBusToKafka[name], name).toBeDefined();
      expect(streamBusToKafka[name]).toBeLessThan(FIRST_STREAMBUS_ONLY_CODE);
    }
  });

  it('passes codes that are Kafka\'s own numbers through unchanged', () => {
    for (const code of [ErrorCode.NONE, ErrorCode.OFFSET_OUT_OF_RANGE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.TOPIC_ALREADY_EXISTS, ErrorCode.INVALID_RECORD, ErrorCode.UNKNOWN_SERVER_ERROR]) {
      expect(toKafkaErrorCode(code)).toBe(code);
    }
  });

  it('sends retriable Kafka codes for a shutting-down broker and for backpressure, and INVALID_REQUEST for undecodable requests', () => {
    expect(toKafkaErrorCode(ErrorCode.SHUTTING_DOWN)).toBe(KafkaErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(toKafkaErrorCode(ErrorCode.TOO_MANY_IN_FLIGHT)).toBe(KafkaErrorCode.NETWORK_EXCEPTION);
    expect(toKafkaErrorCode(ErrorCode.MALFORMED_FRAME)).toBe(KafkaErrorCode.INVALID_REQUEST);
  });

  it('sends UNKNOWN_SERVER_ERROR for a StreamBus-only code it has no row for', () => {
    expect(toKafkaErrorCode(1999)).toBe(KafkaErrorCode.UNKNOWN_SERVER_ERROR);
  });
});
