import { BERTH_VERSION, HARBOR_API_VERSION } from '../../core/version.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { readFile, statfs } from 'node:fs/promises';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { notFound } from '../../core/harbor-api/errors.js';
import { ok } from '../../core/harbor-api/responses.js';
import { auditChange, callerOf, requireSysadmin, requireUser, type AdminDeps } from './context.js';

// Harbor's /ping, /health, /systeminfo (+ volumes, getcert) and the system CVE allowlist.

export function systemRoutes(router: Router, a: AdminDeps): void {
  router.get('/ping', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = 'Pong';
  });
  router.get('/health', (ctx) => health(ctx, a));
  router.get('/systeminfo', (ctx) => systemInfo(ctx, a));
  router.get('/systeminfo/volumes', (ctx) => volumes(ctx, a));
  router.get('/systeminfo/getcert', (ctx) => certificate(ctx, a));
  router.get('/system/CVEAllowlist', (ctx) => getAllowlist(ctx, a));
  router.put('/system/CVEAllowlist', (ctx) => putAllowlist(ctx, a));
}

/** The volume holding the data directory (the SQLite store, staged uploads and, on fs storage, every blob). */
async function volumes(ctx: Context, a: AdminDeps): Promise<void> {
  await requireSysadmin(ctx, a);
  const s = await statfs(a.registry.config.data_dir);
  ctx.body = { storage: [{ total: s.blocks * s.bsize, free: s.bavail * s.bsize }] };
}

/** The certificate Berth serves (what a client must trust with a private CA), as Harbor's ca.crt download. */
async function certificate(ctx: Context, a: AdminDeps): Promise<void> {
  await requireUser(ctx, a);
  const file = a.registry.config.tls_cert_file;
  if (!file) throw notFound('Berth serves no TLS certificate (tls_cert_file is not set)');
  ctx.set('Content-Disposition', 'attachment; filename="ca.crt"');
  ctx.type = 'application/octet-stream';
  ctx.body = await readFile(file);
}

const allowlist = z.object({
  items: z.array(z.object({ cve_id: z.string().min(1).max(64) })).default([]),
  expires_at: z.number().int().nullable().optional(),
});

/** Harbor's system CVE allowlist: kept and returned as set (Berth has no scanner that would apply it). */
async function getAllowlist(ctx: Context, a: AdminDeps): Promise<void> {
  await requireUser(ctx, a);
  const { cve_allowlist } = await a.settings.get();
  ctx.body = { id: 1, project_id: 0, items: cve_allowlist.items, expires_at: cve_allowlist.expires_at ?? null };
  ctx.set('Berth-Not-Enforced', 'cve_allowlist');
}

async function putAllowlist(ctx: Context, a: AdminDeps): Promise<void> {
  await requireSysadmin(ctx, a);
  const body = await readBody(ctx, allowlist);
  await a.settings.update({ cve_allowlist: { items: body.items, ...(body.expires_at != null && { expires_at: body.expires_at }) } });
  await auditChange(ctx, a, { operation: 'update', resource_type: 'configuration', resource: 'CVEAllowlist', project_id: 0 });
  ok(ctx);
  ctx.set('Berth-Not-Enforced', 'cve_allowlist');
}

async function health(ctx: Context, a: AdminDeps): Promise<void> {
  const check = async (name: string, probe: () => Promise<void>) => {
    try {
      await probe();
      return { name, status: 'healthy' };
    } catch (e) {
      return { name, status: 'unhealthy', error: (e as Error).message };
    }
  };
  const components = await Promise.all([
    check('core', async () => undefined),
    check('database', () => a.registry.meta.ping()),
    check('registry', () => a.registry.blobs.ping()),
  ]);
  ctx.body = { status: components.every((c) => c.status === 'healthy') ? 'healthy' : 'unhealthy', components };
}

async function systemInfo(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await callerOf(ctx, a);
  const config = a.registry.config;
  const external = (config.public_url ?? `${ctx.protocol}://${ctx.host}`).replace(/\/+$/, '');
  const settings = await a.settings.get();
  const info: Record<string, unknown> = {
    auth_mode: config.auth === 'token' ? 'db_auth' : 'none',
    primary_auth_mode: false,
    self_registration: false,
    // Harbor-compatible (scripts parse it as semver, e.g. v2.15.0-<build>); Berth's own in berth_version.
    harbor_version: `${HARBOR_API_VERSION}-berth`,
    berth_version: BERTH_VERSION,
    current_time: new Date().toISOString(),
  };
  // Harbor leaves the deployment details out for anonymous callers.
  if (caller.kind !== 'anonymous') {
    Object.assign(info, {
      external_url: external,
      registry_url: new URL(external).host,
      project_creation_restriction: settings.project_creation_restriction,
      has_ca_root: Boolean(config.tls_cert_file),
      read_only: settings.read_only,
      notification_enable: false,
      registry_storage_provider_name: config.storage === 's3' ? 's3' : 'filesystem',
    });
  }
  ctx.body = info;
}
