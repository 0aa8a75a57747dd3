import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { Api, apiDescriptors, apiNameOf, isVersionSupported, supportedApiVersions, type ApiName, type RequestOf, type ResponseOf } from './api.js';
import { ErrorCode, StreamBusError } from './errors.js';
import { FrameDecoder, encodeFrame } from './framing.js';
import {
  decodeErrorResponse,
  decodeRequest,
  decodeResponse,
  encodeErrorFrame,
  encodeErrorResponse,
  encodeRequest,
  encodeRequestFrame,
  encodeResponse,
  encodeResponseFrame,
  encodeResponseFrameChunks,
  errorFromResponse,
  schemaUrl,
  type EncodableResponseOf,
} from './native-codec.js';
import { DEFAULT_ZERO_COPY_MIN_BYTES, type BytesPieces } from './message-codec.js';

const records = (n: number, seed = 1): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

/** One sample per API with every field set to a non-default value, so a round trip covers them all. */
const requests: { [A in ApiName]: RequestOf<A> } = {
  API_VERSIONS: { clientId: 'tester', clientSoftware: 'streambus-test/0.1' },
  METADATA: { topics: ['orders', 'payments'], allTopics: true, allowAutoTopicCreation: true },
  PRODUCE: {
    acks: -1,
    timeoutMs: 30_000,
    topics: [{ name: 'orders', partitions: [{ partition: 3, records: records(100) }, { partition: 0, records: records(7, 9) }] }],
  },
  FETCH: {
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 52_428_800,
    isolationLevel: 1,
    topics: [{ name: 'orders', partitions: [{ partition: 1, fetchOffset: 2 ** 40 + 5, maxBytes: 1_048_576, currentLeaderEpoch: 7, lastFetchedEpoch: 6 }] }],
    replicaId: 3,
  },
  LIST_OFFSETS: { isolationLevel: 1, topics: [{ name: 't', partitions: [{ partition: 0, timestamp: -2 }, { partition: 1, timestamp: 1_700_000_000_000 }] }] },
  CREATE_TOPICS: {
    topics: [{ name: 'new', partitions: 6, replicationFactor: 3, configs: { 'cleanup.policy': 'compact', 'retention.ms': '-1' } }],
    timeoutMs: 1000,
    validateOnly: true,
  },
  DELETE_TOPICS: { names: ['a', 'b'], timeoutMs: 5 },
  DESCRIBE_CONFIGS: { topics: ['x'] },
  ALTER_CONFIGS: {
    topics: [{ name: 'x', ops: [{ name: 'retention.ms', value: '1000', op: 0 }, { name: 'segment.bytes', op: 1 }] }],
    validateOnly: true,
  },
  CREATE_PARTITIONS: { topics: [{ name: 'x', count: 12 }], timeoutMs: 9, validateOnly: true },
  DELETE_RECORDS: { topics: [{ name: 'x', partitions: [{ partition: 2, offset: -1 }] }], timeoutMs: 3 },
  COORDINATOR_STATUS: {},
  FETCH_METADATA: { fromOffset: 2 ** 40 + 1, maxRecords: 500, maxWaitMs: 250, brokerId: -1 },
  BROKER_REGISTRATION: {
    nodeId: 3,
    incarnationId: 'inc-1',
    clusterId: 'c1',
    host: '127.0.0.3',
    port: 9093,
    rack: 'r1',
    listeners: [{ name: 'native', host: '127.0.0.3', port: 9093 }],
  },
  BROKER_HEARTBEAT: { nodeId: 3, brokerEpoch: 17, metadataOffset: 40, wantFence: true, wantShutDown: true },
  CHANGE_MEMBERSHIP: { op: 'add', nodeId: 4, raftHost: '127.0.0.4', raftPort: 9095, apiHost: '127.0.0.4', apiPort: 9094 },
  TRANSFER_LEADERSHIP: { toNodeId: 2 },
  ALTER_PARTITION: { brokerId: 3, brokerEpoch: 2 ** 35, partitions: [{ topicId: 'tid-1', partition: 4, leaderEpoch: 7, partitionEpoch: 12, newIsr: [3, 1] }] },
  ELECT_LEADERS: { electionType: 1, topics: [{ name: 'orders', partitions: [0, 5] }] },
  ALTER_PARTITION_REASSIGNMENTS: {
    topics: [{ name: 'orders', partitions: [{ partition: 0, replicas: [2, 3, 4], cancel: false }, { partition: 1, replicas: [], cancel: true }] }],
  },
  LIST_PARTITION_REASSIGNMENTS: { topics: [{ name: 'orders', partitions: [0] }] },
  BROKER_MAINTENANCE: { brokerId: 3, enable: true },
  FIND_COORDINATOR: { key: 'group-a', keyType: 1 },
  JOIN_GROUP: {
    groupId: 'group-a',
    sessionTimeoutMs: 45_000,
    rebalanceTimeoutMs: 300_000,
    memberId: 'client-1-abc',
    groupInstanceId: 'instance-1',
    protocolType: 'consumer',
    protocols: [{ name: 'cooperative-sticky', metadata: records(20) }, { name: 'range', metadata: records(3, 2) }],
    reason: 'rejoin',
    requireKnownMemberId: true,
    clientId: 'kafkajs',
    clientHost: '/10.0.0.7',
  },
  SYNC_GROUP: {
    groupId: 'group-a',
    generationId: 7,
    memberId: 'm-1',
    groupInstanceId: 'instance-1',
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: [{ memberId: 'm-1', assignment: records(9) }],
  },
  HEARTBEAT: { groupId: 'group-a', generationId: 7, memberId: 'm-1', groupInstanceId: 'instance-1', holdMs: 3_000 },
  LEAVE_GROUP: { groupId: 'group-a', members: [{ memberId: 'm-1', groupInstanceId: 'instance-1', reason: 'closing' }] },
  OFFSET_COMMIT: {
    groupId: 'group-a',
    generationId: -1,
    memberId: 'm-1',
    groupInstanceId: 'instance-1',
    topics: [{ name: 'orders', partitions: [{ partition: 3, committedOffset: 2 ** 41, committedLeaderEpoch: -1, committedMetadata: 'md' }] }],
  },
  OFFSET_FETCH: { groupId: 'group-a', topics: [{ name: 'orders', partitions: [0, 3] }], allTopics: true },
  LIST_GROUPS: { statesFilter: ['Stable'], typesFilter: ['consumer'] },
  DESCRIBE_GROUPS: { groups: ['group-a', 'group-b'] },
  DELETE_GROUPS: { groups: ['group-a'] },
  OFFSET_DELETE: { groupId: 'group-a', topics: [{ name: 'orders', partitions: [1] }] },
  INIT_PRODUCER_ID: { transactionalId: 'tx-1', transactionTimeoutMs: 60_000, producerId: 4001, producerEpoch: 3 },
  ADD_PARTITIONS_TO_TXN: { transactionalId: 'tx-1', producerId: 4001, producerEpoch: 3, topics: [{ name: 'orders', partitions: [0, 2] }] },
  ADD_OFFSETS_TO_TXN: { transactionalId: 'tx-1', producerId: 4001, producerEpoch: 3, groupId: 'group-a' },
  END_TXN: { transactionalId: 'tx-1', producerId: 4001, producerEpoch: 3, committed: true },
  TXN_OFFSET_COMMIT: {
    transactionalId: 'tx-1',
    groupId: 'group-a',
    producerId: 4001,
    producerEpoch: 3,
    generationId: 7,
    memberId: 'm-1',
    groupInstanceId: 'static-1',
    topics: [{ name: 'orders', partitions: [{ partition: 2, committedOffset: 88, committedLeaderEpoch: 4, committedMetadata: 'ctp' }] }],
  },
  WRITE_TXN_MARKERS: {
    markers: [{ producerId: 4001, producerEpoch: 3, committed: true, coordinatorEpoch: 9, topics: [{ name: 'orders', partitions: [0, 2] }] }],
  },
  LIST_TRANSACTIONS: { stateFilters: ['Ongoing'], producerIdFilters: [4001] },
  DESCRIBE_TRANSACTIONS: { transactionalIds: ['tx-1', 'tx-2'] },
  DESCRIBE_PRODUCERS: { topics: [{ name: 'orders', partitions: [0, 1] }] },
};

const responses: { [A in ApiName]: ResponseOf<A> } = {
  API_VERSIONS: {
    errorCode: ErrorCode.UNSUPPORTED_VERSION,
    apis: supportedApiVersions(),
    serverVersion: '0.1.0',
    clusterId: 'c-1',
    nodeId: 1,
    maxFrameBytes: 67_109_888,
    maxInFlight: 64,
  },
  METADATA: {
    clusterId: 'c-1',
    controllerId: 2,
    brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9093, rack: 'r1' }],
    topics: [
      {
        name: 'orders',
        topicId: 'tid',
        errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
        errorMessage: 'electing',
        internal: true,
        partitions: [{ partition: 0, errorCode: 6, leader: 1, leaderEpoch: 4, replicas: [1, 2, 3], isr: [1, 3] }],
      },
    ],
    metadataOffset: 2 ** 53 - 1,
  },
  PRODUCE: {
    topics: [
      {
        name: 'orders',
        partitions: [{ partition: 3, errorCode: 10, errorMessage: 'too big', baseOffset: 123_456_789_012, logAppendTimeMs: -1, logStartOffset: 5 }],
      },
    ],
    throttleMs: 7,
  },
  FETCH: {
    topics: [
      {
        name: 'orders',
        partitions: [
          {
            partition: 1,
            errorCode: 1,
            errorMessage: 'oor',
            highWatermark: 99,
            lastStableOffset: 98,
            logStartOffset: 3,
            records: records(300, 4),
            divergingEpoch: { epoch: 5, endOffset: 2 ** 40 + 2 },
            abortedTransactions: [{ producerId: 4001, firstOffset: 2 ** 40 - 7 }],
          },
        ],
      },
    ],
    throttleMs: 1,
  },
  LIST_OFFSETS: { topics: [{ name: 't', partitions: [{ partition: 0, errorCode: 3, errorMessage: 'gone', offset: -1, timestamp: -1 }] }] },
  CREATE_TOPICS: { topics: [{ name: 'new', errorCode: 36, errorMessage: 'exists', topicId: 'tid' }], metadataOffset: 12 },
  DELETE_TOPICS: { topics: [{ name: 'a', errorCode: 3, errorMessage: 'no', topicId: 'x' }], metadataOffset: 13 },
  DESCRIBE_CONFIGS: {
    topics: [
      {
        name: 'x',
        errorCode: 40,
        errorMessage: 'bad',
        entries: [
          { name: 'retention.ms', value: '1000', source: 'topic', readOnly: true, sensitive: true, documentation: 'how long' },
          { name: 'unset', source: 'default', readOnly: false, sensitive: false, documentation: 'null value' },
          { name: 'empty', value: '', source: 'broker', readOnly: false, sensitive: false, documentation: 'empty, not null' },
        ],
      },
    ],
  },
  ALTER_CONFIGS: { topics: [{ name: 'x', errorCode: 40, errorMessage: 'bad', topicId: 'x' }], metadataOffset: 14 },
  CREATE_PARTITIONS: { topics: [{ name: 'x', errorCode: 37, errorMessage: 'fewer', topicId: 'x' }], metadataOffset: 15 },
  DELETE_RECORDS: { topics: [{ name: 'x', partitions: [{ partition: 2, errorCode: 1, errorMessage: 'below', lowWatermark: 77 }] }] },
  COORDINATOR_STATUS: {
    errorCode: 0,
    errorMessage: 'ok',
    clusterId: 'c1',
    nodeId: 2,
    role: 'follower',
    leaderId: 1,
    leaderApiHost: '127.0.0.1',
    leaderApiPort: 9094,
    term: 7,
    commitIndex: 2 ** 33,
    appliedIndex: 2 ** 33 - 1,
    lastIndex: 2 ** 33 + 2,
    snapshotIndex: 1000,
    metadataOffset: 2 ** 33 - 2,
    members: [
      { nodeId: 1, raftHost: '127.0.0.1', raftPort: 9095, apiHost: '127.0.0.1', apiPort: 9094, voter: true, matchIndex: -1, lag: -1, active: true },
    ],
  },
  FETCH_METADATA: {
    errorCode: 0,
    errorMessage: 'x',
    startOffset: 5,
    committedOffset: 9,
    records: [{ offset: 6, command: records(20, 2) }],
    hasSnapshot: true,
    snapshotOffset: 4,
    snapshot: records(50, 3),
  },
  BROKER_REGISTRATION: { errorCode: 0, errorMessage: 'y', brokerEpoch: 33, metadataOffset: 33 },
  BROKER_HEARTBEAT: { errorCode: 77, errorMessage: 'stale', fenced: true, metadataOffset: 34 },
  CHANGE_MEMBERSHIP: { errorCode: 41, errorMessage: 'not leader', voters: [1, 2, 3] },
  TRANSFER_LEADERSHIP: { errorCode: 0, errorMessage: 'z', leaderId: 2, term: 8 },
  ALTER_PARTITION: {
    errorCode: 0,
    errorMessage: 'ok',
    partitions: [{ topicId: 'tid-1', partition: 4, errorCode: 95, errorMessage: 'stale', leader: 3, leaderEpoch: 7, isr: [3, 1, 2], partitionEpoch: 13 }],
    metadataOffset: 2 ** 33,
  },
  ELECT_LEADERS: { errorCode: 0, errorMessage: 'e', results: [{ topic: 'orders', partition: 5, errorCode: 84, errorMessage: 'not needed', leader: 2 }], metadataOffset: 41 },
  ALTER_PARTITION_REASSIGNMENTS: { errorCode: 0, errorMessage: 'e', results: [{ topic: 'orders', partition: 1, errorCode: 85, errorMessage: 'none' }], metadataOffset: 42 },
  LIST_PARTITION_REASSIGNMENTS: {
    errorCode: 0,
    errorMessage: 'e',
    reassignments: [{ topic: 'orders', partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] }],
    metadataOffset: 43,
  },
  BROKER_MAINTENANCE: { errorCode: 0, errorMessage: 'e', draining: true, leadersMoved: 2, leadersKept: [{ topic: 'orders', partition: 3 }], metadataOffset: 44 },
  FIND_COORDINATOR: { errorCode: 15, errorMessage: 'no leader', nodeId: 2, host: '10.0.0.2', port: 9094 },
  JOIN_GROUP: {
    errorCode: 79,
    errorMessage: 'again',
    generationId: 4,
    protocolType: 'consumer',
    protocolName: 'range',
    leader: 'm-1',
    skipAssignment: true,
    memberId: 'm-2',
    members: [{ memberId: 'm-1', groupInstanceId: 'instance-1', metadata: records(12) }],
  },
  SYNC_GROUP: { errorCode: 27, errorMessage: 'rejoin', protocolType: 'consumer', protocolName: 'range', assignment: records(5) },
  HEARTBEAT: { errorCode: 27, errorMessage: 'rejoin' },
  LEAVE_GROUP: { errorCode: 0, errorMessage: 'x', members: [{ memberId: 'm-1', groupInstanceId: 'instance-1', errorCode: 25, errorMessage: 'unknown' }] },
  OFFSET_COMMIT: { errorCode: 22, errorMessage: 'old', topics: [{ name: 'orders', partitions: [{ partition: 3, errorCode: 22, errorMessage: 'old' }] }] },
  OFFSET_FETCH: {
    errorCode: 14,
    errorMessage: 'loading',
    topics: [{ name: 'orders', partitions: [{ partition: 0, committedOffset: 2 ** 45, committedLeaderEpoch: 6, metadata: 'md', errorCode: 3, errorMessage: 'gone' }] }],
  },
  LIST_GROUPS: { errorCode: 16, errorMessage: 'elsewhere', groups: [{ groupId: 'group-a', protocolType: 'consumer', groupState: 'Stable' }] },
  DESCRIBE_GROUPS: {
    errorCode: 16,
    errorMessage: 'elsewhere',
    groups: [
      {
        errorCode: 69,
        errorMessage: 'gone',
        groupId: 'group-a',
        groupState: 'Stable',
        protocolType: 'consumer',
        protocolData: 'range',
        members: [{ memberId: 'm-1', groupInstanceId: 'instance-1', clientId: 'c', clientHost: '/h', memberMetadata: records(4), memberAssignment: records(6) }],
      },
    ],
  },
  DELETE_GROUPS: { errorCode: 16, errorMessage: 'elsewhere', results: [{ groupId: 'group-a', errorCode: 68, errorMessage: 'members' }] },
  OFFSET_DELETE: { errorCode: 69, errorMessage: 'gone', topics: [{ name: 'orders', partitions: [{ partition: 1, errorCode: 86, errorMessage: 'subscribed' }] }] },
  INIT_PRODUCER_ID: { errorCode: 51, errorMessage: 'completing', producerId: 4001, producerEpoch: 4, throttleMs: 5 },
  ADD_PARTITIONS_TO_TXN: { errorCode: 90, errorMessage: 'fenced', topics: [{ name: 'orders', partitions: [{ partition: 0, errorCode: 90, errorMessage: 'fenced' }] }] },
  ADD_OFFSETS_TO_TXN: { errorCode: 48, errorMessage: 'no transaction' },
  END_TXN: { errorCode: 47, errorMessage: 'old epoch' },
  TXN_OFFSET_COMMIT: { errorCode: 22, errorMessage: 'generation', topics: [{ name: 'orders', partitions: [{ partition: 2, errorCode: 22, errorMessage: 'generation' }] }] },
  WRITE_TXN_MARKERS: { markers: [{ producerId: 4001, topics: [{ name: 'orders', partitions: [{ partition: 0, errorCode: 6, errorMessage: 'moved' }] }] }] },
  LIST_TRANSACTIONS: { errorCode: 16, errorMessage: 'not here', transactions: [{ transactionalId: 'tx-1', producerId: 4001, state: 'Ongoing' }] },
  DESCRIBE_TRANSACTIONS: {
    transactions: [
      {
        errorCode: 105,
        errorMessage: 'unknown',
        transactionalId: 'tx-1',
        state: 'Ongoing',
        transactionTimeoutMs: 60_000,
        transactionStartTimeMs: 1_700_000_000_000,
        producerId: 4001,
        producerEpoch: 3,
        topics: [{ name: 'orders', partitions: [0, 2] }],
        groups: ['group-a'],
      },
    ],
  },
  DESCRIBE_PRODUCERS: {
    topics: [
      {
        name: 'orders',
        partitions: [
          {
            partition: 0,
            errorCode: 6,
            errorMessage: 'moved',
            activeProducers: [
              { producerId: 4001, producerEpoch: 3, lastSequence: 41, lastTimestampMs: 1_700_000_000_123, coordinatorEpoch: 9, currentTxnStartOffset: 120 },
            ],
          },
        ],
      },
    ],
  },
};

const apiNames = Object.keys(apiDescriptors) as ApiName[];

/** The reference implementation: protobufjs's own codec over the same schema. */
const reference = (() => {
  const { root } = protobuf.parse(readFileSync(schemaUrl, 'utf8'));
  root.resolveAll();
  return (name: string) => root.lookupType(`streambus.v1.${name}`);
})();

/** Mulberry32: a small seeded generator, so a failing fuzz case replays exactly. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(StreamBusError);
    return (err as StreamBusError).code;
  }
}

describe('proto > api table', () => {
  it('gives every API of the .proto enum its wire key', () => {
    const protoEnum = protobuf.parse(readFileSync(schemaUrl, 'utf8')).root.lookupEnum('streambus.v1.Api').values;
    expect({ ...Api }).toEqual({ ...protoEnum });
    expect(Api.PRODUCE).toBe(2);
    expect(apiNameOf(3)).toBe('FETCH');
    expect(apiNameOf(999)).toBeUndefined();
  });

  it('advertises version 0 only, for every API, ordered by key', () => {
    const versions = supportedApiVersions();
    expect(versions).toEqual(apiNames.map((name) => ({ api: Api[name], minVersion: 0, maxVersion: 0 })));
    expect(isVersionSupported('PRODUCE', 0)).toBe(true);
    expect(isVersionSupported('PRODUCE', 1)).toBe(false);
  });

  it('hands out a fresh versions array each call', () => {
    const first = supportedApiVersions();
    first.pop();
    expect(supportedApiVersions()).toHaveLength(apiNames.length);
  });
});

describe('proto > native codec > round trip', () => {
  it.each(apiNames)('decodes %s requests and responses back to the values encoded', (api) => {
    expect(decodeRequest(api, encodeRequest(api, requests[api]))).toEqual(requests[api]);
    expect(decodeResponse(api, encodeResponse(api, responses[api]))).toEqual(responses[api]);
  });

  it.each(apiNames)('writes %s bytes identical to protobufjs, and protobufjs reads them back', (api) => {
    const d = apiDescriptors[api];
    for (const [typeName, value, ours] of [
      [d.requestType, requests[api], encodeRequest(api, requests[api])],
      [d.responseType, responses[api], encodeResponse(api, responses[api])],
    ] as const) {
      const type = reference(typeName);
      const theirs = Buffer.from(type.encode(type.fromObject(value as unknown as Record<string, unknown>)).finish());
      expect(ours.equals(theirs)).toBe(true);
      const back = type.toObject(type.decode(ours), { longs: Number, defaults: true });
      expect(back).toEqual(value);
    }
  });

  it.each(apiNames)('decodes an empty %s body to every field of the interface, at its default', (api) => {
    const request = decodeRequest(api, Buffer.alloc(0)) as unknown as Record<string, unknown>;
    const response = decodeResponse(api, Buffer.alloc(0)) as unknown as Record<string, unknown>;
    expect(Object.keys(request).sort()).toEqual(Object.keys(requests[api]).sort());
    expect(Object.keys(response).sort()).toEqual(Object.keys(responses[api]).sort());
  });

  it('decodes int64 fields as numbers, negative ones included', () => {
    const decoded = decodeResponse('PRODUCE', encodeResponse('PRODUCE', responses.PRODUCE));
    const partition = decoded.topics[0]!.partitions[0]!;
    expect(partition.baseOffset).toBe(123_456_789_012);
    expect(partition.logAppendTimeMs).toBe(-1);
    expect(decodeResponse('METADATA', encodeResponse('METADATA', responses.METADATA)).metadataOffset).toBe(2 ** 53 - 1);
  });

  it('returns bytes fields as views into the input, not copies', () => {
    const body = encodeRequest('PRODUCE', requests.PRODUCE);
    const decoded = decodeRequest('PRODUCE', body);
    const view = decoded.topics[0]!.partitions[0]!.records;
    expect(Buffer.isBuffer(view)).toBe(true);
    expect(view.buffer).toBe(body.buffer);
    expect(view.equals(records(100))).toBe(true);
  });

  it('returns fetched records as a view into the response frame, not a copy', () => {
    const frame = encodeResponseFrame(1, 'FETCH', responses.FETCH);
    const decoder = new FrameDecoder();
    decoder.push(frame);
    const body = decoder.next()!.body;
    const view = decodeResponse('FETCH', body).topics[0]!.partitions[0]!.records;
    expect(view.buffer).toBe(frame.buffer);
    expect(view.byteOffset).toBeGreaterThan(frame.byteOffset);
    expect(view.equals(records(300, 4))).toBe(true);
  });

  it('leaves an absent optional field out and keeps an empty one', () => {
    const entries = decodeResponse('DESCRIBE_CONFIGS', encodeResponse('DESCRIBE_CONFIGS', responses.DESCRIBE_CONFIGS)).topics[0]!.entries;
    expect('value' in entries[1]!).toBe(false);
    expect(entries[2]!.value).toBe('');
  });

  it('skips fields it does not know, so newer peers can add fields', () => {
    const body = encodeRequest('METADATA', requests.METADATA);
    // field 99 varint 5, field 98 LEN "hi", field 97 fixed32, field 96 fixed64
    const extra = Buffer.from([0x98, 0x06, 0x05, 0x92, 0x06, 0x02, 0x68, 0x69, 0x8d, 0x06, 1, 2, 3, 4, 0x81, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(decodeRequest('METADATA', Buffer.concat([body, extra]))).toEqual(requests.METADATA);
  });

  it('keeps a map key named __proto__ as data', () => {
    const body = { ...requests.CREATE_TOPICS, topics: [{ ...requests.CREATE_TOPICS.topics[0]!, configs: JSON.parse('{"__proto__":"x"}') as Record<string, string> }] };
    const decoded = decodeRequest('CREATE_TOPICS', encodeRequest('CREATE_TOPICS', body));
    const configs = decoded.topics[0]!.configs;
    expect(Object.keys(configs)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(configs)).toBe(Object.prototype);
  });
});

describe('proto > native codec > frames', () => {
  it('builds a request frame in one buffer equal to header plus encoded body', () => {
    const frame = encodeRequestFrame(42, 'PRODUCE', 0, requests.PRODUCE);
    expect(frame.equals(encodeFrame({ correlationId: 42, api: Api.PRODUCE, versionOrStatus: 0 }, encodeRequest('PRODUCE', requests.PRODUCE)))).toBe(true);
  });

  it('builds response and error frames that decode back', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeResponseFrame(1, 'FETCH', responses.FETCH));
    decoder.push(encodeErrorFrame(2, 777, { errorCode: ErrorCode.UNKNOWN_API, errorMessage: 'api 777' }));
    const ok = decoder.next()!;
    expect(ok).toMatchObject({ correlationId: 1, api: Api.FETCH, versionOrStatus: 0 });
    expect(decodeResponse('FETCH', ok.body)).toEqual(responses.FETCH);
    const failed = decoder.next()!;
    expect(failed).toMatchObject({ correlationId: 2, api: 777, versionOrStatus: 1 });
    const error = errorFromResponse(failed.body);
    expect(error.code).toBe(ErrorCode.UNKNOWN_API);
    expect(error.message).toBe('api 777');
  });

  it('reads an ErrorResponse with an unknown code as UNKNOWN_SERVER_ERROR', () => {
    expect(errorFromResponse(encodeErrorResponse({ errorCode: 4242, errorMessage: 'new' })).code).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
    expect(decodeErrorResponse(encodeErrorResponse({ errorCode: -1, errorMessage: 'x' }))).toEqual({ errorCode: -1, errorMessage: 'x' });
  });
});

/** A FetchResponse of two partitions whose records are given as `pieces` and `more`. */
function fetchOf(pieces: Buffer | BytesPieces, more: Buffer | BytesPieces = records(5, 8)): EncodableResponseOf<'FETCH'> {
  const partition = { errorCode: 0, errorMessage: '', highWatermark: 2 ** 40, lastStableOffset: 2 ** 40, logStartOffset: 0, abortedTransactions: [] };
  return {
    topics: [
      { name: 'orders', partitions: [{ partition: 0, ...partition, records: pieces }] },
      { name: 'payments', partitions: [{ partition: 7, ...partition, records: more }] },
    ],
    throttleMs: 0,
  };
}

const concatOf = (pieces: BytesPieces): Buffer => Buffer.concat(pieces);

describe('proto > native codec > chunked response frames', () => {
  it.each(apiNames)('writes %s responses as chunks whose concatenation is the single-buffer frame', (api) => {
    const whole = encodeResponseFrame(9, api, responses[api]);
    for (const zeroCopyMinBytes of [1, 64, DEFAULT_ZERO_COPY_MIN_BYTES]) {
      const chunks = encodeResponseFrameChunks(9, api, responses[api], { zeroCopyMinBytes });
      expect(Buffer.concat(chunks).equals(whole)).toBe(true);
    }
  });

  it('encodes records given as pieces byte-identical to their concatenation, both ways', () => {
    const pieces = [records(20_000, 1), records(3, 2), Buffer.alloc(0), records(70_000, 3), records(16 * 1024, 4), records(16 * 1024 - 1, 5)];
    const whole = encodeResponseFrame(5, 'FETCH', fetchOf(concatOf(pieces)));
    expect(encodeResponseFrame(5, 'FETCH', fetchOf(pieces)).equals(whole)).toBe(true);
    expect(Buffer.concat(encodeResponseFrameChunks(5, 'FETCH', fetchOf(pieces))).equals(whole)).toBe(true);
    const type = reference('FetchResponse');
    const theirs = Buffer.from(type.encode(type.fromObject(fetchOf(concatOf(pieces)) as unknown as Record<string, unknown>)).finish());
    expect(whole.subarray(12).equals(theirs)).toBe(true);
  });

  it('passes large pieces through as the same Buffers and copies the small ones', () => {
    const big = records(DEFAULT_ZERO_COPY_MIN_BYTES, 1);
    const bigger = records(100_000, 2);
    const small = records(DEFAULT_ZERO_COPY_MIN_BYTES - 1, 3);
    const chunks = encodeResponseFrameChunks(1, 'FETCH', fetchOf([big, small, bigger], bigger));
    expect(chunks.filter((chunk) => chunk === big)).toHaveLength(1);
    expect(chunks.filter((chunk) => chunk === bigger)).toHaveLength(2);
    expect(chunks.some((chunk) => chunk.buffer === small.buffer)).toBe(false);
    // Everything else shares one new allocation: header, field tags, lengths and small pieces.
    const copied = chunks.filter((chunk) => chunk !== big && chunk !== bigger);
    expect(new Set(copied.map((chunk) => chunk.buffer)).size).toBe(1);
    expect(copied.reduce((sum, chunk) => sum + chunk.length, 0)).toBeLessThan(small.length + 200);
  });

  it('passes a large plain Uint8Array through as a Buffer view of the same memory', () => {
    const bytes = new Uint8Array(records(50_000, 6));
    const chunks = encodeResponseFrameChunks(1, 'FETCH', fetchOf([bytes]));
    const passed = chunks.find((chunk) => chunk.length === bytes.length)!;
    expect(Buffer.isBuffer(passed)).toBe(true);
    expect(passed.buffer).toBe(bytes.buffer);
    expect(Buffer.concat(chunks).equals(encodeResponseFrame(1, 'FETCH', fetchOf(Buffer.from(bytes))))).toBe(true);
  });

  it('puts the frame header in the first chunk, with the length of the whole frame', () => {
    const pieces = [records(40_000, 1), records(40_000, 2)];
    const chunks = encodeResponseFrameChunks(0xfffffffe, 'FETCH', fetchOf(pieces));
    expect(chunks.length).toBeGreaterThan(2);
    const decoder = new FrameDecoder();
    for (const chunk of chunks) decoder.push(chunk);
    const frame = decoder.next()!;
    expect(frame).toMatchObject({ correlationId: 0xfffffffe, api: Api.FETCH, versionOrStatus: 0 });
    expect(decoder.next()).toBeUndefined();
    expect(decoder.bufferedBytes).toBe(0);
    const decoded = decodeResponse('FETCH', frame.body);
    expect(decoded.topics[0]!.partitions[0]!.records.equals(concatOf(pieces))).toBe(true);
    expect(decoded.topics[1]!.partitions[0]!.records.equals(records(5, 8))).toBe(true);
  });

  it('treats an empty list of pieces like an empty Buffer: the field is left out', () => {
    const empty = encodeResponseFrame(3, 'FETCH', fetchOf(Buffer.alloc(0)));
    expect(encodeResponseFrame(3, 'FETCH', fetchOf([])).equals(empty)).toBe(true);
    expect(Buffer.concat(encodeResponseFrameChunks(3, 'FETCH', fetchOf([Buffer.alloc(0), Buffer.alloc(0)]))).equals(empty)).toBe(true);
  });

  it('matches the single-buffer frame for random pieces and thresholds (seeded)', () => {
    const seed = 4_000_417;
    const random = seeded(seed);
    for (let i = 0; i < 200; i++) {
      const sizes = Array.from({ length: Math.floor(random() * 6) }, () => (random() < 0.3 ? Math.floor(random() * 3) : Math.floor(random() * 40_000)));
      const pieces = sizes.map((size, j) => records(size, i + j));
      const other = random() < 0.5 ? records(Math.floor(random() * 30_000), i) : [records(Math.floor(random() * 30_000), i + 1)];
      const zeroCopyMinBytes = 1 + Math.floor(random() * 40_000);
      const whole = encodeResponseFrame(i, 'FETCH', fetchOf(concatOf(pieces), Buffer.isBuffer(other) ? other : concatOf(other)));
      const chunks = encodeResponseFrameChunks(i, 'FETCH', fetchOf(pieces, other), { zeroCopyMinBytes });
      if (!Buffer.concat(chunks).equals(whole)) throw new Error(`seed ${seed} case ${i}: chunks differ from the single-buffer frame`);
      if (chunks.some((chunk) => chunk.length === 0) && chunks.length > 1) throw new Error(`seed ${seed} case ${i}: an empty chunk`);
    }
  });

  it('refuses a list holding something other than bytes, and a threshold below 1', () => {
    const bad = fetchOf([records(10), 'abc' as unknown as Buffer]);
    expect(codeOf(() => encodeResponseFrameChunks(1, 'FETCH', bad))).toBe(ErrorCode.INVALID_REQUEST);
    expect(codeOf(() => encodeResponseFrame(1, 'FETCH', bad))).toBe(ErrorCode.INVALID_REQUEST);
    expect(() => encodeResponseFrameChunks(1, 'FETCH', fetchOf([]), { zeroCopyMinBytes: 0 })).toThrow(RangeError);
  });
});

describe('proto > native codec > bad input', () => {
  it('refuses to encode values that do not fit their field', () => {
    const bad = [
      () => encodeRequest('PRODUCE', { ...requests.PRODUCE, acks: 1.5 }),
      () => encodeRequest('PRODUCE', { ...requests.PRODUCE, timeoutMs: -1 }),
      () => encodeRequest('FETCH', { ...requests.FETCH, topics: [{ name: 't', partitions: [{ partition: 0, fetchOffset: 2 ** 60, maxBytes: 1 }] }] }),
      () => encodeRequest('PRODUCE', { ...requests.PRODUCE, topics: [{ name: 't', partitions: [{ partition: 0, records: 'abc' as unknown as Buffer }] }] }),
      () => encodeRequest('METADATA', { topics: 'orders' as unknown as string[], allTopics: false, allowAutoTopicCreation: false }),
    ];
    for (const fn of bad) expect(codeOf(fn)).toBe(ErrorCode.INVALID_REQUEST);
  });

  it('rejects truncated bodies with MALFORMED_FRAME', () => {
    const body = encodeRequest('PRODUCE', requests.PRODUCE);
    for (const cut of [1, 5, 20, body.length - 1]) expect(codeOf(() => decodeRequest('PRODUCE', body.subarray(0, cut)))).toBe(ErrorCode.MALFORMED_FRAME);
  });

  it('rejects groups, field number 0, overlong varints and int64 beyond 2^53', () => {
    expect(codeOf(() => decodeRequest('METADATA', Buffer.from([0x0b, 0x0c])))).toBe(ErrorCode.MALFORMED_FRAME);
    expect(codeOf(() => decodeRequest('METADATA', Buffer.from([0x00, 0x01])))).toBe(ErrorCode.MALFORMED_FRAME);
    expect(codeOf(() => decodeRequest('METADATA', Buffer.from([0x10, ...Array<number>(10).fill(0xff), 0x01])))).toBe(ErrorCode.MALFORMED_FRAME);
    // MetadataResponse.metadata_offset (field 5) = 2^60
    const big = Buffer.from(reference('MetadataResponse').encode({ metadataOffset: '1152921504606846976' }).finish());
    expect(codeOf(() => decodeResponse('METADATA', big))).toBe(ErrorCode.MALFORMED_FRAME);
  });

  it('rejects a body of many tiny nested messages before it exhausts memory', () => {
    // 1.1 million empty ProduceTopic entries: 2 bytes each on the wire, an object each in memory.
    const body = Buffer.alloc(2 * 1_100_000);
    for (let i = 0; i < body.length; i += 2) body[i] = 0x1a;
    expect(codeOf(() => decodeRequest('PRODUCE', body))).toBe(ErrorCode.MALFORMED_FRAME);
  });

  it('fails cleanly on thousands of random and mutated request bodies (seeded)', () => {
    const seed = 20240611;
    const random = seeded(seed);
    const valid = apiNames.map((api) => [api, encodeRequest(api, requests[api])] as const);
    const started = performance.now();
    let decoded = 0;
    for (let i = 0; i < 4000; i++) {
      const [api, good] = valid[Math.floor(random() * valid.length)]!;
      let input: Buffer;
      if (i % 4 === 0) {
        input = Buffer.alloc(Math.floor(random() * 64));
        for (let j = 0; j < input.length; j++) input[j] = Math.floor(random() * 256);
      } else {
        input = Buffer.from(good);
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips && input.length > 0; f++) input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
        if (random() < 0.2) input = input.subarray(0, Math.floor(random() * input.length));
      }
      try {
        decodeRequest(api, input);
        decoded++;
      } catch (err) {
        if (!(err instanceof StreamBusError) || err.code !== ErrorCode.MALFORMED_FRAME) throw new Error(`seed ${seed} case ${i}: ${String(err)}`);
      }
    }
    expect(decoded).toBeGreaterThan(0); // mutations that still parse must parse, not throw
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
