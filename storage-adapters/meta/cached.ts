// An in-process cache in front of a shared MetaStore (Redis), for the lookups every pull makes: a tag, a manifest
// record, a blob link. Several instances share the store, so a change made on one must reach the others' caches:
//
// - a write through this decorator drops the affected entries here at once and publishes them on the
//   invalidation bus (Redis pub/sub) before it returns; the other instances drop them when the message arrives,
//   which is before the writer's HTTP answer reaches its client;
// - every entry also expires `ttlMs` after the read that fetched it began, so a lost message (an instance that
//   crashed between write and publish, a subscriber connection that dropped) leaves a stale answer for at most
//   `ttlMs`;
// - while the bus is not subscribed (Redis away, reconnecting) nothing is cached, and the cache starts empty again
//   once it is;
// - only answers that found something are cached: a tag, manifest or blob just pushed on another instance is
//   never hidden behind a cached "absent".
//
// Bound: a tag moved or deleted (a manifest or blob link removed) on instance A is served by instance B for at most
// `ttlMs` (default 1 s), and in practice not at all while pub/sub works.
// The parts, in cached/: what is held and how it expires (read-cache.ts), the bus on Redis pub/sub
// (invalidation-bus.ts).
import { randomUUID } from 'node:crypto';
import type { Digest } from '../../core/digest.js';
import type { TagVersion } from '../../core/hlc.js';
import type {
  Collection,
  CollectionSpec,
  Lock,
  HeldLock,
  ManifestRecord,
  MetaStore,
  OutboxEvent,
  Page,
  PutManifestOptions,
  TagRecord,
  TagWrite,
  TagWriteResult,
  UploadSession,
  UsageCharge,
  UsageItem,
} from './meta-store.js';
import type { InvalidationBus } from './cached/invalidation-bus.js';
import { ReadCache, type Kind } from './cached/read-cache.js';

export { RedisInvalidationBus, type InvalidationBus } from './cached/invalidation-bus.js';

export interface CachedMetaStoreOptions {
  /** Longest time an entry is served after the read that fetched it began; 0 disables the cache. */
  ttlMs: number;
  /** Entries kept (least recently used go first), default 20 000 (a few MiB). */
  maxEntries?: number;
  /** Without a bus the cache is TTL-bounded only (and local writes still invalidate at once). */
  bus?: InvalidationBus;
}

/** On the bus: which entries of `repo` changed; no `keys` means the whole repository. */
interface Change {
  from: string;
  repo: string;
  keys?: [Kind, string][];
}

type Link = { size: number; linkedAt: number };

export class CachedMetaStore implements MetaStore {
  private readonly cache: ReadCache;
  private readonly bus: InvalidationBus | undefined;
  /** Our own messages come back from the bus; they are recognised by this and skipped. */
  private readonly id = randomUUID();

  constructor(
    private readonly inner: MetaStore,
    opts: CachedMetaStoreOptions,
  ) {
    this.bus = opts.bus;
    this.cache = new ReadCache(Math.max(0, opts.ttlMs), opts.maxEntries ?? 20_000, () => this.bus === undefined || this.bus.listening);
    this.bus?.listen({
      message: (m) => this.received(m),
      // Messages may have been missed while not listening: start again from nothing, either way.
      state: () => this.cache.dropAll(),
    });
  }

  /** Hits, misses and invalidations applied since start (tests, diagnostics). */
  stats(): { hits: number; misses: number; invalidations: number; entries: number } {
    return this.cache.stats();
  }

  // --- cached lookups ---

  getTag(repository: string, tag: string): Promise<TagRecord | undefined> {
    return this.cache.get(repository, 't', tag, () => this.inner.getTag(repository, tag));
  }

  getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    return this.cache.get(repository, 'm', digest, () => this.inner.getManifest(repository, digest));
  }

  getBlobLink(repository: string, digest: Digest): Promise<Link | undefined> {
    return this.cache.get(repository, 'l', digest, () => this.inner.getBlobLink(repository, digest));
  }

  // --- writes that change what is cached: invalidate here, then tell the others ---

  async putManifest(repository: string, record: ManifestRecord, tag?: TagWrite, opts?: PutManifestOptions): Promise<TagWriteResult | undefined> {
    // The record itself is written only when absent (never changes), and absent answers are not cached.
    if (!tag) return this.inner.putManifest(repository, record, undefined, opts);
    try {
      return await this.inner.putManifest(repository, record, tag, opts);
    } finally {
      await this.changed(repository, [['t', tag.name]]);
    }
  }

  async deleteTag(repository: string, tag: string, version: TagVersion, origin?: string): Promise<TagWriteResult> {
    try {
      return await this.inner.deleteTag(repository, tag, version, origin);
    } finally {
      await this.changed(repository, [['t', tag]]);
    }
  }

  async deleteManifest(repository: string, digest: Digest, version: TagVersion, origin?: string): Promise<string[] | undefined> {
    let removed: string[] | undefined;
    let ok = false;
    try {
      removed = await this.inner.deleteManifest(repository, digest, version, origin);
      ok = true;
      return removed;
    } finally {
      // Failed half-way (a timeout): which tags went is unknown, so the whole repository is dropped.
      await this.changed(repository, ok ? [['m', digest], ...(removed ?? []).map((t): [Kind, string] => ['t', t])] : undefined);
    }
  }

  async deleteRepository(repository: string, version: TagVersion): Promise<void> {
    try {
      await this.inner.deleteRepository(repository, version);
    } finally {
      await this.changed(repository, undefined);
    }
  }

  async linkBlob(repository: string, digest: Digest, size: number): Promise<void> {
    try {
      await this.inner.linkBlob(repository, digest, size);
    } finally {
      await this.changed(repository, [['l', digest]]); // linkedAt moves
    }
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    try {
      return await this.inner.unlinkBlob(repository, digest);
    } finally {
      await this.changed(repository, [['l', digest]]);
    }
  }

  async sweepManifest(repository: string, digest: Digest, before: number, version: TagVersion): Promise<boolean> {
    let swept = false;
    try {
      swept = await this.inner.sweepManifest(repository, digest, before, version);
      return swept;
    } finally {
      if (swept) await this.changed(repository, [['m', digest]]); // it had no live tag
    }
  }

  async sweepBlobLink(repository: string, digest: Digest, before: number): Promise<boolean> {
    let swept = false;
    try {
      swept = await this.inner.sweepBlobLink(repository, digest, before);
      return swept;
    } finally {
      if (swept) await this.changed(repository, [['l', digest]]);
    }
  }

  // --- everything else goes straight through ---

  touchBlobLink(repository: string, digest: Digest): Promise<boolean> {
    return this.inner.touchBlobLink(repository, digest);
  }
  touchManifest(repository: string, digest: Digest): Promise<boolean> {
    return this.inner.touchManifest(repository, digest);
  }
  pinBlob(digest: Digest, ttlMs: number): Promise<Lock> {
    return this.inner.pinBlob(digest, ttlMs);
  }
  fenceBlob(digest: Digest, ttlMs: number): Promise<Lock | undefined> {
    return this.inner.fenceBlob(digest, ttlMs);
  }

  listRepositories(page?: Page): Promise<string[]> {
    return this.inner.listRepositories(page);
  }
  repositoryExists(repository: string): Promise<boolean> {
    return this.inner.repositoryExists(repository);
  }
  blobRepositories(digest: Digest, limit?: number): Promise<string[]> {
    return this.inner.blobRepositories(digest, limit);
  }
  listBlobLinks(repository: string): Promise<(Link & { digest: Digest })[]> {
    return this.inner.listBlobLinks(repository);
  }
  listManifests(repository: string): Promise<ManifestRecord[]> {
    return this.inner.listManifests(repository);
  }
  listReferrers(repository: string, subject: Digest): Promise<ManifestRecord[]> {
    return this.inner.listReferrers(repository, subject);
  }
  listTags(repository: string, page?: Page): Promise<string[]> {
    return this.inner.listTags(repository, page);
  }
  listTagRecords(repository: string): Promise<TagRecord[]> {
    return this.inner.listTagRecords(repository);
  }
  createUpload(session: UploadSession): Promise<void> {
    return this.inner.createUpload(session);
  }
  getUpload(id: string): Promise<UploadSession | undefined> {
    return this.inner.getUpload(id);
  }
  deleteUpload(id: string): Promise<void> {
    return this.inner.deleteUpload(id);
  }
  listUploads(): Promise<UploadSession[]> {
    return this.inner.listUploads();
  }
  readOutbox(afterSeq: number, limit: number): Promise<OutboxEvent[]> {
    return this.inner.readOutbox(afterSeq, limit);
  }
  collection<T extends { id: number }>(name: string, spec?: CollectionSpec<T>): Collection<T> {
    return this.inner.collection<T>(name, spec);
  }
  chargeUsage(scope: string, item: string, size: number, limit: number): Promise<UsageCharge> {
    return this.inner.chargeUsage(scope, item, size, limit);
  }
  releaseUsage(scope: string, item: string, holders: string, chargedBefore?: number): Promise<boolean> {
    return this.inner.releaseUsage(scope, item, holders, chargedBefore);
  }
  usageOf(scope: string): Promise<number> {
    return this.inner.usageOf(scope);
  }
  usageItems(scope: string): Promise<UsageItem[]> {
    return this.inner.usageItems(scope);
  }
  acquireLock(name: string, ttlMs: number): Promise<HeldLock | undefined> {
    return this.inner.acquireLock(name, ttlMs);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }

  /** Closes the bus and the store underneath. */
  async close(): Promise<void> {
    this.cache.dropAll();
    await Promise.allSettled([this.bus?.close(), this.inner.close()]);
  }

  /** Drops the entries here, then publishes the change (a failed publish is left to the TTL). */
  private async changed(repo: string, keys: [Kind, string][] | undefined): Promise<void> {
    this.cache.invalidate(repo, keys);
    if (!this.bus) return;
    const change: Change = { from: this.id, repo, ...(keys && { keys }) };
    await this.bus.publish(JSON.stringify(change)).catch(() => {});
  }

  private received(message: string): void {
    let change: Change;
    try {
      change = JSON.parse(message) as Change;
    } catch {
      return;
    }
    if (change.from === this.id || typeof change.repo !== 'string') return;
    this.cache.invalidate(change.repo, Array.isArray(change.keys) ? change.keys : undefined);
  }
}
