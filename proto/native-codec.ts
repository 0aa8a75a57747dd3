/**
 * The native protocol's message codec: loads proto/streambus.proto once, at module load, and
 * encodes/decodes each API's request and response bodies with it.
 *
 * This module reads one file at load time (the schema, found next to this module both in the
 * source tree and in dist/, where the build copies it); everything else here, and everything it
 * calls per message, is pure.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { Api, apiDescriptors, type ApiName, type RequestOf, type ResponseOf } from './api.js';
import { ErrorCode, StreamBusError, errorFromCode, errorInfo, type ErrorName } from './errors.js';
import { FRAME_HEADER_BYTES, FRAME_LENGTH_BYTES, FrameStatus, writeFrameHeader } from './framing.js';
import { DEFAULT_ZERO_COPY_MIN_BYTES, buildMessageCodec, type Encodable, type MessageCodec } from './message-codec.js';
import type { ErrorResponse } from './messages.js';

const PACKAGE = 'streambus.v1';

/**
 * A response body as the encoders accept it: each `bytes` field (a fetch's `records`) may be given as a list
 * of Buffers (BytesPieces) instead of one, sent as one field holding their concatenation.
 */
export type EncodableResponseOf<A extends ApiName> = Encodable<ResponseOf<A>>;

/** Where the schema is read from: beside this module, in proto/ and in dist/proto/ alike. */
export const schemaUrl = new URL('./streambus.proto', import.meta.url);

function loadSchema(): protobuf.Root {
  const source = readFileSync(schemaUrl, 'utf8');
  const { root } = protobuf.parse(source, { keepCase: false });
  root.resolveAll();
  return root;
}

const root = loadSchema();

// The table in api.ts and the .proto's enum must agree in both directions; a mismatch is a
// programmer error, so it fails loudly at load rather than misrouting frames later.
{
  const protoApi = root.lookupEnum(`${PACKAGE}.Api`).values;
  for (const [name, key] of Object.entries(Api)) {
    if (protoApi[name] !== key) throw new Error(`api.ts has ${name} = ${key}; streambus.proto has ${String(protoApi[name])}`);
  }
  for (const [name, key] of Object.entries(protoApi)) {
    if ((Api as Record<string, number>)[name] !== key) throw new Error(`streambus.proto has ${name} = ${key}; api.ts does not`);
  }
}

function codecFor<T>(typeName: string): MessageCodec<T> {
  return buildMessageCodec<T>(root.lookupType(`${PACKAGE}.${typeName}`));
}

interface ApiCodecs {
  readonly request: MessageCodec<unknown>;
  readonly response: MessageCodec<unknown>;
}

const codecs = Object.fromEntries(
  (Object.keys(apiDescriptors) as ApiName[]).map((name) => {
    const d = apiDescriptors[name];
    return [name, { request: codecFor(d.requestType), response: codecFor(d.responseType) }];
  }),
) as Record<ApiName, ApiCodecs>;

const errorResponseCodec = codecFor<ErrorResponse>('ErrorResponse');

function codecsOf(api: ApiName): ApiCodecs {
  const c = codecs[api] as ApiCodecs | undefined;
  if (c === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_API, `unknown API ${String(api)}`);
  return c;
}

/** Encodes a request body. Throws StreamBusError(INVALID_REQUEST) for a field of the wrong type. */
export function encodeRequest<A extends ApiName>(api: A, body: RequestOf<A>): Buffer {
  return codecsOf(api).request.encode(body);
}

/**
 * Decodes a request body. `bytes` fields in the result are views into `bytes`. Throws
 * StreamBusError(MALFORMED_FRAME) when the bytes are not a valid encoding.
 */
export function decodeRequest<A extends ApiName>(api: A, bytes: Uint8Array): RequestOf<A> {
  return codecsOf(api).request.decode(bytes) as RequestOf<A>;
}

/** Encodes a response body. Throws StreamBusError(INVALID_REQUEST) for a field of the wrong type. */
export function encodeResponse<A extends ApiName>(api: A, body: ResponseOf<A> | EncodableResponseOf<A>): Buffer {
  return codecsOf(api).response.encode(body);
}

/** Decodes a response body (views, not copies, for `bytes`). Throws StreamBusError(MALFORMED_FRAME). */
export function decodeResponse<A extends ApiName>(api: A, bytes: Uint8Array): ResponseOf<A> {
  return codecsOf(api).response.decode(bytes) as ResponseOf<A>;
}

export function encodeErrorResponse(body: ErrorResponse): Buffer {
  return errorResponseCodec.encode(body);
}

/** Throws StreamBusError(MALFORMED_FRAME) when the bytes are not an ErrorResponse. */
export function decodeErrorResponse(bytes: Uint8Array): ErrorResponse {
  return errorResponseCodec.decode(bytes);
}

/**
 * The typed error an ErrorResponse body stands for. A body that does not decode becomes
 * MALFORMED_FRAME; a code this build does not know becomes UNKNOWN_SERVER_ERROR (see errorFromCode).
 */
export function errorFromResponse(bytes: Uint8Array): StreamBusError {
  let body: ErrorResponse;
  try {
    body = decodeErrorResponse(bytes);
  } catch (err) {
    return err as StreamBusError;
  }
  return (
    errorFromCode(body.errorCode, body.errorMessage) ??
    new StreamBusError(ErrorCode.MALFORMED_FRAME, 'the server sent an ErrorResponse with error code NONE')
  );
}

/** The ErrorResponse for a typed error; an error's message is sent as it is. */
export function errorResponseOf(error: StreamBusError): ErrorResponse {
  return { errorCode: error.code, errorMessage: error.message };
}

/** The ErrorResponse for a code, with the code's standard message unless one is given. */
export function errorResponseFor(name: ErrorName, message?: string): ErrorResponse {
  return { errorCode: ErrorCode[name], errorMessage: message ?? errorInfo[name].message };
}

// ---- Whole frames in one buffer: the body is encoded straight after a reserved header, so a
// frame costs one allocation and each `bytes` field is copied once.

/** A complete request frame. The correlation id may be patched later with setFrameCorrelationId. */
export function encodeRequestFrame<A extends ApiName>(correlationId: number, api: A, version: number, body: RequestOf<A>): Buffer {
  const frame = codecsOf(api).request.encode(body, FRAME_HEADER_BYTES);
  writeFrameHeader(frame, { correlationId, api: apiDescriptors[api].key, versionOrStatus: version });
  return frame;
}

/** A complete response frame (status OK), in one new buffer: `bytes` fields are copied into it. */
export function encodeResponseFrame<A extends ApiName>(correlationId: number, api: A, body: ResponseOf<A> | EncodableResponseOf<A>): Buffer {
  const frame = codecsOf(api).response.encode(body, FRAME_HEADER_BYTES);
  writeFrameHeader(frame, { correlationId, api: apiDescriptors[api].key, versionOrStatus: FrameStatus.OK });
  return frame;
}

export interface ResponseFrameChunksOptions {
  /** `bytes` values and pieces at least this long are passed through, not copied. Default 16 KiB. */
  readonly zeroCopyMinBytes?: number;
}

/**
 * A complete response frame (status OK) as a list of Buffers for a gathered write (socket.cork(),
 * write() each, uncork(): one writev). Their concatenation is byte for byte what
 * encodeResponseFrame() returns; the first chunk holds the frame header. Large `bytes` values and
 * pieces (stored record batches) are in the list as the caller's own Buffers, not copies, so they
 * must stay unmodified until the socket has written them; the rest is copied into one allocation.
 * Throws as encodeResponseFrame() does.
 */
export function encodeResponseFrameChunks<A extends ApiName>(
  correlationId: number,
  api: A,
  body: ResponseOf<A> | EncodableResponseOf<A>,
  options: ResponseFrameChunksOptions = {},
): Buffer[] {
  const chunks = codecsOf(api).response.encodeChunks(body, {
    headroomBytes: FRAME_HEADER_BYTES,
    zeroCopyMinBytes: options.zeroCopyMinBytes ?? DEFAULT_ZERO_COPY_MIN_BYTES,
  });
  let frameBytes = 0;
  for (const chunk of chunks) frameBytes += chunk.length;
  if (frameBytes - FRAME_LENGTH_BYTES > 0xffffffff) throw new StreamBusError(ErrorCode.FRAME_TOO_LARGE, `a frame of ${frameBytes} bytes`);
  // The header sits in the headroom of the first chunk. writeFrameHeader() checks the fields and
  // takes the length from the buffer it is given, which here is the header alone, so the length
  // field is then set to that of the whole frame.
  const first = chunks[0] as Buffer;
  writeFrameHeader(first.subarray(0, FRAME_HEADER_BYTES), { correlationId, api: apiDescriptors[api].key, versionOrStatus: FrameStatus.OK });
  first.writeUInt32BE(frameBytes - FRAME_LENGTH_BYTES, 0);
  return chunks;
}

/**
 * A complete ErrorResponse frame. `apiKey` is the raw key from the request (it may be one this
 * build does not know, for UNKNOWN_API).
 */
export function encodeErrorFrame(correlationId: number, apiKey: number, body: ErrorResponse): Buffer {
  const frame = errorResponseCodec.encode(body, FRAME_HEADER_BYTES);
  writeFrameHeader(frame, { correlationId, api: apiKey & 0xffff, versionOrStatus: FrameStatus.ERROR });
  return frame;
}
