import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Api } from '../../proto/api.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { FrameDecoder, encodeFrame, type Frame } from '../../proto/framing.js';
import { decodeRequest, encodeErrorFrame, encodeResponseFrame } from '../../proto/native-codec.js';
import type { MetadataResponse } from '../../proto/messages.js';
import { connect } from './connection.js';
import type { Connection, ConnectionOptions } from './types.js';

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

async function codeOf(promise: Promise<unknown>): Promise<number> {
  const err = await failure(promise);
  expect(err).toBeInstanceOf(StreamBusError);
  return (err as StreamBusError).code;
}

const metadataOf = (clusterId: string): MetadataResponse => ({ clusterId, controllerId: 0, brokers: [], topics: [], metadataOffset: 0 });
const metadata = (topic: string) => ({ topics: [topic], allTopics: false, allowAutoTopicCreation: false });

/** Answers a METADATA request with its first topic as clusterId. */
function echo(frame: Frame, socket: Socket): void {
  const topic = decodeRequest('METADATA', frame.body).topics[0] ?? '';
  socket.write(encodeResponseFrame(frame.correlationId, 'METADATA', metadataOf(topic)));
}

/** A scripted peer: records every frame and lets the test decide what, and when, to answer. */
class FakeServer {
  readonly frames: { frame: Frame; socket: Socket }[] = [];
  readonly sockets: Socket[] = [];
  onFrame: (frame: Frame, socket: Socket) => void = () => undefined;
  readonly #server: Server;

  constructor() {
    this.#server = createServer((socket) => {
      this.sockets.push(socket);
      const decoder = new FrameDecoder();
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
          this.frames.push({ frame, socket });
          this.onFrame(frame, socket);
        }
      });
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve((this.#server.address() as { port: number }).port)));
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

let servers: FakeServer[] = [];
let clients: Connection[] = [];

async function setup(options: Partial<ConnectionOptions> = {}): Promise<{ server: FakeServer; client: Connection }> {
  const server = new FakeServer();
  servers.push(server);
  const port = await server.listen();
  const client = await connect({ host: '127.0.0.1', port, ...options });
  clients.push(client);
  return { server, client };
}

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.close()));
  clients = [];
  servers = [];
});

describe('client > network > connect', () => {
  it('fails with NETWORK_EXCEPTION when nothing listens on the port', async () => {
    const server = new FakeServer();
    const port = await server.listen();
    await server.close();
    expect(await codeOf(connect({ host: '127.0.0.1', port }))).toBe(ErrorCode.NETWORK_EXCEPTION);
  });

  it('rejects with the abort reason when its signal aborts first', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await failure(connect({ host: '127.0.0.1', port: 9, signal: controller.signal }));
    expect(err.name).toBe('AbortError');
  });

  it('closes the connection when its signal aborts after connecting', async () => {
    const server = new FakeServer();
    servers.push(server);
    const controller = new AbortController();
    const client = await connect({ host: '127.0.0.1', port: await server.listen(), signal: controller.signal });
    controller.abort();
    await waitFor('the connection to close', () => !client.connected);
  });
});

describe('client > network > connection', () => {
  it('matches responses that arrive in reverse order to their requests by correlation id', async () => {
    const { server, client } = await setup();
    const requests = ['one', 'two', 'three'].map((name) => client.request('METADATA', metadata(name)));
    await waitFor('three frames', () => server.frames.length === 3);
    for (const { frame, socket } of [...server.frames].reverse()) echo(frame, socket);
    expect((await Promise.all(requests)).map((r) => r.clusterId)).toEqual(['one', 'two', 'three']);
    expect(new Set(server.frames.map((f) => f.frame.correlationId)).size).toBe(3);
  });

  it('holds requests beyond maxInFlight back, and sends them in order as slots free', async () => {
    const { server, client } = await setup({ maxInFlight: 2 });
    const names = ['a', 'b', 'c', 'd', 'e'];
    const requests = names.map((name) => client.request('METADATA', metadata(name)));
    await waitFor('two frames', () => server.frames.length === 2);
    server.onFrame = echo;
    for (const { frame, socket } of server.frames.slice(0, 2)) echo(frame, socket);
    expect((await Promise.all(requests)).map((r) => r.clusterId)).toEqual(names);
    expect(server.frames.map(({ frame }) => decodeRequest('METADATA', frame.body).topics[0])).toEqual(names);
  });

  it('times out with REQUEST_TIMED_OUT, frees the slot, and drops the late answer', async () => {
    const { server, client } = await setup({ maxInFlight: 1 });
    expect(await codeOf(client.request('METADATA', metadata('slow'), { timeoutMs: 30 }))).toBe(ErrorCode.REQUEST_TIMED_OUT);
    const next = client.request('METADATA', metadata('next'));
    await waitFor('the second frame', () => server.frames.length === 2);
    // Answer the timed-out request late, then the live one: only the live one may resolve.
    for (const { frame, socket } of server.frames) echo(frame, socket);
    expect((await next).clusterId).toBe('next');
    expect(client.connected).toBe(true);
  });

  it('rejects an aborted request with the abort reason and keeps the connection usable', async () => {
    const { server, client } = await setup();
    const controller = new AbortController();
    const pending = failure(client.request('METADATA', metadata('x'), { signal: controller.signal }));
    await waitFor('the frame', () => server.frames.length === 1);
    controller.abort();
    expect((await pending).name).toBe('AbortError');
    server.onFrame = echo;
    expect((await client.request('METADATA', metadata('after'))).clusterId).toBe('after');
  });

  it('never sends a request aborted while it waited for a slot', async () => {
    const { server, client } = await setup({ maxInFlight: 1 });
    const first = client.request('METADATA', metadata('first'));
    const controller = new AbortController();
    const waiting = failure(client.request('METADATA', metadata('aborted'), { signal: controller.signal }));
    const last = client.request('METADATA', metadata('last'));
    controller.abort();
    expect((await waiting).name).toBe('AbortError');
    await waitFor('the first frame', () => server.frames.length === 1);
    server.onFrame = echo;
    echo(server.frames[0]!.frame, server.frames[0]!.socket);
    expect((await first).clusterId).toBe('first');
    expect((await last).clusterId).toBe('last');
    expect(server.frames.map(({ frame }) => decodeRequest('METADATA', frame.body).topics[0])).toEqual(['first', 'last']);
  });

  it('turns an ErrorResponse into a StreamBusError with its code and message', async () => {
    const { server, client } = await setup();
    server.onFrame = (frame, socket) =>
      socket.write(encodeErrorFrame(frame.correlationId, frame.api, { errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'ask node 2' }));
    const err = await failure(client.request('CREATE_TOPICS', { topics: [], timeoutMs: 0, validateOnly: false }));
    expect(err).toMatchObject({ code: ErrorCode.NOT_CONTROLLER, message: 'ask node 2', retriable: true });
  });

  it('fails a response whose api does not match its request with MALFORMED_FRAME', async () => {
    const { server, client } = await setup();
    server.onFrame = (frame, socket) => socket.write(encodeResponseFrame(frame.correlationId, 'FETCH', { topics: [], throttleMs: 0 }));
    expect(await codeOf(client.request('METADATA', metadata('x')))).toBe(ErrorCode.MALFORMED_FRAME);
  });

  it('fails pending requests with NETWORK_EXCEPTION when the server drops the connection', async () => {
    const { server, client } = await setup();
    const pending = codeOf(client.request('METADATA', metadata('x')));
    await waitFor('the frame', () => server.frames.length === 1);
    server.sockets[0]!.destroy();
    expect(await pending).toBe(ErrorCode.NETWORK_EXCEPTION);
    expect(client.connected).toBe(false);
    expect(await codeOf(client.request('METADATA', metadata('y')))).toBe(ErrorCode.NETWORK_EXCEPTION);
  });

  it('fails pending requests with NETWORK_EXCEPTION when the server sends a frame above maxFrameBytes', async () => {
    const { server, client } = await setup({ maxFrameBytes: 1024 });
    server.onFrame = (frame, socket) => socket.write(encodeFrame({ correlationId: frame.correlationId, api: Api.METADATA, versionOrStatus: 0 }, Buffer.alloc(4096)));
    const err = await failure(client.request('METADATA', metadata('x')));
    expect(err).toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
    expect(err.message).toContain('exceeds the limit');
    expect(client.connected).toBe(false);
  });

  it('fails everything outstanding with NETWORK_EXCEPTION on close()', async () => {
    const { client } = await setup({ maxInFlight: 1 });
    const sent = codeOf(client.request('METADATA', metadata('sent')));
    const queued = codeOf(client.request('METADATA', metadata('queued')));
    await client.close();
    expect(await sent).toBe(ErrorCode.NETWORK_EXCEPTION);
    expect(await queued).toBe(ErrorCode.NETWORK_EXCEPTION);
    expect(client.connected).toBe(false);
  });

  it('resolves send() once written and ignores the answer the server sends anyway', async () => {
    const { server, client } = await setup();
    server.onFrame = echo;
    await client.send('METADATA', metadata('fire-and-forget'));
    expect((await client.request('METADATA', metadata('then'))).clusterId).toBe('then');
    expect(server.frames).toHaveLength(2);
  });

  it('rejects a body that does not fit the schema without sending anything', async () => {
    const { server, client } = await setup();
    expect(await codeOf(client.request('METADATA', { topics: [42 as unknown as string], allTopics: false, allowAutoTopicCreation: false }))).toBe(ErrorCode.INVALID_REQUEST);
    server.onFrame = echo;
    expect((await client.request('METADATA', metadata('ok'))).clusterId).toBe('ok');
    expect(server.frames).toHaveLength(1);
  });

  it('queues writes behind a full socket buffer and delivers every large frame intact, in order', async () => {
    const { server, client } = await setup({ maxInFlight: 8 });
    server.onFrame = (frame, socket) =>
      socket.write(encodeResponseFrame(frame.correlationId, 'PRODUCE', { throttleMs: 0, topics: [{ name: 'len', partitions: [{ partition: 0, errorCode: 0, errorMessage: '', baseOffset: decodeRequest('PRODUCE', frame.body).topics[0]!.partitions[0]!.records.length, logAppendTimeMs: -1, logStartOffset: 0 }] }] }));
    // Each 4 MiB write overshoots the socket's high-water mark, so all but the first wait for 'drain'.
    const size = 4 * 1024 * 1024;
    const requests = Array.from({ length: 8 }, (_, i) =>
      client.request('PRODUCE', { acks: 1, timeoutMs: 0, topics: [{ name: 't', partitions: [{ partition: i, records: Buffer.alloc(size, i) }] }] }),
    );
    const responses = await Promise.all(requests);
    expect(responses.map((r) => r.topics[0]!.partitions[0]!.baseOffset)).toEqual(Array<number>(8).fill(size));
    expect(server.frames.map(({ frame }) => decodeRequest('PRODUCE', frame.body).topics[0]!.partitions[0]!.records[size - 1])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(server.frames.every(({ frame }) => frame.versionOrStatus === 0 && frame.api === Api.PRODUCE)).toBe(true);
  });

  it('reports unknown response statuses as MALFORMED_FRAME', async () => {
    const { server, client } = await setup();
    server.onFrame = (frame, socket) => socket.write(encodeFrame({ correlationId: frame.correlationId, api: frame.api, versionOrStatus: 7 }, Buffer.alloc(0)));
    expect(await codeOf(client.request('METADATA', metadata('x')))).toBe(ErrorCode.MALFORMED_FRAME);
  });
});
