/**
 * The contract between the client library and the transport: one TCP connection to one server,
 * speaking the native framing (proto/streambus.proto), with pipelined requests matched by
 * correlation id.
 */
import type { ApiName, RequestOf, ResponseOf } from '../../proto/index.js';

export interface RequestOptions {
  /** Aborts the wait for this response; the connection stays usable. */
  readonly signal?: AbortSignal;
  /** Fails the request with RequestTimeoutError after this long. Default: the connection's requestTimeoutMs. */
  readonly timeoutMs?: number;
}

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId?: string;
  /** Requests sent but not yet answered; further requests wait for a slot. Default 16. */
  readonly maxInFlight?: number;
  readonly connectTimeoutMs?: number;
  /** Default 30 000. A fetch's own max_wait_ms is added on top by the caller. */
  readonly requestTimeoutMs?: number;
  /** Largest frame accepted from the server. Default 64 MiB + 1 KiB. */
  readonly maxFrameBytes?: number;
  readonly signal?: AbortSignal;
}

export interface Connection {
  readonly host: string;
  readonly port: number;
  /**
   * Sends one request and resolves with its response body. Rejects with a StreamBusError: the
   * server's ErrorResponse code, NETWORK_EXCEPTION when the connection drops before the answer,
   * RequestTimeoutError (REQUEST_TIMED_OUT, naming the broker and the API) on timeout. Errors
   * inside a response body (per topic or partition) are returned, not thrown: the caller decides
   * per partition.
   */
  request<A extends ApiName>(api: A, body: RequestOf<A>, options?: RequestOptions): Promise<ResponseOf<A>>;
  /** Sends a request whose response the caller will ignore (produce with acks=0). Resolves once written. */
  send<A extends ApiName>(api: A, body: RequestOf<A>, options?: RequestOptions): Promise<void>;
  /** True until close() or a connection failure. */
  readonly connected: boolean;
  /** Fails every pending request with NETWORK_EXCEPTION and closes the socket. */
  close(): Promise<void>;
}

/** Opens a connection; the client takes one so tests can run it over a simulated network. */
export type ConnectFn = (options: ConnectionOptions) => Promise<Connection>;
