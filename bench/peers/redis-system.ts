/**
 * Redis Streams under test: `redis-server` with its own temp directory, the append-only file on
 * (appendfsync everysec) and RDB snapshots off, driven by ./resp.ts: XADD pipelined inside the
 * caller's window, XREAD with large COUNTs from the start of the stream.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { freePort, ManagedProcess, waitForPort } from './processes.js';
import { RespConnection, RespError, type RespValue } from './resp.js';
import type { BenchSystem, PublishPurpose, PublishSink, ReadOptions, SystemDescription } from './system.js';

/** Entries per XREAD for catch-up reads. */
const CATCH_UP_COUNT = 4096;
/** Entries per XREAD when tailing, and how long one blocks waiting for new entries. */
const TAIL_COUNT = 1024;
const TAIL_BLOCK_MS = 100;
/** The one field of each entry. */
const FIELD = 'v';

export interface RedisSystemOptions {
  readonly binary: string;
  /** A fresh folder: the server's --dir (its append-only files) and its log; deleted when the server stops. */
  readonly dataDir: string;
}

export async function startRedis(options: RedisSystemOptions): Promise<BenchSystem> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', options.dataDir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''];
  const server = await ManagedProcess.start({ name: 'redis-server', command: options.binary, args, logFile: path.join(options.dataDir, 'redis-server.log'), cwd: options.dataDir, removeDirOnExit: options.dataDir });
  const connectOne = (): Promise<RespConnection> => RespConnection.connect({ host: '127.0.0.1', port, timeoutMs: 10_000 });
  let control: RespConnection;
  try {
    await waitForPort('127.0.0.1', port, 15_000, () => server.exitReason());
    control = await connectOne();
    // Loading an existing AOF answers -LOADING; a fresh directory answers at once.
    const deadline = performance.now() + 15_000;
    for (;;) {
      try {
        await control.call(['PING']);
        break;
      } catch (error) {
        if (!(error instanceof RespError) || performance.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await server.stop();
    throw error;
  }
  const version = execFileSync(options.binary, ['--version'], { encoding: 'utf8' }).trim().split(' sha=')[0] ?? 'redis-server';
  const description: SystemDescription = {
    version,
    startedWith: `redis-server ${args.map((a) => (a === '' ? "''" : a)).join(' ').replace(options.dataDir, '<temp>')}`,
    ackMeans:
      'XADD reply after the entry is in memory and the AOF buffer was written to the file (OS page cache); a background thread fsyncs the AOF every second (appendfsync everysec); AOF rewrites (fork) run at their default thresholds',
    client: 'own RESP2 client (bench/peers/resp.ts): XADD key * v <value>, pipelined inside the window (one socket write per tick); XREAD COUNT 4096 from id 0 (tail: a second connection, XREAD BLOCK 100 COUNT 1024)',
  };
  const publishers = new Set<RespConnection>();

  return {
    id: 'redis',
    label: 'Redis Streams',
    serverPid: server.pid,
    serverForks: true,
    mainThreadMeaningful: true,
    description,
    async createStream(name: string): Promise<void> {
      // XADD creates the stream; make sure nothing is left from an earlier run.
      await control.call(['DEL', name]);
    },
    async deleteStream(name: string): Promise<void> {
      await control.call(['DEL', name]);
    },
    async openPublisher(stream: string, _purpose: PublishPurpose): Promise<PublishSink> {
      const connection = await connectOne();
      publishers.add(connection);
      return {
        publish(value: Buffer, done: (error?: unknown) => void): void {
          connection.send(['XADD', stream, '*', FIELD, value], (error) => done(error));
        },
        async close(): Promise<void> {
          // Replies come in order: once PING answers, every earlier XADD has its reply.
          await connection.call(['PING']).catch(() => undefined);
          publishers.delete(connection);
          await connection.close();
        },
      };
    },
    async read(stream: string, onMessage: (value: Uint8Array) => boolean, options: ReadOptions): Promise<void> {
      // Blocking reads need their own connection; catch-up reads get one too, for symmetry.
      const connection = await connectOne();
      const tail = options.purpose === 'tail';
      const command = tail ? ['XREAD', 'BLOCK', String(TAIL_BLOCK_MS), 'COUNT', String(TAIL_COUNT), 'STREAMS', stream] : ['XREAD', 'COUNT', String(CATCH_UP_COUNT), 'STREAMS', stream];
      let lastId = '0-0';
      try {
        while (!options.signal.aborted) {
          const reply = await connection.call([...command, lastId]);
          const entries = streamEntries(reply);
          if (entries === undefined) {
            // Nothing new: a catch-up read polls briefly (the caller's signal bounds it).
            if (!tail) await new Promise((resolve) => setTimeout(resolve, 5));
            continue;
          }
          for (const entry of entries) {
            lastId = entry.id;
            if (!onMessage(entry.value)) return;
          }
        }
      } finally {
        await connection.close();
      }
    },
    async close(): Promise<void> {
      try {
        for (const connection of publishers) await connection.close();
        await control.close();
      } finally {
        await server.stop();
      }
    },
  };
}

interface StreamEntry {
  readonly id: string;
  readonly value: Buffer;
}

/**
 * The entries of an XREAD reply for one stream: null (nothing new), or
 * [[key, [[id, [field, value, ...]], ...]]]. Undefined for nothing new; throws on another shape.
 */
export function streamEntries(reply: RespValue): StreamEntry[] | undefined {
  if (reply === null) return undefined;
  const streams = asArray(reply, 'XREAD reply');
  const first = streams[0];
  if (first === undefined) return undefined;
  const pair = asArray(first, 'XREAD stream');
  const list = asArray(pair[1] ?? null, 'XREAD entries');
  const entries: StreamEntry[] = new Array<StreamEntry>(list.length);
  for (let i = 0; i < list.length; i++) {
    const entry = asArray(list[i]!, 'stream entry');
    const id = entry[0];
    const fields = asArray(entry[1] ?? null, 'stream entry fields');
    const value = fields[1];
    if (!Buffer.isBuffer(id) || !Buffer.isBuffer(value)) throw new RespError('XREAD entry without an id or a value');
    entries[i] = { id: id.toString('latin1'), value };
  }
  return entries;
}

function asArray(value: RespValue, what: string): RespValue[] {
  if (!Array.isArray(value)) throw new RespError(`unexpected ${what}: ${value instanceof Error ? value.message : typeof value}`);
  return value;
}
