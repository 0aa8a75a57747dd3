/**
 * `streambus producers describe <topic>`: the idempotent and transactional producers each
 * partition's leader keeps state for: producer id and epoch, last sequence written, when it last
 * wrote, and the first offset of its open transaction (Kafka's kafka-transactions.sh
 * describe-producers). An open transaction that never ends holds the partition's last stable
 * offset, and with it every read_committed consumer, at that offset.
 */
import { UsageError, defineCommand } from '../command.js';
import { withAdmin } from './txn-shared.js';

export const command = defineCommand({
  name: 'producers describe',
  summary: 'Show the producers each partition of a topic keeps state for, with their open transactions',
  positionals: [{ name: 'topic', description: 'The topic' }],
  options: {
    partition: { type: 'string', multiple: true, valueName: 'n', description: 'Only this partition; repeatable' },
  },
  examples: ['streambus producers describe orders', 'streambus producers describe orders --partition 0 --json'],
  async run(ctx) {
    const topic = ctx.args.topic;
    const rows = await withAdmin(ctx, async (admin) => {
      const [description] = await admin.describeTopics([topic], { signal: ctx.signal });
      const all = (description?.partitions ?? []).map((p) => p.partition);
      const wanted = ctx.options.partition.length === 0 ? all : ctx.options.partition.map(partitionNumber);
      const { StreamBusError, ErrorCode } = await import('../../client/index.js');
      for (const p of wanted) {
        if (!all.includes(p)) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${topic}" has no partition ${String(p)}`, { context: { topic } });
      }
      return admin.describeProducers(
        wanted.map((partition) => ({ topic, partition })),
        { signal: ctx.signal },
      );
    });
    const producers = rows.flatMap((r) =>
      r.producers.map((p) => ({
        partition: r.partition,
        producerId: p.producerId,
        producerEpoch: p.producerEpoch,
        lastSequence: p.lastSequence,
        lastTimestampMs: p.lastTimestampMs,
        coordinatorEpoch: p.coordinatorEpoch,
        currentTxnStartOffset: p.currentTxnStartOffset ?? null,
      })),
    );
    if (ctx.out.json) {
      ctx.out.writeJson({ topic, producers });
      return;
    }
    if (producers.length === 0) {
      ctx.out.note(`No producer state on ${topic}.`);
      return;
    }
    ctx.out.table(
      [
        { key: 'partition' },
        { key: 'producerId', header: 'PRODUCER' },
        { key: 'producerEpoch', header: 'EPOCH' },
        { key: 'lastSequence', header: 'LAST-SEQ' },
        { key: 'lastWrite', header: 'LAST-WRITE' },
        { key: 'txnStart', header: 'OPEN-TXN-START' },
      ],
      producers.map((p) => ({
        ...p,
        lastWrite: p.lastTimestampMs < 0 ? '-' : new Date(p.lastTimestampMs).toISOString(),
        txnStart: p.currentTxnStartOffset ?? '-',
      })),
    );
  },
});

function partitionNumber(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || text.trim() === '') throw new UsageError(`--partition must be a partition number, got '${text}'`, 'producers describe');
  return n;
}
