/**
 * `streambus broker drain <broker-id>` and `streambus broker undrain <broker-id>`: broker
 * maintenance (Redpanda's maintenance mode), through the coordinator leader.
 *
 * drain: the controller moves every leadership the broker holds to another in-sync, live replica
 * that is not draining, in one metadata entry, and from then on preferred elections, the automatic
 * rebalance and new topic placements skip the broker. It keeps its replicas and stays in the ISRs,
 * so acks=all and min.insync.replicas are unchanged: drain before a restart or an upgrade, and
 * before reassigning a broker's replicas away. A partition with no other replica able to lead keeps
 * its leader (it is listed); it moves as soon as one is in sync.
 *
 * undrain: the broker is an ordinary one again. Its leaderships come back with the next preferred
 * election (the automatic rebalance, or `streambus partitions elect-leaders --type preferred`).
 *
 * (`streambus broker` alone starts a broker process; these two sub-words are separate commands.)
 */
import { UsageError, defineCommand } from '../command.js';
import { withCoordinators } from './cluster-shared.js';

/** A broker id argument: an integer ≥ 0. */
function parseBrokerId(text: string, command: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value > 0x7fff_ffff) throw new UsageError(`<broker-id> must be a broker id (an integer ≥ 0), got '${text}'`, command);
  return value;
}

const positionals = [{ name: 'broker-id', description: 'The node.id of the broker' }] as const;

export const drainCommand = defineCommand({
  name: 'broker drain',
  summary: 'Put a broker in maintenance: move its leaderships to other in-sync replicas and keep new ones off it',
  description:
    'Moves every partition leadership of the broker to another replica that is in sync, live and not draining, and keeps preferred elections and new ' +
    'placements off it until `streambus broker undrain`. The broker keeps its replicas and stays in the in-sync sets. Partitions no other replica can ' +
    'lead yet keep their leader and are listed; they move once another replica is in sync.',
  positionals,
  options: {},
  examples: ['streambus broker drain 3', 'streambus broker drain 3 --coordinators 127.0.0.1:9094 --json'],
  async run(ctx) {
    const brokerId = parseBrokerId(ctx.args['broker-id'], 'broker drain');
    const outcome = await withCoordinators(ctx, (client) => client.brokerMaintenance(brokerId, true, { signal: ctx.signal }));
    if (ctx.out.json) {
      ctx.out.writeJson(outcome);
      return;
    }
    ctx.out.line(`Broker ${brokerId} is draining: ${outcome.leadersMoved} leadership${outcome.leadersMoved === 1 ? '' : 's'} moved to other in-sync replicas.`);
    if (outcome.leadersKept.length > 0) {
      const kept = outcome.leadersKept.map((p) => `${p.topic}-${p.partition}`).join(', ');
      ctx.out.warn(`it still leads ${kept}: no other replica is in sync, live and not draining; they move once one is`);
    }
  },
});

export const undrainCommand = defineCommand({
  name: 'broker undrain',
  summary: 'Take a broker out of maintenance, so preferred elections and placements use it again',
  description:
    'Ends the maintenance `streambus broker drain` started. Leaderships come back with the next preferred election: the automatic rebalance ' +
    '(auto.leader.rebalance.enable, every leader.imbalance.check.interval.seconds), or now with `streambus partitions elect-leaders --type preferred`.',
  positionals,
  options: {},
  examples: ['streambus broker undrain 3', 'streambus broker undrain 3 && streambus partitions elect-leaders --type preferred'],
  async run(ctx) {
    const brokerId = parseBrokerId(ctx.args['broker-id'], 'broker undrain');
    const outcome = await withCoordinators(ctx, (client) => client.brokerMaintenance(brokerId, false, { signal: ctx.signal }));
    if (ctx.out.json) {
      ctx.out.writeJson(outcome);
      return;
    }
    ctx.out.line(`Broker ${brokerId} is out of maintenance.`);
    ctx.out.note('Its leaderships come back with the next preferred election (streambus partitions elect-leaders --type preferred does it now).');
  },
});
