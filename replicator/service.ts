import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Registry as MetricsRegistry } from 'prom-client';
import { splitHostPort, type ServerConfig } from '../core/config.js';
import { readCaBundle } from '../core/ca-bundle.js';
import type { Logger } from '../core/log.js';
import type { Registry } from '../registry/registry.js';
import type { MetaStore } from '../storage-adapters/meta/meta-store.js';
import { replicationRouter } from './api/router.js';
import { CredentialCipher } from './credentials.js';
import type { LocalAccess } from '../core/local-access.js';
import { Replicator } from './engine.js';
import { ReplicationMetrics } from './metrics.js';
import { ReplicationRecords } from './records.js';
import { Upstreams } from './upstreams.js';

// Replication put together for one process: the API router (mounted by `berth serve`) and, unless turned off,
// the engine (which `berth replicate` runs alone).

export interface ReplicationOptions {
  config: ServerConfig;
  log: Logger;
  /** The MetaStore (records, outbox, lease) and this registry's domain layer over both stores (a push's source). */
  stores: { meta: MetaStore; registry: Registry };
  /** The Prometheus registry this process serves. */
  metrics: MetricsRegistry;
  runEngine: boolean;
  /** Throws (401/403) unless the caller is a system admin; absent with auth none. */
  requireSysadmin?: (ctx: Context) => Promise<void>;
  /** With access control on: how the engine's writes into this registry (pull policies) are authorized. */
  localAccess?: LocalAccess;
}

export interface ReplicationService {
  router: Router;
  /** The registry endpoints as upstreams of proxy-cache projects. */
  upstreams: Upstreams;
  engine?: Replicator;
  close(): Promise<void>;
}

export async function startReplication(o: ReplicationOptions): Promise<ReplicationService> {
  const { config, log, stores } = o;
  const cipher = await CredentialCipher.load({ ...(config.replication_key && { secret: config.replication_key }), dataDir: config.data_dir });
  if (!config.replication_key && config.meta === 'redis') {
    log.warn('replication_key is not set: registry credentials are sealed with this instance\'s own key file, which other instances sharing Redis cannot read');
  }
  const ca = config.ca_file ? readCaBundle(config.ca_file, 'ca_file') : undefined;
  const records = new ReplicationRecords(stores.meta);
  const localUrl = localUrlOf(config);
  const engine = o.runEngine
    ? new Replicator({
        config,
        log: log.child({ component: 'replicator' }),
        meta: stores.meta,
        registry: stores.registry,
        records,
        cipher,
        ...(ca && { ca }),
        metrics: new ReplicationMetrics(o.metrics),
        localUrl,
        ...(o.localAccess && { localAccess: o.localAccess }),
      })
    : undefined;
  engine?.start();
  const router = replicationRouter({
    records,
    meta: stores.meta,
    cipher,
    ...(ca && { ca }),
    idc: config.idc,
    localUrl,
    ...(engine && { engine }),
    ...(o.requireSysadmin && { requireSysadmin: o.requireSysadmin }),
  });
  return {
    router,
    upstreams: new Upstreams(records, cipher, ca),
    ...(engine && { engine }),
    close: async () => engine?.close(),
  };
}

const writes = new Set<string | symbol>(['putManifest', 'deleteManifest', 'deleteTag', 'deleteRepository']);

/** `meta`, calling `onWrite` after every change that appends to the outbox. */
export function observeWrites(meta: MetaStore, onWrite: () => void): MetaStore {
  return new Proxy(meta, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (!writes.has(prop)) return fn.bind(target);
      return async (...args: unknown[]) => {
        const result = await fn.apply(target, args);
        onWrite();
        return result;
      };
    },
  });
}

/** How this process reaches its own registry: the public URL, else the listen address (all interfaces → loopback). */
export function localUrlOf(config: ServerConfig): string {
  if (config.public_url) return config.public_url.replace(/\/+$/, '');
  const { host, port } = splitHostPort(config.addr);
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}
