/**
 * `streambus txn list`: every transactional id the transaction coordinator knows, with its state,
 * producer id, the partitions of its open transaction and how long that has been open (Kafka's
 * kafka-transactions.sh list, plus what `describe` shows, so a stuck transaction stands out:
 * it holds back the last stable offset of every partition it touched).
 */
import type { TransactionState } from '../../client/index.js';
import { UsageError, defineCommand } from '../command.js';
import { withGroupCoordinators } from './group-shared.js';
import { ageSeconds } from './txn-shared.js';

export const command = defineCommand({
  name: 'txn list',
  summary: 'List transactional ids with their state, open partitions and age',
  positionals: [],
  options: {
    state: { type: 'string', multiple: true, valueName: 'state', description: 'Only transactions in this state (Ongoing, PrepareCommit, ...); repeatable' },
  },
  examples: ['streambus txn list', 'streambus txn list --state Ongoing --json'],
  async run(ctx) {
    const { TRANSACTION_STATES } = await import('../../client/index.js');
    const states: TransactionState[] = ctx.options.state.map((s) => {
      const state = TRANSACTION_STATES.find((known) => known.toLowerCase() === s.toLowerCase());
      if (state === undefined) throw new UsageError(`--state must be one of ${TRANSACTION_STATES.join(', ')}, got '${s}'`, 'txn list');
      return state;
    });
    const described = await withGroupCoordinators(ctx, async (coordinators) => {
      const listed = await coordinators.transactions.listTransactions(states.length === 0 ? {} : { states }, { signal: ctx.signal });
      if (listed.length === 0) return [];
      return coordinators.transactions.describeTransactions(
        listed.map((t) => t.transactionalId),
        { signal: ctx.signal },
      );
    });
    const nowMs = Date.now();
    const rows = described
      .filter((t) => t.error === undefined)
      .map((t) => ({
        transactionalId: t.transactionalId,
        state: t.state,
        producerId: t.producerId,
        producerEpoch: t.producerEpoch,
        partitions: t.partitions.length,
        ageSeconds: ageSeconds(t.startTimeMs, nowMs),
      }))
      .sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0));
    if (ctx.out.json) {
      ctx.out.writeJson({ transactions: rows });
      return;
    }
    if (rows.length === 0) {
      ctx.out.note('No transactions.');
      return;
    }
    ctx.out.table(
      [
        { key: 'transactionalId', header: 'TRANSACTIONAL-ID' },
        { key: 'state' },
        { key: 'producerId', header: 'PRODUCER' },
        { key: 'producerEpoch', header: 'EPOCH' },
        { key: 'partitions' },
        { key: 'age', header: 'AGE-S' },
      ],
      rows.map((r) => ({ ...r, age: r.ageSeconds === null ? '-' : r.ageSeconds.toFixed(1) })),
    );
  },
});
