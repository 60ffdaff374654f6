import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, all declared here, one registry per app (no globals: two registries can run in
 *  one process). An in-process replicator adds its own (replicator/metrics.ts) to the same registry. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'berth_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'berth_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({
    name: 'berth_http_request_bytes_total',
    help: 'Request body bytes received (uploads and manifests)',
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({
    name: 'berth_http_response_bytes_total',
    help: 'Response body bytes sent',
    registers: [this.registry],
  });
  /** Blob content bytes the origin sent to clients, however they were asked for (GET, range, web seed, seeding). */
  readonly blobBytesServed = new Counter({
    name: 'berth_blob_bytes_served_total',
    help: 'Blob content bytes sent to clients',
    registers: [this.registry],
  });
  readonly gcRuns = new Counter({
    name: 'berth_gc_runs_total',
    help: 'Garbage collection runs',
    registers: [this.registry],
  });
  readonly gcDeleted = new Counter({
    name: 'berth_gc_deleted_total',
    help: 'Objects removed by garbage collection',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly p2pSeedBytes = new Counter({
    name: 'berth_p2p_seed_bytes_total',
    help: 'Blob bytes the origin sent to peers as a BitTorrent seed',
    registers: [this.registry],
  });
  readonly p2pWebSeedBytes = new Counter({
    name: 'berth_p2p_webseed_bytes_total',
    help: 'Blob bytes the origin sent as a web seed (range reads)',
    registers: [this.registry],
  });
  readonly p2pAnnounces = new Counter({
    name: 'berth_p2p_announces_total',
    help: 'Tracker announces answered',
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
  }
}
