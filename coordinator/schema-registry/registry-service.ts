/**
 * The schema registry as a coordinator node runs it: the operations (schema-registry.ts) over the
 * node's applied metadata and its write pipeline, the REST router, and the HTTP listener.
 *
 * Each node records its registry address in the metadata log whenever it becomes leader (and the
 * log lacks or differs), so every follower can forward writes to whichever node leads, as the
 * coordinator's own API address is recorded (register-coordinator).
 */
import type { Coordinator } from '../coordinator.js';
import { type Logger, silentLogger } from '../logger.js';
import { formatFor as builtInFormats, protobufToSerialized } from './formats/index.js';
import { type RegistryServer, startRegistryServer } from './registry-server.js';
import { RestApi, type SerializedFormat } from './rest-api.js';
import { type FormatLookup, SchemaRegistry } from './schema-registry.js';

export interface SchemaRegistryServiceOptions {
  readonly coordinator: Coordinator;
  /** The Raft host's leader changes (RaftHost.onLeaderChange); returns the unsubscribe function. */
  readonly onLeaderChange: (listener: (leaderId: number, term: number) => void) => () => void;
  /** The leader the Raft host knows (NO_NODE = 0 when none). */
  readonly leaderId: () => number;
  /** Where to bind; port 0 picks a free one. */
  readonly listen: { readonly host: string; readonly port: number };
  /** The host recorded for this node's registry (with the bound port). */
  readonly advertisedHost: string;
  readonly formatFor?: FormatLookup;
  readonly serialized?: SerializedFormat;
  /** 409 (default, as Karapace and CSR before 8.1) or 40901 (CSR 8.1 and later). */
  readonly incompatibleErrorCode?: 409 | 40901;
  readonly logger?: Logger;
}

export class SchemaRegistryService {
  readonly registry: SchemaRegistry;
  /** Where the listener is bound. */
  readonly bound: { readonly host: string; readonly port: number };
  /** What this node records as its registry address. */
  readonly advertised: { readonly host: string; readonly port: number };
  readonly #coordinator: Coordinator;
  readonly #server: RegistryServer;
  #unsubscribe: () => void = () => undefined;
  readonly #stop = new AbortController();

  private constructor(init: { coordinator: Coordinator; registry: SchemaRegistry; server: RegistryServer; advertisedHost: string }) {
    this.#coordinator = init.coordinator;
    this.registry = init.registry;
    this.#server = init.server;
    this.bound = { host: init.server.host, port: init.server.port };
    this.advertised = { host: init.advertisedHost, port: init.server.port };
  }

  /** Binds the listener and starts recording this node's address whenever it leads. */
  static async start(options: SchemaRegistryServiceOptions): Promise<SchemaRegistryService> {
    const logger = options.logger ?? silentLogger;
    const coordinator = options.coordinator;
    const registry = new SchemaRegistry({
      store: () => coordinator.state.schemas,
      submit: (signal, decide) => coordinator.submitWrite(signal, decide),
      formatFor: options.formatFor ?? builtInFormats,
    });
    const api = new RestApi({
      registry,
      serialized: options.serialized ?? { serialize: (stored) => protobufToSerialized(registry.parsed(stored.id), `schema-${stored.id}.proto`) },
      maxId: () => coordinator.state.schemas.maxId,
      ...(options.incompatibleErrorCode === undefined ? {} : { incompatibleErrorCode: options.incompatibleErrorCode }),
    });
    const server = await startRegistryServer({
      api,
      host: options.listen.host,
      port: options.listen.port,
      nodeId: coordinator.nodeId,
      logger,
      leaderAddress: (leaderId) => {
        const id = leaderId ?? options.leaderId();
        return id === 0 || id === coordinator.nodeId ? undefined : coordinator.state.schemas.endpoint(id);
      },
    });
    const service = new SchemaRegistryService({ coordinator, registry, server, advertisedHost: options.advertisedHost });
    service.#unsubscribe = options.onLeaderChange((leaderId) => {
      if (leaderId === coordinator.nodeId) service.#recordSelf(logger);
    });
    service.#recordSelf(logger);
    logger.info({ host: server.host, port: server.port }, 'schema registry listening');
    return service;
  }

  /** Once this node leads, records its registry address (a failure is logged; the next leadership tries again). */
  #recordSelf(logger: Logger): void {
    const signal = this.#stop.signal;
    const { host, port } = this.advertised;
    const coordinator = this.#coordinator;
    coordinator
      .whenLeading({ signal })
      .then(() => this.registry.recordEndpoint(coordinator.nodeId, host, port, { signal }))
      .catch((error: unknown) => {
        if (!signal.aborted) logger.warn({ err: error }, 'could not record this node\'s schema registry address; the next leader will');
      });
  }

  /** Stops the listener. Idempotent. */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#unsubscribe();
    await this.#server.close();
  }
}
