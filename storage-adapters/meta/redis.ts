// The Redis MetaStore (ioredis): what several `berth serve` instances in one IDC share.
//
// Every change that the contract calls atomic (a manifest with its tag and outbox events, a tag delete, a manifest
// or repository delete, a collection write with its unique keys) is one Lua script, so it is applied whole or not
// at all and never interleaves with another instance's. The parts, in redis/: the key layout (keys.ts), the
// scripts (lua-*.ts), the connection (connection.ts), record collections (collection.ts), value codecs (codec.ts).
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Digest } from '../../core/digest.js';
import type { TagVersion } from '../../core/hlc.js';
import {
  BlobFencedError,
  MissingReferencesError,
  type Collection,
  type CollectionSpec,
  type Lock,
  type HeldLock,
  type ManifestRecord,
  type MetaStore,
  type OutboxEvent,
  type Page,
  type PutManifestOptions,
  type TagRecord,
  type TagWrite,
  type TagWriteResult,
  type UploadSession,
  type UsageCharge,
  type UsageItem,
} from './meta-store.js';
import { byteCompare, manifestOf, parseEvent, parseLink, parseTag, versionArgs } from './redis/codec.js';
import { RedisCollection } from './redis/collection.js';
import { RedisConnection, type RedisMetaStoreOptions } from './redis/connection.js';
import { gcIndexesBuilt, guardKey, lockKey, repoKeys, rk, usageKey } from './redis/keys.js';
import type { Client } from './redis/scripts.js';

export type { RedisMetaStoreOptions };

export class RedisMetaStore implements MetaStore {
  private readonly conn: RedisConnection;

  constructor(opts: RedisMetaStoreOptions) {
    this.conn = new RedisConnection(opts);
  }

  // --- repositories ---

  async listRepositories(page?: Page): Promise<string[]> {
    return this.lexPage('repos', page);
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return (await this.run((r) => r.zscore('repos', repository))) !== null;
  }

  async deleteRepository(repository: string, version: TagVersion): Promise<void> {
    const v = versionArgs(version);
    await this.run((r) =>
      r.berthDeleteRepository(13, ...repoKeys(repository), repository, ...v, Date.now()),
    );
  }

  // --- blob links ---

  async linkBlob(repository: string, digest: Digest, size: number): Promise<void> {
    const ok = await this.run((r) => r.berthLinkBlob(3, rk(repository, 'links'), 'bloblinks', guardKey(digest), repository, digest, size, Date.now()));
    if (ok !== 1) throw new BlobFencedError(digest);
  }

  async getBlobLink(repository: string, digest: Digest): Promise<{ size: number; linkedAt: number } | undefined> {
    const v = await this.run((r) => r.hget(rk(repository, 'links'), digest));
    return v === null ? undefined : parseLink(v);
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    const n = await this.run((r) => r.berthUnlinkBlob(2, rk(repository, 'links'), 'bloblinks', repository, digest));
    return n === 1;
  }

  async blobRepositories(digest: Digest, limit?: number): Promise<string[]> {
    if (limit !== undefined && limit <= 0) return [];
    const members = await this.run((r) =>
      limit === undefined
        ? r.zrangebylex('bloblinks', `[${digest} `, `(${digest}!`)
        : r.zrangebylex('bloblinks', `[${digest} `, `(${digest}!`, 'LIMIT', 0, Math.floor(limit)),
    );
    return members.map((m) => m.slice(digest.length + 1));
  }

  async listBlobLinks(repository: string): Promise<{ digest: Digest; size: number; linkedAt: number }[]> {
    const all = await this.run((r) => r.hgetall(rk(repository, 'links')));
    return Object.entries(all)
      .map(([digest, v]) => ({ digest: digest as Digest, ...parseLink(v) }))
      .sort((a, b) => byteCompare(a.digest, b.digest));
  }

  // --- manifests ---

  async putManifest(repository: string, record: ManifestRecord, tag?: TagWrite, opts?: PutManifestOptions): Promise<TagWriteResult | undefined> {
    await this.gcIndexes();
    const v = tag ? versionArgs(tag.version) : ['', '', ''];
    const [status, ...rest] = (await this.run((r) =>
      r.berthPutManifest(
        13,
        ...repoKeys(repository),
        repository,
        record.digest,
        JSON.stringify(manifestOf(record)),
        record.subject ?? '',
        Date.now(),
        tag?.origin ?? '',
        tag?.name ?? '',
        ...v,
        opts?.requireReferences ? '1' : '0',
      ),
    )) as string[];
    if (status === 'missing') throw new MissingReferencesError([...new Set(rest)].sort(byteCompare));
    return tag ? (rest[0] as TagWriteResult) : undefined;
  }

  async getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    const v = await this.run((r) => r.hget(rk(repository, 'manifests'), digest));
    return v === null ? undefined : (JSON.parse(v) as ManifestRecord);
  }

  async deleteManifest(repository: string, digest: Digest, version: TagVersion, origin?: string): Promise<string[] | undefined> {
    const out = (await this.run((r) =>
      r.berthDeleteManifest(13, ...repoKeys(repository), repository, digest, ...versionArgs(version), origin ?? '', Date.now()),
    )) as [number, ...string[]];
    return out[0] === 0 ? undefined : out.slice(1).map(String);
  }

  async listManifests(repository: string): Promise<ManifestRecord[]> {
    const all = await this.run((r) => r.hgetall(rk(repository, 'manifests')));
    return Object.keys(all)
      .sort(byteCompare)
      .map((d) => JSON.parse(all[d]!) as ManifestRecord);
  }

  async listReferrers(repository: string, subject: Digest): Promise<ManifestRecord[]> {
    const records = await this.run(async (r) => {
      const members = await r.zrangebylex(rk(repository, 'referrers'), `[${subject} `, `(${subject}!`);
      if (members.length === 0) return [];
      return r.hmget(rk(repository, 'manifests'), ...members.map((m) => m.slice(subject.length + 1)));
    });
    return records.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as ManifestRecord);
  }

  // --- tags ---

  async getTag(repository: string, tag: string): Promise<TagRecord | undefined> {
    const v = await this.run((r) => r.hget(rk(repository, 'tags'), tag));
    if (v === null) return undefined;
    const rec = parseTag(repository, tag, v);
    return rec.digest === null ? undefined : rec;
  }

  async listTags(repository: string, page?: Page): Promise<string[]> {
    return this.lexPage(rk(repository, 'live'), page);
  }

  async listTagRecords(repository: string): Promise<TagRecord[]> {
    const all = await this.run((r) => r.hgetall(rk(repository, 'tags')));
    return Object.keys(all)
      .sort(byteCompare)
      .map((name) => parseTag(repository, name, all[name]!));
  }

  async deleteTag(repository: string, tag: string, version: TagVersion, origin?: string): Promise<TagWriteResult> {
    return (await this.run((r) =>
      r.berthDeleteTag(13, ...repoKeys(repository), repository, tag, ...versionArgs(version), origin ?? '', Date.now()),
    )) as TagWriteResult;
  }

  // --- upload sessions ---

  async createUpload(session: UploadSession): Promise<void> {
    const s: UploadSession = { id: session.id, repository: session.repository, startedAt: session.startedAt };
    await this.run((r) => r.hset('uploads', session.id, JSON.stringify(s)));
  }

  async getUpload(id: string): Promise<UploadSession | undefined> {
    const v = await this.run((r) => r.hget('uploads', id));
    return v === null ? undefined : (JSON.parse(v) as UploadSession);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.run((r) => r.hdel('uploads', id));
  }

  async listUploads(): Promise<UploadSession[]> {
    const all = await this.run((r) => r.hvals('uploads'));
    return all
      .map((v) => JSON.parse(v) as UploadSession)
      .sort((a, b) => a.startedAt - b.startedAt || byteCompare(a.id, b.id));
  }

  // --- outbox ---

  async readOutbox(afterSeq: number, limit: number): Promise<OutboxEvent[]> {
    if (limit <= 0) return [];
    const members = await this.run((r) => r.zrangebyscore('outbox', `(${afterSeq}`, '+inf', 'LIMIT', 0, Math.floor(limit)));
    return members.map(parseEvent);
  }

  // --- records ---

  collection<T extends { id: number }>(name: string, spec?: CollectionSpec<T>): Collection<T> {
    return new RedisCollection<T>(this.conn, name, spec?.unique ?? []);
  }

  // --- online GC ---

  async touchBlobLink(repository: string, digest: Digest): Promise<boolean> {
    return (await this.run((r) => r.berthTouchLink(1, rk(repository, 'links'), digest, Date.now()))) === 1;
  }

  async touchManifest(repository: string, digest: Digest): Promise<boolean> {
    return this.run(async (r) => {
      if (!(await r.hexists(rk(repository, 'manifests'), digest))) return false;
      await r.hset(rk(repository, 'mtouch'), digest, Date.now());
      return true;
    });
  }

  async pinBlob(digest: Digest, ttlMs: number): Promise<Lock> {
    const lock = await this.guard(digest, 'pin', ttlMs);
    if (!lock) throw new BlobFencedError(digest);
    return lock;
  }

  fenceBlob(digest: Digest, ttlMs: number): Promise<Lock | undefined> {
    return this.guard(digest, 'fence', ttlMs);
  }

  async sweepManifest(repository: string, digest: Digest, before: number, version: TagVersion): Promise<boolean> {
    await this.gcIndexes();
    const n = await this.run((r) =>
      r.berthSweepManifest(14, ...repoKeys(repository), gcIndexesBuilt, repository, digest, Math.floor(before), ...versionArgs(version), Date.now()),
    );
    return n === 1;
  }

  async sweepBlobLink(repository: string, digest: Digest, before: number): Promise<boolean> {
    await this.gcIndexes();
    const n = await this.run((r) =>
      r.berthSweepLink(4, rk(repository, 'links'), 'bloblinks', rk(repository, 'refs'), gcIndexesBuilt, repository, digest, Math.floor(before)),
    );
    return n === 1;
  }

  private async guard(digest: Digest, kind: 'pin' | 'fence', ttlMs: number): Promise<Lock | undefined> {
    const id = randomUUID();
    const key = guardKey(digest);
    const ok = await this.run((r) => r.berthGuard(3, key, 'bloblinks', 'manifestrepos', digest, kind, id, Math.max(1, Math.ceil(ttlMs)), Date.now()));
    if (ok !== 1) return undefined;
    return {
      release: async () => {
        await this.run((r) => r.hdel(key, id));
      },
    };
  }

  /** Data written before the GC indexes existed gets them once (every instance may run this; it is idempotent);
   *  until `schema:gcrefs` is set, sweeps keep everything. */
  private gcIndexesReady: Promise<void> | undefined;
  private gcIndexes(): Promise<void> {
    this.gcIndexesReady ??= (async () => {
      if ((await this.run((r) => r.exists(gcIndexesBuilt))) === 1) return;
      for (let last: string | undefined; ; ) {
        const page = await this.listRepositories({ last, n: 500 });
        for (const repo of page) {
          await this.run((r) => r.berthBackfillRefs(3, rk(repo, 'manifests'), rk(repo, 'refs'), 'manifestrepos', repo));
        }
        if (page.length < 500) break;
        last = page[page.length - 1];
      }
      await this.run((r) => r.set(gcIndexesBuilt, '1'));
    })().catch((e: unknown) => {
      this.gcIndexesReady = undefined;
      throw e;
    });
    return this.gcIndexesReady;
  }

  // --- coordination ---

  // --- usage ledgers ---

  async chargeUsage(scope: string, item: string, size: number, limit: number): Promise<UsageCharge> {
    const [code, total] = (await this.run((r) =>
      r.berthChargeUsage(2, usageKey(scope, 'items'), usageKey(scope, 'total'), item, Math.floor(size), Math.floor(limit), Date.now()),
    )) as [number, number];
    return { outcome: code === 1 ? 'charged' : code === 0 ? 'present' : 'refused', total: Number(total) };
  }

  async releaseUsage(scope: string, item: string, holders: string, chargedBefore?: number): Promise<boolean> {
    const n = await this.run((r) =>
      r.berthReleaseUsage(4, usageKey(scope, 'items'), usageKey(scope, 'total'), 'bloblinks', 'manifestrepos', item, holders, chargedBefore === undefined ? '' : Math.floor(chargedBefore)),
    );
    return n === 1;
  }

  async usageOf(scope: string): Promise<number> {
    return Number((await this.run((r) => r.get(usageKey(scope, 'total')))) ?? 0);
  }

  async usageItems(scope: string): Promise<UsageItem[]> {
    const all = await this.run((r) => r.hgetall(usageKey(scope, 'items')));
    return Object.entries(all)
      .map(([item, v]) => {
        const [size, at] = v.split(' ');
        return { item, size: Number(size), chargedAt: Number(at) };
      })
      .sort((a, b) => byteCompare(a.item, b.item));
  }

  async acquireLock(name: string, ttlMs: number): Promise<HeldLock | undefined> {
    const owner = randomUUID();
    const key = lockKey(name);
    const ok = await this.run((r) => r.set(key, owner, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'));
    if (ok !== 'OK') return undefined;
    return {
      // only the owner's token deletes: after expiry another instance may hold the lock
      release: async () => {
        await this.run((r) => r.berthReleaseLock(1, key, owner));
      },
      extend: async (ms: number) => Number(await this.run((r) => r.berthExtendLock(1, key, owner, Math.max(1, Math.ceil(ms))))) === 1,
    };
  }

  async ping(): Promise<void> {
    await this.run((r) => r.ping());
  }

  /** Another connection with this store's settings, not yet connected (pub/sub needs one of its own). The
   *  caller connects and closes it. */
  duplicateConnection(): Redis | Cluster {
    return this.conn.duplicate();
  }

  close(): Promise<void> {
    return this.conn.close();
  }

  /** Runs commands once connected; every failure to reach Redis becomes StorageUnavailableError. */
  run<T>(fn: (r: Client) => Promise<T>): Promise<T> {
    return this.conn.run(fn);
  }

  private async lexPage(key: string, page?: Page): Promise<string[]> {
    if (page?.n !== undefined && page.n <= 0) return [];
    const min = page?.last ? `(${page.last}` : '-';
    return this.run((r) =>
      page?.n === undefined ? r.zrangebylex(key, min, '+') : r.zrangebylex(key, min, '+', 'LIMIT', 0, Math.floor(page.n)),
    );
  }
}
