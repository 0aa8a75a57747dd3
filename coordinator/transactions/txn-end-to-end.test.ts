/**
 * The transaction coordinator against a real broker in a real child process (one StreamBus node,
 * as `streambus dev` runs it: coordinator and broker in one process, LevelDB under a temp dir).
 * The test speaks the native protocol over TCP as a transactional producer would: the markers are
 * the coordinator's own, sent to the broker's native listener, and what a read_committed consumer
 * sees afterwards shows they were written. The node is then killed (-9) with a transaction decided
 * and restarted on its data: the new leader finishes it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/network/connection.js';
import type { Connection } from '../../client/network/types.js';
import { ErrorCode } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { decodeRecordBatchesSync, encodeRecordBatchSync } from '../../proto/record-batch/index.js';
import { type TranspiledChild, transpileChild } from '../../test/support/ts-child.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
let fixture: TranspiledChild;
let dataDir = '';
let child: ChildProcess | undefined;
let connection: Connection | undefined;

/** Starts the node on `dataDir` and connects to its native listener. */
async function startNode(): Promise<Connection> {
  const node = spawn(process.execPath, [fixture.script, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  child = node;
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error('the node was not ready within 30 s')), 30_000);
    node.once('exit', (code) => reject(new Error(`the node exited with ${String(code)} before it was ready`)));
    createInterface({ input: node.stdout }).on('line', (line) => {
      const parsed = JSON.parse(line) as { ready?: boolean; native?: number };
      if (parsed.ready === true && parsed.native !== undefined) {
        clearTimeout(timer);
        resolvePort(parsed.native);
      }
    });
  });
  connection = await connect({ host: '127.0.0.1', port, requestTimeoutMs: 15_000 });
  return connection;
}

async function killNode(): Promise<void> {
  await connection?.close();
  connection = undefined;
  const node = child;
  child = undefined;
  if (node === undefined || node.exitCode !== null) return;
  const exited = new Promise((done) => node.once('exit', done));
  node.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  fixture = await transpileChild(join(here, 'fixtures/single-node.child.ts'));
  // The codecs load the .proto files beside them at run time: the transpiled tree needs them too.
  const outDir = fixture.script.slice(0, fixture.script.length - relative(repoRoot, join(here, 'fixtures/single-node.child.js')).length);
  await mkdir(join(outDir, 'proto'), { recursive: true });
  for (const file of (await readdir(join(repoRoot, 'proto'))).filter((f) => f.endsWith('.proto'))) await copyFile(join(repoRoot, 'proto', file), join(outDir, 'proto', file));
  dataDir = await mkdtemp(join(tmpdir(), 'streambus-txn-e2e-'));
}, 60_000);

afterAll(async () => {
  await killNode();
  await fixture?.remove();
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
});

/** Polls `check` until it holds, with a deadline. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

function batch(producerId: number, producerEpoch: number, baseSequence: number, values: readonly string[]): Buffer {
  return encodeRecordBatchSync({ records: values.map((value) => ({ value })), nowMs: Date.now(), producerId, producerEpoch, baseSequence, isTransactional: true });
}

async function fetchCommitted(c: Connection, topic: string, partition: number): Promise<M.FetchPartitionResult> {
  const answer = await c.request('FETCH', { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 1, replicaId: -1, topics: [{ name: topic, partitions: [{ partition, fetchOffset: 0, maxBytes: 1 << 20 }] }] });
  return answer.topics[0]!.partitions[0]!;
}

/** What a read_committed consumer keeps: data records outside aborted transactions, no control batches. */
function consumed(result: M.FetchPartitionResult): string[] {
  const aborted = new Map(result.abortedTransactions.map((t) => [t.producerId, t.firstOffset]));
  const out: string[] = [];
  for (const b of decodeRecordBatchesSync(result.records)) {
    const from = aborted.get(b.header.producerId);
    if (b.header.isControl) {
      if (from !== undefined && from <= b.header.baseOffset) aborted.delete(b.header.producerId);
      continue;
    }
    if (from !== undefined && b.header.baseOffset >= from) continue;
    for (const record of b.records) out.push(record.value?.toString() ?? '');
  }
  return out;
}

function controlBatches(result: M.FetchPartitionResult): number {
  return decodeRecordBatchesSync(result.records).filter((b) => b.header.isControl).length;
}

async function stateOf(c: Connection, transactionalId: string): Promise<string> {
  return (await c.request('DESCRIBE_TRANSACTIONS', { transactionalIds: [transactionalId] })).transactions[0]!.state;
}

async function initProducer(c: Connection, transactionalId: string): Promise<{ producerId: number; producerEpoch: number }> {
  let answer: M.InitProducerIdResponse | undefined;
  await eventually(async () => {
    answer = await c.request('INIT_PRODUCER_ID', { transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    return answer.errorCode !== ErrorCode.CONCURRENT_TRANSACTIONS && answer.errorCode !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS && answer.errorCode !== ErrorCode.NOT_COORDINATOR;
  }, 'InitProducerId to be served');
  expect(answer?.errorCode).toBe(ErrorCode.NONE);
  return { producerId: answer!.producerId, producerEpoch: answer!.producerEpoch };
}

describe('transaction coordinator > with a real broker process', () => {
  it('commits and aborts across partitions: the coordinator\'s markers reach the broker and read_committed shows the outcome', async () => {
    const c = await startNode();
    const created = await c.request('CREATE_TOPICS', { topics: [{ name: 'payments', partitions: 2, replicationFactor: 1, configs: {} }], timeoutMs: 10_000, validateOnly: false });
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    const p = await initProducer(c, 'e2e');
    const caller = { transactionalId: 'e2e', ...p };
    expect((await c.request('ADD_PARTITIONS_TO_TXN', { ...caller, topics: [{ name: 'payments', partitions: [0, 1] }] })).errorCode).toBe(ErrorCode.NONE);
    for (const partition of [0, 1]) {
      const produced = await c.request('PRODUCE', { acks: -1, timeoutMs: 10_000, topics: [{ name: 'payments', partitions: [{ partition, records: batch(p.producerId, p.producerEpoch, 0, [`c${partition}a`, `c${partition}b`]) }] }] });
      expect(produced.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    }
    const open = await fetchCommitted(c, 'payments', 0);
    expect([open.lastStableOffset, consumed(open)]).toEqual([0, []]);

    expect((await c.request('END_TXN', { ...caller, committed: true })).errorCode).toBe(ErrorCode.NONE);
    await eventually(async () => (await stateOf(c, 'e2e')) === 'CompleteCommit', 'CompleteCommit');
    for (const partition of [0, 1]) {
      const result = await fetchCommitted(c, 'payments', partition);
      expect(consumed(result)).toEqual([`c${partition}a`, `c${partition}b`]);
      expect(result.lastStableOffset).toBe(result.highWatermark);
      expect(controlBatches(result)).toBe(1);
    }

    // The next transaction aborts: its records stay invisible to read_committed.
    expect((await c.request('ADD_PARTITIONS_TO_TXN', { ...caller, topics: [{ name: 'payments', partitions: [0] }] })).errorCode).toBe(ErrorCode.NONE);
    await c.request('PRODUCE', { acks: -1, timeoutMs: 10_000, topics: [{ name: 'payments', partitions: [{ partition: 0, records: batch(p.producerId, p.producerEpoch, 2, ['lost']) }] }] });
    expect((await c.request('END_TXN', { ...caller, committed: false })).errorCode).toBe(ErrorCode.NONE);
    await eventually(async () => (await stateOf(c, 'e2e')) === 'CompleteAbort', 'CompleteAbort');
    const afterAbort = await fetchCommitted(c, 'payments', 0);
    expect(consumed(afterAbort)).toEqual(['c0a', 'c0b']);
    expect(afterAbort.abortedTransactions).toEqual([{ producerId: p.producerId, firstOffset: 3 }]);
    expect(afterAbort.lastStableOffset).toBe(afterAbort.highWatermark);
  }, 60_000);

  it('finishes a decided commit after the node is killed (-9) and restarted on its data', async () => {
    const c = connection ?? (await startNode());
    const p = await initProducer(c, 'crash');
    const caller = { transactionalId: 'crash', ...p };
    await c.request('ADD_PARTITIONS_TO_TXN', { ...caller, topics: [{ name: 'payments', partitions: [1] }] });
    await c.request('PRODUCE', { acks: -1, timeoutMs: 10_000, topics: [{ name: 'payments', partitions: [{ partition: 1, records: batch(p.producerId, p.producerEpoch, 0, ['survives']) }] }] });
    expect((await c.request('END_TXN', { ...caller, committed: true })).errorCode).toBe(ErrorCode.NONE);
    // Killed at once: the markers may or may not have gone out; the decision is in the log.
    await killNode();
    const back = await startNode();
    await eventually(async () => {
      const described = await back.request('DESCRIBE_TRANSACTIONS', { transactionalIds: ['crash'] });
      return described.transactions[0]?.state === 'CompleteCommit';
    }, 'the restarted leader to complete the commit');
    const result = await fetchCommitted(back, 'payments', 1);
    expect(consumed(result)).toEqual(['c1a', 'c1b', 'survives']);
    expect(result.lastStableOffset).toBe(result.highWatermark);
  }, 90_000);
});
