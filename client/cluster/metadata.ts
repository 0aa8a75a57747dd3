/**
 * The client's view of cluster metadata, built from MetadataResponse. Pure: no I/O.
 */
import type { ResponseOf } from '../../proto/index.js';
import { ErrorCode } from '../../proto/errors.js';

type MetadataResponse = ResponseOf<'METADATA'>;
type WireTopic = MetadataResponse['topics'][number];

export interface BrokerMetadata {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  /** Empty when the broker has no rack. */
  readonly rack: string;
}

export interface PartitionMetadata {
  readonly partition: number;
  /** -1 when the partition has no leader right now. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** A partition-level error such as LEADER_NOT_AVAILABLE; NONE (0) otherwise. */
  readonly errorCode: number;
}

export interface TopicMetadata {
  readonly name: string;
  readonly topicId: string;
  readonly internal: boolean;
  /** Indexed by partition number: partitions[p].partition === p. */
  readonly partitions: readonly PartitionMetadata[];
  /** Partitions that have a leader now, ascending. The sticky partitioner draws from these. */
  readonly available: readonly number[];
}

export interface MetadataSnapshot {
  readonly clusterId: string;
  /** -1 when unknown. */
  readonly controllerId: number;
  readonly brokers: ReadonlyMap<number, BrokerMetadata>;
  readonly metadataOffset: number;
}

/** Converts one topic of a MetadataResponse; undefined if the topic carries an error. */
export function topicFromWire(topic: WireTopic): TopicMetadata | undefined {
  if (topic.errorCode !== ErrorCode.NONE) return undefined;
  const partitions: PartitionMetadata[] = [];
  for (const p of topic.partitions) {
    partitions[p.partition] = {
      partition: p.partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
      errorCode: p.errorCode,
    };
  }
  // A response with a hole (partition numbers not 0..n-1) would break `% numPartitions`; fill it
  // with a leaderless entry so the count stays right and the hole is never chosen as available.
  for (let i = 0; i < partitions.length; i++) {
    partitions[i] ??= { partition: i, leader: -1, leaderEpoch: -1, replicas: [], isr: [], errorCode: ErrorCode.LEADER_NOT_AVAILABLE };
  }
  const available = partitions.filter((p) => p.leader >= 0).map((p) => p.partition);
  return { name: topic.name, topicId: topic.topicId, internal: topic.internal, partitions, available };
}

export function brokersFromWire(response: MetadataResponse): Map<number, BrokerMetadata> {
  const brokers = new Map<number, BrokerMetadata>();
  for (const b of response.brokers) brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack });
  return brokers;
}

/** Parses "host:port" (also "[v6]:port"); the port is required. */
export function parseBrokerAddress(address: string): { host: string; port: number } | undefined {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address.trim());
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (match[1] === '' || port <= 0 || port > 65535) return undefined;
  return { host: match[1]!, port };
}
