/**
 * The one error type of the serdes (./index.ts). Serializing and deserializing fail for reasons a
 * caller handles differently (a payload that does not match its schema is the caller's bug; a
 * registry that does not answer is worth a retry; bytes without the magic byte were not written
 * by a schema-aware producer), so each failure carries a stable `code`, a `retriable` flag and
 * what it concerned (subject, schema id), rather than a message to parse.
 */

/** Why a serializer, deserializer or the registry client failed. */
export const SerdeErrorCode = {
  /** The bytes do not start with the wire format's magic byte 0 (or are too short to hold the header). */
  UNKNOWN_MAGIC_BYTE: 'UNKNOWN_MAGIC_BYTE',
  /** The registry has no schema with that id, or the subject does not hold that schema. */
  SCHEMA_NOT_FOUND: 'SCHEMA_NOT_FOUND',
  /** The subject does not exist in the registry. */
  SUBJECT_NOT_FOUND: 'SUBJECT_NOT_FOUND',
  /** The value does not match the schema (serialize), or the payload cannot be decoded with it (deserialize). */
  INVALID_PAYLOAD: 'INVALID_PAYLOAD',
  /** The schema given to a serializer, or one fetched from the registry, does not parse. */
  INVALID_SCHEMA: 'INVALID_SCHEMA',
  /** The schema id names a schema of another format than this deserializer reads. */
  WRONG_SCHEMA_TYPE: 'WRONG_SCHEMA_TYPE',
  /** A Protobuf message-index path leads to no message of the schema. */
  UNKNOWN_MESSAGE_INDEX: 'UNKNOWN_MESSAGE_INDEX',
  /** The registry refused the schema as incompatible with the subject's earlier versions (HTTP 409). */
  INCOMPATIBLE_SCHEMA: 'INCOMPATIBLE_SCHEMA',
  /** The registry answered with another error (its error_code and message are kept). */
  REGISTRY_ERROR: 'REGISTRY_ERROR',
  /** The registry could not be reached, timed out, or answered 5xx. Retriable. */
  REGISTRY_UNAVAILABLE: 'REGISTRY_UNAVAILABLE',
  /** An option is missing or out of range. */
  INVALID_CONFIG: 'INVALID_CONFIG',
} as const;
export type SerdeErrorCode = (typeof SerdeErrorCode)[keyof typeof SerdeErrorCode];

export interface SerdeErrorContext {
  readonly subject?: string;
  readonly schemaId?: number;
  readonly topic?: string;
  /** The registry's own error code (40401, 40403, 409, ...), when it answered with one. */
  readonly registryErrorCode?: number;
  /** The HTTP status of the registry's answer, when there was one. */
  readonly httpStatus?: number;
}

export class SerdeError extends Error {
  override readonly name = 'SerdeError';
  readonly code: SerdeErrorCode;
  /** Whether the same call may succeed if made again (only REGISTRY_UNAVAILABLE). */
  readonly retriable: boolean;
  readonly context: SerdeErrorContext;

  constructor(code: SerdeErrorCode, message: string, options: { cause?: unknown; context?: SerdeErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = code === SerdeErrorCode.REGISTRY_UNAVAILABLE;
    this.context = options.context ?? {};
  }
}
