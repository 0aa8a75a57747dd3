import { createServer, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../proto/errors.js';
import { FrameDecoder, encodeFrame, type Frame } from '../../../proto/framing.js';
import type { Logger } from '../../logger.js';
import type { HeartbeatMessage, Message } from '../index.js';
import { Prng } from '../sim/prng.js';
import { sampleMessages } from './fixtures/sample-messages.js';
import { TcpRaftTransport, reconnectDelayMs, type PeerAddress, type TcpRaftTransportOptions } from './index.js';
import { RaftApi, decodeHello, decodeRefusal, encodeHelloFrame, encodeRaftMessageFrame } from './wire.js';

const CLUSTER = 'cluster-test';
const HOST = '127.0.0.1';

interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function recorder(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (fields: object, message: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, message });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface Node {
  readonly id: number;
  readonly transport: TcpRaftTransport;
  readonly received: Message[];
  readonly unreachable: number[];
  readonly log: ReturnType<typeof recorder>;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startNode(id: number, peers: Iterable<[number, PeerAddress]>, options: Partial<TcpRaftTransportOptions> = {}): Promise<Node> {
  const log = recorder();
  const transport = await TcpRaftTransport.start({
    nodeId: id,
    clusterId: CLUSTER,
    listen: { host: HOST, port: 0 },
    peers: new Map(peers),
    logger: log,
    random: () => 0.5,
    ...options,
  });
  cleanups.push(() => transport.close());
  const node: Node = { id, transport, received: [], unreachable: [], log };
  transport.onMessage((m) => node.received.push(m));
  transport.onUnreachable((peerId) => node.unreachable.push(peerId));
  return node;
}

/** Two nodes that know each other: 1 and 2. */
async function startPair(options: Partial<TcpRaftTransportOptions> = {}): Promise<[Node, Node]> {
  const b = await startNode(2, [], options);
  const a = await startNode(1, [[2, b.transport.address]], options);
  b.transport.setPeers(new Map([[1, a.transport.address]]));
  return [a, b];
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A port that was free a moment ago: for a peer that starts later. */
async function reservePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const heartbeat = (from: number, to: number, readSeq: number): HeartbeatMessage => ({ type: 'heartbeat', from, to, term: 3, commit: 1, readSeq });

/** A raw TCP client speaking frames by hand: for peers that misbehave. */
async function rawClient(address: PeerAddress): Promise<{ socket: Socket; frames: Frame[]; closed: Promise<void> }> {
  const socket = connect({ host: address.host, port: address.port });
  cleanups.push(() => socket.destroy());
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, frames, closed };
}

describe('raft > transport > tcp > delivery', () => {
  it('delivers every message type between two transports, field for field', async () => {
    const [a, b] = await startPair();
    const messages: Message[] = sampleMessages.map((m) => ({ ...m, from: 1, to: 2 }));
    a.transport.send(messages);
    await waitFor(() => b.received.length === messages.length, 'every message');
    expect(b.received).toEqual(messages);
    expect(a.unreachable).toEqual([]);
    expect(a.transport.status().peers).toEqual([expect.objectContaining({ id: 2, connected: true, queuedMessages: 0, droppedMessages: 0 })]);
    expect(b.transport.status().inbound).toEqual([1]);
  });

  it('delivers the messages to one peer in the order they were sent, in both directions', async () => {
    const [a, b] = await startPair();
    const count = 3000;
    for (let i = 0; i < count; ) {
      const batch: Message[] = [];
      for (const end = Math.min(count, i + 1 + (i % 37)); i < end; i++) batch.push(heartbeat(1, 2, i));
      a.transport.send(batch);
      b.transport.send([heartbeat(2, 1, i)]);
    }
    await waitFor(() => b.received.length === count, `${count} messages`);
    expect(b.received.map((m) => (m as HeartbeatMessage).readSeq)).toEqual(Array.from({ length: count }, (_, i) => i));
    await waitFor(() => a.received.length > 0 && (a.received.at(-1) as HeartbeatMessage).readSeq === count, 'the replies');
    const replies = a.received.map((m) => (m as HeartbeatMessage).readSeq);
    expect(replies).toEqual([...replies].sort((x, y) => x - y));
  });

  it('carries an 8 MiB snapshot intact', async () => {
    const [a, b] = await startPair();
    const prng = new Prng(8);
    const data = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) new DataView(data.buffer).setUint32(i, prng.nextU32());
    a.transport.send([{ type: 'snapshot', from: 1, to: 2, term: 4, snapshot: { meta: { index: 9000, term: 4, voters: [1, 2, 3] }, data } }]);
    await waitFor(() => b.received.length === 1, 'the snapshot', 10_000);
    const got = b.received[0]!;
    if (got.type !== 'snapshot') throw new Error(`got a ${got.type}`);
    expect(got.snapshot.meta).toEqual({ index: 9000, term: 4, voters: [1, 2, 3] });
    expect(Buffer.compare(got.snapshot.data, data)).toBe(0);
  });

  it('reaches a peer that starts late, reporting it unreachable until then', async () => {
    const port = await reservePort();
    const a = await startNode(1, [[2, { host: HOST, port }]]);
    a.transport.send([heartbeat(1, 2, 7)]);
    await waitFor(() => a.unreachable.filter((id) => id === 2).length >= 2, 'two failed attempts');
    expect(a.transport.status().peers[0]).toMatchObject({ connected: false, queuedMessages: 1 });
    const b = await startNode(2, [[1, a.transport.address]], { listen: { host: HOST, port } });
    await waitFor(() => b.received.length === 1, 'the queued message');
    expect(b.received).toEqual([heartbeat(1, 2, 7)]);
    await waitFor(() => a.log.lines.some((l) => l.message === 'raft peer reachable again'), 'the recovery log');
  });

  it('reports a message for a node with no known address as unreachable', async () => {
    const a = await startNode(1, []);
    a.transport.send([heartbeat(1, 9, 0)]);
    await waitFor(() => a.unreachable.includes(9), 'the report');
  });

  it('drops the newest message and reports the peer when its queue is full, by count or by bytes', async () => {
    const port = await reservePort();
    const a = await startNode(1, [[2, { host: HOST, port }]], { maxQueuedMessages: 3 });
    a.transport.send([0, 1, 2, 3, 4].map((i) => heartbeat(1, 2, i)));
    expect(a.transport.status().peers[0]).toMatchObject({ queuedMessages: 3, droppedMessages: 2 });
    await Promise.resolve();
    expect(a.unreachable).toContain(2);
    expect(a.log.lines.some((l) => l.level === 'warn' && /queue holds 3 messages/.test(l.message))).toBe(true);

    const b = await startNode(2, [[1, a.transport.address]], { listen: { host: HOST, port } });
    await waitFor(() => b.received.length === 3, 'the queued messages');
    a.transport.send([heartbeat(1, 2, 99)]);
    await waitFor(() => b.received.length === 4, 'a later message');
    expect(b.received.map((m) => (m as HeartbeatMessage).readSeq)).toEqual([0, 1, 2, 99]);

    const frameBytes = encodeRaftMessageFrame(heartbeat(1, 3, 1)).length;
    const c = await startNode(1, [[3, { host: HOST, port: await reservePort() }]], { maxQueuedBytes: 2 * frameBytes + 1 });
    c.transport.send([1, 2, 3].map((i) => heartbeat(1, 3, i)));
    expect(c.transport.status().peers[0]).toMatchObject({ queuedMessages: 2, queuedBytes: 2 * frameBytes, droppedMessages: 1 });
  });
});

describe('raft > transport > tcp > handshake', () => {
  it('refuses a peer of another cluster on both sides, logging INCONSISTENT_CLUSTER_ID', async () => {
    const b = await startNode(2, [], { clusterId: 'west' });
    const a = await startNode(1, [[2, b.transport.address]], { clusterId: 'east' });
    b.transport.setPeers(new Map([[1, a.transport.address]]));
    a.transport.send([heartbeat(1, 2, 0)]);
    b.transport.send([heartbeat(2, 1, 0)]);
    const clusterErrors = (n: Node): LogLine[] => n.log.lines.filter((l) => l.level === 'error' && l.fields.code === 'INCONSISTENT_CLUSTER_ID');
    // Each logs twice: once as the acceptor refusing, once as the opener told so.
    await waitFor(() => clusterErrors(a).length >= 2 && clusterErrors(b).length >= 2, 'both sides to log the mismatch');
    expect(clusterErrors(a).map((l) => l.message)).toEqual(expect.arrayContaining(['raft peer of another cluster refused', 'raft peer refused us: it belongs to another cluster']));
    expect(a.received).toEqual([]);
    expect(b.received).toEqual([]);
    expect(a.unreachable).toContain(2);
    expect(b.unreachable).toContain(1);
    expect(b.transport.status().inbound).toEqual([]);
  });

  it('refuses the hello of a node it does not know, warning once however often it retries', async () => {
    const b = await startNode(2, []);
    const a = await startNode(1, [[2, b.transport.address]]);
    a.transport.send([heartbeat(1, 2, 0)]);
    await waitFor(() => a.unreachable.filter((id) => id === 2).length >= 3, 'three refused attempts');
    expect(b.log.lines.filter((l) => l.level === 'warn' && l.message === 'raft hello from a node that is not a peer refused')).toHaveLength(1);
    expect(a.log.lines.filter((l) => l.message === 'raft peer refused our connection')).toEqual([
      expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ code: 'INVALID_REQUEST', reason: 'node 1 is not a peer of node 2' }) }),
    ]);
    expect(b.received).toEqual([]);
    expect(a.transport.status().peers[0]).toMatchObject({ connected: false, queuedMessages: 1 });
  });

  it('answers a hello for another node id, and a hello of another protocol version, with a refusal', async () => {
    const b = await startNode(2, [[1, { host: HOST, port: 1 }]]);
    const wrongNode = await rawClient(b.transport.address);
    wrongNode.socket.write(encodeHelloFrame({ clusterId: CLUSTER, from: 1, to: 5, protocolVersion: 1 }));
    await wrongNode.closed;
    expect(wrongNode.frames.map((f) => f.api)).toEqual([RaftApi.REFUSAL]);
    expect(decodeRefusal(wrongNode.frames[0]!.body)).toEqual({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'this is node 2, not node 5' });

    const newer = await rawClient(b.transport.address);
    newer.socket.write(encodeHelloFrame({ clusterId: CLUSTER, from: 1, to: 2, protocolVersion: 2 }));
    await newer.closed;
    expect(decodeRefusal(newer.frames[0]!.body).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });

  it('closes an incoming connection that says nothing within the connect timeout', async () => {
    const b = await startNode(2, [], { connectTimeoutMs: 100 });
    const silent = await rawClient(b.transport.address);
    await silent.closed;
    expect(b.log.lines.some((l) => l.level === 'warn' && /no hello within 100 ms/.test(l.message))).toBe(true);
  });
});

describe('raft > transport > tcp > bad input', () => {
  it('drops and logs a message whose sender is not the node that said hello', async () => {
    const b = await startNode(2, [
      [1, { host: HOST, port: 1 }],
      [3, { host: HOST, port: 1 }],
    ]);
    const raw = await rawClient(b.transport.address);
    raw.socket.write(encodeHelloFrame({ clusterId: CLUSTER, from: 1, to: 2, protocolVersion: 1 }));
    await waitFor(() => raw.frames.length === 1, 'the hello answer');
    expect(decodeHello(raw.frames[0]!.body)).toEqual({ clusterId: CLUSTER, from: 2, to: 1, protocolVersion: 1 });
    raw.socket.write(encodeRaftMessageFrame(heartbeat(3, 2, 1)));
    raw.socket.write(encodeRaftMessageFrame(heartbeat(1, 2, 2)));
    await waitFor(() => b.received.length === 1, 'the genuine message');
    expect(b.received).toEqual([heartbeat(1, 2, 2)]);
    expect(b.log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'raft message whose sender or receiver does not match its connection dropped', fields: expect.objectContaining({ peer: 1, from: 3 }) }),
    );
  });

  it('closes only the connection that sends a bad frame, and keeps serving the others', async () => {
    const [a, b] = await startPair();
    b.transport.setPeers(new Map([[1, a.transport.address], [3, { host: HOST, port: 1 }]]));
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => b.received.length === 1, 'the first message');

    // A length below the header size: the framing is lost.
    const garbage = await rawClient(b.transport.address);
    garbage.socket.write(Buffer.from([0, 0, 0, 1, 0xde, 0xad]));
    // A message before any hello.
    const noHello = await rawClient(b.transport.address);
    noHello.socket.write(encodeRaftMessageFrame(heartbeat(3, 2, 0)));
    // A greeted peer whose message body does not decode.
    const badBody = await rawClient(b.transport.address);
    badBody.socket.write(encodeHelloFrame({ clusterId: CLUSTER, from: 3, to: 2, protocolVersion: 1 }));
    badBody.socket.write(encodeFrame({ correlationId: 0, api: RaftApi.MESSAGE, versionOrStatus: 1 }, Buffer.from([0x08, 0x03, 0x10])));
    // A stranger starting a 1 MiB frame: closed after 64 KiB, not buffered to the end.
    const stranger = await rawClient(b.transport.address);
    const header = Buffer.alloc(12);
    header.writeUInt32BE(1024 * 1024 + 8, 0);
    header.writeUInt16BE(RaftApi.HELLO, 8);
    stranger.socket.write(Buffer.concat([header, Buffer.alloc(128 * 1024)]));
    await Promise.all([garbage.closed, noHello.closed, badBody.closed, stranger.closed]);

    a.transport.send([heartbeat(1, 2, 2)]);
    await waitFor(() => b.received.length === 2, 'the next message on the good connection');
    expect(b.received).toEqual([heartbeat(1, 2, 1), heartbeat(1, 2, 2)]);
    expect(b.transport.status().inbound).toEqual([1]);
    expect(a.unreachable).toEqual([]);
    const malformed = b.log.lines.filter((l) => l.message === 'raft connection sent a malformed frame; closed');
    expect(malformed.map((l) => l.fields.code)).toEqual(['MALFORMED_FRAME', 'MALFORMED_FRAME', 'MALFORMED_FRAME', 'MALFORMED_FRAME']);
  });

  it('throws INVALID_REQUEST from send() for a message that is not a valid Raft message, still sending the ones before it', async () => {
    const [a, b] = await startPair();
    expect(() => a.transport.send([heartbeat(1, 2, 1), { ...heartbeat(1, 2, 2), term: -1 }])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST }));
    await waitFor(() => b.received.length === 1, 'the valid message');
    expect(b.received).toEqual([heartbeat(1, 2, 1)]);
  });

  it('refuses options it cannot work with as INVALID_CONFIG', async () => {
    const base = { nodeId: 1, clusterId: CLUSTER, listen: { host: HOST, port: 0 }, peers: new Map<number, PeerAddress>() };
    for (const bad of [{ nodeId: 0 }, { clusterId: '' }, { maxQueuedMessages: 0 }, { maxQueuedBytes: 1.5 }, { listen: { host: HOST, port: 70_000 } }, { peers: new Map([[0, { host: HOST, port: 1 }]]) }]) {
      await expect(TcpRaftTransport.start({ ...base, ...bad })).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG });
    }
  });
});

describe('raft > transport > tcp > membership and lifecycle', () => {
  it('closes the connection to a removed peer, both ways, and stops sending to it', async () => {
    const [a, b] = await startPair();
    a.transport.send([heartbeat(1, 2, 1)]);
    b.transport.send([heartbeat(2, 1, 1)]);
    await waitFor(() => b.received.length === 1 && a.received.length === 1, 'a message each way');

    a.transport.setPeers(new Map());
    expect(a.transport.status().peers).toEqual([]);
    // A's outgoing connection closes (B sees its inbound go), and A refuses B's (B loses its outbound).
    await waitFor(() => b.transport.status().inbound.length === 0, 'B to see the connection from A close');
    await waitFor(() => a.transport.status().inbound.length === 0 && b.unreachable.includes(1), 'A to close the connection from B');
    a.transport.send([heartbeat(1, 2, 2)]);
    await waitFor(() => a.unreachable.includes(2), 'A to report the removed peer');
    expect(b.received).toHaveLength(1);
  });

  it('redials a peer whose address changed, keeping the node id', async () => {
    const a = await startNode(1, []);
    const first = await startNode(2, [[1, a.transport.address]]);
    const second = await startNode(2, [[1, a.transport.address]]);
    a.transport.setPeers(new Map([[2, first.transport.address]]));
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => first.received.length === 1, 'the first address');
    a.transport.setPeers(new Map([[2, second.transport.address]]));
    a.transport.send([heartbeat(1, 2, 2)]);
    await waitFor(() => second.received.length === 1, 'the second address');
    await waitFor(() => first.transport.status().inbound.length === 0, 'the old connection to close');
    expect(first.received).toEqual([heartbeat(1, 2, 1)]);
    expect(second.received).toEqual([heartbeat(1, 2, 2)]);
  });

  it('closes idempotently, leaving no socket, server or timer behind', async () => {
    const count = (): { TCPSocketWrap: number; TCPServerWrap: number; Timeout: number } => {
      const counts = { TCPSocketWrap: 0, TCPServerWrap: 0, Timeout: 0 };
      for (const r of process.getActiveResourcesInfo()) if (r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout') counts[r]++;
      return counts;
    };
    // Each test file runs in a process of its own: once earlier tests' sockets have finished
    // closing, no TCP handle is left, and the timers are vitest's own.
    await waitFor(() => count().TCPSocketWrap === 0 && count().TCPServerWrap === 0, 'earlier tests to release their sockets');
    const timersBefore = count().Timeout;
    const port = await reservePort();
    const a = await TcpRaftTransport.start({ nodeId: 1, clusterId: CLUSTER, listen: { host: HOST, port: 0 }, peers: new Map([[2, { host: HOST, port }]]) });
    const b = await TcpRaftTransport.start({ nodeId: 3, clusterId: CLUSTER, listen: { host: HOST, port: 0 }, peers: new Map([[1, a.address]]) });
    a.setPeers(new Map([[2, { host: HOST, port }], [3, b.address]]));
    let delivered = 0;
    b.onMessage(() => delivered++);
    a.send([heartbeat(1, 3, 1), heartbeat(1, 2, 1)]); // 2 is down: a retry timer will be pending
    await waitFor(() => delivered === 1 && a.status().peers[0]!.queuedMessages === 1, 'a delivery and a failed attempt');
    expect(count().TCPSocketWrap).toBeGreaterThan(0);
    const first = a.close();
    expect(a.close()).toBe(first);
    await Promise.all([first, b.close(), b.close()]);
    a.send([heartbeat(1, 3, 2)]);
    a.setPeers(new Map([[3, b.address]]));
    expect(a.status().peers).toEqual([]);
    await waitFor(() => {
      const now = count();
      return now.TCPSocketWrap === 0 && now.TCPServerWrap === 0 && now.Timeout <= timersBefore;
    }, 'every handle to close');
  });
});

describe('raft > transport > tcp > reconnect backoff', () => {
  it('doubles from the minimum to the maximum, drawing each delay from its upper half', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => reconnectDelayMs(n, 50, 1000, () => 0))).toEqual([25, 50, 100, 200, 400, 500, 500, 500]);
    const highest = [1, 2, 5, 6].map((n) => reconnectDelayMs(n, 50, 1000, () => 0.999_999));
    expect(highest.map((d) => Math.round(d))).toEqual([50, 100, 800, 1000]);
    expect(highest.every((d, i) => d < [50, 100, 800, 1000][i]!)).toBe(true);
  });
});
