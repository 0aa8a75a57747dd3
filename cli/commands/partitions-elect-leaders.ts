/**
 * `streambus partitions elect-leaders --type preferred|unclean [--topic T [--partition P]]`: runs a
 * leader election on the coordinator leader (Kafka's kafka-leader-election.sh).
 *
 * preferred: each partition's leadership moves to its first replica when that replica is in sync
 * and alive (after a failover, to spread leaders out again). unclean: a partition without a leader
 * gets one even if no in-sync replica is alive: records the new leader lacks are lost, which is why
 * the operator must ask for it by name.
 *
 * Without --topic every partition is considered and only the partitions that needed an election
 * are listed. A partition that could not be elected (other than "not needed") makes the command
 * exit 1: for people after the table of every result, with --json as the one error document,
 * which lists each failed partition.
 */
import { ErrorCode, type StreamBusError } from '../../proto/errors.js';
import { UsageError, defineCommand } from '../command.js';
import { withCoordinators } from './cluster-shared.js';

const NAME = 'partitions elect-leaders';

export const command = defineCommand({
  name: NAME,
  summary: 'Move partition leadership back to preferred replicas, or elect leaders for leaderless partitions (unclean)',
  positionals: [],
  options: {
    type: { type: 'string', valueName: 'preferred|unclean', description: 'preferred: back to the first replica when it is in sync; unclean: any live replica for partitions without a leader (may lose records)' },
    topic: { type: 'string', valueName: 'name', description: 'Only this topic (default: every topic)' },
    partition: { type: 'integer', valueName: 'n', min: 0, description: 'Only this partition of --topic' },
  },
  examples: [
    'streambus partitions elect-leaders --type preferred',
    'streambus partitions elect-leaders --type preferred --topic orders --partition 3',
    'streambus partitions elect-leaders --type unclean --topic orders --json',
  ],
  async run(ctx) {
    const type = ctx.options.type;
    if (type !== 'preferred' && type !== 'unclean') throw new UsageError(`--type must be preferred or unclean, got ${type === undefined ? 'nothing' : `'${type}'`}`, NAME);
    const { topic, partition } = ctx.options;
    if (partition !== undefined && topic === undefined) throw new UsageError('--partition needs --topic', NAME);
    const topics = topic === undefined ? undefined : [partition === undefined ? { topic } : { topic, partitions: [partition] }];
    const outcome = await withCoordinators(ctx, (client) => client.electLeaders({ type, topics }, { signal: ctx.signal }));
    const rows = outcome.results.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      leader: r.leader < 0 ? null : r.leader,
      result: r.error === undefined ? 'elected' : r.error.codeName,
      message: r.error?.message ?? null,
    }));
    const failed = outcome.results.filter((r) => r.error !== undefined && r.error.code !== ErrorCode.ELECTION_NOT_NEEDED);
    // One document on stdout with --json: the results, or the error naming each failed partition.
    if (failed.length > 0 && ctx.out.json) throw await electionFailed(failed, outcome.results.length);
    if (ctx.out.json) {
      ctx.out.writeJson({ type, metadataOffset: outcome.metadataOffset, partitions: rows });
    } else if (rows.length === 0) {
      ctx.out.line(`No partition needed a ${type} election.`);
    } else {
      ctx.out.table(
        [{ key: 'topic' }, { key: 'partition', align: 'right' }, { key: 'leader', align: 'right' }, { key: 'result' }, { key: 'message' }],
        rows.map((r) => ({ ...r, leader: r.leader ?? undefined, message: r.message ?? undefined })),
      );
    }
    if (failed.length > 0) throw await electionFailed(failed, outcome.results.length);
  },
});

/** The client's AdminError for the partitions that could not be elected (each with its own error). */
async function electionFailed(failed: readonly { topic: string; partition: number; error: StreamBusError | undefined }[], total: number): Promise<StreamBusError> {
  const { AdminError } = await import('../../client/index.js');
  return new AdminError('elect leaders', failed.map((f) => ({ topic: f.topic, partition: f.partition, error: f.error! })), total);
}
