/**
 * kcat 1.7 on librdkafka 2.0.2 (Debian packages, installed by .ci/run), unmodified, against the
 * Kafka listener bound to `localhost` (127.0.0.1 and ::1): metadata as JSON, the version
 * negotiation (ApiVersions v3 first, then MsgVer2, ZSTD and LZ4 enabled, no fallback), producing
 * and consuming without a group with every compression codec, and offsets for times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compression, type CompressionName } from '../../proto/record-batch/index.js';
import { readBatches, run, startKafkaNode, type KafkaNode, type ProcessResult } from './support/kafka-node.js';

let node: KafkaNode;
let bootstrap: string;

beforeAll(async () => {
  node = await startKafkaNode({ 'kafka.host': 'localhost', 'num.partitions': '1' });
  bootstrap = `localhost:${node.kafkaPort}`;
});

afterAll(async () => {
  await node?.close();
});

async function kcat(args: readonly string[], input?: string): Promise<ProcessResult> {
  const result = await run('kcat', ['-b', bootstrap, ...args], { ...(input === undefined ? {} : { input }), timeoutMs: 20_000 });
  if (result.code !== 0) throw new Error(`kcat ${args.join(' ')} exited with ${String(result.code)}\n${result.stderr.slice(-3000)}`);
  return result;
}

interface KcatMessage {
  readonly offset: number;
  readonly partition: number;
  readonly key: string | null;
  readonly payload: string | null;
  readonly headers?: string[];
}

async function consumeAll(topic: string, extra: readonly string[] = []): Promise<{ messages: KcatMessage[]; stderr: string }> {
  const result = await kcat(['-C', '-t', topic, '-o', 'beginning', '-e', '-J', ...extra]);
  const messages = result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as KcatMessage);
  return { messages, stderr: result.stderr };
}

/** Polls `check` until it returns a value, for at most 5 s. */
async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met within 5000 ms');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function lines(count: number, prefix: string): string {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}:value ${i} ${'payload '.repeat(8)}`).join('\n') + '\n';
}

describe('kafka listener > kcat (librdkafka 2.0.2)', () => {
  it('lists cluster metadata as JSON: one broker at its advertised address, the controller, topics and leaders', async () => {
    await kcat(['-P', '-t', 'listed', '-K:'], 'a:1\n');
    const metadata = JSON.parse((await kcat(['-L', '-J'])).stdout) as {
      controllerid: number;
      brokers: { id: number; name: string }[];
      topics: { topic: string; partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[];
    };
    expect(metadata.controllerid).toBe(1);
    expect(metadata.brokers).toEqual([{ id: 1, name: `localhost:${node.kafkaPort}` }]);
    const listed = metadata.topics.find((t) => t.topic === 'listed');
    expect(listed?.partitions).toEqual([{ partition: 0, leader: 1, replicas: [{ id: 1 }], isrs: [{ id: 1 }] }]);
  });

  it('negotiates ApiVersions v3 first and enables MsgVer2, ZSTD and LZ4, with no fallback', async () => {
    const { stderr } = await kcat(['-L', '-d', 'broker,feature,protocol']);
    expect(stderr).toMatch(/Sent ApiVersionRequest \(v3,/);
    expect(stderr).toMatch(/Received ApiVersionResponse \(v3,/);
    for (const feature of ['MsgVer2', 'ZSTD', 'LZ4', 'OffsetTime']) expect(stderr).toContain(`Enabling feature ${feature}`);
    expect(stderr).not.toMatch(/Disabling feature MsgVer2|ApiVersionRequest failed|broker\.version\.fallback/);
  });

  const codecs: [CompressionName, string][] = [
    ['none', '1'],
    ['gzip', 'all'],
    ['snappy', '1'],
    ['lz4', '0'],
    ['zstd', 'all'],
  ];
  for (const [codec, acks] of codecs) {
    it(`produces and consumes 300 keyed records with headers, compressed with ${codec} (acks=${acks}), stored as sent`, async () => {
      const topic = `codec-${codec}`;
      const produced = await kcat(['-P', '-t', topic, '-K:', '-H', 'source=kcat', '-z', codec, '-X', `acks=${acks}`, '-d', 'protocol'], lines(300, 'key'));
      // The modern versions, not a fallback: RecordBatch v2 needs Produce v3 or later.
      expect(produced.stderr).toMatch(/Sent ProduceRequest \(v7,/);
      // With acks=0 kcat exits once the bytes are sent, perhaps before the broker has appended them.
      const batches = await until(async () => {
        const read = await readBatches(node, topic, 0);
        return read.reduce((sum, b) => sum + b.records.length, 0) === 300 ? read : undefined;
      });
      expect(new Set(batches.map((b) => b.header.compression))).toEqual(new Set([Compression[codec]]));
      const { messages, stderr } = await consumeAll(topic, ['-d', 'protocol']);
      expect(stderr).toMatch(/Sent FetchRequest \(v11,/);
      expect(messages).toHaveLength(300);
      expect(messages.map((m) => m.offset)).toEqual(Array.from({ length: 300 }, (_, i) => i));
      expect(messages[7]).toMatchObject({ partition: 0, key: 'key-7', headers: ['source', 'kcat'] });
      expect(messages[7]?.payload).toMatch(/^value 7 payload/);
    });
  }

  it('answers offsets for times (-Q): the first offset at or after a time, -1 after the last record', async () => {
    await kcat(['-P', '-t', 'timed', '-K:'], lines(5, 'early'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const between = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await kcat(['-P', '-t', 'timed', '-K:'], lines(3, 'late'));
    const query = async (time: number): Promise<number> => {
      const { stdout } = await kcat(['-Q', '-t', `timed:0:${time}`]);
      const match = /timed \[0\] offset (-?\d+)/.exec(stdout);
      if (match === null) throw new Error(`unexpected kcat -Q output: ${stdout}`);
      return Number(match[1]);
    };
    expect(await query(0)).toBe(0);
    expect(await query(between)).toBe(5);
    expect(await query(between + 3_600_000)).toBe(-1);
  });

  it('produces as an idempotent producer: a producer id from InitProducerId, sequences from 0', async () => {
    await kcat(['-P', '-t', 'idempotent', '-X', 'enable.idempotence=true'], lines(20, 'idem'));
    const batches = await readBatches(node, 'idempotent', 0);
    expect(batches.reduce((sum, b) => sum + b.header.recordCount, 0)).toBe(20);
    expect(batches[0]?.header).toMatchObject({ baseSequence: 0, producerEpoch: 0, isTransactional: false });
    expect(batches[0]?.header.producerId).toBeGreaterThanOrEqual(0);
  });

  it('connects over IPv6 loopback too: the listener binds ::1 beside 127.0.0.1', async () => {
    const result = await run('kcat', ['-b', `[::1]:${node.kafkaPort}`, '-L', '-J'], { timeoutMs: 20_000 });
    expect(result.code).toBe(0);
    const metadata = JSON.parse(result.stdout) as { originating_broker: { name: string }; brokers: { id: number }[] };
    expect(metadata.originating_broker.name).toContain(`[::1]:${node.kafkaPort}`);
    expect(metadata.brokers).toEqual([{ id: 1, name: `localhost:${node.kafkaPort}` }]);
  });
});
