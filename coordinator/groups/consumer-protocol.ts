/**
 * The topics of a consumer's subscription, read from its JoinGroup metadata.
 *
 * The coordinator treats member metadata as opaque bytes except in one place: OffsetDelete may not
 * delete offsets of a topic a member of the group is subscribed to (GROUP_SUBSCRIBED_TO_TOPIC), as
 * in Kafka, and that needs the subscribed topics. Consumers (Kafka's and StreamBus's) encode their
 * subscription in Kafka's ConsumerProtocolSubscription format, every version of which begins
 *
 *   version:int16  topics:int32 count, then per topic int16 length + UTF-8 bytes  ...
 *
 * (user data, owned partitions, generation and rack follow in later versions; newer versions keep
 * this prefix, so it is read whatever the version). Big-endian throughout.
 *
 * Pure: no node:* imports.
 */

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Topics a member could name; more is not a subscription this reader trusts. */
const MAX_TOPICS = 100_000;

/**
 * The subscribed topics, or undefined when `metadata` is not a consumer protocol subscription
 * (the caller then assumes the member may be subscribed to anything).
 */
export function subscribedTopics(metadata: Uint8Array): string[] | undefined {
  if (metadata.length < 6) return undefined;
  const view = new DataView(metadata.buffer, metadata.byteOffset, metadata.byteLength);
  const version = view.getInt16(0);
  const count = view.getInt32(2);
  if (version < 0 || count < 0 || count > MAX_TOPICS) return undefined;
  const topics: string[] = [];
  let at = 6;
  for (let i = 0; i < count; i++) {
    if (at + 2 > metadata.length) return undefined;
    const length = view.getInt16(at);
    at += 2;
    if (length < 0 || at + length > metadata.length) return undefined;
    try {
      topics.push(decoder.decode(metadata.subarray(at, at + length)));
    } catch {
      return undefined;
    }
    at += length;
  }
  return topics;
}

/** Encodes a version 0 subscription of `topics` (tests, and tools that join as a consumer). */
export function encodeSubscription(topics: readonly string[], userData: Uint8Array | null = null): Uint8Array {
  const encoder = new TextEncoder();
  const names = topics.map((t) => encoder.encode(t));
  const size = 6 + names.reduce((sum, n) => sum + 2 + n.length, 0) + 4 + (userData?.length ?? 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setInt16(0, 0);
  view.setInt32(2, names.length);
  let at = 6;
  for (const name of names) {
    view.setInt16(at, name.length);
    out.set(name, at + 2);
    at += 2 + name.length;
  }
  view.setInt32(at, userData === null ? -1 : userData.length);
  if (userData !== null) out.set(userData, at + 4);
  return out;
}
