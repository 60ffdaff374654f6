import { BERTH_VERSION, HARBOR_API_VERSION } from '../../core/version.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { callerOf, type AdminDeps } from './context.js';

// Harbor's /ping, /health and /systeminfo.

export function systemRoutes(router: Router, a: AdminDeps): void {
  router.get('/ping', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = 'Pong';
  });
  router.get('/health', (ctx) => health(ctx, a));
  router.get('/systeminfo', (ctx) => systemInfo(ctx, a));
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
      project_creation_restriction: config.allow_user_projects ? 'everyone' : 'adminonly',
      has_ca_root: false,
      read_only: false,
      notification_enable: false,
      registry_storage_provider_name: config.storage === 's3' ? 's3' : 'filesystem',
    });
  }
  ctx.body = info;
}
