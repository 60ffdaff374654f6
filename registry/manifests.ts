import type { Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { isForeignLayer, type ParsedManifest } from '../core/manifest.js';
import { parseReference } from '../core/names.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import { MissingReferencesError, type ManifestRecord, type MetaStore, type TagRecord, type TagWriteResult } from '../storage-adapters/meta/meta-store.js';
import { TOUCH_EVERY_MS, whilePinned } from './blob-guard.js';
import type { ManifestCache } from './manifest-cache.js';
import type { Immutability } from './immutability.js';
import type { Quotas } from './quotas.js';
import { recordConflict, recordImmutableConflict } from './tag-conflicts.js';
import type { WriteVersion } from './tag-versions.js';

// Storing a manifest: bytes first, then the index entry and its tags in one atomic step that also checks, against
// a GC sweeping at the same moment, that every blob and child it references is still in the repository.

/** A manifest named by tag or by digest, as in /v2/<name>/manifests/<reference>. */
export type ManifestReference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

/** The index entry of a parsed manifest: what it references (foreign layers are not stored here). */
export function manifestRecordOf(parsed: ParsedManifest, digest: Digest, size: number): ManifestRecord {
  return {
    digest,
    mediaType: parsed.mediaType,
    size,
    blobs: [...(parsed.config ? [parsed.config.digest] : []), ...parsed.layers.filter((l) => !isForeignLayer(l)).map((l) => l.digest)],
    children: parsed.manifests.map((m) => m.digest),
    createdAt: Date.now(),
    ...(parsed.artifactType !== undefined && { artifactType: parsed.artifactType }),
    ...(parsed.subject !== undefined && { subject: parsed.subject.digest }),
    ...(parsed.annotations !== undefined && { annotations: parsed.annotations }),
  };
}

/** A manifest as stored: its index entry and its bytes. */
export interface StoredManifest {
  record: ManifestRecord;
  bytes: Buffer;
}

export class Manifests {
  constructor(
    private readonly blobs: BlobStore,
    private readonly meta: MetaStore,
    private readonly cache: ManifestCache,
    private readonly log: Logger,
    private readonly quotas?: Quotas,
    private readonly immutability?: Immutability,
  ) {}

  /** The manifest a tag points at, or stored under a digest, in `repository`; undefined when there is none. */
  async resolve(repository: string, ref: ManifestReference): Promise<ManifestRecord | undefined> {
    if (ref.kind === 'digest') return this.meta.getManifest(repository, ref.digest);
    const tag = await this.meta.getTag(repository, ref.tag);
    return tag?.digest ? this.meta.getManifest(repository, tag.digest) : undefined;
  }

  /** The index entry of `digest` in `repository` (subject, references), without its bytes. */
  get(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    return this.meta.getManifest(repository, digest);
  }

  /** The manifest `reference` (a tag or a digest) names in `repository`, bytes included; undefined when absent. */
  async read(repository: string, reference: string): Promise<StoredManifest | undefined> {
    const record = await this.resolve(repository, parseReference(reference));
    return record && { record, bytes: await this.bytes(record) };
  }

  /** The live tag; undefined when absent or deleted. */
  tag(repository: string, tag: string): Promise<TagRecord | undefined> {
    return this.meta.getTag(repository, tag);
  }

  /** Every tag record of `repository`, tombstones included, with their versions (anti-entropy compares them). */
  tagRecords(repository: string): Promise<TagRecord[]> {
    return this.meta.listTagRecords(repository);
  }

  /** A stored manifest's bytes (cached: content-addressed, never stale). */
  bytes(record: ManifestRecord): Promise<Buffer> {
    return this.cache.get(record.digest);
  }

  /**
   * Stores `bytes` (already parsed into `record`) in `repository` and points each of `tags` at it, in order,
   * with `write`'s version. Throws MANIFEST_BLOB_UNKNOWN when a referenced blob or child manifest is not in the
   * repository. A replicated write records the conflicts last-writer-wins decided (see ./tag-conflicts.ts).
   * `childrenMayBeAbsent`: an index whose children are fetched on demand (a proxy cache) is stored without them.
   */
  async put(repository: string, record: ManifestRecord, bytes: Buffer, tags: string[], write: WriteVersion, how: { childrenMayBeAbsent?: boolean } = {}): Promise<TagWriteResult[]> {
    // Immutable tags are checked and written under a lock per tag, so two first pushes racing on one tag (from
    // any instances) cannot both pass the check: the second sees the first's value and is refused.
    const lock = await this.immutability?.lockTags(repository, tags);
    try {
      return await this.write(repository, record, bytes, tags, write, how);
    } finally {
      await lock?.release();
    }
  }

  private async write(repository: string, record: ManifestRecord, bytes: Buffer, tags: string[], write: WriteVersion, how: { childrenMayBeAbsent?: boolean }): Promise<TagWriteResult[]> {
    const { version, origin } = write;
    const before = origin ? await Promise.all(tags.map((name) => this.meta.getTag(repository, name))) : [];
    await this.refuseImmutableMoves(repository, record.digest, tags, write, before);
    // Harbor counts the manifest itself too; charged before it is indexed, given back when indexing fails.
    await this.quotas?.charge(repository, record.digest, record.size);
    let results: TagWriteResult[];
    try {
      results = await whilePinned(this.meta, record.digest, async () => {
        // A crash after the bytes leaves an unreferenced blob for GC, never a dangling tag.
        await this.blobs.put(record.digest, bytes);
        // An index references no blobs, so leaving the check out leaves out only its children.
        const opts = { requireReferences: !(how.childrenMayBeAbsent && record.blobs.length === 0) };
        if (tags.length === 0) {
          await this.meta.putManifest(repository, record, undefined, opts);
          return [];
        }
        const out: TagWriteResult[] = [];
        for (const name of tags) out.push((await this.meta.putManifest(repository, record, { name, version, ...(origin && { origin }) }, opts)) ?? 'applied');
        return out;
      });
    } catch (e) {
      await this.quotas?.release(repository, [record.digest]).catch(() => undefined);
      if (e instanceof MissingReferencesError) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { detail: { digests: e.digests } });
      throw e;
    }
    if (origin) {
      for (const [i, tag] of tags.entries()) {
        await recordConflict(this.meta, this.log, { repository, tag, digest: record.digest, version, origin, base: write.base }, before[i], results[i]!);
      }
    }
    this.cache.set(record.digest, bytes);
    return results;
  }

  /** Deletes the manifest and every tag pointing at it (tombstoned with `write`'s version); undefined when absent.
   *  DENIED when one of those tags is immutable. */
  async delete(repository: string, digest: Digest, write: WriteVersion): Promise<string[] | undefined> {
    if (this.immutability) {
      const tagged = (await this.meta.listTagRecords(repository)).filter((t) => t.digest === digest).map((t) => t.name);
      await this.immutability.checkDelete(repository, tagged);
    }
    const removed = await this.meta.deleteManifest(repository, digest, write.version, write.origin);
    if (removed) await this.quotas?.release(repository, [digest]);
    return removed;
  }

  /**
   * DENIED when a tag an immutable rule matches would move to another manifest. A replicated write meeting such
   * a tag is refused too — the sender's task fails saying why — and recorded as a conflict both IDCs can list.
   */
  private async refuseImmutableMoves(repository: string, digest: Digest, tags: string[], write: WriteVersion, before: (TagRecord | undefined)[]): Promise<void> {
    if (!this.immutability || tags.length === 0) return;
    const immutable = await this.immutability.matcher(repository);
    for (const [i, name] of tags.entries()) {
      if (!immutable(name)) continue;
      const current = write.origin ? before[i] : await this.meta.getTag(repository, name);
      if (!current?.digest || current.digest === digest) continue;
      if (write.origin) {
        await recordImmutableConflict(this.meta, this.log, { repository, tag: name, digest, version: write.version, origin: write.origin }, current);
      }
      await this.immutability.checkMove(repository, name, current.digest, digest);
    }
  }

  /**
   * Every blob (config, layers) must be in the repository and every child manifest too (spec:
   * MANIFEST_BLOB_UNKNOWN), each with the size its descriptor claims (MANIFEST_INVALID otherwise). put() checks
   * presence again atomically; this gives the client every missing digest at once.
   */
  async verifyReferences(repository: string, m: ParsedManifest): Promise<void> {
    const blobs = [...(m.config ? [m.config] : []), ...m.layers.filter((l) => !isForeignLayer(l))];
    const missing: string[] = [];
    const wrongSize: { digest: string; size: number; actual: number }[] = [];
    const check = (d: { digest: string; size: number }, actual: number | undefined) => {
      if (actual === undefined) missing.push(d.digest);
      else if (actual !== d.size) wrongSize.push({ digest: d.digest, size: d.size, actual });
    };
    await Promise.all([
      ...blobs.map(async (d) => check(d, (await this.meta.getBlobLink(repository, d.digest))?.size)),
      ...m.manifests.map(async (d) => check(d, (await this.meta.getManifest(repository, d.digest))?.size)),
    ]);
    if (missing.length > 0) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { detail: { digests: [...new Set(missing)].sort() } });
    }
    if (wrongSize.length > 0) {
      throw new RegistryError('MANIFEST_INVALID', 'a descriptor size does not match the stored content', { detail: { descriptors: wrongSize } });
    }
  }

  /** The record, for a client about to rely on it (HEAD before skipping a push): GC spares it for a grace period. */
  async confirm(repository: string, record: ManifestRecord): Promise<boolean> {
    if (Date.now() - record.createdAt < TOUCH_EVERY_MS) return true;
    return this.meta.touchManifest(repository, record.digest);
  }
}
