/**
 * `streambus txn describe <transactional-id>`: one transactional id as the coordinator holds it:
 * state, producer id and epoch, timeout, and for an open transaction its start time and age, its
 * partitions and the groups whose offsets ride in it. An unknown id fails with
 * TRANSACTIONAL_ID_NOT_FOUND.
 */
import { defineCommand } from '../command.js';
import { withGroupCoordinators } from './group-shared.js';
import { ageSeconds } from './txn-shared.js';

export const command = defineCommand({
  name: 'txn describe',
  summary: 'Show a transactional id: state, producer, open partitions and groups, age',
  positionals: [{ name: 'transactionalId', description: 'The transactional id' }],
  options: {},
  examples: ['streambus txn describe enricher-1', 'streambus txn describe enricher-1 --json'],
  async run(ctx) {
    const [description] = await withGroupCoordinators(ctx, (coordinators) => coordinators.transactions.describeTransactions([ctx.args.transactionalId], { signal: ctx.signal }));
    if (description === undefined) {
      const { ErrorCode, StreamBusError } = await import('../../client/index.js');
      throw new StreamBusError(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, `the coordinator did not describe transactional id ${ctx.args.transactionalId}`);
    }
    if (description.error !== undefined) {
      const { StreamBusError } = await import('../../client/index.js');
      const error = description.error;
      throw new StreamBusError(error.code, `transactional id '${ctx.args.transactionalId}': ${error.message}`, { cause: error });
    }
    const age = ageSeconds(description.startTimeMs, Date.now());
    const partitions = [...description.partitions].sort((a, b) => (a.topic !== b.topic ? (a.topic < b.topic ? -1 : 1) : a.partition - b.partition));
    if (ctx.out.json) {
      ctx.out.writeJson({
        transactionalId: description.transactionalId,
        state: description.state,
        producerId: description.producerId,
        producerEpoch: description.producerEpoch,
        transactionTimeoutMs: description.transactionTimeoutMs,
        startTimeMs: description.startTimeMs ?? null,
        ageSeconds: age,
        partitions,
        groups: description.groups,
      });
      return;
    }
    ctx.out.pairs([
      ['Transactional id', description.transactionalId],
      ['State', description.state],
      ['Producer', `${description.producerId} (epoch ${description.producerEpoch})`],
      ['Timeout (ms)', description.transactionTimeoutMs],
      ['Started', description.startTimeMs === undefined ? '-' : new Date(description.startTimeMs).toISOString()],
      ['Age (s)', age === null ? '-' : age.toFixed(1)],
      ['Groups', description.groups.length === 0 ? '-' : description.groups.join(', ')],
    ]);
    ctx.out.line();
    if (partitions.length === 0) {
      ctx.out.note('No open transaction.');
      return;
    }
    ctx.out.table([{ key: 'topic' }, { key: 'partition' }], partitions);
  },
});
