/**
 * The broker pool over real TCP: the real connection against the real native listener serving a
 * MiniBroker, a listener that accepts and never answers (a hung broker), and a port nobody listens
 * on (a dead one).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeServer } from '../../broker/network/server.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { BrokerUnavailableError, RequestTimeoutError } from '../errors.js';
import { MiniBroker } from '../testing/mini-broker.js';
import { rejectionOf, waitFor } from '../testing/wait.js';
import { BrokerPool, type BrokerPoolOptions } from './broker-pool.js';
import { connect } from './connection.js';
import type { ConnectFn } from './types.js';

const logger = pino({ level: 'silent' });
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const METADATA = { topics: [], allTopics: false, allowAutoTopicCreation: false };

/** A MiniBroker behind the real native listener. */
async function liveBroker(): Promise<{ broker: MiniBroker; port: number }> {
  const broker = new MiniBroker();
  broker.createTopic('t', 1);
  const server = new NativeServer({ handler: broker, host: '127.0.0.1', port: 0, logger, closeTimeoutMs: 200 });
  await server.listen();
  broker.port = server.port;
  cleanups.push(() => server.close());
  return { broker, port: server.port };
}

/** Accepts connections, reads everything, answers nothing: a stopped or wedged broker. */
async function hungBroker(): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: address.port, sockets };
}

/** A port that was free a moment ago: connects to it are refused. */
async function deadPort(): Promise<number> {
  const { port } = await hungBroker();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port === port ? port + 1 : address.port;
}

function counting(inner: ConnectFn): { connect: ConnectFn; opened: () => number } {
  let opened = 0;
  return {
    connect: (options) => {
      opened++;
      return inner(options);
    },
    opened: () => opened,
  };
}

function pool(port: number, options: Partial<BrokerPoolOptions> = {}): BrokerPool {
  const created = new BrokerPool({
    host: '127.0.0.1',
    port,
    clientId: 'pool-test',
    connect,
    connectTimeoutMs: 1_000,
    requestTimeoutMs: 2_000,
    maxInFlightPerConnection: 16,
    healthCheckIntervalMs: 0,
    ...options,
  });
  cleanups.push(() => created.close());
  return created;
}

describe('client > broker pool > connections', () => {
  it('sends every request over one connection by default', async () => {
    const { port } = await liveBroker();
    const { connect: counted, opened } = counting(connect);
    const broker = pool(port, { connect: counted });
    await Promise.all(Array.from({ length: 10 }, () => broker.request('METADATA', METADATA)));
    expect(opened()).toBe(1);
    expect(broker.health()).toMatchObject({ connections: 1, state: 'closed', inFlight: 0 });
  });

  it('opens another connection while every open one is busy, up to `connections`', async () => {
    const { port } = await liveBroker();
    const { connect: counted, opened } = counting(connect);
    const broker = pool(port, { connect: counted, connections: 2 });
    // A long poll keeps the first connection busy for 1.5 s.
    const poll = broker.request('FETCH', { maxWaitMs: 1_500, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, replicaId: -1, topics: [{ name: 't', partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }] });
    await waitFor(() => broker.inFlight === 1, 'the long poll to be in flight');
    await broker.request('METADATA', METADATA);
    await waitFor(() => opened() === 2, 'a second connection');
    const started = Date.now();
    await broker.request('METADATA', METADATA);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(broker.health().connections).toBe(2);
    await poll;
  });

  it('shares one connect among requests that arrive while it is under way', async () => {
    const { port } = await liveBroker();
    const { connect: counted, opened } = counting(connect);
    const broker = pool(port, { connect: counted });
    await Promise.all(Array.from({ length: 5 }, () => broker.request('METADATA', METADATA)));
    expect(opened()).toBe(1);
  });

  it('fails requests in flight with NETWORK_EXCEPTION on close(), and refuses new ones', async () => {
    const { port } = await hungBroker();
    const broker = pool(port);
    const pending = rejectionOf(broker.request('METADATA', METADATA));
    await waitFor(() => broker.inFlight === 1, 'the request to be in flight');
    await broker.close();
    expect(await pending).toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
    expect(await rejectionOf(broker.request('METADATA', METADATA))).toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION, message: expect.stringMatching(/closed/) });
  });
});

describe('client > broker pool > timeouts', () => {
  it('rejects with RequestTimeoutError naming the broker and the API, and closes the connection', async () => {
    const { port } = await hungBroker();
    const broker = pool(port, { requestTimeoutMs: 150 });
    broker.nodeId = 7;
    const started = Date.now();
    const error = await rejectionOf(broker.request('METADATA', METADATA));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect(error).toMatchObject({ code: ErrorCode.REQUEST_TIMED_OUT, api: 'METADATA', broker: `broker 7 (127.0.0.1:${port})`, timeoutMs: 150, retriable: true });
    expect((error as Error).message).toBe(`METADATA got no response from broker 7 (127.0.0.1:${port}) within 150 ms`);
    expect(broker.health().connections).toBe(0);
  });

  it('uses the per-request timeout when one is given', async () => {
    const { port } = await hungBroker();
    const broker = pool(port, { requestTimeoutMs: 10_000 });
    const error = await rejectionOf(broker.request('PRODUCE', { acks: -1, timeoutMs: 1, topics: [] }, { timeoutMs: 80 }));
    expect(error).toMatchObject({ api: 'PRODUCE', timeoutMs: 80 });
  });
});

describe('client > broker pool > circuit breaker', () => {
  it('opens after N consecutive connect failures, then fails fast without touching the network', async () => {
    const port = await deadPort();
    const { connect: counted, opened } = counting(connect);
    const broker = pool(port, { connect: counted, breaker: { failureThreshold: 2, cooldownMs: 60_000 } });
    for (let i = 0; i < 2; i++) expect(await rejectionOf(broker.request('METADATA', METADATA))).toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
    expect(broker.health().state).toBe('open');
    const started = Date.now();
    const error = await rejectionOf(broker.request('FETCH', { maxWaitMs: 0, minBytes: 0, maxBytes: 1, isolationLevel: 0, replicaId: -1, topics: [] }));
    expect(Date.now() - started).toBeLessThan(20);
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect(error).toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION, retriable: true, api: 'FETCH', failures: 2 });
    expect((error as Error).message).toMatch(new RegExp(`FETCH not sent: broker 127\\.0\\.0\\.1:${port} is unavailable`));
    expect((error as Error & { cause: unknown }).cause).toBeInstanceOf(StreamBusError);
    expect(opened()).toBe(2);
    expect(broker.connected).toBe(false);
  });

  it('turns a hung broker into one fast failure per request once the timeouts have opened the circuit', async () => {
    const { port } = await hungBroker();
    const broker = pool(port, { requestTimeoutMs: 100, breaker: { failureThreshold: 2, cooldownMs: 60_000 } });
    for (let i = 0; i < 2; i++) expect(await rejectionOf(broker.request('METADATA', METADATA))).toBeInstanceOf(RequestTimeoutError);
    const started = Date.now();
    const errors = await Promise.all(Array.from({ length: 20 }, () => rejectionOf(broker.request('METADATA', METADATA))));
    expect(Date.now() - started).toBeLessThan(50);
    for (const error of errors) expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((errors[0] as Error & { cause: unknown }).cause).toBeInstanceOf(RequestTimeoutError);
  });

  it('lets one probe through after the cool-down and closes the circuit when it succeeds', async () => {
    const broker = new MiniBroker();
    broker.createTopic('t', 1);
    broker.setDown(true);
    const handle = pool(broker.port, { connect: broker.connect, breaker: { failureThreshold: 1, cooldownMs: 50 } });
    await rejectionOf(handle.request('METADATA', METADATA));
    expect(await rejectionOf(handle.request('METADATA', METADATA))).toBeInstanceOf(BrokerUnavailableError);
    broker.setDown(false);
    await waitFor(() => handle.health().state === 'half-open', 'the cool-down to end');
    await handle.request('METADATA', METADATA);
    expect(handle.health()).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('counts a dropped connection once, however many requests were in flight on it', async () => {
    const broker = new MiniBroker();
    broker.createTopic('t', 1);
    const handle = pool(broker.port, { connect: broker.connect, breaker: { failureThreshold: 3, cooldownMs: 60_000 } });
    await handle.request('METADATA', METADATA);
    const fetch = { maxWaitMs: 5_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, replicaId: -1, topics: [{ name: 't', partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }] };
    const polls = Array.from({ length: 5 }, () => rejectionOf(handle.request('FETCH', fetch)));
    await waitFor(() => handle.inFlight === 5, 'five long polls in flight');
    broker.dropConnections();
    for (const error of await Promise.all(polls)) expect(error).toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
    expect(handle.health()).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
    await handle.request('METADATA', METADATA);
    expect(handle.health().consecutiveFailures).toBe(0);
  });

  it('counts a broker\'s error answer as a sign of life, not a failure', async () => {
    const broker = new MiniBroker();
    const handle = pool(broker.port, { connect: broker.connect, breaker: { failureThreshold: 1, cooldownMs: 60_000 } });
    broker.faults.push({ api: 'METADATA', errorCode: ErrorCode.NOT_CONTROLLER, wholeRequest: true, times: 3 });
    for (let i = 0; i < 3; i++) expect(await rejectionOf(handle.request('METADATA', METADATA))).toMatchObject({ code: ErrorCode.NOT_CONTROLLER });
    expect(handle.health().state).toBe('closed');
  });

  it('does not count a request the caller aborted', async () => {
    const { port } = await hungBroker();
    const handle = pool(port, { breaker: { failureThreshold: 1, cooldownMs: 60_000 } });
    const controller = new AbortController();
    const pending = rejectionOf(handle.request('METADATA', METADATA, { signal: controller.signal }));
    await waitFor(() => handle.inFlight === 1, 'the request to be in flight');
    controller.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    expect(handle.health().state).toBe('closed');
  });
});

describe('client > broker pool > health checks', () => {
  it('pings an idle connection with ApiVersions and keeps it while it answers', async () => {
    const { broker, port } = await liveBroker();
    const handle = pool(port, { healthCheckIntervalMs: 40 });
    await handle.request('METADATA', METADATA);
    const pings = (): number => broker.requests.filter((r) => r.api === 'API_VERSIONS').length;
    const before = pings();
    await waitFor(() => pings() >= before + 2, 'two health pings');
    expect(handle.health()).toMatchObject({ connections: 1, state: 'closed' });
  });

  it('closes an idle connection whose broker stopped answering, and counts the failure', async () => {
    const { port, sockets } = await hungBroker();
    const handle = pool(port, { healthCheckIntervalMs: 40, requestTimeoutMs: 5_000 });
    await handle.ready();
    expect(handle.health().connections).toBe(1);
    await waitFor(() => handle.health().connections === 0, 'the silent connection to be closed', 3_000);
    expect(handle.health().consecutiveFailures).toBe(1);
    await waitFor(() => sockets.every((s) => s.destroyed || s.readableEnded), 'the socket to be closed on the broker side', 3_000);
  });

  it('refuses bad pool settings with RangeError', () => {
    expect(() => pool(1, { connections: 0 })).toThrow(RangeError);
    expect(() => pool(1, { healthCheckIntervalMs: -5 })).toThrow(RangeError);
  });
});
