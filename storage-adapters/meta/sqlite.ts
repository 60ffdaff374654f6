import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Digest } from '../../core/digest.js';
import type { TagVersion } from '../../core/hlc.js';
import { StorageUnavailableError } from '../blob/blob-store.js';
import {
  BlobFencedError,
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
import { SqliteCollection } from './sqlite/collection.js';
import { io, limitOf, StatementCache } from './sqlite/database.js';
import { eventOf, manifestOf, tagOf, type ManifestRow, type OutboxRow, type TagRow } from './sqlite/rows.js';
import { migrate, migrations } from './sqlite/schema.js';
import { prepareStatements, type Statements } from './sqlite/statements.js';
import { SqliteTransactions } from './sqlite/transactions.js';
import { SqliteUsage } from './sqlite/usage.js';

// The default MetaStore: one SQLite file in WAL mode. better-sqlite3 is synchronous, so every method is a
// synchronous call wrapped in a promise; writes that touch several rows run in one IMMEDIATE transaction, which
// takes SQLite's write lock up front — two processes on one file (`berth serve` and `berth gc`) then queue on
// busy_timeout instead of failing when a read lock cannot be upgraded.
// The parts, in sqlite/: the schema (schema.ts), the fixed statements (statements.ts), the multi-row writes
// (transactions.ts), record collections (collection.ts), rows and records (rows.ts).

export interface SqliteMetaStoreOptions {
  /** Database file, or ':memory:'. Its directory is created when missing. */
  path: string;
}

export class SqliteMetaStore implements MetaStore {
  private readonly stmt: Statements;
  /** Statements built from a query's shape (collection filters), prepared once per shape. */
  private readonly dynamic: StatementCache;
  private readonly tx: SqliteTransactions;
  private readonly usage: SqliteUsage;

  private constructor(private readonly db: Database.Database) {
    this.stmt = prepareStatements(db);
    this.dynamic = new StatementCache(db);
    this.tx = new SqliteTransactions(db, this.stmt);
    this.usage = new SqliteUsage(db);
  }

  static async open(options: SqliteMetaStoreOptions): Promise<SqliteMetaStore> {
    const memory = options.path === ':memory:';
    if (!memory) mkdirSync(dirname(options.path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(options.path);
    } catch (e) {
      throw new StorageUnavailableError(`cannot open metadata database ${options.path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      // busy_timeout first: the other pragmas and the migration may already wait on another process.
      db.pragma('busy_timeout = 5000');
      if (!memory) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db);
      return new SqliteMetaStore(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** The schema version this code writes (how many migrations exist). */
  static readonly schemaVersion = migrations.length;

  // --- repositories ---

  listRepositories(page?: Page): Promise<string[]> {
    return this.io(() => {
      const rows = this.stmt.listRepositories.all({ last: page?.last ?? '', n: limitOf(page?.n) }) as { repository: string }[];
      return rows.map((r) => r.repository);
    });
  }

  repositoryExists(repository: string): Promise<boolean> {
    return this.io(() => this.stmt.repositoryExists.get(repository, repository) !== undefined);
  }

  deleteRepository(repository: string, version: TagVersion): Promise<void> {
    return this.io(() => this.tx.deleteRepository(repository, version));
  }

  // --- blob links ---

  linkBlob(repository: string, digest: Digest, size: number): Promise<void> {
    return this.io(() => this.tx.linkBlob(repository, digest, size));
  }

  getBlobLink(repository: string, digest: Digest): Promise<{ size: number; linkedAt: number } | undefined> {
    return this.io(() => {
      const row = this.stmt.getBlobLink.get(repository, digest) as { size: number; linked_at: number } | undefined;
      return row && { size: row.size, linkedAt: row.linked_at };
    });
  }

  unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    return this.io(() => this.stmt.unlinkBlob.run(repository, digest).changes > 0);
  }

  blobRepositories(digest: Digest, limit?: number): Promise<string[]> {
    return this.io(() => {
      const rows = this.stmt.blobRepositories.all(digest, limitOf(limit)) as { repository: string }[];
      return rows.map((r) => r.repository);
    });
  }

  listBlobLinks(repository: string): Promise<{ digest: Digest; size: number; linkedAt: number }[]> {
    return this.io(() => {
      const rows = this.stmt.listBlobLinks.all(repository) as { digest: string; size: number; linked_at: number }[];
      return rows.map((r) => ({ digest: r.digest as Digest, size: r.size, linkedAt: r.linked_at }));
    });
  }

  // --- manifests ---

  putManifest(repository: string, record: ManifestRecord, tag?: TagWrite, opts?: PutManifestOptions): Promise<TagWriteResult | undefined> {
    return this.io(() => this.tx.putManifest(repository, record, tag, opts));
  }

  getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    return this.io(() => {
      const row = this.stmt.getManifest.get(repository, digest) as ManifestRow | undefined;
      return row && manifestOf(row);
    });
  }

  deleteManifest(repository: string, digest: Digest, version: TagVersion, origin?: string): Promise<string[] | undefined> {
    return this.io(() => this.tx.deleteManifest(repository, digest, version, origin));
  }

  listManifests(repository: string): Promise<ManifestRecord[]> {
    return this.io(() => (this.stmt.listManifests.all(repository) as ManifestRow[]).map(manifestOf));
  }

  listReferrers(repository: string, subject: Digest): Promise<ManifestRecord[]> {
    return this.io(() => (this.stmt.listReferrers.all(repository, subject) as ManifestRow[]).map(manifestOf));
  }

  // --- tags ---

  getTag(repository: string, tag: string): Promise<TagRecord | undefined> {
    return this.io(() => {
      const row = this.stmt.getTagRow.get(repository, tag) as TagRow | undefined;
      return row && row.digest !== null ? tagOf(row) : undefined;
    });
  }

  listTags(repository: string, page?: Page): Promise<string[]> {
    return this.io(() => {
      const rows = this.stmt.listTags.all(repository, page?.last ?? '', limitOf(page?.n)) as { name: string }[];
      return rows.map((r) => r.name);
    });
  }

  listTagRecords(repository: string): Promise<TagRecord[]> {
    return this.io(() => (this.stmt.listTagRecords.all(repository) as TagRow[]).map(tagOf));
  }

  deleteTag(repository: string, tag: string, version: TagVersion, origin?: string): Promise<TagWriteResult> {
    return this.io(() => this.tx.deleteTag(repository, tag, version, origin));
  }

  // --- upload sessions ---

  createUpload(session: UploadSession): Promise<void> {
    return this.io(() => {
      this.stmt.createUpload.run(session.id, session.repository, session.startedAt);
    });
  }

  getUpload(id: string): Promise<UploadSession | undefined> {
    return this.io(() => {
      const row = this.stmt.getUpload.get(id) as { id: string; repository: string; started_at: number } | undefined;
      return row && { id: row.id, repository: row.repository, startedAt: row.started_at };
    });
  }

  deleteUpload(id: string): Promise<void> {
    return this.io(() => {
      this.stmt.deleteUpload.run(id);
    });
  }

  listUploads(): Promise<UploadSession[]> {
    return this.io(() => {
      const rows = this.stmt.listUploads.all() as { id: string; repository: string; started_at: number }[];
      return rows.map((r) => ({ id: r.id, repository: r.repository, startedAt: r.started_at }));
    });
  }

  // --- outbox ---

  readOutbox(afterSeq: number, limit: number): Promise<OutboxEvent[]> {
    return this.io(() => (this.stmt.readOutbox.all(afterSeq, Math.max(0, limit)) as OutboxRow[]).map(eventOf));
  }

  // --- records ---

  collection<T extends { id: number }>(name: string, spec?: CollectionSpec<T>): Collection<T> {
    return new SqliteCollection<T>(this.db, this.stmt, this.dynamic, name, spec?.unique ?? []);
  }

  // --- online GC ---

  touchBlobLink(repository: string, digest: Digest): Promise<boolean> {
    return this.io(() => this.stmt.touchBlobLink.run(Date.now(), repository, digest).changes > 0);
  }

  touchManifest(repository: string, digest: Digest): Promise<boolean> {
    return this.io(() => this.stmt.touchManifest.run(Date.now(), repository, digest).changes > 0);
  }

  pinBlob(digest: Digest, ttlMs: number): Promise<Lock> {
    return this.io(() => {
      const id = randomUUID();
      if (!this.tx.guard(digest, 'pin', id, ttlMs)) throw new BlobFencedError(digest);
      return this.guardLock(digest, id);
    });
  }

  fenceBlob(digest: Digest, ttlMs: number): Promise<Lock | undefined> {
    return this.io(() => {
      const id = randomUUID();
      return this.tx.guard(digest, 'fence', id, ttlMs) ? this.guardLock(digest, id) : undefined;
    });
  }

  sweepManifest(repository: string, digest: Digest, before: number, version: TagVersion): Promise<boolean> {
    return this.io(() => this.tx.sweepManifest(repository, digest, before, version));
  }

  sweepBlobLink(repository: string, digest: Digest, before: number): Promise<boolean> {
    return this.io(() => this.tx.sweepBlobLink(repository, digest, before));
  }

  // --- coordination ---

  // --- usage ledgers ---

  chargeUsage(scope: string, item: string, size: number, limit: number): Promise<UsageCharge> {
    return this.io(() => this.usage.charge(scope, item, size, limit));
  }

  releaseUsage(scope: string, item: string, holders: string, chargedBefore?: number): Promise<boolean> {
    return this.io(() => this.usage.release(scope, item, holders, chargedBefore));
  }

  usageOf(scope: string): Promise<number> {
    return this.io(() => this.usage.totalOf(scope));
  }

  usageItems(scope: string): Promise<UsageItem[]> {
    return this.io(() => this.usage.list(scope));
  }

  acquireLock(name: string, ttlMs: number): Promise<HeldLock | undefined> {
    return this.io(() => {
      const owner = randomUUID();
      const now = Date.now();
      // One statement: insert, or take over only an expired row. SQLite's write lock makes it atomic across
      // processes sharing the file.
      const { changes } = this.stmt.acquireLock.run({ name, owner, expires: now + ttlMs, now });
      if (changes === 0) return undefined;
      return {
        release: () =>
          this.io(() => {
            this.stmt.releaseLock.run(name, owner);
          }),
        extend: (ms: number) =>
          this.io(() => {
            const at = Date.now();
            return this.stmt.extendLock.run({ name, owner, expires: at + ms, now: at }).changes > 0;
          }),
      };
    });
  }

  ping(): Promise<void> {
    return this.io(() => {
      this.stmt.ping.get();
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }


  private io<T>(fn: () => T): Promise<T> {
    return io(this.db, fn);
  }

  private guardLock(digest: Digest, id: string): Lock {
    return {
      release: () =>
        this.io(() => {
          this.stmt.deleteGuard.run(digest, id);
        }),
    };
  }
}
