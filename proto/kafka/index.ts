/**
 * The Kafka wire-protocol codec: framing, headers, the served APIs with their schemas, the
 * interpreter that reads and writes them, and the mapping of StreamBus error codes to Kafka's.
 * Used by the Kafka listener (broker/kafka/) and by tests that speak Kafka's protocol directly.
 */
export * from './apis.js';
export * from './errors.js';
export * from './frame.js';
export * from './header.js';
export { decodeMessage, encodeMessage, encodeMessageBuffer } from './codec.js';
export { KafkaReader } from './reader.js';
export { KafkaWriter, RECORDS_ZERO_COPY_MIN_BYTES } from './writer.js';
export type { Decoded, Encodable, Field, FieldType, MessageSchema, RecordsInput } from './schema.js';
