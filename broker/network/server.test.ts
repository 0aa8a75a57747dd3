import { connect as netConnect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/network/connection.js';
import type { Connection, ConnectionOptions } from '../../client/network/types.js';
import { Api, type ApiName, type RequestOf } from '../../proto/api.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { FrameDecoder, FrameStatus, encodeFrame, type Frame } from '../../proto/framing.js';
import { decodeErrorResponse, decodeResponse, encodeRequest, type EncodableResponseOf } from '../../proto/native-codec.js';
import type { MetadataResponse } from '../../proto/messages.js';
import { NativeServer, type Handler, type NativeServerOptions, type RequestContext } from './server.js';

// ---- helpers

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function rejection(promise: Promise<unknown>): Promise<StreamBusError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(StreamBusError);
    return err as StreamBusError;
  }
  throw new Error('expected the promise to reject');
}

/** The byte at `index` of the records the toy FETCH returns. */
const toyRecordByte = (index: number): number => (index * 7) & 0xff;

/** Splits `bytes` into pieces of sizes cycling through small, empty and large (views, not copies). */
function piecesOf(bytes: Buffer): Buffer[] {
  const sizes = [3, 20_000, 0, 1, 70_000, 16 * 1024];
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = Math.min(sizes[i % sizes.length]!, bytes.length - at);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

const metadataOf = (clusterId: string): MetadataResponse => ({ clusterId, controllerId: 1, brokers: [], topics: [], metadataOffset: 0 });

/**
 * A toy handler. METADATA echoes its first topic as clusterId; a topic 'gate:<name>' waits until
 * release(name). PRODUCE reports the record bytes' length and checksum; FETCH returns maxBytes
 * bytes (of toyRecordByte), as a list of pieces of mixed sizes when its first topic is 'pieces';
 * DELETE_TOPICS throws what its first name asks for.
 */
class ToyHandler implements Handler {
  active = 0;
  maxActive = 0;
  readonly started: string[] = [];
  readonly #gates = new Map<string, ReturnType<typeof deferred>>();
  honourAbort = false;
  /** The signal of every METADATA request, in the order they started. */
  readonly signals: AbortSignal[] = [];

  gate(name: string): ReturnType<typeof deferred> {
    let gate = this.#gates.get(name);
    if (gate === undefined) {
      gate = deferred();
      this.#gates.set(name, gate);
    }
    return gate;
  }

  release(name: string): void {
    this.gate(name).resolve();
  }

  /** Opens every gate and forgets them, so the next test starts with all gates closed. */
  releaseAll(): void {
    for (const gate of this.#gates.values()) gate.resolve();
    this.#gates.clear();
  }

  async handle<A extends ApiName>(api: A, _version: number, body: RequestOf<A>, ctx: RequestContext): Promise<EncodableResponseOf<A>> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      return (await this.#serve(api, body, ctx)) as EncodableResponseOf<A>;
    } finally {
      this.active--;
    }
  }

  async #serve(api: ApiName, body: unknown, ctx: RequestContext): Promise<unknown> {
    switch (api) {
      case 'API_VERSIONS':
        return { errorCode: 0, apis: [], serverVersion: 'toy', clusterId: ctx.clientId, nodeId: 1, maxFrameBytes: 0, maxInFlight: 0 };
      case 'METADATA': {
        const topic = (body as RequestOf<'METADATA'>).topics[0] ?? '';
        this.started.push(topic);
        this.signals.push(ctx.signal);
        // Leaves a listener on its request's signal, as a careless handler might.
        if (topic === 'leak') ctx.signal.addEventListener('abort', () => undefined);
        if (topic.startsWith('gate:')) {
          const gate = this.gate(topic.slice(5));
          if (this.honourAbort) {
            await Promise.race([
              gate.promise,
              new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })),
            ]);
          } else {
            await gate.promise;
          }
        }
        return metadataOf(topic);
      }
      case 'PRODUCE': {
        const records = (body as RequestOf<'PRODUCE'>).topics[0]!.partitions[0]!.records;
        let sum = 0;
        for (const byte of records) sum = (sum + byte) % 1_000_000_007;
        return { throttleMs: 0, topics: [{ name: 'sum', partitions: [{ partition: 0, errorCode: 0, errorMessage: '', baseOffset: records.length, logAppendTimeMs: sum, logStartOffset: 0 }] }] };
      }
      case 'FETCH': {
        const request = body as RequestOf<'FETCH'>;
        const size = request.maxBytes;
        const bytes = Buffer.allocUnsafe(size);
        for (let i = 0; i < size; i++) bytes[i] = toyRecordByte(i);
        const records = request.topics[0]?.name === 'pieces' ? piecesOf(bytes) : bytes;
        return { throttleMs: 0, topics: [{ name: 't', partitions: [{ partition: 0, errorCode: 0, errorMessage: '', highWatermark: 1, lastStableOffset: 1, logStartOffset: 0, records }] }] };
      }
      case 'DELETE_TOPICS': {
        const name = (body as RequestOf<'DELETE_TOPICS'>).names[0];
        if (name === 'typed') throw new StreamBusError(ErrorCode.INVALID_TOPIC, 'that topic name is not allowed');
        if (name === 'bad-response') return { topics: 'not an array' };
        throw new TypeError('boom: the handler has a bug');
      }
      default:
        throw new StreamBusError(ErrorCode.INVALID_REQUEST, `${api} is not served by the toy`);
    }
  }
}

const metadata = (topic: string): RequestOf<'METADATA'> => ({ topics: [topic], allTopics: false, allowAutoTopicCreation: false });

interface Fixture {
  server: NativeServer;
  handler: ToyHandler;
  logs: string[];
  done: { api: ApiName | undefined; errorCode: number }[];
  clients: Connection[];
  connect(options?: Partial<ConnectionOptions>): Promise<Connection>;
}

async function startFixture(options: Partial<NativeServerOptions> = {}): Promise<Fixture> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString());
      callback();
    },
  });
  const handler = new ToyHandler();
  const done: Fixture['done'] = [];
  const server = new NativeServer({
    handler,
    logger: pino({ level: 'warn' }, sink),
    onRequestDone: (api, _durationMs, errorCode) => done.push({ api, errorCode }),
    ...options,
  });
  await server.listen();
  const clients: Connection[] = [];
  return {
    server,
    handler,
    logs,
    done,
    clients,
    async connect(extra = {}) {
      const client = await connect({ host: '127.0.0.1', port: server.port, ...extra });
      clients.push(client);
      return client;
    },
  };
}

async function stopFixture(f: Fixture): Promise<void> {
  await Promise.all(f.clients.map((c) => c.close()));
  await f.server.close();
}

/** A raw socket speaking frames, for input the real client never produces. */
class RawPeer {
  readonly frames: Frame[] = [];
  readonly #decoder = new FrameDecoder();
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let f = this.#decoder.next(); f !== undefined; f = this.#decoder.next()) this.frames.push(f);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }

  static open(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port }, () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  send(correlationId: number, api: number, version: number, body: Uint8Array): void {
    this.socket.write(encodeFrame({ correlationId, api, versionOrStatus: version }, body));
  }

  async frame(correlationId: number): Promise<Frame> {
    await waitFor(`the response to ${correlationId}`, () => this.frames.some((f) => f.correlationId === correlationId));
    return this.frames.find((f) => f.correlationId === correlationId)!;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function errorCodeOf(frame: Frame): number {
  expect(frame.versionOrStatus).toBe(FrameStatus.ERROR);
  return decodeErrorResponse(frame.body).errorCode;
}

// ---- tests

describe('broker > network > native server', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ maxInFlightPerConnection: 4 });
  });
  afterAll(async () => {
    await stopFixture(f);
  });
  afterEach(() => {
    // Open every gate a test may have left closed, so no handler stays parked across tests.
    f.handler.releaseAll();
  });

  it('answers pipelined requests out of order: a slow one does not hold up a fast one', async () => {
    const client = await f.connect();
    const finished: string[] = [];
    const slow = client.request('METADATA', metadata('gate:a')).then((r) => finished.push(r.clusterId));
    const fast = client.request('METADATA', metadata('fast')).then((r) => finished.push(r.clusterId));
    await fast;
    expect(finished).toEqual(['fast']);
    f.handler.release('a');
    await slow;
    expect(finished).toEqual(['fast', 'gate:a']);
  });

  it('gives each request a signal no earlier request left a listener on', async () => {
    const client = await f.connect();
    const seen = f.handler.signals.length;
    for (const topic of ['clean-1', 'clean-2', 'leak', 'after-leak']) await client.request('METADATA', metadata(topic));
    const [clean1, clean2, leak, afterLeak] = f.handler.signals.slice(seen);
    // A signal whose request removed its listeners is handed on (it costs microseconds to make one) ...
    expect(clean2).toBe(clean1);
    // ... but one that still carries a listener is retired with its request.
    expect(afterLeak).not.toBe(leak);
    for (const signal of [clean1, afterLeak]) expect(signal?.aborted).toBe(false);
  });

  it('never runs more than maxInFlightPerConnection handlers for one connection, and pauses instead of failing', async () => {
    const client = await f.connect({ maxInFlight: 32 });
    f.handler.maxActive = 0;
    const before = f.handler.started.length;
    const requests = Array.from({ length: 20 }, () => client.request('METADATA', metadata('gate:limit')));
    await waitFor('four handlers to start', () => f.handler.started.length - before === 4);
    f.handler.release('limit');
    const responses = await Promise.all(requests);
    expect(responses).toHaveLength(20);
    expect(f.handler.maxActive).toBe(4);
  });

  it('keeps the client at its own maxInFlight and serves the waiting requests in order', async () => {
    const client = await f.connect({ maxInFlight: 2 });
    f.handler.maxActive = 0;
    const before = f.handler.started.length;
    const names = ['gate:b', 'gate:c', 'fast-1', 'fast-2', 'fast-3'];
    const requests = names.map((name) => client.request('METADATA', metadata(name)));
    await waitFor('two handlers to start', () => f.handler.started.length - before === 2);
    expect(f.handler.maxActive).toBe(2);
    f.handler.release('b');
    f.handler.release('c');
    expect((await Promise.all(requests)).map((r) => r.clusterId)).toEqual(names);
    expect(f.handler.started.slice(before)).toEqual(names);
    expect(f.handler.maxActive).toBe(2);
  });

  it('answers a body that does not decode with MALFORMED_FRAME and keeps serving the connection', async () => {
    const peer = await RawPeer.open(f.server.port);
    peer.send(1, Api.METADATA, 0, Buffer.from([0x0a, 0x05, 0x61])); // a string whose length runs past the end
    peer.send(2, Api.METADATA, 0, encodeRequest('METADATA', metadata('after')));
    expect(errorCodeOf(await peer.frame(1))).toBe(ErrorCode.MALFORMED_FRAME);
    const ok = await peer.frame(2);
    expect(ok.versionOrStatus).toBe(FrameStatus.OK);
    expect(decodeResponse('METADATA', ok.body).clusterId).toBe('after');
    peer.destroy();
  });

  it('answers an unknown API with UNKNOWN_API, echoing its key, and keeps the connection', async () => {
    const peer = await RawPeer.open(f.server.port);
    peer.send(7, 999, 0, Buffer.alloc(0));
    peer.send(8, Api.METADATA, 0, encodeRequest('METADATA', metadata('x')));
    const error = await peer.frame(7);
    expect(error.api).toBe(999);
    expect(errorCodeOf(error)).toBe(ErrorCode.UNKNOWN_API);
    expect((await peer.frame(8)).versionOrStatus).toBe(FrameStatus.OK);
    expect(f.done).toContainEqual({ api: undefined, errorCode: ErrorCode.UNKNOWN_API });
    peer.destroy();
  });

  it('answers an unsupported version with UNSUPPORTED_VERSION and keeps the connection', async () => {
    const peer = await RawPeer.open(f.server.port);
    peer.send(3, Api.METADATA, 5, encodeRequest('METADATA', metadata('x')));
    peer.send(4, Api.METADATA, 0, encodeRequest('METADATA', metadata('x')));
    const error = await peer.frame(3);
    expect(errorCodeOf(error)).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(decodeErrorResponse(error.body).errorMessage).toContain('version 5');
    expect((await peer.frame(4)).versionOrStatus).toBe(FrameStatus.OK);
    peer.destroy();
  });

  it('passes a handler StreamBusError to the client with its code and message', async () => {
    const client = await f.connect();
    const error = await rejection(client.request('DELETE_TOPICS', { names: ['typed'], timeoutMs: 0 }));
    expect(error.code).toBe(ErrorCode.INVALID_TOPIC);
    expect(error.message).toBe('that topic name is not allowed');
    expect(f.done).toContainEqual({ api: 'DELETE_TOPICS', errorCode: ErrorCode.INVALID_TOPIC });
  });

  it('reports any other handler failure as UNKNOWN_SERVER_ERROR and logs its stack', async () => {
    const client = await f.connect();
    const error = await rejection(client.request('DELETE_TOPICS', { names: ['crash'], timeoutMs: 0 }));
    expect(error.code).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
    expect(error.message).not.toContain('boom'); // internals stay in the log
    const bad = await rejection(client.request('DELETE_TOPICS', { names: ['bad-response'], timeoutMs: 0 }));
    expect(bad.code).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
    await waitFor('the error log lines', () => f.logs.filter((line) => line.includes('"level":50')).length >= 2);
    const line = f.logs.find((l) => l.includes('boom: the handler has a bug'))!;
    expect(line).toContain('server.test.ts'); // the stack, pointing at the throwing frame
    expect(client.connected).toBe(true);
  });

  it('records the client id from ApiVersions in the request context', async () => {
    const client = await f.connect();
    const response = await client.request('API_VERSIONS', { clientId: 'orders-service', clientSoftware: 'test' });
    expect(response.clusterId).toBe('orders-service');
  });

  it('carries 4 MiB bodies in both directions', async () => {
    const client = await f.connect();
    const records = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let i = 0; i < records.length; i++) records[i] = (i * 13 + 5) & 0xff;
    let sum = 0;
    for (const byte of records) sum = (sum + byte) % 1_000_000_007;
    const produced = client.request('PRODUCE', { acks: 1, timeoutMs: 1000, topics: [{ name: 't', partitions: [{ partition: 0, records }] }] });
    const fetches = Array.from({ length: 3 }, () =>
      client.request('FETCH', { maxWaitMs: 0, minBytes: 0, maxBytes: 4 * 1024 * 1024, isolationLevel: 0, topics: [] }),
    );
    const result = (await produced).topics[0]!.partitions[0]!;
    expect(result.baseOffset).toBe(records.length);
    expect(result.logAppendTimeMs).toBe(sum);
    for (const fetched of await Promise.all(fetches)) {
      const bytes = fetched.topics[0]!.partitions[0]!.records;
      expect(bytes.length).toBe(4 * 1024 * 1024);
      expect(bytes[4 * 1024 * 1024 - 1]).toBe(((4 * 1024 * 1024 - 1) * 7) & 0xff);
    }
  });

  it('stops dispatching while a client does not read its responses, and catches up when it does', async () => {
    const peer = await RawPeer.open(f.server.port);
    peer.socket.pause();
    const fetch = encodeRequest('FETCH', { maxWaitMs: 0, minBytes: 0, maxBytes: 1024 * 1024, isolationLevel: 0, topics: [] });
    let calls = 0;
    const counting = f.done.length;
    for (let id = 1; id <= 60; id++) peer.send(id, Api.FETCH, 0, fetch);
    // Wait until the server has stopped handing out requests: the count holds still for 20 polls.
    let stable = 0;
    await waitFor('the server to stop dispatching', () => {
      const now = f.done.length - counting;
      stable = now === calls && now > 0 ? stable + 1 : 0;
      calls = now;
      return stable >= 20;
    });
    // The in-flight limit (4) plus what the kernel's loopback buffers absorbed (a few MiB): the
    // other requests wait unread instead of piling up as responses in memory.
    expect(calls).toBeLessThanOrEqual(24);
    peer.socket.resume();
    await waitFor('all 60 responses', () => peer.frames.length === 60, 20_000);
    expect(peer.frames.every((frame) => frame.versionOrStatus === FrameStatus.OK && frame.body.length > 1024 * 1024)).toBe(true);
    peer.destroy();
  });

  it('sends records a handler returns as a list of Buffers as one bytes field holding them in order', async () => {
    const client = await f.connect();
    const size = 1024 * 1024 + 17;
    const fetched = await client.request('FETCH', { maxWaitMs: 0, minBytes: 0, maxBytes: size, isolationLevel: 0, topics: [{ name: 'pieces', partitions: [] }] });
    const bytes = fetched.topics[0]!.partitions[0]!.records;
    expect(bytes.length).toBe(size);
    let wrong = 0;
    for (let i = 0; i < size; i++) if (bytes[i] !== toyRecordByte(i)) wrong++;
    expect(wrong).toBe(0);
    expect(client.connected).toBe(true);
  });

  it('writes chunked responses whole and in order while the client reads slowly', async () => {
    const peer = await RawPeer.open(f.server.port);
    peer.socket.pause();
    const size = 512 * 1024 + 3;
    const fetch = encodeRequest('FETCH', { maxWaitMs: 0, minBytes: 0, maxBytes: size, isolationLevel: 0, topics: [{ name: 'pieces', partitions: [] }] });
    const metadataBody = encodeRequest('METADATA', metadata('between'));
    // Fetches interleaved with small responses, so frames of both kinds queue behind 'drain'.
    for (let id = 1; id <= 40; id++) peer.send(id, id % 4 === 0 ? Api.METADATA : Api.FETCH, 0, id % 4 === 0 ? metadataBody : fetch);
    // Wait until the server has stopped writing (the count holds still for 20 polls) with
    // responses still unwritten: it is waiting for 'drain' in the middle of the stream.
    const counting = f.done.length;
    let calls = 0;
    let stable = 0;
    await waitFor('the server to stop writing', () => {
      const now = f.done.length - counting;
      stable = now === calls && now > 0 ? stable + 1 : 0;
      calls = now;
      return stable >= 20;
    });
    expect(calls).toBeLessThan(40);
    peer.socket.resume();
    await waitFor('all 40 responses', () => peer.frames.length === 40, 20_000);
    const expected = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) expected[i] = toyRecordByte(i);
    for (const frame of peer.frames) {
      expect(frame.versionOrStatus).toBe(FrameStatus.OK);
      if (frame.correlationId % 4 === 0) expect(decodeResponse('METADATA', frame.body).clusterId).toBe('between');
      else expect(decodeResponse('FETCH', frame.body).topics[0]!.partitions[0]!.records.equals(expected)).toBe(true);
    }
    expect(new Set(peer.frames.map((frame) => frame.correlationId)).size).toBe(40);
    peer.destroy();
  });

  it('survives connections that send random bytes, and keeps serving others (seeded)', async () => {
    let seed = 99;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const peers = await Promise.all(Array.from({ length: 20 }, () => RawPeer.open(f.server.port)));
    for (const peer of peers) {
      const garbage = Buffer.alloc(1 + Math.floor(random() * 300));
      for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
      if (random() < 0.5) garbage.writeUInt32BE(8 + Math.floor(random() * 64), 0); // plausible length
      peer.socket.write(garbage);
    }
    const client = await f.connect();
    expect((await client.request('METADATA', metadata('still-here'))).clusterId).toBe('still-here');
    for (const peer of peers) peer.destroy();
  });
});

describe('broker > network > native server > framing faults', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ maxFrameBytes: 1024 * 1024 });
  });
  afterAll(async () => {
    await stopFixture(f);
  });

  it('answers an oversized frame with FRAME_TOO_LARGE and closes only that connection', async () => {
    const offender = await f.connect();
    const bystander = await f.connect();
    const big = Buffer.alloc(2 * 1024 * 1024, 1);
    const error = await rejection(offender.request('PRODUCE', { acks: 1, timeoutMs: 0, topics: [{ name: 't', partitions: [{ partition: 0, records: big }] }] }));
    expect(error.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    await waitFor('the offending connection to close', () => !offender.connected);
    expect((await bystander.request('METADATA', metadata('unaffected'))).clusterId).toBe('unaffected');
    expect(bystander.connected).toBe(true);
  });

  it('answers a length below the header size with MALFORMED_FRAME and closes the connection', async () => {
    const peer = await RawPeer.open(f.server.port);
    peer.socket.write(Buffer.from([0, 0, 0, 3, 0, 0, 0, 9]));
    await waitFor('the connection to close', () => peer.closed);
    expect(peer.frames).toHaveLength(1);
    expect(errorCodeOf(peer.frames[0]!)).toBe(ErrorCode.MALFORMED_FRAME);
  });
});

describe('broker > network > native server > close', () => {
  it('fails pending client requests with NETWORK_EXCEPTION when handlers ignore the shutdown', async () => {
    const f = await startFixture({ closeTimeoutMs: 100 });
    const client = await f.connect();
    const failed = rejection(client.request('METADATA', metadata('gate:never')));
    await waitFor('the handler to start', () => f.handler.active === 1);
    await f.server.close();
    expect((await failed).code).toBe(ErrorCode.NETWORK_EXCEPTION);
    expect(client.connected).toBe(false);
    expect(f.server.connectionCount).toBe(0);
    f.handler.releaseAll();
    await stopFixture(f);
  });

  it('answers SHUTTING_DOWN for requests whose handlers honour the abort, then closes', async () => {
    const f = await startFixture({ closeTimeoutMs: 5000 });
    f.handler.honourAbort = true;
    const client = await f.connect();
    const failed = rejection(client.request('METADATA', metadata('gate:never')));
    await waitFor('the handler to start', () => f.handler.active === 1);
    await f.server.close();
    expect((await failed).code).toBe(ErrorCode.SHUTTING_DOWN);
    await waitFor('the client to see the close', () => !client.connected);
    await stopFixture(f);
  });

  it('aborts the request signal when the client goes away', async () => {
    const f = await startFixture();
    f.handler.honourAbort = true;
    const client = await f.connect();
    const failed = rejection(client.request('METADATA', metadata('gate:forever')));
    await waitFor('the handler to start', () => f.handler.active === 1);
    await client.close();
    expect((await failed).code).toBe(ErrorCode.NETWORK_EXCEPTION);
    await waitFor('the handler to see the abort and return', () => f.handler.active === 0);
    await waitFor('the server to drop the connection', () => f.server.connectionCount === 0);
    await stopFixture(f);
  });

  it('refuses new connections after close', async () => {
    const f = await startFixture();
    const port = f.server.port;
    await f.server.close();
    const error = await rejection(connect({ host: '127.0.0.1', port, connectTimeoutMs: 2000 }));
    expect(error.code).toBe(ErrorCode.NETWORK_EXCEPTION);
  });
});
