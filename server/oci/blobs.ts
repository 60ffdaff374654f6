import type Router from '@koa/router';
import type { Context } from 'koa';
import { parseDigest } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import { parseRangeHeader } from '../../core/range.js';
import type { RegistryDeps } from './deps.js';
import { repositoryOf, emptyResponse } from './http.js';
import type { BlobInfo } from '../../storage-adapters/blob/blob-store.js';
import { isRecycling, sendRecycled } from './send-recycled.js';

// spec: "Pulling blobs" (end-2), "Checking if content exists" (end-2 HEAD), "Deleting blobs" (end-10).

export function blobRoutes(router: Router, deps: RegistryDeps): void {
  // HEAD first: @koa/router lets a GET route answer HEAD too, and the first matching route wins.
  router.head('/v2/*name/blobs/:digest', (ctx) => serveBlob(ctx, deps, true));
  router.get('/v2/*name/blobs/:digest', (ctx) => serveBlob(ctx, deps, false));
  router.delete('/v2/*name/blobs/:digest', (ctx) => deleteBlob(ctx, deps));
}

async function serveBlob(ctx: Context, deps: RegistryDeps, headOnly: boolean): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull'] }]);
  const digest = parseDigest(ctx.params.digest!);
  // A HEAD usually precedes skipping an upload: it confirms the link, so GC spares it while the push goes on.
  let info = headOnly ? await deps.registry.blobs.confirm(repository, digest) : await deps.registry.blobs.stat(repository, digest);
  // A proxy-cache project fetches what it lacks from its upstream (a HEAD only asks the upstream's size).
  if (!info) info = headOnly ? sized(digest, await deps.registry.proxy.blobSize(repository, digest)) : await deps.registry.proxy.blob(repository, digest);
  if (!info) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });

  ctx.set('Docker-Content-Digest', digest);
  ctx.set('Accept-Ranges', 'bytes');
  ctx.set('ETag', `"${digest}"`);
  ctx.set('Cache-Control', 'max-age=31536000');
  ctx.type = 'application/octet-stream';

  if (!headOnly) {
    const url = await deps.registry.blobs.redirectUrl(digest);
    if (url) {
      emptyResponse(ctx, 307);
      ctx.set('Location', url);
      return;
    }
  }
  await sendBlobBody(ctx, deps, info, headOnly);
}

/**
 * The body of a blob response, shared by the OCI blob route and the P2P web seed: an optional single range
 * (206 + Content-Range, unsatisfiable 416), bytes counted in berth_blob_bytes_served_total (and `onBytes`) as
 * they leave, paced by the origin's egress limit. With `blob_offload: nginx` the front nginx sends the file
 * (and applies the Range itself); the bytes it is told to send are counted here.
 */
export async function sendBlobBody(ctx: Context, deps: RegistryDeps, info: BlobInfo, headOnly: boolean, onBytes?: (n: number) => void): Promise<void> {
  const range = parseRangeHeader(ctx.get('Range') || undefined, info.size);
  const length = range ? range.end - range.start + 1 : info.size;
  const offloadTo = headOnly ? undefined : offloadPath(deps, info);
  if (offloadTo) {
    // No egress pacing here: nginx sends these bytes (limit_rate is its own knob).
    ctx.set('X-Accel-Redirect', offloadTo);
    ctx.remove('Accept-Ranges'); // nginx adds its own for the file
    ctx.body = '';
    ctx.status = 200;
    deps.metrics.blobBytesServed.inc(length);
    onBytes?.(length);
    return;
  }
  ctx.status = range ? 206 : 200;
  if (range) ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
  if (headOnly) {
    ctx.length = length;
    return;
  }
  const stream = await deps.registry.blobs.open(info.digest, range);
  const served = deps.metrics.blobBytesServed;
  ctx.length = length;
  if (isRecycling(stream) && !deps.egress?.limited) {
    await sendRecycled(ctx, stream, (n) => {
      served.inc(n);
      onBytes?.(n);
    });
    return;
  }
  stream.on('data', (c: Buffer) => {
    served.inc(c.length);
    onBytes?.(c.length);
  });
  ctx.body = deps.egress ? deps.egress.pace(stream) : stream;
  ctx.length = length;
}

function sized(digest: BlobInfo['digest'], size: number | undefined): BlobInfo | undefined {
  return size === undefined ? undefined : { digest, size, createdAt: Date.now() };
}

/** The internal nginx URI of the blob's file, when GETs are offloaded and the store keeps local files. */
function offloadPath(deps: RegistryDeps, info: BlobInfo): string | undefined {
  if (deps.config.blob_offload !== 'nginx' || !deps.blobs.blobFile) return undefined;
  return deps.config.blob_offload_prefix + deps.blobs.blobFile(info.digest);
}

async function deleteBlob(ctx: Context, deps: RegistryDeps): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['delete'] }]);
  const digest = parseDigest(ctx.params.digest!);
  if (!(await deps.registry.blobs.unlink(repository, digest))) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
  emptyResponse(ctx, 202);
}
