import type Router from '@koa/router';
import type { Context } from 'koa';
import { digestAlgorithm, digestOf } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import { parseManifest } from '../../core/manifest.js';
import { MediaType } from '../../core/media-types.js';
import { isTag, parseReference, parseTag } from '../../core/names.js';
import type { ManifestRecord } from '../../storage-adapters/meta/meta-store.js';
import type { WriteVersion } from '../../registry/tag-versions.js';
import { manifestRecordOf } from '../../registry/manifests.js';
import type { RegistryDeps } from './deps.js';
import { queryParams, readSmallBody, repositoryOf, emptyResponse } from './http.js';

// spec: "Pulling manifests" (end-3), "Pushing manifests" (end-7), "Deleting tags" / "Deleting manifests" (end-9).

export function manifestRoutes(router: Router, deps: RegistryDeps): void {
  // HEAD first: @koa/router lets a GET route answer HEAD too, and the first matching route wins.
  router.head('/v2/*name/manifests/:reference', (ctx) => serveManifest(ctx, deps, true));
  router.get('/v2/*name/manifests/:reference', (ctx) => serveManifest(ctx, deps, false));
  router.put('/v2/*name/manifests/:reference', (ctx) => putManifest(ctx, deps));
  router.delete('/v2/*name/manifests/:reference', (ctx) => deleteManifest(ctx, deps));
}

/** A GET or HEAD of a reference that breaks the tag grammar names nothing that can exist: 404, as the spec says
 *  of a manifest that is not found (400 stays for PUT). A malformed digest is still DIGEST_INVALID. */
function readableReference(reference: string): ReturnType<typeof parseReference> {
  if (!reference.includes(':') && !isTag(reference)) throw manifestUnknown(reference.slice(0, 200));
  return parseReference(reference);
}

function manifestUnknown(reference: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { reference } });
}

async function serveManifest(ctx: Context, deps: RegistryDeps, headOnly: boolean): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull'] }]);
  const ref = readableReference(ctx.params.reference!);
  let record = await deps.registry.manifests.resolve(repository, ref);
  // A HEAD by digest usually precedes skipping a push of it (an index's child): GC spares it while the push goes on.
  if (record && headOnly && ref.kind === 'digest' && !(await deps.registry.manifests.confirm(repository, record))) record = undefined;
  // A proxy-cache project answers from its upstream what it lacks or what may have moved there.
  const proxied = await deps.registry.proxy.manifest(repository, ref, record);
  if (proxied && proxied !== 'local') record = proxied.record;
  if (!record) throw manifestUnknown(ref.kind === 'tag' ? ref.tag : ctx.params.reference!);
  record = await negotiate(ctx, deps, repository, record, ref.kind === 'tag');

  const bytes = proxied && proxied !== 'local' && proxied.record.digest === record.digest ? proxied.bytes : await deps.registry.manifests.bytes(record);
  // Harbor counts a pull per manifest GET (a HEAD checks, it does not pull).
  if (!headOnly) {
    deps.registry.pulls.record(repository, record.digest, ref.kind === 'tag' ? ref.tag : undefined);
    if (deps.registry.events.wanted) {
      const operator = String(ctx.state.principalName ?? '');
      deps.registry.events.emit({ type: 'PULL_ARTIFACT', repository, digest: record.digest, ...(ref.kind === 'tag' && { tag: ref.tag }), operator });
    }
  }
  ctx.status = 200;
  ctx.type = record.mediaType;
  ctx.set('Docker-Content-Digest', record.digest);
  ctx.set('ETag', `"${record.digest}"`);
  if (headOnly) ctx.length = bytes.length;
  else ctx.body = bytes;
}

/**
 * Content negotiation as distribution 2.8 does it. No Accept, a wildcard, or the stored type listed: served as
 * pushed. A Docker manifest list asked for by tag by a client that does not list it yields its linux/amd64
 * image (the legacy rewrite for old Docker clients); other Docker types are served as pushed. An OCI manifest or
 * index the client did not list is MANIFEST_UNKNOWN (distribution never converts OCI content).
 */
async function negotiate(ctx: Context, deps: RegistryDeps, repository: string, record: ManifestRecord, byTag: boolean): Promise<ManifestRecord> {
  const types = ctx
    .get('Accept')
    .split(',')
    .map((t) => t.split(';')[0]!.trim().toLowerCase())
    .filter(Boolean);
  const accepts = (mediaType: string) => types.length === 0 || types.some((t) => t === mediaType || t === '*/*' || t === 'application/*');
  if (accepts(record.mediaType)) return record;
  if (record.mediaType === MediaType.dockerManifestList) {
    if (!byTag) return record;
    const parsed = parseManifest(await deps.registry.manifests.bytes(record), record.mediaType);
    const child = parsed.manifests.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64');
    return (child && (await deps.registry.manifests.get(repository, child.digest))) || record;
  }
  if (!record.mediaType.startsWith('application/vnd.oci.')) return record;
  throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${record.mediaType}, which the Accept header does not list`, {
    detail: { mediaType: record.mediaType, accept: types },
  });
}

async function putManifest(ctx: Context, deps: RegistryDeps): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull', 'push'] }]);
  await deps.registry.proxy.refusePush(repository);
  const ref = parseReference(ctx.params.reference!);
  const bytes = await readSmallBody(ctx, deps.config.max_manifest_bytes);
  deps.metrics.bytesIn.inc(bytes.length);
  const parsed = parseManifest(bytes, ctx.get('Content-Type') || undefined);

  const digest = digestOf(bytes, ref.kind === 'digest' ? digestAlgorithm(ref.digest) : 'sha256');
  if (ref.kind === 'digest' && ref.digest !== digest) {
    throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match the reference', { detail: { reference: ref.digest, digest } });
  }
  // spec: PUT by digest may name tags with ?tag= (OCI-Tag in the answer).
  const tags = [...new Set([...(ref.kind === 'tag' ? [ref.tag] : []), ...queryParams(ctx, 'tag').map(parseTag)])];

  await deps.registry.manifests.verifyReferences(repository, parsed);
  const record = manifestRecordOf(parsed, digest, bytes.length);
  const write = writeVersion(ctx, deps);
  const results = await deps.registry.manifests.put(repository, record, bytes, tags, write);
  // Between Berth peers: whether last-writer-wins applied the tag or kept a newer one (replication records it).
  if (write.origin && results.length > 0) ctx.set('Berth-Tag-Write', results.join(', '));

  emptyResponse(ctx, 201);
  ctx.set('Location', `/v2/${repository}/manifests/${digest}`);
  ctx.set('Docker-Content-Digest', digest);
  if (parsed.subject) ctx.set('OCI-Subject', parsed.subject.digest);
  if (ref.kind === 'digest' && tags.length > 0) ctx.set('OCI-Tag', tags.join(', '));
}

/**
 * The version of this write. Between Berth peers a replicated write brings its own (`Berth-Tag-Version`), the IDC
 * it came from (`Berth-Replicated-From`) and the version its sender's value replaced (`Berth-Tag-Base`, for
 * conflict records); anything else is a local write, versioned now.
 */
function writeVersion(ctx: Context, deps: RegistryDeps): WriteVersion {
  const version = ctx.get('Berth-Tag-Version');
  return deps.registry.versions.of(version ? { version, from: ctx.get('Berth-Replicated-From'), base: ctx.get('Berth-Tag-Base') } : undefined);
}

async function deleteManifest(ctx: Context, deps: RegistryDeps): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['delete'] }]);
  const ref = parseReference(ctx.params.reference!);
  const write = writeVersion(ctx, deps);
  if (ref.kind === 'tag') {
    // Deleting a tag removes that tag only; the manifest stays reachable by digest.
    const result = await deps.registry.tags.delete(repository, ref.tag, write);
    if (result === undefined) throw manifestUnknown(ref.tag);
    if (write.origin) ctx.set('Berth-Tag-Write', result);
  } else {
    const removed = await deps.registry.manifests.delete(repository, ref.digest, write);
    if (removed === undefined) throw manifestUnknown(ref.digest);
  }
  emptyResponse(ctx, 202);
}
