/**
 * Kafka's consumer-group APIs, forwarded one to one to the group coordinator: JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete, DescribeGroups, ListGroups and
 * DeleteGroups.
 *
 * Routing. The group coordinator runs on the coordinator (Raft) leader, which speaks only the
 * native protocol. FindCoordinator therefore names the answering broker itself, and that broker
 * forwards each group request through its coordinator client's group calls, which find the leader,
 * follow it when it moves and retry NOT_COORDINATOR and COORDINATOR_LOAD_IN_PROGRESS. A Kafka
 * client thus never has to chase the coordinator: whichever broker it asked answers.
 *
 * Long polls. JoinGroup and SyncGroup wait for the other members. The forwarded call takes the
 * connection's abort signal (a client that hangs up stops the wait) and the member's rebalance
 * timeout: JoinGroup carries it (v0: the session timeout, as Kafka does) and SyncGroup is given the
 * one its member last joined with, remembered in a bounded table.
 *
 * Metadata and assignment bytes (the consumer protocol's subscription and assignment) pass
 * through untouched in both directions. Errors: the coordinator's codes are Kafka's, and pass
 * through the one table in proto/kafka/errors.ts.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { KafkaErrorCode, toKafkaErrorCode, type KafkaApiName, type KafkaRequest, type KafkaResponse } from '../../proto/kafka/index.js';
import { AdminError } from '../../client/index.js';
import { kafkaFailureOf, type KafkaFailure } from './failure.js';
import { respond, type KafkaContext, type KafkaGroupCoordinator, type KafkaOutcome } from './types.js';

type Outcome<A extends KafkaApiName> = Promise<KafkaOutcome<A>>;

/** Kafka's INVALID_GROUP_ID: the group id is empty. */
const INVALID_GROUP_ID = 24;
/** Entries of the rebalance-timeout table; the oldest goes first when it is full. */
const REBALANCE_TIMEOUTS_MAX = 10_000;

export class KafkaGroupApis {
  readonly #groups: KafkaGroupCoordinator;
  /** `${groupId}\0${memberId}` → the rebalance timeout of the member's last join. */
  readonly #rebalanceTimeoutMs = new Map<string, number>();

  constructor(groups: KafkaGroupCoordinator) {
    this.#groups = groups;
  }

  async joinGroup(request: KafkaRequest<'JOIN_GROUP'>, ctx: KafkaContext): Outcome<'JOIN_GROUP'> {
    const rebalanceTimeoutMs = ctx.apiVersion === 0 || request.rebalanceTimeoutMs <= 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs;
    const failed = (code: number): KafkaOutcome<'JOIN_GROUP'> =>
      respond({ throttleTimeMs: 0, errorCode: code, generationId: -1, protocolName: '', leader: '', memberId: request.memberId, members: [] });
    if (request.groupId === '') return failed(INVALID_GROUP_ID);
    try {
      const joined = await this.#groups.joinGroup(
        {
          groupId: request.groupId,
          memberId: request.memberId,
          groupInstanceId: request.groupInstanceId ?? undefined,
          sessionTimeoutMs: request.sessionTimeoutMs,
          rebalanceTimeoutMs,
          protocolType: request.protocolType,
          protocols: request.protocols,
          // The Kafka client's identity, not this broker's, as Kafka's DescribeGroups shows it.
          clientId: ctx.clientId,
          clientHost: kafkaClientHost(ctx.remoteAddress),
        },
        { signal: ctx.signal },
      );
      this.#remember(request.groupId, joined.memberId, rebalanceTimeoutMs);
      return respond({
        throttleTimeMs: 0,
        errorCode: KafkaErrorCode.NONE,
        generationId: joined.generation,
        protocolName: joined.protocolName,
        leader: joined.leader,
        memberId: joined.memberId,
        members: joined.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, metadata: m.metadata })),
      });
    } catch (error) {
      return failed(this.#failure(error, ctx, 'join group').code);
    }
  }

  async syncGroup(request: KafkaRequest<'SYNC_GROUP'>, ctx: KafkaContext): Outcome<'SYNC_GROUP'> {
    const failed = (code: number): KafkaOutcome<'SYNC_GROUP'> => respond({ throttleTimeMs: 0, errorCode: code, assignment: Buffer.alloc(0) });
    if (request.groupId === '') return failed(INVALID_GROUP_ID);
    const rebalanceTimeoutMs = this.#rebalanceTimeoutMs.get(memberKey(request.groupId, request.memberId));
    try {
      const synced = await this.#groups.syncGroup(
        {
          groupId: request.groupId,
          generation: request.generationId,
          memberId: request.memberId,
          groupInstanceId: request.groupInstanceId ?? undefined,
          assignments: request.assignments,
        },
        rebalanceTimeoutMs === undefined ? { signal: ctx.signal } : { signal: ctx.signal, rebalanceTimeoutMs },
      );
      return respond({ throttleTimeMs: 0, errorCode: KafkaErrorCode.NONE, assignment: synced.assignment });
    } catch (error) {
      return failed(this.#failure(error, ctx, 'sync group').code);
    }
  }

  async heartbeat(request: KafkaRequest<'HEARTBEAT'>, ctx: KafkaContext): Outcome<'HEARTBEAT'> {
    if (request.groupId === '') return respond({ throttleTimeMs: 0, errorCode: INVALID_GROUP_ID });
    try {
      await this.#groups.heartbeat(
        { groupId: request.groupId, generation: request.generationId, memberId: request.memberId, groupInstanceId: request.groupInstanceId ?? undefined },
        { signal: ctx.signal },
      );
      return respond({ throttleTimeMs: 0, errorCode: KafkaErrorCode.NONE });
    } catch (error) {
      return respond({ throttleTimeMs: 0, errorCode: this.#failure(error, ctx, 'heartbeat').code });
    }
  }

  async leaveGroup(request: KafkaRequest<'LEAVE_GROUP'>, ctx: KafkaContext): Outcome<'LEAVE_GROUP'> {
    // v0-2 name one member; v3 a batch, each by member id or instance id.
    const leaving = ctx.apiVersion >= 3 ? request.members : [{ memberId: request.memberId, groupInstanceId: null }];
    if (request.groupId === '') return respond({ throttleTimeMs: 0, errorCode: INVALID_GROUP_ID, members: [] });
    try {
      const left = await this.#groups.leaveGroup(
        request.groupId,
        leaving.map((m) => ({ memberId: m.memberId === '' ? undefined : m.memberId, groupInstanceId: m.groupInstanceId ?? undefined })),
        { signal: ctx.signal },
      );
      for (const m of leaving) this.#rebalanceTimeoutMs.delete(memberKey(request.groupId, m.memberId));
      const members = left.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, errorCode: codeOf(m.error) }));
      // Before v3 the one member's outcome is the request's.
      const errorCode = ctx.apiVersion >= 3 ? KafkaErrorCode.NONE : (members[0]?.errorCode ?? KafkaErrorCode.NONE);
      return respond({ throttleTimeMs: 0, errorCode, members });
    } catch (error) {
      return respond({ throttleTimeMs: 0, errorCode: this.#failure(error, ctx, 'leave group').code, members: [] });
    }
  }

  async offsetCommit(request: KafkaRequest<'OFFSET_COMMIT'>, ctx: KafkaContext): Outcome<'OFFSET_COMMIT'> {
    const answer = (codeOfPartition: (topic: string, partition: number) => number): KafkaOutcome<'OFFSET_COMMIT'> =>
      respond({
        throttleTimeMs: 0,
        topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOfPartition(t.name, p.partitionIndex) })) })),
      });
    if (request.groupId === '') return answer(() => INVALID_GROUP_ID);
    const offsets = request.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: p.committedLeaderEpoch,
        metadata: p.committedMetadata ?? '',
      })),
    );
    if (offsets.length === 0) return answer(() => KafkaErrorCode.NONE);
    try {
      await this.#groups.commitOffsets(
        {
          groupId: request.groupId,
          generation: request.generationId,
          memberId: request.memberId === '' ? undefined : request.memberId,
          groupInstanceId: request.groupInstanceId ?? undefined,
          offsets,
        },
        { signal: ctx.signal },
      );
      return answer(() => KafkaErrorCode.NONE);
    } catch (error) {
      const perPartition = partitionFailures(error);
      if (perPartition !== undefined) return answer((topic, partition) => perPartition.get(`${topic}\0${partition}`) ?? KafkaErrorCode.NONE);
      const { code } = this.#failure(error, ctx, 'offset commit');
      return answer(() => code);
    }
  }

  async offsetFetch(request: KafkaRequest<'OFFSET_FETCH'>, ctx: KafkaContext): Outcome<'OFFSET_FETCH'> {
    const asked = request.topics?.map((t) => ({ topic: t.name, partitions: t.partitionIndexes }));
    const failed = (code: number): KafkaOutcome<'OFFSET_FETCH'> =>
      respond({
        throttleTimeMs: 0,
        // v1 has no request-level error: every partition asked carries it.
        topics: (asked ?? []).map((t) => ({
          name: t.topic,
          partitions: t.partitions.map((p) => ({ partitionIndex: p, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: code })),
        })),
        errorCode: code,
      });
    if (request.groupId === '') return failed(INVALID_GROUP_ID);
    if (asked !== undefined && asked.every((t) => t.partitions.length === 0)) return respond({ throttleTimeMs: 0, topics: [], errorCode: KafkaErrorCode.NONE });
    try {
      const committed = await this.#groups.fetchOffsets(request.groupId, asked, { signal: ctx.signal });
      const byTopic = new Map<string, KafkaResponse<'OFFSET_FETCH'>['topics'][number]['partitions'][number][]>();
      for (const c of committed) {
        const partitions = byTopic.get(c.topic) ?? [];
        partitions.push({ partitionIndex: c.partition, committedOffset: c.offset, committedLeaderEpoch: c.leaderEpoch, metadata: c.metadata, errorCode: KafkaErrorCode.NONE });
        byTopic.set(c.topic, partitions);
      }
      return respond({ throttleTimeMs: 0, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })), errorCode: KafkaErrorCode.NONE });
    } catch (error) {
      return failed(this.#failure(error, ctx, 'offset fetch').code);
    }
  }

  async offsetDelete(request: KafkaRequest<'OFFSET_DELETE'>, ctx: KafkaContext): Outcome<'OFFSET_DELETE'> {
    const answer = (errorCode: number, codeOfPartition: (topic: string, partition: number) => number): KafkaOutcome<'OFFSET_DELETE'> =>
      respond({
        errorCode,
        throttleTimeMs: 0,
        topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOfPartition(t.name, p.partitionIndex) })) })),
      });
    if (request.groupId === '') return answer(INVALID_GROUP_ID, () => KafkaErrorCode.NONE);
    const topics = request.topics.filter((t) => t.partitions.length > 0).map((t) => ({ topic: t.name, partitions: t.partitions.map((p) => p.partitionIndex) }));
    if (topics.length === 0) return answer(KafkaErrorCode.NONE, () => KafkaErrorCode.NONE);
    try {
      await this.#groups.deleteOffsets(request.groupId, topics, { signal: ctx.signal });
      return answer(KafkaErrorCode.NONE, () => KafkaErrorCode.NONE);
    } catch (error) {
      // Partitions a member is subscribed to come back one by one; the group's own refusal
      // (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP) is the request's.
      const perPartition = partitionFailures(error);
      if (perPartition !== undefined) return answer(KafkaErrorCode.NONE, (topic, partition) => perPartition.get(`${topic}\0${partition}`) ?? KafkaErrorCode.NONE);
      return answer(this.#failure(error, ctx, 'offset delete').code, () => KafkaErrorCode.NONE);
    }
  }

  async describeGroups(request: KafkaRequest<'DESCRIBE_GROUPS'>, ctx: KafkaContext): Outcome<'DESCRIBE_GROUPS'> {
    const unnamed = (groupId: string, code: number): KafkaResponse<'DESCRIBE_GROUPS'>['groups'][number] => ({
      errorCode: code,
      groupId,
      groupState: '',
      protocolType: '',
      protocolData: '',
      members: [],
      authorizedOperations: -2147483648,
    });
    const named = request.groups.filter((g) => g !== '');
    if (named.length === 0) return respond({ throttleTimeMs: 0, groups: request.groups.map((g) => unnamed(g, INVALID_GROUP_ID)) });
    try {
      const described = new Map((await this.#groups.describeGroups(named, { signal: ctx.signal })).map((d) => [d.groupId, d]));
      return respond({
        throttleTimeMs: 0,
        groups: request.groups.map((groupId) => {
          const d = described.get(groupId);
          if (d === undefined) return unnamed(groupId, groupId === '' ? INVALID_GROUP_ID : KafkaErrorCode.UNKNOWN_SERVER_ERROR);
          return {
            errorCode: codeOf(d.error),
            groupId,
            groupState: d.state,
            protocolType: d.protocolType,
            protocolData: d.protocolName,
            members: d.members.map((m) => ({
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId ?? null,
              clientId: m.clientId,
              clientHost: m.clientHost,
              memberMetadata: m.metadata,
              memberAssignment: m.assignment,
            })),
            authorizedOperations: -2147483648,
          };
        }),
      });
    } catch (error) {
      const { code } = this.#failure(error, ctx, 'describe groups');
      return respond({ throttleTimeMs: 0, groups: request.groups.map((g) => unnamed(g, code)) });
    }
  }

  async listGroups(ctx: KafkaContext): Outcome<'LIST_GROUPS'> {
    try {
      const groups = await this.#groups.listGroups({}, { signal: ctx.signal });
      return respond({ throttleTimeMs: 0, errorCode: KafkaErrorCode.NONE, groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })) });
    } catch (error) {
      return respond({ throttleTimeMs: 0, errorCode: this.#failure(error, ctx, 'list groups').code, groups: [] });
    }
  }

  async deleteGroups(request: KafkaRequest<'DELETE_GROUPS'>, ctx: KafkaContext): Outcome<'DELETE_GROUPS'> {
    const named = request.groupsNames.filter((g) => g !== '');
    const answer = (codeOfGroup: (groupId: string) => number): KafkaOutcome<'DELETE_GROUPS'> =>
      respond({ throttleTimeMs: 0, results: request.groupsNames.map((groupId) => ({ groupId, errorCode: groupId === '' ? INVALID_GROUP_ID : codeOfGroup(groupId) })) });
    if (named.length === 0) return answer(() => INVALID_GROUP_ID);
    try {
      const deleted = new Map((await this.#groups.deleteGroups(named, { signal: ctx.signal })).map((d) => [d.groupId, codeOf(d.error)]));
      return answer((groupId) => deleted.get(groupId) ?? KafkaErrorCode.UNKNOWN_SERVER_ERROR);
    } catch (error) {
      const { code } = this.#failure(error, ctx, 'delete groups');
      return answer(() => code);
    }
  }

  #remember(groupId: string, memberId: string, rebalanceTimeoutMs: number): void {
    const key = memberKey(groupId, memberId);
    this.#rebalanceTimeoutMs.delete(key);
    if (this.#rebalanceTimeoutMs.size >= REBALANCE_TIMEOUTS_MAX) {
      const oldest = this.#rebalanceTimeoutMs.keys().next();
      if (oldest.done !== true) this.#rebalanceTimeoutMs.delete(oldest.value);
    }
    this.#rebalanceTimeoutMs.set(key, rebalanceTimeoutMs);
  }

  #failure(error: unknown, ctx: KafkaContext, what: string): KafkaFailure {
    return kafkaFailureOf(error, ctx.logger, what);
  }
}

/** The group coordinator of a listener started without one: every call answers COORDINATOR_NOT_AVAILABLE. */
export const noGroupCoordinator: KafkaGroupCoordinator = {
  joinGroup: unavailable,
  syncGroup: unavailable,
  heartbeat: unavailable,
  leaveGroup: unavailable,
  commitOffsets: unavailable,
  fetchOffsets: unavailable,
  deleteOffsets: unavailable,
  describeGroups: unavailable,
  listGroups: unavailable,
  deleteGroups: unavailable,
};

function unavailable(): Promise<never> {
  return Promise.reject(new StreamBusError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'this broker has no group coordinator to forward to'));
}

function memberKey(groupId: string, memberId: string): string {
  return `${groupId}\0${memberId}`;
}

function codeOf(error: StreamBusError | undefined): number {
  return error === undefined ? KafkaErrorCode.NONE : toKafkaErrorCode(error.code);
}

/** The per-partition codes of a commit or offset deletion the coordinator refused in part (client AdminError). */
function partitionFailures(error: unknown): Map<string, number> | undefined {
  if (!(error instanceof AdminError)) return undefined;
  const out = new Map<string, number>();
  for (const f of error.failures) out.set(`${f.topic}\0${f.partition ?? -1}`, toKafkaErrorCode(f.error.code));
  return out;
}

/** Kafka's client_host: the peer's address after a slash, without the port ("host:port" here). */
export function kafkaClientHost(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(':');
  return `/${colon > 0 ? remoteAddress.slice(0, colon) : remoteAddress}`;
}
