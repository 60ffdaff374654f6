import type { Digest } from '../core/digest.js';
import { isForeignLayer, parseManifest, type Descriptor } from '../core/manifest.js';
import { OciClientError, type OciClient } from '../core/oci-client.js';
import { metered, type Bandwidth } from './bandwidth.js';
import type { ArtifactSource } from './source.js';

// Copying one artifact and deleting one, the way every task does it. Idempotent: whatever the destination
// already answers by digest (manifests, and so everything beneath them; blobs) is not sent again; a blob another
// repository there holds is mounted; the rest is uploaded in chunks that resume from the destination's offset.

/** The part of the OCI client a transfer writes (and verifies) through. */
export type DestinationClient = Pick<OciClient, 'headManifest' | 'putManifest' | 'deleteManifest' | 'listTags' | 'headBlob' | 'mountBlob' | 'uploadBlob'>;

export interface TransferContext {
  signal: AbortSignal;
  bandwidth?: Bandwidth;
  chunkSize: number;
  /** Counts blob bytes sent (metrics, the task's `bytes`); also proof of progress for the idle watchdog. */
  onBytes(n: number): void;
  /** Marks progress between requests (idle watchdog). */
  progress(): void;
  /** Destination repositories that may already hold `digest` (mount candidates). */
  mountCandidates(digest: Digest): Promise<string[]>;
}

export interface CopyRequest {
  source: ArtifactSource;
  srcRepository: string;
  dest: DestinationClient;
  destRepository: string;
  /** The manifest to copy (a tag's current digest, or an untagged manifest). */
  digest: Digest;
  /** When set, the tag is pointed at it with `tagHeaders` (Berth-Tag-Version … between Berth peers). */
  tag?: string;
  tagHeaders?: Record<string, string>;
}

export interface CopyResult {
  /** Berth-Tag-Write as the destination answered it (Berth peers): applied, unchanged or stale. */
  tagWrite?: string;
  /** The manifest and its blobs were already there. */
  present: boolean;
}

export async function copyArtifact(req: CopyRequest, ctx: TransferContext): Promise<CopyResult> {
  const top = await req.source.manifest(req.srcRepository, req.digest);
  if (!top) throw new SourceGoneError(`${req.srcRepository}@${req.digest} is no longer at the source`);
  ctx.progress();
  const present = (await req.dest.headManifest(req.destRepository, req.digest))?.digest === req.digest;
  if (!present) await copyContent(req, top.bytes, top.mediaType, ctx);
  ctx.progress();

  let tagWrite: string | undefined;
  const onResponse = (h: Headers) => {
    tagWrite = h.get('berth-tag-write') ?? undefined;
  };
  if (req.tag !== undefined) {
    await req.dest.putManifest(req.destRepository, req.tag, top.bytes, top.mediaType, req.tagHeaders ?? {}, { signal: ctx.signal, onResponse });
  } else if (!present) {
    await req.dest.putManifest(req.destRepository, req.digest, top.bytes, top.mediaType, {}, { signal: ctx.signal });
  }
  ctx.progress();

  // Verification: success only when the destination answers the manifest by digest (and the tag, unless a
  // newer write there won last-writer-wins).
  const byDigest = await req.dest.headManifest(req.destRepository, req.digest);
  if (byDigest?.digest !== req.digest) throw new VerificationError(`destination does not answer ${req.destRepository}@${req.digest}`);
  if (req.tag !== undefined && tagWrite !== 'stale') {
    const byTag = await req.dest.headManifest(req.destRepository, req.tag);
    if (byTag?.digest !== req.digest) {
      throw new VerificationError(`destination answers ${req.destRepository}:${req.tag} with ${byTag?.digest ?? 'nothing'}, expected ${req.digest}`);
    }
  }
  return { present, ...(tagWrite !== undefined && { tagWrite }) };
}

/** Children (an index's manifests) and blobs first, each manifest after what it references (spec: the
 *  destination refuses a manifest whose references it does not hold). */
async function copyContent(req: CopyRequest, bytes: Buffer, mediaType: string, ctx: TransferContext): Promise<void> {
  const parsed = parseManifest(bytes, mediaType);
  for (const child of parsed.manifests) {
    ctx.signal.throwIfAborted();
    if ((await req.dest.headManifest(req.destRepository, child.digest))?.digest === child.digest) continue;
    const m = await req.source.manifest(req.srcRepository, child.digest);
    if (!m) throw new SourceGoneError(`${req.srcRepository}@${child.digest} (an index child) is not at the source`);
    await copyContent(req, m.bytes, m.mediaType, ctx);
    await req.dest.putManifest(req.destRepository, child.digest, m.bytes, m.mediaType, {}, { signal: ctx.signal });
    ctx.progress();
  }
  const blobs = [...(parsed.config ? [parsed.config] : []), ...parsed.layers.filter((l) => !isForeignLayer(l))];
  const seen = new Set<string>();
  for (const b of blobs) {
    if (seen.has(b.digest)) continue;
    seen.add(b.digest);
    ctx.signal.throwIfAborted();
    await copyBlob(req, b, ctx);
  }
}

async function copyBlob(req: CopyRequest, d: Descriptor, ctx: TransferContext): Promise<void> {
  if ((await req.dest.headBlob(req.destRepository, d.digest)) !== undefined) return;
  for (const from of await ctx.mountCandidates(d.digest)) {
    if (from === req.destRepository) continue;
    if (await req.dest.mountBlob(req.destRepository, d.digest, from).catch(() => false)) return;
  }
  ctx.progress();
  await req.dest.uploadBlob(
    req.destRepository,
    d.digest,
    d.size,
    async (offset) => {
      ctx.progress();
      const raw = await req.source.openBlob(req.srcRepository, d.digest, d.size, offset, ctx.signal);
      return metered(raw, { bandwidth: ctx.bandwidth, onBytes: ctx.onBytes, signal: ctx.signal });
    },
    { chunkSize: ctx.chunkSize, signal: ctx.signal },
  );
  ctx.progress();
}

export interface DeleteRequest {
  dest: DestinationClient;
  destRepository: string;
  /** A tag (its deletion) or a digest (the manifest's). */
  reference: string;
  headers?: Record<string, string>;
  /** Registries that delete only by digest (CNCF distribution): delete the manifest when no other tag there
   *  points at it. */
  byDigestFallback: boolean;
  signal: AbortSignal;
}

export interface DeleteResult {
  tagWrite?: string;
  /** The destination did not have it. */
  absent: boolean;
}

export async function deleteArtifact(req: DeleteRequest): Promise<DeleteResult> {
  let tagWrite: string | undefined;
  const onResponse = (h: Headers) => {
    tagWrite = h.get('berth-tag-write') ?? undefined;
  };
  try {
    const found = await req.dest.deleteManifest(req.destRepository, req.reference, req.headers ?? {}, { signal: req.signal, onResponse });
    if (found || !req.byDigestFallback || req.reference.includes(':')) return { absent: !found, ...(tagWrite !== undefined && { tagWrite }) };
  } catch (e) {
    if (!req.byDigestFallback || !(e instanceof OciClientError) || e.status >= 500) throw e;
  }
  // Deleting by tag is not supported there: find the digest; delete it only when this tag is its last one.
  const head = await req.dest.headManifest(req.destRepository, req.reference);
  if (!head) return { absent: true };
  const tags = (await req.dest.listTags(req.destRepository)) ?? [];
  for (const other of tags) {
    if (other === req.reference) continue;
    if ((await req.dest.headManifest(req.destRepository, other))?.digest === head.digest) {
      throw new Error(`${req.destRepository}:${req.reference} shares its manifest with tag ${other}; this registry can only delete manifests, not single tags`);
    }
  }
  const found = await req.dest.deleteManifest(req.destRepository, head.digest, {}, { signal: req.signal });
  return { absent: !found };
}

/** The source no longer has what a task was to copy (deleted meanwhile): not a failure of the transfer. */
export class SourceGoneError extends Error {
  override name = 'SourceGoneError';
}

export class VerificationError extends Error {
  override name = 'VerificationError';
}
