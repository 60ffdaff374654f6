import type Router from '@koa/router';
import type { Context } from 'koa';
import { digestAlgorithm, digestOf, type Digest } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import { isForeignLayer, parseManifest, type ParsedManifest } from '../../core/manifest.js';
import { MediaType } from '../../core/media-types.js';
import { isTag, parseReference, parseTag } from '../../core/names.js';
import { compareVersions, formatVersion, parseVersion, type TagVersion } from '../../core/hlc.js';
import type { ManifestRecord, TagRecord, TagWriteResult } from '../../storage-adapters/meta/meta-store.js';
import { tagConflicts } from '../../storage-adapters/meta/tag-conflicts.js';
import { writeVersion, type RegistryDeps } from './deps.js';
import { queryParams, readSmallBody, repositoryOf, emptyResponse } from './http.js';

// spec: "Pulling manifests" (end-3), "Pushing manifests" (end-7), "Deleting tags" / "Deleting manifests" (end-9).

export function manifestRoutes(router: Router, deps: RegistryDeps): void {
  router.get('/v2/*name/manifests/:reference', (ctx) => serveManifest(ctx, deps, false));
  router.head('/v2/*name/manifests/:reference', (ctx) => serveManifest(ctx, deps, true));
  router.put('/v2/*name/manifests/:reference', (ctx) => putManifest(ctx, deps));
  router.delete('/v2/*name/manifests/:reference', (ctx) => deleteManifest(ctx, deps));
}

function manifestUnknown(reference: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { reference } });
}

async function serveManifest(ctx: Context, deps: RegistryDeps, headOnly: boolean): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull'] }]);
  // spec: a GET/HEAD of a reference no manifest can have is "not found" (404), not a bad request; 400 stays for PUT.
  if (!ctx.params.reference!.includes(':') && !isTag(ctx.params.reference!)) throw manifestUnknown(ctx.params.reference!.slice(0, 200));
  const ref = parseReference(ctx.params.reference!);
  let digest: Digest;
  if (ref.kind === 'tag') {
    const tag = await deps.meta.getTag(repository, ref.tag);
    if (!tag?.digest) throw manifestUnknown(ref.tag);
    digest = tag.digest;
  } else {
    digest = ref.digest;
  }
  let record = await deps.meta.getManifest(repository, digest);
  if (!record) throw manifestUnknown(ctx.params.reference!);
  record = await negotiate(ctx, deps, repository, record, ref.kind === 'tag');

  const bytes = await deps.manifests.get(record.digest);
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
    const parsed = parseManifest(await deps.manifests.get(record.digest), record.mediaType);
    const child = parsed.manifests.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64');
    return (child && (await deps.meta.getManifest(repository, child.digest))) || record;
  }
  if (!record.mediaType.startsWith('application/vnd.oci.')) return record;
  throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${record.mediaType}, which the Accept header does not list`, {
    detail: { mediaType: record.mediaType, accept: types },
  });
}

async function putManifest(ctx: Context, deps: RegistryDeps): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull', 'push'] }]);
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

  await checkReferences(deps, repository, parsed);
  // Bytes first, index second: a crash in between leaves an unreferenced blob for GC, never a dangling tag.
  await deps.blobs.put(digest, bytes);
  const record: ManifestRecord = {
    digest,
    mediaType: parsed.mediaType,
    size: bytes.length,
    blobs: [...(parsed.config ? [parsed.config.digest] : []), ...parsed.layers.filter((l) => !isForeignLayer(l)).map((l) => l.digest)],
    children: parsed.manifests.map((m) => m.digest),
    createdAt: Date.now(),
    ...(parsed.artifactType !== undefined && { artifactType: parsed.artifactType }),
    ...(parsed.subject !== undefined && { subject: parsed.subject.digest }),
    ...(parsed.annotations !== undefined && { annotations: parsed.annotations }),
  };
  const { version, origin } = replicatedWrite(ctx, deps);
  if (tags.length === 0) await deps.meta.putManifest(repository, record);
  const results: string[] = [];
  for (const name of tags) {
    const before = origin ? await deps.meta.getTag(repository, name) : undefined;
    const result = (await deps.meta.putManifest(repository, record, { name, version, ...(origin && { origin }) })) ?? 'applied';
    if (origin) await recordConflict(ctx, deps, repository, name, before, { digest, version }, origin, result);
    results.push(result);
  }
  deps.manifests.set(digest, bytes);
  // Between Berth peers: whether last-writer-wins applied the tag or kept a newer one (replication records it).
  if (origin && results.length > 0) ctx.set('Berth-Tag-Write', results.join(', '));

  emptyResponse(ctx, 201);
  ctx.set('Location', `/v2/${repository}/manifests/${digest}`);
  ctx.set('Docker-Content-Digest', digest);
  if (parsed.subject) ctx.set('OCI-Subject', parsed.subject.digest);
  if (ref.kind === 'digest' && tags.length > 0) ctx.set('OCI-Tag', tags.join(', '));
}

/** Every blob (config, layers) must be in the repository, every child manifest too (spec: MANIFEST_BLOB_UNKNOWN). */
async function checkReferences(deps: RegistryDeps, repository: string, m: ParsedManifest): Promise<void> {
  const blobs = [...(m.config ? [m.config] : []), ...m.layers.filter((l) => !isForeignLayer(l))];
  const missing: string[] = [];
  await Promise.all([
    ...blobs.map(async (d) => {
      if (!(await deps.meta.getBlobLink(repository, d.digest))) missing.push(d.digest);
    }),
    ...m.manifests.map(async (d) => {
      if (!(await deps.meta.getManifest(repository, d.digest))) missing.push(d.digest);
    }),
  ]);
  if (missing.length > 0) {
    throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { detail: { digests: [...new Set(missing)].sort() } });
  }
}

/**
 * Replication conflicts: a replicated write met a live value of the tag that its sender had not seen — the
 * sender names, in `Berth-Tag-Base`, the version its own value replaced ("none" for nothing); a live value newer
 * than that base was written concurrently. Last-writer-wins already chose; this records what it overrode (or
 * kept), queryable at /api/v2.0/berth/replication/conflicts. Without the header nothing is recorded.
 */
async function recordConflict(
  ctx: Context,
  deps: RegistryDeps,
  repository: string,
  tag: string,
  before: TagRecord | undefined,
  incoming: { digest: Digest | null; version: TagVersion },
  from: string,
  result: TagWriteResult,
): Promise<void> {
  const baseHeader = ctx.get('Berth-Tag-Base');
  if (!baseHeader || !before || before.digest === incoming.digest || result === 'unchanged') return;
  const base = baseHeader === 'none' ? undefined : parseVersion(baseHeader);
  if (baseHeader !== 'none' && !base) return;
  if (base && compareVersions(before.version, base) <= 0) return;
  await tagConflicts(deps.meta)
    .insert({
      repository,
      tag,
      local: { digest: before.digest, version: formatVersion(before.version) },
      incoming: { digest: incoming.digest, version: formatVersion(incoming.version) },
      from,
      winner: result === 'applied' ? 'incoming' : 'local',
      at: new Date().toISOString(),
    })
    .catch((err: unknown) => deps.log.warn({ err }, 'recording a replication conflict'));
}

function replicatedWrite(ctx: Context, deps: RegistryDeps) {
  return writeVersion(deps, ctx.get('Berth-Tag-Version'), ctx.get('Berth-Replicated-From'));
}

async function deleteManifest(ctx: Context, deps: RegistryDeps): Promise<void> {
  const repository = repositoryOf(ctx);
  await deps.authorizer.authorize(ctx, [{ repository, actions: ['delete'] }]);
  const ref = parseReference(ctx.params.reference!);
  const { version, origin } = replicatedWrite(ctx, deps);
  if (ref.kind === 'tag') {
    // Deleting a tag removes that tag only; the manifest stays reachable by digest.
    const live = await deps.meta.getTag(repository, ref.tag);
    if (!live) throw manifestUnknown(ref.tag);
    const result = await deps.meta.deleteTag(repository, ref.tag, version, origin);
    if (origin) {
      await recordConflict(ctx, deps, repository, ref.tag, live, { digest: null, version }, origin, result);
      ctx.set('Berth-Tag-Write', result);
    }
  } else {
    const removed = await deps.meta.deleteManifest(repository, ref.digest, version, origin);
    if (removed === undefined) throw manifestUnknown(ref.digest);
  }
  emptyResponse(ctx, 202);
}
