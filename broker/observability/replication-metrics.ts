/**
 * What the broker's replication metrics say, computed from the two things a broker knows about
 * replication: the followed metadata (who leads each partition, its replicas and ISR) and the
 * ReplicaManager's status (how far each follower's log reaches on the leader). Pure: no I/O, no
 * clock, no prom-client; metrics.ts turns the results into series (docs/metrics.md).
 *
 * Definitions follow Kafka's ReplicaManager so alerts written for Kafka read the same here:
 * - a broker *holds* a partition it is a replica of, and *leads* one whose metadata leader it is;
 * - a led partition is *under-replicated* when its ISR has fewer members than its replica set, and
 *   *under min ISR* when its ISR has fewer members than the topic's min.insync.replicas;
 * - a held partition is *offline* when the metadata names no leader for it (leader -1);
 * - the *replica lag* of a led partition is how far its furthest-behind follower's log end is
 *   below the leader's, in offsets (a follower that has not fetched yet counts from offset 0).
 *
 * ISR shrinks and expands are counted from the metadata too (IsrChangeCounter): the leader does
 * not change the ISR itself, the coordinator commits the change and every broker sees it in the
 * log, so the leader counts it when the followed metadata shows the ISR of a partition it led
 * before and still leads losing or gaining members.
 */
import type { PartitionReplicationStatus } from '../replication/replica-manager.js';
import type { TopicView } from '../server/metadata-view.js';

/** Where the replication metrics come from; the broker process wires it to its Broker and metadata. */
export interface ReplicationSource {
  /** This broker's node id. */
  readonly nodeId: number;
  /** The topics of the followed metadata, read at scrape time (must be cheap and synchronous). */
  topics(): Iterable<TopicView>;
  /** Calls `listener` after each batch of metadata records is applied; returns an unsubscribe function. */
  onMetadataChange(listener: () => void): () => void;
  /** The ReplicaManager's per-partition status (Broker.replicationStatus()). */
  replicationStatus(): readonly PartitionReplicationStatus[];
  /** The effective min.insync.replicas of a topic (its override or the broker default). */
  minInsyncReplicas(topic: TopicView): number;
}

/** The replication lag of one partition this broker leads. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** Offsets between the leader's log end and its furthest-behind follower's. 0 with no followers. */
  readonly lagOffsets: number;
}

/** One scrape's worth of replication gauges. */
export interface ReplicationSummary {
  /** Partitions this broker holds a replica of. */
  readonly partitionCount: number;
  /** Partitions this broker leads. */
  readonly leaderCount: number;
  /** Led partitions whose ISR is smaller than their replica set. */
  readonly underReplicated: number;
  /** Led partitions whose ISR is smaller than min.insync.replicas (acks=all produce is refused). */
  readonly underMinIsr: number;
  /** Held partitions without a leader in the metadata. */
  readonly offline: number;
  /** Led, replicated partitions, one entry each. */
  readonly lag: readonly PartitionLag[];
  /** The largest lagOffsets over `lag` (0 when empty). */
  readonly maxLagOffsets: number;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * The gauges from the metadata's assignments and the leader's view of its followers. Counts come
 * from the metadata alone, so a broker that leads a partition by the metadata counts it even in
 * the moment before its ReplicaManager has applied the change; lag comes from the status, which
 * knows follower positions.
 */
export function summarizeReplication(
  nodeId: number,
  topics: Iterable<TopicView>,
  statuses: readonly PartitionReplicationStatus[],
  minInsyncReplicas: (topic: TopicView) => number,
): ReplicationSummary {
  let partitionCount = 0;
  let leaderCount = 0;
  let underReplicated = 0;
  let underMinIsr = 0;
  let offline = 0;
  for (const topic of topics) {
    let minIsr: number | undefined;
    for (const p of topic.partitions) {
      if (!p.replicas.includes(nodeId)) continue;
      partitionCount++;
      if (p.leader < 0) offline++;
      if (p.leader !== nodeId) continue;
      leaderCount++;
      if (p.isr.length < p.replicas.length) underReplicated++;
      minIsr ??= minInsyncReplicas(topic);
      if (p.isr.length < minIsr) underMinIsr++;
    }
  }
  const lag: PartitionLag[] = [];
  let maxLagOffsets = 0;
  for (const status of statuses) {
    if (status.role !== 'leader' || status.followers.length === 0) continue;
    let lagOffsets = 0;
    for (const follower of status.followers) lagOffsets = Math.max(lagOffsets, status.logEndOffset - Math.max(0, follower.logEndOffset));
    lag.push({ topic: status.topic, partition: status.partition, lagOffsets });
    maxLagOffsets = Math.max(maxLagOffsets, lagOffsets);
  }
  return { partitionCount, leaderCount, underReplicated, underMinIsr, offline, lag, maxLagOffsets };
}

/** ISR changes seen between two looks at the metadata. */
export interface IsrChangeCount {
  /** Led partitions whose ISR lost at least one member. */
  readonly shrinks: number;
  /** Led partitions whose ISR gained at least one member. */
  readonly expands: number;
}

/**
 * Counts ISR shrinks and expands of the partitions one broker leads, from successive looks at
 * the followed metadata. A partition counts only when this broker led it at the previous look
 * and still leads it (same topic id, so a topic deleted and re-created under its name starts
 * over): a new leadership's ISR is where counting starts, not a change. An ISR that lost one
 * member and gained another between two looks counts as one shrink and one expand. Changes that
 * come and go within one applied batch of records are not seen, as with any sampled view.
 */
export class IsrChangeCounter {
  readonly #nodeId: number;
  /** topicId/partition -> the ISR at the previous look, for partitions led then. */
  #led = new Map<string, readonly number[]>();

  constructor(nodeId: number) {
    this.#nodeId = nodeId;
  }

  /** Compares `topics` with the previous look and remembers it. The first look counts nothing. */
  observe(topics: Iterable<TopicView>): IsrChangeCount {
    const led = new Map<string, readonly number[]>();
    let shrinks = 0;
    let expands = 0;
    for (const topic of topics) {
      for (const p of topic.partitions) {
        if (p.leader !== this.#nodeId) continue;
        const key = partitionKey(topic.topicId, p.partition);
        led.set(key, p.isr);
        const before = this.#led.get(key);
        if (before === undefined || before === p.isr) continue;
        if (before.some((id) => !p.isr.includes(id))) shrinks++;
        if (p.isr.some((id) => !before.includes(id))) expands++;
      }
    }
    this.#led = led;
    return { shrinks, expands };
  }
}
