/**
 * The HTTP admin server (node:http), on its own port (admin.port, 9644 by default, bound to
 * 127.0.0.1 unless configured otherwise):
 *
 *   GET /metrics  Prometheus text exposition of the registry
 *   GET /livez    200 while the event loop turns (a blocked process cannot answer at all) and
 *                 the liveness callback, if any, agrees; 503 {"status":"not_live","reasons":[...]}
 *   GET /readyz   200 {"status":"ready"} when the readiness callback says so,
 *                 503 {"status":"not_ready","reasons":[...]} otherwise
 *   anything else 404; a known path with another method 405
 *
 * With an auth token, every endpoint except the probes (/livez, /readyz, which orchestrators call
 * without credentials) requires `Authorization: Bearer <token>`.
 */
import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

export interface ReadyState {
  readonly ready: boolean;
  /** Why not, in words an operator can act on ("listener native not bound"). */
  readonly reasons?: readonly string[];
}

export interface LiveState {
  readonly live: boolean;
  /** Why not ("the raft host stopped for good: ..."). */
  readonly reasons?: readonly string[];
}

export interface AdminServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 9644; 0 picks a free port (see the returned port). */
  readonly port?: number;
  readonly registry: Registry;
  /** Asked on every /readyz. Default: always ready. A throw or rejection counts as not ready. */
  readonly ready?: () => ReadyState | Promise<ReadyState>;
  /**
   * Asked on every /livez, for a process that can be running yet broken for good (a coordinator
   * whose Raft host stopped). Must be cheap and synchronous. Default: live while the loop turns.
   */
  readonly live?: () => LiveState;
  readonly logger?: Logger;
  /** When set, /metrics needs `Authorization: Bearer <token>`. */
  readonly authToken?: string | null;
}

export interface AdminServer {
  readonly host: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** Stops accepting, ends open connections (keep-alive scrapers included) and resolves when closed. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const routes = new Set(['/metrics', '/livez', '/readyz']);

/**
 * Starts the admin server and resolves once it is listening. Rejects with a StreamBusError when
 * the address cannot be bound (in use, not local).
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 9644;
  const log = options.logger?.child({ component: 'admin-http' });
  const token = options.authToken ?? null;

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log?.warn({ err: error, path: request.url }, 'admin request failed');
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0]!;
    if (!routes.has(path)) {
      send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    if (path === '/livez') {
      // Answering at all proves the loop turns; one more turn proves it is not stuck mid-request.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const state = options.live?.() ?? { live: true };
      if (state.live) send(response, 200, JSON_TYPE, '{"status":"live"}\n');
      else send(response, 503, JSON_TYPE, `${JSON.stringify({ status: 'not_live', reasons: state.reasons ?? [] })}\n`);
      return;
    }
    if (path === '/readyz') {
      let state: ReadyState;
      try {
        state = options.ready === undefined ? { ready: true } : await options.ready();
      } catch (error) {
        state = { ready: false, reasons: [`readiness check failed: ${error instanceof Error ? error.message : String(error)}`] };
      }
      const body = state.ready ? { status: 'ready' } : { status: 'not_ready', reasons: state.reasons ?? [] };
      send(response, state.ready ? 200 : 503, JSON_TYPE, `${JSON.stringify(body)}\n`);
      return;
    }
    if (token !== null && !authorized(request.headers.authorization, token)) {
      response.setHeader('WWW-Authenticate', 'Bearer realm="streambus-admin"');
      send(response, 401, 'text/plain; charset=utf-8', 'unauthorized\n');
      return;
    }
    const text = await options.registry.metrics();
    send(response, 200, options.registry.contentType, text);
  }

  server.listen(requestedPort, host);
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([error]: unknown[]) => Promise.reject(error as Error)),
    ]);
  } catch (cause) {
    const code = cause instanceof Error && 'code' in cause ? String(cause.code) : String(cause);
    throw new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `the admin server cannot listen on ${host}:${requestedPort} (${code}); set admin.host / admin.port`, {
      cause,
    });
  }
  const port = (server.address() as AddressInfo).port;
  log?.info({ host, port }, 'admin server listening');

  let closing: Promise<void> | undefined;
  return {
    host,
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

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.statusCode = status;
  response.setHeader('Content-Type', contentType);
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('Content-Length', Buffer.byteLength(body));
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

function authorized(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice('Bearer '.length));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
