/**
 * Public record and option types shared by the producer, the consumer and the admin client.
 */
import type { RecordInput } from '../proto/record-batch/index.js';

/** Bytes as the client accepts them: a Buffer, any Uint8Array (viewed, not copied), or a string (UTF-8). */
export type Bytes = Buffer | Uint8Array | string;

/**
 * Record headers: an object for the common case, or an array to keep order and repeat keys.
 * Header values may be null.
 */
export type RecordHeaders = NonNullable<RecordInput['headers']>;

/** A header as consumers receive it. */
export interface MessageHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

/** One record to produce. */
export interface ProducerRecord {
  readonly topic: string;
  /** Records with the same key go to the same partition (Kafka's murmur2 partitioning). */
  readonly key?: Bytes | null | undefined;
  /** null is a tombstone (deletes the key on compacted topics). */
  readonly value: Bytes | null;
  readonly headers?: RecordHeaders | undefined;
  /** Overrides the partitioner. */
  readonly partition?: number | undefined;
  /** Create time in ms since the epoch. Default: when send() was called. */
  readonly timestamp?: number | undefined;
}

/** Where an acknowledged record was written. */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  /** The record's offset in the partition; -1 with acks=0 (the broker's answer is not awaited). */
  readonly offset: number;
  /** The record's create time, or the broker's append time for LogAppendTime topics. */
  readonly timestamp: number;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** One consumed record. */
export interface Message {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  /** For uncompressed batches a view into the fetched bytes: copy it to keep it long-term cheaply. */
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly MessageHeader[];
}

/** The options every public async call accepts. */
export interface CallOptions {
  /** Aborting rejects the call with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}
