/**
 * The Kafka listener at the byte level: what each kind of bad input gets (garbage, an oversized
 * frame, an unknown API key, an unsupported version, a body that does not decode), Kafka's
 * per-connection rules (responses in request order, no response for acks=0 and a closed connection
 * when such a write fails), the bound on requests in flight, and the refusals of writes StreamBus
 * cannot honour yet. A protocol fault closes only its own connection, after the answers to the
 * requests before it, with a log line saying why; the server keeps serving everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { KafkaErrorCode, decodeKafkaResponse, kafkaApiVersions } from '../../proto/kafka/index.js';
import { encodeRecordBatchSync } from '../../proto/record-batch/index.js';
import { startKafkaNode, type KafkaNode } from './support/kafka-node.js';
import { RawKafkaClient } from './support/raw-client.js';

const MAX_FRAME_BYTES = 1024 * 1024;
const MAX_IN_FLIGHT = 2;

let node: KafkaNode;
const logLines: string[] = [];
const clients: RawKafkaClient[] = [];

async function client(): Promise<RawKafkaClient> {
  const raw = await RawKafkaClient.connect(node.kafkaPort);
  clients.push(raw);
  return raw;
}

beforeAll(async () => {
  node = await startKafkaNode(
    { 'max.frame.bytes': String(MAX_FRAME_BYTES), 'max.in.flight.per.connection': String(MAX_IN_FLIGHT), 'auto.create.topics.enable': 'false' },
    { logLines },
  );
  const admin = await client();
  const created = await admin.request('CREATE_TOPICS', 4, {
    topics: [{ name: 'raw', numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  expect(created.topics[0]?.errorCode).toBe(0);
});

afterAll(async () => {
  for (const raw of clients) raw.close();
  await node?.close();
});

/** The reason logged for the most recent protocol fault that matches `pattern`. */
async function faultLogged(pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const entry = logLines
      .map((line) => JSON.parse(line) as { msg?: string; reason?: string })
      .reverse()
      .find((e) => (e.msg === 'kafka protocol fault; closing the connection' || e.msg === 'closing the kafka connection') && pattern.test(e.reason ?? ''));
    if (entry?.reason !== undefined) return entry.reason;
    if (Date.now() > deadline) throw new Error(`no fault logged matching ${String(pattern)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The server still answers on a fresh connection. */
async function stillServing(): Promise<void> {
  const raw = await client();
  const answer = await raw.request('API_VERSIONS', 2, { clientSoftwareName: '', clientSoftwareVersion: '' });
  expect(answer.errorCode).toBe(0);
}

function batch(options: Parameters<typeof encodeRecordBatchSync>[0] = { records: [{ value: 'x' }], nowMs: 1_700_000_000_000 }): Buffer {
  return encodeRecordBatchSync(options);
}

function produce(records: Buffer, acks = -1, topic = 'raw') {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] };
}

describe('kafka listener > bad input', () => {
  it('closes the connection on garbage (an HTTP request reads as a huge frame size) without answering, and logs why', async () => {
    const raw = await client();
    raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    await raw.waitClosed();
    expect(raw.frames).toEqual([]);
    expect(await faultLogged(/frame of \d+ bytes is above the limit of 1048576/)).toBeTruthy();
    await stillServing();
  });

  it('closes the connection on a frame above max.frame.bytes as soon as its size arrives', async () => {
    const raw = await client();
    const size = Buffer.alloc(4);
    size.writeInt32BE(MAX_FRAME_BYTES);
    raw.write(Buffer.concat([size, Buffer.alloc(100)]));
    await raw.waitClosed();
    expect(await faultLogged(/frame of 1048580 bytes is above the limit/)).toBeTruthy();
    await stillServing();
  });

  it('closes the connection on a negative frame size', async () => {
    const raw = await client();
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    await raw.waitClosed();
    expect(await faultLogged(/frame size of -16 bytes is below the minimum 8/)).toBeTruthy();
  });

  it('answers the requests before an unknown API key, then closes the connection', async () => {
    const raw = await client();
    raw.send('API_VERSIONS', 0, 1, { clientSoftwareName: '', clientSoftwareVersion: '' });
    // OffsetForLeaderEpoch (23) v0: not served (no client here needs it).
    const offsetForLeaderEpoch = Buffer.from('0000000e001700000000000200046a6f696e', 'hex');
    raw.write(offsetForLeaderEpoch);
    await raw.waitClosed();
    expect(raw.frames.map((frame) => decodeKafkaResponse('API_VERSIONS', 0, frame).correlationId)).toEqual([1]);
    expect(await faultLogged(/API key 23 is not served/)).toBeTruthy();
  });

  it('closes the connection on a version of a served API it does not serve (Fetch v3), as Kafka does', async () => {
    const raw = await client();
    const fetchV3 = Buffer.from('0000000a0001000300000005ffff', 'hex');
    raw.write(fetchV3);
    await raw.waitClosed();
    expect(await faultLogged(/Fetch v3 is not served \(versions 4-11\)/)).toBeTruthy();
  });

  it('answers ApiVersions at a version it does not serve with UNSUPPORTED_VERSION and its table, in the v0 layout, and carries on', async () => {
    const raw = await client();
    // ApiVersions v9 with request header v2 (a future client): api key 18, version 9, correlation 3, client id null, no tags.
    raw.write(Buffer.from('0000000b0012000900000003ffff00', 'hex'));
    const [answer] = await raw.responses(1);
    const decoded = decodeKafkaResponse('API_VERSIONS', 0, answer!.frame);
    expect(decoded).toEqual({ correlationId: 3, body: { errorCode: KafkaErrorCode.UNSUPPORTED_VERSION, apiKeys: kafkaApiVersions(), throttleTimeMs: 0 } });
    const metadata = await raw.request('METADATA', 1, { topics: [{ name: 'raw' }], allowAutoTopicCreation: false });
    expect(metadata.topics.map((t) => [t.name, t.errorCode])).toEqual([['raw', 0]]);
  });

  it('answers 20 000 pipelined requests it answers at once (ApiVersions v9) in order, in one burst', async () => {
    const raw = await client();
    const frames: Buffer[] = [];
    for (let id = 0; id < 20_000; id++) {
      const frame = Buffer.from('0000000b0012000900000000ffff00', 'hex');
      frame.writeInt32BE(id, 8);
      frames.push(frame);
    }
    raw.write(Buffer.concat(frames));
    const answers = await raw.responses(20_000, 20_000);
    expect(answers.every((a, i) => a.frame.readInt32BE(0) === i)).toBe(true);
  });

  it('closes the connection on a request whose body does not decode', async () => {
    const raw = await client();
    // Metadata v1 whose topic array claims 5 entries and holds none.
    raw.write(Buffer.from('0000000f000300010000000700017800000005', 'hex'));
    await raw.waitClosed();
    expect(await faultLogged(/a malformed Metadata v1 request: MetadataRequest v1: topics: 5 elements cannot fit in 0 bytes/)).toBeTruthy();
    await stillServing();
  });
});

describe('kafka listener > per-connection rules', () => {
  it('sends nothing for a produce with acks=0: the next answer is the next request\'s', async () => {
    const raw = await client();
    raw.send('PRODUCE', 7, 1, produce(batch(), 0));
    raw.send('API_VERSIONS', 2, 2, { clientSoftwareName: '', clientSoftwareVersion: '' });
    const [answer] = await raw.responses(1);
    expect(decodeKafkaResponse('API_VERSIONS', 2, answer!.frame).correlationId).toBe(2);
  });

  it('closes the connection when a produce with acks=0 fails, which is how Kafka tells such a producer', async () => {
    const raw = await client();
    raw.send('PRODUCE', 7, 1, produce(batch(), 0, 'no-such-topic'));
    await raw.waitClosed();
    expect(await faultLogged(/a produce with acks=0 failed \(no-such-topic-0: topic 'no-such-topic' does not exist\)/)).toBeTruthy();
  });

  it('answers in request order: a metadata request waits behind a long-polling fetch', async () => {
    const raw = await client();
    const started = Date.now();
    raw.send('FETCH', 11, 1, {
      replicaId: -1,
      maxWaitMs: 600,
      minBytes: 1_000_000,
      maxBytes: 1_000_000,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'raw', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1_000_000 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    raw.send('METADATA', 1, 2, { topics: null, allowAutoTopicCreation: false });
    const answers = await raw.responses(2);
    expect([decodeKafkaResponse('FETCH', 11, answers[0]!.frame).correlationId, decodeKafkaResponse('METADATA', 1, answers[1]!.frame).correlationId]).toEqual([1, 2]);
    expect(answers[1]!.atMs - started).toBeGreaterThanOrEqual(550);
  });

  it(`keeps at most ${MAX_IN_FLIGHT} requests in flight per connection: a third long poll starts when one finishes`, async () => {
    const raw = await client();
    const started = Date.now();
    const longPoll = {
      replicaId: -1,
      maxWaitMs: 800,
      minBytes: 1_000_000,
      maxBytes: 1_000_000,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'raw', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1_000_000 }] }],
      forgottenTopicsData: [],
      rackId: '',
    };
    for (const id of [1, 2, 3]) raw.send('FETCH', 11, id, longPoll);
    const answers = await raw.responses(3);
    const elapsed = answers.map((a) => a.atMs - started);
    // The first two wait together; the third is read only once a slot frees, then waits its own 800 ms.
    expect(elapsed[1]).toBeLessThan(1500);
    expect(elapsed[2]).toBeGreaterThanOrEqual(1550);
  });

  it('answers a fetch that names a fetch session with FETCH_SESSION_ID_NOT_FOUND (StreamBus keeps none)', async () => {
    const raw = await client();
    const answer = await raw.request('FETCH', 11, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1000,
      isolationLevel: 1,
      sessionId: 77,
      sessionEpoch: 3,
      topics: [],
      forgottenTopicsData: [],
      rackId: '',
    });
    expect([answer.errorCode, answer.sessionId, answer.responses]).toEqual([KafkaErrorCode.FETCH_SESSION_ID_NOT_FOUND, 0, []]);
  });
});

describe('kafka listener > idempotent and transactional writes', () => {
  it('dedupes an idempotent batch by its sequence, and holds a transactional one back from read_committed until its marker', async () => {
    const raw = await client();
    const idempotent = (baseSequence: number): Buffer => batch({ records: [{ value: 'x' }], nowMs: 1, producerId: 5, producerEpoch: 0, baseSequence });
    const transactional = batch({ records: [{ value: 'x' }], nowMs: 1, producerId: 6, producerEpoch: 0, baseSequence: 0, isTransactional: true });
    const first = await raw.request('PRODUCE', 7, produce(idempotent(0)));
    const written = first.responses[0]?.partitionResponses[0];
    expect(written?.errorCode).toBe(KafkaErrorCode.NONE);
    const retry = await raw.request('PRODUCE', 7, produce(idempotent(0)));
    expect(retry.responses[0]?.partitionResponses[0]).toMatchObject({ errorCode: KafkaErrorCode.NONE, baseOffset: written?.baseOffset });
    const gap = await raw.request('PRODUCE', 7, produce(idempotent(5)));
    expect(gap.responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    // Its own topic: the transaction stays open and holds that partition's last stable offset.
    const created = await raw.request('CREATE_TOPICS', 4, { topics: [{ name: 'raw-txn', numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    expect(created.topics[0]?.errorCode).toBe(0);
    const second = await raw.request('PRODUCE', 7, produce(transactional, -1, 'raw-txn'));
    const opened = second.responses[0]?.partitionResponses[0];
    expect(opened?.errorCode).toBe(KafkaErrorCode.NONE);
    // Nobody ends that transaction here: read_committed's latest offset (the last stable offset)
    // stops at its first record, read_uncommitted's (the high watermark) is past it.
    const latest = async (isolationLevel: number): Promise<number | undefined> => {
      const answer = await raw.request('LIST_OFFSETS', 2, { replicaId: -1, isolationLevel, topics: [{ name: 'raw-txn', partitions: [{ partitionIndex: 0, timestamp: -1 }] }] });
      return answer.topics[0]?.partitions[0]?.offset;
    };
    expect(await latest(1)).toBe(opened?.baseOffset);
    expect(await latest(0)).toBe((opened?.baseOffset ?? 0) + 1);
  });

  it('refuses a legacy message set (magic 1) sent with Produce v2 with UNSUPPORTED_VERSION, and a corrupt batch with CORRUPT_MESSAGE', async () => {
    const raw = await client();
    const legacy = Buffer.alloc(70);
    legacy.writeInt32BE(58, 8);
    legacy.writeInt8(1, 16);
    const answer = await raw.request('PRODUCE', 2, produce(legacy));
    expect(answer.responses[0]?.partitionResponses[0]?.errorCode).toBe(KafkaErrorCode.UNSUPPORTED_VERSION);
    const corrupt = batch();
    corrupt[corrupt.length - 1] = (corrupt.at(-1) ?? 0) ^ 0xff;
    const refused = await raw.request('PRODUCE', 7, produce(corrupt));
    expect(refused.responses[0]?.partitionResponses[0]?.errorCode).toBe(KafkaErrorCode.CORRUPT_MESSAGE);
  });
});
