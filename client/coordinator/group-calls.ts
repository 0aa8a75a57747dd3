/**
 * The coordinator client's group calls: Kafka's group protocol (join, sync, heartbeat, leave),
 * offsets (commit, fetch, delete) and group administration (list, describe, delete) against the
 * group coordinator, which runs on the coordinator (Raft) leader. `CoordinatorClient.groups` is
 * one of these, sharing the client's connections and options.
 *
 * ```ts
 * const join = await coordinators.groups.joinGroup({ groupId: 'billing', sessionTimeoutMs: 45_000,
 *   rebalanceTimeoutMs: 60_000, protocols: [{ name: 'range', metadata: subscription }] });
 * const { assignment } = await coordinators.groups.syncGroup({ groupId: 'billing', generation: join.generation,
 *   memberId: join.memberId, assignments: join.isLeader ? assign(join.members) : [] });
 * await coordinators.groups.heartbeat({ groupId: 'billing', generation: join.generation, memberId: join.memberId });
 * ```
 *
 * Finding the coordinator. FIND_COORDINATOR, asked of every known coordinator node at once, names
 * the leader's API address; the first answer is used until a call fails in a way that says the
 * coordinator moved (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, a dropped connection, a timeout,
 * SHUTTING_DOWN). The search is single-flight: concurrent calls share it. When the addresses that
 * answer say UNKNOWN_API (they are brokers, which serve no coordinator API) and the rest cannot be
 * reached, the call fails at once with UNKNOWN_API rather than retrying until its deadline.
 *
 * Retries. Every call runs until its deadline (timeoutMs; joinGroup and syncGroup default to the
 * rebalance timeout plus requestTimeoutMs, since they wait for the other members). A call is sent
 * again, to the coordinator found anew, after NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and
 * COORDINATOR_LOAD_IN_PROGRESS (the new leader is loading its groups), TOO_MANY_IN_FLIGHT and
 * THROTTLING_QUOTA_EXCEEDED (nothing was done), and after a dropped connection or a timeout, which
 * leave the outcome unknown, for every call but deleteGroups (repeating a join, sync, heartbeat,
 * leave or commit is harmless; a repeated deletion would report GROUP_ID_NOT_FOUND for a success).
 *
 * Errors. The group's own answers are thrown as StreamBusError with Kafka's code, for the caller to
 * act on: REBALANCE_IN_PROGRESS (join again), UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION (join again
 * from scratch), FENCED_INSTANCE_ID (another process took this group.instance.id: stop),
 * INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT, GROUP_MAX_SIZE_REACHED. joinGroup answers
 * MEMBER_ID_REQUIRED (KIP-394) itself by joining again with the id it was given. commitOffsets
 * rejects with AdminError naming each partition that failed (UNKNOWN_TOPIC_OR_PARTITION,
 * OFFSET_METADATA_TOO_LARGE); the others were committed. Bad arguments reject with INVALID_REQUEST
 * before anything is sent.
 */
import type { ApiName, RequestOf, ResponseOf } from '../../proto/api.js';
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { AdminError, type ItemFailure } from '../errors.js';
import type { Random } from '../policy/random.js';
import { decideRetry, type ResolvedRetryOptions } from '../policy/retry.js';
import { delay, raceSignal, throwIfAborted } from '../signal.js';
import { formatEndpoint, sameEndpoint } from './endpoints.js';
import { outcomeUnknown } from './retry-rules.js';
import type {
  CommittedOffset,
  GroupCoordinatorLocation,
  GroupDeletion,
  GroupDescription,
  GroupGeneration,
  GroupListing,
  GroupStateName,
  JoinGroupResult,
  JoinGroupSpec,
  LeavingMemberSpec,
  LeftMember,
  OffsetCommitSpec,
  SyncGroupResult,
  SyncGroupSpec,
} from './group-types.js';
import type { CoordinatorCallOptions, CoordinatorClientLogger, Endpoint } from './types.js';

/** What the group calls need from the coordinator client that owns them. */
export interface GroupTransport {
  /** One request to one node; a failure before it left is reported by unsent(). */
  request<A extends ApiName>(endpoint: Endpoint, api: A, body: RequestOf<A>, timeoutMs: number, signal: AbortSignal | undefined): Promise<ResponseOf<A>>;
  /** Whether a failed request never left this process (safe to send again whatever the call). */
  unsent(error: StreamBusError): boolean;
  /** Coordinator API addresses worth asking, best first. */
  candidates(): readonly Endpoint[];
  readonly requestTimeoutMs: number;
  readonly probeTimeoutMs: number;
  readonly retry: ResolvedRetryOptions;
  readonly random: Random;
  readonly logger: CoordinatorClientLogger;
}

/** Kafka's FindCoordinator key type of a consumer group. */
const KEY_TYPE_GROUP = 0;
/** The key FIND_COORDINATOR is asked with for calls about no group in particular. */
const ANY_GROUP = '*';
const CONSUMER = 'consumer';

/** The coordinator moved or is not there: find it again, then retry. */
const moved: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.SHUTTING_DOWN,
]);
/** Refused at the door or not ready yet: the same coordinator, a little later. */
const later: ReadonlySet<number> = new Set([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.TOO_MANY_IN_FLIGHT, ErrorCode.THROTTLING_QUOTA_EXCEEDED]);
/** The request may have been served. */
const unknownOutcome: ReadonlySet<number> = new Set([ErrorCode.NETWORK_EXCEPTION, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.SHUTTING_DOWN]);

interface CallPlan {
  readonly operation: string;
  readonly groupId: string;
  readonly idempotent: boolean;
  readonly defaultTimeoutMs: number;
}

export class GroupCalls {
  readonly #transport: GroupTransport;
  #coordinator: GroupCoordinatorLocation | undefined;
  #discovery: Promise<GroupCoordinatorLocation> | undefined;

  constructor(transport: GroupTransport) {
    this.#transport = transport;
  }

  /** The coordinator this client last found, if it still trusts it. */
  get knownCoordinator(): GroupCoordinatorLocation | undefined {
    return this.#coordinator;
  }

  /**
   * Asks the coordinator nodes where the group coordinator is (FIND_COORDINATOR); every group has
   * the same one, the coordinator leader. Rejects COORDINATOR_NOT_AVAILABLE when none answers
   * before the deadline.
   */
  async findCoordinator(groupId: string, options: CoordinatorCallOptions = {}): Promise<GroupCoordinatorLocation> {
    checkGroupId(groupId, 'findCoordinator');
    this.#coordinator = undefined;
    return this.#call({ operation: 'findCoordinator', groupId, idempotent: true, defaultTimeoutMs: this.#transport.requestTimeoutMs }, options, (endpoint) =>
      Promise.resolve({ nodeId: this.#coordinator?.nodeId ?? -1, endpoint }),
    );
  }

  /**
   * The coordinator's address for calls about no group in particular (the transaction calls, which
   * the same node serves): the one known, or the one a shared FIND_COORDINATOR search finds.
   */
  coordinatorEndpoint(signal: AbortSignal | undefined): Promise<GroupCoordinatorLocation> {
    return this.#coordinatorFor(ANY_GROUP, signal);
  }

  /** Forgets the known coordinator if it is `endpoint`: a call there said the coordinator moved. */
  forgetCoordinator(endpoint: Endpoint): void {
    if (sameEndpoint(this.#coordinator?.endpoint, endpoint)) this.#coordinator = undefined;
  }

  // ---- Membership

  /**
   * Joins (or rejoins) a group; resolves when the group's join barrier completes: every member has
   * joined or the rebalance timeout passed. The leader gets the members to assign.
   */
  async joinGroup(spec: JoinGroupSpec, options: CoordinatorCallOptions = {}): Promise<JoinGroupResult> {
    const groupId = checkGroupId(spec?.groupId, 'joinGroup');
    const sessionTimeoutMs = positiveInt(spec.sessionTimeoutMs, 'sessionTimeoutMs');
    const rebalanceTimeoutMs = positiveInt(spec.rebalanceTimeoutMs, 'rebalanceTimeoutMs');
    checkList(spec.protocols, 'joinGroup: protocols must be a non-empty array');
    const protocols = spec.protocols.map((p) => ({ name: text(p?.name, 'protocol name'), metadata: toBuffer(p.metadata, 'protocol metadata') }));
    let memberId = spec.memberId ?? '';
    const plan = { operation: 'joinGroup', groupId, idempotent: true, defaultTimeoutMs: rebalanceTimeoutMs + this.#transport.requestTimeoutMs };
    return this.#call(plan, options, async (endpoint, timeoutMs) => {
      for (;;) {
        const body: M.JoinGroupRequest = {
          groupId,
          sessionTimeoutMs,
          rebalanceTimeoutMs,
          memberId,
          groupInstanceId: spec.groupInstanceId ?? '',
          protocolType: spec.protocolType ?? CONSUMER,
          protocols,
          reason: spec.reason ?? '',
          requireKnownMemberId: true,
          clientId: spec.clientId ?? '',
          clientHost: spec.clientHost ?? '',
        };
        const response = await this.#transport.request(endpoint, 'JOIN_GROUP', body, timeoutMs, options.signal);
        if (response.errorCode === ErrorCode.MEMBER_ID_REQUIRED && memberId === '' && response.memberId !== '') {
          // KIP-394: the coordinator handed out our member id; join again with it at once.
          memberId = response.memberId;
          continue;
        }
        throwIfFailed(response, endpoint, groupId);
        return {
          generation: response.generationId,
          protocolType: response.protocolType,
          protocolName: response.protocolName,
          leader: response.leader,
          memberId: response.memberId,
          isLeader: response.leader === response.memberId,
          skipAssignment: response.skipAssignment,
          members: response.members.map((m) => ({ memberId: m.memberId, groupInstanceId: orUndefined(m.groupInstanceId), metadata: m.metadata })),
        };
      }
    });
  }

  /**
   * Sends this member's SyncGroup (the leader with the assignment of every member); resolves with
   * this member's assignment once the leader's is stored by the coordinator.
   */
  async syncGroup(spec: SyncGroupSpec, options: CoordinatorCallOptions & { readonly rebalanceTimeoutMs?: number } = {}): Promise<SyncGroupResult> {
    const member = checkGeneration(spec, 'syncGroup');
    const body: M.SyncGroupRequest = {
      ...member,
      protocolType: spec.protocolType ?? '',
      protocolName: spec.protocolName ?? '',
      assignments: (spec.assignments ?? []).map((a) => ({ memberId: text(a?.memberId, 'assignment member id'), assignment: toBuffer(a.assignment, 'assignment') })),
    };
    const plan = { operation: 'syncGroup', groupId: spec.groupId, idempotent: true, defaultTimeoutMs: (options.rebalanceTimeoutMs ?? 60_000) + this.#transport.requestTimeoutMs };
    return this.#call(plan, options, async (endpoint, timeoutMs) => {
      const response = await this.#transport.request(endpoint, 'SYNC_GROUP', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, spec.groupId);
      return { protocolType: response.protocolType, protocolName: response.protocolName, assignment: response.assignment };
    });
  }

  /**
   * Keeps the member's session alive. Rejects with REBALANCE_IN_PROGRESS when the member must join
   * again, and with the group's other answers (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID).
   * With `holdMs` the coordinator may hold the call that long in a Stable group, answering at once
   * when a rebalance starts (REBALANCE_IN_PROGRESS), so the member learns of it without waiting
   * for its next heartbeat.
   */
  async heartbeat(spec: GroupGeneration, options: CoordinatorCallOptions & { readonly holdMs?: number | undefined } = {}): Promise<void> {
    const holdMs = options.holdMs ?? 0;
    if (!Number.isSafeInteger(holdMs) || holdMs < 0 || holdMs > 0x7fff_ffff) throw invalid(`heartbeat: holdMs must be a non-negative integer, got ${String(holdMs)}`);
    const body: M.HeartbeatRequest = { ...checkGeneration(spec, 'heartbeat'), holdMs };
    const plan = { operation: 'heartbeat', groupId: spec.groupId, idempotent: true, defaultTimeoutMs: holdMs + this.#transport.requestTimeoutMs };
    await this.#call(plan, options, async (endpoint, timeoutMs) => {
      throwIfFailed(await this.#transport.request(endpoint, 'HEARTBEAT', body, timeoutMs, options.signal), endpoint, spec.groupId);
    });
  }

  /** Takes members out of the group (by member id, or static members by instance id); each member's outcome. */
  async leaveGroup(groupId: string, members: readonly LeavingMemberSpec[], options: CoordinatorCallOptions = {}): Promise<LeftMember[]> {
    checkGroupId(groupId, 'leaveGroup');
    checkList(members, 'leaveGroup: members must be a non-empty array');
    const body: M.LeaveGroupRequest = {
      groupId,
      members: members.map((m) => {
        if ((m?.memberId ?? '') === '' && (m?.groupInstanceId ?? '') === '') throw invalid('leaveGroup: each member needs a memberId or a groupInstanceId');
        return { memberId: m.memberId ?? '', groupInstanceId: m.groupInstanceId ?? '', reason: m.reason ?? '' };
      }),
    };
    return this.#call({ operation: 'leaveGroup', groupId, idempotent: true, defaultTimeoutMs: this.#transport.requestTimeoutMs }, options, async (endpoint, timeoutMs) => {
      const response = await this.#transport.request(endpoint, 'LEAVE_GROUP', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, groupId);
      return response.members.map((m) => ({ memberId: m.memberId, groupInstanceId: orUndefined(m.groupInstanceId), error: errorFromCode(m.errorCode, m.errorMessage) }));
    });
  }

  // ---- Offsets

  /**
   * Commits offsets; resolves once they are durable on a quorum of the coordinator group (they
   * survive the loss of its leader). Rejects with the group's refusal (ILLEGAL_GENERATION,
   * UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS), or AdminError naming each
   * partition that failed.
   */
  async commitOffsets(spec: OffsetCommitSpec, options: CoordinatorCallOptions = {}): Promise<void> {
    const groupId = checkGroupId(spec?.groupId, 'commitOffsets');
    checkList(spec.offsets, 'commitOffsets: offsets must be a non-empty array');
    const byTopic = new Map<string, M.OffsetCommitPartition[]>();
    for (const o of spec.offsets) {
      const topic = text(o?.topic, 'topic');
      const partitions = byTopic.get(topic) ?? [];
      partitions.push({
        partition: nonNegativeInt(o.partition, 'partition'),
        committedOffset: nonNegativeInt(o.offset, 'offset'),
        committedLeaderEpoch: o.leaderEpoch ?? -1,
        committedMetadata: o.metadata ?? '',
      });
      byTopic.set(topic, partitions);
    }
    const body: M.OffsetCommitRequest = {
      groupId,
      generationId: spec.generation ?? -1,
      memberId: spec.memberId ?? '',
      groupInstanceId: spec.groupInstanceId ?? '',
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    };
    await this.#call({ operation: 'commitOffsets', groupId, idempotent: true, defaultTimeoutMs: this.#transport.requestTimeoutMs }, options, async (endpoint, timeoutMs) => {
      const response = await this.#transport.request(endpoint, 'OFFSET_COMMIT', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, groupId);
      throwPartitionFailures('commitOffsets', response.topics, spec.offsets.length);
    });
  }

  /**
   * The group's committed offsets: of the given partitions (offset -1 where the group has none),
   * or, without `topics`, of every partition it has one for.
   */
  async fetchOffsets(
    groupId: string,
    topics?: readonly { readonly topic: string; readonly partitions: readonly number[] }[],
    options: CoordinatorCallOptions = {},
  ): Promise<CommittedOffset[]> {
    checkGroupId(groupId, 'fetchOffsets');
    const body: M.OffsetFetchRequest = {
      groupId,
      allTopics: topics === undefined,
      topics: (topics ?? []).map((t) => ({ name: text(t?.topic, 'topic'), partitions: t.partitions.map((p) => nonNegativeInt(p, 'partition')) })),
    };
    return this.#call({ operation: 'fetchOffsets', groupId, idempotent: true, defaultTimeoutMs: this.#transport.requestTimeoutMs }, options, async (endpoint, timeoutMs) => {
      const response = await this.#transport.request(endpoint, 'OFFSET_FETCH', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, groupId);
      throwPartitionFailures('fetchOffsets', response.topics, body.topics.reduce((n, t) => n + t.partitions.length, 0));
      return response.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.metadata })));
    });
  }

  /**
   * Deletes a group's offsets of the given partitions. Rejects with GROUP_ID_NOT_FOUND,
   * NON_EMPTY_GROUP, or AdminError naming partitions a member is subscribed to
   * (GROUP_SUBSCRIBED_TO_TOPIC) or that do not exist.
   */
  async deleteOffsets(groupId: string, topics: readonly { readonly topic: string; readonly partitions: readonly number[] }[], options: CoordinatorCallOptions = {}): Promise<void> {
    checkGroupId(groupId, 'deleteOffsets');
    checkList(topics, 'deleteOffsets: topics must be a non-empty array');
    const body: M.OffsetDeleteRequest = { groupId, topics: topics.map((t) => ({ name: text(t?.topic, 'topic'), partitions: t.partitions.map((p) => nonNegativeInt(p, 'partition')) })) };
    await this.#call({ operation: 'deleteOffsets', groupId, idempotent: true, defaultTimeoutMs: this.#transport.requestTimeoutMs }, options, async (endpoint, timeoutMs) => {
      const response = await this.#transport.request(endpoint, 'OFFSET_DELETE', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, groupId);
      throwPartitionFailures('deleteOffsets', response.topics, body.topics.reduce((n, t) => n + t.partitions.length, 0));
    });
  }

  // ---- Administration

  /** Every group the coordinator knows, optionally only those in the given states or of the given protocol types. */
  async listGroups(filter: { readonly states?: readonly GroupStateName[]; readonly types?: readonly string[] } = {}, options: CoordinatorCallOptions = {}): Promise<GroupListing[]> {
    const body: M.ListGroupsRequest = { statesFilter: [...(filter.states ?? [])], typesFilter: [...(filter.types ?? [])] };
    return this.#call({ operation: 'listGroups', groupId: ANY_GROUP, idempotent: true, defaultTimeoutMs: this.#transport.requestTimeoutMs }, options, async (endpoint, timeoutMs) => {
      const response = await this.#transport.request(endpoint, 'LIST_GROUPS', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, ANY_GROUP);
      return response.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, state: g.groupState as GroupStateName }));
    });
  }

  /** Each group's state, protocol and members (with metadata and assignment when Stable); an unknown group reads as Dead. */
  async describeGroups(groupIds: readonly string[], options: CoordinatorCallOptions = {}): Promise<GroupDescription[]> {
    checkList(groupIds, 'describeGroups: groupIds must be a non-empty array');
    const body: M.DescribeGroupsRequest = { groups: groupIds.map((g) => checkGroupId(g, 'describeGroups')) };
    return this.#call({ operation: 'describeGroups', groupId: body.groups[0]!, idempotent: true, defaultTimeoutMs: this.#transport.requestTimeoutMs }, options, async (endpoint, timeoutMs) => {
      const response = await this.#transport.request(endpoint, 'DESCRIBE_GROUPS', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, body.groups[0]!);
      return response.groups.map((g) => ({
        groupId: g.groupId,
        state: g.groupState as GroupStateName,
        protocolType: g.protocolType,
        protocolName: g.protocolData,
        error: errorFromCode(g.errorCode, g.errorMessage),
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: orUndefined(m.groupInstanceId),
          clientId: m.clientId,
          clientHost: m.clientHost,
          metadata: m.memberMetadata,
          assignment: m.memberAssignment,
        })),
      }));
    });
  }

  /** Deletes empty groups and their offsets; each group's outcome (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND...). */
  async deleteGroups(groupIds: readonly string[], options: CoordinatorCallOptions = {}): Promise<GroupDeletion[]> {
    checkList(groupIds, 'deleteGroups: groupIds must be a non-empty array');
    const body: M.DeleteGroupsRequest = { groups: groupIds.map((g) => checkGroupId(g, 'deleteGroups')) };
    return this.#call({ operation: 'deleteGroups', groupId: body.groups[0]!, idempotent: false, defaultTimeoutMs: this.#transport.requestTimeoutMs }, options, async (endpoint, timeoutMs) => {
      const response = await this.#transport.request(endpoint, 'DELETE_GROUPS', body, timeoutMs, options.signal);
      throwIfFailed(response, endpoint, body.groups[0]!);
      return response.results.map((r) => ({ groupId: r.groupId, error: errorFromCode(r.errorCode, r.errorMessage) }));
    });
  }

  // ---- Finding the coordinator and retrying

  /** Runs `attempt` against the coordinator until it succeeds, fails for good, or the deadline passes. */
  async #call<T>(plan: CallPlan, options: CoordinatorCallOptions, attempt: (endpoint: Endpoint, timeoutMs: number) => Promise<T>): Promise<T> {
    const { signal } = options;
    const timeoutMs = options.timeoutMs ?? plan.defaultTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalid(`${plan.operation}: timeoutMs must be a positive number, got ${String(timeoutMs)}`);
    const deadlineMs = Date.now() + timeoutMs;
    for (let retriesDone = 0; ; retriesDone++) {
      throwIfAborted(signal);
      let endpoint: Endpoint | undefined;
      let failure: StreamBusError;
      try {
        endpoint = (await this.#coordinatorFor(plan.groupId, signal)).endpoint;
        const remainingMs = deadlineMs - Date.now();
        if (remainingMs <= 0) throw new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `${plan.operation} did not finish within ${timeoutMs} ms`);
        return await attempt(endpoint, remainingMs);
      } catch (error) {
        if (!(error instanceof StreamBusError)) throw error;
        failure = error;
      }
      const code = failure.code;
      if (!moved.has(code) && !later.has(code)) throw failure;
      if (unknownOutcome.has(code) && !plan.idempotent && !this.#transport.unsent(failure)) throw outcomeUnknown(plan.operation, failure);
      if (moved.has(code) && (endpoint === undefined || sameEndpoint(this.#coordinator?.endpoint, endpoint))) this.#coordinator = undefined;
      const decision = decideRetry({ retriesDone, retriable: true, nowMs: Date.now(), deadlineMs }, this.#transport.retry, this.#transport.random);
      if (!decision.retry) throw failure;
      this.#transport.logger.debug(
        { operation: plan.operation, groupId: plan.groupId, node: endpoint === undefined ? undefined : formatEndpoint(endpoint), code: failure.codeName, retryInMs: decision.delayMs },
        'group call failed; retrying',
      );
      await delay(decision.delayMs, signal);
    }
  }

  /** The known coordinator, or the one a shared FIND_COORDINATOR search finds. */
  #coordinatorFor(groupId: string, signal: AbortSignal | undefined): Promise<GroupCoordinatorLocation> {
    if (this.#coordinator !== undefined) return Promise.resolve(this.#coordinator);
    this.#discovery ??= this.#locate(groupId, undefined).finally(() => {
      this.#discovery = undefined;
    });
    return raceSignal(this.#discovery, signal);
  }

  /**
   * Asks every candidate at once; the first that names a coordinator wins. Rejects with
   * COORDINATOR_NOT_AVAILABLE (retried by the caller) when none does.
   */
  async #locate(groupId: string, signal: AbortSignal | undefined): Promise<GroupCoordinatorLocation> {
    const candidates = this.#transport.candidates();
    const answers: string[] = [];
    // Nodes that said they serve no coordinator APIs at all (brokers of a multi-process cluster),
    // and coordinator nodes that answered without naming a leader (an election under way).
    let notCoordinators = 0;
    let coordinatorAnswers = 0;
    const found = await new Promise<GroupCoordinatorLocation | undefined>((resolve) => {
      let left = candidates.length;
      if (left === 0) resolve(undefined);
      for (const endpoint of candidates) {
        this.#transport
          .request(endpoint, 'FIND_COORDINATOR', { key: groupId, keyType: KEY_TYPE_GROUP }, this.#transport.probeTimeoutMs, signal)
          .then((response) => {
            if (response.errorCode === ErrorCode.NONE && response.host !== '' && response.port > 0) {
              resolve({ nodeId: response.nodeId, endpoint: { host: response.host, port: response.port } });
            } else {
              coordinatorAnswers += 1;
              answers.push(`${formatEndpoint(endpoint)}: ${errorFromCode(response.errorCode, response.errorMessage)?.codeName ?? 'no address'}`);
            }
          })
          .catch((error: unknown) => {
            if (error instanceof StreamBusError && error.code === ErrorCode.UNKNOWN_API) notCoordinators += 1;
            answers.push(`${formatEndpoint(endpoint)}: ${error instanceof StreamBusError ? error.codeName : String(error)}`);
          })
          .finally(() => {
            left -= 1;
            if (left === 0) resolve(undefined);
          });
      }
    });
    if (found === undefined && notCoordinators > 0 && coordinatorAnswers === 0) {
      // Not worth retrying: the addresses given are brokers (those that answered said so; the others
      // could not be reached, as a broker that is down or restarting). The `coordinators` option
      // must name coordinator nodes.
      throw new StreamBusError(ErrorCode.UNKNOWN_API, `none of the addresses serves the coordinator APIs (${answers.join('; ')}): give the client the coordinator nodes' addresses`);
    }
    if (found === undefined) throw new StreamBusError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `no group coordinator is known (${answers.join('; ')})`);
    if (this.#coordinator?.nodeId !== found.nodeId) {
      this.#transport.logger.info({ nodeId: found.nodeId, endpoint: formatEndpoint(found.endpoint) }, 'group coordinator found');
    }
    this.#coordinator = found;
    return found;
  }
}

// ---- Answers

/** Throws the response's whole-request error, if it carries one. */
function throwIfFailed(response: { readonly errorCode: number; readonly errorMessage: string }, endpoint: Endpoint, groupId: string): void {
  const error = errorFromCode(response.errorCode, response.errorMessage === '' ? undefined : `group ${groupId}: ${response.errorMessage}`, { broker: formatEndpoint(endpoint) });
  if (error !== undefined) throw error;
}

function throwPartitionFailures(operation: string, topics: readonly { readonly name: string; readonly partitions: readonly { readonly partition: number; readonly errorCode: number; readonly errorMessage: string }[] }[], total: number): void {
  const failures: ItemFailure[] = [];
  for (const t of topics) {
    for (const p of t.partitions) {
      const error = errorFromCode(p.errorCode, p.errorMessage, { topic: t.name, partition: p.partition });
      if (error !== undefined) failures.push({ topic: t.name, partition: p.partition, error });
    }
  }
  if (failures.length > 0) throw new AdminError(operation, failures, total);
}

// ---- Argument checks: bad input is refused before anything is sent.

function invalid(message: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_REQUEST, message);
}

function checkList(value: readonly unknown[], message: string): void {
  const untrusted: unknown = value;
  if (!Array.isArray(untrusted) || untrusted.length === 0) throw invalid(message);
}

function checkGroupId(value: unknown, operation: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(`${operation}: groupId must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

function checkGeneration(spec: GroupGeneration, operation: string): { groupId: string; generationId: number; memberId: string; groupInstanceId: string } {
  const groupId = checkGroupId(spec?.groupId, operation);
  if (typeof spec.generation !== 'number' || !Number.isInteger(spec.generation)) throw invalid(`${operation}: generation must be an integer, got ${String(spec.generation)}`);
  return { groupId, generationId: spec.generation, memberId: text(spec.memberId, 'memberId'), groupInstanceId: spec.groupInstanceId ?? '' };
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 0x7fff_ffff) throw invalid(`${what} must be a positive 32-bit integer, got ${String(value)}`);
  return value;
}

function nonNegativeInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`${what} must be an integer ≥ 0, got ${String(value)}`);
  return value;
}

function toBuffer(value: unknown, what: string): Buffer {
  if (!(value instanceof Uint8Array)) throw invalid(`${what} must be bytes (a Buffer or Uint8Array)`);
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function orUndefined(value: string): string | undefined {
  return value === '' ? undefined : value;
}
