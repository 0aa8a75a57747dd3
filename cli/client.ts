/**
 * The part of the client library (client/index.ts) the command line uses, and the factory that
 * loads it. The library is imported only when a command first asks for a client, so `--help`,
 * `--version` and `--print-config` never pay for protobufjs and the network stack.
 *
 * The types are Picks of the library's classes: the real StreamBus client satisfies them, and tests
 * can hand commands an in-memory fake with the same shape.
 */
import type { Admin, Consumer, ConsumerOptions, Producer, ProducerOptions } from '../client/index.js';

export type {
  ConfigDescription,
  Message,
  OffsetQuery,
  OffsetResult,
  PartitionDescription,
  ProducerRecord,
  RecordMetadata,
  TopicConfigDescription,
  TopicDescription,
} from '../client/index.js';

export interface ClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly requestTimeoutMs: number;
}

export type CliAdmin = Pick<
  Admin,
  'createTopics' | 'deleteTopics' | 'listTopics' | 'describeTopics' | 'describeConfigs' | 'alterConfigs' | 'createPartitions' | 'listOffsets'
>;
export type CliProducer = Pick<Producer, 'send' | 'flush' | 'close'>;
export type CliConsumer = Pick<Consumer, 'assign' | 'messages' | 'position' | 'close'>;

export interface StreamBusClient {
  admin(): CliAdmin;
  producer(options?: ProducerOptions): CliProducer;
  consumer(options?: ConsumerOptions): CliConsumer;
  close(): Promise<void>;
}

export type ClientFactory = (options: ClientOptions) => Promise<StreamBusClient>;

/** Loads client/index.js on first use and creates a client for the configured brokers. */
export const defaultClientFactory: ClientFactory = async (options) => {
  const { createClient } = await import('../client/index.js');
  return createClient({ brokers: [...options.brokers], clientId: options.clientId, requestTimeoutMs: options.requestTimeoutMs });
};
