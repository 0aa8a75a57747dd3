/**
 * Idempotent producer bookkeeping (KIP-98): the producer id and epoch, and per partition the next
 * sequence number to hand out, the last one acknowledged and the batches in flight.
 *
 * Why it lives apart from the producer: the rules that keep a partition's batches exactly once and
 * in order are small and easy to get wrong, and here they are a pure object the producer consults
 * (no clock, no I/O), tested on their own.
 *
 * The rules.
 * - A batch gets its base sequence when it first leaves, from its partition's counter, and keeps it
 *   on every retry under the same epoch, so the leader recognises a resend of a batch it already
 *   wrote and answers with the original offset instead of writing it twice.
 * - Sequences count records and wrap from 2^31-1 to 0, as Kafka's do.
 * - At most `maxInFlight` batches of one partition are in flight. A batch that is being retried goes
 *   out only once nothing else of its partition is in flight: the leader accepts sequences only in
 *   order, so the batches behind a failed one must come back (failed with OUT_OF_ORDER_SEQUENCE_NUMBER
 *   or with the same connection error) and be resent after it, in sequence order.
 * - After UNKNOWN_PRODUCER_ID, or an OUT_OF_ORDER_SEQUENCE_NUMBER for the first unacknowledged batch
 *   of a partition (the leader lost our state, e.g. retention removed it), the producer bumps its epoch
 *   (KIP-360): every partition starts again at sequence 0 under the new epoch, and batches not yet
 *   acknowledged are stamped anew when they are resent.
 */

/** The largest sequence number; the next one after it is 0. */
export const MAX_SEQUENCE = 0x7fff_ffff;

/** The producer id and epoch the coordinator handed out. */
export interface ProducerIdentity {
  readonly producerId: number;
  readonly producerEpoch: number;
}

/** `sequence + count`, wrapping past 2^31-1 to 0. */
export function addSequence(sequence: number, count: number): number {
  return (sequence + count) % (MAX_SEQUENCE + 1);
}

/** What a batch carries for the bookkeeping: its stamp, once it has one. */
export interface SequencedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly recordCount: number;
  /** -1 until the batch first leaves. */
  baseSequence: number;
  /** The producer id it was stamped with; -1 until stamped. */
  producerId: number;
  /** The epoch it was stamped under; -1 until stamped. */
  producerEpoch: number;
}

interface PartitionSequences {
  next: number;
  /** The last sequence the leader acknowledged under the current epoch; -1 for none. */
  lastAcked: number;
  inFlight: number;
}

export class SequenceTracker {
  readonly #maxInFlight: number;
  readonly #partitions = new Map<string, PartitionSequences>();
  #identity: ProducerIdentity | undefined;

  constructor(maxInFlight: number) {
    this.#maxInFlight = maxInFlight;
  }

  get identity(): ProducerIdentity | undefined {
    return this.#identity;
  }

  /**
   * Adopts a (new) producer id or epoch: every partition starts again at sequence 0. Batches in
   * flight keep being counted until they come back, so a resend still waits for them.
   */
  setIdentity(identity: ProducerIdentity): void {
    this.#identity = identity;
    for (const state of this.#partitions.values()) {
      state.next = 0;
      state.lastAcked = -1;
    }
  }

  /** Batches of any partition in flight now. */
  get inFlight(): number {
    let total = 0;
    for (const state of this.#partitions.values()) total += state.inFlight;
    return total;
  }

  /**
   * Whether the head batch of a partition may leave now: a first attempt while fewer than
   * maxInFlight of the partition are in flight; a resend only when none is.
   */
  canSend(batch: SequencedBatch): boolean {
    const state = this.#partitions.get(keyOf(batch.topic, batch.partition));
    if (state === undefined) return true;
    if (this.#stampedNow(batch)) return state.inFlight === 0;
    return state.inFlight < this.#maxInFlight;
  }

  /**
   * Marks the batch as leaving and stamps it: a batch already stamped under the current epoch keeps
   * its sequence; any other gets the partition's next one. Returns the identity to stamp it with.
   */
  send(batch: SequencedBatch): ProducerIdentity {
    const identity = this.#identity;
    if (identity === undefined) throw new Error('SequenceTracker.send before a producer id is known');
    const state = this.#state(batch.topic, batch.partition);
    if (!this.#stampedNow(batch)) {
      batch.baseSequence = state.next;
      batch.producerId = identity.producerId;
      batch.producerEpoch = identity.producerEpoch;
      state.next = addSequence(state.next, batch.recordCount);
    }
    state.inFlight++;
    return identity;
  }

  /** The batch came back (whatever the answer). */
  returned(batch: SequencedBatch): void {
    const state = this.#partitions.get(keyOf(batch.topic, batch.partition));
    if (state !== undefined && state.inFlight > 0) state.inFlight--;
  }

  /** The leader acknowledged the batch. */
  acknowledged(batch: SequencedBatch): void {
    if (!this.#stampedNow(batch)) return;
    const state = this.#state(batch.topic, batch.partition);
    const last = addSequence(batch.baseSequence, batch.recordCount - 1);
    // Answers of one partition may arrive out of order (several connections); keep the furthest.
    if (state.lastAcked < 0 || ahead(last, state.lastAcked)) state.lastAcked = last;
  }

  /**
   * Whether the batch is the first one the leader has not acknowledged: an OUT_OF_ORDER answer to it
   * means the leader lost our state, not that an earlier batch is missing.
   */
  isFirstUnacknowledged(batch: SequencedBatch): boolean {
    if (!this.#stampedNow(batch)) return false;
    const state = this.#partitions.get(keyOf(batch.topic, batch.partition));
    const expected = state === undefined ? 0 : addSequence(state.lastAcked, 1);
    return batch.baseSequence === expected;
  }

  /** Whether the batch was stamped under the current epoch (a resend keeps its stamp). */
  #stampedNow(batch: SequencedBatch): boolean {
    const identity = this.#identity;
    return batch.baseSequence >= 0 && identity !== undefined && batch.producerId === identity.producerId && batch.producerEpoch === identity.producerEpoch;
  }

  #state(topic: string, partition: number): PartitionSequences {
    const key = keyOf(topic, partition);
    let state = this.#partitions.get(key);
    if (state === undefined) {
      state = { next: 0, lastAcked: -1, inFlight: 0 };
      this.#partitions.set(key, state);
    }
    return state;
  }
}

/** Whether sequence `a` comes after `b`, allowing for the wrap at 2^31-1. */
function ahead(a: number, b: number): boolean {
  const distance = (a - b + MAX_SEQUENCE + 1) % (MAX_SEQUENCE + 1);
  return distance > 0 && distance < (MAX_SEQUENCE + 1) / 2;
}

function keyOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
