/**
 * A group member in its own process, for the kill -9 and SIGSTOP tests (groups-failure.test.ts):
 * it joins the group named on its command line, consumes the topic, and prints one JSON line per
 * assignment change (and one when it loses its partitions), so the test can follow it.
 *
 * Usage: node groups-member.child.js <bootstrap> <topic> <group> <sessionTimeoutMs>
 */
import { StreamBus } from '../../client/index.js';

const [bootstrap, topic, group, sessionTimeoutMs] = process.argv.slice(2);
if (bootstrap === undefined || topic === undefined || group === undefined || sessionTimeoutMs === undefined) {
  throw new Error('usage: groups-member.child <bootstrap> <topic> <group> <sessionTimeoutMs>');
}
const bus = new StreamBus({ brokers: [bootstrap], clientId: 'child-member' });
const consumer = bus.consumer({ groupId: group, sessionTimeoutMs: Number(sessionTimeoutMs), heartbeatIntervalMs: 200, autoOffsetReset: 'earliest', maxWaitMs: 100 });
const report = (): void => {
  process.stdout.write(`${JSON.stringify({ memberId: consumer.memberId, generation: consumer.generation, partitions: consumer.assignment().map((tp) => tp.partition) })}\n`);
};
consumer.subscribe([topic], {
  onAssigned: report,
  onRevoked: report,
  onLost: (lost) => {
    process.stdout.write(`${JSON.stringify({ lost: lost.map((tp) => tp.partition) })}\n`);
  },
});
await consumer.run({ eachMessage: () => undefined });
