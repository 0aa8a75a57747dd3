/**
 * Client-side errors. Every operating error is a StreamBusError (proto/errors.ts) with a wire code
 * and a `retriable` flag; the classes here add what a caller needs to act on the failure without
 * parsing messages: which broker and API a request failed on, which partition a record was bound
 * for and what last went wrong, and, for admin calls over several topics, which items failed.
 */
import { ErrorCode, StreamBusError } from '../proto/errors.js';

/** One topic (or partition) an admin call could not act on. */
export interface ItemFailure {
  readonly topic: string;
  readonly partition?: number;
  readonly error: StreamBusError;
}

/**
 * An admin call failed for some of its items. `failures` lists each failed topic or partition with
 * its own typed error; items not listed succeeded (the call is not atomic across topics). `code`,
 * `codeName` and `retriable` are those of the first failure, so a single-topic call reads like a
 * plain StreamBusError.
 */
export class AdminError extends StreamBusError {
  readonly operation: string;
  readonly failures: readonly ItemFailure[];

  constructor(operation: string, failures: readonly ItemFailure[], total: number) {
    const first = failures[0]!;
    const listed = failures
      .slice(0, 10)
      .map((f) => `${f.partition === undefined ? f.topic : `${f.topic}-${f.partition}`}: ${f.error.codeName} (${f.error.message})`)
      .join('; ');
    const more = failures.length > 10 ? `; and ${failures.length - 10} more` : '';
    super(first.error.code, `${operation} failed for ${failures.length} of ${total}: ${listed}${more}`, {
      cause: first.error,
      context: first.error.context,
    });
    this.name = 'AdminError';
    this.operation = operation;
    this.failures = failures;
  }
}

/**
 * A request got no answer within its timeout (requestTimeoutMs unless the caller set one).
 * REQUEST_TIMED_OUT, retriable. The request may still have been served: a produce that timed out
 * may have been written. The connection it was sent on is closed, since a broker that does not
 * answer one request is unlikely to answer the ones pipelined behind it.
 */
export class RequestTimeoutError extends StreamBusError {
  /** The API of the request, e.g. 'PRODUCE'. */
  readonly api: string;
  /** The broker as "host:port" (prefixed with its node id when known). */
  readonly broker: string;
  readonly timeoutMs: number;

  constructor(api: string, broker: string, timeoutMs: number, address: string = broker) {
    super(ErrorCode.REQUEST_TIMED_OUT, `${api} got no response from ${broker} within ${timeoutMs} ms`, { context: { broker: address } });
    this.name = 'RequestTimeoutError';
    this.api = api;
    this.broker = broker;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The broker's circuit breaker is open: it failed `failures` times in a row (connects or
 * requests), so requests to it fail at once, without touching the network, until the cool-down
 * ends and one probe request is let through. NETWORK_EXCEPTION, retriable; `cause` is the failure
 * that opened the circuit. Nothing was sent.
 */
export class BrokerUnavailableError extends StreamBusError {
  readonly api: string;
  readonly broker: string;
  /** Consecutive failures counted when the circuit opened. */
  readonly failures: number;
  /** How long until the next probe is allowed. */
  readonly retryInMs: number;

  constructor(api: string, broker: string, failures: number, retryInMs: number, cause: unknown, address: string = broker) {
    super(
      ErrorCode.NETWORK_EXCEPTION,
      `${api} not sent: ${broker} is unavailable (circuit open after ${failures} consecutive failures; next probe in ${retryInMs} ms)`,
      { cause, context: { broker: address } },
    );
    this.name = 'BrokerUnavailableError';
    this.api = api;
    this.broker = broker;
    this.failures = failures;
    this.retryInMs = retryInMs;
  }
}

/**
 * A producer record was not acknowledged within deliveryTimeoutMs of send(): its batch kept failing
 * with retriable errors (a leader moving, a broker down) until the time ran out. REQUEST_TIMED_OUT;
 * `lastError` (also the `cause`) says what went wrong last. With acks 'all' the record was not
 * acknowledged by the in-sync replicas; it may still have been written by a leader that did not
 * answer in time.
 */
export class DeliveryTimeoutError extends StreamBusError {
  readonly topic: string;
  readonly partition: number;
  readonly recordCount: number;
  readonly deliveryTimeoutMs: number;
  /** The last failure before the deadline, or undefined when the batch never left (no leader known). */
  readonly lastError: StreamBusError | undefined;

  constructor(topic: string, partition: number, recordCount: number, deliveryTimeoutMs: number, lastError: StreamBusError | undefined) {
    const last = lastError === undefined ? 'it was never sent (no leader was known)' : `last error: ${lastError.codeName}: ${lastError.message}`;
    super(
      ErrorCode.REQUEST_TIMED_OUT,
      `${recordCount} record(s) for ${topic}-${partition} were not acknowledged within deliveryTimeoutMs (${deliveryTimeoutMs} ms); ${last}`,
      { cause: lastError, context: { topic, partition, ...(lastError?.context.broker === undefined ? {} : { broker: lastError.context.broker }) } },
    );
    this.name = 'DeliveryTimeoutError';
    this.topic = topic;
    this.partition = partition;
    this.recordCount = recordCount;
    this.deliveryTimeoutMs = deliveryTimeoutMs;
    this.lastError = lastError;
  }
}

/**
 * Another producer instance with the same transactionalId started (its InitProducerId bumped the
 * epoch), so this one is a zombie: the coordinator and the partition leaders refuse it. PRODUCER_FENCED,
 * not retriable and final: the producer rejects every later send() and transaction() with this error,
 * and its open transaction (if any) is aborted by the new instance. Close it and let the new one work.
 */
export class ProducerFencedError extends StreamBusError {
  readonly transactionalId: string;

  constructor(transactionalId: string, detail: string, cause?: unknown) {
    super(ErrorCode.PRODUCER_FENCED, `producer with transactionalId "${transactionalId}" was fenced by a newer instance: ${detail}`, cause === undefined ? {} : { cause });
    this.name = 'ProducerFencedError';
    this.transactionalId = transactionalId;
  }
}
