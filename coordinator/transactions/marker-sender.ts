/**
 * How the transaction coordinator reaches partition leaders with commit and abort markers
 * (WRITE_TXN_MARKERS, native API 46, a broker API).
 *
 * The sender is a small interface so the coordinator's tests run without brokers, and the one the
 * coordinator uses by default (nativeMarkerSender) opens native connections with the client
 * library's connect(), one per broker address, kept while they work and dropped at the first
 * failure (the next attempt dials again: the broker may have restarted at the same address).
 *
 * planMarkers() is the pure half: which broker leads each partition now, from the applied metadata
 * (topic → partition → leader → broker registration), grouped per broker so each broker gets one
 * request per round. Partitions without a leader wait for the next round; partitions of a topic
 * deleted meanwhile need no marker (their data is gone with them).
 */
// The client's connection layer itself, not its entry: client/index.js imports the coordinator's
// entry, and the Coordinator class (which builds the default sender) must not sit in that cycle.
import { connect } from '../../client/network/connection.js';
import type { Connection } from '../../client/network/types.js';
import type * as M from '../../proto/messages.js';
import type { MetadataStateView } from '../metadata/state.js';

/** The broker a marker request goes to: its node id and native listener. */
export interface MarkerBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface TxnMarkerSender {
  /**
   * Sends one WriteTxnMarkers request to `broker` and resolves with its answer (per-partition
   * errors are in the answer). Rejects when the broker cannot be reached or does not answer.
   */
  send(broker: MarkerBroker, request: M.WriteTxnMarkersRequest, signal: AbortSignal): Promise<M.WriteTxnMarkersResponse>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** One topic partition of a transaction. */
export interface MarkerPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface MarkerPlan {
  /** Per leading broker, the partitions it must mark, by topic. */
  readonly byBroker: readonly { readonly broker: MarkerBroker; readonly topics: readonly M.TxnTopic[] }[];
  /** Partitions with no leader, or a leader not registered: tried again next round. */
  readonly waiting: readonly MarkerPartition[];
  /** Partitions whose topic (or the partition itself) no longer exists: no marker is needed. */
  readonly gone: readonly MarkerPartition[];
}

/** Where each partition's marker goes now. Pure. */
export function planMarkers(state: MetadataStateView, partitions: readonly MarkerPartition[]): MarkerPlan {
  const byBroker = new Map<number, { broker: MarkerBroker; topics: Map<string, number[]> }>();
  const waiting: MarkerPartition[] = [];
  const gone: MarkerPartition[] = [];
  for (const p of partitions) {
    const assignment = state.topic(p.topic)?.partitions[p.partition];
    if (assignment === undefined) {
      gone.push(p);
      continue;
    }
    const broker = assignment.leader < 0 ? undefined : state.broker(assignment.leader);
    if (broker === undefined) {
      waiting.push(p);
      continue;
    }
    let entry = byBroker.get(broker.nodeId);
    if (entry === undefined) {
      entry = { broker: { nodeId: broker.nodeId, host: broker.host, port: broker.port }, topics: new Map() };
      byBroker.set(broker.nodeId, entry);
    }
    const list = entry.topics.get(p.topic) ?? [];
    list.push(p.partition);
    entry.topics.set(p.topic, list);
  }
  return {
    byBroker: [...byBroker.values()]
      .sort((a, b) => a.broker.nodeId - b.broker.nodeId)
      .map((e) => ({ broker: e.broker, topics: [...e.topics].map(([name, list]) => ({ name, partitions: list.sort((a, b) => a - b) })) })),
    waiting,
    gone,
  };
}

export interface NativeMarkerSenderOptions {
  /** Default 'streambus-txn-coordinator'. */
  readonly clientId?: string;
  /** Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Default 35 000: longer than a partition leader waits for its ISR to have a marker (30 s). */
  readonly requestTimeoutMs?: number;
}

/** A TxnMarkerSender over native connections (client/network), one per broker address. */
export function nativeMarkerSender(options: NativeMarkerSenderOptions = {}): TxnMarkerSender {
  const connections = new Map<string, Promise<Connection>>();
  let closed = false;
  const connectionTo = (broker: MarkerBroker): Promise<Connection> => {
    const key = `${broker.host}:${broker.port}`;
    let connection = connections.get(key);
    if (connection === undefined) {
      connection = connect({
        host: broker.host,
        port: broker.port,
        clientId: options.clientId ?? 'streambus-txn-coordinator',
        connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
        requestTimeoutMs: options.requestTimeoutMs ?? 35_000,
        // No signal: aborting one request must not close the connection other requests share.
      });
      connections.set(key, connection);
      // A failed dial is forgotten so the next round dials again.
      connection.catch(() => {
        if (connections.get(key) === connection) connections.delete(key);
      });
    }
    return connection;
  };
  const drop = async (broker: MarkerBroker, connection: Promise<Connection>): Promise<void> => {
    const key = `${broker.host}:${broker.port}`;
    if (connections.get(key) === connection) connections.delete(key);
    await connection.then((c) => c.close()).catch(() => undefined);
  };
  return {
    async send(broker, request, signal) {
      if (closed) throw new Error('the marker sender is closed');
      const connection = connectionTo(broker);
      try {
        const live = await connection;
        if (!live.connected) throw new Error(`the connection to broker ${broker.nodeId} at ${broker.host}:${broker.port} is closed`);
        return await live.request('WRITE_TXN_MARKERS', request, { signal });
      } catch (error) {
        await drop(broker, connection);
        throw error;
      }
    },
    async close() {
      closed = true;
      const all = [...connections.values()];
      connections.clear();
      await Promise.all(all.map((c) => c.then((live) => live.close()).catch(() => undefined)));
    },
  };
}
