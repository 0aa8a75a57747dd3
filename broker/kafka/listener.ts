/**
 * The Kafka wire-protocol listener: TCP servers speaking Kafka's protocol, mapped onto the broker's
 * own handlers (./service.ts), one KafkaConnection per client.
 *
 * Addresses. The host `localhost` binds both 127.0.0.1 and ::1 on the same port, because clients
 * resolve `localhost` differently (librdkafka may pick ::1, Node's clients 127.0.0.1) and a
 * listener on one family only makes the other fail or stall on its first connection. Without IPv6
 * loopback on the machine the listener keeps to 127.0.0.1 and logs it. Any other host binds that
 * address alone. Port 0 picks a free port (the same one on both families).
 *
 * The advertised address (what Metadata tells clients to connect to) is configured separately;
 * its port defaults to the bound one.
 *
 * Lifecycle: new → listen() → close(). close() stops accepting, lets in-flight requests answer
 * (a long poll answers at once), closes every connection, and destroys sockets still open after
 * closeTimeoutMs.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { KafkaConnection } from './connection.js';
import { KafkaApiService } from './service.js';
import { KAFKA_LISTENER_NAME, type KafkaApiOptions, type KafkaEndpoint } from './types.js';

export interface KafkaListenerOptions {
  readonly api: KafkaApiOptions;
  /** Bind host; `localhost` binds 127.0.0.1 and ::1. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The host Metadata advertises. */
  readonly advertisedHost: string;
  /** The port Metadata advertises; 0 or absent: the bound port. */
  readonly advertisedPort?: number;
  /** Largest request frame accepted, size field included. */
  readonly maxFrameBytes: number;
  /** Requests dispatched and not yet answered, per connection. */
  readonly maxInFlightPerConnection: number;
  readonly logger: Logger;
  /** How long close() waits for connections to finish before destroying them. Default 5000. */
  readonly closeTimeoutMs?: number;
}

const DEFAULT_CLOSE_TIMEOUT_MS = 5000;
/** Tries at binding ::1 on the port picked for 127.0.0.1 (port 0) before giving up. */
const BIND_ATTEMPTS = 5;

export class KafkaListener {
  readonly #options: KafkaListenerOptions;
  readonly #service: KafkaApiService;
  readonly #log: Logger;
  #servers: Server[] = [];
  readonly #connections = new Set<KafkaConnection>();
  #nextConnectionId = 1;
  #closing: Promise<void> | undefined;

  constructor(options: KafkaListenerOptions) {
    if (!Number.isInteger(options.maxInFlightPerConnection) || options.maxInFlightPerConnection < 1) {
      throw new RangeError('maxInFlightPerConnection must be a positive integer');
    }
    this.#options = options;
    this.#log = options.logger;
    this.#service = new KafkaApiService(options.api, () => this.advertised);
  }

  /** The bound port. Throws before listen() has resolved. */
  get port(): number {
    const address = this.#servers[0]?.address();
    if (address === undefined || address === null || typeof address === 'string') throw new Error('the kafka listener is not listening');
    return address.port;
  }

  /** The bound address: the configured host and the bound port. */
  get bound(): KafkaEndpoint {
    return { host: this.#options.host, port: this.port };
  }

  /** Every address a socket is bound to, e.g. ['127.0.0.1:9092', '[::1]:9092']. */
  get addresses(): string[] {
    return this.#servers.flatMap((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') return [];
      return [address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`];
    });
  }

  /** The address Metadata advertises for this broker. */
  get advertised(): KafkaEndpoint {
    const port = this.#options.advertisedPort !== undefined && this.#options.advertisedPort > 0 ? this.#options.advertisedPort : this.port;
    return { host: this.#options.advertisedHost, port };
  }

  /** This listener as the broker registers it (BrokerListener). */
  get registration(): { name: string; host: string; port: number } {
    return { name: KAFKA_LISTENER_NAME, ...this.advertised };
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Binds every address. Rejects (EADDRINUSE, say) without leaving anything open. */
  async listen(): Promise<void> {
    const hosts = this.#options.host === 'localhost' ? ['127.0.0.1', '::1'] : [this.#options.host];
    for (let attempt = 1; ; attempt++) {
      const servers: Server[] = [];
      try {
        servers.push(await this.#bind(hosts[0] as string, this.#options.port));
        const port = (servers[0]?.address() as { port: number }).port;
        for (const host of hosts.slice(1)) {
          try {
            servers.push(await this.#bind(host, port));
          } catch (error) {
            if (!isAddressFamilyMissing(error)) throw error;
            this.#log.warn({ host, err: error }, 'no IPv6 loopback on this machine: the kafka listener serves IPv4 only');
          }
        }
        this.#servers = servers;
        this.#log.info({ addresses: this.addresses, advertised: this.advertised }, 'kafka listener started');
        return;
      } catch (error) {
        await Promise.all(servers.map((server) => closeServer(server)));
        // Port 0 picked a port free on 127.0.0.1 but taken on ::1: pick another.
        const retry = this.#options.port === 0 && attempt < BIND_ATTEMPTS && (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!retry) throw error;
      }
    }
  }

  #bind(host: string, port: number): Promise<Server> {
    const server = createServer({ noDelay: true, allowHalfOpen: false }, (socket) => this.#accept(socket));
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen({ host, port, ipv6Only: host.includes(':') }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.#log.error({ err }, 'kafka listener error'));
        resolve(server);
      });
    });
  }

  /**
   * Stops accepting, asks every connection to finish its in-flight requests and close, and
   * resolves when every socket is closed (destroying those still open after closeTimeoutMs).
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const stopped = Promise.all(this.#servers.map((server) => closeServer(server)));
    const connections = [...this.#connections];
    for (const connection of connections) connection.shutdown();
    const deadline = setTimeout(() => {
      for (const connection of this.#connections) connection.destroy();
    }, this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    try {
      await Promise.all([stopped, ...connections.map((connection) => connection.closed)]);
    } finally {
      clearTimeout(deadline);
    }
  }

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    const connection = new KafkaConnection(this.#nextConnectionId++, socket, {
      service: this.#service,
      maxFrameBytes: this.#options.maxFrameBytes,
      maxInFlight: this.#options.maxInFlightPerConnection,
      logger: this.#log,
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) resolve();
    else server.close(() => resolve());
  });
}

/** The error of binding ::1 on a machine without IPv6 (or without IPv6 loopback). */
function isAddressFamilyMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT';
}
