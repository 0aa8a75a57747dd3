/**
 * EndTxn (key 26), versions 0-1: a transactional producer commits (committed = true) or aborts its
 * open transaction. Kafka's EndTxnRequest.json / EndTxnResponse.json. v1 differs from v0 only in
 * how throttling is reported; v2 (PRODUCER_FENCED, KIP-588) and the flexible v3 are not served.
 *
 * EndTxn Request (Version: 0-1) => transactional_id producer_id producer_epoch committed
 *   transactional_id => STRING
 *   producer_id => INT64
 *   producer_epoch => INT16
 *   committed => BOOLEAN
 *
 * EndTxn Response (Version: 0-1) => throttle_time_ms error_code
 *   throttle_time_ms => INT32
 *   error_code => INT16
 */
import type { MessageSchema } from '../schema.js';

export const EndTxnRequest = {
  name: 'EndTxnRequest',
  fields: [
    { name: 'transactionalId', type: 'string' },
    { name: 'producerId', type: 'int64' },
    { name: 'producerEpoch', type: 'int16' },
    { name: 'committed', type: 'bool' },
  ],
} as const satisfies MessageSchema;

export const EndTxnResponse = {
  name: 'EndTxnResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32' },
    { name: 'errorCode', type: 'int16' },
  ],
} as const satisfies MessageSchema;
