/**
 * A consumer in a consumer group: it subscribes to topics (or a pattern), joins the group through
 * the group coordinator, consumes the partitions the group leader's assignor gives it, and commits
 * what it processed. Kafka's classic protocol, run by the client (docs/groups.md):
 *
 *   join (JoinGroup) → the leader runs the assignor → sync (SyncGroup) → consume + heartbeat
 *   → the coordinator says REBALANCE_IN_PROGRESS (or the subscription changed) → join again.
 *
 * Rebalance protocols. The consumer's assignors decide it (registry.ts): EAGER revokes every owned
 * partition before it rejoins (commit, onRevoked, stop fetching); COOPERATIVE (KIP-429) keeps
 * consuming through the join, and after the sync revokes only the partitions the leader moved
 * away, then joins once more so the group hands them to their new owner.
 *
 * Threads of control, and why none blocks another:
 * - the membership loop runs joins and syncs, one rebalance at a time;
 * - heartbeats run on their own timer, so a slow handler never costs the session (only a handler
 *   slower than the rebalance timeout stalls a rebalance, as max.poll.interval.ms does in Kafka);
 * - run() hands records to the handler. Before a rebalance revokes anything it waits for the
 *   handler in flight to return, so the commit it makes covers every record handled, and a record
 *   fetched before a revocation is never handed out after it (ownership tokens below).
 *
 * At-least-once by default: the offsets committed (auto or by commit()) are those after the last
 * record whose handler returned (CommitTracker), never merely fetched ones.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Consumer, MessageBatch } from '../consumer/consumer.js';
import type { GroupCalls } from '../coordinator/group-calls.js';
import type { CommittedOffset } from '../coordinator/group-types.js';
import type { ConsumerGroupMetadata } from '../producer/transaction.js';
import { delay } from '../signal.js';
import type { CallOptions, Message, TopicPartition } from '../types.js';
import {
  CONSUMER_PROTOCOL_TYPE,
  NO_GENERATION,
  RebalanceProtocol,
  assignorByName,
  decodeAssignment,
  encodeAssignment,
  encodeSubscription,
  memberSubscription,
  type TopicInfo,
} from './assignors/index.js';
import { CommitTracker, byTopic, compareTopicPartitions, diffAssignment, toTopicPartitions, type TrackedOffset } from './commit-tracker.js';
import { resolveGroupOptions, type GroupConsumerOptions, type ResolvedGroupOptions } from './group-options.js';

export type { GroupConsumerOptions } from './group-options.js';

/** Rebalance listeners; each may be async, and the rebalance waits for it. */
export interface RebalanceListener {
  /** Partitions newly given to this member, after their start offsets are known. */
  readonly onAssigned?: (partitions: TopicPartition[]) => Promise<void> | void;
  /** Partitions this member gives up in an orderly way; commit here when autoCommit is off. */
  readonly onRevoked?: (partitions: TopicPartition[]) => Promise<void> | void;
  /** Partitions the member lost without a chance to commit (its session expired). */
  readonly onLost?: (partitions: TopicPartition[]) => Promise<void> | void;
}

export interface GroupRunOptions extends CallOptions {
  readonly eachMessage?: (message: Message) => Promise<void> | void;
  readonly eachBatch?: (batch: MessageBatch) => Promise<void> | void;
}

export interface GroupConsumerDeps {
  readonly cluster: Cluster;
  /** The consumer that fetches; this class assigns it. Closed with the group consumer. */
  readonly consumer: Consumer;
  readonly groups: GroupCalls;
  /** Every topic name in the cluster, for pattern subscriptions. */
  readonly listTopics: (signal: AbortSignal) => Promise<string[]>;
  /** Called once the group consumer is closed (the owner releases the coordinator client). */
  readonly onClose?: () => Promise<void>;
  readonly clientRack?: string | undefined;
}

/** Where a member stands in its group. */
export type MemberState = 'unjoined' | 'rebalancing' | 'stable' | 'closed';

/** The answers of the coordinator that mean "this membership is over": rejoin from scratch. */
const membershipGone: ReadonlySet<number> = new Set([ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.ILLEGAL_GENERATION]);

function keyOf(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

export class GroupConsumer {
  readonly #deps: GroupConsumerDeps;
  readonly #options: ResolvedGroupOptions;
  readonly #autoOffsetReset: 'earliest' | 'latest' | 'none';
  readonly #tracker = new CommitTracker();
  readonly #stop = new AbortController();
  #listener: RebalanceListener = {};
  #subscription: readonly string[] | RegExp | undefined;
  #topics: readonly string[] = [];
  #memberId = '';
  #generation = NO_GENERATION;
  #state: MemberState = 'unjoined';
  /** Owned partitions, with a token that changes whenever the partition is (re)gained. */
  readonly #owned = new Map<string, { tp: TopicPartition; token: number }>();
  #nextToken = 1;
  #needsJoin = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  /** Set while a rebalance runs: the handler loop waits on it before the next record. */
  #gate: Promise<void> | undefined;
  /** The handler call in flight, if any. */
  #handling: Promise<unknown> | undefined;
  #fatal: StreamBusError | undefined;
  #commitChain: Promise<void> = Promise.resolve();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** Sends a heartbeat now unless one is in flight: on becoming stable, so one is always held. */
  #heartbeatNow: (() => void) | undefined;
  #rebalances = 0;
  #closing: Promise<void> | undefined;

  constructor(deps: GroupConsumerDeps, options: GroupConsumerOptions) {
    this.#deps = deps;
    this.#options = resolveGroupOptions(options);
    this.#autoOffsetReset = options.autoOffsetReset ?? 'latest';
  }

  get groupId(): string {
    return this.#options.groupId;
  }

  /** The member id the coordinator gave this member; '' before the first join. */
  get memberId(): string {
    return this.#memberId;
  }

  /** The generation of the last completed rebalance; -1 before the first. */
  get generation(): number {
    return this.#generation;
  }

  get state(): MemberState {
    return this.#state;
  }

  /** 'eager' or 'cooperative', from the configured assignors. */
  get rebalanceProtocol(): RebalanceProtocol {
    return this.#options.protocol;
  }

  /** Rebalances this member completed (joins that ended in a sync). */
  get rebalanceCount(): number {
    return this.#rebalances;
  }

  /** Whether processed positions are committed by the consumer itself (autoCommit option). */
  get autoCommit(): boolean {
    return this.#options.autoCommit;
  }

  /**
   * The member's group, generation and member id, for offsets committed in a producer's
   * transaction (`tx.sendOffsets({ consumer, offsets })`): the coordinator refuses them from a
   * member whose generation has passed, so a consumer that lost its partitions cannot commit.
   */
  groupMetadata(): ConsumerGroupMetadata {
    return { groupId: this.#options.groupId, generation: this.#generation, memberId: this.#memberId, groupInstanceId: this.#options.groupInstanceId };
  }

  /**
   * Moves owned partitions back to the group's committed offsets (where autoOffsetReset says for a
   * partition without one), dropping what was fetched past them. After a transaction that consumed
   * them aborted, the records are read again from the last committed transaction's end.
   */
  async rewindToCommitted(partitions: readonly TopicPartition[], options: CallOptions = {}): Promise<void> {
    const owned = partitions.filter((tp) => this.#owned.has(keyOf(tp)));
    if (owned.length === 0) return;
    const committed = await this.#deps.groups.fetchOffsets(
      this.#options.groupId,
      byTopic(owned).map((t) => ({ topic: t.topic, partitions: t.partitions })),
      options.signal === undefined ? {} : { signal: options.signal },
    );
    const offsets = new Map(committed.map((c) => [keyOf(c), c.offset]));
    for (const tp of owned) {
      if (!this.#owned.has(keyOf(tp))) continue;
      const offset = offsets.get(keyOf(tp)) ?? -1;
      if (offset >= 0) {
        this.#tracker.reset(tp, offset);
        this.#deps.consumer.seek(tp, offset);
      } else if (this.#autoOffsetReset !== 'none') {
        this.#deps.consumer.seek(tp, this.#autoOffsetReset);
      }
    }
  }

  /** The partitions this member owns now, in ascending order. */
  assignment(): TopicPartition[] {
    return [...this.#owned.values()].map((o) => o.tp).sort(compareTopicPartitions);
  }

  /**
   * Subscribes to topics, or to every topic whose name matches a pattern (re-listed every
   * topicRefreshMs; a change of the matching set rebalances the group). Joins the group in the
   * background; records flow through run(). Calling it again replaces the subscription.
   */
  subscribe(topics: readonly string[] | RegExp, listener: RebalanceListener = {}): void {
    this.#assertOpen();
    if (!(topics instanceof RegExp)) {
      if (!Array.isArray(topics) || topics.length === 0 || topics.some((t) => typeof t !== 'string' || t === '')) {
        throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'subscribe() needs a non-empty array of topic names or a RegExp');
      }
    }
    this.#subscription = topics instanceof RegExp ? topics : [...new Set(topics)].sort();
    this.#listener = listener;
    this.#requestJoin();
    if (this.#loop === undefined) {
      this.#loop = this.#membershipLoop();
      this.#heartbeatNow = this.#schedule(() => this.#heartbeat(), this.#options.heartbeatIntervalMs);
      if (this.#options.autoCommit) this.#schedule(() => this.#autoCommit(), this.#options.autoCommitIntervalMs);
      if (topics instanceof RegExp) this.#schedule(() => this.#refreshPattern(), this.#options.topicRefreshMs);
    }
  }

  /**
   * Feeds records to `eachMessage` (or batches to `eachBatch`) until the consumer is closed. A
   * record counts as processed, and its offset as committable, once its handler returns. If a
   * handler throws, run() rejects with its error and the partition is set back to that record.
   * Rejects with the group's fatal error (FENCED_INSTANCE_ID, or OFFSET_OUT_OF_RANGE when
   * autoOffsetReset is 'none' and a partition has no committed offset).
   */
  async run(options: GroupRunOptions): Promise<void> {
    const { eachMessage, eachBatch } = options;
    if (eachMessage === undefined && eachBatch === undefined) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'run() needs eachMessage or eachBatch');
    if (this.#subscription === undefined) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'subscribe() before run()');
    const signal = options.signal === undefined ? this.#stop.signal : AbortSignal.any([options.signal, this.#stop.signal]);
    try {
      if (eachBatch !== undefined) {
        for await (const batch of this.#deps.consumer.batches({ signal })) {
          const last = batch.messages[batch.messages.length - 1]!.offset;
          await this.#process(batch, this.#token(batch), batch.messages[0]!.offset, last, () => eachBatch(batch));
        }
      } else if (eachMessage !== undefined) {
        for await (const message of this.#deps.consumer.messages({ signal })) {
          await this.#process(message, this.#token(message), message.offset, message.offset, () => eachMessage(message));
        }
      }
    } catch (error) {
      if (this.#fatal !== undefined) throw this.#fatal;
      if (this.#stop.signal.aborted && (options.signal === undefined || !options.signal.aborted)) return;
      throw error;
    }
    if (this.#fatal !== undefined) throw this.#fatal;
  }

  /**
   * Commits the processed positions not yet committed; resolves once they are durable on the
   * coordinators. Rejects with the coordinator's answer (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION:
   * the partitions may have moved; they will be processed again by their next owner from the last
   * committed offset).
   */
  commit(options: CallOptions = {}): Promise<void> {
    return this.#commit(undefined, options);
  }

  /** Commits in the background; `callback` gets the outcome (errors are otherwise dropped). */
  commitAsync(callback?: (error: StreamBusError | undefined) => void): void {
    this.#commit(undefined, {}).then(
      () => callback?.(undefined),
      (error: unknown) => callback?.(error instanceof StreamBusError ? error : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, String(error))),
    );
  }

  /**
   * Leaves the group: waits for the handler in flight, commits (autoCommit), calls onRevoked,
   * sends LeaveGroup (dynamic members only: a static member is expected back within its session
   * timeout and keeps its place), and closes the fetching consumer. Idempotent.
   */
  close(_options: CallOptions = {}): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  // ---- Membership ----------------------------------------------------------------------------

  #requestJoin(): void {
    this.#needsJoin = true;
    this.#wake?.();
  }

  async #membershipLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      if (!this.#needsJoin) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        continue;
      }
      this.#needsJoin = false;
      try {
        await this.#rebalance();
        failures = 0;
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        const failure = error instanceof StreamBusError ? error : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, String(error));
        if (failure.code === ErrorCode.FENCED_INSTANCE_ID || failure.code === ErrorCode.INVALID_CONFIG || this.#fatal !== undefined) {
          this.#fail(this.#fatal ?? failure);
          break;
        }
        if (membershipGone.has(failure.code)) await this.#lose();
        if (failure.code === ErrorCode.UNKNOWN_MEMBER_ID) this.#memberId = '';
        this.#needsJoin = true;
        failures += 1;
        // Rejoin at once after the group's own answers; back off after anything else.
        if (failure.code !== ErrorCode.REBALANCE_IN_PROGRESS && !membershipGone.has(failure.code)) {
          await delay(Math.min(100 * 2 ** Math.min(failures, 5), 2_000), this.#stop.signal).catch(() => undefined);
        }
      }
    }
  }

  /** One rebalance: revoke (eager), join, assign (leader), sync, take up the assignment. */
  async #rebalance(): Promise<void> {
    this.#state = 'rebalancing';
    const cooperative = this.#options.protocol === RebalanceProtocol.COOPERATIVE;
    if (!cooperative && this.#owned.size > 0) await this.#revoke(this.assignment());
    this.#topics = await this.#subscribedTopics();
    const owned = this.assignment();
    const ownedState = { ownedPartitions: cooperative ? byTopic(owned) : [], generation: this.#generation };
    const signal = this.#stop.signal;
    const joined = await this.#deps.groups.joinGroup(
      {
        groupId: this.#options.groupId,
        memberId: this.#memberId,
        groupInstanceId: this.#options.groupInstanceId,
        sessionTimeoutMs: this.#options.sessionTimeoutMs,
        rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
        protocolType: CONSUMER_PROTOCOL_TYPE,
        protocols: this.#options.assignors.map((assignor) => ({
          name: assignor.name,
          metadata: encodeSubscription({
            topics: this.#topics,
            userData: assignor.subscriptionUserData(ownedState),
            ownedPartitions: ownedState.ownedPartitions,
            generation: this.#generation,
            rackId: this.#deps.clientRack ?? null,
          }),
        })),
      },
      { signal },
    );
    this.#memberId = joined.memberId;
    const assignments = joined.isLeader && !joined.skipAssignment ? await this.#assign(joined.protocolName, joined.members) : [];
    const synced = await this.#deps.groups.syncGroup(
      {
        groupId: this.#options.groupId,
        generation: joined.generation,
        memberId: joined.memberId,
        groupInstanceId: this.#options.groupInstanceId,
        protocolType: CONSUMER_PROTOCOL_TYPE,
        protocolName: joined.protocolName,
        assignments,
      },
      { signal, rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs },
    );
    this.#generation = joined.generation;
    const assigned = toTopicPartitions(decodeAssignment(synced.assignment).partitions);
    const diff = diffAssignment(this.assignment(), assigned);
    if (diff.revoked.length > 0) {
      // Cooperative: give the moved partitions up, then join once more so they reach their new owner.
      await this.#revoke(diff.revoked);
      this.#needsJoin = true;
    }
    await this.#take(diff.added);
    this.#rebalances += 1;
    this.#state = 'stable';
    // Have a heartbeat held by the coordinator from now on, so the next rebalance is learnt at once.
    this.#heartbeatNow?.();
  }

  /** The leader's part: run the selected assignor over every member's subscription. */
  async #assign(protocolName: string, members: readonly { memberId: string; groupInstanceId: string | undefined; metadata: Buffer }[]) {
    const assignor = assignorByName(protocolName);
    const subscriptions = members.map((m) => memberSubscription(m.memberId, m.groupInstanceId ?? null, m.metadata));
    const topics = new Map<string, TopicInfo>();
    const wanted = new Set(subscriptions.flatMap((s) => s.topics));
    await this.#deps.cluster.refreshMetadata(this.#stop.signal).catch(() => undefined);
    for (const topic of wanted) {
      try {
        const metadata = await this.#deps.cluster.topicMetadata(topic, { signal: this.#stop.signal });
        topics.set(topic, { partitionCount: metadata.partitions.length });
      } catch (error) {
        // A subscribed topic that does not exist yet gets no partitions this round.
        if (!(error instanceof StreamBusError) || error.code !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw error;
      }
    }
    const result = assignor.assign(subscriptions, topics);
    return subscriptions.map((s) => {
      const share = result.members.get(s.memberId) ?? { partitions: new Map<string, number[]>(), userData: null };
      return { memberId: s.memberId, assignment: encodeAssignment(share) };
    });
  }

  /** Takes up newly assigned partitions at their committed offsets (or where autoOffsetReset says). */
  async #take(added: readonly TopicPartition[]): Promise<void> {
    let committed: CommittedOffset[] = [];
    if (added.length > 0) {
      committed = await this.#deps.groups.fetchOffsets(
        this.#options.groupId,
        byTopic(added).map((t) => ({ topic: t.topic, partitions: t.partitions })),
        { signal: this.#stop.signal },
      );
    }
    const offsets = new Map(committed.map((c) => [keyOf(c), c.offset]));
    const missing = added.filter((tp) => (offsets.get(keyOf(tp)) ?? -1) < 0);
    if (missing.length > 0 && this.#autoOffsetReset === 'none') {
      const names = missing.map((tp) => `${tp.topic}-${tp.partition}`).join(', ');
      this.#fatal = new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, `group ${this.#options.groupId} has no committed offset for ${names} and autoOffsetReset is 'none'`, {
        context: { topic: missing[0]!.topic, partition: missing[0]!.partition },
      });
      throw this.#fatal;
    }
    for (const tp of added) {
      this.#owned.set(keyOf(tp), { tp, token: this.#nextToken++ });
      const offset = offsets.get(keyOf(tp)) ?? -1;
      if (offset >= 0) {
        this.#tracker.reset(tp, offset);
        this.#tracker.acknowledged([{ ...tp, offset }]);
      }
    }
    this.#deps.consumer.assign(
      this.assignment().map((tp) => {
        const offset = offsets.get(keyOf(tp));
        return offset !== undefined && offset >= 0 ? { ...tp, offset } : tp;
      }),
    );
    if (added.length > 0) await this.#listener.onAssigned?.([...added]);
  }

  /** An orderly revocation: commit what was processed (autoCommit), tell the listener, stop fetching. */
  async #revoke(partitions: readonly TopicPartition[]): Promise<void> {
    await this.#gated(async () => {
      if (this.#options.autoCommit) await this.#commit(partitions, {}).catch(() => undefined);
      await this.#listener.onRevoked?.([...partitions]);
      this.#drop(partitions);
    });
  }

  /**
   * Runs `task` with the handler loop held: it waits for the handler in flight, and no record is
   * handed out until `task` ends. Revocations run this way so their commit covers every record
   * handled and no record of a partition given up is handled after it.
   */
  async #gated(task: () => Promise<void>): Promise<void> {
    while (this.#gate !== undefined) await this.#gate;
    let release: () => void = () => undefined;
    this.#gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await this.#handlerIdle();
      await task();
    } finally {
      this.#gate = undefined;
      release();
    }
  }

  /** The membership is gone (session expired, fenced generation): the partitions are lost, not revoked. */
  async #lose(): Promise<void> {
    const lost = this.assignment();
    this.#generation = NO_GENERATION;
    if (lost.length === 0) return;
    await this.#gated(async () => {
      await this.#listener.onLost?.(lost);
      this.#drop(lost);
    });
  }

  #drop(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#owned.delete(keyOf(tp));
    this.#tracker.forget(partitions);
    if (!this.#stop.signal.aborted) this.#deps.consumer.assign(this.assignment());
  }

  async #subscribedTopics(): Promise<string[]> {
    const subscription = this.#subscription;
    if (subscription === undefined) return [];
    if (!(subscription instanceof RegExp)) return [...subscription];
    const all = await this.#deps.listTopics(this.#stop.signal);
    return all.filter((t) => subscription.test(t)).sort();
  }

  async #refreshPattern(): Promise<void> {
    if (this.#state !== 'stable') return;
    const topics = await this.#subscribedTopics().catch(() => this.#topics);
    if (topics.join('\u0000') !== this.#topics.join('\u0000')) this.#requestJoin();
  }

  // ---- Heartbeats and commits --------------------------------------------------------------

  async #heartbeat(): Promise<void> {
    if (this.#state !== 'stable' || this.#needsJoin) return;
    const generation = this.#generation;
    try {
      await this.#deps.groups.heartbeat(
        { groupId: this.#options.groupId, generation, memberId: this.#memberId, groupInstanceId: this.#options.groupInstanceId },
        // Held by the coordinator for up to an interval: a rebalance is learnt at once (docs/groups.md).
        { signal: this.#stop.signal, timeoutMs: this.#options.sessionTimeoutMs, holdMs: this.#options.heartbeatIntervalMs },
      );
    } catch (error) {
      if (!(error instanceof StreamBusError) || this.#stop.signal.aborted || generation !== this.#generation) return;
      if (error.code === ErrorCode.FENCED_INSTANCE_ID) this.#fail(error);
      else if (error.code === ErrorCode.REBALANCE_IN_PROGRESS) this.#requestJoin();
      else if (membershipGone.has(error.code)) {
        if (error.code === ErrorCode.UNKNOWN_MEMBER_ID) this.#memberId = '';
        this.#state = 'unjoined';
        await this.#lose();
        this.#requestJoin();
      }
    }
  }

  async #autoCommit(): Promise<void> {
    if (this.#state === 'stable') await this.#commit(undefined, {}).catch(() => undefined);
  }

  /** Commits processed positions (of `only`, or all); commits run one at a time, in order. */
  #commit(only: readonly TopicPartition[] | undefined, options: CallOptions): Promise<void> {
    const run = async (): Promise<void> => {
      const offsets: TrackedOffset[] = this.#tracker.pending(only);
      if (offsets.length === 0) return;
      await this.#deps.groups.commitOffsets(
        {
          groupId: this.#options.groupId,
          generation: this.#generation,
          memberId: this.#memberId,
          groupInstanceId: this.#options.groupInstanceId,
          offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
        },
        options.signal === undefined ? {} : { signal: options.signal },
      );
      this.#tracker.acknowledged(offsets);
    };
    const next = this.#commitChain.then(run, run);
    this.#commitChain = next.catch(() => undefined);
    return next;
  }

  // ---- The handler loop ----------------------------------------------------------------------

  #token(tp: TopicPartition): number | undefined {
    return this.#owned.get(keyOf(tp))?.token;
  }

  /**
   * Hands records to the handler unless their partition was revoked since they were fetched.
   * The ordering matters: a rebalance sets #gate before it waits for #handling, and this method
   * checks #gate and sets #handling in one synchronous step, so either the rebalance waits for this
   * handler (and its commit covers the record) or this record waits for the rebalance (and is
   * dropped if its partition left). The record is marked processed before #handling settles.
   */
  async #process(tp: TopicPartition, token: number | undefined, firstOffset: number, lastOffset: number, handler: () => Promise<void> | void): Promise<void> {
    while (this.#gate !== undefined) await this.#gate;
    if (token === undefined || this.#token(tp) !== token) return;
    const done = (async () => {
      await handler();
      this.#tracker.processed(tp, lastOffset);
    })();
    const settled = done.catch(() => undefined);
    this.#handling = settled;
    try {
      await done;
    } catch (error) {
      if (this.#token(tp) === token && !this.#stop.signal.aborted) this.#deps.consumer.seek(tp, firstOffset);
      throw error;
    } finally {
      if (this.#handling === settled) this.#handling = undefined;
    }
  }

  async #handlerIdle(): Promise<void> {
    while (this.#handling !== undefined) await this.#handling;
  }

  // ---- Lifecycle ---------------------------------------------------------------------------

  /** Runs `task` every `everyMs` until the consumer stops, never two at once. */
  /**
   * Runs `task` every `everyMs`, one run at a time. The time a run took counts towards the wait
   * for the next, so a heartbeat the coordinator held for a whole interval is followed by the next
   * at once and the member always has one waiting there. Returns a function that runs the task
   * now if it is waiting for its next turn (not while it runs).
   */
  #schedule(task: () => Promise<void>, everyMs: number): () => void {
    let pending: ReturnType<typeof setTimeout> | undefined;
    const run = (): void => {
      if (pending !== undefined) this.#timers.delete(pending);
      pending = undefined;
      const startedMs = performance.now();
      task()
        .catch(() => undefined)
        .finally(() => {
          if (!this.#stop.signal.aborted) tick(Math.max(0, everyMs - (performance.now() - startedMs)));
        });
    };
    const tick = (delayMs: number): void => {
      pending = setTimeout(run, delayMs);
      this.#timers.add(pending);
    };
    tick(everyMs);
    return () => {
      if (pending === undefined || this.#stop.signal.aborted) return;
      clearTimeout(pending);
      run();
    };
  }

  #fail(error: StreamBusError): void {
    this.#fatal ??= error;
    this.#stop.abort(error);
    this.#wake?.();
  }

  async #close(): Promise<void> {
    this.#stopTimers();
    const wasStable = this.#state === 'stable';
    // Held like a revocation: the last commit covers every record handled, and none is handled after it.
    await this.#gated(async () => {
      if (wasStable && this.#fatal === undefined) {
        if (this.#options.autoCommit) await this.#commit(undefined, {}).catch(() => undefined);
        await Promise.resolve(this.#listener.onRevoked?.(this.assignment())).catch(() => undefined);
      }
      this.#owned.clear();
      this.#state = 'closed';
      this.#stop.abort(new StreamBusError(ErrorCode.INVALID_REQUEST, 'the group consumer is closed'));
    });
    this.#wake?.();
    this.#stopTimers();
    await this.#loop?.catch(() => undefined);
    if (this.#memberId !== '' && this.#options.groupInstanceId === undefined && this.#fatal === undefined) {
      await this.#deps.groups
        .leaveGroup(this.#options.groupId, [{ memberId: this.#memberId, reason: 'the consumer is closing' }], { timeoutMs: 5_000 })
        .catch(() => undefined);
    }
    await this.#deps.consumer.close();
    await this.#deps.onClose?.();
  }

  #stopTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #assertOpen(): void {
    if (this.#closing !== undefined || this.#state === 'closed') throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'the group consumer is closed');
  }
}
