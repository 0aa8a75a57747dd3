/**
 * The vocabulary shared by the consumer group assignors: what each member subscribes to (and what
 * it owned before), what the assignor knows of the topics, and what it hands back.
 *
 * As in Kafka, the group coordinator does not assign partitions: it picks one member as leader and
 * gives it every member's subscription bytes; the leader's client runs the assignor and sends the
 * result back through SyncGroup. The names below are spelled as the Kafka clients spell them, so a
 * group that mixes StreamBus consumers with Java, librdkafka or kafkajs consumers agrees on which
 * assignor to use and reads the same bytes.
 */

/** The assignor names of Kafka's clients (`partition.assignment.strategy`). */
export const AssignorName = {
  RANGE: 'range',
  ROUND_ROBIN: 'roundrobin',
  STICKY: 'sticky',
  COOPERATIVE_STICKY: 'cooperative-sticky',
} as const;
export type AssignorName = (typeof AssignorName)[keyof typeof AssignorName];

/**
 * How a member gives up partitions during a rebalance. EAGER: every member revokes everything
 * before it rejoins. COOPERATIVE (KIP-429): members keep what they own while the group rebalances,
 * and only partitions that move are revoked, in a follow-up round.
 */
export const RebalanceProtocol = {
  EAGER: 'eager',
  COOPERATIVE: 'cooperative',
} as const;
export type RebalanceProtocol = (typeof RebalanceProtocol)[keyof typeof RebalanceProtocol];

/** The JoinGroup protocol type every Kafka consumer sends. */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';

/** The generation a member reports when it has none (it never completed a rebalance). */
export const NO_GENERATION = -1;

/** Partitions of one topic. */
export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

/** What a member sends when it joins (ConsumerProtocolSubscription). */
export interface Subscription {
  readonly topics: readonly string[];
  /** Assignor-specific bytes (the sticky assignors' previous assignment or generation); null if none. */
  readonly userData: Uint8Array | null;
  /** The partitions the member holds while it rejoins (cooperative protocol; empty under eager). */
  readonly ownedPartitions: readonly TopicPartitions[];
  /** The generation in which it got `ownedPartitions`; NO_GENERATION when unknown. */
  readonly generation: number;
  /** The member's rack (client.rack); null when not set. */
  readonly rackId: string | null;
}

/** One member's subscription as the group leader sees it. */
export interface MemberSubscription extends Subscription {
  readonly memberId: string;
  /** group.instance.id of a static member; null for a dynamic one. */
  readonly groupInstanceId: string | null;
}

/** What an assignor knows of one topic. */
export interface TopicInfo {
  readonly partitionCount: number;
  /**
   * For rack-aware assignment: partitionRacks[p] lists the racks holding a replica of partition p.
   * Omit it when unknown; when given it has one entry per partition.
   */
  readonly partitionRacks?: readonly (readonly string[])[];
}

/** topic → what the assignor knows of it. Subscribed topics missing here get no assignment. */
export type TopicMetadata = ReadonlyMap<string, TopicInfo>;

/** What one member gets (ConsumerProtocolAssignment). */
export interface MemberAssignment {
  /** topic → partitions, topics and partitions in ascending order; topics with none are left out. */
  readonly partitions: ReadonlyMap<string, readonly number[]>;
  readonly userData: Uint8Array | null;
}

/** The result of one assignment round. */
export interface GroupAssignment {
  /** member id → its assignment; every member of the input appears, possibly with nothing. */
  readonly members: ReadonlyMap<string, MemberAssignment>;
  /**
   * Partitions left unassigned this round because they move between two members and must first be
   * revoked by their current owner (cooperative protocol). Non-empty means the group needs a
   * follow-up rebalance, which the revoking members trigger once they have let go. Always empty for
   * the eager assignors.
   */
  readonly pendingRevocation: readonly TopicPartitions[];
}

/** What a member remembers between rebalances, from which an assignor builds its user data. */
export interface OwnedState {
  readonly ownedPartitions: readonly TopicPartitions[];
  readonly generation: number;
}

/**
 * A partition assignment strategy. Pure and deterministic: the same subscriptions and topics give
 * the same assignment whatever the order of `members`.
 */
export interface Assignor {
  readonly name: string;
  /** The rebalance protocols it supports; a group uses cooperative only if every assignor allows it. */
  readonly protocols: readonly RebalanceProtocol[];
  /** The user data this member puts in its subscription. */
  subscriptionUserData(state: OwnedState): Uint8Array | null;
  /**
   * Assigns the partitions of the subscribed topics. Throws StreamBusError on inconsistent input
   * (a member id twice, an invalid partition count).
   */
  assign(members: readonly MemberSubscription[], topics: TopicMetadata): GroupAssignment;
}
