/**
 * The group APIs of the native protocol (30-40: FIND_COORDINATOR, JOIN_GROUP, SYNC_GROUP,
 * HEARTBEAT, LEAVE_GROUP, OFFSET_COMMIT, OFFSET_FETCH, LIST_GROUPS, DESCRIBE_GROUPS,
 * DELETE_GROUPS, OFFSET_DELETE) on a coordinator node: each translates its message to a
 * GroupCoordinator call and the answer back. The coordinator node's handler
 * (../service/handler.ts) serves them beside its own APIs.
 *
 * Errors follow the handler's rule: a failure of the whole request (NOT_COORDINATOR on a node that
 * does not lead, COORDINATOR_LOAD_IN_PROGRESS on a leader still catching up) goes in the
 * response's error_code, with a message naming the leader when known; the group's own answers
 * (UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS...) are data in the response, as in Kafka.
 *
 * Long polls. JoinGroup and SyncGroup wait for the group's barriers; they stop waiting when the
 * request's signal aborts (the connection closed or the server is stopping). The member stays in
 * the group as Kafka's coordinator keeps it: its session or the barrier's timeout removes it.
 */
import type { RequestContext } from '../../broker/network/index.js';
import type { RequestOf, ResponseOf } from '../../proto/api.js';
import { ErrorCode, StreamBusError, errorInfo, errorName } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import type { CoordinatorNodeStatus } from '../service/coordinator-api.js';
import type { GroupCoordinatorApi } from './group-coordinator.js';
import type { GroupProtocol, PartitionError } from './group-types.js';

/** The group APIs, in key order. */
export const groupApis = [
  'FIND_COORDINATOR',
  'JOIN_GROUP',
  'SYNC_GROUP',
  'HEARTBEAT',
  'LEAVE_GROUP',
  'OFFSET_COMMIT',
  'OFFSET_FETCH',
  'LIST_GROUPS',
  'DESCRIBE_GROUPS',
  'DELETE_GROUPS',
  'OFFSET_DELETE',
] as const;
export type GroupApi = (typeof groupApis)[number];

/** Kafka's FindCoordinator key types: a consumer group, a transactional id. */
const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

export interface GroupApiDeps {
  readonly groups: GroupCoordinatorApi;
  /** This node's view of the coordinator group (where the leader is). */
  readonly status: () => CoordinatorNodeStatus;
  /** The typed form of any failure (a bug is logged and answered UNKNOWN_SERVER_ERROR). */
  readonly typed: (error: unknown) => StreamBusError;
}

export type GroupHandlers = { [A in GroupApi]: (body: RequestOf<A>, ctx: RequestContext) => Promise<ResponseOf<A>> };

/** The handlers of the group APIs over `deps`. */
export function groupHandlers(deps: GroupApiDeps): GroupHandlers {
  const { groups } = deps;
  /** The error_code and error_message of a failed request. */
  const failure = (error: unknown, ctx: RequestContext): { errorCode: number; errorMessage: string } => {
    // A long poll whose connection went away: nobody reads this answer.
    if (ctx.signal.aborted && !(error instanceof StreamBusError)) return { errorCode: ErrorCode.NETWORK_EXCEPTION, errorMessage: 'the request was abandoned' };
    const typed = deps.typed(error);
    return { errorCode: typed.code, errorMessage: typed.message };
  };
  const ok = { errorCode: ErrorCode.NONE, errorMessage: '' };
  return {
    FIND_COORDINATOR: (body) => Promise.resolve(findCoordinator(body, deps.status())),

    JOIN_GROUP: async (body, ctx) => {
      try {
        const response = await groups.joinGroup(
          {
            groupId: body.groupId,
            memberId: body.memberId,
            groupInstanceId: nullable(body.groupInstanceId),
            clientId: body.clientId !== '' ? body.clientId : ctx.clientId,
            clientHost: body.clientHost !== '' ? body.clientHost : `/${ctx.remoteAddress}`,
            sessionTimeoutMs: body.sessionTimeoutMs,
            rebalanceTimeoutMs: body.rebalanceTimeoutMs,
            protocolType: body.protocolType,
            protocols: body.protocols.map((p): GroupProtocol => ({ name: p.name, metadata: p.metadata })),
            requireKnownMemberId: body.requireKnownMemberId,
            reason: body.reason,
          },
          { signal: ctx.signal },
        );
        return {
          ...coded(response.error),
          generationId: response.generation,
          protocolType: response.protocolType ?? '',
          protocolName: response.protocolName ?? '',
          leader: response.leader,
          skipAssignment: response.skipAssignment,
          memberId: response.memberId,
          members: response.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? '', metadata: asBuffer(m.metadata) })),
        };
      } catch (error) {
        return { ...failure(error, ctx), generationId: -1, protocolType: '', protocolName: '', leader: '', skipAssignment: false, memberId: body.memberId, members: [] };
      }
    },

    SYNC_GROUP: async (body, ctx) => {
      try {
        const response = await groups.syncGroup(
          {
            groupId: body.groupId,
            generation: body.generationId,
            memberId: body.memberId,
            groupInstanceId: nullable(body.groupInstanceId),
            protocolType: nullable(body.protocolType),
            protocolName: nullable(body.protocolName),
            assignments: body.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
          },
          { signal: ctx.signal },
        );
        return { ...coded(response.error), protocolType: response.protocolType ?? '', protocolName: response.protocolName ?? '', assignment: asBuffer(response.assignment) };
      } catch (error) {
        return { ...failure(error, ctx), protocolType: '', protocolName: '', assignment: Buffer.alloc(0) };
      }
    },

    HEARTBEAT: async (body, ctx) => {
      try {
        const member = { groupId: body.groupId, generation: body.generationId, memberId: body.memberId, groupInstanceId: nullable(body.groupInstanceId) };
        return coded(await groups.heartbeat(member, { holdMs: body.holdMs, signal: ctx.signal }));
      } catch (error) {
        return failure(error, ctx);
      }
    },

    LEAVE_GROUP: async (body, ctx) => {
      try {
        const response = await groups.leaveGroup(
          body.groupId,
          body.members.map((m) => ({ memberId: m.memberId, groupInstanceId: nullable(m.groupInstanceId), reason: m.reason })),
        );
        return {
          ...coded(response.error),
          members: response.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? '', ...coded(m.error) })),
        };
      } catch (error) {
        return { ...failure(error, ctx), members: [] };
      }
    },

    OFFSET_COMMIT: async (body, ctx) => {
      try {
        const response = await groups.commitOffsets({
          groupId: body.groupId,
          generation: body.generationId,
          memberId: body.memberId,
          groupInstanceId: nullable(body.groupInstanceId),
          topics: body.topics.map((t) => ({
            topic: t.name,
            partitions: t.partitions.map((p) => ({ partition: p.partition, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata })),
          })),
        });
        return { ...coded(response.error), topics: response.topics.map((t) => ({ name: t.topic, partitions: t.partitions.map(partitionResult) })) };
      } catch (error) {
        return { ...failure(error, ctx), topics: [] };
      }
    },

    OFFSET_FETCH: async (body, ctx) => {
      try {
        const response = await groups.fetchOffsets({
          groupId: body.groupId,
          topics: body.allTopics ? null : body.topics.map((t) => ({ topic: t.name, partitions: t.partitions })),
        });
        return {
          ...coded(response.error),
          topics: response.topics.map((t) => ({
            name: t.topic,
            partitions: t.partitions.map((p) => ({ partition: p.partition, committedOffset: p.offset, committedLeaderEpoch: p.leaderEpoch, metadata: p.metadata, ...coded(p.error) })),
          })),
        };
      } catch (error) {
        return { ...failure(error, ctx), topics: [] };
      }
    },

    LIST_GROUPS: async (body, ctx) => {
      try {
        const listed = await groups.listGroups({ states: body.statesFilter, types: body.typesFilter });
        return { ...ok, groups: listed.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state })) };
      } catch (error) {
        return { ...failure(error, ctx), groups: [] };
      }
    },

    DESCRIBE_GROUPS: async (body, ctx) => {
      try {
        const described = await groups.describeGroups(body.groups);
        return {
          ...ok,
          groups: described.map((g) => ({
            ...coded(g.error),
            groupId: g.groupId,
            groupState: g.state,
            protocolType: g.protocolType,
            protocolData: g.protocolName,
            members: g.members.map((m) => ({
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId ?? '',
              clientId: m.clientId,
              clientHost: m.clientHost,
              memberMetadata: asBuffer(m.metadata),
              memberAssignment: asBuffer(m.assignment),
            })),
          })),
        };
      } catch (error) {
        return { ...failure(error, ctx), groups: [] };
      }
    },

    DELETE_GROUPS: async (body, ctx) => {
      try {
        const results = await groups.deleteGroups(body.groups);
        return { ...ok, results: results.map((r) => ({ groupId: r.groupId, ...coded(r.error) })) };
      } catch (error) {
        return { ...failure(error, ctx), results: [] };
      }
    },

    OFFSET_DELETE: async (body, ctx) => {
      try {
        const response = await groups.deleteOffsets(
          body.groupId,
          body.topics.map((t) => ({ topic: t.name, partitions: t.partitions })),
        );
        return { ...coded(response.error), topics: response.topics.map((t) => ({ name: t.topic, partitions: t.partitions.map(partitionResult) })) };
      } catch (error) {
        return { ...failure(error, ctx), topics: [] };
      }
    },
  };
}

/**
 * FIND_COORDINATOR: the coordinator leader's node id and API address, from this node's view. Key
 * type 0 (a consumer group) and 1 (a transactional id) name the same node: both coordinators run
 * on the Raft leader.
 */
export function findCoordinator(body: M.FindCoordinatorRequest, status: CoordinatorNodeStatus): M.FindCoordinatorResponse {
  const none = { nodeId: -1, host: '', port: 0 };
  if (body.keyType !== KEY_TYPE_GROUP && body.keyType !== KEY_TYPE_TRANSACTION) {
    return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `key type ${body.keyType} is not served: use 0 (a consumer group) or 1 (a transactional id)`, ...none };
  }
  if (body.key === '') {
    return body.keyType === KEY_TYPE_GROUP
      ? { errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: 'the group id is empty', ...none }
      : { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'the transactional id is empty', ...none };
  }
  const api = status.leaderApi;
  if (status.leaderId === 0 || api === undefined) {
    return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: `coordinator node ${status.nodeId} knows no leader with an API address right now (an election may be under way)`, ...none };
  }
  return { errorCode: ErrorCode.NONE, errorMessage: '', nodeId: status.leaderId, host: api.host, port: api.port };
}

function nullable(value: string): string | null {
  return value === '' ? null : value;
}

function coded(error: ErrorCode): { errorCode: number; errorMessage: string } {
  return { errorCode: error, errorMessage: error === ErrorCode.NONE ? '' : errorInfo[errorName(error)].message };
}

function partitionResult(p: PartitionError): M.GroupPartitionResult {
  return { partition: p.partition, ...coded(p.error) };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
