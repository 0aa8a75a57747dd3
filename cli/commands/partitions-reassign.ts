/**
 * `streambus partitions reassign`: moves partition replicas between brokers (Kafka's
 * kafka-reassign-partitions.sh, KIP-455 semantics), through the coordinator leader.
 *
 * Modes, one per run:
 *   --plan plan.json              print each partition's current → proposed replicas; change nothing
 *   --plan plan.json --execute    start the moves (new replicas copy the data, then the switch)
 *   --verify --plan plan.json     done / in progress / not started, per partition
 *   --cancel --plan plan.json     revert the moves of the plan's partitions that are still running
 *   --list                        every reassignment in progress
 *   --generate --topics a,b --brokers 1,2,3
 *                                 propose a balanced plan for those topics over those brokers
 *
 * Reading a plan against the cluster (preview, verify, generate) reads the committed metadata log
 * the way `cluster brokers` does. A partition that could not be moved or cancelled makes the run
 * exit 1 (with --json, the one error document names each); so does --verify when a partition is
 * neither done nor in progress.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { UsageError, defineCommand, type CommandContext, type OptionSpecs, type PositionalSpecs } from '../command.js';
import { readClusterMetadata } from './cluster-brokers.js';
import { withCoordinators } from './cluster-shared.js';
import {
  VerifyStatus,
  brokerIdList,
  commaList,
  ids,
  planDocument,
  previewRows,
  readPlan,
  verifyRows,
  type PlanEntry,
} from './partitions-reassign-plan.js';

const NAME = 'partitions reassign';

type Context = CommandContext<OptionSpecs, PositionalSpecs>;

export const command = defineCommand({
  name: NAME,
  summary: 'Move partition replicas between brokers from a plan: preview, execute, verify, list, cancel, or generate a balanced plan',
  description:
    'A plan is kafka-reassign-partitions\'s JSON: {"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[2,3,4]}]}, the preferred leader first. ' +
    'With --plan alone the command only shows what would move; --execute starts it. New replicas copy the data from the leader and join the in-sync set; ' +
    'then the controller switches the partition to its new replicas and the removed ones delete their copy. The replication factor may change.',
  positionals: [],
  options: {
    plan: { type: 'string', valueName: 'file', description: 'The reassignment plan (JSON)' },
    execute: { type: 'boolean', description: 'Start the moves of --plan (without it, nothing changes)' },
    verify: { type: 'boolean', description: 'Report, per partition of --plan, whether its move is done or in progress' },
    cancel: { type: 'boolean', description: 'Cancel the moves of --plan still in progress (they revert)' },
    list: { type: 'boolean', description: 'List every reassignment in progress' },
    generate: { type: 'boolean', description: 'Propose a balanced plan for --topics over --brokers' },
    topics: { type: 'string', valueName: 'a,b', description: 'With --generate: the topics to plan' },
    brokers: { type: 'string', valueName: '1,2,3', description: 'With --generate: the broker ids to spread the replicas over' },
    'wait-ms': { type: 'integer', min: 1, max: 3_600_000, default: 10_000, valueName: 'ms', description: 'How long to try to read the cluster metadata' },
  },
  examples: [
    'streambus partitions reassign --generate --topics orders --brokers 2,3,4 --json | jq .proposed > plan.json',
    'streambus partitions reassign --plan plan.json',
    'streambus partitions reassign --plan plan.json --execute',
    'streambus partitions reassign --verify --plan plan.json',
    'streambus partitions reassign --list',
    'streambus partitions reassign --cancel --plan plan.json',
  ],
  async run(ctx) {
    const o = ctx.options;
    const modes = (['generate', 'list', 'verify', 'cancel'] as const).filter((m) => o[m]);
    if (modes.length > 1) throw new UsageError(`choose one of --${modes.join(', --')}`, NAME);
    const mode = modes[0] ?? 'plan';
    if (o.execute && mode !== 'plan') throw new UsageError('--execute goes with --plan alone', NAME);
    if (mode !== 'generate' && (o.topics !== undefined || o.brokers !== undefined)) throw new UsageError('--topics and --brokers go with --generate', NAME);
    if ((mode === 'generate' || mode === 'list') && o.plan !== undefined) throw new UsageError(`--${mode} takes no --plan`, NAME);
    switch (mode) {
      case 'generate':
        return generate(ctx, o.topics, o.brokers, o['wait-ms']);
      case 'list':
        return list(ctx);
      default: {
        if (o.plan === undefined) throw new UsageError(mode === 'plan' ? 'give a --plan file (or --list, or --generate)' : `--${mode} needs --plan`, NAME);
        const plan = await readPlan(o.plan, NAME);
        if (mode === 'verify') return verify(ctx, plan, o['wait-ms']);
        if (mode === 'cancel') return cancel(ctx, plan);
        return preview(ctx, plan, o.execute, o['wait-ms']);
      }
    }
  },
});

async function metadata(ctx: Context, waitMs: number): Promise<Awaited<ReturnType<typeof readClusterMetadata>>> {
  return withCoordinators(ctx, (client) => readClusterMetadata(client, waitMs, ctx.signal));
}

/** The plan against the cluster; with `execute`, also starts it. */
async function preview(ctx: Context, plan: readonly PlanEntry[], execute: boolean, waitMs: number): Promise<void> {
  const state = await metadata(ctx, waitMs);
  if (state === undefined) return;
  const rows = previewRows(state, plan);
  if (!execute) {
    if (ctx.out.json) {
      ctx.out.writeJson({ executed: false, metadataOffset: state.lastAppliedOffset, partitions: rows });
      return;
    }
    printPreview(ctx, rows.map((r) => ({ ...r, result: r.current === null ? 'unknown partition' : r.changes ? 'moves' : 'no change' })));
    ctx.out.note('Nothing was changed: run again with --execute to start these moves.');
    return;
  }
  const outcome = await withCoordinators(ctx, (client) =>
    client.reassignPartitions(
      plan.map((p) => ({ topic: p.topic, partition: p.partition, replicas: p.replicas })),
      { signal: ctx.signal },
    ),
  );
  const results = rows.map((row, i) => {
    const error = outcome.results[i]?.error;
    return { ...row, result: error === undefined ? (row.changes ? 'started' : 'no change') : error.codeName, message: error?.message ?? null };
  });
  const failed = outcome.results.filter((r) => r.error !== undefined);
  if (failed.length > 0 && ctx.out.json) throw await failedFor('reassign partitions', failed, outcome.results.length);
  if (ctx.out.json) {
    ctx.out.writeJson({ executed: true, metadataOffset: outcome.metadataOffset, partitions: results });
  } else {
    printPreview(ctx, results);
    if (failed.length < results.length) ctx.out.note('Started. Follow it with: streambus partitions reassign --verify --plan <file>');
  }
  if (failed.length > 0) throw await failedFor('reassign partitions', failed, outcome.results.length);
}

function printPreview(ctx: Context, rows: readonly { topic: string; partition: number; current: readonly number[] | null; proposed: readonly number[]; result: string; message?: string | null }[]): void {
  ctx.out.table(
    [{ key: 'topic' }, { key: 'partition', align: 'right' }, { key: 'current' }, { key: 'proposed' }, { key: 'result' }, { key: 'message' }],
    rows.map((r) => ({ topic: r.topic, partition: r.partition, current: ids(r.current), proposed: ids(r.proposed), result: r.result, message: r.message ?? undefined })),
  );
}

async function verify(ctx: Context, plan: readonly PlanEntry[], waitMs: number): Promise<void> {
  const state = await metadata(ctx, waitMs);
  if (state === undefined) return;
  const rows = verifyRows(state, plan);
  const stuck = rows.filter((r) => r.status === VerifyStatus.NOT_STARTED || r.status === VerifyStatus.UNKNOWN);
  const complete = rows.every((r) => r.status === VerifyStatus.DONE);
  if (ctx.out.json && stuck.length === 0) {
    ctx.out.writeJson({ complete, metadataOffset: state.lastAppliedOffset, partitions: rows });
    return;
  }
  if (!ctx.out.json) {
    ctx.out.table(
      [{ key: 'topic' }, { key: 'partition', align: 'right' }, { key: 'status' }, { key: 'replicas' }, { key: 'adding' }, { key: 'removing' }, { key: 'proposed' }],
      rows.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        status: r.status,
        replicas: ids(r.replicas),
        adding: ids(r.addingReplicas),
        removing: ids(r.removingReplicas),
        proposed: ids(r.proposed),
      })),
    );
    if (stuck.length === 0) ctx.out.note(complete ? 'Every move of the plan is done.' : 'Some moves are still copying data.');
  }
  if (stuck.length > 0) {
    const { AdminError } = await import('../../client/index.js');
    const failures = stuck.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      error: new StreamBusError(
        r.status === VerifyStatus.UNKNOWN ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NO_REASSIGNMENT_IN_PROGRESS,
        r.status === VerifyStatus.UNKNOWN
          ? `${r.topic}-${r.partition} does not exist`
          : `${r.topic}-${r.partition} has replicas [${r.replicas.join(', ')}], not [${r.proposed.join(', ')}], and no reassignment is moving it there`,
        { context: { topic: r.topic, partition: r.partition } },
      ),
    }));
    throw new AdminError('verify reassignment', failures, rows.length);
  }
}

async function cancel(ctx: Context, plan: readonly PlanEntry[]): Promise<void> {
  const outcome = await withCoordinators(ctx, (client) =>
    client.reassignPartitions(
      plan.map((p) => ({ topic: p.topic, partition: p.partition, replicas: null })),
      { signal: ctx.signal },
    ),
  );
  const rows = outcome.results.map((r) => ({
    topic: r.topic,
    partition: r.partition,
    result: r.error === undefined ? 'cancelled' : r.error.code === ErrorCode.NO_REASSIGNMENT_IN_PROGRESS ? 'none in progress' : r.error.codeName,
    message: r.error?.message ?? null,
  }));
  // A partition with nothing to cancel (its move finished, or never started) is not a failure.
  const failed = outcome.results.filter((r) => r.error !== undefined && r.error.code !== ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
  if (failed.length > 0 && ctx.out.json) throw await failedFor('cancel reassignments', failed, outcome.results.length);
  if (ctx.out.json) ctx.out.writeJson({ metadataOffset: outcome.metadataOffset, partitions: rows });
  else ctx.out.table([{ key: 'topic' }, { key: 'partition', align: 'right' }, { key: 'result' }, { key: 'message' }], rows.map((r) => ({ ...r, message: r.message ?? undefined })));
  if (failed.length > 0) throw await failedFor('cancel reassignments', failed, outcome.results.length);
}

async function list(ctx: Context): Promise<void> {
  const outcome = await withCoordinators(ctx, (client) => client.listPartitionReassignments(undefined, { signal: ctx.signal }));
  if (ctx.out.json) {
    ctx.out.writeJson({ metadataOffset: outcome.metadataOffset, reassignments: outcome.reassignments });
    return;
  }
  if (outcome.reassignments.length === 0) {
    ctx.out.line('No reassignment is in progress.');
    return;
  }
  ctx.out.table(
    [{ key: 'topic' }, { key: 'partition', align: 'right' }, { key: 'replicas' }, { key: 'adding' }, { key: 'removing' }],
    outcome.reassignments.map((r) => ({ topic: r.topic, partition: r.partition, replicas: ids(r.replicas), adding: ids(r.addingReplicas), removing: ids(r.removingReplicas) })),
  );
}

async function generate(ctx: Context, topicsText: string | undefined, brokersText: string | undefined, waitMs: number): Promise<void> {
  if (topicsText === undefined || brokersText === undefined) throw new UsageError('--generate needs --topics and --brokers', NAME);
  const names = commaList(topicsText, '--topics', NAME);
  const brokerIds = brokerIdList(brokersText, '--brokers', NAME);
  const state = await metadata(ctx, waitMs);
  if (state === undefined) return;
  const missing = names.filter((name) => state.topic(name) === undefined);
  if (missing.length > 0) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${missing.map((n) => `'${n}'`).join(', ')} does not exist`, { context: { topic: missing[0]! } });
  const unknown = brokerIds.filter((id) => state.broker(id) === undefined);
  if (unknown.length > 0) throw new StreamBusError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `broker ${unknown.join(', ')} is not registered`);
  const { proposeReassignment, reassignmentTarget } = await import('../../coordinator/index.js');
  const topics = names.map((name) => state.topic(name)!);
  const proposed = proposeReassignment(topics, brokerIds);
  const current = topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, replicas: reassignmentTarget(p) })));
  if (ctx.out.json) {
    ctx.out.writeJson({ current: planDocument(current), proposed: planDocument(proposed) });
    return;
  }
  const rows = previewRows(state, proposed);
  printPreview(ctx, rows.map((r) => ({ ...r, result: r.changes ? 'moves' : 'no change' })));
  ctx.out.line();
  ctx.out.line('Proposed plan (save it as a file for --plan):');
  ctx.out.line(JSON.stringify(planDocument(proposed)));
  ctx.out.note(`Current assignment, to go back to: ${JSON.stringify(planDocument(current))}`);
}

/** The client's AdminError for the partitions that failed (each with its own error). */
async function failedFor(operation: string, failed: readonly { topic: string; partition: number; error: StreamBusError | undefined }[], total: number): Promise<StreamBusError> {
  const { AdminError } = await import('../../client/index.js');
  return new AdminError(operation, failed.map((f) => ({ topic: f.topic, partition: f.partition, error: f.error! })), total);
}
