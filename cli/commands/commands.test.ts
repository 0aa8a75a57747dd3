/**
 * The topic, produce and consume commands, run in-process through the real runner against an
 * in-memory cluster that has the client library's shape (the real server is tested end to end by
 * the integration suite).
 */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AdminError } from '../../client/index.js';
import type { ConsumerOptions, Message, ProducerOptions, ProducerRecord, RecordMetadata } from '../../client/index.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { CliAdmin, CliConsumer, CliProducer, StreamBusClient } from '../client.js';
import { ExitCode, runCli } from '../run.js';
import { formatRecord, parseStart, recordJson } from './consume.js';

// ---- An in-memory cluster with the client's API.

interface StoredRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly { key: string; value: Buffer | null }[];
}

interface FakeTopic {
  readonly topicId: string;
  readonly partitions: StoredRecord[][];
  readonly replicationFactor: number;
  readonly configs: Map<string, string>;
}

const topicDefaults: Readonly<Record<string, string>> = { 'cleanup.policy': 'delete', 'retention.ms': '604800000' };

function failure(operation: string, topic: string, code: ErrorCode, message: string): AdminError {
  return new AdminError(operation, [{ topic, error: new StreamBusError(code, message, { context: { topic } }) }], 1);
}

class FakeCluster {
  readonly topics = new Map<string, FakeTopic>();
  readonly producerOptions: ProducerOptions[] = [];
  readonly consumerOptions: ConsumerOptions[] = [];
  readonly alterations: unknown[] = [];
  consumersClosed = 0;
  clientsClosed = 0;
  nowMs = 1_700_000_000_000;
  #waiters = new Set<() => void>();

  addTopic(name: string, partitions: number, replicationFactor = 1): void {
    this.topics.set(name, {
      topicId: `id-${name}`,
      partitions: Array.from({ length: partitions }, () => []),
      replicationFactor,
      configs: new Map(),
    });
  }

  append(topic: string, partition: number, value: string | null, key: string | null = null): RecordMetadata {
    const log = this.topics.get(topic)!.partitions[partition]!;
    this.nowMs += 1000;
    const record = { offset: log.length, timestamp: this.nowMs, key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), headers: [] };
    log.push(record);
    for (const wake of this.#waiters) wake();
    return { topic, partition, offset: record.offset, timestamp: record.timestamp };
  }

  #idleWaiters: (() => void)[] = [];

  /** Resolves the next time a consumer has run out of records and starts waiting. */
  idle(): Promise<void> {
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  waitForAppend(): Promise<void> {
    const waiting = new Promise<void>((resolve) => {
      const wake = (): void => {
        this.#waiters.delete(wake);
        resolve();
      };
      this.#waiters.add(wake);
    });
    for (const notify of this.#idleWaiters.splice(0)) notify();
    return waiting;
  }

  wake(): void {
    for (const wake of this.#waiters) wake();
  }

  topic(operation: string, name: string): FakeTopic {
    const topic = this.topics.get(name);
    if (topic === undefined) throw failure(operation, name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`);
    return topic;
  }

  client(): StreamBusClient {
    return { admin: () => this.admin(), producer: (o) => this.producer(o), consumer: (o) => this.consumer(o), close: () => this.#closeClient() };
  }

  #closeClient(): Promise<void> {
    this.clientsClosed += 1;
    return Promise.resolve();
  }

  admin(): CliAdmin {
    return {
      createTopics: (specs) => {
        for (const spec of specs) {
          if (this.topics.has(spec.topic)) throw failure('createTopics', spec.topic, ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${spec.topic} already exists`);
          this.addTopic(spec.topic, spec.partitions ?? 1, spec.replicationFactor ?? 1);
          for (const [k, v] of Object.entries(spec.configs ?? {})) this.topics.get(spec.topic)!.configs.set(k, v);
        }
        return Promise.resolve(specs.map((s) => ({ topic: s.topic, topicId: `id-${s.topic}` })));
      },
      deleteTopics: (names) => {
        for (const name of names) this.topic('deleteTopics', name);
        for (const name of names) this.topics.delete(name);
        return Promise.resolve();
      },
      listTopics: () => Promise.resolve([...this.topics.keys()].sort()),
      describeTopics: (names, callOptions = {}) => {
        // 'unreachable' stands for a cluster that does not answer: only the signal ends the call.
        if (names.includes('unreachable')) {
          return new Promise((_, reject) => {
            const signal = callOptions.signal;
            if (signal?.aborted === true) reject(signal.reason as Error);
            signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
          });
        }
        return Promise.resolve(
          names.map((name) => {
            const topic = this.topic('describeTopics', name);
            return {
              topic: name,
              topicId: topic.topicId,
              internal: false,
              partitions: topic.partitions.map((log, partition) => {
                const replicas = Array.from({ length: topic.replicationFactor }, (_, i) => i + 1);
                return {
                  partition,
                  leader: 1,
                  leaderEpoch: 0,
                  replicas,
                  // Replica 3 (when there is one) has fallen behind.
                  isr: replicas.filter((r) => r !== 3),
                  earliestOffset: 0,
                  latestOffset: log.length,
                };
              }),
            };
          }),
        );
      },
      describeConfigs: (names) =>
        Promise.resolve(
          names.map((name) => {
            const topic = this.topic('describeConfigs', name);
            const keys = [...new Set([...Object.keys(topicDefaults), ...topic.configs.keys()])];
            return {
              topic: name,
              entries: keys.map((key) => ({
                name: key,
                value: topic.configs.get(key) ?? topicDefaults[key] ?? null,
                source: topic.configs.has(key) ? 'topic' : 'default',
                readOnly: false,
                sensitive: false,
                documentation: '',
              })),
            };
          }),
        ),
      alterConfigs: (changes) => {
        for (const change of changes) {
          const topic = this.topic('alterConfigs', change.topic);
          for (const [k, v] of Object.entries(change.set ?? {})) topic.configs.set(k, v);
          for (const k of change.delete ?? []) topic.configs.delete(k);
          this.alterations.push(change);
        }
        return Promise.resolve();
      },
      createPartitions: (increases) => {
        for (const increase of increases) {
          const topic = this.topic('createPartitions', increase.topic);
          if (increase.count <= topic.partitions.length) {
            throw failure('createPartitions', increase.topic, ErrorCode.INVALID_PARTITIONS, `topic already has ${topic.partitions.length} partitions`);
          }
          while (topic.partitions.length < increase.count) topic.partitions.push([]);
        }
        return Promise.resolve();
      },
      listOffsets: (queries) =>
        Promise.resolve(
          queries.map((q) => {
            const log = this.topic('listOffsets', q.topic).partitions[q.partition]!;
            let offset: number;
            if (q.at === 'earliest') offset = 0;
            else if (q.at === 'latest') offset = log.length;
            else {
              const timestampMs = q.at.timestamp;
              offset = log.find((r) => r.timestamp >= timestampMs)?.offset ?? -1;
            }
            return { topic: q.topic, partition: q.partition, offset, timestamp: -1 };
          }),
        ),
    };
  }

  producer(options: ProducerOptions = {}): CliProducer {
    this.producerOptions.push(options);
    let next = 0;
    return {
      send: (record: ProducerRecord) => {
        const topic = this.topics.get(record.topic);
        if (topic === undefined) {
          return Promise.reject(new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${record.topic} does not exist`));
        }
        const partition = record.partition ?? next++ % topic.partitions.length;
        const log = topic.partitions[partition]!;
        const toBuffer = (v: unknown): Buffer | null => (v === null || v === undefined ? null : Buffer.from(v as string));
        const headers = Array.isArray(record.headers) ? (record.headers as { key: string; value: Buffer | null }[]) : [];
        log.push({ offset: log.length, timestamp: this.nowMs, key: toBuffer(record.key), value: toBuffer(record.value), headers });
        const metadata = { topic: record.topic, partition, offset: options.acks === 0 ? -1 : log.length - 1, timestamp: this.nowMs };
        return Promise.resolve(metadata);
      },
      flush: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }

  consumer(options: ConsumerOptions = {}): CliConsumer {
    this.consumerOptions.push(options);
    const state = { positions: new Map<string, number>(), closed: false };
    return {
      assign: (assignments) => {
        for (const a of assignments) state.positions.set(`${a.topic}/${a.partition}`, a.offset ?? 0);
      },
      position: (tp) => state.positions.get(`${tp.topic}/${tp.partition}`),
      close: () => {
        if (!state.closed) this.consumersClosed += 1;
        state.closed = true;
        this.wake();
        return Promise.resolve();
      },
      messages: (callOptions = {}) => this.#messages(state, callOptions.signal),
    };
  }

  async *#messages(state: { positions: Map<string, number>; closed: boolean }, signal: AbortSignal | undefined): AsyncGenerator<Message, void, undefined> {
    for (;;) {
      if (state.closed) return;
      signal?.throwIfAborted();
      let found: Message | undefined;
      for (const [key, position] of state.positions) {
        const [topic, partition] = key.split('/') as [string, string];
        const record = this.topics.get(topic)?.partitions[Number(partition)]?.[position];
        if (record === undefined) continue;
        state.positions.set(key, position + 1);
        found = { topic, partition: Number(partition), ...record };
        break;
      }
      if (found !== undefined) {
        yield found;
        continue;
      }
      const aborted = new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.race([this.waitForAppend(), aborted]);
    }
  }
}

// ---- Running the CLI in-process.

function collector(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function cli(
  cluster: FakeCluster,
  argv: readonly string[],
  options: { stdin?: string; signal?: AbortSignal } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = collector();
  const stderr = collector();
  const code = await runCli(argv, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    env: {},
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    createClient: () => Promise.resolve(cluster.client()),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// ---- Topic commands.

describe('cli > topic create', () => {
  it('creates a topic with partitions, replication factor and configs, and reports what was made', async () => {
    const cluster = new FakeCluster();
    const result = await cli(cluster, ['topic', 'create', 'orders', '-p', '3', '-r', '2', '--config', 'retention.ms=1000', '-c', 'cleanup.policy=compact']);
    expect(result).toEqual({ code: ExitCode.OK, stdout: 'Created topic orders (3 partitions, replication factor 2).\n', stderr: '' });
    const topic = cluster.topics.get('orders')!;
    expect(topic.partitions).toHaveLength(3);
    expect(Object.fromEntries(topic.configs)).toEqual({ 'retention.ms': '1000', 'cleanup.policy': 'compact' });
    expect(cluster.clientsClosed).toBe(1);
  });

  it('prints the complete topic as JSON', async () => {
    const cluster = new FakeCluster();
    const result = await cli(cluster, ['topic', 'create', 'orders', '--json']);
    expect(JSON.parse(result.stdout)).toEqual({
      topic: { name: 'orders', topicId: 'id-orders', partitions: 1, replicationFactor: 1, configs: {} },
      created: true,
    });
  });

  it('fails with TOPIC_ALREADY_EXISTS (exit 1) unless --if-not-exists', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 1);
    const result = await cli(cluster, ['topic', 'create', 'orders']);
    expect(result.code).toBe(ExitCode.FAILED);
    // The client's AdminError for one topic reads as that topic's own error.
    expect(result.stderr).toBe('error: TOPIC_ALREADY_EXISTS (36): topic orders already exists\n');
    const json = await cli(cluster, ['topic', 'create', 'orders', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 36, name: 'TOPIC_ALREADY_EXISTS', message: 'topic orders already exists', retriable: false, topic: 'orders' },
    });
    const again = await cli(cluster, ['topic', 'create', 'orders', '--if-not-exists']);
    expect(again).toEqual({ code: ExitCode.OK, stdout: 'Topic orders already exists; nothing changed.\n', stderr: '' });
  });

  it('refuses a --config without =', async () => {
    const result = await cli(new FakeCluster(), ['topic', 'create', 'orders', '--config', 'retention.ms']);
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain('--config expects key=value, got "retention.ms"');
  });
});

describe('cli > topic list', () => {
  it('lists topics in a table with partitions and replication factor', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('payments', 1, 3);
    cluster.addTopic('orders', 12);
    const result = await cli(cluster, ['topic', 'list']);
    expect(result.stdout).toBe(['NAME      PARTITIONS  REPLICAS  ID', 'orders            12         1  id-orders', 'payments           1         3  id-payments', ''].join('\n'));
  });

  it('prints complete objects, not just names, as JSON', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 2);
    const result = await cli(cluster, ['topic', 'list', '--json']);
    expect(JSON.parse(result.stdout)).toEqual({
      topics: [{ name: 'orders', topicId: 'id-orders', internal: false, partitions: 2, replicationFactor: 1 }],
    });
  });

  it('says so when there are no topics', async () => {
    const result = await cli(new FakeCluster(), ['topic', 'list']);
    expect(result).toEqual({ code: ExitCode.OK, stdout: '', stderr: 'No topics.\n' });
    const json = await cli(new FakeCluster(), ['topic', 'list', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ topics: [] });
  });
});

describe('cli > topic describe', () => {
  it('shows partitions with leader, replicas, ISR and offsets, and only non-default configs', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 2, 3);
    cluster.topics.get('orders')!.configs.set('retention.ms', '1000');
    cluster.append('orders', 0, 'a');
    cluster.append('orders', 0, 'b');
    cluster.append('orders', 1, 'c');
    const result = await cli(cluster, ['topic', 'describe', 'orders']);
    expect(result.code).toBe(ExitCode.OK);
    expect(result.stdout).toBe(
      [
        'Topic:              orders',
        'ID:                 id-orders',
        'Partitions:         2',
        'Replication factor: 3',
        'Under-replicated:   2',
        'Offline:            0',
        'Records:            3',
        '',
        'PARTITION  LEADER  EPOCH  REPLICAS  ISR  EARLIEST  LATEST  STATUS',
        '        0       1      0  1,2,3     1,2         0       2  under-replicated',
        '        1       1      0  1,2,3     1,2         0       1  under-replicated',
        '',
        'CONFIG        VALUE  SOURCE',
        'retention.ms  1000   topic',
        '',
      ].join('\n'),
    );
  });

  it('includes every config with its source in JSON', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 1);
    const result = await cli(cluster, ['topic', 'describe', 'orders', '--json']);
    const parsed = JSON.parse(result.stdout) as { topic: { partitions: unknown[]; configs: { name: string; source: string }[] } };
    expect(parsed.topic.partitions).toEqual([
      { partition: 0, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1], earliestOffset: 0, latestOffset: 0, offline: false, underReplicated: false },
    ]);
    expect(parsed.topic.configs.map((c) => [c.name, c.source])).toEqual([
      ['cleanup.policy', 'default'],
      ['retention.ms', 'default'],
    ]);
  });

  it('fails with UNKNOWN_TOPIC_OR_PARTITION for a missing topic', async () => {
    const result = await cli(new FakeCluster(), ['topic', 'describe', 'nope', '--json']);
    expect(result.code).toBe(ExitCode.FAILED);
    expect((JSON.parse(result.stdout) as { error: { name: string } }).error.name).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('cli > topic delete', () => {
  it('requires a name', async () => {
    const result = await cli(new FakeCluster(), ['topic', 'delete']);
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain('missing <name>');
  });

  it('deletes the named topics', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('a', 1);
    cluster.addTopic('b', 1);
    const result = await cli(cluster, ['topic', 'delete', 'a', 'b']);
    expect(result.stdout).toBe('Deleted topic a.\nDeleted topic b.\n');
    expect(cluster.topics.size).toBe(0);
  });

  it('fails for a missing topic unless --if-exists', async () => {
    const cluster = new FakeCluster();
    const result = await cli(cluster, ['topic', 'delete', 'nope']);
    expect(result.code).toBe(ExitCode.FAILED);
    expect(result.stderr).toMatch(/^error: UNKNOWN_TOPIC_OR_PARTITION \(3\)/);
    const tolerant = await cli(cluster, ['topic', 'delete', 'nope', '--if-exists', '--json']);
    expect(tolerant.code).toBe(ExitCode.OK);
    expect(JSON.parse(tolerant.stdout)).toEqual({ topics: [{ name: 'nope', deleted: false }] });
  });
});

describe('cli > topic alter-config', () => {
  it('sets and deletes topic configs in one call', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 1);
    cluster.topics.get('orders')!.configs.set('cleanup.policy', 'compact');
    const result = await cli(cluster, ['topic', 'alter-config', 'orders', '--set', 'retention.ms=5', '--delete', 'cleanup.policy']);
    expect(result.stdout).toBe('Updated topic orders: retention.ms=5, cleanup.policy (reverted to default).\n');
    expect(cluster.alterations).toEqual([{ topic: 'orders', set: { 'retention.ms': '5' }, delete: ['cleanup.policy'] }]);
  });

  it('refuses a call that changes nothing, or sets and deletes the same key', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 1);
    const nothing = await cli(cluster, ['topic', 'alter-config', 'orders']);
    expect(nothing.code).toBe(ExitCode.USAGE);
    expect(nothing.stderr).toContain('nothing to change');
    const both = await cli(cluster, ['topic', 'alter-config', 'orders', '--set', 'a=1', '--delete', 'a']);
    expect(both.code).toBe(ExitCode.USAGE);
    expect(cluster.alterations).toEqual([]);
  });
});

describe('cli > topic add-partitions', () => {
  it('raises the partition count and warns about keyed ordering', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 2);
    const result = await cli(cluster, ['topic', 'add-partitions', 'orders', '--count', '5']);
    expect(result.stdout).toBe('Topic orders now has 5 partitions (was 2).\n');
    expect(result.stderr).toMatch(/Keyed records may now map to other partitions/);
    expect(cluster.topics.get('orders')!.partitions).toHaveLength(5);
  });

  it('requires --count', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 2);
    const result = await cli(cluster, ['topic', 'add-partitions', 'orders']);
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain('missing --count <n>');
  });

  it('passes the cluster\'s refusal through as a typed error', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 4);
    const result = await cli(cluster, ['topic', 'add-partitions', 'orders', '--count', '2']);
    expect(result.code).toBe(ExitCode.FAILED);
    expect(result.stderr).toMatch(/INVALID_PARTITIONS \(37\)/);
  });
});

// ---- produce.

describe('cli > produce', () => {
  it('writes one record per non-empty line and prints a summary', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('events', 2);
    const result = await cli(cluster, ['produce', 'events'], { stdin: 'one\n\ntwo\r\nthree' });
    expect(result).toEqual({ code: ExitCode.OK, stdout: 'Produced 3 records to events (partition 0: 2, partition 1: 1).\n', stderr: '' });
    const values = cluster.topics.get('events')!.partitions.flat().map((r) => r.value?.toString());
    expect(values.sort()).toEqual(['one', 'three', 'two']);
    expect(cluster.producerOptions).toEqual([{ acks: -1, compression: 'none' }]);
  });

  it('splits keys at --key-separator and adds headers, writing to --partition', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('events', 3);
    await cli(cluster, ['produce', 'events', '-K', '::', '-H', 'source=cli', '-H', 'v=2', '-p', '2'], { stdin: 'user-1::signed in\nno key here\n' });
    const log = cluster.topics.get('events')!.partitions[2]!;
    expect(log.map((r) => [r.key?.toString() ?? null, r.value?.toString()])).toEqual([
      ['user-1', 'signed in'],
      [null, 'no key here'],
    ]);
    expect(log[0]!.headers.map((h) => [h.key, h.value?.toString()])).toEqual([
      ['source', 'cli'],
      ['v', '2'],
    ]);
  });

  it('prints each record\'s offset in input order as NDJSON with --json', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('events', 1);
    const result = await cli(cluster, ['produce', 'events', '--json', '--key', 'k', '--acks', '1'], { stdin: 'a\nb\n' });
    expect(result.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { topic: 'events', partition: 0, offset: 0 },
      { topic: 'events', partition: 0, offset: 1 },
    ]);
    expect(cluster.topics.get('events')!.partitions[0]!.every((r) => r.key?.toString() === 'k')).toBe(true);
    expect(cluster.producerOptions[0]).toMatchObject({ acks: 1 });
  });

  it('reports a null offset with --acks 0', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('events', 1);
    const result = await cli(cluster, ['produce', 'events', '--json', '--acks', '0'], { stdin: 'a\n' });
    expect(JSON.parse(result.stdout)).toEqual({ topic: 'events', partition: 0, offset: null });
  });

  it('refuses bad --acks, bad --compression and --key with --key-separator', async () => {
    const cluster = new FakeCluster();
    cluster.addTopic('events', 1);
    for (const args of [['--acks', '2'], ['--compression', 'brotli'], ['--key', 'k', '-K', ':']]) {
      const result = await cli(cluster, ['produce', 'events', ...args], { stdin: 'a\n' });
      expect(result.code, args.join(' ')).toBe(ExitCode.USAGE);
    }
    expect(cluster.topics.get('events')!.partitions[0]).toEqual([]);
  });

  it('fails with the record\'s typed error', async () => {
    const result = await cli(new FakeCluster(), ['produce', 'missing'], { stdin: 'a\n' });
    expect(result.code).toBe(ExitCode.FAILED);
    expect(result.stderr).toMatch(/^error: UNKNOWN_TOPIC_OR_PARTITION/);
  });
});

// ---- consume.

describe('cli > consume', () => {
  function seeded(): FakeCluster {
    const cluster = new FakeCluster();
    cluster.addTopic('orders', 2);
    cluster.append('orders', 0, 'a0', 'k');
    cluster.append('orders', 0, 'a1');
    cluster.append('orders', 1, 'b0');
    return cluster;
  }

  it('prints values from the beginning and stops after -n records', async () => {
    const cluster = seeded();
    const result = await cli(cluster, ['consume', 'orders', '-n', '2', '-p', '0']);
    expect(result).toEqual({ code: ExitCode.OK, stdout: 'a0\na1\n', stderr: '' });
    expect(cluster.consumersClosed).toBe(1);
  });

  it('stops at the end of the topic with --exit-at-end', async () => {
    const cluster = seeded();
    const result = await withDeadline(cli(cluster, ['consume', 'orders', '--exit-at-end']), 5000, 'consume --exit-at-end');
    expect(result.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['a0', 'a1', 'b0']);
  });

  it('stops at the end when -n is more than there is and --follow is not given', async () => {
    const cluster = seeded();
    const result = await withDeadline(cli(cluster, ['consume', 'orders', '-n', '100', '-p', '1']), 5000, 'consume -n 100');
    expect(result.stdout).toBe('b0\n');
  });

  it('exits at once with nothing to print from the end without --follow', async () => {
    const cluster = seeded();
    const result = await withDeadline(cli(cluster, ['consume', 'orders', '--from', 'end', '--exit-at-end']), 5000, 'consume --from end');
    expect(result).toEqual({ code: ExitCode.OK, stdout: '', stderr: '' });
  });

  it('renders --format templates and NDJSON', async () => {
    const cluster = seeded();
    const formatted = await cli(cluster, ['consume', 'orders', '-p', '0', '-n', '2', '--format', '%t/%p@%o %k=%v%%']);
    expect(formatted.stdout).toBe('orders/0@0 k=a0%\norders/0@1 =a1%\n');
    const json = await cli(cluster, ['consume', 'orders', '-p', '0', '-n', '1', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      topic: 'orders',
      partition: 0,
      offset: 0,
      timestamp: 1_700_000_001_000,
      key: 'k',
      value: 'a0',
      headers: [],
    });
  });

  it('starts at a given offset or at the first record at or after a time', async () => {
    const cluster = seeded();
    const fromOffset = await cli(cluster, ['consume', 'orders', '-p', '0', '--from', '1', '--exit-at-end']);
    expect(fromOffset.stdout).toBe('a1\n');
    // a0 at +1 s, a1 at +2 s, b0 at +3 s.
    const fromTime = await cli(cluster, ['consume', 'orders', '--from', '@1700000002000', '--exit-at-end']);
    expect(fromTime.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['a1', 'b0']);
    const fromIso = await cli(cluster, ['consume', 'orders', '--from', new Date(1_700_000_003_000).toISOString(), '--exit-at-end']);
    expect(fromIso.stdout).toBe('b0\n');
  });

  it('follows new records until interrupted, then closes the consumer and exits 0', async () => {
    const cluster = seeded();
    const controller = new AbortController();
    const caughtUp = cluster.idle();
    const running = cli(cluster, ['consume', 'orders', '-p', '1'], { signal: controller.signal });
    await withDeadline(caughtUp, 5000, 'consumer reaching the end');
    const caughtUpAgain = cluster.idle();
    cluster.append('orders', 1, 'b1');
    cluster.append('orders', 1, 'b2');
    await withDeadline(caughtUpAgain, 5000, 'consumer reading the new records');
    controller.abort(new Error('interrupted'));
    const result = await withDeadline(running, 5000, 'consume --follow after Ctrl-C');
    expect(result.code).toBe(ExitCode.OK);
    expect(result.stdout).toBe('b0\nb1\nb2\n');
    expect(cluster.consumersClosed).toBe(1);
  });

  it('exits 130 when interrupted while the cluster does not answer', async () => {
    const controller = new AbortController();
    const running = cli(seeded(), ['consume', 'unreachable'], { signal: controller.signal });
    controller.abort(new Error('interrupted'));
    const result = await withDeadline(running, 5000, 'consume interrupted during describeTopics');
    expect(result.code).toBe(ExitCode.INTERRUPTED);
  });

  it('fails for a partition the topic does not have', async () => {
    const result = await cli(seeded(), ['consume', 'orders', '-p', '7']);
    expect(result.code).toBe(ExitCode.FAILED);
    expect(result.stderr).toBe('error: UNKNOWN_TOPIC_OR_PARTITION (3): orders has no partition 7\n');
  });

  it('refuses --follow with --exit-at-end, and a bad --from', async () => {
    const both = await cli(seeded(), ['consume', 'orders', '--follow', '--exit-at-end']);
    expect(both.code).toBe(ExitCode.USAGE);
    const bad = await cli(seeded(), ['consume', 'orders', '--from', 'yesterday']);
    expect(bad.code).toBe(ExitCode.USAGE);
    expect(bad.stderr).toContain("--from expects beginning, end, an offset, @<ms> or an ISO 8601 time, got 'yesterday'");
  });
});

describe('cli > consume > helpers', () => {
  it('parses start positions without confusing offsets and times', () => {
    expect(parseStart('beginning')).toEqual({ kind: 'earliest' });
    expect(parseStart('end')).toEqual({ kind: 'latest' });
    expect(parseStart('1700000000000')).toEqual({ kind: 'offset', offset: 1_700_000_000_000 });
    expect(parseStart('@1700000000000')).toEqual({ kind: 'timestamp', timestampMs: 1_700_000_000_000 });
    expect(parseStart('2024-05-01T00:00:00Z')).toEqual({ kind: 'timestamp', timestampMs: Date.UTC(2024, 4, 1) });
    expect(() => parseStart('-5')).toThrow(/--from expects/);
  });

  it('formats headers, escapes and binary encodings', () => {
    const record: Message = {
      topic: 't',
      partition: 0,
      offset: 5,
      timestamp: 9,
      key: null,
      value: Buffer.from([0xde, 0xad]),
      headers: [
        { key: 'a', value: Buffer.from('1') },
        { key: 'b', value: null },
      ],
    };
    expect(formatRecord('%h\\t%v|%T', record, 'hex')).toBe('a=31,b=\tdead|9');
    expect(recordJson(record, 'base64')).toMatchObject({ key: null, value: '3q0=', headers: [{ key: 'a', value: 'MQ==' }, { key: 'b', value: null }] });
  });
});
