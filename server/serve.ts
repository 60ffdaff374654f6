import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ServerConfig } from '../core/config.js';
import { HybridLogicalClock } from '../core/hlc.js';
import type { Logger } from '../core/log.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../storage-adapters/meta/meta-store.js';
import type { LocalAccess } from '../core/local-access.js';
import { requireSysadmin, type AdminDeps } from './admin/context.js';
import { RuntimeSettings } from './settings.js';
import { readOnlyGuard } from './middleware/read-only.js';
import { ensureQuotas } from './admin/quotas.js';
import { WebhookDispatcher } from '../registry/webhooks/dispatcher.js';
import { gcJob } from '../registry/gc-schedule.js';
import { purgeAuditJob } from './auth/audit-purge.js';
import { adminRouter } from './admin/router.js';
import { preheatApi } from './admin/preheat/router.js';
import { retentionApi } from './admin/retention/api.js';
import { routeTable, type ServedRoute } from './route-table.js';
import { setUpAccessControl } from './auth/access-control.js';
import { AllowAll } from './auth/authorizer.js';
import { createApp } from './app.js';
import { openListeners } from './listen/listeners.js';
import { workerIndex } from './cluster.js';
import { collectGarbage } from '../registry/gc.js';
import { ServerMetrics } from './metrics.js';
import { harborApiErrors } from './middleware/harbor-errors.js';
import type { RegistryDeps } from './oci/deps.js';
import { Registry } from '../registry/registry.js';
import { UploadLocks } from './oci/upload-locks.js';
import { Throttle } from '../core/throttle.js';
import { startP2pOrigin } from './p2p/origin.js';
import { consoleFiles } from './web/console.js';

export interface RunningRegistry {
  server: Server;
  deps: RegistryDeps;
  /** Throws 401/403 unless a system admin calls (for admin surfaces mounted from outside); absent with auth none. */
  requireSysadmin?: (ctx: Context) => Promise<void>;
  /** How in-process writers (replication) authenticate to this registry; absent with auth none. */
  localAccess?: LocalAccess;
  /** The routes of the routers mounted here (the OCI API and /healthz, /metrics aside): what openapi.json lists. */
  routes: ServedRoute[];
  close(): Promise<void>;
}

/** What this registry's access control offers a component mounted into it (replication's API and engine). */
export interface MountedAccess {
  /** Throws 401/403 unless a system admin calls; absent with auth none. */
  requireSysadmin?: (ctx: Context) => Promise<void>;
  /** How in-process writers authenticate to this registry; absent with auth none. */
  localAccess?: LocalAccess;
}

/** What the composing process adds: routers of its own (replication's API), built once access control exists,
 *  and the metrics they register in. */
export interface RegistryExtras {
  routers?: (access: MountedAccess) => Promise<Router[]>;
  metrics?: ServerMetrics;
}

/** Builds the registry over already-open stores and starts listening on `config.addr`. */
export async function startRegistry(
  config: ServerConfig,
  log: Logger,
  /** The stores, and the domain layer over them when the process shares one (cli); built here otherwise. */
  stores: { blobs: BlobStore; meta: MetaStore; registry?: Registry },
  extras: RegistryExtras = {},
): Promise<RunningRegistry> {
  const deps: RegistryDeps = {
    config,
    log,
    metrics: extras.metrics ?? new ServerMetrics(),
    blobs: stores.blobs,
    meta: stores.meta,
    registry: stores.registry ?? new Registry(stores.blobs, stores.meta, { clock: new HybridLogicalClock(), idc: config.idc, log, manifestCacheBytes: config.manifest_cache_bytes }),
    authorizer: new AllowAll(),
    uploadLocks: new UploadLocks(stores.meta),
    egress: new Throttle(config.egress_limit),
  };
  const access = await setUpAccessControl(deps, { announce: (text) => process.stderr.write(text) });
  deps.authorizer = access.authorizer;
  const settings = new RuntimeSettings(stores.meta, config);
  // P2P distribution: metainfo, tracker-scheduler, web seed, preheat (server/p2p).
  const p2p = await startP2pOrigin(deps, deps.egress!);
  // The admin API sits on access control (admin → auth, never back): it is put together here.
  const admin: AdminDeps = {
    registry: deps,
    records: access.records,
    policy: access.policy,
    audit: access.audit,
    ...(access.authenticator && { authenticator: access.authenticator }),
    ...(access.refreshTokens && { refreshTokens: access.refreshTokens }),
    settings,
    ...(access.sessions && { sessions: access.sessions }),
    swarmOf: p2p.swarmOf,
  };
  const mounted: MountedAccess = {
    // With auth none everyone may.
    ...(admin.authenticator && { requireSysadmin: async (ctx: Context) => void (await requireSysadmin(ctx, admin)) }),
    ...(access.localAccess && { localAccess: access.localAccess }),
  };
  await ensureQuotas(admin);
  // Webhooks: jobs from the outbox and from pulls/quota events, delivered by one instance per IDC (a lease).
  const webhooks = new WebhookDispatcher(stores.meta, deps.registry.events, log, {
    host: () => (config.public_url ? new URL(config.public_url).host : config.addr),
    isPublic: async (name) => (await access.records.projectByName(name))?.public ?? false,
  });
  admin.webhooks = webhooks.records;
  await webhooks.start();
  // Harbor's /system/gc: schedule and manual runs, executed by one instance per IDC.
  const gcSchedule = gcJob({ ...stores, log }, { graceMs: config.gc_grace_seconds * 1000, uploadTtlMs: config.upload_ttl_seconds * 1000 });
  admin.gc = gcSchedule;
  gcSchedule.start();
  // Harbor's /system/purgeaudit: expired audit entries (and expired refresh tokens) on a schedule too.
  const purgeAudit = purgeAuditJob(stores.meta, log, access.audit, access.refreshTokens);
  admin.purgeAudit = purgeAudit;
  purgeAudit.start();
  const preheat = preheatApi(admin, p2p.preheat);
  const retention = retentionApi(admin);
  const routers = [...access.routers, adminRouter(admin), preheat.router, retention.router, p2p.router, ...((await extras.routers?.(mounted)) ?? [])];
  // The console's files answer only paths no API serves, so they may run before the routers.
  const app = createApp(deps, routers, [harborApiErrors(), readOnlyGuard(settings), ...access.middleware, consoleFiles(log)]);
  const routes = routeTable(routers);
  const listeners = await openListeners(config, app.callback(), (err, socket) => answerClientError(err, socket, log, config.max_header_bytes), log);
  const server = listeners.main;
  log.info({ addr: config.addr, tls: Boolean(config.tls_cert_file), ...(config.http_addr && { http_addr: config.http_addr }), storage: config.storage, meta: config.meta, auth: config.auth }, 'berth registry listening');

  let gcTimer: NodeJS.Timeout | undefined;
  if (config.gc_interval_seconds > 0 && workerIndex() === 0) {
    gcTimer = setInterval(() => {
      collectGarbage({ ...stores, log }, { graceMs: config.gc_grace_seconds * 1000, uploadTtlMs: config.upload_ttl_seconds * 1000 }).catch((err) =>
        log.error({ err }, 'gc failed'),
      );
    }, config.gc_interval_seconds * 1000);
    gcTimer.unref();
  }

  return {
    server,
    deps,
    ...mounted,
    routes,
    close: async () => {
      if (gcTimer) clearInterval(gcTimer);
      preheat.close();
      retention.close();
      await webhooks.stop();
      await gcSchedule.stop();
      await purgeAudit.stop();
      await p2p.close();
      await listeners.close();
      await deps.registry.pulls.flush().catch((err: unknown) => log.warn({ err }, 'storing pull counts'));
    },
  };
}

/**
 * Requests Node's HTTP parser refuses never reach Koa: answer them in the OCI error format here. The log line
 * names the parser's code only — the error's `rawPacket` is the raw request, Authorization header included.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, log: Logger, maxHeaderBytes: number): void {
  const code = err.code ?? 'unknown';
  if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = code === 'HPE_HEADER_OVERFLOW';
  const timeout = code === 'ERR_HTTP_REQUEST_TIMEOUT';
  log.warn({ code }, 'request refused by the HTTP parser');
  const status = tooLarge ? '431 Request Header Fields Too Large' : timeout ? '408 Request Timeout' : '400 Bad Request';
  const body = JSON.stringify({
    errors: [
      tooLarge
        ? { code: 'UNSUPPORTED', message: 'request headers too large', detail: { max_header_bytes: maxHeaderBytes } }
        : { code: 'UNSUPPORTED', message: timeout ? 'request timed out' : 'malformed HTTP request', detail: { reason: code } },
    ],
  });
  // Once a response has begun on this socket, nothing more can be written to it.
  if ((err as { headerSent?: boolean }).headerSent === true || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
