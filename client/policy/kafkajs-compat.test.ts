/**
 * Cross-check against a real Kafka client: kafkajs's DefaultPartitioner (its Java-compatible
 * murmur2 partitioner) must pick the same partition as ours for every key.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from './murmur2.js';
import { seededRandom } from './random.js';

function metadata(count: number): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 1, replicas: [1], isr: [1] }));
}

describe('policy > murmur2 > kafkajs compatibility', () => {
  it('places random binary and text keys where kafkajs DefaultPartitioner does', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const random = seededRandom(2024);
    for (let i = 0; i < 2_000; i++) {
      const length = Math.floor(random() * 40);
      const key = Buffer.alloc(length);
      for (let j = 0; j < length; j++) key[j] = Math.floor(random() * 256);
      const count = 1 + Math.floor(random() * 64);
      const expected = kafkajs({ topic: 't', partitionMetadata: metadata(count), message: { key, value: null } });
      expect(partitionForKey(key, count)).toBe(expected);
    }
    for (const text of ['user-1', 'order:42', 'ünïcödé', '🙂 emoji key']) {
      const expected = kafkajs({ topic: 't', partitionMetadata: metadata(10), message: { key: text, value: null } });
      expect(partitionForKey(Buffer.from(text), 10)).toBe(expected);
    }
  });
});
