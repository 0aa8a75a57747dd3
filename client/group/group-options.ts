/**
 * A group consumer's options: the consumer's own (fetching, buffering, offset reset) plus Kafka's
 * group settings under camelCase names, with Kafka's defaults, checked once at construction so a
 * bad value fails with StreamBusError(INVALID_CONFIG) naming it.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { ConsumerOptions } from '../consumer/consumer-options.js';
import { assignorByName, rebalanceProtocolFor, type Assignor, type RebalanceProtocol } from './assignors/index.js';

export interface GroupConsumerOptions extends ConsumerOptions {
  /** The consumer group (group.id). */
  readonly groupId: string;
  /**
   * group.instance.id: makes this a static member. A restart with the same id within the session
   * timeout gets its partitions back without a rebalance; a static member does not leave the group
   * on close (it is expected back).
   */
  readonly groupInstanceId?: string;
  /**
   * Assignor names in order of preference. Default ['cooperative-sticky', 'range'], which is the
   * eager protocol (range is eager only); ['cooperative-sticky'] alone gives the cooperative one.
   */
  readonly assignors?: readonly string[];
  /** The coordinator removes a member it has not heard from for this long. Default 45 000. */
  readonly sessionTimeoutMs?: number;
  /** How long a rebalance waits for members to rejoin (Kafka's max.poll.interval.ms). Default 300 000. */
  readonly rebalanceTimeoutMs?: number;
  /** Heartbeats go out this often, on their own timer. Default 3000. */
  readonly heartbeatIntervalMs?: number;
  /** Commit processed positions every autoCommitIntervalMs, on revocation and on close. Default true. */
  readonly autoCommit?: boolean;
  /** Default 5000. */
  readonly autoCommitIntervalMs?: number;
  /** How often a pattern subscription re-lists the cluster's topics. Default 30 000. */
  readonly topicRefreshMs?: number;
}

export interface ResolvedGroupOptions {
  readonly groupId: string;
  readonly groupInstanceId: string | undefined;
  readonly assignors: readonly Assignor[];
  readonly protocol: RebalanceProtocol;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly autoCommit: boolean;
  readonly autoCommitIntervalMs: number;
  readonly topicRefreshMs: number;
}

export const DEFAULT_ASSIGNORS: readonly string[] = ['cooperative-sticky', 'range'];

/** Checks the group part of the options; StreamBusError(INVALID_CONFIG) names a bad one. */
export function resolveGroupOptions(options: GroupConsumerOptions): ResolvedGroupOptions {
  if (typeof options.groupId !== 'string' || options.groupId === '') {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `groupId must be a non-empty string, got ${JSON.stringify(options.groupId)}`);
  }
  const instance = options.groupInstanceId;
  if (instance !== undefined && (typeof instance !== 'string' || instance === '')) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `groupInstanceId must be a non-empty string when given, got ${JSON.stringify(instance)}`);
  }
  const ms = (name: string, value: number | undefined, fallback: number): number => {
    const v = value ?? fallback;
    if (!Number.isSafeInteger(v) || v < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a positive integer of ms, got ${String(value)}`);
    return v;
  };
  const names: unknown = options.assignors ?? DEFAULT_ASSIGNORS;
  if (!Array.isArray(names)) throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'assignors must be an array of assignor names');
  const assignors = names.map((name: unknown) => assignorByName(String(name)));
  const sessionTimeoutMs = ms('sessionTimeoutMs', options.sessionTimeoutMs, 45_000);
  const heartbeatIntervalMs = ms('heartbeatIntervalMs', options.heartbeatIntervalMs, 3_000);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `heartbeatIntervalMs (${heartbeatIntervalMs}) must be below sessionTimeoutMs (${sessionTimeoutMs})`);
  }
  const autoCommit = options.autoCommit ?? true;
  if (typeof autoCommit !== 'boolean') throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'autoCommit must be a boolean');
  return {
    groupId: options.groupId,
    groupInstanceId: instance,
    assignors,
    protocol: rebalanceProtocolFor(assignors),
    sessionTimeoutMs,
    rebalanceTimeoutMs: ms('rebalanceTimeoutMs', options.rebalanceTimeoutMs, 300_000),
    heartbeatIntervalMs,
    autoCommit,
    autoCommitIntervalMs: ms('autoCommitIntervalMs', options.autoCommitIntervalMs, 5_000),
    topicRefreshMs: ms('topicRefreshMs', options.topicRefreshMs, 30_000),
  };
}
