/**
 * The public entry of proto/: the native protocol (API table, message shapes, codec, framing),
 * the error-code table, the RecordBatch v2 codec and the compression codecs.
 */
export * from './errors.js';
export * from './api.js';
export type * from './messages.js';
export * from './framing.js';
export {
  decodeErrorResponse,
  decodeRequest,
  decodeResponse,
  encodeErrorFrame,
  encodeErrorResponse,
  encodeRequest,
  encodeRequestFrame,
  encodeResponse,
  encodeResponseFrame,
  encodeResponseFrameChunks,
  errorFromResponse,
  errorResponseFor,
  errorResponseOf,
  schemaUrl,
  type EncodableResponseOf,
} from './native-codec.js';
export {
  DEFAULT_ZERO_COPY_MIN_BYTES,
  MAX_DECODED_OBJECTS,
  type BytesPieces,
  type Encodable,
  type MessageCodec,
} from './message-codec.js';
export * from './record-batch/index.js';
export * from './compression/index.js';
