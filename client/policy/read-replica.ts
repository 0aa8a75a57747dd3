/**
 * Which replica a consumer fetches a partition from. Pure.
 *
 * Without a client rack, or when nothing better is known, the leader. With one, an in-sync replica
 * whose broker sits in the same rack (availability zone), so the bytes do not cross zones: Kafka's
 * fetch-from-follower (KIP-392). In Kafka the leader picks the replica and tells the consumer
 * (preferred_read_replica); here the client picks from the metadata it already has (replicas, ISR
 * and each broker's rack), which needs no extra round trip and no broker-side selector.
 *
 * A follower serves consumers only what is below its own high watermark, which trails the leader's
 * by up to one replication round trip: reading from it costs a little latency, never correctness.
 * Among several same-rack in-sync replicas the choice is stable per partition (spread by partition
 * number), so one consumer's partitions spread over them and refetches stay on one broker.
 */

export interface ReadReplicaInput {
  readonly partition: number;
  /** -1 or below when the partition has no leader. */
  readonly leader: number;
  readonly isr: readonly number[];
  /** The consumer's rack; undefined or '' for none. */
  readonly clientRack: string | undefined;
  /** The rack of a broker ('' for none), undefined when the broker is not in the metadata. */
  readonly rackOf: (nodeId: number) => string | undefined;
  /** True while this partition must read from its leader (a follower failed it recently). */
  readonly leaderOnly: boolean;
}

/** The node to fetch from, or undefined when the partition has no leader (refresh metadata). */
export function chooseReadReplica(input: ReadReplicaInput): number | undefined {
  const { leader, clientRack } = input;
  if (leader < 0) return undefined;
  if (clientRack === undefined || clientRack === '' || input.leaderOnly) return leader;
  if (input.rackOf(leader) === clientRack) return leader;
  const local = input.isr.filter((nodeId) => nodeId !== leader && input.rackOf(nodeId) === clientRack).sort((a, b) => a - b);
  if (local.length === 0) return leader;
  return local[input.partition % local.length];
}
