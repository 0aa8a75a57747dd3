/**
 * The Python Kafka clients (Debian packages, installed by .ci/run), unmodified, against the Kafka
 * listener: kafka-python 2.0.2 (version probe, admin, producers with every acks setting and gzip,
 * a consumer with assign() and CRC checks, offsets_for_times) and confluent-kafka-python 1.7 on
 * librdkafka 2.0.2 (AdminClient create and list, a snappy producer, a consumer with assign()).
 * Each runs as a child process (/usr/bin/python3: the machine's default python3 does not see
 * Debian's packages) and prints one JSON object of what it saw.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compression } from '../../proto/record-batch/index.js';
import { readBatches, run, startKafkaNode, type KafkaNode } from './support/kafka-node.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const PYTHON = '/usr/bin/python3';

let node: KafkaNode;

beforeAll(async () => {
  node = await startKafkaNode({ 'kafka.host': 'localhost' });
});

afterAll(async () => {
  await node?.close();
});

async function python(script: string, topic: string): Promise<Record<string, unknown>> {
  const result = await run(PYTHON, [path.join(fixtures, script), node.bootstrap, topic], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`${script} exited with ${String(result.code)}\n${result.stderr.slice(-4000)}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

describe('kafka listener > kafka-python 2.0.2', () => {
  it('infers broker version 2.3 from ApiVersions v0, and produces, consumes with CRC checks and finds offsets for times', async () => {
    const out = await python('kafka_python_client.py', 'kafka-python');
    // Fetch v11 advertised and no Produce v8: kafka-python's table says (2, 3).
    expect(out.version).toEqual([2, 3, 0]);
    expect(out.topics).toEqual(['kafka-python']);
    expect(out.sent).toEqual([
      { acks: '0', count: 50, offsets: [-1, -1, -1] },
      { acks: '1', count: 50, offsets: [50, 51, 52] },
      { acks: 'all', count: 50, offsets: [100, 101, 102] },
    ]);
    expect(out).toMatchObject({ consumed: 150, offsets: [0, 1, 2, 3, 4], firstKey: 'k0-0', firstHeaders: [['h', 'x']], end: 150 });
    // Partition 1 holds nothing: no offset at or after the time.
    expect(out.offsetsForTimes).toEqual({ '0': 0, '1': null });
    const batches = await readBatches(node, 'kafka-python', 0);
    expect(new Set(batches.map((b) => b.header.compression))).toEqual(new Set([Compression.gzip]));
  });
});

describe('kafka listener > confluent-kafka-python 1.7 (librdkafka 2.0.2)', () => {
  it('creates and lists topics with the AdminClient, produces with snappy and consumes by assign()', async () => {
    const out = await python('confluent_client.py', 'confluent');
    expect(out).toMatchObject({
      created: ['confluent'],
      createAgain: 'TOPIC_ALREADY_EXISTS',
      listed: { confluent: 3 },
      brokers: [[1, 'localhost', node.kafkaPort]],
      delivered: 100,
      undelivered: 0,
      consumed: 100,
      keysMatchHeaders: true,
      partitions: [0, 1, 2],
    });
    const batches = await readBatches(node, 'confluent', 0);
    expect(new Set(batches.map((b) => b.header.compression))).toEqual(new Set([Compression.snappy]));
  });
});
