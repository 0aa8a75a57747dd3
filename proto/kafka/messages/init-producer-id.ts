/**
 * InitProducerId (key 22), versions 0-1: a producer id and epoch for an idempotent producer
 * (transactional_id null) or for a transactional id, whose epoch it bumps (fencing older
 * instances and aborting their open transaction). Kafka's InitProducerIdRequest.json /
 * InitProducerIdResponse.json. v1 differs from v0 only in how throttling is reported. v2 is the
 * first flexible version and v3-4 add the KIP-360 epoch-bump fields; none of the three clients
 * needs them (librdkafka only needs v0 inside the range to turn on idempotence).
 *
 * InitProducerId Request (Version: 0-1) => transactional_id transaction_timeout_ms
 *   transactional_id => NULLABLE_STRING
 *   transaction_timeout_ms => INT32
 *
 * InitProducerId Response (Version: 0-1) => throttle_time_ms error_code producer_id producer_epoch
 *   throttle_time_ms => INT32
 *   error_code => INT16
 *   producer_id => INT64
 *   producer_epoch => INT16
 */
import type { MessageSchema } from '../schema.js';

export const InitProducerIdRequest = {
  name: 'InitProducerIdRequest',
  fields: [
    { name: 'transactionalId', type: 'string', nullableSince: 0 },
    { name: 'transactionTimeoutMs', type: 'int32' },
  ],
} as const satisfies MessageSchema;

export const InitProducerIdResponse = {
  name: 'InitProducerIdResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32' },
    { name: 'errorCode', type: 'int16' },
    { name: 'producerId', type: 'int64' },
    { name: 'producerEpoch', type: 'int16' },
  ],
} as const satisfies MessageSchema;
