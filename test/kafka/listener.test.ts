/**
 * The Kafka listener as `streambus dev` (startSingleNode) starts it: its addresses (localhost binds
 * 127.0.0.1 and ::1 on one port), the advertised address configured apart from the bound one, the
 * broker's registration of its Kafka listener with the coordinator, and a clean close.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/network/connection.js';
import { MetadataCommandType, decodeMetadataCommand } from '../../coordinator/index.js';
import { Kafka, logLevel } from 'kafkajs';
import { readBatches, startKafkaBroker, startKafkaNode, type KafkaNode } from './support/kafka-node.js';
import { RawKafkaClient } from './support/raw-client.js';

let node: KafkaNode;

beforeAll(async () => {
  node = await startKafkaNode({ 'kafka.host': 'localhost', 'kafka.advertised.host': 'kafka.example.test', 'kafka.advertised.port': '19092' });
});

afterAll(async () => {
  await node?.close();
});

describe('kafka listener > addresses', () => {
  it('binds 127.0.0.1 and ::1 on the same port when the host is localhost, and answers on both', async () => {
    expect(node.node.kafka.bound).toEqual({ host: 'localhost', port: node.kafkaPort });
    for (const host of ['127.0.0.1', '::1']) {
      const raw = await RawKafkaClient.connect(node.kafkaPort, host);
      try {
        const answer = await raw.request('API_VERSIONS', 1, { clientSoftwareName: '', clientSoftwareVersion: '' });
        expect(answer.errorCode).toBe(0);
      } finally {
        raw.close();
      }
    }
  });

  it('advertises kafka.advertised.host and kafka.advertised.port in Metadata, with itself as the controller', async () => {
    expect(node.node.kafka.advertised).toEqual({ host: 'kafka.example.test', port: 19092 });
    const raw = await RawKafkaClient.connect(node.kafkaPort);
    try {
      const metadata = await raw.request('METADATA', 6, { topics: [], allowAutoTopicCreation: false });
      expect(metadata).toMatchObject({
        brokers: [{ nodeId: 1, host: 'kafka.example.test', port: 19092, rack: null }],
        controllerId: 1,
        clusterId: node.node.clusterId,
        topics: [],
      });
    } finally {
      raw.close();
    }
  });

  it('registers its Kafka listener with the coordinator beside the native one', async () => {
    const native = node.node.native.bound;
    const connection = await connect({ host: native.host, port: native.port });
    try {
      const answer = await connection.request('FETCH_METADATA', { fromOffset: 0, maxRecords: 1000, maxWaitMs: 0, brokerId: -1 });
      const registrations = answer.records
        .map((record) => decodeMetadataCommand(record.command))
        .filter((command) => command.type === MetadataCommandType.REGISTER_BROKER);
      expect(registrations.at(-1)).toMatchObject({
        nodeId: 1,
        listeners: [
          { name: 'native', port: native.port },
          { name: 'kafka', host: 'kafka.example.test', port: 19092 },
        ],
      });
    } finally {
      await connection.close();
    }
  });
});

describe('kafka listener > several brokers', () => {
  it('lists every broker\'s Kafka listener in Metadata, and clients reach each partition\'s leader through it', async () => {
    const first = await startKafkaNode({ 'default.replication.factor': '1' });
    try {
      const second = await startKafkaBroker(first, 2);
      try {
        const kafka = new Kafka({ brokers: [second.bootstrap], clientId: 'two-brokers', logLevel: logLevel.NOTHING });
        const admin = kafka.admin();
        await admin.connect();
        const producer = kafka.producer();
        await producer.connect();
        try {
          const cluster = await admin.describeCluster();
          expect(cluster.brokers.sort((a, b) => a.nodeId - b.nodeId)).toEqual([
            { nodeId: 1, host: '127.0.0.1', port: first.kafkaPort },
            { nodeId: 2, host: '127.0.0.1', port: second.broker.kafka.bound.port },
          ]);
          expect(await admin.createTopics({ topics: [{ topic: 'spread', numPartitions: 4 }], waitForLeaders: true })).toBe(true);
          const { topics } = await admin.fetchTopicMetadata({ topics: ['spread'] });
          const leaders = new Map((topics[0]?.partitions ?? []).map((p) => [p.partitionId, p.leader]));
          expect(new Set(leaders.values())).toEqual(new Set([1, 2]));
          for (const partition of [0, 1, 2, 3]) await producer.send({ topic: 'spread', messages: [{ partition, value: `to-${partition}` }] });
          for (const partition of [0, 1, 2, 3]) {
            const owner = leaders.get(partition) === 1 ? first : second;
            const [batch] = await readBatches(owner, 'spread', partition);
            expect(batch?.records.map((r) => r.value?.toString())).toEqual([`to-${partition}`]);
          }
        } finally {
          await producer.disconnect();
          await admin.disconnect();
        }
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });
});

describe('kafka listener > lifecycle', () => {
  it('refuses to start when its port is taken, leaving nothing open', async () => {
    await expect(startKafkaNode({ 'kafka.host': '127.0.0.1', 'kafka.port': String(node.kafkaPort) })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('closes with the node: open Kafka connections are ended and the port is free again', async () => {
    const other = await startKafkaNode();
    const raw = await RawKafkaClient.connect(other.kafkaPort);
    await raw.request('API_VERSIONS', 0, { clientSoftwareName: '', clientSoftwareVersion: '' });
    await other.close();
    await raw.waitClosed();
    await expect(RawKafkaClient.connect(other.kafkaPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
