import Koa, { type Context, type Middleware, type Next } from 'koa';
import Router from '@koa/router';
import { RegistryError } from '../core/errors.js';
import { ociErrors } from './middleware/errors.js';
import { forwardedHeaders, trustedProxies } from './middleware/forwarded.js';
import { requestLog } from './middleware/request-log.js';
import type { RegistryDeps } from './oci/deps.js';
import { ociRouter } from './oci/router.js';
import { checkReadiness } from './readiness.js';

/**
 * The registry's HTTP surface. Everything it needs comes in `deps`, so two apps can live in one process.
 * `middleware` runs inside the OCI error mapping and around every router (Harbor's error shaping for /api and
 * /service, access control's audit hook).
 */
export function createApp(deps: RegistryDeps, extraRouters: Router[] = [], middleware: Middleware[] = []): Koa {
  const app = new Koa();
  app.silent = true;
  // X-Forwarded-* reach Koa only from trusted proxies (forwardedHeaders drops them otherwise); the last
  // X-Forwarded-For entry is the one our proxy added.
  app.proxy = true;
  app.maxIpsCount = 1;
  app.on('error', (err: Error & { code?: string }) => {
    // Clients that hang up mid-transfer are routine for a registry.
    if (err.code === 'EPIPE' || err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    deps.log.warn({ err }, 'response error');
  });

  app.use(forwardedHeaders(trustedProxies(deps.config.trusted_proxies)));
  app.use(requestLog(deps.log, deps.metrics));
  app.use(ociErrors);
  app.use(async (ctx: Context, next: Next) => {
    if (ctx.path === '/v2' || ctx.path.startsWith('/v2/')) ctx.set('Docker-Distribution-API-Version', 'registry/2.0');
    await next();
  });
  for (const m of middleware) app.use(m);
  // Outermost of the routers: by the time a request comes back here unmatched, every router's method check has
  // run (405 with Allow where the path exists); what is left is a path nobody serves.
  app.use(async (ctx: Context, next: Next) => {
    await next();
    if (ctx.body != null) return;
    if (ctx.status === 404) throw new RegistryError('UNSUPPORTED', 'no such endpoint', { status: 404, detail: { path: ctx.path.slice(0, 300) } });
    // The routers set 405/501 with an Allow header; give them the OCI error body.
    if (ctx.status === 405) throw new RegistryError('UNSUPPORTED', 'method not allowed on this endpoint', { headers: { Allow: ctx.response.get('Allow') } });
    if (ctx.status === 501) throw new RegistryError('UNSUPPORTED', 'method not implemented', { status: 501 });
  });
  const ops = operationsRouter(deps);
  const oci = ociRouter(deps);
  for (const r of [ops, oci, ...extraRouters]) {
    app.use(r.routes());
    app.use(r.allowedMethods());
  }
  return app;
}

/** /healthz (liveness: both stores answer), /readyz (readiness: both stores take a write) and /metrics. */
function operationsRouter(deps: RegistryDeps): Router {
  const router = new Router();
  router.get('/healthz', async (ctx) => {
    try {
      await Promise.all([deps.meta.ping(), deps.blobs.ping()]);
      ctx.body = { status: 'ok' };
    } catch (e) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: (e as Error).message };
    }
  });
  router.get('/readyz', async (ctx) => {
    const r = await checkReadiness(deps);
    ctx.status = r.ready ? 200 : 503;
    ctx.body = { status: r.ready ? 'ready' : 'unavailable', ...r.checks };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  return router;
}
