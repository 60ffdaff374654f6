import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { blobRoutes } from './blobs.js';
import { catalogRoutes } from './catalog.js';
import type { RegistryDeps } from './deps.js';
import { manifestRoutes } from './manifests.js';
import { referrerRoutes } from './referrers.js';
import { tagRoutes } from './tags.js';
import { uploadRoutes } from './uploads.js';

/** The OCI distribution API under /v2/. Order matters where paths overlap: uploads before blobs. */
export function ociRouter(deps: RegistryDeps): Router {
  const router = new Router();
  router.use(apiVersionHeader);
  for (const path of ['/v2/', '/v2']) {
    router.get(path, (ctx) => base(ctx, deps));
    router.head(path, (ctx) => base(ctx, deps));
  }
  catalogRoutes(router, deps);
  uploadRoutes(router, deps);
  blobRoutes(router, deps);
  manifestRoutes(router, deps);
  tagRoutes(router, deps);
  referrerRoutes(router, deps);
  return router;
}

async function apiVersionHeader(ctx: Context, next: Next): Promise<void> {
  ctx.set('Docker-Distribution-API-Version', 'registry/2.0');
  await next();
}

// spec: end-1, "Determining support".
async function base(ctx: Context, deps: RegistryDeps): Promise<void> {
  await deps.authorizer.authorize(ctx, []);
  ctx.status = 200;
  ctx.type = 'application/json';
  ctx.body = ctx.method === 'HEAD' ? null : {};
  if (ctx.method === 'HEAD') ctx.length = 2;
}
