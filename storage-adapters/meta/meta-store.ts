import type { Digest } from '../../core/digest.js';
import type { TagVersion } from '../../core/hlc.js';

// The MetaStore holds everything but bytes. Contract (every driver passes test/contract/meta-store):
// - a manifest, its optional tag and the outbox event describing the change are written in one atomic step;
// - tags carry versions; a delete leaves a tombstone (digest null) so replication can order it (last writer wins);
// - a tag write (putManifest with a tag, deleteTag) follows TagWriteResult's rule: last-writer-wins when it was
//   replicated from another IDC, never losing when it is local; deleteManifest and deleteRepository tombstone
//   whatever the versions;
// - listings are lexically sorted and paginate with `last` (exclusive) and `n`.

/** What the index knows of a stored manifest: enough for GC, referrers and content negotiation. */
export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  /** artifactType, or for an image manifest without one the config's media type (spec: referrers). */
  artifactType?: string;
  /** The manifest this one refers to (OCI 1.1 `subject`). */
  subject?: Digest;
  /** Blobs it references: config and layers. */
  blobs: Digest[];
  /** Manifests it references: an index's children. */
  children: Digest[];
  annotations?: Record<string, string>;
  createdAt: number;
}

export interface TagRecord {
  repository: string;
  name: string;
  /** null for a tombstone: the tag was deleted at `version`. */
  digest: Digest | null;
  version: TagVersion;
}

export type OutboxEventType = 'tag.put' | 'tag.delete' | 'manifest.put' | 'manifest.delete';

export interface OutboxEvent {
  /** Strictly increasing per store; consumers remember the last one they handled. */
  seq: number;
  type: OutboxEventType;
  repository: string;
  digest?: Digest;
  tag?: string;
  version?: TagVersion;
  /** IDC the change arrived from by replication, when it did (so the next hop never sends it back). */
  origin?: string;
  at: number;
}

export interface UploadSession {
  id: string;
  repository: string;
  startedAt: number;
}

export interface Page {
  /** Exclusive lower bound, lexically. */
  last?: string;
  /** At most this many; undefined means all. */
  n?: number;
}

/**
 * Tag writes (putManifest with a tag, deleteTag), each decided against the tag's stored record, live or tombstone,
 * in the same atomic step as its effect:
 * - Replicated (an `origin`: the write came from another IDC): last-writer-wins on the version. A newer stored
 *   version makes it `stale` (nothing changes, nothing is appended); an equal or older one lets it apply with the
 *   given version.
 * - Local (no origin): never loses, because each instance of an IDC versions with its own clock and a client's
 *   later write through a lagging instance must still win. When the stored version is newer than or equal to the
 *   given one, the write applies at { wall: stored.wall, logical: stored.logical + 1, idc: given.idc }, just after
 *   it; otherwise at the given version. Never `stale`.
 * Either way, a write that would not change the value (the same digest already live; a delete of a tombstone or of
 * a tag never written) is `unchanged` — or `stale` when replicated and older — appends nothing, and raises the
 * stored version to the given one when that is newer. `applied` appends `tag.put` or `tag.delete` carrying the
 * version stored.
 */
export type TagWriteResult = 'applied' | 'unchanged' | 'stale';

export interface TagWrite {
  name: string;
  version: TagVersion;
  /** Set when the write arrived by replication from another IDC (last-writer-wins); absent for a local write
   *  (never loses). See TagWriteResult. */
  origin?: string;
}

export interface PutManifestOptions {
  /** Refuse (MissingReferencesError) unless every blob of the record is linked in the repository and every child
   *  manifest is in it, checked in the same atomic step as the write (GC may be sweeping them). */
  requireReferences?: boolean;
}

export interface MetaStore {
  // --- repositories: a repository exists while it holds a manifest or a tag ---
  listRepositories(page?: Page): Promise<string[]>;
  repositoryExists(repository: string): Promise<boolean>;
  /** Removes a repository's tags (tombstoned, with events), manifests and blob links. */
  deleteRepository(repository: string, version: TagVersion): Promise<void>;

  // --- blobs linked into a repository (a blob is readable through a repository only when linked) ---
  /** Throws BlobFencedError while GC deletes the bytes. */
  linkBlob(repository: string, digest: Digest, size: number): Promise<void>;
  getBlobLink(repository: string, digest: Digest): Promise<{ size: number; linkedAt: number } | undefined>;
  unlinkBlob(repository: string, digest: Digest): Promise<boolean>;
  /** Repositories that hold a link to `digest` (mount without `from`, GC). */
  blobRepositories(digest: Digest, limit?: number): Promise<string[]>;
  /** Every blob link of a repository (GC). */
  listBlobLinks(repository: string): Promise<{ digest: Digest; size: number; linkedAt: number }[]>;

  // --- manifests ---
  /**
   * Indexes `record` in `repository` and, when `tag` is given, points the tag at it — one atomic step, which
   * also appends `manifest.put` (when new in this repository) and `tag.put` (when the tag moved) to the outbox.
   * The tag write follows TagWriteResult's rule: last-writer-wins on `tag.version` when `tag.origin` is set,
   * never losing when it is not.
   */
  putManifest(repository: string, record: ManifestRecord, tag?: TagWrite, opts?: PutManifestOptions): Promise<TagWriteResult | undefined>;
  getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined>;
  /** Removes the manifest and tombstones every tag pointing at it whatever its version (the tombstone keeps the
   *  newer of the two), with events. Returns the tags removed, or undefined when there was no such manifest. */
  deleteManifest(repository: string, digest: Digest, version: TagVersion, origin?: string): Promise<string[] | undefined>;
  listManifests(repository: string): Promise<ManifestRecord[]>;
  /** Manifests in `repository` whose subject is `subject`. */
  listReferrers(repository: string, subject: Digest): Promise<ManifestRecord[]>;

  // --- tags ---
  /** The live tag (tombstones are not returned). */
  getTag(repository: string, tag: string): Promise<TagRecord | undefined>;
  /** Live tag names, lexically sorted. */
  listTags(repository: string, page?: Page): Promise<string[]>;
  /** Every tag record of a repository, tombstones included (GC, anti-entropy). */
  listTagRecords(repository: string): Promise<TagRecord[]>;
  /** Tombstones the tag with a `tag.delete` event, under TagWriteResult's rule: last-writer-wins on `version`
   *  with an `origin`, never losing (bumped past the stored version when needed) without one. */
  deleteTag(repository: string, tag: string, version: TagVersion, origin?: string): Promise<TagWriteResult>;

  // --- upload sessions ---
  createUpload(session: UploadSession): Promise<void>;
  getUpload(id: string): Promise<UploadSession | undefined>;
  deleteUpload(id: string): Promise<void>;
  listUploads(): Promise<UploadSession[]>;

  // --- outbox: what replication consumes ---
  readOutbox(afterSeq: number, limit: number): Promise<OutboxEvent[]>;

  // --- records for the access-control and replication entities (users, projects, policies, …) ---
  collection<T extends { id: number }>(name: string, spec?: CollectionSpec<T>): Collection<T>;

  // --- online GC: every write that makes content reachable and every sweep of GC is decided, atomically, against
  // the other. A link exists only while its bytes do (links are made under a pin, bytes are deleted under a fence
  // that requires no link, no manifest and no pin), and a sweep removes only what is unreferenced at that moment.
  /** Records that a client relied on the link just now (HEAD answered 200): a sweep spares it until its cutoff
   *  passes this time. False when not linked. */
  touchBlobLink(repository: string, digest: Digest): Promise<boolean>;
  /** Records that a client relied on the manifest just now (HEAD answered 200). False when absent. */
  touchManifest(repository: string, digest: Digest): Promise<boolean>;
  /** Holds `digest`'s bytes against GC for `ttlMs` while a writer stores or links them. Throws BlobFencedError
   *  while a collector is deleting them (wait for its fence to go, then write the bytes again). */
  pinBlob(digest: Digest, ttlMs: number): Promise<Lock>;
  /** GC: claims `digest`'s bytes for deletion when no repository links them, no manifest has that digest and no
   *  pin holds them; undefined otherwise. Until released (or `ttlMs`), pinBlob and linkBlob throw BlobFencedError. */
  fenceBlob(digest: Digest, ttlMs: number): Promise<Lock | undefined>;
  /** GC: deletes the manifest (as deleteManifest, with `version` and origin "gc") only when, at that moment, no
   *  live tag points at it, no manifest of the repository lists it as a child, its subject is not in the
   *  repository, and it was last put or touched before `before`. */
  sweepManifest(repository: string, digest: Digest, before: number, version: TagVersion): Promise<boolean>;
  /** GC: removes the link only when no manifest of the repository references the blob and it was last linked or
   *  touched before `before`. */
  sweepBlobLink(repository: string, digest: Digest, before: number): Promise<boolean>;

  // --- usage ledgers (quotas): per scope, a set of items (digests) each counted once, and their total ---
  /** Adds `item` counted as `size` to ledger `scope` unless it is there already; when the new total would pass
   *  `limit` (negative: no limit) nothing changes and the charge is refused. Decided and applied in one atomic
   *  step, so concurrent charges never overshoot the limit together. */
  chargeUsage(scope: string, item: string, size: number, limit: number): Promise<UsageCharge>;
  /** Removes `item` from `scope` unless, at that moment, a repository whose name starts with `holders` links it
   *  as a blob or holds it as a manifest, or it was charged at or after `chargedBefore` (when given: a push that
   *  charged and has not linked yet). True when removed. */
  releaseUsage(scope: string, item: string, holders: string, chargedBefore?: number): Promise<boolean>;
  /** The total of `scope` (0 for a ledger never charged). */
  usageOf(scope: string): Promise<number>;
  /** Every item of `scope` with its size and when it was charged (recounts compare them with what is stored). */
  usageItems(scope: string): Promise<UsageItem[]>;

  // --- coordination ---
  /** A lease named `name` held for `ttlMs` unless released; undefined when someone else holds it. */
  acquireLock(name: string, ttlMs: number): Promise<HeldLock | undefined>;

  /** Throws StorageUnavailableError when the backend cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface UsageCharge {
  /** 'charged': added now; 'present': counted already, nothing changed; 'refused': it would pass the limit. */
  outcome: 'charged' | 'present' | 'refused';
  /** The ledger's total after the step. */
  total: number;
}

export interface UsageItem {
  item: string;
  size: number;
  chargedAt: number;
}

export interface Lock {
  release(): Promise<void>;
}

/** A named lock from acquireLock: its holder may push the expiry out while it works (a heartbeat), so a crash
 *  frees it within one short TTL instead of the longest time the work could take. */
export interface HeldLock extends Lock {
  /** The expiry moves to now + ttlMs if this holder still has it; false when it lapsed (someone else may hold it). */
  extend(ttlMs: number): Promise<boolean>;
}

export interface CollectionSpec<T> {
  /** Fields whose values are unique within the collection (ConflictError on a duplicate). */
  unique?: (keyof T & string)[];
}

export type FieldValue = string | number | boolean | null;

export interface ListQuery<T> {
  /** Equality on top-level fields. */
  where?: Partial<Record<keyof T & string, FieldValue>>;
  offset?: number;
  limit?: number;
  /** By id. */
  order?: 'asc' | 'desc';
}

/** A collection of JSON documents with numeric ids assigned in increasing order. */
export interface Collection<T extends { id: number }> {
  insert(doc: Omit<T, 'id'>): Promise<T>;
  get(id: number): Promise<T | undefined>;
  /** The document whose `field` equals `value` (meant for unique fields). */
  findOne(field: keyof T & string, value: FieldValue): Promise<T | undefined>;
  /** Replaces the document with this id. Throws NotFoundError, ConflictError. */
  update(doc: T): Promise<void>;
  delete(id: number): Promise<boolean>;
  list(query?: ListQuery<T>): Promise<{ items: T[]; total: number }>;
}

export class ConflictError extends Error {
  constructor(
    readonly collection: string,
    readonly field: string,
  ) {
    super(`${collection}: ${field} already exists`);
    this.name = 'ConflictError';
  }
}

export class NotFoundError extends Error {
  constructor(
    readonly collection: string,
    readonly id: number,
  ) {
    super(`${collection}: ${id} not found`);
    this.name = 'NotFoundError';
  }
}

/** putManifest with requireReferences: these blobs or child manifests are not in the repository. */
export class MissingReferencesError extends Error {
  constructor(readonly digests: string[]) {
    super(`references not in the repository: ${digests.join(', ')}`);
    this.name = 'MissingReferencesError';
  }
}

/** The blob's bytes are being deleted by GC: wait for the fence to go, then store them again. */
export class BlobFencedError extends Error {
  constructor(readonly digest: string) {
    super(`blob ${digest} is being garbage-collected`);
    this.name = 'BlobFencedError';
  }
}
