// The SQLite MetaStore's schema, as ordered migration steps.
import type Database from 'better-sqlite3';
import { immediate } from './database.js';

/** Ordered schema steps; `PRAGMA user_version` counts how many ran. Append, never edit a released one. */
export const migrations: string[] = [
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
  // Usage ledgers (project quotas): each item (digest) counted once per scope, and the running total.
  `
  CREATE TABLE usage_items (
    scope      TEXT NOT NULL,
    item       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    charged_at INTEGER NOT NULL,
    PRIMARY KEY (scope, item)
  ) WITHOUT ROWID;
  CREATE TABLE usage_totals (
    scope TEXT PRIMARY KEY,
    total INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** Applies the migrations not yet run, each in its own IMMEDIATE transaction so two processes opening a fresh
 *  file at once do not both run it. */
export function migrate(db: Database.Database): void {
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
