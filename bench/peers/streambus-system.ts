/**
 * StreamBus under test: `streambus dev` started by the native benchmark's harness, driven by the
 * native client with the settings the native benchmark found best (1 MiB batches, linger 5 ms for
 * throughput; linger 1 ms for latency; acks=all).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { StreamBus, type Producer } from '../../client/index.js';
import { startBenchServer } from '../harness/server.js';
import { createTopic } from '../harness/workloads.js';
import type { BenchSystem, PublishPurpose, PublishSink, ReadOptions, SystemDescription, SystemId } from './system.js';

const MIB = 1024 * 1024;
/** A message not acknowledged within this fails, so no run waits on a silent server for long. */
const DELIVERY_TIMEOUT_MS = 30_000;

export interface StreamBusSystemOptions {
  readonly id: SystemId;
  readonly label: string;
  readonly rootDir: string;
  /** --set settings for `streambus dev` (durability and so on). */
  readonly settings: Readonly<Record<string, string>>;
}

export async function startStreamBus(options: StreamBusSystemOptions): Promise<BenchSystem> {
  const server = await startBenchServer({ rootDir: options.rootDir, settings: options.settings });
  const bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'streambus-bench-peers' });
  const admin = bus.admin();
  const version = (JSON.parse(readFileSync(path.join(options.rootDir, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  const durability = options.settings.durability ?? 'group';
  const description: SystemDescription = {
    version: `streambus ${version}`,
    startedWith: `streambus dev --data-dir <temp> on 127.0.0.1, ${Object.entries(options.settings).map(([k, v]) => `${k}=${v}`).join(', ') || 'default settings'}`,
    ackMeans:
      durability === 'interval'
        ? `acks=all; durability=interval: written to LevelDB (OS page cache) before the ack, fsync every ${options.settings['durability.interval.ms'] ?? '1000'} ms`
        : durability === 'sync'
          ? 'acks=all; durability=sync: fsync of each write before the ack'
          : 'acks=all; durability=group (default): nothing is acknowledged before its fsync (one fsync covers the writes that arrived meanwhile)',
    client: 'native client (this repo): producer acks=all, batchBytes 1 MiB / linger 5 ms for throughput, linger 1 ms for latency; consumer batches() with default fetch sizes',
  };

  return {
    id: options.id,
    label: options.label,
    serverPid: server.child.pid!,
    serverForks: false,
    mainThreadMeaningful: true,
    description,
    async createStream(name: string): Promise<void> {
      await createTopic(admin, name, 1);
    },
    async deleteStream(name: string): Promise<void> {
      await admin.deleteTopics([name]);
    },
    openPublisher(stream: string, purpose: PublishPurpose): Promise<PublishSink> {
      const producer: Producer =
        purpose === 'throughput'
          ? bus.producer({ acks: 'all', lingerMs: 5, batchBytes: MIB, deliveryTimeoutMs: DELIVERY_TIMEOUT_MS })
          : bus.producer({ acks: 'all', lingerMs: 1, deliveryTimeoutMs: DELIVERY_TIMEOUT_MS });
      return Promise.resolve({
        publish(value: Buffer, done: (error?: unknown) => void): void {
          producer.send({ topic: stream, partition: 0, value }).then(() => done(), done);
        },
        async close(): Promise<void> {
          await producer.flush();
          await producer.close();
        },
      });
    },
    async read(stream: string, onMessage: (value: Uint8Array) => boolean, options: ReadOptions): Promise<void> {
      const consumer = bus.consumer({ autoOffsetReset: 'earliest' });
      consumer.assign([{ topic: stream, partition: 0, offset: 0 }]);
      try {
        outer: for await (const batch of consumer.batches({ signal: options.signal })) {
          const list = batch.messages;
          for (let i = 0; i < list.length; i++) {
            if (!onMessage(list[i]!.value ?? EMPTY)) break outer;
          }
        }
      } catch (error) {
        if (!options.signal.aborted) throw error;
      } finally {
        await consumer.close();
      }
    },
    async close(): Promise<void> {
      try {
        await bus.close();
      } finally {
        await server.dispose();
      }
    },
  };
}

const EMPTY = new Uint8Array(0);
