/**
 * AddOffsetsToTxn (key 25), versions 0-1: a transactional producer announces that it will commit
 * a consumer group's offsets in its transaction (TxnOffsetCommit follows, sent to the group's
 * coordinator). Kafka's AddOffsetsToTxnRequest.json / AddOffsetsToTxnResponse.json. v1 differs
 * from v0 only in how throttling is reported. librdkafka 2.0.2 sends v0 only.
 *
 * AddOffsetsToTxn Request (Version: 0-1) => transactional_id producer_id producer_epoch group_id
 *   transactional_id => STRING
 *   producer_id => INT64
 *   producer_epoch => INT16
 *   group_id => STRING
 *
 * AddOffsetsToTxn Response (Version: 0-1) => throttle_time_ms error_code
 *   throttle_time_ms => INT32
 *   error_code => INT16
 */
import type { MessageSchema } from '../schema.js';

export const AddOffsetsToTxnRequest = {
  name: 'AddOffsetsToTxnRequest',
  fields: [
    { name: 'transactionalId', type: 'string' },
    { name: 'producerId', type: 'int64' },
    { name: 'producerEpoch', type: 'int16' },
    { name: 'groupId', type: 'string' },
  ],
} as const satisfies MessageSchema;

export const AddOffsetsToTxnResponse = {
  name: 'AddOffsetsToTxnResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32' },
    { name: 'errorCode', type: 'int16' },
  ],
} as const satisfies MessageSchema;
