/**
 * A bare Kafka-protocol connection for tests that need what real clients never send (garbage,
 * oversized frames, unknown APIs, pipelined requests) and need to see exactly what comes back,
 * in which order and when.
 */
import { connect, type Socket } from 'node:net';
import { KafkaFrameReader, decodeKafkaResponse, encodeKafkaRequestFrame, type KafkaApiName, type KafkaRequestInput, type KafkaResponseOutput } from '../../../proto/kafka/index.js';

export class RawKafkaClient {
  readonly #socket: Socket;
  readonly #frames = new KafkaFrameReader({ minFrameBytes: 4 });
  readonly #received: { frame: Buffer; atMs: number }[] = [];
  readonly #waiters = new Set<() => void>();
  readonly closed: Promise<void>;
  #isClosed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        resolve();
        this.#wake();
      }),
    );
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.#frames.push(chunk);
      for (let frame = this.#frames.next(); frame !== undefined; frame = this.#frames.next()) this.#received.push({ frame: Buffer.from(frame), atMs: Date.now() });
      this.#wake();
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawKafkaClient> {
    const socket = connect({ host, port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawKafkaClient(socket);
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Every response frame received so far (without size fields). */
  get frames(): readonly Buffer[] {
    return this.#received.map((r) => r.frame);
  }

  write(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  send<A extends KafkaApiName>(api: A, version: number, correlationId: number, body: KafkaRequestInput<A>): void {
    this.write(encodeKafkaRequestFrame(api, version, correlationId, 'raw-test', body));
  }

  /** Waits (with a deadline) until `count` responses have arrived; returns them with their arrival times. */
  async responses(count: number, timeoutMs = 10_000): Promise<{ frame: Buffer; atMs: number }[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.#received.length < count) {
      if (this.#isClosed) throw new Error(`the connection closed after ${this.#received.length} of ${count} responses`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.#received.length} of ${count} responses within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#received.slice(0, count);
  }

  /** Sends a request and decodes the next response, which must answer it. */
  async request<A extends KafkaApiName>(api: A, version: number, body: KafkaRequestInput<A>): Promise<KafkaResponseOutput<A>> {
    const correlationId = 1000 + this.#received.length;
    const before = this.#received.length;
    this.send(api, version, correlationId, body);
    const all = await this.responses(before + 1);
    const decoded = decodeKafkaResponse(api, version, (all[before] as { frame: Buffer }).frame);
    if (decoded.correlationId !== correlationId) throw new Error(`answer to ${decoded.correlationId}, expected ${correlationId}`);
    return decoded.body;
  }

  /** Resolves once the server has closed the connection; rejects at the deadline. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the connection was still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#socket.destroy();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}
