/**
 * The user data the sticky assignors put in a member's subscription, in the layouts Kafka's Java
 * client and librdkafka use, so a leader of any of them can read what the others remember.
 *
 * StickyAssignorUserData (the eager `sticky` assignor). Under the eager protocol a member has
 * revoked everything by the time it rejoins, so its subscription's owned partitions are empty and
 * the previous assignment travels here instead. No version prefix; v1 appends the generation and
 * is what we write; a reader tells the two apart by what is left after the partitions:
 *   previous_assignment  int32 count, then { topic string, partitions int32 count + int32 each }
 *   generation           v1: int32
 *
 * CooperativeStickyAssignorUserData (`cooperative-sticky`): owned partitions travel in the
 * subscription itself; only the generation is here, for subscriptions older than v2 that lack the
 * generation_id field:
 *   generation  int32
 *
 * Pure: no node:* imports.
 */
import { readTopicPartitions, writeTopicPartitions } from './consumer-protocol.js';
import { NO_GENERATION, type OwnedState } from './types.js';
import { WireReader, WireWriter } from './wire.js';

const STICKY = 'StickyAssignorUserData';
const COOPERATIVE = 'CooperativeStickyAssignorUserData';

/** Encodes StickyAssignorUserData v1: the member's current partitions and their generation. */
export function encodeStickyUserData(state: OwnedState): Uint8Array {
  const writer = new WireWriter(STICKY);
  writeTopicPartitions(writer, state.ownedPartitions, 'previous_assignment');
  return writer.int32(state.generation, 'generation').finish();
}

/**
 * Decodes StickyAssignorUserData v0 (generation NO_GENERATION) or v1. Throws
 * StreamBusError(MALFORMED_FRAME) when the bytes are neither.
 */
export function decodeStickyUserData(bytes: Uint8Array): OwnedState {
  const reader = new WireReader(bytes, STICKY);
  const ownedPartitions = readTopicPartitions(reader, 'previous_assignment');
  if (reader.remaining === 0) return { ownedPartitions, generation: NO_GENERATION };
  const generation = reader.int32('generation');
  reader.end();
  return { ownedPartitions, generation };
}

/** Encodes CooperativeStickyAssignorUserData: the generation alone. */
export function encodeCooperativeUserData(generation: number): Uint8Array {
  return new WireWriter(COOPERATIVE).int32(generation, 'generation').finish();
}

/** Decodes CooperativeStickyAssignorUserData; throws StreamBusError(MALFORMED_FRAME) unless it is exactly one int32. */
export function decodeCooperativeUserData(bytes: Uint8Array): number {
  const reader = new WireReader(bytes, COOPERATIVE);
  const generation = reader.int32('generation');
  reader.end();
  return generation;
}
