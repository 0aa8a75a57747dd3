/**
 * What the Kafka listener needs from the rest of the broker, and what its API handlers return.
 *
 * The listener serves Kafka's protocol by calling the broker's own native handlers (the `Handler`
 * the native listener also calls: broker/server/broker.ts), so produce, fetch, offsets and topic
 * administration run through exactly the code native clients use. Beyond that it reads the brokers'
 * registered Kafka listeners (for Metadata) and a topic's config overrides (AlterConfigs replaces
 * the whole set), and lists the broker's own settings for DescribeConfigs.
 */
import type { Logger } from 'pino';
import type { KafkaApiName, KafkaResponse } from '../../proto/kafka/index.js';
import type { GroupCalls, TxnCalls } from '../../client/index.js';
import type { Handler, RequestContext } from '../network/server.js';

/** The name under which a broker registers its Kafka listener (BrokerListener.name). */
export const KAFKA_LISTENER_NAME = 'kafka';

export interface KafkaEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface KafkaBrokerView {
  readonly nodeId: number;
  readonly rack: string | null;
  readonly listeners: readonly { readonly name: string; readonly host: string; readonly port: number }[];
}

export interface KafkaClusterView {
  /** Every registered broker with its listeners. */
  brokers(): Iterable<KafkaBrokerView>;
  /** A topic's own config overrides, or undefined when the topic does not exist. */
  topicConfigOverrides(topic: string): Readonly<Record<string, string>> | undefined;
}

/** One of the broker's own settings, as DescribeConfigs on the broker resource lists it. */
export interface KafkaBrokerConfigEntry {
  readonly name: string;
  /** null for a secret or an unset value. */
  readonly value: string | null;
  /** 'default': the built-in default; 'static': set in the config file, environment or flags. */
  readonly source: 'default' | 'static';
  readonly sensitive: boolean;
}

export interface KafkaApiOptions {
  /** The broker's own handlers: the Broker itself. */
  readonly handler: Handler;
  readonly nodeId: number;
  readonly cluster: KafkaClusterView;
  /** The broker's settings for DescribeConfigs (resource type BROKER); none when absent. */
  readonly brokerConfigs?: () => readonly KafkaBrokerConfigEntry[];
  /**
   * The group coordinator, reached through the broker's coordinator client (./group-apis.ts).
   * Absent: FindCoordinator answers COORDINATOR_NOT_AVAILABLE and the group APIs answer the same.
   */
  readonly groups?: KafkaGroupCoordinator;
  /**
   * The transaction coordinator, reached through the same coordinator client (./txn-apis.ts).
   * Absent: FindCoordinator answers COORDINATOR_NOT_AVAILABLE for transactional ids and the
   * transaction APIs (InitProducerId included) answer the same.
   */
  readonly transactions?: KafkaTxnCoordinator;
}

/** The group calls the Kafka listener forwards to: the coordinator client's (`CoordinatorClient.groups`). */
export type KafkaGroupCoordinator = Pick<
  GroupCalls,
  'joinGroup' | 'syncGroup' | 'heartbeat' | 'leaveGroup' | 'commitOffsets' | 'fetchOffsets' | 'deleteOffsets' | 'describeGroups' | 'listGroups' | 'deleteGroups'
>;

/** The transaction calls the Kafka listener forwards to: the coordinator client's (`CoordinatorClient.transactions`). */
export type KafkaTxnCoordinator = Pick<TxnCalls, 'initProducerId' | 'addPartitionsToTxn' | 'addOffsetsToTxn' | 'txnOffsetCommit' | 'endTxn'>;

/** A request's context: the native one (connection, client id, abort signal) and the API version. */
export interface KafkaContext extends RequestContext {
  readonly apiVersion: number;
  readonly logger: Logger;
}

/**
 * What serving one request produced: a response to send, nothing (a produce with acks=0), or a
 * reason to close the connection after the responses before it (Kafka's way of telling an acks=0
 * producer that its write failed).
 */
export type KafkaOutcome<A extends KafkaApiName> =
  | { readonly kind: 'response'; readonly body: KafkaResponse<A> }
  | { readonly kind: 'none' }
  | { readonly kind: 'close'; readonly reason: string };

export function respond<A extends KafkaApiName>(body: KafkaResponse<A>): KafkaOutcome<A> {
  return { kind: 'response', body };
}
