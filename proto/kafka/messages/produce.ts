/**
 * Produce (key 0), versions 0-7. Kafka's ProduceRequest.json / ProduceResponse.json. The request's
 * `records` stay bytes: a view into the frame, handed to the broker's append path, which validates
 * and stores them. StreamBus stores RecordBatch v2 (magic 2) only, which clients send from v3 on;
 * the legacy message sets of v0-2 (magic 0 and 1) are refused per partition with
 * UNSUPPORTED_VERSION. Versions 0-2 are served all the same because librdkafka 2.0.2 compresses
 * with gzip, snappy or lz4 only when Produce v0 lies in the advertised range.
 *
 * With acks=0 the client expects no response at all, and none is sent.
 *
 * Produce Request (Version: 0-2) => acks timeout_ms [topic_data]
 * Produce Request (Version: 3-7) => transactional_id acks timeout_ms [topic_data]
 *   transactional_id => NULLABLE_STRING
 *   acks => INT16
 *   timeout_ms => INT32
 *   topic_data => name [partition_data]
 *     name => STRING
 *     partition_data => index records
 *       index => INT32
 *       records => RECORDS (nullable bytes)
 *
 * Produce Response (Version: 0) => [responses]
 * Produce Response (Version: 1-4) => [responses] throttle_time_ms
 * Produce Response (Version: 5-7) => same, with log_start_offset
 *   responses => name [partition_responses]
 *     name => STRING
 *     partition_responses => index error_code base_offset log_append_time_ms(v2+) log_start_offset(v5+)
 *       index => INT32
 *       error_code => INT16
 *       base_offset => INT64
 *       log_append_time_ms => INT64
 *       log_start_offset => INT64
 *   throttle_time_ms => INT32
 */
import type { MessageSchema } from '../schema.js';

export const ProduceRequest = {
  name: 'ProduceRequest',
  fields: [
    { name: 'transactionalId', type: 'string', since: 3, nullableSince: 3, default: null },
    { name: 'acks', type: 'int16' },
    { name: 'timeoutMs', type: 'int32' },
    {
      name: 'topicData',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            {
              name: 'partitionData',
              type: {
                array: {
                  struct: [
                    { name: 'index', type: 'int32' },
                    { name: 'records', type: 'records', nullableSince: 0 },
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

export const ProduceResponse = {
  name: 'ProduceResponse',
  fields: [
    {
      name: 'responses',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            {
              name: 'partitionResponses',
              type: {
                array: {
                  struct: [
                    { name: 'index', type: 'int32' },
                    { name: 'errorCode', type: 'int16' },
                    { name: 'baseOffset', type: 'int64' },
                    { name: 'logAppendTimeMs', type: 'int64', since: 2, default: -1 },
                    { name: 'logStartOffset', type: 'int64', since: 5, default: -1 },
                  ],
                },
              },
            },
          ],
        },
      },
    },
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
  ],
} as const satisfies MessageSchema;
