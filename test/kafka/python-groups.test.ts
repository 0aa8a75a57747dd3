/**
 * The Python Kafka clients (Debian packages), unmodified, as consumer group members through the
 * Kafka listener: kafka-python 2.0.2 (KafkaConsumer with group_id: JoinGroup v2, SyncGroup v1,
 * OffsetCommit v2, OffsetFetch v1) and confluent-kafka-python 1.7 (Consumer with group.id:
 * subscribe, poll, commit). In each, one member consumes part of a topic and commits, and a second
 * member of the same group resumes from the commit: together they read every record once.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startKafkaNode, type KafkaNode } from './support/kafka-node.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const PYTHON = '/usr/bin/python3';

let node: KafkaNode;

beforeAll(async () => {
  node = await startKafkaNode({ 'kafka.host': 'localhost', 'group.initial.rebalance.delay.ms': '0' });
});

afterAll(async () => {
  await node?.close();
});

async function python(script: string, topic: string, group: string): Promise<Record<string, unknown>> {
  const result = await run(PYTHON, [path.join(fixtures, script), node.bootstrap, topic, group], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`${script} exited with ${String(result.code)}\n${result.stderr.slice(-4000)}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

describe('kafka listener > kafka-python 2.0.2 consumer group', () => {
  it('consumes with group_id, commits, and a restarted member resumes from the commit', { timeout: 90_000 }, async () => {
    const out = await python('kafka_python_group.py', 'py-group', 'py-billing');
    expect(out).toMatchObject({ first: 40, assignment: [0, 1], second: 20, overlap: 0, all: 60, listed: ['py-billing'] });
    const committed = out.committed as Record<string, number>;
    expect((committed['0'] ?? 0) + (committed['1'] ?? 0)).toBe(40);
  });
});

describe('kafka listener > confluent-kafka-python 1.7 consumer group', () => {
  it('subscribes with group.id, polls, commits synchronously, and a restarted member resumes from the commit', { timeout: 90_000 }, async () => {
    const out = await python('confluent_group.py', 'confluent-group', 'confluent-billing');
    expect(out).toMatchObject({ first: 60, assignment: [0, 1, 2], committedTotal: 60, second: 30, overlap: 0, all: 90 });
  });
});
