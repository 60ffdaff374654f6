import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Digest } from '../../core/digest.js';
import { compareVersions, type TagVersion } from '../../core/hlc.js';
import { decideTagWrite } from '../../core/tag-write.js';
import { StorageUnavailableError } from '../blob/blob-store.js';
import {
  ConflictError,
  NotFoundError,
  type Collection,
  type CollectionSpec,
  type FieldValue,
  type ListQuery,
  type Lock,
  type ManifestRecord,
  type PutManifestOptions,
  BlobFencedError,
  MissingReferencesError,
  type MetaStore,
  type OutboxEvent,
  type OutboxEventType,
  type Page,
  type TagRecord,
  type TagWrite,
  type TagWriteResult,
  type UploadSession,
} from './meta-store.js';

// The default MetaStore: one SQLite file in WAL mode. better-sqlite3 is synchronous, so every method is a
// synchronous call wrapped in a promise; writes that touch several rows run in one IMMEDIATE transaction, which
// takes SQLite's write lock up front — two processes on one file (`berth serve` and `berth gc`) then queue on
// busy_timeout instead of failing when a read lock cannot be upgraded.

/** Ordered schema steps; `PRAGMA user_version` counts how many ran. Append, never edit a released one. */
const migrations: string[] = [
  `
  CREATE TABLE manifests (
    repository    TEXT NOT NULL,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    artifact_type TEXT,
    subject       TEXT,
    blobs         TEXT NOT NULL, -- JSON array in manifest order (the record round-trips exactly)
    children      TEXT NOT NULL, -- JSON array
    annotations   TEXT,          -- JSON object
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository, digest)
  ) WITHOUT ROWID;
  CREATE INDEX manifests_by_subject ON manifests (repository, subject) WHERE subject IS NOT NULL;

  -- What each manifest references, one row per distinct target: GC asks "is this digest still referenced?".
  CREATE TABLE manifest_refs (
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    ref        TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('blob', 'child')),
    PRIMARY KEY (repository, digest, kind, ref),
    FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE INDEX manifest_refs_by_ref ON manifest_refs (ref, kind);

  -- digest NULL is a tombstone; the version stays so a late, older write still loses.
  CREATE TABLE tags (
    repository TEXT NOT NULL,
    name       TEXT NOT NULL,
    digest     TEXT,
    wall       INTEGER NOT NULL,
    logical    INTEGER NOT NULL,
    idc        TEXT NOT NULL,
    PRIMARY KEY (repository, name)
  ) WITHOUT ROWID;
  CREATE INDEX tags_by_digest ON tags (repository, digest) WHERE digest IS NOT NULL;

  CREATE TABLE blob_links (
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    linked_at  INTEGER NOT NULL,
    PRIMARY KEY (repository, digest)
  ) WITHOUT ROWID;
  CREATE INDEX blob_links_by_digest ON blob_links (digest, repository);

  CREATE TABLE uploads (
    id         TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    started_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- AUTOINCREMENT: a seq is never reused, even after the newest rows are pruned.
  CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT,
    tag        TEXT,
    wall       INTEGER,
    logical    INTEGER,
    idc        TEXT,
    origin     TEXT,
    at         INTEGER NOT NULL
  );

  CREATE TABLE locks (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE records (
    collection TEXT NOT NULL,
    id         INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (collection, id)
  ) WITHOUT ROWID;
  -- One row per unique field value; the primary key is what enforces uniqueness. value is JSON-encoded so
  -- the number 1 and the string "1" stay distinct.
  CREATE TABLE record_keys (
    collection TEXT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    id         INTEGER NOT NULL,
    PRIMARY KEY (collection, field, value),
    FOREIGN KEY (collection, id) REFERENCES records (collection, id) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE INDEX record_keys_by_record ON record_keys (collection, id);
  -- The last id handed out per collection, so ids never go back even when the newest document is deleted.
  CREATE TABLE record_ids (
    collection TEXT PRIMARY KEY,
    last_id    INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // Online GC: when a client last relied on a manifest, the manifests holding a digest anywhere, and the pins
  // (writers storing bytes) and fences (a collector deleting them) on a digest.
  `
  ALTER TABLE manifests ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX manifests_by_digest ON manifests (digest);
  CREATE TABLE blob_guards (
    digest     TEXT NOT NULL,
    id         TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('pin', 'fence')),
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (digest, id)
  ) WITHOUT ROWID;
  `,
];

export interface SqliteMetaStoreOptions {
  /** Database file, or ':memory:'. Its directory is created when missing. */
  path: string;
}

interface ManifestRow {
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  subject: string | null;
  blobs: string;
  children: string;
  annotations: string | null;
  created_at: number;
}

interface TagRow {
  repository: string;
  name: string;
  digest: string | null;
  wall: number;
  logical: number;
  idc: string;
}

interface OutboxRow {
  seq: number;
  type: OutboxEventType;
  repository: string;
  digest: string | null;
  tag: string | null;
  wall: number | null;
  logical: number | null;
  idc: string | null;
  origin: string | null;
  at: number;
}

type Statement = Database.Statement<unknown[], unknown>;
type Statements = ReturnType<typeof prepareStatements>;

/** Statements for SQL assembled at run time, each prepared the first time its text is seen. */
class StatementCache {
  private readonly byText = new Map<string, Statement>();
  constructor(private readonly db: Database.Database) {}

  get(sql: string): Statement {
    let s = this.byText.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.byText.set(sql, s);
    }
    return s;
  }
}

/** Runs a synchronous database call as a promise. Failures that mean "the database cannot serve now" become
 *  StorageUnavailableError (a 503 upstream); everything else passes through. */
function io<T>(db: Database.Database, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    if (!db.open) return Promise.reject(new StorageUnavailableError('metadata database is closed', { cause: e }));
    if (e instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY)/.test(e.code)) {
      return Promise.reject(new StorageUnavailableError(`metadata database unavailable: ${e.message}`, { cause: e }));
    }
    return Promise.reject(e);
  }
}

export class SqliteMetaStore implements MetaStore {
  private readonly stmt: Statements;
  /** Statements built from a query's shape (collection filters), prepared once per shape. */
  private readonly dynamic: StatementCache;
  private readonly putManifestTx: (repository: string, record: ManifestRecord, tag?: TagWrite, opts?: PutManifestOptions) => TagWriteResult | undefined;
  private readonly linkBlobTx: (repository: string, digest: Digest, size: number) => void;
  private readonly guardTx: (digest: Digest, kind: 'pin' | 'fence', id: string, ttlMs: number) => boolean;
  private readonly sweepManifestTx: (repository: string, digest: Digest, before: number, version: TagVersion) => boolean;
  private readonly sweepBlobLinkTx: (repository: string, digest: Digest, before: number) => boolean;
  private readonly deleteTagTx: (repository: string, tag: string, version: TagVersion, origin?: string) => TagWriteResult;
  private readonly deleteManifestTx: (repository: string, digest: Digest, version: TagVersion, origin?: string) => string[] | undefined;
  private readonly deleteRepositoryTx: (repository: string, version: TagVersion) => void;

  private constructor(private readonly db: Database.Database) {
    this.stmt = prepareStatements(db);
    this.dynamic = new StatementCache(db);
    this.putManifestTx = immediate(db, (repository, record, tag, opts) => this.doPutManifest(repository, record, tag, opts));
    this.linkBlobTx = immediate(db, (repository, digest, size) => {
      const now = Date.now();
      if (this.stmt.guarded.get(digest, 'fence', now)) throw new BlobFencedError(digest);
      this.stmt.linkBlob.run(repository, digest, size, now);
    });
    this.guardTx = immediate(db, (digest, kind, id, ttlMs) => this.doGuard(digest, kind, id, ttlMs));
    this.sweepManifestTx = immediate(db, (repository, digest, before, version) => this.doSweepManifest(repository, digest, before, version));
    this.sweepBlobLinkTx = immediate(db, (repository, digest, before) => {
      const link = this.stmt.getBlobLink.get(repository, digest) as { linked_at: number } | undefined;
      if (!link || link.linked_at >= before) return false;
      if (this.stmt.referencedAs.get(repository, digest, 'blob')) return false;
      return this.stmt.unlinkBlob.run(repository, digest).changes > 0;
    });
    this.deleteTagTx = immediate(db, (repository, tag, version, origin) => {
      const row = this.stmt.getTagRow.get(repository, tag) as TagRow | undefined;
      return this.writeTag(repository, tag, row, null, version, origin);
    });
    this.deleteManifestTx = immediate(db, (repository, digest, version, origin) =>
      this.doDeleteManifest(repository, digest, version, origin),
    );
    this.deleteRepositoryTx = immediate(db, (repository, version) => this.doDeleteRepository(repository, version));
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
    return this.io(() => this.deleteRepositoryTx(repository, version));
  }

  // --- blob links ---

  linkBlob(repository: string, digest: Digest, size: number): Promise<void> {
    return this.io(() => this.linkBlobTx(repository, digest, size));
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
    return this.io(() => this.putManifestTx(repository, record, tag, opts));
  }

  getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    return this.io(() => {
      const row = this.stmt.getManifest.get(repository, digest) as ManifestRow | undefined;
      return row && manifestOf(row);
    });
  }

  deleteManifest(repository: string, digest: Digest, version: TagVersion, origin?: string): Promise<string[] | undefined> {
    return this.io(() => this.deleteManifestTx(repository, digest, version, origin));
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
    return this.io(() => this.deleteTagTx(repository, tag, version, origin));
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
      if (!this.guardTx(digest, 'pin', id, ttlMs)) throw new BlobFencedError(digest);
      return this.guardLock(digest, id);
    });
  }

  fenceBlob(digest: Digest, ttlMs: number): Promise<Lock | undefined> {
    return this.io(() => {
      const id = randomUUID();
      return this.guardTx(digest, 'fence', id, ttlMs) ? this.guardLock(digest, id) : undefined;
    });
  }

  sweepManifest(repository: string, digest: Digest, before: number, version: TagVersion): Promise<boolean> {
    return this.io(() => this.sweepManifestTx(repository, digest, before, version));
  }

  sweepBlobLink(repository: string, digest: Digest, before: number): Promise<boolean> {
    return this.io(() => this.sweepBlobLinkTx(repository, digest, before));
  }

  // --- coordination ---

  acquireLock(name: string, ttlMs: number): Promise<Lock | undefined> {
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

  // --- internals ---

  private io<T>(fn: () => T): Promise<T> {
    return io(this.db, fn);
  }

  /** A pin is refused while a fence stands; a fence while anything links, indexes or pins the digest. Expired
   *  guards (a crashed writer or collector) count for nothing and are cleared here. */
  private doGuard(digest: Digest, kind: 'pin' | 'fence', id: string, ttlMs: number): boolean {
    const now = Date.now();
    this.stmt.clearExpiredGuards.run(digest, now);
    if (this.stmt.guarded.get(digest, 'fence', now)) return false;
    if (kind === 'fence') {
      if (this.stmt.guarded.get(digest, 'pin', now)) return false;
      if (this.stmt.linkedAnywhere.get(digest) || this.stmt.manifestAnywhere.get(digest)) return false;
    }
    this.stmt.insertGuard.run(digest, id, kind, now + Math.max(1, ttlMs));
    return true;
  }

  private guardLock(digest: Digest, id: string): Lock {
    return {
      release: () =>
        this.io(() => {
          this.stmt.deleteGuard.run(digest, id);
        }),
    };
  }

  private doSweepManifest(repository: string, digest: Digest, before: number, version: TagVersion): boolean {
    const row = this.stmt.getManifestTouch.get(repository, digest) as { created_at: number; touched_at: number; subject: string | null } | undefined;
    if (!row || Math.max(row.created_at, row.touched_at) >= before) return false;
    if (this.stmt.liveTagsOn.get(repository, digest)) return false;
    if (this.stmt.referencedAs.get(repository, digest, 'child')) return false;
    if (row.subject !== null && this.stmt.getManifest.get(repository, row.subject)) return false;
    this.doDeleteManifest(repository, digest, version, 'gc');
    return true;
  }

  private doPutManifest(repository: string, record: ManifestRecord, tag?: TagWrite, opts?: PutManifestOptions): TagWriteResult | undefined {
    if (opts?.requireReferences) {
      const missing = [
        ...record.blobs.filter((d) => !this.stmt.getBlobLink.get(repository, d)),
        ...record.children.filter((d) => !this.stmt.getManifest.get(repository, d)),
      ];
      if (missing.length > 0) throw new MissingReferencesError([...new Set(missing)].sort());
    }
    const inserted = this.stmt.insertManifest.run({
      repository,
      digest: record.digest,
      media_type: record.mediaType,
      size: record.size,
      artifact_type: record.artifactType ?? null,
      subject: record.subject ?? null,
      blobs: JSON.stringify(record.blobs),
      children: JSON.stringify(record.children),
      annotations: record.annotations === undefined ? null : JSON.stringify(record.annotations),
      created_at: record.createdAt,
    }).changes;
    if (inserted === 0) this.stmt.touchManifest.run(Date.now(), repository, record.digest);
    if (inserted > 0) {
      for (const ref of record.blobs) this.stmt.insertRef.run(repository, record.digest, ref, 'blob');
      for (const ref of record.children) this.stmt.insertRef.run(repository, record.digest, ref, 'child');
      this.append('manifest.put', repository, { digest: record.digest, origin: tag?.origin });
    }
    if (!tag) return undefined;
    const row = this.stmt.getTagRow.get(repository, tag.name) as TagRow | undefined;
    return this.writeTag(repository, tag.name, row, record.digest, tag.version, tag.origin);
  }

  /** One tag write, `digest` null tombstoning, under the contract in meta-store.ts: a replicated write (with
   *  `origin`) is last-writer-wins, equal versions not stale; a local one never loses and, when the stored version
   *  is not older, is applied just after it. */
  private writeTag(
    repository: string,
    name: string,
    row: TagRow | undefined,
    digest: Digest | null,
    version: TagVersion,
    origin: string | undefined,
  ): TagWriteResult {
    const decision = decideTagWrite(row && { digest: row.digest, version: versionOf(row) }, digest, version, !!origin);
    if (decision.result === 'unchanged' && decision.raiseTo) {
      this.stmt.setTagVersion.run(decision.raiseTo.wall, decision.raiseTo.logical, decision.raiseTo.idc, repository, name);
    }
    if (decision.result !== 'applied') return decision.result;
    version = decision.version;
    this.stmt.upsertTag.run(repository, name, digest, version.wall, version.logical, version.idc);
    if (digest === null) {
      this.append('tag.delete', repository, { digest: row?.digest ?? undefined, tag: name, version, origin });
    } else {
      this.append('tag.put', repository, { digest, tag: name, version, origin });
    }
    return 'applied';
  }

  /** Tombstones a live tag whatever its version (its manifest or repository is going away); the tombstone keeps
   *  the newer of the two versions so the order seen by replication never goes backwards. */
  private tombstone(row: TagRow, version: TagVersion, origin: string | undefined): void {
    const stored = versionOf(row);
    const kept = compareVersions(stored, version) > 0 ? stored : version;
    this.stmt.upsertTag.run(row.repository, row.name, null, kept.wall, kept.logical, kept.idc);
    this.append('tag.delete', row.repository, { digest: row.digest ?? undefined, tag: row.name, version: kept, origin });
  }

  private doDeleteManifest(repository: string, digest: Digest, version: TagVersion, origin?: string): string[] | undefined {
    if (this.stmt.getManifest.get(repository, digest) === undefined) return undefined;
    const tags = this.stmt.liveTagsOn.all(repository, digest) as TagRow[];
    for (const row of tags) this.tombstone(row, version, origin);
    this.stmt.deleteManifest.run(repository, digest); // refs go by ON DELETE CASCADE
    this.append('manifest.delete', repository, { digest, version, origin });
    return tags.map((r) => r.name);
  }

  private doDeleteRepository(repository: string, version: TagVersion): void {
    for (const row of this.stmt.liveTags.all(repository) as TagRow[]) this.tombstone(row, version, undefined);
    for (const { digest } of this.stmt.manifestDigests.all(repository) as { digest: Digest }[]) {
      this.append('manifest.delete', repository, { digest, version });
    }
    this.stmt.deleteManifests.run(repository);
    this.stmt.deleteBlobLinks.run(repository);
  }

  private append(
    type: OutboxEventType,
    repository: string,
    e: { digest?: string; tag?: string; version?: TagVersion; origin?: string | undefined },
  ): void {
    this.stmt.appendEvent.run(
      type,
      repository,
      e.digest ?? null,
      e.tag ?? null,
      e.version?.wall ?? null,
      e.version?.logical ?? null,
      e.version?.idc ?? null,
      e.origin ?? null,
      Date.now(),
    );
  }
}

class SqliteCollection<T extends { id: number }> implements Collection<T> {
  private readonly insertTx: (doc: Omit<T, 'id'>) => T;
  private readonly updateTx: (doc: T) => void;
  private readonly listTx: (query: ListQuery<T>) => { items: T[]; total: number };

  constructor(
    private readonly db: Database.Database,
    private readonly stmt: Statements,
    dynamic: StatementCache,
    private readonly name: string,
    private readonly unique: readonly string[],
  ) {
    this.insertTx = immediate(db, (doc: Omit<T, 'id'>) => {
      const { last_id: id } = stmt.nextRecordId.get(name) as { last_id: number };
      const full = { ...doc, id } as T;
      stmt.insertRecord.run(name, id, JSON.stringify(full));
      this.claimKeys(full);
      return full;
    });
    this.updateTx = immediate(db, (doc: T) => {
      if (stmt.getRecord.get(name, doc.id) === undefined) throw new NotFoundError(name, doc.id);
      stmt.deleteRecordKeys.run(name, doc.id);
      stmt.updateRecord.run(JSON.stringify(doc), name, doc.id);
      this.claimKeys(doc);
    });
    // A read transaction: items and total come from one snapshot.
    this.listTx = db.transaction((query: ListQuery<T>) => {
      const { sql, params } = whereClause(query.where);
      const order = query.order === 'desc' ? 'DESC' : 'ASC';
      const rows = dynamic
        .get(`SELECT doc FROM records WHERE collection = ?${sql} ORDER BY id ${order} LIMIT ? OFFSET ?`)
        .all(name, ...params, limitOf(query.limit), Math.max(0, query.offset ?? 0)) as { doc: string }[];
      const count = dynamic.get(`SELECT count(*) AS n FROM records WHERE collection = ?${sql}`);
      const { n } = count.get(name, ...params) as { n: number };
      return { items: rows.map((r) => JSON.parse(r.doc) as T), total: n };
    });
  }

  insert(doc: Omit<T, 'id'>): Promise<T> {
    return io(this.db, () => this.insertTx(doc));
  }

  get(id: number): Promise<T | undefined> {
    return io(this.db, () => {
      const row = this.stmt.getRecord.get(this.name, id) as { doc: string } | undefined;
      return row && (JSON.parse(row.doc) as T);
    });
  }

  findOne(field: keyof T & string, value: FieldValue): Promise<T | undefined> {
    return io(this.db, () => {
      if (this.unique.includes(field) && value !== null) {
        const row = this.stmt.findByKey.get(this.name, field, JSON.stringify(value)) as { doc: string } | undefined;
        return row && (JSON.parse(row.doc) as T);
      }
      const where = { [field]: value } as ListQuery<T>['where'];
      return this.listTx({ where, limit: 1 }).items[0];
    });
  }

  update(doc: T): Promise<void> {
    return io(this.db, () => this.updateTx(doc));
  }

  delete(id: number): Promise<boolean> {
    // record_keys rows go by ON DELETE CASCADE.
    return io(this.db, () => this.stmt.deleteRecord.run(this.name, id).changes > 0);
  }

  list(query: ListQuery<T> = {}): Promise<{ items: T[]; total: number }> {
    return io(this.db, () => this.listTx(query));
  }

  /** Inside a transaction: records the document's unique values, or throws ConflictError (rolling back). */
  private claimKeys(doc: T): void {
    for (const field of this.unique) {
      const value = (doc as Record<string, unknown>)[field];
      if (value === undefined || value === null) continue; // like SQL: absent values never collide
      const { changes } = this.stmt.claimKey.run(this.name, field, JSON.stringify(value), doc.id);
      if (changes === 0) throw new ConflictError(this.name, field);
    }
  }
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const tagColumns = 'repository, name, digest, wall, logical, idc';
  const manifestColumns = 'digest, media_type, size, artifact_type, subject, blobs, children, annotations, created_at';
  return {
    ping: p('SELECT 1'),
    listRepositories: p(`
      SELECT repository FROM (
        SELECT repository FROM manifests WHERE repository > @last
        UNION
        SELECT repository FROM tags WHERE digest IS NOT NULL AND repository > @last
      ) ORDER BY repository COLLATE BINARY LIMIT @n`),
    repositoryExists: p(`
      SELECT 1 WHERE EXISTS (SELECT 1 FROM manifests WHERE repository = ?)
                  OR EXISTS (SELECT 1 FROM tags WHERE repository = ? AND digest IS NOT NULL)`),

    linkBlob: p(`
      INSERT INTO blob_links (repository, digest, size, linked_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (repository, digest) DO UPDATE SET size = excluded.size, linked_at = excluded.linked_at`),
    getBlobLink: p('SELECT size, linked_at FROM blob_links WHERE repository = ? AND digest = ?'),
    unlinkBlob: p('DELETE FROM blob_links WHERE repository = ? AND digest = ?'),
    blobRepositories: p('SELECT repository FROM blob_links WHERE digest = ? ORDER BY repository COLLATE BINARY LIMIT ?'),
    listBlobLinks: p('SELECT digest, size, linked_at FROM blob_links WHERE repository = ? ORDER BY digest'),
    deleteBlobLinks: p('DELETE FROM blob_links WHERE repository = ?'),
    touchBlobLink: p('UPDATE blob_links SET linked_at = ? WHERE repository = ? AND digest = ?'),
    touchManifest: p('UPDATE manifests SET touched_at = ? WHERE repository = ? AND digest = ?'),
    getManifestTouch: p('SELECT created_at, touched_at, subject FROM manifests WHERE repository = ? AND digest = ?'),
    referencedAs: p('SELECT 1 FROM manifest_refs WHERE repository = ? AND ref = ? AND kind = ? LIMIT 1'),
    linkedAnywhere: p('SELECT 1 FROM blob_links WHERE digest = ? LIMIT 1'),
    manifestAnywhere: p('SELECT 1 FROM manifests WHERE digest = ? LIMIT 1'),
    guarded: p('SELECT 1 FROM blob_guards WHERE digest = ? AND kind = ? AND expires_at > ? LIMIT 1'),
    clearExpiredGuards: p('DELETE FROM blob_guards WHERE digest = ? AND expires_at <= ?'),
    insertGuard: p('INSERT INTO blob_guards (digest, id, kind, expires_at) VALUES (?, ?, ?, ?)'),
    deleteGuard: p('DELETE FROM blob_guards WHERE digest = ? AND id = ?'),

    insertManifest: p(`
      INSERT INTO manifests (repository, ${manifestColumns})
      VALUES (@repository, @digest, @media_type, @size, @artifact_type, @subject, @blobs, @children, @annotations, @created_at)
      ON CONFLICT (repository, digest) DO NOTHING`),
    insertRef: p('INSERT OR IGNORE INTO manifest_refs (repository, digest, ref, kind) VALUES (?, ?, ?, ?)'),
    getManifest: p(`SELECT ${manifestColumns} FROM manifests WHERE repository = ? AND digest = ?`),
    listManifests: p(`SELECT ${manifestColumns} FROM manifests WHERE repository = ? ORDER BY digest`),
    listReferrers: p(`SELECT ${manifestColumns} FROM manifests WHERE repository = ? AND subject = ? ORDER BY digest`),
    manifestDigests: p('SELECT digest FROM manifests WHERE repository = ? ORDER BY digest'),
    deleteManifest: p('DELETE FROM manifests WHERE repository = ? AND digest = ?'),
    deleteManifests: p('DELETE FROM manifests WHERE repository = ?'),

    getTagRow: p(`SELECT ${tagColumns} FROM tags WHERE repository = ? AND name = ?`),
    upsertTag: p(`
      INSERT INTO tags (${tagColumns}) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (repository, name) DO UPDATE SET
        digest = excluded.digest, wall = excluded.wall, logical = excluded.logical, idc = excluded.idc`),
    setTagVersion: p('UPDATE tags SET wall = ?, logical = ?, idc = ? WHERE repository = ? AND name = ?'),
    listTags: p(`
      SELECT name FROM tags WHERE repository = ? AND digest IS NOT NULL AND name > ?
      ORDER BY name COLLATE BINARY LIMIT ?`),
    listTagRecords: p(`SELECT ${tagColumns} FROM tags WHERE repository = ? ORDER BY name`),
    liveTags: p(`SELECT ${tagColumns} FROM tags WHERE repository = ? AND digest IS NOT NULL ORDER BY name`),
    liveTagsOn: p(`SELECT ${tagColumns} FROM tags WHERE repository = ? AND digest = ? ORDER BY name`),

    createUpload: p('INSERT INTO uploads (id, repository, started_at) VALUES (?, ?, ?)'),
    getUpload: p('SELECT id, repository, started_at FROM uploads WHERE id = ?'),
    deleteUpload: p('DELETE FROM uploads WHERE id = ?'),
    listUploads: p('SELECT id, repository, started_at FROM uploads ORDER BY started_at, id'),

    appendEvent: p(`
      INSERT INTO outbox (type, repository, digest, tag, wall, logical, idc, origin, at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    readOutbox: p('SELECT * FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),

    acquireLock: p(`
      INSERT INTO locks (name, owner, expires_at) VALUES (@name, @owner, @expires)
      ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
      WHERE locks.expires_at <= @now`),
    releaseLock: p('DELETE FROM locks WHERE name = ? AND owner = ?'),

    nextRecordId: p(`
      INSERT INTO record_ids (collection, last_id) VALUES (?, 1)
      ON CONFLICT (collection) DO UPDATE SET last_id = last_id + 1
      RETURNING last_id`),
    insertRecord: p('INSERT INTO records (collection, id, doc) VALUES (?, ?, ?)'),
    updateRecord: p('UPDATE records SET doc = ? WHERE collection = ? AND id = ?'),
    getRecord: p('SELECT doc FROM records WHERE collection = ? AND id = ?'),
    deleteRecord: p('DELETE FROM records WHERE collection = ? AND id = ?'),
    claimKey: p(`
      INSERT INTO record_keys (collection, field, value, id) VALUES (?, ?, ?, ?)
      ON CONFLICT (collection, field, value) DO NOTHING`),
    deleteRecordKeys: p('DELETE FROM record_keys WHERE collection = ? AND id = ?'),
    findByKey: p(`
      SELECT r.doc FROM record_keys k JOIN records r ON r.collection = k.collection AND r.id = k.id
      WHERE k.collection = ? AND k.field = ? AND k.value = ?`),
  };
}

/** Applies the migrations not yet run, each in its own IMMEDIATE transaction so two processes opening a fresh
 *  file at once do not both run it. */
function migrate(db: Database.Database): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const current = version();
  if (current > migrations.length) {
    throw new Error(`metadata database schema version ${current} is newer than this Berth (${migrations.length}); upgrade Berth`);
  }
  for (let next = current; next < migrations.length; next++) {
    immediate(db, () => {
      if (version() > next) return; // another process got here first
      db.exec(migrations[next]!);
      db.pragma(`user_version = ${next + 1}`);
    })();
  }
}

/** A write transaction that takes the write lock at BEGIN (see the note at the top). */
function immediate<A extends unknown[], R>(db: Database.Database, fn: (...args: A) => R): (...args: A) => R {
  const tx = db.transaction(fn);
  return (...args: A) => tx.immediate(...args);
}

const fieldName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Equality on top-level JSON fields, type included: 1 does not match "1" nor true. */
function whereClause(where: Record<string, FieldValue | undefined> | undefined): { sql: string; params: unknown[] } {
  let sql = '';
  const params: unknown[] = [];
  for (const [field, value] of Object.entries(where ?? {})) {
    if (value === undefined) continue;
    if (!fieldName.test(field)) throw new Error(`invalid field name ${JSON.stringify(field)}`);
    const path = `$.${field}`;
    if (value === null) {
      sql += ` AND json_type(doc, ?) = 'null'`;
      params.push(path);
    } else if (typeof value === 'boolean') {
      sql += ` AND json_type(doc, ?) = ?`;
      params.push(path, value ? 'true' : 'false');
    } else if (typeof value === 'number') {
      sql += ` AND json_type(doc, ?) IN ('integer', 'real') AND json_extract(doc, ?) = ?`;
      params.push(path, path, value);
    } else {
      sql += ` AND json_type(doc, ?) = 'text' AND json_extract(doc, ?) = ?`;
      params.push(path, path, value);
    }
  }
  return { sql, params };
}

/** SQLite LIMIT: -1 is "no limit". */
function limitOf(n: number | undefined): number {
  return n === undefined ? -1 : Math.max(0, Math.floor(n));
}

function versionOf(row: { wall: number; logical: number; idc: string }): TagVersion {
  return { wall: row.wall, logical: row.logical, idc: row.idc };
}

function tagOf(row: TagRow): TagRecord {
  return { repository: row.repository, name: row.name, digest: row.digest as Digest | null, version: versionOf(row) };
}

function manifestOf(row: ManifestRow): ManifestRecord {
  const m: ManifestRecord = {
    digest: row.digest as Digest,
    mediaType: row.media_type,
    size: row.size,
    blobs: JSON.parse(row.blobs) as Digest[],
    children: JSON.parse(row.children) as Digest[],
    createdAt: row.created_at,
  };
  if (row.artifact_type !== null) m.artifactType = row.artifact_type;
  if (row.subject !== null) m.subject = row.subject as Digest;
  if (row.annotations !== null) m.annotations = JSON.parse(row.annotations) as Record<string, string>;
  return m;
}

function eventOf(row: OutboxRow): OutboxEvent {
  const e: OutboxEvent = { seq: row.seq, type: row.type, repository: row.repository, at: row.at };
  if (row.digest !== null) e.digest = row.digest as Digest;
  if (row.tag !== null) e.tag = row.tag;
  if (row.wall !== null && row.logical !== null && row.idc !== null) {
    e.version = { wall: row.wall, logical: row.logical, idc: row.idc };
  }
  if (row.origin !== null) e.origin = row.origin;
  return e;
}
