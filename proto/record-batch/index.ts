/**
 * RecordBatch v2 (magic 2): the one batch format of StreamBus, shared by the clients, the broker
 * and the Kafka listener.
 */
export * from './header.js';
export { crc32c, type Crc32c } from './crc32c.js';
export { encodeRecordBatch, encodeRecordBatchSync } from './encode.js';
export { decodeRecordBatches, decodeRecordBatchesSync } from './decode.js';
export { validateBatches } from './validate.js';
export type {
  DecodeRecordBatchesOptions,
  DecodedBatch,
  DecodedRecord,
  EncodeRecordBatchOptions,
  RecordHeader,
  RecordInput,
  ValidateBatchesOptions,
} from './types.js';
export { Reader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';
export type { Codecs } from '../compression/codecs.js';
