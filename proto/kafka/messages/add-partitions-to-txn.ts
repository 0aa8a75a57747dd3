/**
 * AddPartitionsToTxn (key 24), versions 0-1: a transactional producer names the partitions it is
 * about to write to, before its first batch to each; the first call opens the transaction. Kafka's
 * AddPartitionsToTxnRequest.json / AddPartitionsToTxnResponse.json. v1 differs from v0 only in how
 * throttling is reported. librdkafka 2.0.2 sends v0 only; v2 (PRODUCER_FENCED, KIP-588) and the
 * flexible v3 are not served.
 *
 * AddPartitionsToTxn Request (Version: 0-1) => transactional_id producer_id producer_epoch [topics]
 *   transactional_id => STRING
 *   producer_id => INT64
 *   producer_epoch => INT16
 *   topics => name [partitions]
 *     name => STRING
 *     partitions => INT32
 *
 * AddPartitionsToTxn Response (Version: 0-1) => throttle_time_ms [results]
 *   throttle_time_ms => INT32
 *   results => name [results]
 *     name => STRING
 *     results => partition_index error_code
 *       partition_index => INT32
 *       error_code => INT16
 */
import type { MessageSchema } from '../schema.js';

export const AddPartitionsToTxnRequest = {
  name: 'AddPartitionsToTxnRequest',
  fields: [
    { name: 'transactionalId', type: 'string' },
    { name: 'producerId', type: 'int64' },
    { name: 'producerEpoch', type: 'int16' },
    {
      name: 'topics',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            { name: 'partitions', type: { array: 'int32' } },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;

export const AddPartitionsToTxnResponse = {
  name: 'AddPartitionsToTxnResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32' },
    {
      name: 'results',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            {
              name: 'results',
              type: {
                array: {
                  struct: [
                    { name: 'partitionIndex', type: 'int32' },
                    { name: 'errorCode', type: 'int16' },
                  ],
                },
              },
            },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
