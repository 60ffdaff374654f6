// The SQLite MetaStore's fixed statements, prepared once per database.
import type Database from 'better-sqlite3';

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
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
    extendLock: p('UPDATE locks SET expires_at = @expires WHERE name = @name AND owner = @owner AND expires_at > @now'),

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
