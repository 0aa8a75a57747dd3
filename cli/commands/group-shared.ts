/**
 * What the `streambus group ...` commands share: a group's partitions with their committed and end
 * offsets and lag (offsets and seconds), and the member that owns each, gathered from the group
 * coordinator (committed offsets, members and their assignments) and the brokers (end offsets, and
 * the timestamp of the oldest unconsumed record, read with one small fetch per lagging partition).
 */
import type { CoordinatorClient, GroupDescription, PartitionLag } from '../../client/index.js';
import type { StreamBusClient } from '../client.js';
import type { ResolvedConfig } from '../config/index.js';

/** One partition of a group as describe and seek show it. */
export interface GroupPartitionRow extends PartitionLag {
  /** The member that owns it, when the group is Stable and a member was assigned it. */
  readonly memberId: string | null;
  readonly clientId: string | null;
  readonly host: string | null;
}

/** member id → the topic-partitions its assignment names ("topic\0partition" keys). */
export async function assignmentsOf(description: GroupDescription): Promise<Map<string, { memberId: string; clientId: string; host: string }>> {
  const { decodeAssignment } = await import('../../client/index.js');
  const owners = new Map<string, { memberId: string; clientId: string; host: string }>();
  if (description.protocolType !== 'consumer') return owners;
  for (const member of description.members) {
    if (member.assignment.length === 0) continue;
    try {
      for (const [topic, partitions] of decodeAssignment(member.assignment).partitions) {
        for (const partition of partitions) owners.set(`${topic}\u0000${partition}`, { memberId: member.memberId, clientId: member.clientId, host: member.clientHost });
      }
    } catch {
      // An assignment in a format we do not read (another client's protocol): shown without owner.
    }
  }
  return owners;
}

/** The timestamp of the record at `offset` of each partition, read with a short fetch; missing when none came in time. */
async function timestampsAt(client: StreamBusClient, at: readonly { topic: string; partition: number; offset: number }[], signal: AbortSignal): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (at.length === 0) return out;
  const consumer = client.consumer({ maxWaitMs: 100, maxBufferedRecords: at.length * 10 });
  consumer.assign(at.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset })));
  const wanted = new Map(at.map((p) => [`${p.topic}\u0000${p.partition}`, p.offset]));
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(3_000)]);
  try {
    for await (const message of consumer.messages({ signal: deadline })) {
      const key = `${message.topic}\u0000${message.partition}`;
      const offset = wanted.get(key);
      if (offset !== undefined && !out.has(key) && message.offset >= offset) out.set(key, message.timestamp);
      if (out.size === wanted.size) break;
    }
  } catch (error) {
    if (signal.aborted) throw error;
    // The deadline: partitions that gave no record keep an unknown age.
  } finally {
    await consumer.close();
  }
  return out;
}

/**
 * The group's partitions: every partition it has a committed offset for, plus every partition a
 * member is assigned, with end offsets and lag, in topic and partition order.
 */
export async function groupPartitions(
  coordinators: CoordinatorClient,
  client: StreamBusClient,
  groupId: string,
  description: GroupDescription,
  signal: AbortSignal,
): Promise<GroupPartitionRow[]> {
  const { partitionLag } = await import('../../client/index.js');
  const committed = await coordinators.groups.fetchOffsets(groupId, undefined, { signal });
  const owners = await assignmentsOf(description);
  const keys = new Map<string, { topic: string; partition: number; committed: number }>();
  for (const c of committed) keys.set(`${c.topic}\u0000${c.partition}`, { topic: c.topic, partition: c.partition, committed: c.offset });
  for (const key of owners.keys()) {
    if (keys.has(key)) continue;
    const [topic, partition] = key.split('\u0000') as [string, string];
    keys.set(key, { topic, partition: Number(partition), committed: -1 });
  }
  const partitions = [...keys.values()].sort((a, b) => (a.topic !== b.topic ? (a.topic < b.topic ? -1 : 1) : a.partition - b.partition));
  if (partitions.length === 0) return [];
  const admin = client.admin();
  const [ends, starts] = await Promise.all([
    admin.listOffsets(partitions.map((p) => ({ topic: p.topic, partition: p.partition, at: 'latest' as const })), { signal }),
    admin.listOffsets(partitions.map((p) => ({ topic: p.topic, partition: p.partition, at: 'earliest' as const })), { signal }),
  ]);
  const endOf = new Map(ends.map((e) => [`${e.topic}\u0000${e.partition}`, e.offset]));
  const startOf = new Map(starts.map((e) => [`${e.topic}\u0000${e.partition}`, e.offset]));
  const firstUnconsumed = partitions.map((p) => {
    const key = `${p.topic}\u0000${p.partition}`;
    return { topic: p.topic, partition: p.partition, offset: p.committed >= 0 ? p.committed : (startOf.get(key) ?? 0), end: endOf.get(key) ?? 0 };
  });
  const timestamps = await timestampsAt(client, firstUnconsumed.filter((p) => p.offset < p.end), signal);
  const nowMs = Date.now();
  return partitions.map((p) => {
    const key = `${p.topic}\u0000${p.partition}`;
    const owner = owners.get(key);
    const lag = partitionLag({ ...p, start: startOf.get(key) ?? 0, end: endOf.get(key) ?? 0, oldestUnconsumedTimestampMs: timestamps.get(key) }, nowMs);
    return { ...lag, memberId: owner?.memberId ?? null, clientId: owner?.clientId ?? null, host: owner?.host ?? null };
  });
}

/** Describes one group; a group the coordinator does not know reads as Dead. */
export async function describeGroup(coordinators: CoordinatorClient, groupId: string, signal: AbortSignal): Promise<GroupDescription> {
  const [description] = await coordinators.groups.describeGroups([groupId], { signal });
  if (description?.error !== undefined) throw description.error;
  return description!;
}

/**
 * Runs `use` with a coordinator client for the configured coordinators and closes it afterwards;
 * like cluster-shared's withCoordinators, but needing only the configuration, so commands with
 * variadic arguments can use it.
 */
export async function withGroupCoordinators<T>(ctx: { readonly config: ResolvedConfig }, use: (client: CoordinatorClient) => Promise<T>): Promise<T> {
  const { CoordinatorClient } = await import('../../client/index.js');
  const client = new CoordinatorClient({
    bootstrap: ctx.config.values.coordinators,
    clientId: ctx.config.values['client.id'],
    requestTimeoutMs: ctx.config.values['request.timeout.ms'],
  });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}
