// The SQLite MetaStore's writes that touch several rows, each one IMMEDIATE transaction: a manifest with its
// references, tag and outbox events; tag, manifest and repository deletes; blob links, guards and GC sweeps.
import type Database from 'better-sqlite3';
import type { Digest } from '../../../core/digest.js';
import { compareVersions, type TagVersion } from '../../../core/hlc.js';
import { decideTagWrite } from '../../../core/tag-write.js';
import {
  BlobFencedError,
  MissingReferencesError,
  type ManifestRecord,
  type OutboxEventType,
  type PutManifestOptions,
  type TagWrite,
  type TagWriteResult,
} from '../meta-store.js';
import { immediate } from './database.js';
import { versionOf, type TagRow } from './rows.js';
import type { Statements } from './statements.js';

export class SqliteTransactions {
  readonly putManifest: (repository: string, record: ManifestRecord, tag?: TagWrite, opts?: PutManifestOptions) => TagWriteResult | undefined;
  readonly linkBlob: (repository: string, digest: Digest, size: number) => void;
  readonly guard: (digest: Digest, kind: 'pin' | 'fence', id: string, ttlMs: number) => boolean;
  readonly sweepManifest: (repository: string, digest: Digest, before: number, version: TagVersion) => boolean;
  readonly sweepBlobLink: (repository: string, digest: Digest, before: number) => boolean;
  readonly deleteTag: (repository: string, tag: string, version: TagVersion, origin?: string) => TagWriteResult;
  readonly deleteManifest: (repository: string, digest: Digest, version: TagVersion, origin?: string) => string[] | undefined;
  readonly deleteRepository: (repository: string, version: TagVersion) => void;

  constructor(
    db: Database.Database,
    private readonly stmt: Statements,
  ) {
    this.putManifest = immediate(db, (repository, record, tag, opts) => this.doPutManifest(repository, record, tag, opts));
    this.linkBlob = immediate(db, (repository, digest, size) => {
      const now = Date.now();
      if (this.stmt.guarded.get(digest, 'fence', now)) throw new BlobFencedError(digest);
      this.stmt.linkBlob.run(repository, digest, size, now);
    });
    this.guard = immediate(db, (digest, kind, id, ttlMs) => this.doGuard(digest, kind, id, ttlMs));
    this.sweepManifest = immediate(db, (repository, digest, before, version) => this.doSweepManifest(repository, digest, before, version));
    this.sweepBlobLink = immediate(db, (repository, digest, before) => {
      const link = this.stmt.getBlobLink.get(repository, digest) as { linked_at: number } | undefined;
      if (!link || link.linked_at >= before) return false;
      if (this.stmt.referencedAs.get(repository, digest, 'blob')) return false;
      return this.stmt.unlinkBlob.run(repository, digest).changes > 0;
    });
    this.deleteTag = immediate(db, (repository, tag, version, origin) => {
      const row = this.stmt.getTagRow.get(repository, tag) as TagRow | undefined;
      return this.writeTag(repository, tag, row, null, version, origin);
    });
    this.deleteManifest = immediate(db, (repository, digest, version, origin) =>
      this.doDeleteManifest(repository, digest, version, origin),
    );
    this.deleteRepository = immediate(db, (repository, version) => this.doDeleteRepository(repository, version));
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
