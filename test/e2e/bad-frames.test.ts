/**
 * Framing faults sent to a real server with stored data: each gets a typed answer (or a closed
 * connection when the framing is lost), other connections keep working, and stored data stays as
 * it was.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBus } from '../../client/index.js';
import { ErrorCode } from '../../proto/errors.js';
import { FrameDecoder, FrameStatus, encodeFrame, type Frame } from '../../proto/framing.js';
import { decodeErrorResponse, encodeRequestFrame } from '../../proto/native-codec.js';
import { startDevServer, type DevServer } from '../support/dev-server.js';

let server: DevServer;
let client: StreamBus;

beforeAll(async () => {
  server = await startDevServer({ settings: { 'max.frame.bytes': 65_536 } });
  client = new StreamBus({ brokers: [server.bootstrap] });
  await client.admin().createTopics([{ topic: 'precious', partitions: 1 }]);
  const producer = client.producer({ lingerMs: 0 });
  for (let i = 0; i < 10; i += 1) await producer.send({ topic: 'precious', partition: 0, key: `k${i}`, value: `v${i}` });
  await producer.close();
});

afterAll(async () => {
  await client?.close();
  await server?.dispose();
});

/** A raw socket that collects decoded frames and notices when the server closes it. */
async function rawSocket(): Promise<{ socket: Socket; frames: Frame[]; closed: Promise<void> }> {
  const socket = netConnect({ host: server.native.host, port: server.native.port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
  const frames: Frame[] = [];
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) frames.push(frame);
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  return { socket, frames, closed };
}

async function waitFor<T>(check: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function storedValues(): Promise<string[]> {
  const consumer = client.consumer({ maxWaitMs: 50 });
  consumer.assign([{ topic: 'precious', partition: 0, offset: 0 }]);
  const values: string[] = [];
  const signal = AbortSignal.timeout(5000);
  for await (const message of consumer.messages({ signal })) {
    values.push(message.value!.toString());
    if (values.length === 10) break;
  }
  await consumer.close();
  return values;
}

const expected = Array.from({ length: 10 }, (_, i) => `v${i}`);

describe('single node > bad frames', () => {
  it('answers an unknown API with UNKNOWN_API and keeps the connection serving', async () => {
    const { socket, frames } = await rawSocket();
    socket.write(encodeFrame({ correlationId: 41, api: 999, versionOrStatus: 0 }, Buffer.from([1, 2, 3])));
    const error = await waitFor(() => frames.find((f) => f.correlationId === 41));
    expect(error.versionOrStatus).toBe(FrameStatus.ERROR);
    expect(decodeErrorResponse(error.body).errorCode).toBe(ErrorCode.UNKNOWN_API);
    // The same connection still answers a well-formed request.
    socket.write(encodeRequestFrame(42, 'METADATA', 0, { topics: ['precious'], allTopics: false, allowAutoTopicCreation: false }));
    const answer = await waitFor(() => frames.find((f) => f.correlationId === 42));
    expect(answer.versionOrStatus).toBe(FrameStatus.OK);
    socket.destroy();
  });

  it('answers a body that does not decode with MALFORMED_FRAME and keeps serving', async () => {
    const { socket, frames } = await rawSocket();
    // PRODUCE (api 2) with a body that is not a protobuf message (field 0, wire type 7).
    socket.write(encodeFrame({ correlationId: 7, api: 2, versionOrStatus: 0 }, Buffer.from([0x07, 0xff, 0xff])));
    const error = await waitFor(() => frames.find((f) => f.correlationId === 7));
    expect(decodeErrorResponse(error.body).errorCode).toBe(ErrorCode.MALFORMED_FRAME);
    socket.destroy();
    expect(await storedValues()).toEqual(expected);
  });

  it('answers an unsupported API version with UNSUPPORTED_VERSION', async () => {
    const { socket, frames } = await rawSocket();
    const frame = encodeRequestFrame(9, 'METADATA', 0, { topics: [], allTopics: true, allowAutoTopicCreation: false });
    frame.writeUInt16BE(77, 10);
    socket.write(frame);
    const error = await waitFor(() => frames.find((f) => f.correlationId === 9));
    expect(decodeErrorResponse(error.body).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    socket.destroy();
  });

  it('closes only the connection that sends a frame over max.frame.bytes, with FRAME_TOO_LARGE', async () => {
    const bystander = await rawSocket();
    const { socket, frames, closed } = await rawSocket();
    const header = Buffer.alloc(12);
    header.writeUInt32BE(10 * 1024 * 1024, 0);
    header.writeUInt32BE(5, 4);
    header.writeUInt16BE(2, 8);
    socket.write(header);
    await closed;
    expect(frames).toHaveLength(1);
    expect(frames[0]!.correlationId).toBe(5);
    expect(decodeErrorResponse(frames[0]!.body).errorCode).toBe(ErrorCode.FRAME_TOO_LARGE);
    bystander.socket.write(encodeRequestFrame(1, 'METADATA', 0, { topics: ['precious'], allTopics: false, allowAutoTopicCreation: false }));
    await waitFor(() => bystander.frames.find((f) => f.correlationId === 1));
    bystander.socket.destroy();
    expect(await storedValues()).toEqual(expected);
  });

  it('closes a connection whose length prefix is too short to hold a header', async () => {
    const { socket, closed } = await rawSocket();
    socket.write(Buffer.from([0, 0, 0, 3, 1, 2, 3]));
    await closed;
    expect(await storedValues()).toEqual(expected);
  });

  it('survives random bytes from many connections and still serves every other client', async () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const sockets = await Promise.all(Array.from({ length: 20 }, () => rawSocket()));
    for (const { socket } of sockets) {
      const garbage = Buffer.alloc(64 + Math.floor(random() * 4000));
      for (let i = 0; i < garbage.length; i += 1) garbage[i] = Math.floor(random() * 256);
      socket.write(garbage);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const { socket } of sockets) socket.destroy();
    expect(await storedValues()).toEqual(expected);
    const producer = client.producer({ lingerMs: 0 });
    expect((await producer.send({ topic: 'precious', partition: 0, value: 'after' })).offset).toBe(10);
    await producer.close();
  });
});
