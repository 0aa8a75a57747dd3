/**
 * What the comparison needs from each system under test: one stream (topic / JetStream stream /
 * Redis stream key) written by a publisher that reports each message's acknowledgement, and read
 * from its start by a reader. The workloads (./workloads.ts) drive every system through this
 * interface only, so all of them get the same generator, window, clock and accounting.
 */

export const SystemId = {
  streambus: 'streambus',
  /** StreamBus with durability=interval (fsync every second, off the ack path), like the peers' defaults. */
  streambusInterval: 'streambus-interval',
  /** StreamBus through its Kafka listener, driven by kafkajs (./kafkajs-system.ts). */
  streambusKafkajs: 'streambus-kafkajs',
  /** NATS with js.publish() of @nats-io/jetstream. */
  nats: 'nats',
  /** NATS with the PublishAsync pattern: plain publishes with a reply inbox per message. */
  natsInbox: 'nats-inbox',
  redis: 'redis',
} as const;
export type SystemId = (typeof SystemId)[keyof typeof SystemId];

export const systemIds: readonly SystemId[] = Object.values(SystemId);

/** Throughput publishers batch for volume; latency publishers send as soon as they can. */
export type PublishPurpose = 'throughput' | 'latency';

/** Catch-up reads consume what is stored; tail reads also wait for new messages. */
export type ReadPurpose = 'catch-up' | 'tail';

export interface PublishSink {
  /**
   * Sends one message; `done` is called once, without an argument when the server acknowledged
   * it (stored per the system's durability settings), with the error otherwise.
   */
  publish(value: Buffer, done: (error?: unknown) => void): void;
  /** Waits for what is in flight (bounded by the caller's window) and releases the publisher. */
  close(): Promise<void>;
}

export interface ReadOptions {
  readonly purpose: ReadPurpose;
  /** Stops the read; read() then resolves (it does not reject for an abort). */
  readonly signal: AbortSignal;
}

/** A running system with a connected client. */
export interface BenchSystem {
  readonly id: SystemId;
  /** Name for tables and plots. */
  readonly label: string;
  /** The server process, for CPU and disk accounting. */
  readonly serverPid: number;
  /** Count the server's forks as its CPU (Redis rewrites its AOF in a child). */
  readonly serverForks: boolean;
  /** Whether the server's main thread alone means something (an event loop: Node, Redis). */
  readonly mainThreadMeaningful: boolean;
  /** Server version and the settings that decide what an acknowledgement means, for the report. */
  readonly description: SystemDescription;
  createStream(name: string): Promise<void>;
  /** Frees what the stream holds (memory for Redis, disk for the others). */
  deleteStream(name: string): Promise<void>;
  openPublisher(stream: string, purpose: PublishPurpose): Promise<PublishSink>;
  /**
   * Reads the stream from its first message, calling onMessage for each message's value in
   * order, until onMessage returns false or the signal aborts. Rejects on a read error.
   */
  read(stream: string, onMessage: (value: Uint8Array) => boolean, options: ReadOptions): Promise<void>;
  /** Closes the client and stops the server. */
  close(): Promise<void>;
}

export interface SystemDescription {
  readonly version: string;
  /** How it was started (command line or settings). */
  readonly startedWith: string;
  /** What a publish acknowledgement guarantees under these settings. */
  readonly ackMeans: string;
  /** Client library and the options the workloads use. */
  readonly client: string;
}
