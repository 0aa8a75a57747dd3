/**
 * RecordBatch v2 (magic 2): the one batch format of StreamBus, shared by the clients, the broker
 * and the Kafka listener.
 */
export * from './header.js';
export { crc32c, type Crc32c } from './crc32c.js';
export {
  decodeRecordBatches,
  decodeRecordBatchesSync,
  encodeRecordBatch,
  encodeRecordBatchSync,
  validateBatches,
  type DecodeRecordBatchesOptions,
  type DecodedBatch,
  type DecodedRecord,
  type EncodeRecordBatchOptions,
  type RecordHeader,
  type RecordInput,
  type ValidateBatchesOptions,
} from './codec.js';
export { Reader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';
export type { Codecs } from '../compression/codecs.js';
