/**
 * A whole single-node cluster (`streambus dev`'s startSingleNode) in the test process, with every
 * listener on a free loopback port and its own temp data directory, for tests that drive the Kafka
 * listener with real Kafka clients (kafkajs in process; kcat and the Python clients as child
 * processes). Also: reading a partition back through the native protocol, raw batches included,
 * and running a child process with a deadline.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { connect } from '../../../client/network/connection.js';
import { resolveConfig } from '../../../cli/config/index.js';
import { startBrokerNode, type BrokerNode } from '../../../cli/server/broker-node.js';
import { startSingleNode, type SingleNode } from '../../../cli/server/single-node.js';
import { decodeRecordBatches, type DecodedBatch } from '../../../proto/record-batch/index.js';

export interface KafkaNode {
  readonly node: SingleNode;
  /** host:port of the Kafka listener, as advertised. */
  readonly bootstrap: string;
  readonly kafkaPort: number;
  close(): Promise<void>;
}

/**
 * Starts a node; `settings` are extra --set values (kafka.host defaults to 127.0.0.1 here). With
 * `logLines`, the node's log lines (JSON, level info and up) are collected there.
 */
export async function startKafkaNode(settings: Readonly<Record<string, string>> = {}, options: { logLines?: string[] } = {}): Promise<KafkaNode> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'streambus-kafka-'));
  const all: Record<string, string> = {
    'data.dir': dataDir,
    'native.port': '0',
    'kafka.port': '0',
    'kafka.host': '127.0.0.1',
    'admin.port': '0',
    'raft.port': '0',
    'schema.registry.port': '0',
    'num.partitions': '1',
    ...settings,
  };
  const config = resolveConfig({ flags: Object.entries(all).map(([key, value]) => ({ key, value, origin: '--set' })) });
  const lines = options.logLines;
  const logger =
    lines === undefined
      ? pino({ level: process.env.STREAMBUS_TEST_LOG === '1' ? 'debug' : 'silent' })
      : pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  let node: SingleNode;
  try {
    node = await startSingleNode(config, logger);
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const advertised = node.kafka.advertised;
  return {
    node,
    bootstrap: `${advertised.host}:${advertised.port}`,
    kafkaPort: node.kafka.bound.port,
    async close() {
      await node.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface KafkaBroker {
  readonly broker: BrokerNode;
  /** host:port of its Kafka listener, as advertised. */
  readonly bootstrap: string;
  close(): Promise<void>;
}

/**
 * Starts a second broker (`streambus broker`, in this process) with node id `nodeId`, following
 * the coordinator of `node` (a dev node serves the coordinator APIs on its native port).
 */
export async function startKafkaBroker(node: KafkaNode, nodeId: number): Promise<KafkaBroker> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'streambus-kafka-broker-'));
  const native = node.node.native.bound;
  const settings: Record<string, string> = {
    'node.id': String(nodeId),
    coordinators: `${native.host}:${native.port}`,
    'data.dir': dataDir,
    'native.port': '0',
    'kafka.port': '0',
    'kafka.host': '127.0.0.1',
    'admin.port': '0',
    'broker.heartbeat.interval.ms': '100',
  };
  const config = resolveConfig({ flags: Object.entries(settings).map(([key, value]) => ({ key, value, origin: '--set' })) });
  let broker: BrokerNode;
  try {
    broker = await startBrokerNode(config, pino({ level: 'silent' }));
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    broker,
    bootstrap: `${broker.kafka.advertised.host}:${broker.kafka.advertised.port}`,
    async close() {
      await broker.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every batch of a partition from `offset` on, read through the native protocol (stored bytes, decoded). */
export async function readBatches(node: KafkaNode | KafkaBroker, topic: string, partition: number, offset = 0): Promise<DecodedBatch[]> {
  const native = 'node' in node ? node.node.native.bound : node.broker.native.bound;
  const connection = await connect({ host: native.host, port: native.port });
  try {
    const batches: DecodedBatch[] = [];
    let next = offset;
    for (;;) {
      const answer = await connection.request('FETCH', {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 16 * 1024 * 1024,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partition, fetchOffset: next, maxBytes: 16 * 1024 * 1024 }] }],
      });
      const result = answer.topics[0]?.partitions[0];
      if (result === undefined || result.errorCode !== 0) throw new Error(`native fetch of ${topic}-${partition} failed: ${result?.errorMessage ?? 'no result'}`);
      const decoded = await decodeRecordBatches(result.records);
      if (decoded.length === 0) return batches;
      batches.push(...decoded);
      next = (decoded[decoded.length - 1]?.header.lastOffset ?? next) + 1;
      if (next >= result.highWatermark) return batches;
    }
  } finally {
    await connection.close();
  }
}

export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end (or kills it at the deadline), feeding `input` on stdin. */
export function run(command: string, args: readonly string[], options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timeoutMs = options.timeoutMs ?? 20_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
