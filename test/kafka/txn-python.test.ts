/**
 * confluent-kafka-python 1.7 on librdkafka 2.0.2 (Debian package), unmodified, as a transactional
 * producer through the Kafka listener: init_transactions, begin, produce to three partitions,
 * send_offsets_to_transaction, commit and abort, read back by consumers with isolation.level
 * read_committed and read_uncommitted. librdkafka negotiates the transaction APIs at the versions
 * it needs (InitProducerId v0-1 in range for idempotence, AddPartitionsToTxn and AddOffsetsToTxn
 * v0, EndTxn v1, TxnOffsetCommit v2). It runs as a child process (/usr/bin/python3: the machine's
 * default python3 does not see Debian's packages) and prints one JSON object of what it saw. kcat
 * (librdkafka too) then reads the same partitions with isolation.level=read_committed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBatches, run, startKafkaNode, type KafkaNode } from './support/kafka-node.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const PYTHON = '/usr/bin/python3';
const TOPIC = 'py-txn';

let node: KafkaNode;

beforeAll(async () => {
  node = await startKafkaNode({ 'kafka.host': 'localhost', 'group.initial.rebalance.delay.ms': '0' });
});

afterAll(async () => {
  await node?.close();
});

describe('kafka listener > confluent-kafka-python 1.7 transactions (librdkafka 2.0.2)', () => {
  it('commits and aborts transactions with offsets: read_committed sees the committed records only, read_uncommitted all, and the group keeps the committed offsets', async () => {
    const result = await run(PYTHON, [path.join(fixtures, 'confluent_txn.py'), node.bootstrap, TOPIC], { timeoutMs: 90_000 });
    if (result.code !== 0) throw new Error(`confluent_txn.py exited with ${String(result.code)}\n${result.stderr.slice(-4000)}`);
    const out = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    const each = (label: string): string[] => [0, 1, 2].map((p) => `${label}-${p}`);
    expect(out.readCommitted).toEqual([...each('after'), ...each('committed')].sort());
    expect(out.readUncommitted).toEqual([...each('after'), ...each('aborted'), ...each('committed')].sort());
    // The committed transactions' offsets (5, then 7) became the group's; the aborted one's (9) never did.
    expect([out.offsetAfterFirst, out.offsetAfterLast]).toEqual([5, 7]);
    expect(out.offsetsSeen).not.toContain(9);
    const kcat = await run('kcat', ['-b', node.bootstrap, '-C', '-t', TOPIC, '-o', 'beginning', '-e', '-q', '-f', '%s\\n', '-X', 'isolation.level=read_committed'], { timeoutMs: 20_000 });
    expect(kcat.code).toBe(0);
    expect(kcat.stdout.trim().split('\n').sort()).toEqual([...each('after'), ...each('committed')].sort());
    // Each partition: three transactional batches, each followed by its marker (commit, abort, commit).
    for (const partition of [0, 1, 2]) {
      const batches = await readBatches(node, TOPIC, partition);
      expect(batches.map((b) => (b.header.isControl ? `marker-${String(b.records[0]?.key?.readInt16BE(2))}` : b.header.isTransactional ? 'txn' : 'plain'))).toEqual([
        'txn',
        'marker-1',
        'txn',
        'marker-0',
        'txn',
        'marker-1',
      ]);
    }
  });
});
