// Layout under root:
//   blobs/<alg>/<first 2 hex>/<hex>   visible blobs; a file appears here only by rename of a verified, complete file
//   uploads/<id>/data                 staged bytes
//   uploads/<id>/started              created with the upload: its mtime is startedAt, its content a random
//                                     incarnation tag (so a hash state cached for an aborted-and-recreated upload
//                                     of the same id is never trusted)
// put() stages in uploads/put-<uuid>/ too, so a crash mid-write leaves an upload for GC, never a blob.
// The parts, in fs/: the staged file an append writes (staged-file.ts), the uploads' running hash states
// (running-digests.ts), hashed here (running-hash.ts) or, with hashWorker, on a worker thread (hash-worker.ts)
// that reads the bytes from a shared ring (byte-ring.ts, ring-staged-file.ts), small file-system steps (files.ts).
import { access, constants, mkdir, open, rename, rm, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isUploadId } from '../../core/names.js';
import { digestAlgorithm, digestHex, digestOf, parseDigest, type Digest, type DigestAlgorithm } from '../../core/digest.js';
import type { ByteRange } from '../../core/range.js';
import {
  BlobNotFoundError,
  DigestMismatchError,
  InvalidOffsetError,
  RangeNotSatisfiableError,
  SizeMismatchError,
  StorageUnavailableError,
  UploadNotFoundError,
  type AppendOptions,
  type BlobInfo,
  type BlobStore,
  type UploadInfo,
} from './blob-store.js';
import { blobInfo, entries, ioUnit, isNotFound, statIfExists, syncPath } from './fs/files.js';
import { ByteRingPool } from './fs/byte-ring.js';
import { HashWorker } from './fs/hash-worker.js';
import { RecyclingFileStream, SERVE_UNIT } from '../../core/recycling-file-stream.js';
import { RunningDigests } from './fs/running-digests.js';
import { LocalHash, type RunningHash } from './fs/running-hash.js';
import { RingStagedFile } from './fs/ring-staged-file.js';
import { StagedFile } from './fs/staged-file.js';

export interface FsBlobStoreOptions {
  root: string;
  /** fsync staged bytes before an append resolves, and files and directories around each rename (power-loss safety). */
  fsync?: boolean;
  /** sha256 of uploads on a worker thread instead of the event loop's (started at the first upload). */
  hashWorker?: boolean;
}

const algorithms: readonly DigestAlgorithm[] = ['sha256', 'sha512'];
const hexLength: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export class FsBlobStore implements BlobStore {
  private readonly root: string;
  private readonly fsync: boolean;
  private readonly hashWorker: boolean;
  private readonly running: RunningDigests;
  private readonly rings = new ByteRingPool();
  private worker: HashWorker | undefined;
  private closed = false;

  constructor(opts: FsBlobStoreOptions) {
    this.root = opts.root;
    this.fsync = opts.fsync ?? false;
    this.hashWorker = opts.hashWorker ?? false;
    this.running = new RunningDigests(opts.hashWorker ? () => this.workerHash() : () => new LocalHash());
  }

  /** A state on the hash worker, started at first use and again if it died (its old states then re-read). */
  private workerHash(): RunningHash {
    if (this.closed) return new LocalHash();
    if (!this.worker || this.worker.dead) this.worker = new HashWorker();
    return this.worker.newHash();
  }

  async stat(digest: Digest): Promise<BlobInfo | undefined> {
    const s = await statIfExists(this.blobPath(digest));
    return s && blobInfo(digest, s);
  }

  async read(digest: Digest, range?: ByteRange): Promise<Readable> {
    // Open before returning so a missing blob rejects this call rather than erroring the stream later; an open
    // file also keeps reading correctly if the blob is deleted meanwhile.
    let fh: FileHandle;
    try {
      fh = await open(this.blobPath(digest), 'r');
    } catch (e) {
      if (isNotFound(e)) throw new BlobNotFoundError(digest);
      throw e;
    }
    const { size } = await fh.stat().catch(async (e: unknown) => {
      await fh.close();
      throw e;
    });
    if (range) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end >= size) {
        await fh.close();
        throw new RangeNotSatisfiableError(range, size);
      }
    }
    // A known end: a small blob reads into a buffer of its own size, and no extra read looks for EOF.
    const end = range ? range.end : Math.max(size - 1, 0);
    return new RecyclingFileStream(fh, range?.start ?? 0, end, SERVE_UNIT);
  }

  async put(digest: Digest, bytes: Uint8Array): Promise<BlobInfo> {
    const target = this.blobPath(digest);
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) throw new DigestMismatchError(digest, actual);
    const existing = await this.refresh(target, digest);
    if (existing) return existing;
    const dir = this.uploadDir(`put-${randomUUID()}`);
    await mkdir(dir, { recursive: true });
    try {
      const staged = join(dir, 'data');
      await writeFile(staged, bytes, { flag: 'wx' });
      return await this.publish(staged, target, digest);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  async *list(): AsyncIterable<BlobInfo> {
    for (const alg of algorithms) {
      const algDir = join(this.root, 'blobs', alg);
      for await (const shard of entries(algDir)) {
        if (!/^[a-f0-9]{2}$/.test(shard)) continue;
        for await (const hex of entries(join(algDir, shard))) {
          // Only names the layout can produce; anything else (a stray temp file) is not a blob.
          if (hex.length !== hexLength[alg] || !hex.startsWith(shard) || !/^[a-f0-9]+$/.test(hex)) continue;
          const info = await this.stat(`${alg}:${hex}` as Digest);
          if (info) yield info;
        }
      }
    }
  }

  async createUpload(id: string): Promise<void> {
    if (!isUploadId(id)) throw new Error(`invalid upload id ${JSON.stringify(id.slice(0, 80))}`);
    const dir = this.uploadDir(id);
    this.running.forget(id);
    await mkdir(dir, { recursive: true });
    const incarnation = randomUUID();
    // `started` first: a crash in between leaves a directory listUploads still reports, so GC can purge it.
    await writeFile(join(dir, 'started'), incarnation);
    await writeFile(join(dir, 'data'), new Uint8Array(0));
    if (this.fsync) {
      await syncPath(join(dir, 'started'));
      await syncPath(dir);
      await syncPath(dirname(dir));
    }
    this.running.start(id, incarnation);
  }

  async uploadInfo(id: string): Promise<UploadInfo> {
    const dir = this.uploadDir(id);
    const data = await statIfExists(join(dir, 'data'));
    if (!data) throw new UploadNotFoundError(id);
    const started = (await statIfExists(join(dir, 'started'))) ?? data;
    return { id, size: data.size, startedAt: Math.floor(started.mtimeMs) };
  }

  async appendUpload(id: string, offset: number, data: Readable, opts: AppendOptions = {}): Promise<number> {
    const dir = this.uploadDir(id);
    let fh: FileHandle;
    try {
      fh = await open(join(dir, 'data'), 'r+');
    } catch (e) {
      if (isNotFound(e)) throw new UploadNotFoundError(id);
      throw e;
    }
    try {
      const { size } = await fh.stat();
      if (offset !== size) throw new InvalidOffsetError(id, offset, size);
      const { expectedLength, maxTotal } = opts;
      if (expectedLength !== undefined && maxTotal !== undefined && offset + expectedLength > maxTotal) {
        throw new SizeMismatchError(maxTotal, offset + expectedLength);
      }
      let running = await this.running.take(id, dir, size);
      const hash = running?.hash;
      // A hash worker reads the bytes from a shared ring; hashing here takes the socket's buffers as they are.
      const ring = this.hashWorker ? this.rings.acquire() : undefined;
      const sink = ring ? new RingStagedFile(fh, offset, hash, ring) : new StagedFile(fh, offset, hash instanceof LocalHash ? hash : undefined);
      try {
        await sink.take(data, { expectedLength, maxTotal, keepOnError: expectedLength === undefined });
      } catch (err) {
        // A declared length, or the maxTotal bound, makes the chunk all-or-nothing: drop what was written of it.
        if (expectedLength !== undefined || err instanceof SizeMismatchError) {
          if (sink.written > 0) {
            await fh.truncate(offset);
            if (running) this.running.discard(running); // it has hashed bytes that are no longer staged
            running = undefined;
          }
        }
        if (running) this.running.keep(id, running);
        throw err;
      } finally {
        if (ring) this.rings.release(ring); // take() returns only once the ring is written and hashed
      }
      if (this.fsync) await fh.sync();
      if (running) this.running.keep(id, running);
      return offset + sink.written;
    } finally {
      await fh.close();
    }
  }

  async commitUpload(id: string, digest: Digest, expectedSize?: number): Promise<BlobInfo> {
    const dir = this.uploadDir(id);
    const target = this.blobPath(digest);
    const staged = join(dir, 'data');
    const s = await statIfExists(staged);
    if (!s) throw new UploadNotFoundError(id);
    if (expectedSize !== undefined && s.size !== expectedSize) throw new SizeMismatchError(expectedSize, s.size);
    const actual = await this.running.digestOf(id, dir, s.size, digestAlgorithm(digest));
    if (actual !== digest) throw new DigestMismatchError(digest, actual);
    // Verified even when the blob already exists: committing must prove possession of the bytes.
    const info = (await this.refresh(target, digest)) ?? (await this.publish(staged, target, digest));
    this.running.forget(id);
    await rm(dir, { recursive: true, force: true });
    return info;
  }

  async abortUpload(id: string): Promise<void> {
    if (!isUploadId(id)) return;
    this.running.forget(id);
    await rm(this.uploadDir(id), { recursive: true, force: true });
  }

  async *listUploads(): AsyncIterable<UploadInfo> {
    const uploads = join(this.root, 'uploads');
    for await (const id of entries(uploads)) {
      if (!isUploadId(id)) continue;
      // Tolerant of half-created or half-removed uploads (a crash): GC must still see them to purge them.
      const dir = join(uploads, id);
      const dirStat = await statIfExists(dir);
      if (!dirStat?.isDirectory()) continue;
      const data = await statIfExists(join(dir, 'data'));
      const started = (await statIfExists(join(dir, 'started'))) ?? dirStat;
      yield { id, size: data?.size ?? 0, startedAt: Math.floor(started.mtimeMs) };
    }
  }

  async ping(): Promise<void> {
    try {
      await mkdir(join(this.root, 'blobs'), { recursive: true });
      await mkdir(join(this.root, 'uploads'), { recursive: true });
      await access(this.root, constants.R_OK | constants.W_OK);
    } catch (e) {
      throw new StorageUnavailableError(`blob storage at ${this.root} is not usable: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.close();
  }

  blobFile(digest: Digest): string {
    // Parsing the digest first is what keeps a crafted digest from naming a path outside root.
    const d = parseDigest(digest);
    const hex = digestHex(d);
    return `${digestAlgorithm(d)}/${hex.slice(0, 2)}/${hex}`;
  }

  private blobPath(digest: Digest): string {
    return join(this.root, 'blobs', this.blobFile(digest));
  }

  /** The staging directory of an upload; an id outside the UUID-like grammar cannot exist (nor escape root). */
  private uploadDir(id: string): string {
    if (!isUploadId(id)) throw new UploadNotFoundError(String(id).slice(0, 80));
    return join(this.root, 'uploads', id);
  }

  /**
   * Stat of an already-visible blob, its mtime moved to now: a re-push restarts GC's grace period, so the blob is
   * not swept between this upload and the manifest that will reference it.
   */
  private async refresh(path: string, digest: Digest): Promise<BlobInfo | undefined> {
    const now = new Date();
    try {
      await utimes(path, now, now);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const s = await statIfExists(path);
    return s && blobInfo(digest, s);
  }

  /** Makes a complete, verified staged file visible at `target` in one rename. */
  private async publish(staged: string, target: string, digest: Digest): Promise<BlobInfo> {
    // createdAt (the mtime) counts from visibility, not from the upload's last write.
    const now = new Date();
    await utimes(staged, now, now);
    if (this.fsync) await syncPath(staged);
    await mkdir(dirname(target), { recursive: true });
    await rename(staged, target);
    if (this.fsync) await syncPath(dirname(target));
    return blobInfo(digest, await stat(target));
  }
}
