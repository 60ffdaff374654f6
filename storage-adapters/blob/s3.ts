// The S3 BlobStore: blobs at `<prefix>blobs/<alg>/<hex>` in one bucket (AWS S3, MinIO, or any S3-compatible store).
//
// An upload's state lives in the bucket, never only in memory, so any instance sharing the bucket can continue it:
//   <prefix>uploads/<id>/state          JSON (UploadState): the commit point of every append
//   <prefix>uploads/<id>/data           target of the S3 multipart upload holding the full parts (>= partSize)
//   <prefix>uploads/<id>/seg-<a>-<b>    the bytes [a, b) after the last part, as small objects, until they fill a part
// An append first writes its parts and segments, then the state; a crash in between leaves the old state, whose
// objects were never overwritten (part numbers and segment names are never reused for other bytes), so the
// upload resumes at the old offset. Commit verifies the digest (with the hash kept while the bytes streamed
// through this instance, else by completing the multipart upload and reading it back), then copies the object to
// its final key: a blob exists only there, and only verified. Production buckets want a lifecycle rule
// AbortIncompleteMultipartUpload for the uploads/ prefix, for parts of appends that died with their process.
// The parts, in s3/: S3 calls on the bucket (bucket.ts), staging an upload's bytes (staging.ts), the upload's
// state (upload-state.ts), range reads (reads.ts), error kinds (errors.ts).
import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { S3Client, GetObjectCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { LRUCache } from 'lru-cache';
import { isUploadId } from '../../core/names.js';
import { digestAlgorithm, digestOf, isDigest, type Digest } from '../../core/digest.js';
import type { ByteRange } from '../../core/range.js';
import {
  DigestMismatchError,
  InvalidOffsetError,
  SizeMismatchError,
  UploadNotFoundError,
  type AppendOptions,
  type BlobInfo,
  type BlobStore,
  type UploadInfo,
} from './blob-store.js';
import { Bucket } from './s3/bucket.js';
import { readBlob } from './s3/reads.js';
import { minPartSize, UploadStaging } from './s3/staging.js';
import { hasherKey, type UploadState } from './s3/upload-state.js';

export interface S3BlobStoreOptions {
  /** S3-compatible endpoint (MinIO, s3rver); AWS when absent. */
  endpoint?: string;
  bucket: string;
  region: string;
  /** Static keys; absent, the SDK's default credential chain applies (environment, instance profile). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Key prefix inside the bucket, e.g. "berth/". */
  prefix?: string;
  /** Path-style URLs (bucket in the path); defaults to true when an endpoint is given. */
  forcePathStyle?: boolean;
  /** Offer presigned GET URLs so the server can redirect blob downloads to the bucket. */
  presignRedirect?: boolean;
  presignExpiresSeconds?: number;
  /** Size of the first 1,000 multipart parts (default and minimum 5 MiB); it doubles every 1,000 parts after,
   *  so a layer of a few GiB holds at most ~3 parts in memory while S3's 10,000 parts still reach its 5 TiB. */
  partSize?: number;
  /** SDK attempts per request (default 3); connection failures surface as StorageUnavailableError after them. */
  maxAttempts?: number;
  connectTimeoutMs?: number;
  /** A socket idle this long is abandoned (a hung backend). */
  socketTimeoutMs?: number;
}

export class S3BlobStore implements BlobStore {
  private readonly bucket: Bucket;
  private readonly staging: UploadStaging;
  private readonly presign: boolean;
  private readonly presignExpires: number;
  /** sha256 state of an upload at a given size, so a commit on the instance that received the bytes need not
   *  read them back. Keyed by id, incarnation and size: a hasher for another size (another instance appended) or
   *  another incarnation (the upload was replaced) is never used. */
  private readonly hashers = new LRUCache<string, Hash>({ max: 1024 });

  constructor(opts: S3BlobStoreOptions) {
    const partSize = opts.partSize ?? minPartSize;
    if (partSize < minPartSize) throw new Error(`S3 part size must be at least ${minPartSize} bytes`);
    this.presign = opts.presignRedirect ?? false;
    this.presignExpires = opts.presignExpiresSeconds ?? 900;
    const s3 = new S3Client({
      region: opts.region,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle ?? opts.endpoint !== undefined,
      ...(opts.accessKeyId && opts.secretAccessKey && { credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } }),
      maxAttempts: opts.maxAttempts ?? 3,
      // Bodies are sized Buffers; the default CRC32 trailers are not understood by every S3-compatible server.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: opts.connectTimeoutMs ?? 3000,
        socketTimeout: opts.socketTimeoutMs ?? 30_000,
        httpAgent: { keepAlive: true, maxSockets: 64 },
        httpsAgent: { keepAlive: true, maxSockets: 64 },
      },
    });
    this.bucket = new Bucket(s3, opts.bucket, opts.prefix ?? '');
    this.staging = new UploadStaging(this.bucket, partSize);
  }

  // --- visible blobs ---

  async stat(digest: Digest): Promise<BlobInfo | undefined> {
    return this.bucket.head(this.bucket.blobKey(digest), digest);
  }

  read(digest: Digest, range?: ByteRange): Promise<Readable> {
    return readBlob(this.bucket, digest, range);
  }

  async put(digest: Digest, bytes: Uint8Array): Promise<BlobInfo> {
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) throw new DigestMismatchError(digest, actual);
    const key = this.bucket.blobKey(digest);
    const existing = await this.bucket.head(key, digest);
    if (existing) return existing;
    await this.bucket.putObject(`put ${digest}`, key, bytes);
    return (await this.bucket.head(key, digest)) ?? { digest, size: bytes.length, createdAt: Date.now() };
  }

  async delete(digest: Digest): Promise<void> {
    await this.bucket.deleteKey(this.bucket.blobKey(digest));
  }

  async *list(): AsyncIterable<BlobInfo> {
    const base = `${this.bucket.prefix}blobs/`;
    for await (const obj of this.bucket.listKeys(base)) {
      const digest = obj.key.slice(base.length).replace('/', ':');
      if (!isDigest(digest)) continue;
      yield { digest: digest as Digest, size: obj.size, createdAt: obj.lastModified };
    }
  }

  // --- uploads ---

  async createUpload(id: string): Promise<void> {
    if (!isUploadId(id)) throw new Error(`invalid upload id ${JSON.stringify(id)}`);
    await this.bucket.writeState(id, { incarnation: randomUUID(), startedAt: Date.now(), size: 0, parts: [], segments: [] });
  }

  async uploadInfo(id: string): Promise<UploadInfo> {
    const state = await this.bucket.readState(id);
    return { id, size: state.size, startedAt: state.startedAt };
  }

  async appendUpload(id: string, offset: number, data: Readable, opts: AppendOptions = {}): Promise<number> {
    let state = await this.bucket.readState(id);
    if (offset !== state.size) {
      data.resume(); // drain, so the caller's request can finish
      throw new InvalidOffsetError(id, offset, state.size);
    }
    if (opts.maxTotal !== undefined && opts.expectedLength !== undefined && state.size + opts.expectedLength > opts.maxTotal) {
      data.resume();
      throw new SizeMismatchError(opts.maxTotal, state.size + opts.expectedLength);
    }
    const cached = this.hashers.get(hasherKey(id, state));
    // A copy: when this append fails the cached state must still describe the staged bytes.
    const hasher = cached ? cached.copy() : state.size === 0 ? createHash('sha256') : undefined;
    if (state.assembled) state = await this.staging.restage(id, state);

    const staged = await this.staging.stage(id, state, data, opts, hasher);
    await this.bucket.writeState(id, staged.state);
    await this.bucket.deleteKeys(staged.unreferenced.map((s) => this.bucket.segmentKey(id, s)));
    this.hashers.delete(hasherKey(id, state));
    if (hasher) this.hashers.set(hasherKey(id, staged.state), hasher);
    if (staged.inputError !== undefined) throw staged.inputError;
    return staged.state.size;
  }

  async commitUpload(id: string, digest: Digest, expectedSize?: number): Promise<BlobInfo> {
    let state = await this.bucket.readState(id);
    if (expectedSize !== undefined && expectedSize !== state.size) throw new SizeMismatchError(expectedSize, state.size);

    let actual: Digest;
    const cached = digestAlgorithm(digest) === 'sha256' ? this.hashers.get(hasherKey(id, state)) : undefined;
    if (cached) {
      actual = `sha256:${cached.copy().digest('hex')}` as Digest;
    } else {
      // Another instance (or a restart) staged these bytes, or the digest is not sha256: read them back.
      const hash = createHash(digestAlgorithm(digest));
      if (state.parts.length > 0 && !state.assembled) state = await this.staging.assemble(id, state);
      if (state.assembled) {
        for await (const chunk of await this.bucket.getBody(this.bucket.dataKey(id))) hash.update(chunk as Buffer);
      } else {
        for (const seg of state.segments) hash.update(await this.bucket.getBytes(this.bucket.segmentKey(id, seg)));
      }
      actual = `${digestAlgorithm(digest)}:${hash.digest('hex')}` as Digest;
    }
    if (actual !== digest) throw new DigestMismatchError(digest, actual);

    const finalKey = this.bucket.blobKey(digest);
    const existing = await this.bucket.head(finalKey, digest);
    if (existing) {
      await this.dropUpload(id, state);
      return existing;
    }
    if (state.parts.length > 0 && !state.assembled) state = await this.staging.assemble(id, state);
    if (state.assembled) {
      await this.bucket.copy(this.bucket.dataKey(id), finalKey, state.size);
    } else if (state.segments.length === 1) {
      await this.bucket.copy(this.bucket.segmentKey(id, state.segments[0]!), finalKey, state.size);
    } else {
      // Nothing or a few small segments (< one part): one PutObject.
      const body = Buffer.concat(await Promise.all(state.segments.map((s) => this.bucket.getBytes(this.bucket.segmentKey(id, s)))));
      await this.bucket.putObject(`commit ${id}`, finalKey, body);
    }
    await this.dropUpload(id, state);
    return (await this.bucket.head(finalKey, digest)) ?? { digest, size: state.size, createdAt: Date.now() };
  }

  async abortUpload(id: string): Promise<void> {
    if (!isUploadId(id)) return;
    let state: UploadState | undefined;
    try {
      state = await this.bucket.readState(id);
    } catch (e) {
      if (!(e instanceof UploadNotFoundError)) throw e;
    }
    await this.dropUpload(id, state);
  }

  async *listUploads(): AsyncIterable<UploadInfo> {
    const base = `${this.bucket.prefix}uploads/`;
    for await (const obj of this.bucket.listKeys(base)) {
      const rest = obj.key.slice(base.length);
      if (!rest.endsWith('/state')) continue;
      const id = rest.slice(0, -'/state'.length);
      try {
        yield await this.uploadInfo(id);
      } catch (e) {
        if (!(e instanceof UploadNotFoundError)) throw e; // finished meanwhile
      }
    }
  }

  async redirectUrl(digest: Digest): Promise<string | undefined> {
    if (!this.presign) return undefined;
    return getSignedUrl(this.bucket.s3, new GetObjectCommand({ Bucket: this.bucket.name, Key: this.bucket.blobKey(digest) }), {
      expiresIn: this.presignExpires,
    });
  }

  async ping(): Promise<void> {
    await this.bucket.call('ping', () => this.bucket.s3.send(new HeadBucketCommand({ Bucket: this.bucket.name })));
  }

  async close(): Promise<void> {
    this.hashers.clear();
    this.bucket.s3.destroy();
  }

  /** Removes everything an upload staged; its state goes first so the upload is gone at once. */
  private async dropUpload(id: string, state: UploadState | undefined): Promise<void> {
    const base = `${this.bucket.prefix}uploads/${id}/`;
    await this.bucket.deleteKey(`${base}state`);
    if (state?.multipartId && !state.assembled) await this.bucket.abortMultipart(id, state.multipartId);
    const keys: string[] = [];
    for await (const obj of this.bucket.listKeys(base)) keys.push(obj.key);
    await this.bucket.deleteKeys(keys);
    for (const k of this.hashers.keys()) if (k.startsWith(`${id} `)) this.hashers.delete(k);
  }
}
