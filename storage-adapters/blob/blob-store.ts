import type { Readable } from 'node:stream';
import type { Digest } from '../../core/digest.js';
import type { ByteRange } from '../../core/range.js';

// The BlobStore holds bytes by digest, manifests included. Contract (every adapter passes test/contract/blob-store):
// - a blob is visible (stat/read/list) only after commitUpload/put verified its digest; never half-written;
// - an upload's staged bytes survive a process restart and can be continued by any instance sharing the backend;
// - reads stream; nothing holds a whole blob in memory.

export interface BlobInfo {
  digest: Digest;
  size: number;
  /** When the blob became visible (ms since epoch); GC's grace period counts from here. */
  createdAt: number;
}

export interface UploadInfo {
  id: string;
  /** Bytes staged so far. */
  size: number;
  startedAt: number;
}

export interface AppendOptions {
  /** The chunk's declared length (Content-Length). When the stream yields another count, nothing is appended
   *  and SizeMismatchError is thrown. Without it, whatever arrived before a stream error stays staged. */
  expectedLength?: number;
  /** Upper bound on the upload's total size; exceeding it throws SizeMismatchError and appends nothing more. */
  maxTotal?: number;
}

export interface BlobStore {
  /** Size and creation time of a visible blob; undefined when there is none. */
  stat(digest: Digest): Promise<BlobInfo | undefined>;
  /** The blob's bytes, or the inclusive `range` of them. Throws BlobNotFoundError. */
  read(digest: Digest, range?: ByteRange): Promise<Readable>;
  /** Stores small in-memory bytes (a manifest) under `digest` after checking it; a no-op when already there. */
  put(digest: Digest, bytes: Uint8Array): Promise<BlobInfo>;
  /** Removes a visible blob; absent is not an error. */
  delete(digest: Digest): Promise<void>;
  /** Every visible blob, in no particular order (GC's sweep). */
  list(): AsyncIterable<BlobInfo>;

  /** Opens an empty staging area named `id` (a UUID chosen by the caller). */
  createUpload(id: string): Promise<void>;
  /** The upload's staged size. Throws UploadNotFoundError. */
  uploadInfo(id: string): Promise<UploadInfo>;
  /**
   * Appends `data` at `offset`, which must equal the staged size (InvalidOffsetError carries the real size).
   * Resolves with the new size once the bytes are staged durably enough to be resumed after a crash.
   * Appends and commits of one upload must not overlap: no adapter locks, that is the caller's (server/oci's
   * UploadLocks serialise every request on an upload, whichever adapter is underneath).
   */
  appendUpload(id: string, offset: number, data: Readable, opts?: AppendOptions): Promise<number>;
  /**
   * Verifies that the staged bytes hash to `digest` (DigestMismatchError otherwise; the upload stays staged)
   * and, when `expectedSize` is given, that their size matches (SizeMismatchError). Then makes the blob visible
   * atomically and removes the staging area. Committing a digest that is already visible just drops the upload.
   */
  commitUpload(id: string, digest: Digest, expectedSize?: number): Promise<BlobInfo>;
  /** Discards an upload's staged bytes; absent is not an error. */
  abortUpload(id: string): Promise<void>;
  /** Every staged upload (GC purges stale ones). */
  listUploads(): AsyncIterable<UploadInfo>;

  /** The blob's file path inside the store's `blobs/` directory (`sha256/ab/ab…`), for a front proxy that sends
   *  the file itself; only adapters that keep blobs as local files offer it. Pure: no I/O, says nothing of existence. */
  blobFile?(digest: Digest): string;
  /** A URL a client may be redirected to for the blob (S3 presigned GET), when the adapter offers one. */
  redirectUrl?(digest: Digest): Promise<string | undefined>;
  /** Throws StorageUnavailableError when the backend cannot be reached (readiness, 503s). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

// Typed errors: callers branch on the class, never on message text.
export class BlobNotFoundError extends Error {
  constructor(readonly digest: string) {
    super(`blob ${digest} not found`);
    this.name = 'BlobNotFoundError';
  }
}

export class UploadNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`upload ${id} not found`);
    this.name = 'UploadNotFoundError';
  }
}

export class InvalidOffsetError extends Error {
  constructor(
    readonly id: string,
    readonly offset: number,
    readonly size: number,
  ) {
    super(`upload ${id}: offset ${offset} is not the staged size ${size}`);
    this.name = 'InvalidOffsetError';
  }
}

export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`content digest ${actual} does not match ${expected}`);
    this.name = 'DigestMismatchError';
  }
}

export class SizeMismatchError extends Error {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`expected ${expected} bytes, got ${actual}`);
    this.name = 'SizeMismatchError';
  }
}

/** read() with a range outside the blob. */
export class RangeNotSatisfiableError extends Error {
  constructor(
    readonly range: ByteRange,
    readonly size: number,
  ) {
    super(`range ${range.start}-${range.end} is outside the blob's ${size} bytes`);
    this.name = 'RangeNotSatisfiableError';
  }
}

export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}
