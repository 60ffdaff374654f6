import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../core/errors.js';
import type { RegistryDeps } from './deps.js';
import { pageSize, queryParam, repositoryOf, setNextLink } from './http.js';

// spec: "Listing tags" (end-8a, end-8b): lexical order, `n`, `last`, and a Link to the next page.

export function tagRoutes(router: Router, deps: RegistryDeps): void {
  router.get('/v2/*name/tags/list', (ctx) => listTags(ctx, deps));
}

async function listTags(ctx: Context, deps: RegistryDeps): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull'] }]);
  const n = pageSize(ctx);
  const last = queryParam(ctx, 'last');
  // One extra tells whether a next page exists.
  const tags = await deps.registry.tags.list(repository, { last, n: n === undefined ? undefined : n + 1 });
  if (!tags) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: repository } });
  if (n !== undefined && tags.length > n) {
    tags.length = n;
    if (n > 0) setNextLink(ctx, `/v2/${repository}/tags/list`, { n: String(n), last: tags[n - 1]! });
  }
  ctx.body = { name: repository, tags };
}
