/**
 * The schema registry's errors: Confluent's error codes (reference/schema-registry.md §1.2), each
 * an HTTP status (its first three digits) and a body `{"error_code": n, "message": "..."}`.
 *
 * Clients key on the HTTP status and some compare the message text, so the messages reuse
 * Confluent's wording where a client is known to read it ("Subject 'x' not found.", "Schema not
 * found"). Every registry error is a StreamBusError too, with the nearest StreamBus code, so code
 * that handles StreamBus errors in general (logging, the CLI) needs nothing special.
 *
 * Pure: no node:* imports.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

export const RegistryErrorCode = {
  SUBJECT_NOT_FOUND: 40401,
  VERSION_NOT_FOUND: 40402,
  SCHEMA_NOT_FOUND: 40403,
  SUBJECT_SOFT_DELETED: 40404,
  SUBJECT_NOT_SOFT_DELETED: 40405,
  SCHEMA_VERSION_SOFT_DELETED: 40406,
  SCHEMA_VERSION_NOT_SOFT_DELETED: 40407,
  SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED: 40408,
  SUBJECT_LEVEL_MODE_NOT_CONFIGURED: 40409,
  /** Not a Confluent code: a path or method the registry does not serve. */
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  INCOMPATIBLE_SCHEMA: 409,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** A request body that is not JSON, or JSON of the wrong shape. */
  UNPROCESSABLE_ENTITY: 422,
  INVALID_SCHEMA: 42201,
  INVALID_VERSION: 42202,
  INVALID_COMPATIBILITY_LEVEL: 42203,
  INVALID_MODE: 42204,
  OPERATION_NOT_PERMITTED: 42205,
  REFERENCE_EXISTS: 42206,
  ID_DOES_NOT_MATCH: 42207,
  INVALID_SUBJECT: 42208,
  SCHEMA_TOO_LARGE: 42209,
  STORE_ERROR: 50001,
  OPERATION_TIMEOUT: 50002,
  REQUEST_FORWARDING_FAILED: 50003,
  UNKNOWN_LEADER: 50004,
} as const;
export type RegistryErrorCode = (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode];

/** The StreamBus code nearest to each family of registry codes. */
function streamBusCode(code: RegistryErrorCode): ErrorCode {
  if (code === RegistryErrorCode.INCOMPATIBLE_SCHEMA) return ErrorCode.POLICY_VIOLATION;
  if (code === RegistryErrorCode.UNKNOWN_LEADER || code === RegistryErrorCode.REQUEST_FORWARDING_FAILED) return ErrorCode.NOT_CONTROLLER;
  if (code === RegistryErrorCode.OPERATION_TIMEOUT) return ErrorCode.REQUEST_TIMED_OUT;
  if (code >= 50000) return ErrorCode.UNKNOWN_SERVER_ERROR;
  return ErrorCode.INVALID_REQUEST;
}

/** A registry error: `errorCode` is Confluent's, `status` the HTTP status it answers with. */
export class SchemaRegistryError extends StreamBusError {
  readonly errorCode: RegistryErrorCode;

  constructor(errorCode: RegistryErrorCode, message: string, options?: { cause?: unknown }) {
    super(streamBusCode(errorCode), message, options);
    this.name = 'SchemaRegistryError';
    this.errorCode = errorCode;
  }

  /** The HTTP status: the first three digits of the code. */
  get status(): number {
    return this.errorCode < 1000 ? this.errorCode : Math.floor(this.errorCode / 100);
  }

  /** Confluent's error body. */
  body(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

/** The errors with Confluent's fixed wording, in one place. */
export const registryErrors = {
  subjectNotFound: (subject: string) => new SchemaRegistryError(RegistryErrorCode.SUBJECT_NOT_FOUND, `Subject '${subject}' not found.`),
  versionNotFound: (version: number | string) => new SchemaRegistryError(RegistryErrorCode.VERSION_NOT_FOUND, `Version ${version} not found.`),
  schemaNotFound: () => new SchemaRegistryError(RegistryErrorCode.SCHEMA_NOT_FOUND, 'Schema not found'),
  schemaIdNotFound: (id: number) => new SchemaRegistryError(RegistryErrorCode.SCHEMA_NOT_FOUND, `Schema ${id} not found`),
  subjectSoftDeleted: (subject: string) =>
    new SchemaRegistryError(RegistryErrorCode.SUBJECT_SOFT_DELETED, `Subject '${subject}' was soft deleted.Set permanent=true to delete permanently`),
  subjectNotSoftDeleted: (subject: string) =>
    new SchemaRegistryError(RegistryErrorCode.SUBJECT_NOT_SOFT_DELETED, `Subject '${subject}' was not deleted first before being permanently deleted`),
  versionSoftDeleted: (subject: string, version: number) =>
    new SchemaRegistryError(
      RegistryErrorCode.SCHEMA_VERSION_SOFT_DELETED,
      `Subject '${subject}' Version ${version} was soft deleted.Set permanent=true to delete permanently`,
    ),
  versionNotSoftDeleted: (subject: string, version: number) =>
    new SchemaRegistryError(
      RegistryErrorCode.SCHEMA_VERSION_NOT_SOFT_DELETED,
      `Subject '${subject}' Version ${version} was not deleted first before being permanently deleted`,
    ),
  subjectConfigNotFound: (subject: string) =>
    new SchemaRegistryError(RegistryErrorCode.SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED, `Subject '${subject}' does not have subject-level compatibility configured`),
  subjectModeNotFound: (subject: string) =>
    new SchemaRegistryError(RegistryErrorCode.SUBJECT_LEVEL_MODE_NOT_CONFIGURED, `Subject '${subject}' does not have subject-level mode configured`),
  invalidVersion: (version: string) =>
    new SchemaRegistryError(
      RegistryErrorCode.INVALID_VERSION,
      `The specified version '${version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    ),
  invalidSchema: (message: string) => new SchemaRegistryError(RegistryErrorCode.INVALID_SCHEMA, message),
  invalidCompatibility: (value: unknown) =>
    new SchemaRegistryError(
      RegistryErrorCode.INVALID_COMPATIBILITY_LEVEL,
      `Invalid compatibility level ${JSON.stringify(value) ?? 'undefined'}. Valid values are none, backward, forward, full, backward_transitive, forward_transitive and full_transitive`,
    ),
  invalidMode: (value: unknown) =>
    new SchemaRegistryError(RegistryErrorCode.INVALID_MODE, `Invalid mode ${JSON.stringify(value) ?? 'undefined'}. Valid values are READWRITE, READONLY and IMPORT`),
  notPermitted: (message: string) => new SchemaRegistryError(RegistryErrorCode.OPERATION_NOT_PERMITTED, message),
  referenceExists: (subject: string, version: number) =>
    new SchemaRegistryError(
      RegistryErrorCode.REFERENCE_EXISTS,
      `One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=${subject},version=${version}}.`,
    ),
  idDoesNotMatch: (message: string) => new SchemaRegistryError(RegistryErrorCode.ID_DOES_NOT_MATCH, message),
  invalidSubject: (subject: string, why: string) => new SchemaRegistryError(RegistryErrorCode.INVALID_SUBJECT, `Invalid subject ${JSON.stringify(subject)}: ${why}`),
  schemaTooLarge: (length: number, max: number) =>
    new SchemaRegistryError(RegistryErrorCode.SCHEMA_TOO_LARGE, `Schema is ${length} characters long; the limit is ${max}`),
  incompatible: (subject: string, details: readonly string[]) =>
    new SchemaRegistryError(
      RegistryErrorCode.INCOMPATIBLE_SCHEMA,
      `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${details.join(', ')}]`,
    ),
  unprocessable: (message: string) => new SchemaRegistryError(RegistryErrorCode.UNPROCESSABLE_ENTITY, message),
  notFound: (what: string) => new SchemaRegistryError(RegistryErrorCode.NOT_FOUND, `HTTP 404 Not Found: ${what}`),
  methodNotAllowed: (what: string) => new SchemaRegistryError(RegistryErrorCode.METHOD_NOT_ALLOWED, `HTTP 405 Method Not Allowed: ${what}`),
  notAcceptable: (accept: string) =>
    new SchemaRegistryError(RegistryErrorCode.NOT_ACCEPTABLE, `HTTP 406 Not Acceptable: ${accept}; use application/vnd.schemaregistry.v1+json or application/json`),
  unsupportedMediaType: (type: string) =>
    new SchemaRegistryError(
      RegistryErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `HTTP 415 Unsupported Media Type: ${type}; send application/vnd.schemaregistry.v1+json, application/json or application/octet-stream`,
    ),
  unknownLeader: (why: string) => new SchemaRegistryError(RegistryErrorCode.UNKNOWN_LEADER, `Error while forwarding the request to the leader: ${why}`),
  forwardingFailed: (why: string) => new SchemaRegistryError(RegistryErrorCode.REQUEST_FORWARDING_FAILED, `Error while forwarding the request to the leader: ${why}`),
  timeout: (why: string) => new SchemaRegistryError(RegistryErrorCode.OPERATION_TIMEOUT, `Operation timed out: ${why}`),
  storeError: (why: string) => new SchemaRegistryError(RegistryErrorCode.STORE_ERROR, `Error in the backend data store: ${why}`),
} as const;
