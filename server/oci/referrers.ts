import type Router from '@koa/router';
import type { Context } from 'koa';
import { parseDigest } from '../../core/digest.js';
import { MediaType } from '../../core/media-types.js';
import type { RegistryDeps } from './deps.js';
import { pageSize, queryParam, repositoryOf, setNextLink } from './http.js';

// spec: "Listing Referrers" (end-12a, end-12b): an image index of the manifests whose subject is <digest>,
// filtered by artifactType when asked, an empty index for an unknown subject, paginated with Link.

export function referrerRoutes(router: Router, deps: RegistryDeps): void {
  router.get('/v2/*name/referrers/:digest', (ctx) => listReferrers(ctx, deps));
}

async function listReferrers(ctx: Context, deps: RegistryDeps): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull'] }]);
  const subject = parseDigest(ctx.params.digest!);
  const artifactType = queryParam(ctx, 'artifactType');
  const n = pageSize(ctx) ?? 1000;
  const last = queryParam(ctx, 'last');

  let records = await deps.registry.repositories.referrers(repository, subject);
  if (artifactType !== undefined) {
    records = records.filter((r) => r.artifactType === artifactType);
    ctx.set('OCI-Filters-Applied', 'artifactType');
  }
  if (last !== undefined) records = records.filter((r) => r.digest > last);
  if (records.length > n) {
    records = records.slice(0, n);
    const params: Record<string, string> = { n: String(n), last: records[n - 1]!.digest };
    if (artifactType !== undefined) params.artifactType = artifactType;
    if (n > 0) setNextLink(ctx, `/v2/${repository}/referrers/${subject}`, params);
  }
  ctx.type = MediaType.ociIndex;
  ctx.body = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: records.map((r) => ({
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.size,
      ...(r.artifactType !== undefined && { artifactType: r.artifactType }),
      ...(r.annotations !== undefined && { annotations: r.annotations }),
    })),
  };
}
