/**
 * StreamBus through its Kafka listener, driven by kafkajs: what a team that keeps its Kafka client
 * gets. The same `streambus dev` as the native row; only the client and the wire protocol differ.
 *
 * kafkajs has no per-record send with a linger, as the native producer and NATS's publishAsync
 * have: each `producer.send()` is one produce request. The publisher below gathers the records
 * that arrive within a linger (or up to a batch size) into one send, and keeps a bounded number of
 * sends in flight, so kafkajs gets the batching every other row gets rather than one request per
 * record. Reads use a consumer group of one with eachBatch, kafkajs's fastest path.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel, type Consumer, type Message, type Producer } from 'kafkajs';
import { startBenchServer } from '../harness/server.js';
import type { DevServer } from '../harness/server.js';
import type { BenchSystem, PublishPurpose, PublishSink, ReadOptions, SystemDescription, SystemId } from './system.js';

/**
 * Largest send. Half the topic's default max.message.bytes (1 MiB): kafkajs builds one batch per
 * send, and a burst (the event loop busy in kafkajs's encoder while the generator catches up) must
 * not push it past the broker's limit.
 */
const SEND_BYTES_MAX = 512 * 1024;
/** Sends in flight per publisher; kafkajs pipelines them on one connection. */
const SENDS_IN_FLIGHT = 16;
const REQUEST_TIMEOUT_MS = 30_000;

export interface KafkajsSystemOptions {
  readonly id: SystemId;
  readonly label: string;
  readonly rootDir: string;
}

/** The Kafka listener's address, from the ready line `streambus dev` logs. */
function kafkaAddress(server: DevServer): string {
  for (const line of server.logLines) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; kafka?: { port: number } };
    if (entry.msg === 'streambus ready' && entry.kafka !== undefined) return `127.0.0.1:${entry.kafka.port}`;
  }
  throw new Error('the server did not report its Kafka listener');
}

export async function startKafkajs(options: KafkajsSystemOptions): Promise<BenchSystem> {
  // A consumer group of one need not wait for more members (Kafka's 3 s initial delay).
  const server = await startBenchServer({ rootDir: options.rootDir, settings: { 'group.initial.rebalance.delay.ms': '0' } });
  const kafka = new Kafka({ brokers: [kafkaAddress(server)], clientId: 'streambus-bench-kafkajs', logLevel: logLevel.NOTHING, requestTimeout: REQUEST_TIMEOUT_MS });
  const admin = kafka.admin();
  await admin.connect();
  const kafkajsVersion = (JSON.parse(readFileSync(path.join(options.rootDir, 'node_modules/kafkajs/package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  const version = (JSON.parse(readFileSync(path.join(options.rootDir, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  const description: SystemDescription = {
    version: `streambus ${version} (Kafka listener)`,
    startedWith: 'streambus dev --data-dir <temp> on 127.0.0.1, group.initial.rebalance.delay.ms=0; clients on its Kafka listener',
    ackMeans: 'acks=-1; durability=group (default): nothing is acknowledged before its fsync',
    client: `kafkajs ${kafkajsVersion}: records gathered for up to 5 ms (throughput) or 1 ms (latency) or 512 KiB into one send(acks -1), ${SENDS_IN_FLIGHT} sends in flight; consumer group of one with eachBatch`,
  };

  return {
    id: options.id,
    label: options.label,
    serverPid: server.child.pid!,
    serverForks: false,
    mainThreadMeaningful: true,
    description,
    async createStream(name: string): Promise<void> {
      await admin.createTopics({ topics: [{ topic: name, numPartitions: 1 }], waitForLeaders: true });
    },
    async deleteStream(name: string): Promise<void> {
      await admin.deleteTopics({ topics: [name] });
    },
    async openPublisher(stream: string, purpose: PublishPurpose): Promise<PublishSink> {
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      return new LingeringPublisher(producer, stream, purpose === 'throughput' ? 5 : 1);
    },
    async read(stream: string, onMessage: (value: Uint8Array) => boolean, options: ReadOptions): Promise<void> {
      const consumer = kafka.consumer({ groupId: `bench-${stream}-${Date.now()}`, maxWaitTimeInMs: options.purpose === 'tail' ? 20 : 100, sessionTimeout: 30_000 });
      await consumer.connect();
      try {
        await readUntilDone(consumer, stream, onMessage, options.signal);
      } finally {
        await consumer.disconnect();
      }
    },
    async close(): Promise<void> {
      try {
        await admin.disconnect();
      } finally {
        await server.dispose();
      }
    },
  };
}

/** Runs the consumer until onMessage returns false, the signal aborts, or the consumer crashes. */
async function readUntilDone(consumer: Consumer, topic: string, onMessage: (value: Uint8Array) => boolean, signal: AbortSignal): Promise<void> {
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    let finished = false;
    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error('the kafkajs consumer failed', { cause: error }));
    };
    const onAbort = (): void => finish();
    signal.addEventListener('abort', onAbort, { once: true });
    const { CRASH } = consumer.events;
    consumer.on(CRASH, (event) => finish(event.payload.error));
    consumer
      .run({
        eachBatchAutoResolve: true,
        eachBatch: async (payload) => {
          for (const message of payload.batch.messages) {
            if (finished || !payload.isRunning()) return;
            if (!onMessage(message.value ?? EMPTY)) {
              finish();
              return;
            }
          }
          await Promise.resolve();
        },
      })
      .catch(finish);
    if (signal.aborted) finish();
  });
}

interface Pending {
  readonly message: Message;
  readonly done: (error?: unknown) => void;
}

/** One kafkajs send per linger window (or per SEND_BYTES_MAX), at most SENDS_IN_FLIGHT at once. */
class LingeringPublisher implements PublishSink {
  #batch: Pending[] = [];
  #batchBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  readonly #ready: Pending[][] = [];
  readonly #idle: (() => void)[] = [];

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly lingerMs: number,
  ) {}

  publish(value: Buffer, done: (error?: unknown) => void): void {
    this.#batch.push({ message: { value }, done });
    this.#batchBytes += value.length;
    if (this.#batchBytes >= SEND_BYTES_MAX) this.#seal();
    else this.#timer ??= setTimeout(() => this.#seal(), this.lingerMs);
  }

  async close(): Promise<void> {
    this.#seal();
    while (this.#inFlight > 0 || this.#ready.length > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await this.producer.disconnect();
  }

  #seal(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    this.#ready.push(this.#batch);
    this.#batch = [];
    this.#batchBytes = 0;
    this.#pump();
  }

  #pump(): void {
    while (this.#inFlight < SENDS_IN_FLIGHT && this.#ready.length > 0) {
      const batch = this.#ready.shift()!;
      this.#inFlight++;
      this.producer
        .send({ topic: this.topic, acks: -1, timeout: REQUEST_TIMEOUT_MS, messages: batch.map((p) => p.message) })
        .then(
          () => batch.forEach((p) => p.done()),
          (error: unknown) => batch.forEach((p) => p.done(error)),
        )
        .finally(() => {
          this.#inFlight--;
          this.#pump();
          if (this.#inFlight === 0 && this.#ready.length === 0) this.#idle.splice(0).forEach((wake) => wake());
        });
    }
  }
}

const EMPTY = new Uint8Array(0);
