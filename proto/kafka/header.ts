/**
 * Kafka request and response headers (Kafka's RequestHeader.json / ResponseHeader.json).
 *
 * Request Header v0 => request_api_key request_api_version correlation_id
 * Request Header v1 => request_api_key request_api_version correlation_id client_id
 * Request Header v2 => request_api_key request_api_version correlation_id client_id TAG_BUFFER
 *   request_api_key => INT16
 *   request_api_version => INT16
 *   correlation_id => INT32
 *   client_id => NULLABLE_STRING     (a classic int16-length string, even in v2)
 *
 * Response Header v0 => correlation_id
 * Response Header v1 => correlation_id TAG_BUFFER
 *
 * A flexible request version uses header v2 and gets response header v1; a classic one uses
 * header v1 and gets v0. ApiVersions is the exception on the response side: its response header is
 * always v0, so a client can read it before it knows what the broker speaks. Header v0 belongs to
 * ControlledShutdown v0, which StreamBus does not serve; it is decoded here for completeness.
 *
 * Pure: no node:* imports.
 */
import { KafkaReader } from './reader.js';
import type { KafkaWriter } from './writer.js';

export type RequestHeaderVersion = 0 | 1 | 2;
export type ResponseHeaderVersion = 0 | 1;

/** Bytes every request header starts with: api key, api version, correlation id. */
export const REQUEST_HEADER_PREFIX_BYTES = 8;

export interface KafkaRequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** null in header v0 and when the client sent a null client id. */
  readonly clientId: string | null;
  /** Where the request body starts in the frame. */
  readonly bodyOffset: number;
}

/**
 * The first 8 bytes of a request frame (the frame without its size field), readable before the
 * header version is known. Throws MALFORMED_FRAME when the frame is shorter.
 */
export function peekRequestHeader(frame: Buffer): { apiKey: number; apiVersion: number; correlationId: number } {
  const reader = new KafkaReader(frame, 'request header');
  return { apiKey: reader.int16('request_api_key'), apiVersion: reader.int16('request_api_version'), correlationId: reader.int32('correlation_id') };
}

/** Decodes a request header of the given version at the start of `frame`. */
export function decodeRequestHeader(frame: Buffer, headerVersion: RequestHeaderVersion): KafkaRequestHeader {
  const reader = new KafkaReader(frame, `request header v${headerVersion}`);
  const apiKey = reader.int16('request_api_key');
  const apiVersion = reader.int16('request_api_version');
  const correlationId = reader.int32('correlation_id');
  const clientId = headerVersion >= 1 ? reader.string('client_id', false, true) : null;
  if (headerVersion === 2) reader.skipTaggedFields('tagged fields');
  return { apiKey, apiVersion, correlationId, clientId, bodyOffset: reader.position };
}

export function encodeRequestHeader(
  writer: KafkaWriter,
  header: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null },
  headerVersion: RequestHeaderVersion,
): void {
  writer.int16(header.apiKey).int16(header.apiVersion).int32(header.correlationId);
  if (headerVersion >= 1) writer.string(header.clientId, false);
  if (headerVersion === 2) writer.emptyTaggedFields();
}

export function encodeResponseHeader(writer: KafkaWriter, correlationId: number, headerVersion: ResponseHeaderVersion): void {
  writer.int32(correlationId);
  if (headerVersion === 1) writer.emptyTaggedFields();
}

/** Decodes a response header; returns the correlation id and where the body starts. */
export function decodeResponseHeader(frame: Buffer, headerVersion: ResponseHeaderVersion): { correlationId: number; bodyOffset: number } {
  const reader = new KafkaReader(frame, `response header v${headerVersion}`);
  const correlationId = reader.int32('correlation_id');
  if (headerVersion === 1) reader.skipTaggedFields('tagged fields');
  return { correlationId, bodyOffset: reader.position };
}
