import type Router from '@koa/router';
import type { Context } from 'koa';
import { parseDigest, type Digest } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import { parseRepositoryName } from '../../core/names.js';
import { parseContentRange } from '../../core/range.js';
import { InvalidOffsetError, type BlobInfo } from '../../storage-adapters/blob/blob-store.js';
import type { RegistryDeps } from './deps.js';
import { contentLength, hasBody, queryParam, repositoryOf, uploadLocation, uploadRange, emptyResponse } from './http.js';

// spec: "Pushing blobs" — POST (end-4a/4b), PATCH (end-5), PUT (end-6), GET status (end-13), DELETE,
// and "Mounting a blob from another repository" (end-11).


export function uploadRoutes(router: Router, deps: RegistryDeps): void {
  router.post('/v2/*name/blobs/uploads', (ctx) => startUpload(ctx, deps));
  router.get('/v2/*name/blobs/uploads/:id', (ctx) => uploadStatus(ctx, deps));
  router.patch('/v2/*name/blobs/uploads/:id', (ctx) => appendChunk(ctx, deps));
  router.put('/v2/*name/blobs/uploads/:id', (ctx) => finishUpload(ctx, deps));
  router.delete('/v2/*name/blobs/uploads/:id', (ctx) => cancelUpload(ctx, deps));
}

async function startUpload(ctx: Context, deps: RegistryDeps): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull', 'push'] }]);
  await deps.registry.proxy.refusePush(repository);

  const mount = queryParam(ctx, 'mount');
  if (mount !== undefined) {
    const digest = parseDigest(mount);
    const from = queryParam(ctx, 'from');
    const blob = await mountBlob(ctx, deps, repository, digest, from === undefined ? undefined : parseRepositoryName(from));
    if (blob) return blobCreated(ctx, repository, blob.digest);
    // spec: a mount that cannot be done falls back to an ordinary upload session (202).
  }

  const digestParam = queryParam(ctx, 'digest');
  if (digestParam !== undefined && mount === undefined) {
    // Monolithic upload: POST ?digest= with the whole blob as body (end-4b).
    const digest = parseDigest(digestParam);
    await deps.registry.uploads.putWhole(repository, digest, (id) => append(ctx, deps, id, 0, contentLength(ctx)));
    return blobCreated(ctx, repository, digest);
  }

  const id = await deps.registry.uploads.start(repository);
  emptyResponse(ctx, 202);
  ctx.set('Location', uploadLocation(repository, id));
  ctx.set('Range', '0-0');
  ctx.set('Docker-Upload-UUID', id);
}

/** Links `digest` into `repository` from `from`, or (no `from`) from any repository the caller may pull. */
async function mountBlob(ctx: Context, deps: RegistryDeps, repository: string, digest: Digest, from: string | undefined): Promise<BlobInfo | undefined> {
  const sources = from !== undefined ? [from] : await deps.registry.blobs.holders(digest, 100);
  return deps.registry.blobs.mount(repository, digest, sources, (source) => deps.authorizer.canPull(ctx, source));
}

async function uploadStatus(ctx: Context, deps: RegistryDeps): Promise<void> {
  const { repository, id } = await session(ctx, deps, ['push']);
  const size = await deps.registry.uploads.size(id);
  ctx.status = 204;
  ctx.set('Location', uploadLocation(repository, id));
  ctx.set('Range', uploadRange(size));
  ctx.set('Docker-Upload-UUID', id);
}

async function appendChunk(ctx: Context, deps: RegistryDeps): Promise<void> {
  const { repository, id } = await session(ctx, deps, ['push']);
  await deps.uploadLocks.run(id, async () => {
    const offset = await deps.registry.uploads.size(id);
    const expected = chunkLength(ctx, repository, id, offset);
    const size = await append(ctx, deps, id, offset, expected);
    emptyResponse(ctx, 202);
    ctx.set('Location', uploadLocation(repository, id));
    ctx.set('Range', uploadRange(size));
    ctx.set('Docker-Upload-UUID', id);
  });
}

async function finishUpload(ctx: Context, deps: RegistryDeps): Promise<void> {
  const { repository, id } = await session(ctx, deps, ['push']);
  const digestParam = queryParam(ctx, 'digest');
  if (digestParam === undefined) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required');
  const digest = parseDigest(digestParam);
  await deps.uploadLocks.run(id, async () => {
    let size = await deps.registry.uploads.size(id);
    if (hasBody(ctx)) size = await append(ctx, deps, id, size, chunkLength(ctx, repository, id, size));
    // As distribution does: a PUT whose bytes do not hash to its digest cancels the upload.
    await deps.registry.uploads.finish(repository, id, digest, size);
  });
  blobCreated(ctx, repository, digest);
}

async function cancelUpload(ctx: Context, deps: RegistryDeps): Promise<void> {
  const { id } = await session(ctx, deps, ['push']);
  await deps.uploadLocks.run(id, () => deps.registry.uploads.cancel(id));
  ctx.status = 204;
}

/** The session named in the path, checked to belong to the repository in the path. */
async function session(ctx: Context, deps: RegistryDeps, actions: ('push' | 'pull')[]): Promise<{ repository: string; id: string }> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions }]);
  const id = ctx.params.id!;
  if (!(await deps.registry.uploads.session(repository, id))) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id.slice(0, 64) } });
  return { repository, id };
}

/**
 * The chunk's length from Content-Range / Content-Length. A chunk that does not start where the upload ends is
 * refused with 416 and the session's real range, so the client can resume (spec: end-5, 416).
 */
function chunkLength(ctx: Context, repository: string, id: string, offset: number): number | undefined {
  const length = contentLength(ctx);
  const header = ctx.get('Content-Range');
  if (!header) return length;
  const range = parseContentRange(header);
  if (range.start !== offset) throw outOfOrder(repository, id, offset, range.start);
  const declared = range.end - range.start + 1;
  if (length !== undefined && length !== declared) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'Content-Length does not match Content-Range', { detail: { contentLength: length, contentRange: header } });
  }
  return declared;
}

function outOfOrder(repository: string, id: string, size: number, start: number): RegistryError {
  return new RegistryError('BLOB_UPLOAD_INVALID', 'chunk does not start at the end of the upload', {
    status: 416,
    detail: { expectedStart: size, start },
    headers: { Location: uploadLocation(repository, id), Range: uploadRange(size), 'Docker-Upload-UUID': id },
  });
}

async function append(ctx: Context, deps: RegistryDeps, id: string, offset: number, expectedLength: number | undefined): Promise<number> {
  const maxTotal = deps.config.max_blob_bytes || undefined;
  if (maxTotal !== undefined && expectedLength !== undefined && offset + expectedLength > maxTotal) {
    throw new RegistryError('SIZE_INVALID', `blob larger than ${maxTotal} bytes`, { status: 413 });
  }
  try {
    const size = await deps.registry.uploads.append(id, offset, ctx.req, { expectedLength, maxTotal });
    deps.metrics.bytesIn.inc(size - offset);
    return size;
  } catch (e) {
    if (e instanceof InvalidOffsetError) {
      const repository = repositoryOf(ctx);
      throw outOfOrder(repository, id, e.size, offset);
    }
    throw e;
  }
}

function blobCreated(ctx: Context, repository: string, digest: Digest): void {
  emptyResponse(ctx, 201);
  ctx.set('Location', `/v2/${repository}/blobs/${digest}`);
  ctx.set('Docker-Content-Digest', digest);
}
