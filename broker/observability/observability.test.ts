import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { startAdminServer, type AdminServer, type ReadyState } from './admin-server.js';
import { createLogger, formatCompactLine } from './logger.js';
import { createMetrics, type PartitionStats } from './metrics.js';

interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request over real TCP, failing after 5 s. */
function http(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('observability > metrics', () => {
  it('exports the broker series with the streambus_ prefix, units and labels', async () => {
    const metrics = createMetrics({ defaultMetrics: false, version: '1.2.3' });
    metrics.bytesIn.inc({ topic: 'orders' }, 1024);
    metrics.bytesOut.inc({ topic: 'orders' }, 512);
    metrics.recordsIn.inc({ topic: 'orders' }, 10);
    metrics.recordsOut.inc({ topic: 'orders' }, 4);
    metrics.connectionsOpen.inc({ listener: 'native' });
    const done = metrics.timeRequest('produce');
    done();
    metrics.timeRequest('fetch')('NOT_LEADER_OR_FOLLOWER');
    const text = await metrics.scrape();

    expect(text).toContain('# TYPE streambus_bytes_in_total counter');
    expect(text).toContain('streambus_bytes_in_total{topic="orders"} 1024');
    expect(text).toContain('streambus_bytes_out_total{topic="orders"} 512');
    expect(text).toContain('streambus_records_in_total{topic="orders"} 10');
    expect(text).toContain('streambus_records_out_total{topic="orders"} 4');
    expect(text).toContain('streambus_connections_open{listener="native"} 1');
    expect(text).toContain('# TYPE streambus_request_latency_seconds histogram');
    expect(text).toContain('streambus_request_latency_seconds_count{request="produce"} 1');
    expect(text).toMatch(/streambus_request_latency_seconds_bucket\{le="0.0005",request="produce"\} \d/);
    expect(text).toContain('streambus_request_errors_total{request="fetch",code="NOT_LEADER_OR_FOLLOWER"} 1');
    expect(text).not.toContain('streambus_request_errors_total{request="produce"');
    expect(text).toMatch(/streambus_build_info\{version="1\.2\.3",nodejs="v\d+[^"]*"\} 1/);
  });

  it('counts a timed request once even if its end is reported twice', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const done = metrics.timeRequest('metadata');
    done('REQUEST_TIMED_OUT');
    done('REQUEST_TIMED_OUT');
    const text = await metrics.scrape();
    expect(text).toContain('streambus_request_latency_seconds_count{request="metadata"} 1');
    expect(text).toContain('streambus_request_errors_total{request="metadata",code="REQUEST_TIMED_OUT"} 1');
  });

  it('records requests timed by the native server, labelled by lower-case API name and error name', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const hook: (api: 'PRODUCE' | undefined, durationMs: number, errorCode: ErrorCode) => void = metrics.observeRequest;
    hook('PRODUCE', 12, ErrorCode.NONE);
    hook('PRODUCE', 3000, ErrorCode.NOT_ENOUGH_REPLICAS);
    hook(undefined, 1, ErrorCode.UNKNOWN_API);
    const text = await metrics.scrape();
    expect(text).toContain('streambus_request_latency_seconds_count{request="produce"} 2');
    expect(text).toContain('streambus_request_latency_seconds_bucket{le="0.025",request="produce"} 1');
    expect(text).toContain('streambus_request_latency_seconds_sum{request="produce"} 3.012');
    expect(text).toContain('streambus_request_errors_total{request="produce",code="NOT_ENOUGH_REPLICAS"} 1');
    expect(text).toContain('streambus_request_errors_total{request="unknown",code="UNKNOWN_API"} 1');
  });

  it('reads partition gauges from the registered source on every scrape', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let partitions: PartitionStats[] = [
      { topic: 'orders', partition: 0, logStartOffset: 5, logEndOffset: 42, highWatermark: 40, sizeBytes: 4096 },
      { topic: 'orders', partition: 1, logStartOffset: 0, logEndOffset: 7, sizeBytes: 100 },
    ];
    let calls = 0;
    const remove = metrics.setPartitionSource(() => {
      calls += 1;
      return partitions;
    });
    const first = await metrics.scrape();
    expect(first).toContain('streambus_partition_log_start_offset{topic="orders",partition="0"} 5');
    expect(first).toContain('streambus_partition_log_end_offset{topic="orders",partition="0"} 42');
    expect(first).toContain('streambus_partition_high_watermark{topic="orders",partition="0"} 40');
    expect(first).not.toContain('streambus_partition_high_watermark{topic="orders",partition="1"}');
    expect(first).toContain('streambus_partition_size_bytes{topic="orders",partition="1"} 100');
    expect(calls).toBeGreaterThan(0);

    // The broker's state is the only copy: a partition that is gone disappears from the next scrape.
    partitions = [{ topic: 'orders', partition: 1, logStartOffset: 0, logEndOffset: 9, sizeBytes: 150 }];
    const second = await metrics.scrape();
    expect(second).not.toContain('partition="0"');
    expect(second).toContain('streambus_partition_log_end_offset{topic="orders",partition="1"} 9');

    remove();
    const third = await metrics.scrape();
    expect(third).not.toContain('streambus_partition_log_end_offset{');
  });

  it('forgets a deleted topic\'s series', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.bytesIn.inc({ topic: 'gone' }, 1);
    metrics.bytesIn.inc({ topic: 'kept' }, 1);
    metrics.forgetTopic('gone');
    const text = await metrics.scrape();
    expect(text).not.toContain('topic="gone"');
    expect(text).toContain('streambus_bytes_in_total{topic="kept"} 1');
  });

  it('includes Node runtime metrics such as event-loop lag by default', async () => {
    const metrics = createMetrics();
    const text = await metrics.scrape();
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('keeps separate registries apart', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.bytesIn.inc({ topic: 'x' }, 1);
    expect(await b.scrape()).not.toContain('topic="x"');
  });
});

describe('observability > admin server', () => {
  let server: AdminServer;
  let readiness: ReadyState | Error = { ready: false, reasons: ['listener native not bound', 'metadata not loaded'] };
  const metrics = createMetrics({ defaultMetrics: false });

  beforeAll(async () => {
    metrics.bytesIn.inc({ topic: 'orders' }, 3);
    server = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      ready: () => {
        if (readiness instanceof Error) throw readiness;
        return readiness;
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('binds 127.0.0.1 on the port it reports', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
  });

  it('serves Prometheus text on GET /metrics', async () => {
    const answer = await http(server.port, '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(answer.body).toContain('streambus_bytes_in_total{topic="orders"} 3');
  });

  it('answers /livez with 200', async () => {
    const answer = await http(server.port, '/livez');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ status: 'live' });
  });

  it('answers /readyz with 503 and the reasons while not ready, then 200 when ready', async () => {
    readiness = { ready: false, reasons: ['listener native not bound', 'metadata not loaded'] };
    const notReady = await http(server.port, '/readyz');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toEqual({ status: 'not_ready', reasons: ['listener native not bound', 'metadata not loaded'] });
    readiness = { ready: true };
    const ready = await http(server.port, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: 'ready' });
  });

  it('treats a failing readiness check as not ready', async () => {
    readiness = new Error('coordinator unreachable');
    const answer = await http(server.port, '/readyz');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({ status: 'not_ready', reasons: ['readiness check failed: coordinator unreachable'] });
    readiness = { ready: true };
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    expect((await http(server.port, '/')).status).toBe(404);
    expect((await http(server.port, '/metricsx')).status).toBe(404);
    const post = await http(server.port, '/metrics', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('ignores a query string', async () => {
    expect((await http(server.port, '/livez?verbose=1')).status).toBe(200);
  });

  it('fails to start on a port already in use, with a typed error naming the address', async () => {
    await expect(startAdminServer({ host: '127.0.0.1', port: server.port, registry: metrics.registry })).rejects.toThrow(
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${server.port} \\(EADDRINUSE\\)`),
    );
  });
});

describe('observability > admin server with a token', () => {
  it('requires the bearer token for /metrics but not for the probes', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const server = await startAdminServer({ port: 0, registry: metrics.registry, authToken: 's3cret' });
    try {
      expect((await http(server.port, '/metrics')).status).toBe(401);
      expect((await http(server.port, '/metrics', { headers: { authorization: 'Bearer wrong!' } })).status).toBe(401);
      expect((await http(server.port, '/metrics', { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
      expect((await http(server.port, '/livez')).status).toBe(200);
      expect((await http(server.port, '/readyz')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('closes even with a keep-alive connection open', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const server = await startAdminServer({ port: 0, registry: metrics.registry });
    await http(server.port, '/livez', { headers: { connection: 'keep-alive' } });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('close() did not finish within 5 s')), 5000);
    });
    await Promise.race([server.close(), deadline]).finally(() => clearTimeout(timer));
  });
});

describe('observability > logger', () => {
  function capture(): { destination: { write(line: string): void }; lines: string[] } {
    const lines: string[] = [];
    return { destination: { write: (line: string) => void lines.push(line) }, lines };
  }

  it('writes one JSON object per line with level, time, message and base fields', () => {
    const { destination, lines } = capture();
    const logger = createLogger({ format: 'json', destination, base: { node: 1 } });
    logger.child({ component: 'log' }).info({ topic: 'orders' }, 'appended');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 30, node: 1, component: 'log', topic: 'orders', msg: 'appended' });
    expect(typeof entry.time).toBe('number');
    expect(entry).not.toHaveProperty('pid');
  });

  it('drops entries below the configured level', () => {
    const { destination, lines } = capture();
    const logger = createLogger({ format: 'json', destination, level: 'warn' });
    logger.info('quiet');
    logger.warn('loud');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['loud']);
  });

  it('writes compact lines for a terminal in auto format, JSON otherwise', () => {
    const tty = capture();
    createLogger({ destination: tty.destination, isTTY: true }).info({ port: 9093 }, 'listening');
    expect(tty.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}listening port=9093\n$/);
    const pipe = capture();
    createLogger({ destination: pipe.destination, isTTY: false }).info('listening');
    expect(() => JSON.parse(pipe.lines[0]!) as unknown).not.toThrow();
  });

  it('formats a compact line with component, quoted fields and an error stack', () => {
    const line = formatCompactLine({
      level: 50,
      time: Date.UTC(2024, 0, 2, 3, 4, 5, 6),
      component: 'raft',
      msg: 'append failed',
      term: 4,
      reason: 'disk full',
      err: { type: 'Error', message: 'ENOSPC', stack: 'Error: ENOSPC\n    at write' },
    });
    expect(line).toBe('03:04:05.006 ERROR [raft] append failed term=4 reason="disk full" err=ENOSPC\n    Error: ENOSPC\n        at write');
  });
});
