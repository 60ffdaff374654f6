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
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Digest } from '../../core/digest.js';
import type { TagVersion } from '../../core/hlc.js';
import type {
  Collection,
  CollectionSpec,
  Lock,
  ManifestRecord,
  MetaStore,
  OutboxEvent,
  Page,
  PutManifestOptions,
  TagRecord,
  TagWrite,
  TagWriteResult,
  UploadSession,
} from './meta-store.js';

/** How instances tell each other what changed. */
export interface InvalidationBus {
  /** True while messages from other instances are being delivered. */
  readonly listening: boolean;
  /** Sends `message` to every instance; resolves once the broker has passed it on (rejects when it cannot). */
  publish(message: string): Promise<void>;
  /** `message` for each message from the bus, `state` whenever `listening` changes. One listener. */
  listen(listener: { message(message: string): void; state(listening: boolean): void }): void;
  close(): Promise<void>;
}

export interface CachedMetaStoreOptions {
  /** Longest time an entry is served after the read that fetched it began; 0 disables the cache. */
  ttlMs: number;
  /** Entries kept (least recently used go first), default 20 000 (a few MiB). */
  maxEntries?: number;
  /** Without a bus the cache is TTL-bounded only (and local writes still invalidate at once). */
  bus?: InvalidationBus;
}

type Kind = 't' | 'm' | 'l'; // tag, manifest record, blob link

/** On the bus: which entries of `repo` changed; no `keys` means the whole repository. */
interface Change {
  from: string;
  repo: string;
  keys?: [Kind, string][];
}

interface Flight {
  promise: Promise<unknown>;
  /** Set when an invalidation arrives while the read is under way: its answer may predate the change. */
  spoiled: boolean;
}

type Link = { size: number; linkedAt: number };

export class CachedMetaStore implements MetaStore {
  private readonly lru: LRUCache<string, object>;
  private readonly flights = new Map<string, Flight>();
  private readonly ttlMs: number;
  private readonly bus: InvalidationBus | undefined;
  /** Our own messages come back from the bus; they are recognised by this and skipped. */
  private readonly id = randomUUID();
  /** Bumped when the whole cache is dropped: reads begun before must not store their answers. */
  private epoch = 0;
  private counts = { hits: 0, misses: 0, invalidations: 0 };

  constructor(
    private readonly inner: MetaStore,
    opts: CachedMetaStoreOptions,
  ) {
    this.ttlMs = Math.max(0, opts.ttlMs);
    this.bus = opts.bus;
    this.lru = new LRUCache<string, object>({ max: opts.maxEntries ?? 20_000, ttl: Math.max(1, this.ttlMs) });
    this.bus?.listen({
      message: (m) => this.received(m),
      // Messages may have been missed while not listening: start again from nothing, either way.
      state: () => this.dropAll(),
    });
  }

  /** Hits, misses and invalidations applied since start (tests, diagnostics). */
  stats(): { hits: number; misses: number; invalidations: number; entries: number } {
    return { ...this.counts, entries: this.lru.size };
  }

  // --- cached lookups ---

  getTag(repository: string, tag: string): Promise<TagRecord | undefined> {
    return this.cached(repository, 't', tag, () => this.inner.getTag(repository, tag));
  }

  getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    return this.cached(repository, 'm', digest, () => this.inner.getManifest(repository, digest));
  }

  getBlobLink(repository: string, digest: Digest): Promise<Link | undefined> {
    return this.cached(repository, 'l', digest, () => this.inner.getBlobLink(repository, digest));
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
  acquireLock(name: string, ttlMs: number): Promise<Lock | undefined> {
    return this.inner.acquireLock(name, ttlMs);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }

  /** Closes the bus and the store underneath. */
  async close(): Promise<void> {
    this.dropAll();
    await Promise.allSettled([this.bus?.close(), this.inner.close()]);
  }

  // --- internals ---

  private enabled(): boolean {
    return this.ttlMs > 0 && (this.bus === undefined || this.bus.listening);
  }

  /** The cached answer for (repo, kind, id), or the store's; concurrent misses share one read. */
  private async cached<T extends object>(repo: string, kind: Kind, id: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    if (!this.enabled()) return load();
    const key = keyOf(repo, kind, id);
    const hit = this.lru.get(key);
    if (hit !== undefined) {
      this.counts.hits++;
      // Callers own what they get (as from the store itself): a caller changing it must not change the cache.
      return structuredClone(hit) as T;
    }
    const shared = this.flights.get(key);
    if (shared) return shared.promise.then((v) => (v === undefined ? v : structuredClone(v))) as Promise<T | undefined>;
    this.counts.misses++;
    const started = performance.now();
    const epoch = this.epoch;
    const flight: Flight = { promise: Promise.resolve(), spoiled: false };
    flight.promise = (async () => {
      try {
        const value = await load();
        // The entry expires ttlMs after the read began, so what it holds is never older than that.
        const left = this.ttlMs - (performance.now() - started);
        if (value !== undefined && !flight.spoiled && epoch === this.epoch && this.enabled() && left >= 1) {
          this.lru.set(key, structuredClone(value), { ttl: Math.floor(left) });
        }
        return value;
      } finally {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      }
    })();
    this.flights.set(key, flight);
    return flight.promise as Promise<T | undefined>;
  }

  /** Drops the entries here, then publishes the change (a failed publish is left to the TTL). */
  private async changed(repo: string, keys: [Kind, string][] | undefined): Promise<void> {
    this.invalidate(repo, keys);
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
    this.invalidate(change.repo, Array.isArray(change.keys) ? change.keys : undefined);
  }

  private invalidate(repo: string, keys: [Kind, string][] | undefined): void {
    this.counts.invalidations++;
    if (keys) {
      for (const [kind, id] of keys) this.forget(keyOf(repo, kind, id));
      return;
    }
    const prefix = `${repo}\0`;
    for (const key of [...this.lru.keys()]) if (key.startsWith(prefix)) this.lru.delete(key);
    for (const key of [...this.flights.keys()]) if (key.startsWith(prefix)) this.forget(key);
  }

  private forget(key: string): void {
    this.lru.delete(key);
    const flight = this.flights.get(key);
    if (flight) {
      flight.spoiled = true;
      this.flights.delete(key);
    }
  }

  private dropAll(): void {
    this.epoch++;
    this.lru.clear();
    for (const f of this.flights.values()) f.spoiled = true;
    this.flights.clear();
  }
}

function keyOf(repo: string, kind: Kind, id: string): string {
  return `${repo}\0${kind}\0${id}`;
}

/**
 * The bus on Redis pub/sub: one connection publishes, a second one subscribes (a subscribed connection can do
 * nothing else). Both come from the MetaStore's settings (standalone, Sentinel or Cluster). `listening` is true
 * only between a confirmed SUBSCRIBE and the next loss of the subscriber connection.
 */
export class RedisInvalidationBus implements InvalidationBus {
  private subscribed = false;
  private closed = false;
  private listener: { message(message: string): void; state(listening: boolean): void } | undefined;

  constructor(
    private readonly pub: Redis | Cluster,
    private readonly sub: Redis | Cluster,
    private readonly channel: string,
  ) {
    sub.on('message', (ch: string, message: string) => {
      if (ch === this.channel && this.subscribed) this.listener?.message(message);
    });
    // (Re)subscribe on every new connection ourselves, so `listening` follows the real subscription.
    sub.on('ready', () => void this.subscribe());
    sub.on('close', () => this.setListening(false));
    sub.on('end', () => this.setListening(false));
    if (sub.status === 'ready') void this.subscribe();
    else if (sub.status === 'wait') void sub.connect().catch(() => {});
    if (pub.status === 'wait') void pub.connect().catch(() => {});
  }

  get listening(): boolean {
    return this.subscribed;
  }

  listen(listener: { message(message: string): void; state(listening: boolean): void }): void {
    this.listener = listener;
  }

  async publish(message: string): Promise<void> {
    await this.pub.publish(this.channel, message);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.setListening(false);
    await Promise.allSettled([quit(this.pub), quit(this.sub)]);
  }

  private async subscribe(): Promise<void> {
    if (this.closed) return;
    try {
      await this.sub.subscribe(this.channel);
      if (!this.closed && this.sub.status === 'ready') this.setListening(true);
    } catch {
      // the connection went again; the next 'ready' retries
    }
  }

  private setListening(on: boolean): void {
    if (this.subscribed === on) return;
    this.subscribed = on;
    this.listener?.state(on);
  }
}

async function quit(c: Redis | Cluster): Promise<void> {
  try {
    await c.quit();
  } catch {
    c.disconnect();
  }
}
