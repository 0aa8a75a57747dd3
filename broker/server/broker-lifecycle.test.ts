import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import {
  type Coordinator,
  CoordinatorNode,
  MetadataCache,
  type BrokerHeartbeatRequest,
  type BrokerRegistrationRequest,
  type MetadataFollower,
  type MetadataLog,
  seededRandomSource,
} from '../../coordinator/index.js';
import { BrokerLifecycle, type BrokerLifecycleOptions } from './broker-lifecycle.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const registration = (nodeId: number, incarnationId = `inc-${nodeId}`): BrokerRegistrationRequest => ({
  nodeId,
  incarnationId,
  host: '127.0.0.1',
  port: 9000 + nodeId,
  listeners: [{ name: 'native', host: '127.0.0.1', port: 9000 + nodeId }],
});

interface Cluster {
  coordinator: Coordinator;
  log: MetadataLog;
  /** The broker's followed copy of the metadata. */
  cache: MetadataCache;
}

/** A real coordinator: a Raft group of one node (as in `streambus dev`) in a temp directory. */
async function cluster(extra: { sessionTimeoutMs?: number } = {}): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'streambus-lifecycle-'));
  const node = await CoordinatorNode.start({
    nodeId: 1,
    clusterId: 'lifecycle',
    dataDir: dir,
    raftListen: { host: '127.0.0.1', port: 0 },
    defaults: { numPartitions: 1, replicationFactor: 1 },
    random: seededRandomSource(7),
    ...extra,
  });
  await node.coordinator.whenLeading({ signal: AbortSignal.timeout(10_000) });
  const { coordinator, log } = node;
  const cache = new MetadataCache();
  const follower: MetadataFollower = cache.follow(log);
  await follower.caughtUp;
  cleanups.push(async () => {
    follower.stop();
    await node.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { coordinator, log, cache };
}

/**
 * The in-process gateway `streambus dev` uses, pointed at a coordinator that can be swapped (a
 * failover to a node without the registration) or made unreachable. Each call is counted and
 * announced, so tests wait for heartbeats instead of sleeping.
 */
class Gateway {
  target: Coordinator;
  down = false;
  readonly heartbeats: BrokerHeartbeatRequest[] = [];
  registrations = 0;
  readonly #listeners = new Set<() => void>();

  constructor(target: Coordinator) {
    this.target = target;
  }

  readonly api: BrokerLifecycleOptions['controller'] = {
    registerBroker: async (request) => {
      this.#check();
      const outcome = await this.target.registerBroker(request);
      this.registrations++;
      this.#announce();
      return outcome;
    },
    brokerHeartbeat: async (request) => {
      this.heartbeats.push(request);
      this.#announce();
      this.#check();
      return this.target.brokerHeartbeat(request);
    },
  };

  /** Resolves once `predicate` holds after some call (or at once); rejects after 5 s. */
  until(predicate: () => boolean, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`timed out waiting until ${what}`));
      }, 5_000);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve();
      };
      this.#listeners.add(check);
    });
  }

  #check(): void {
    if (this.down) throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'coordinator unreachable');
  }

  #announce(): void {
    // After the current call settles, so a predicate sees the lifecycle's reaction to it.
    setImmediate(() => {
      for (const listener of [...this.#listeners]) listener();
    });
  }
}

function lifecycle(gateway: Gateway, cache: MetadataCache, extra: Partial<BrokerLifecycleOptions> = {}): BrokerLifecycle {
  const created = new BrokerLifecycle({
    controller: gateway.api,
    registration: registration(1),
    metadataOffset: () => cache.lastAppliedOffset,
    heartbeatIntervalMs: 50,
    ...extra,
  });
  cleanups.push(() => created.close());
  return created;
}

const deadline = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(5_000) });

describe('broker > lifecycle > registration and heartbeats', () => {
  it('registers fenced, is unfenced once its metadata has caught up, and stays unfenced across many session timeouts', async () => {
    const { coordinator, log, cache } = await cluster({ sessionTimeoutMs: 400 });
    const gateway = new Gateway(coordinator);
    const broker = lifecycle(gateway, cache);
    await broker.start();
    await broker.waitUntilUnfenced(deadline());
    expect(coordinator.state.broker(1)).toMatchObject({ brokerEpoch: broker.brokerEpoch, fenced: false });

    const seen = gateway.heartbeats.length;
    await gateway.until(() => gateway.heartbeats.length >= seen + 30, '30 more heartbeats');
    expect(coordinator.state.broker(1)?.fenced).toBe(false);
    expect((await log.read(0, 100)).filter((r) => r.command.type === 'fence-broker')).toEqual([]);
    expect(gateway.registrations).toBe(1);
  });

  it('stays fenced while its metadata is behind its own registration', async () => {
    const { coordinator, cache } = await cluster();
    const gateway = new Gateway(coordinator);
    let applied = -1;
    const broker = lifecycle(gateway, cache, { metadataOffset: () => applied });
    await broker.start();
    await gateway.until(() => gateway.heartbeats.length >= 3, 'three heartbeats');
    expect(broker.fenced).toBe(true);
    expect(coordinator.state.broker(1)?.fenced).toBe(true);
    expect(gateway.heartbeats.every((h) => h.metadataOffset === -1 && h.brokerEpoch === broker.brokerEpoch)).toBe(true);

    applied = cache.lastAppliedOffset;
    await broker.waitUntilUnfenced(deadline());
    expect(coordinator.state.broker(1)?.fenced).toBe(false);
  });

  it('registers again when a newer registration of its node id makes its epoch stale', async () => {
    const { coordinator, cache } = await cluster();
    const gateway = new Gateway(coordinator);
    const broker = lifecycle(gateway, cache);
    await broker.start();
    await broker.waitUntilUnfenced(deadline());
    const first = broker.brokerEpoch!;

    await coordinator.registerBroker(registration(1, 'someone-else'));
    await gateway.until(() => gateway.registrations === 2 && broker.brokerEpoch !== undefined && !broker.fenced, 're-registered and unfenced');
    expect(broker.brokerEpoch).toBeGreaterThan(first);
    expect(coordinator.state.broker(1)).toMatchObject({ incarnationId: 'inc-1', brokerEpoch: broker.brokerEpoch, fenced: false });
  });

  it('registers again when the coordinator it reaches has no registration for it', async () => {
    const { coordinator, cache } = await cluster();
    const gateway = new Gateway(coordinator);
    const broker = lifecycle(gateway, cache);
    await broker.start();
    await broker.waitUntilUnfenced(deadline());

    const successor = await cluster();
    gateway.target = successor.coordinator;
    await gateway.until(() => successor.coordinator.state.broker(1)?.fenced === false, 'registered and unfenced on the new coordinator');
    expect(gateway.registrations).toBe(2);
    expect(broker.fenced).toBe(false);
  });

  it('keeps trying while the coordinator is unreachable, is fenced when its session expires, and recovers', async () => {
    const { coordinator, cache } = await cluster({ sessionTimeoutMs: 300 });
    const gateway = new Gateway(coordinator);
    const broker = lifecycle(gateway, cache);
    await broker.start();
    await broker.waitUntilUnfenced(deadline());

    gateway.down = true;
    await gateway.until(() => coordinator.state.broker(1)?.fenced === true, 'fenced by session expiry');
    const during = gateway.heartbeats.length;
    await gateway.until(() => gateway.heartbeats.length >= during + 2, 'two more attempts while down');
    gateway.down = false;
    await gateway.until(() => coordinator.state.broker(1)?.fenced === false && !broker.fenced, 'unfenced again');
    expect(gateway.registrations).toBe(1);
  });
});

describe('broker > lifecycle > close', () => {
  it('stops heartbeating and asks to be fenced at once', async () => {
    const { coordinator, cache } = await cluster();
    const gateway = new Gateway(coordinator);
    const broker = lifecycle(gateway, cache);
    const other = lifecycle(gateway, cache, { registration: registration(2) });
    await broker.start();
    await other.start();
    await broker.waitUntilUnfenced(deadline());

    await broker.close();
    expect(gateway.heartbeats.at(-1)).toMatchObject({ nodeId: 1, wantFence: true });
    expect(coordinator.state.broker(1)?.fenced).toBe(true);
    const fromClosed = gateway.heartbeats.filter((h) => h.nodeId === 1).length;
    const fromOther = gateway.heartbeats.filter((h) => h.nodeId === 2).length;
    await gateway.until(() => gateway.heartbeats.filter((h) => h.nodeId === 2).length >= fromOther + 3, 'three heartbeats of the other broker');
    expect(gateway.heartbeats.filter((h) => h.nodeId === 1)).toHaveLength(fromClosed);
  });

  it('rejects waiters, and calls after close, with SHUTTING_DOWN', async () => {
    const { coordinator, cache } = await cluster();
    const gateway = new Gateway(coordinator);
    const broker = lifecycle(gateway, cache, { metadataOffset: () => -1 });
    await broker.start();
    const waiting = broker.waitUntilUnfenced();
    await broker.close();
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    await expect(broker.start()).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    await expect(broker.waitUntilUnfenced()).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
  });
});

describe('broker > lifecycle > controlled shutdown', () => {
  function leaderships(cache: MetadataCache, nodeId: number): number {
    return cache.state.topics().reduce((n, t) => n + t.partitions.filter((p) => p.leader === nodeId).length, 0);
  }

  it('hands its leaderships to other in-sync replicas, and close() resolves once its metadata shows that', async () => {
    const { coordinator, cache } = await cluster();
    const gateway = new Gateway(coordinator);
    const view = { leaderships: () => leaderships(cache, 1), onChange: (listener: () => void) => cache.subscribe(() => listener()) };
    const broker = lifecycle(gateway, cache, { leadership: view });
    const other = lifecycle(gateway, cache, { registration: registration(2) });
    for (const b of [broker, other]) {
      await b.start();
      await b.waitUntilUnfenced(deadline());
    }
    await coordinator.createTopics([{ name: 'moving', numPartitions: 4, replicationFactor: 2 }]);
    await cache.waitForOffset(coordinator.state.lastAppliedOffset, deadline());
    expect(leaderships(cache, 1)).toBeGreaterThan(0);

    await broker.close();
    // Resolved only once the followed metadata (not just the coordinator) has the move.
    expect(leaderships(cache, 1)).toBe(0);
    expect(cache.state.broker(1)?.fenced).toBe(true);
    for (const p of cache.state.topic('moving')!.partitions) expect(p).toMatchObject({ leader: 2, isr: [2] });
  });

  it('stops waiting after controlledShutdownTimeoutMs when its leaderships do not move', async () => {
    const { coordinator, cache } = await cluster();
    const gateway = new Gateway(coordinator);
    const stuck = { leaderships: () => 1, onChange: (listener: () => void) => cache.subscribe(() => listener()) };
    const broker = lifecycle(gateway, cache, { leadership: stuck, controlledShutdownTimeoutMs: 200 });
    await broker.start();
    await broker.waitUntilUnfenced(deadline());
    const started = performance.now();
    await broker.close();
    const tookMs = performance.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(190);
    expect(tookMs).toBeLessThan(2_000);
    expect(coordinator.state.broker(1)?.fenced).toBe(true);
  });
});

describe('broker > lifecycle > bad input', () => {
  it('refuses a heartbeat interval that is not a whole number of at least 1 ms with INVALID_CONFIG', async () => {
    const { coordinator, cache } = await cluster();
    for (const heartbeatIntervalMs of [0, -1, 2.5]) {
      expect(() => lifecycle(new Gateway(coordinator), cache, { heartbeatIntervalMs })).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }),
      );
    }
  });

  it('fails start with the coordinator\'s INVALID_REQUEST for a malformed registration, and refuses a second start', async () => {
    const { coordinator, cache } = await cluster();
    const bad = lifecycle(new Gateway(coordinator), cache, { registration: { ...registration(1), port: 0 } });
    await expect(bad.start()).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    expect(coordinator.state.broker(1)).toBeUndefined();
    const good = lifecycle(new Gateway(coordinator), cache);
    await good.start();
    await expect(good.start()).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST, message: expect.stringContaining('already started') });
  });
});
