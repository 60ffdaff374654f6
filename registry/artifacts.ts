import { LRUCache } from 'lru-cache';
import { readAtMost } from '../core/bounded-read.js';
import type { Digest } from '../core/digest.js';
import { isForeignLayer, parseManifest, type ParsedManifest } from '../core/manifest.js';
import { isIndexType } from '../core/media-types.js';
import { parseReference } from '../core/names.js';
import type { ManifestRecord, MetaStore, TagRecord } from '../storage-adapters/meta/meta-store.js';
import type { Labels } from './labels.js';
import type { LinkedBlobs } from './linked-blobs.js';
import type { Manifests } from './manifests.js';
import type { TagVersions } from './tag-versions.js';

// Artifacts as Harbor sees them (a manifest of a repository with its tags, size, config and referrers), and
// the admin API's writes on them — copy, tag, delete — made through Manifests and Tags, so each is versioned and
// reaches the outbox (replication) exactly as the same change pushed over /v2 would.

/** Image configs above this are not read for extra_attrs (real ones are a few KiB). */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

const imageConfigTypes = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

/** What the admin API reports of one artifact. */
export interface ArtifactDetail {
  record: ManifestRecord;
  manifest: ParsedManifest;
  /** The manifest plus every blob it references; for an index, plus its children's sizes (as Harbor counts). */
  size: number;
  /** The image config, parsed, when the artifact is an image. */
  config?: Record<string, unknown>;
}

export type ArtifactDeleteResult = 'deleted' | 'absent' | 'referenced';

export class Artifacts {
  private readonly configs = new LRUCache<string, Record<string, unknown>>({ max: 2000 });

  constructor(
    private readonly meta: MetaStore,
    private readonly manifests: Manifests,
    private readonly blobs: LinkedBlobs,
    private readonly versions: TagVersions,
    private readonly labels: Labels,
  ) {}

  /** The manifest a tag or digest names in `repository`; undefined when absent (a malformed one throws). */
  find(repository: string, reference: string): Promise<ManifestRecord | undefined> {
    return this.manifests.resolve(repository, parseReference(reference));
  }

  /** Every manifest of the repository and its live tags, by digest. */
  async listing(repository: string): Promise<{ records: ManifestRecord[]; tags: Map<string, TagRecord[]> }> {
    const [records, tagRecords] = await Promise.all([this.meta.listManifests(repository), this.meta.listTagRecords(repository)]);
    const tags = new Map<string, TagRecord[]>();
    for (const t of tagRecords) {
      if (!t.digest) continue;
      const list = tags.get(t.digest) ?? [];
      list.push(t);
      tags.set(t.digest, list);
    }
    return { records, tags };
  }

  /** The live tags on `digest`, lexically. */
  async tagsOf(repository: string, digest: Digest): Promise<TagRecord[]> {
    return (await this.meta.listTagRecords(repository)).filter((t) => t.digest === digest).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async detail(repository: string, record: ManifestRecord): Promise<ArtifactDetail> {
    const manifest = parseManifest(await this.manifests.bytes(record), record.mediaType);
    const size = await this.sizeOf(repository, record, manifest, new Set());
    const config = await this.imageConfig(repository, manifest);
    return { record, manifest, size, ...(config && { config }) };
  }

  /** The manifests of `repository` whose subject is `digest` (signatures, SBOMs: Harbor's accessories). */
  referrers(repository: string, digest: Digest): Promise<ManifestRecord[]> {
    return this.meta.listReferrers(repository, digest);
  }

  /**
   * Points `tag` at `record`; false when the tag already exists (on any artifact: Harbor creates, never moves).
   * Versioned as a local write, so it replicates.
   */
  async addTag(repository: string, record: ManifestRecord, tag: string): Promise<boolean> {
    if (await this.manifests.tag(repository, tag)) return false;
    await this.manifests.put(repository, record, await this.manifests.bytes(record), [tag], { version: this.versions.local() });
    return true;
  }

  /**
   * Deletes the artifact, its tags and its referrers (as Harbor deletes accessories with their subject);
   * `referenced` when an index of the repository still lists it, which Harbor refuses too.
   */
  async delete(repository: string, digest: Digest): Promise<ArtifactDeleteResult> {
    const all = await this.meta.listManifests(repository);
    if (!all.some((m) => m.digest === digest)) return 'absent';
    if (all.some((m) => m.children.includes(digest))) return 'referenced';
    for (const r of await this.meta.listReferrers(repository, digest)) await this.delete(repository, r.digest);
    await this.manifests.delete(repository, digest, { version: this.versions.local() });
    await this.labels.forget(repository, digest);
    return 'deleted';
  }

  /**
   * Copies the artifact `reference` names in `source` into `target`, with its children, its referrers and the
   * tags of the root (Harbor copies those; not a child's), linking every blob into `target`. Undefined when the
   * source has no such artifact.
   */
  async copy(source: string, reference: string, target: string): Promise<ManifestRecord | undefined> {
    const root = await this.find(source, reference);
    if (!root) return undefined;
    const tags = (await this.tagsOf(source, root.digest)).map((t) => t.name);
    await this.copyManifest(source, root, target, tags, new Set());
    return root;
  }

  private async copyManifest(source: string, record: ManifestRecord, target: string, tags: string[], seen: Set<string>): Promise<void> {
    if (seen.has(record.digest)) return;
    seen.add(record.digest);
    const bytes = await this.manifests.bytes(record);
    const parsed = parseManifest(bytes, record.mediaType);
    for (const child of parsed.manifests) {
      const childRecord = await this.manifests.get(source, child.digest);
      if (childRecord) await this.copyManifest(source, childRecord, target, [], seen);
    }
    const blobs = [...(parsed.config ? [parsed.config] : []), ...parsed.layers.filter((l) => !isForeignLayer(l))];
    for (const blob of blobs) {
      if ((await this.blobs.linkedSize(target, blob.digest)) !== undefined) continue;
      // A blob missing from the source leaves it for put() to refuse with MANIFEST_BLOB_UNKNOWN.
      await this.blobs.mount(target, blob.digest, [source], async () => true);
    }
    await this.manifests.put(target, record, bytes, tags, { version: this.versions.local() });
    for (const referrer of await this.meta.listReferrers(source, record.digest)) await this.copyManifest(source, referrer, target, [], seen);
  }

  private async sizeOf(repository: string, record: ManifestRecord, manifest: ParsedManifest, seen: Set<string>): Promise<number> {
    seen.add(record.digest);
    let size = record.size;
    if (manifest.config) size += manifest.config.size;
    for (const layer of manifest.layers) size += layer.size;
    if (!isIndexType(record.mediaType)) return size;
    for (const child of manifest.manifests) {
      const childRecord = seen.has(child.digest) ? undefined : await this.manifests.get(repository, child.digest);
      if (!childRecord) continue;
      size += await this.sizeOf(repository, childRecord, parseManifest(await this.manifests.bytes(childRecord), childRecord.mediaType), seen);
    }
    return size;
  }

  /** The image config, parsed (cached by digest: content-addressed, never stale); undefined for non-images. */
  private async imageConfig(repository: string, manifest: ParsedManifest): Promise<Record<string, unknown> | undefined> {
    const cfg = manifest.config;
    if (!cfg || !imageConfigTypes.has(cfg.mediaType) || cfg.size > MAX_CONFIG_BYTES) return undefined;
    const cached = this.configs.get(cfg.digest);
    if (cached) return cached;
    let bytes: Buffer | undefined;
    try {
      bytes = await readAtMost(await this.blobs.openLinked(repository, cfg.digest), MAX_CONFIG_BYTES);
    } catch {
      return undefined; // not linked (any more): report the artifact without it
    }
    if (!bytes) return undefined;
    try {
      const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
      this.configs.set(cfg.digest, parsed as Record<string, unknown>);
      return parsed as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}
