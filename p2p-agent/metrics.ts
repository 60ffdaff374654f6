import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The agent's Prometheus metrics (one registry per agent: a benchmark runs several agents in one process). */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly bytesFromPeers = new Counter({ name: 'berth_agent_bytes_from_peers_total', help: 'Blob bytes received from other peers (not the origin)', registers: [this.registry] });
  readonly bytesFromOrigin = new Counter({
    name: 'berth_agent_bytes_from_origin_total',
    help: 'Blob bytes fetched from the origin: its BitTorrent seed (seed), the web-seed fallback (webseed), or proxied small blobs (proxy)',
    labelNames: ['path'] as const,
    registers: [this.registry],
  });
  readonly bytesToPeers = new Counter({ name: 'berth_agent_bytes_to_peers_total', help: 'Blob bytes sent to peers', registers: [this.registry] });
  readonly bytesToClients = new Counter({ name: 'berth_agent_bytes_to_clients_total', help: 'Blob bytes sent to local clients', registers: [this.registry] });
  readonly cacheHits = new Counter({ name: 'berth_agent_cache_hits_total', help: 'Blob requests answered from the cache', registers: [this.registry] });
  readonly cacheMisses = new Counter({ name: 'berth_agent_cache_misses_total', help: 'Blob requests that needed a download', registers: [this.registry] });
  readonly downloadSeconds = new Histogram({
    name: 'berth_agent_download_seconds',
    help: 'Time to download and verify a blob through the swarm',
    buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly downloadsFailed = new Counter({ name: 'berth_agent_downloads_failed_total', help: 'Downloads that failed', registers: [this.registry] });
  readonly corruptPieces = new Counter({ name: 'berth_agent_corrupt_pieces_total', help: 'Pieces that failed their hash check', registers: [this.registry] });
  readonly peersBanned = new Counter({ name: 'berth_agent_peers_banned_total', help: 'Peers dropped for sending corrupt data', registers: [this.registry] });
  readonly pieceDiskReads = new Counter({
    name: 'berth_agent_piece_disk_reads_total',
    help: 'Pieces read back from disk for peers or clients (no longer in piece memory)',
    registers: [this.registry],
  });
  readonly cacheBytes = new Gauge({ name: 'berth_agent_cache_bytes', help: 'Bytes in the blob cache', registers: [this.registry] });
  readonly activeDownloads = new Gauge({ name: 'berth_agent_downloads_active', help: 'Downloads in progress', registers: [this.registry] });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'berth_agent_' });
  }

  /** Counter values by name, for status pages and benchmarks. */
  async snapshot(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const m of await this.registry.getMetricsAsJSON()) {
      if (m.type !== ('counter' as unknown) && m.type !== ('gauge' as unknown)) continue;
      for (const v of m.values) {
        const label = Object.values(v.labels ?? {}).join(',');
        out[label ? `${m.name}{${label}}` : m.name] = (out[label ? `${m.name}{${label}}` : m.name] ?? 0) + Number(v.value);
      }
    }
    return out;
  }
}
