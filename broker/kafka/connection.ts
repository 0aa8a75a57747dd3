/**
 * One Kafka client connection: splits the byte stream into frames, reads each request's header,
 * decodes its body, hands it to the API service, and writes the responses.
 *
 * Ordering. Kafka clients match responses to requests by position as well as by correlation id
 * (kafka-python pops them in FIFO order), so responses leave in request order. Requests are still
 * served concurrently: each is dispatched as soon as it is decoded, in arrival order, so the
 * broker's append path sees produces in the order they came, and a long-polling fetch does not
 * delay the work of the produce behind it, only its answer. A finished response waits in its slot
 * until every earlier one has been written.
 *
 * Limits. At most `maxInFlight` requests are dispatched and not yet written; at the limit the
 * socket stops reading (TCP pushes back on the client). When socket.write() reports a full buffer,
 * nothing more is written or read until 'drain'. A frame is at most `maxFrameBytes`.
 *
 * Faults. Kafka has no error response a client can match to a request it could not parse, so a
 * frame that cannot be served (a size field out of range, an unknown API key, an unsupported
 * version of an API other than ApiVersions, a header or body that does not decode) is logged and
 * the connection closed once the responses before it are written. ApiVersions at an unsupported
 * version gets the v0-layout UNSUPPORTED_VERSION answer instead, as the protocol requires. A produce
 * with acks=0 gets no response; if it failed, the connection is closed (Kafka's signal to such a
 * producer). Nothing a client sends can throw out of this class.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import {
  KafkaFrameReader,
  decodeKafkaRequest,
  decodeRequestHeader,
  encodeKafkaResponseFrame,
  encodeUnsupportedApiVersionsFrame,
  isKafkaVersionSupported,
  kafkaApiOf,
  kafkaApis,
  peekRequestHeader,
  requestHeaderVersion,
  type KafkaApiName,
  type KafkaRequest,
} from '../../proto/kafka/index.js';
import type { KafkaApiService } from './service.js';
import type { KafkaContext, KafkaOutcome } from './types.js';

export interface ConnectionOptions {
  readonly service: KafkaApiService;
  readonly maxFrameBytes: number;
  readonly maxInFlight: number;
  readonly logger: Logger;
}

/** After deciding to close, how long to wait for the peer's FIN before destroying the socket. */
const CLOSE_LINGER_MS = 5000;

/** One request's place in the response order. */
interface Slot {
  done: boolean;
  /** The response frame, when there is one to write. */
  chunks: Buffer[] | undefined;
  /** Close the connection once this slot's turn comes. */
  closeReason: string | undefined;
}

export class KafkaConnection {
  readonly closed: Promise<void>;
  readonly #id: number;
  readonly #socket: Socket;
  readonly #options: ConnectionOptions;
  readonly #log: Logger;
  readonly #frames: KafkaFrameReader;
  readonly #remoteAddress: string;
  /** Requests dispatched and not yet written, in request order. */
  readonly #slots: Slot[] = [];
  readonly #requests = new Set<AbortController>();
  #abortReason: StreamBusError | undefined;
  /** No more requests are read: closing, a fault, or the peer has gone. */
  #stopping = false;
  #closing = false;
  #pumping = false;
  #awaitingDrain = false;
  #corked = false;

  constructor(id: number, socket: Socket, options: ConnectionOptions) {
    this.#id = id;
    this.#socket = socket;
    this.#options = options;
    this.#remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.#log = options.logger.child({ connectionId: id, remote: this.#remoteAddress });
    this.#frames = new KafkaFrameReader({ maxFrameBytes: options.maxFrameBytes });
    socket.setNoDelay(true);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', (err) => this.#log.debug({ err }, 'kafka connection error'));
    socket.on('end', () => this.#stop(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the client closed the connection')));
    socket.once('close', () => {
      this.#stop(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the connection closed'));
      this.#slots.length = 0;
      this.#log.debug('kafka connection closed');
    });
    this.#log.debug('kafka connection accepted');
  }

  /** Stops reading, asks in-flight requests to finish, and closes once their answers are written. */
  shutdown(): void {
    this.#stop(new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down'));
    this.#socket.resume();
    this.#pump();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #stop(reason: StreamBusError): void {
    this.#stopping = true;
    this.#abortReason ??= reason;
    for (const controller of this.#requests) controller.abort(reason);
  }

  #onData(chunk: Buffer): void {
    if (this.#stopping) return; // read and discarded, so the peer's FIN is still seen
    this.#frames.push(chunk);
    this.#pump();
  }

  /**
   * The connection's one driver: writes the answers that are ready (in request order), dispatches
   * whole frames while there is room, then pauses or resumes reading to match, or closes once a
   * stopping connection has nothing left to write. Everything that changes the state calls it; a
   * call made while it runs (a fault found mid-loop) is folded into the running one, so a stream of
   * requests answered at once never nests calls.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#writeReady() && !this.#stopping && this.#slots.length < this.#options.maxInFlight) {
        let frame: Buffer | undefined;
        try {
          frame = this.#frames.next();
        } catch (error) {
          this.#fault(error instanceof Error ? error.message : String(error), {});
          continue;
        }
        if (frame === undefined) break;
        this.#dispatch(frame);
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#closing || this.#socket.destroyed) return;
    if (this.#stopping) {
      if (this.#slots.length === 0) this.#close();
    } else if (this.#awaitingDrain || this.#slots.length >= this.#options.maxInFlight) {
      this.#socket.pause();
    } else {
      this.#socket.resume();
    }
  }

  #dispatch(frame: Buffer): void {
    let peeked: { apiKey: number; apiVersion: number; correlationId: number };
    try {
      peeked = peekRequestHeader(frame);
    } catch (error) {
      this.#fault((error as Error).message, {});
      return;
    }
    const { apiKey, apiVersion, correlationId } = peeked;
    const api = kafkaApiOf(apiKey);
    if (api === undefined) {
      this.#fault(`API key ${apiKey} is not served`, { apiKey, apiVersion, correlationId });
      return;
    }
    if (!isKafkaVersionSupported(api, apiVersion)) {
      const { name, minVersion, maxVersion } = kafkaApis[api];
      if (api === 'API_VERSIONS') {
        this.#log.debug({ apiVersion, correlationId }, 'ApiVersions at an unsupported version: answering UNSUPPORTED_VERSION');
        this.#slots.push({ done: true, chunks: encodeUnsupportedApiVersionsFrame(correlationId), closeReason: undefined });
        return;
      }
      this.#fault(`${name} v${apiVersion} is not served (versions ${minVersion}-${maxVersion})`, { apiKey, apiVersion, correlationId });
      return;
    }
    let clientId: string;
    let request: KafkaRequest<KafkaApiName>;
    try {
      const header = decodeRequestHeader(frame, requestHeaderVersion(api, apiVersion));
      clientId = header.clientId ?? '';
      request = decodeKafkaRequest(api, apiVersion, frame, header.bodyOffset);
    } catch (error) {
      this.#fault(`a malformed ${kafkaApis[api].name} v${apiVersion} request: ${(error as Error).message}`, { apiKey, apiVersion, correlationId });
      return;
    }
    const slot: Slot = { done: false, chunks: undefined, closeReason: undefined };
    this.#slots.push(slot);
    this.#serve(api, apiVersion, correlationId, clientId, request, slot).catch((error: unknown) => {
      // A bug: the handlers answer every failure they can name.
      this.#log.error({ err: error, api: kafkaApis[api].name, apiVersion, correlationId }, 'kafka request failed unexpectedly; closing the connection');
      slot.done = true;
      slot.chunks = undefined;
      slot.closeReason = 'the server failed to serve a request';
      this.#pump();
    });
  }

  async #serve<A extends KafkaApiName>(api: A, version: number, correlationId: number, clientId: string, request: KafkaRequest<A>, slot: Slot): Promise<void> {
    const controller = new AbortController();
    if (this.#abortReason !== undefined) controller.abort(this.#abortReason);
    this.#requests.add(controller);
    let outcome: KafkaOutcome<A>;
    try {
      const ctx: KafkaContext = {
        connectionId: this.#id,
        clientId,
        remoteAddress: this.#remoteAddress,
        signal: controller.signal,
        apiVersion: version,
        logger: this.#log,
      };
      outcome = await this.#options.service.serve(api, request, ctx);
    } finally {
      this.#requests.delete(controller);
    }
    slot.done = true;
    if (outcome.kind === 'response') slot.chunks = encodeKafkaResponseFrame(api, version, correlationId, outcome.body);
    else if (outcome.kind === 'close') {
      this.#log.warn({ api: kafkaApis[api].name, apiVersion: version, correlationId, reason: outcome.reason }, 'closing the kafka connection');
      slot.closeReason = outcome.reason;
    }
    this.#pump();
  }

  /**
   * Logs why the connection cannot go on and closes it after the responses of earlier requests.
   * Requests still in flight are asked to finish at once (a long poll answers now).
   */
  #fault(reason: string, request: { apiKey?: number; apiVersion?: number; correlationId?: number }): void {
    this.#log.warn({ ...request, reason }, 'kafka protocol fault; closing the connection');
    this.#stop(new StreamBusError(ErrorCode.MALFORMED_FRAME, reason));
    this.#slots.push({ done: true, chunks: undefined, closeReason: reason });
    this.#socket.resume();
    this.#pump();
  }

  /**
   * Writes finished responses in request order, up to the first unfinished one. Returns false when
   * nothing more may be written or read for now: the socket buffer is full, or the connection closes.
   */
  #writeReady(): boolean {
    for (;;) {
      if (this.#awaitingDrain || this.#closing) return false;
      const slot = this.#slots[0];
      if (slot === undefined || !slot.done) return true;
      this.#slots.shift();
      if (this.#socket.destroyed || !this.#socket.writable) continue;
      if (slot.chunks !== undefined) this.#write(slot.chunks);
      if (slot.closeReason !== undefined) {
        this.#close();
        return false;
      }
    }
  }

  #onDrain(): void {
    this.#awaitingDrain = false;
    this.#pump();
  }

  /** Ends the socket (after what was written) and destroys it if the peer does not close. */
  #close(): void {
    this.#stopping = true;
    this.#slots.length = 0;
    if (this.#closing || this.#socket.destroyed) return;
    this.#closing = true;
    this.#socket.end();
    const linger = setTimeout(() => this.#socket.destroy(), CLOSE_LINGER_MS);
    linger.unref();
    this.#socket.once('close', () => clearTimeout(linger));
  }

  /**
   * Writes one frame, given as chunks. Writes in the same tick are corked together so they leave
   * in one writev, without being copied into one buffer.
   */
  #write(chunks: readonly Buffer[]): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    let flowing = true;
    for (const chunk of chunks) flowing = this.#socket.write(chunk) && flowing;
    if (!flowing) this.#awaitingDrain = true;
  }
}
