import type Router from '@koa/router';
import type { Context } from 'koa';
import type { RegistryDeps } from './deps.js';
import { pageSize, queryParam, setNextLink } from './http.js';

// distribution's catalog API (not in the OCI spec, used by tools): repositories the caller may see,
// lexically, paginated with `n` and `last`.

export function catalogRoutes(router: Router, deps: RegistryDeps): void {
  router.get('/v2/_catalog', (ctx) => listCatalog(ctx, deps));
}

async function listCatalog(ctx: Context, deps: RegistryDeps): Promise<void> {
  await deps.authorizer.authorize(ctx, []);
  const n = pageSize(ctx, 10_000) ?? 1000;
  let last = queryParam(ctx, 'last');
  const visible: string[] = [];
  // Filtering by permission happens after the store's paging, so keep reading until the page is full.
  for (;;) {
    const batch = await deps.registry.repositories.list({ last, n: Math.max(n + 1, 100) });
    for (const name of batch) if (await deps.authorizer.canPull(ctx, name)) visible.push(name);
    if (visible.length > n || batch.length === 0) break;
    last = batch[batch.length - 1];
    if (batch.length < Math.max(n + 1, 100)) break;
  }
  const more = visible.length > n;
  visible.length = Math.min(visible.length, n);
  if (more && n > 0) setNextLink(ctx, '/v2/_catalog', { n: String(n), last: visible[n - 1]! });
  ctx.body = { repositories: visible };
}
