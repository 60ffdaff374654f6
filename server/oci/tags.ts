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
  // A repository whose last manifest or tag was deleted is still known (its tag tombstones, its blob links):
  // an empty list, as distribution answers; only a name never pushed to is NAME_UNKNOWN.
  if (!(await deps.meta.repositoryExists(repository)) && !(await knownRepository(deps, repository))) {
    throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: repository } });
  }
  // One extra tells whether a next page exists.
  const tags = await deps.meta.listTags(repository, { last, n: n === undefined ? undefined : n + 1 });
  if (n !== undefined && tags.length > n) {
    tags.length = n;
    if (n > 0) setNextLink(ctx, `/v2/${repository}/tags/list`, { n: String(n), last: tags[n - 1]! });
  }
  ctx.body = { name: repository, tags };
}

async function knownRepository(deps: RegistryDeps, repository: string): Promise<boolean> {
  return (await deps.meta.listTagRecords(repository)).length > 0 || (await deps.meta.listBlobLinks(repository)).length > 0;
}
