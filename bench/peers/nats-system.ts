/**
 * NATS JetStream under test: `nats-server -js` with its own temp store directory, one stream per
 * run with file storage and one replica, driven by the official v3 client (@nats-io/transport-node
 * and @nats-io/jetstream), and read by a pull consumer (ack policy none, like an offset-based
 * reader) that consumes in batches. Two publishers, both asynchronous inside the caller's window:
 *
 * - 'js.publish': `js.publish()` of @nats-io/jetstream, a promise per message that resolves with
 *   its PubAck. Each call is a request with its own promise, timer and error objects, which costs
 *   the client tens of microseconds per message (see bench/README.md).
 * - 'inbox': the JetStream publish protocol used the way nats.go's PublishAsync does: a plain
 *   publish with a reply subject per message and one wildcard subscription receiving the
 *   PubAcks. Same server work, a fraction of the client's, so the server's limits show.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { freePort, ManagedProcess, waitForPort } from './processes.js';
import type { BenchSystem, PublishPurpose, PublishSink, ReadOptions, SystemDescription, SystemId } from './system.js';

/** PubAck wait per message; far above any healthy run, so only a stuck server fails a run. */
const PUBLISH_TIMEOUT_MS = 30_000;
/** Messages per pull request for catch-up reads (the client pulls again at 75 % of it). */
const CATCH_UP_BATCH_MESSAGES = 4096;
/** Messages per pull request for tail reads: small enough that every message is pushed at once. */
const TAIL_BATCH_MESSAGES = 1024;

/** How messages are published: see the file comment. */
export type NatsPublishMode = 'js.publish' | 'inbox';

export interface NatsSystemOptions {
  readonly id: SystemId;
  readonly label: string;
  readonly publishMode: NatsPublishMode;
  readonly binary: string;
  /** A fresh folder for the server's store and log; deleted when the server stops. */
  readonly dataDir: string;
}

export async function startNats(options: NatsSystemOptions): Promise<BenchSystem> {
  const port = await freePort();
  const storeDir = path.join(options.dataDir, 'jetstream');
  const args = ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port)];
  const server = await ManagedProcess.start({ name: 'nats-server', command: options.binary, args, logFile: path.join(options.dataDir, 'nats-server.log'), cwd: options.dataDir, removeDirOnExit: options.dataDir });
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  try {
    await waitForPort('127.0.0.1', port, 15_000, () => server.exitReason());
    // noAsyncTraces: the client's documented switch that skips capturing a stack per request,
    // which "greatly improves performance of request/reply and JetStream publishers".
    nc = await connect({ servers: `127.0.0.1:${port}`, name: 'streambus-bench-peers', maxReconnectAttempts: 0, timeout: 10_000, noAsyncTraces: true });
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const version = execFileSync(options.binary, ['--version'], { encoding: 'utf8' }).trim();
  const description: SystemDescription = {
    version,
    startedWith: `nats-server ${args.join(' ').replace(storeDir, '<temp>/jetstream')}; streams: file storage, 1 replica, limits retention`,
    ackMeans:
      'PubAck after the stream stored the message in its file store: nats-server 2.9 writes each message to the block file (OS page cache) before the ack and fsyncs every 60 s (not configurable in 2.9; 2.10+ has sync_interval / sync_always)',
    client:
      (options.publishMode === 'js.publish'
        ? '@nats-io/jetstream v3 js.publish() (a promise per message, resolved by its PubAck), connection option noAsyncTraces'
        : '@nats-io/transport-node v3 nc.publish() with a reply subject per message and one wildcard subscription collecting the PubAcks (the PublishAsync pattern)') +
      ', inside the window; pull consumer, ack policy none, consume() with a callback, 4096-message pulls (1024 when tailing)',
  };
  let consumerSeq = 0;

  return {
    id: options.id,
    label: options.label,
    serverPid: server.pid,
    serverForks: false,
    mainThreadMeaningful: false,
    description,
    async createStream(name: string): Promise<void> {
      await jsm.streams.add({
        name,
        subjects: [name],
        storage: StorageType.File,
        num_replicas: 1,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
      });
    },
    async deleteStream(name: string): Promise<void> {
      await jsm.streams.delete(name);
    },
    openPublisher(stream: string, _purpose: PublishPurpose): Promise<PublishSink> {
      // One client serves both purposes: nats.js writes what was published in a tick together.
      if (options.publishMode === 'js.publish') {
        return Promise.resolve({
          publish(value: Buffer, done: (error?: unknown) => void): void {
            js.publish(stream, value, { timeout: PUBLISH_TIMEOUT_MS }).then(() => done(), done);
          },
          async close(): Promise<void> {
            await nc.flush();
          },
        });
      }
      return Promise.resolve(inboxPublisher(nc, stream));
    },
    async read(stream: string, onMessage: (value: Uint8Array) => boolean, options: ReadOptions): Promise<void> {
      const name = `bench-reader-${consumerSeq++}`;
      await jsm.consumers.add(stream, { name, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
      const consumer = await js.consumers.get(stream, name);
      // A callback rather than the async iterator: the client's documented fast path, with no
      // promise per message (StreamBus's batches() likewise yields once per batch).
      let stopped = false;
      const messages = await consumer.consume({
        max_messages: options.purpose === 'tail' ? TAIL_BATCH_MESSAGES : CATCH_UP_BATCH_MESSAGES,
        callback: (message) => {
          if (stopped) return;
          if (!onMessage(message.data)) {
            stopped = true;
            messages.stop();
          }
        },
      });
      const stop = (): void => messages.stop();
      options.signal.addEventListener('abort', stop, { once: true });
      if (options.signal.aborted) messages.stop();
      try {
        const closed = await messages.closed();
        if (closed instanceof Error && !options.signal.aborted && !stopped) throw closed;
      } finally {
        options.signal.removeEventListener('abort', stop);
        await jsm.consumers.delete(stream, name).catch(() => undefined);
      }
    },
    async close(): Promise<void> {
      try {
        await nc.drain();
      } catch {
        // Already closed.
      } finally {
        await server.stop();
      }
    },
  };
}

/**
 * Publishes with reply subject <inbox>.<n>; the PubAck (JSON {"stream","seq"} or {"error"}) or a
 * no-responders status (empty body) arrives on <inbox>.* and settles message n. The caller's
 * window bounds the map of waiting messages.
 */
function inboxPublisher(nc: NatsConnection, stream: string): PublishSink {
  const inbox = createInbox();
  const waiting = new Map<number, (error?: unknown) => void>();
  let next = 0;
  const prefixLength = inbox.length + 1;
  const subscription = nc.subscribe(`${inbox}.*`, {
    callback: (error: Error | null, msg: Msg) => {
      if (error !== null) {
        for (const done of waiting.values()) done(error);
        waiting.clear();
        return;
      }
      const id = Number(msg.subject.slice(prefixLength));
      const done = waiting.get(id);
      if (done === undefined) return;
      waiting.delete(id);
      const body = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
      if (body.length === 0) done(new Error(`no PubAck for ${stream} (status ${msg.headers?.code ?? 'none'})`));
      else if (body.includes(ERROR_KEY)) done(new Error(`PubAck error: ${msg.string()}`));
      else done();
    },
  });
  return {
    publish(value: Buffer, done: (error?: unknown) => void): void {
      const id = next++;
      waiting.set(id, done);
      nc.publish(stream, value, { reply: `${inbox}.${id}` });
    },
    async close(): Promise<void> {
      const deadline = performance.now() + PUBLISH_TIMEOUT_MS;
      while (waiting.size > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      for (const done of waiting.values()) done(new Error('no PubAck before the publisher closed'));
      waiting.clear();
      subscription.unsubscribe();
      await nc.flush();
    },
  };
}

/** A PubAck holding this key reports a failure. */
const ERROR_KEY = Buffer.from('"error"');
