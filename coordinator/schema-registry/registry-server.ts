/**
 * The schema registry's HTTP listener (port 8081 by default): node:http around the REST router
 * (rest-api.ts), with Confluent's conventions (reference §1.1):
 * - request bodies as application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json,
 *   application/json or application/octet-stream (read as JSON), or no type at all; others 415;
 * - answers as application/vnd.schemaregistry.v1+json unless `Accept` asks for one of the others;
 *   an `Accept` none of them satisfies gets 406;
 * - errors as `{"error_code": n, "message": "..."}` with the HTTP status of the code.
 *
 * Writes on a follower. The registry's writes run on the Raft leader; a write reaching a follower
 * is forwarded to the leader's registry address (recorded in the metadata by each node when it
 * leads), and the leader's answer is relayed as it is, which is what Confluent clients expect of
 * any registry node. A forwarded request carries a header naming the forwarding node and is never
 * forwarded again: a leader that changed meanwhile answers 50004 and the client retries.
 *
 * Limits: bodies up to maxBodyBytes (42209 beyond), and at most maxConnections sockets.
 */
import { once } from 'node:events';
import { type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { RegistryErrorCode, SchemaRegistryError, registryErrors } from './registry-errors.js';
import { type RestApi, isReadOnlyPost, isWrite } from './rest-api.js';

export const V1_JSON = 'application/vnd.schemaregistry.v1+json';
const GENERIC_JSON = 'application/vnd.schemaregistry+json';
const PLAIN_JSON = 'application/json';
const REQUEST_TYPES = new Set([V1_JSON, GENERIC_JSON, PLAIN_JSON, 'application/octet-stream']);
/** Names the node that forwarded a write; such a request is never forwarded again. */
const FORWARDED_HEADER = 'x-streambus-forwarded-by';
const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_CONNECTIONS = 1024;
const DEFAULT_WRITE_TIMEOUT_MS = 30_000;

/** Where a node serves the registry, for forwarding. */
export interface RegistryAddress {
  readonly host: string;
  readonly port: number;
}

export interface RegistryServerOptions {
  readonly api: RestApi;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** This node's id (named in forwarded requests). */
  readonly nodeId: number;
  /** The registry address of the leader this node knows, if any. */
  readonly leaderAddress: (leaderId: number | undefined) => RegistryAddress | undefined;
  readonly logger?: Logger;
  readonly maxBodyBytes?: number;
  readonly maxConnections?: number;
  /** How long a write (or its forwarding) may take before it answers 50002. */
  readonly writeTimeoutMs?: number;
}

export interface RegistryServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts listening; rejects with INVALID_CONFIG when the address cannot be bound. */
export async function startRegistryServer(options: RegistryServerOptions): Promise<RegistryServer> {
  const logger = options.logger ?? silentLogger;
  const server = createServer((request, response) => {
    serve(options, request, response).catch((error: unknown) => {
      logger.warn({ err: error, path: request.url }, 'schema registry request failed');
      if (!response.headersSent) sendError(response, V1_JSON, registryErrors.storeError(error instanceof Error ? error.message : String(error)), options.api.incompatibleErrorCode);
      else response.destroy();
    });
  });
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.listen(options.port, options.host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]: unknown[]) => Promise.reject(error as Error))]);
  } catch (cause) {
    const code = cause instanceof Error && 'code' in cause ? String(cause.code) : String(cause);
    throw new StreamBusError(
      ErrorCode.INVALID_CONFIG,
      `the schema registry cannot listen on ${options.host}:${options.port} (${code}); set schema.registry.host / schema.registry.port`,
      { cause },
    );
  }
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function serve(options: RegistryServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const method = request.method ?? 'GET';
  let answerType = V1_JSON;
  try {
    answerType = negotiate(request.headers.accept);
    const bytes = await readBody(request, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    const url = new URL(request.url ?? '/', 'http://registry');
    const body = parseBody(request.headers['content-type'], bytes);
    const leaderOnly = isWrite(method) && !(method === 'POST' && isReadOnlyPost(url.pathname));
    const signal = leaderOnly ? AbortSignal.timeout(options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS) : undefined;
    try {
      const answer = await options.api.handle({ method, path: url.pathname, query: url.searchParams, body }, signal);
      send(response, answer.status, answerType, typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body), method);
    } catch (error) {
      if (!(error instanceof StreamBusError) || error.code !== ErrorCode.NOT_CONTROLLER || error instanceof SchemaRegistryError) throw error;
      if (request.headers[FORWARDED_HEADER] !== undefined) throw registryErrors.unknownLeader(`${error.message} (the request was forwarded here by node ${String(request.headers[FORWARDED_HEADER])})`);
      await forward(options, request, response, bytes, error);
    }
  } catch (error) {
    sendError(response, answerType, asRegistryError(error), options.api.incompatibleErrorCode);
  }
}

/** The answer's content type from `Accept`; 406 when it allows none of Confluent's types. */
function negotiate(accept: string | undefined): string {
  if (accept === undefined || accept.trim() === '') return V1_JSON;
  const ranges = accept.split(',').map((part) => part.split(';')[0]!.trim().toLowerCase());
  if (ranges.some((r) => r === V1_JSON || r === '*/*' || r === 'application/*')) return V1_JSON;
  if (ranges.includes(GENERIC_JSON)) return GENERIC_JSON;
  if (ranges.includes(PLAIN_JSON)) return PLAIN_JSON;
  throw registryErrors.notAcceptable(accept);
}

function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    request.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxBytes) {
        refused = true;
        reject(registryErrors.schemaTooLarge(size, maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

/** The JSON body, or undefined for none; 415 for a foreign content type, 422 for bad JSON. */
function parseBody(contentType: string | undefined, bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type !== undefined && type !== '' && !REQUEST_TYPES.has(type)) throw registryErrors.unsupportedMediaType(type);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    throw registryErrors.unprocessable(`The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Sends a write to the leader's registry and relays its answer. */
async function forward(options: RegistryServerOptions, request: IncomingMessage, response: ServerResponse, body: Buffer, refusal: StreamBusError): Promise<void> {
  const leader = options.leaderAddress(refusal.context.leaderId);
  if (leader === undefined) throw registryErrors.unknownLeader(refusal.message);
  const headers: Record<string, string> = { [FORWARDED_HEADER]: String(options.nodeId), 'content-length': String(body.length) };
  for (const name of ['content-type', 'accept']) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const timeoutMs = options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
  const answer = await new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
    const outgoing = httpRequest(
      { host: leader.host, port: leader.port, method: request.method, path: request.url, headers, signal: AbortSignal.timeout(timeoutMs) },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 500, type: incoming.headers['content-type'] ?? V1_JSON, body: Buffer.concat(chunks) }));
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', (error) => reject(registryErrors.forwardingFailed(`${leader.host}:${leader.port}: ${error.message}`)));
    outgoing.end(body);
  });
  response.statusCode = answer.status;
  response.setHeader('Content-Type', answer.type);
  response.setHeader('Content-Length', answer.body.length);
  response.end(answer.body);
}

/** Any failure as a registry error: the coordinator's own codes map to Confluent's 5xxxx. */
function asRegistryError(error: unknown): SchemaRegistryError {
  if (error instanceof SchemaRegistryError) return error;
  if (error instanceof StreamBusError) {
    if (error.code === ErrorCode.NOT_CONTROLLER) return registryErrors.unknownLeader(error.message);
    if (error.code === ErrorCode.REQUEST_TIMED_OUT) return registryErrors.timeout(error.message);
    return registryErrors.storeError(error.message);
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return registryErrors.timeout(error.message);
  return registryErrors.storeError(error instanceof Error ? error.message : String(error));
}

function send(response: ServerResponse, status: number, contentType: string, body: string, method: string): void {
  response.statusCode = status;
  response.setHeader('Content-Type', contentType);
  response.setHeader('Content-Length', Buffer.byteLength(body));
  response.end(method === 'HEAD' ? undefined : body);
}

function sendError(response: ServerResponse, contentType: string, error: SchemaRegistryError, incompatibleCode: 409 | 40901): void {
  const body = error.body();
  if (error.errorCode === RegistryErrorCode.INCOMPATIBLE_SCHEMA) body.error_code = incompatibleCode;
  send(response, error.status, contentType, JSON.stringify(body), response.req.method ?? 'GET');
}
