/**
 * The consumer's options: what a caller may set, their defaults, and the checked, resolved form the
 * consumer and its fetcher read. A bad option fails the consumer's construction with
 * StreamBusError(INVALID_CONFIG) naming it, rather than surfacing later as odd fetch behaviour.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { resolveRetryOptions, type ResolvedRetryOptions } from '../policy/retry.js';

export type OffsetReset = 'earliest' | 'latest' | 'none';

export interface ConsumerOptions {
  /** Where to start when a partition has no position, or its position fell out of the log. Default 'latest'. */
  readonly autoOffsetReset?: OffsetReset;
  /** Longest the broker holds a fetch waiting for minBytes. Default 500. */
  readonly maxWaitMs?: number;
  /** Default 1: answer as soon as a record is there. */
  readonly minBytes?: number;
  /** Most bytes one fetch response carries. Default 50 MiB. */
  readonly maxBytes?: number;
  /**
   * Most bytes per partition in one fetch (at least one whole batch is always returned). Default
   * 4 MiB, not Kafka's 1 MiB: the broker returns whole stored batches, often 1 MiB each, and
   * several per fetch amortize the round trip and the broker's per-fetch cost (+40-60 % MB/s for
   * 1 KiB records in the native benchmark). A response is decoded in one go, so with small
   * records (~100 B) a smaller value costs the client less GC. Buffered data stays bounded by
   * maxBufferedBytes and maxBufferedRecords (soft by one response) and by maxBytes.
   */
  readonly maxPartitionBytes?: number;
  /** Records buffered ahead of the application before fetching pauses. Default 10 000. */
  readonly maxBufferedRecords?: number;
  /** Bytes buffered ahead of the application before fetching pauses. Default 64 MiB. */
  readonly maxBufferedBytes?: number;
  /** Check every batch's CRC-32C. Default true. */
  readonly verifyCrc?: boolean;
  /**
   * Default 'read_committed': the consumer reads only below the last stable offset (records of an
   * open transaction wait until it ends) and never sees records of aborted transactions.
   * 'read_uncommitted' reads up to the high watermark and sees every record, aborted ones included.
   * Control batches (commit and abort markers) are never handed out either way. Non-transactional
   * records look the same under both.
   */
  readonly isolationLevel?: 'read_uncommitted' | 'read_committed';
  /** First backoff after a failed fetch. Default 100. */
  readonly retryBackoffMs?: number;
  /** Largest backoff. Default 1000. */
  readonly retryBackoffMaxMs?: number;
  /** Per-request timeout, on top of maxWaitMs for fetches. Default: the client's requestTimeoutMs. */
  readonly requestTimeoutMs?: number;
  /**
   * The rack (availability zone) this consumer runs in. When set, each partition is fetched from an
   * in-sync replica on a broker with the same `broker.rack` when the metadata shows one, instead of
   * from its leader (the client picks from the metadata; Kafka's brokers pick with KIP-392). Records
   * and their order are the same; a follower serves only what is below its own high watermark, which
   * trails the leader's slightly. Default: unset (always the leader).
   */
  readonly clientRack?: string;
  /** After any error from a follower, fetch the partition from its leader for this long. Default 30 000. */
  readonly followerFallbackMs?: number;
}

/** ConsumerOptions with every default applied and checked. */
export interface ResolvedConsumerOptions {
  readonly autoOffsetReset: OffsetReset;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly maxPartitionBytes: number;
  readonly maxBufferedRecords: number;
  readonly maxBufferedBytes: number;
  readonly verifyCrc: boolean;
  /** FetchRequest.isolation_level: 0 read_uncommitted, 1 read_committed. */
  readonly isolationLevel: 0 | 1;
  readonly requestTimeoutMs: number;
  readonly retry: ResolvedRetryOptions;
  readonly clientRack: string | undefined;
  readonly followerFallbackMs: number;
  /** How long UNKNOWN_TOPIC_OR_PARTITION is retried before it is handed to the reader (a client option). */
  readonly unknownTopicRetryMs: number;
}

/** See ConsumerOptions.maxPartitionBytes for why 4 MiB and not Kafka's 1 MiB. */
const DEFAULT_MAX_PARTITION_BYTES = 4 * 1024 * 1024;

/**
 * Checks `options` and fills in defaults; requestTimeoutMs defaults to the client's, and
 * unknownTopicRetryMs is the client's. Throws StreamBusError(INVALID_CONFIG).
 */
export function resolveConsumerOptions(options: ConsumerOptions, clientRequestTimeoutMs: number, unknownTopicRetryMs = 10_000): ResolvedConsumerOptions {
  const autoOffsetReset = options.autoOffsetReset ?? 'latest';
  if (autoOffsetReset !== 'earliest' && autoOffsetReset !== 'latest' && autoOffsetReset !== 'none') {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `autoOffsetReset must be 'earliest', 'latest' or 'none', got ${String(autoOffsetReset)}`);
  }
  const number = (name: string, value: number | undefined, fallback: number, min: number): number => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < min) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `consumer option ${name} must be a number >= ${min}, got ${String(value)}`);
    }
    return v;
  };
  const isolationLevel = options.isolationLevel ?? 'read_committed';
  if (isolationLevel !== 'read_committed' && isolationLevel !== 'read_uncommitted') {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `isolationLevel must be 'read_committed' or 'read_uncommitted', got ${String(isolationLevel)}`);
  }
  const clientRack = options.clientRack;
  if (clientRack !== undefined && typeof clientRack !== 'string') {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `consumer option clientRack must be a string, got ${typeof clientRack}`);
  }
  return {
    autoOffsetReset,
    clientRack: clientRack === '' ? undefined : clientRack,
    followerFallbackMs: number('followerFallbackMs', options.followerFallbackMs, 30_000, 0),
    unknownTopicRetryMs,
    maxWaitMs: number('maxWaitMs', options.maxWaitMs, 500, 0),
    minBytes: number('minBytes', options.minBytes, 1, 0),
    maxBytes: number('maxBytes', options.maxBytes, 50 * 1024 * 1024, 1),
    maxPartitionBytes: number('maxPartitionBytes', options.maxPartitionBytes, DEFAULT_MAX_PARTITION_BYTES, 1),
    maxBufferedRecords: number('maxBufferedRecords', options.maxBufferedRecords, 10_000, 1),
    maxBufferedBytes: number('maxBufferedBytes', options.maxBufferedBytes, 64 * 1024 * 1024, 1),
    verifyCrc: options.verifyCrc ?? true,
    isolationLevel: isolationLevel === 'read_committed' ? 1 : 0,
    requestTimeoutMs: number('requestTimeoutMs', options.requestTimeoutMs, clientRequestTimeoutMs, 1),
    retry: resolveRetryOptions({
      backoffMs: number('retryBackoffMs', options.retryBackoffMs, 100, 0),
      backoffMaxMs: number('retryBackoffMaxMs', options.retryBackoffMaxMs, 1000, 0),
    }),
  };
}
