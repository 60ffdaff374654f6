import type { Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import { isForeignLayer, type ParsedManifest } from '../core/manifest.js';
import { parseReference } from '../core/names.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import { MissingReferencesError, type ManifestRecord, type MetaStore, type TagRecord, type TagWrite, type TagWriteResult } from '../storage-adapters/meta/meta-store.js';
import { whilePinned } from './blob-guard.js';

// Storing a manifest: bytes first, then the index entry and its tags in one atomic step that also checks, against
// a GC sweeping at the same moment, that every blob and child it references is still in the repository.

const TOUCH_EVERY_MS = 1000;

/** A manifest as stored: its index entry and its bytes. */
export interface StoredManifest {
  record: ManifestRecord;
  bytes: Buffer;
}

export class Manifests {
  constructor(
    private readonly blobs: BlobStore,
    private readonly meta: MetaStore,
  ) {}

  /**
   * Stores `bytes` (already parsed into `record`) in `repository` and points each of `tags` at it, in order.
   * Throws MANIFEST_BLOB_UNKNOWN when a referenced blob or child manifest is not in the repository.
   */
  async put(repository: string, record: ManifestRecord, bytes: Uint8Array, tags: TagWrite[]): Promise<TagWriteResult[]> {
    try {
      return await whilePinned(this.meta, record.digest, async () => {
        // A crash after the bytes leaves an unreferenced blob for GC, never a dangling tag.
        await this.blobs.put(record.digest, bytes);
        const opts = { requireReferences: true };
        if (tags.length === 0) {
          await this.meta.putManifest(repository, record, undefined, opts);
          return [];
        }
        const results: TagWriteResult[] = [];
        for (const tag of tags) results.push((await this.meta.putManifest(repository, record, tag, opts)) ?? 'applied');
        return results;
      });
    } catch (e) {
      if (e instanceof MissingReferencesError) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { detail: { digests: e.digests } });
      throw e;
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
    return this.meta.touchManifest(repository, record.digest as Digest);
  }

  // --- reads for callers outside a request (replication's local side) ---

  /** The manifest `reference` (a tag or a digest) names in `repository`, bytes included; undefined when absent. */
  async get(repository: string, reference: string): Promise<StoredManifest | undefined> {
    const ref = parseReference(reference);
    const digest = ref.kind === 'tag' ? (await this.meta.getTag(repository, ref.tag))?.digest : ref.digest;
    const record = digest && (await this.meta.getManifest(repository, digest));
    if (!record) return undefined;
    const chunks: Buffer[] = [];
    for await (const c of await this.blobs.read(record.digest)) chunks.push(c as Buffer);
    return { record, bytes: Buffer.concat(chunks) };
  }

  /** The index entry of `digest` in `repository` (subject, references), without its bytes. */
  record(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    return this.meta.getManifest(repository, digest);
  }

  /** The live tag; undefined when absent or deleted. */
  tag(repository: string, tag: string): Promise<TagRecord | undefined> {
    return this.meta.getTag(repository, tag);
  }

  /** Every tag record of `repository`, tombstones included, with their versions (anti-entropy compares them). */
  tagRecords(repository: string): Promise<TagRecord[]> {
    return this.meta.listTagRecords(repository);
  }
}
