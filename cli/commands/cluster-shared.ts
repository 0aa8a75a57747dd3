/**
 * What the `streambus cluster ...` commands share: the coordinator client they talk through
 * (built from the `coordinators` setting, closed when the command ends), node-id and address
 * arguments, and the shapes a coordinator's status takes on screen and in JSON.
 *
 * The coordinator client is loaded with the rest of the client library on first use, as the
 * broker client is (cli/client.ts), so `--help` stays fast.
 */
import type { CoordinatorClient, CoordinatorMember, CoordinatorStatus, Endpoint } from '../../client/index.js';
import type { CommandContext, OptionSpecs, PositionalSpecs } from '../command.js';
import { UsageError } from '../command.js';

/** Runs `use` with a coordinator client for the configured coordinators, and closes it afterwards. */
export async function withCoordinators<T>(ctx: CommandContext<OptionSpecs, PositionalSpecs>, use: (client: CoordinatorClient) => Promise<T>): Promise<T> {
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

/** A coordinator node id argument: a positive 32-bit integer. */
export function parseNodeId(text: string, command: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > 0x7fff_ffff) throw new UsageError(`<node-id> must be a positive integer, got '${text}'`, command);
  return value;
}

/** A host:port option value. */
export function parseAddress(text: string, option: string, command: string): Endpoint {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (match === null || match[1] === '' || port < 1 || port > 65_535) throw new UsageError(`${option} expects host:port, got '${text}'`, command);
  return { host: match[1]!, port };
}

export function address(endpoint: Endpoint | undefined): string | null {
  if (endpoint === undefined) return null;
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/** A member as `--json` prints it: addresses as "host:port", unknowns as null. */
export function memberJson(member: CoordinatorMember): Record<string, unknown> {
  return {
    nodeId: member.nodeId,
    raft: address(member.raft),
    api: address(member.api),
    voter: member.voter,
    matchIndex: member.matchIndex ?? null,
    lag: member.lag ?? null,
    active: member.active ?? null,
  };
}

/** A node's status as `--json` prints it. */
export function statusJson(status: CoordinatorStatus): Record<string, unknown> {
  return {
    clusterId: status.clusterId,
    nodeId: status.nodeId,
    role: status.role,
    leaderId: status.leaderId === 0 ? null : status.leaderId,
    leaderApi: address(status.leaderApi ?? (status.role === 'leader' ? status.address : undefined)),
    term: status.term,
    commitIndex: status.commitIndex,
    appliedIndex: status.appliedIndex,
    lastIndex: status.lastIndex,
    snapshotIndex: status.snapshotIndex,
    metadataOffset: status.metadataOffset,
    members: status.members.map(memberJson),
  };
}

function yesNo(value: boolean | undefined): string | undefined {
  return value === undefined ? undefined : value ? 'yes' : 'no';
}

/** The members table for people. */
export function printMembers(ctx: CommandContext<OptionSpecs, PositionalSpecs>, members: readonly CoordinatorMember[]): void {
  ctx.out.table(
    [
      { key: 'nodeId', header: 'NODE' },
      { key: 'raft' },
      { key: 'api' },
      { key: 'voter' },
      { key: 'match', align: 'right' },
      { key: 'lag', align: 'right' },
      { key: 'active' },
    ],
    members.map((m) => ({
      nodeId: m.nodeId,
      raft: address(m.raft),
      api: address(m.api),
      voter: yesNo(m.voter),
      match: m.matchIndex,
      lag: m.lag,
      active: yesNo(m.active),
    })),
  );
}
