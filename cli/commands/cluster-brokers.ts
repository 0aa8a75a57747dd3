/**
 * `streambus cluster brokers`: every broker registered in the coordinators' metadata, with its
 * address, rack, broker epoch, whether it is fenced or draining (`streambus broker drain`), and how
 * many partitions it leads and holds a replica of. The coordinators are the source of truth for fencing: a broker's own METADATA answer
 * lists fenced brokers too, and a dead broker cannot say it is dead.
 *
 * The command reads the committed metadata log the way a broker follows it (FETCH_METADATA from
 * offset 0, a snapshot first when the log was compacted) and folds it with the coordinator's own
 * state machine, so it shows exactly what every broker will see at that offset; it stops once it
 * has everything that was committed when its last fetch was answered.
 */
import type { CoordinatorClient } from '../../client/index.js';
import type { MetadataStateView } from '../../coordinator/index.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { defineCommand } from '../command.js';
import { address, withCoordinators } from './cluster-shared.js';

/** One broker as the command shows it. */
export interface BrokerRow {
  readonly nodeId: number;
  /** "host:port" of its native listener. */
  readonly address: string;
  readonly rack: string | null;
  readonly brokerEpoch: number;
  readonly fenced: boolean;
  /** In maintenance: leads only what no other in-sync replica can, takes no new replicas. */
  readonly draining: boolean;
  /** Partitions whose leader it is. */
  readonly leaders: number;
  /** Partitions it holds a replica of (leaders included). */
  readonly replicas: number;
}

export interface ClusterBrokers {
  readonly clusterId: string | null;
  /** The metadata offset the view was read at. */
  readonly metadataOffset: number;
  readonly partitions: number;
  /** Partitions without a leader. */
  readonly offlinePartitions: number;
  readonly brokers: readonly BrokerRow[];
}

/** The brokers of a metadata state, in node id order, with their leadership and replica counts. */
export function clusterBrokers(state: MetadataStateView): ClusterBrokers {
  const leaders = new Map<number, number>();
  const replicas = new Map<number, number>();
  const bump = (counts: Map<number, number>, nodeId: number): void => {
    counts.set(nodeId, (counts.get(nodeId) ?? 0) + 1);
  };
  let partitions = 0;
  let offlinePartitions = 0;
  for (const topic of state.topics()) {
    for (const p of topic.partitions) {
      partitions++;
      if (p.leader < 0) offlinePartitions++;
      else bump(leaders, p.leader);
      for (const nodeId of p.replicas) bump(replicas, nodeId);
    }
  }
  return {
    clusterId: state.clusterId,
    metadataOffset: state.lastAppliedOffset,
    partitions,
    offlinePartitions,
    brokers: state.brokers().map((b) => ({
      nodeId: b.nodeId,
      address: address({ host: b.host, port: b.port }) ?? '',
      rack: b.rack,
      brokerEpoch: b.brokerEpoch,
      fenced: b.fenced,
      draining: b.draining === true,
      leaders: leaders.get(b.nodeId) ?? 0,
      replicas: replicas.get(b.nodeId) ?? 0,
    })),
  };
}

/**
 * Reads the committed metadata from the start and returns the state it builds. Rejects with
 * REQUEST_TIMED_OUT when it is not caught up within `waitMs` (no coordinator answers, or the log
 * holds nothing yet), and with the client's errors otherwise. Resolves undefined when `signal`
 * aborts first.
 */
export async function readClusterMetadata(client: CoordinatorClient, waitMs: number, signal: AbortSignal): Promise<MetadataStateView | undefined> {
  const { MetadataState } = await import('../../coordinator/index.js');
  const deadline = AbortSignal.timeout(waitMs);
  let state = MetadataState.empty();
  // Long polls stay short: the log is read to its current end, never waited on.
  for await (const update of client.followMetadata(0, { signal: AbortSignal.any([signal, deadline]), maxWaitMs: Math.min(500, waitMs) })) {
    if (update.kind === 'snapshot') state = MetadataState.restore(update.snapshot);
    else for (const record of update.records) state.apply(record);
    if (state.lastAppliedOffset >= update.committedOffset) return state;
  }
  if (signal.aborted) return undefined;
  throw new StreamBusError(
    ErrorCode.REQUEST_TIMED_OUT,
    state.lastAppliedOffset < 0
      ? `no coordinator served any metadata within ${waitMs} ms (is the coordinator group up, and does it have a leader?)`
      : `the coordinators' metadata was not read to its end within ${waitMs} ms (read up to offset ${state.lastAppliedOffset})`,
  );
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

export const command = defineCommand({
  name: 'cluster brokers',
  summary: 'List the brokers registered with the coordinators: address, rack, epoch, fenced, draining, leaders and replicas',
  description:
    'Reads the committed cluster metadata from the coordinators (any reachable one in --coordinators is enough). A fenced broker takes no new replicas: it has not heartbeated within broker.session.timeout.ms, is shutting down, or has not caught up with the metadata since it registered. A draining broker (`streambus broker drain`) keeps its replicas but leads only what no other in-sync replica can, and takes no new replicas.',
  positionals: [],
  options: {
    'wait-ms': { type: 'integer', min: 1, max: 3_600_000, default: 10_000, valueName: 'ms', description: 'How long to try to read the metadata' },
  },
  examples: ['streambus cluster brokers', 'streambus cluster brokers --coordinators 127.0.0.1:9094 --json'],
  async run(ctx) {
    const state = await withCoordinators(ctx, (client) => readClusterMetadata(client, ctx.options['wait-ms'], ctx.signal));
    if (state === undefined) return;
    const view = clusterBrokers(state);
    if (ctx.out.json) {
      ctx.out.writeJson(view);
      return;
    }
    const fenced = view.brokers.filter((b) => b.fenced).length;
    const draining = view.brokers.filter((b) => b.draining).length;
    const states = [...(fenced === 0 ? [] : [`${fenced} fenced`]), ...(draining === 0 ? [] : [`${draining} draining`])];
    ctx.out.pairs([
      ['Cluster', view.clusterId],
      ['Brokers', states.length === 0 ? view.brokers.length : `${view.brokers.length} (${states.join(', ')})`],
      ['Partitions', view.offlinePartitions === 0 ? view.partitions : `${view.partitions} (${view.offlinePartitions} offline)`],
      ['Metadata offset', view.metadataOffset],
    ]);
    ctx.out.line();
    if (view.brokers.length === 0) {
      ctx.out.note('No brokers are registered.');
      return;
    }
    ctx.out.table(
      [
        { key: 'nodeId', header: 'BROKER' },
        { key: 'address' },
        { key: 'rack' },
        { key: 'brokerEpoch', header: 'EPOCH' },
        { key: 'fenced' },
        { key: 'draining' },
        { key: 'leaders' },
        { key: 'replicas' },
      ],
      view.brokers.map((b) => ({ ...b, fenced: yesNo(b.fenced), draining: yesNo(b.draining) })),
    );
  },
});
