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
import { isUploadId } from '../../core/names.js';
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  S3Client,
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { LRUCache } from 'lru-cache';
import { digestAlgorithm, digestHex, digestOf, isDigest, type Digest } from '../../core/digest.js';
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

const MiB = 1024 * 1024;
/** S3's floor for every part but the last. */
const minPartSize = 5 * MiB;
/** S3's ceiling for one CopyObject; larger blobs are copied part by part. */
const maxSingleCopy = 5 * 1024 * MiB;
const copyPartSize = 512 * MiB;
const maxParts = 10_000;
/** Parts of one size before the part size doubles (see partSizeFor). */
const partsPerSize = 1000;
/** Segments beyond this many are merged into one, so a client sending tiny chunks keeps the state small. */
const maxSegments = 32;

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

interface StagedPart {
  n: number;
  etag: string;
  size: number;
}

interface Segment {
  offset: number;
  size: number;
}

/** What `<prefix>uploads/<id>/state` holds. size = Σ parts + Σ segments, or the `data` object's size when assembled. */
interface UploadState {
  /** Random per createUpload, so a hash state cached for an aborted-and-recreated upload of the same id is
   *  never trusted for the new bytes. */
  incarnation: string;
  startedAt: number;
  size: number;
  /** The S3 multipart upload on the `data` key, created when the first part is cut. */
  multipartId?: string;
  parts: StagedPart[];
  segments: Segment[];
  /** The multipart upload was completed (a commit whose digest check needed the bytes): `data` holds them all. */
  assembled?: boolean;
}


export class S3BlobStore implements BlobStore {
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly presign: boolean;
  private readonly presignExpires: number;
  /** sha256 state of an upload at a given size, so a commit on the instance that received the bytes need not
   *  read them back. Keyed by id, incarnation and size: a hasher for another size (another instance appended) or
   *  another incarnation (the upload was replaced) is never used. */
  private readonly hashers = new LRUCache<string, Hash>({ max: 1024 });

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? '';
    this.partSize = opts.partSize ?? minPartSize;
    if (this.partSize < minPartSize) throw new Error(`S3 part size must be at least ${minPartSize} bytes`);
    this.presign = opts.presignRedirect ?? false;
    this.presignExpires = opts.presignExpiresSeconds ?? 900;
    this.s3 = new S3Client({
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
  }

  // --- visible blobs ---

  async stat(digest: Digest): Promise<BlobInfo | undefined> {
    return this.head(this.blobKey(digest), digest);
  }

  async read(digest: Digest, range?: ByteRange): Promise<Readable> {
    if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.start > range.end)) {
      const info = await this.stat(digest);
      if (!info) throw new BlobNotFoundError(digest);
      throw rangeInvalid(range, info.size);
    }
    let out;
    try {
      out = await this.s3.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.blobKey(digest),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
    } catch (e) {
      if (isNotFound(e)) throw new BlobNotFoundError(digest);
      if (range && errorName(e) === 'InvalidRange') {
        const info = await this.stat(digest);
        if (!info) throw new BlobNotFoundError(digest);
        throw rangeInvalid(range, info.size);
      }
      throw mapError(e, `read ${digest}`);
    }
    const body = out.Body as Readable;
    if (!range) return body;
    // What came back: "bytes <start>-<end>/<total>", or the whole object when the server ignored Range
    // (HTTP allows that; s3rver does it for bytes=0-0).
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(out.ContentRange ?? '');
    const total = m ? Number(m[3]) : (out.ContentLength ?? 0);
    const got = m ? { start: Number(m[1]), end: Number(m[2]) } : { start: 0, end: total - 1 };
    // S3 answers a range reaching past the end with what there is; like fs, refuse it rather than read short.
    if (range.end >= total) {
      body.destroy();
      throw rangeInvalid(range, total);
    }
    if (got.start === range.start && got.end === range.end) return body;
    if (got.start > range.start || got.end < range.end) {
      body.destroy();
      throw new StorageUnavailableError(`S3 answered range ${range.start}-${range.end} of ${digest} with ${got.start}-${got.end}`);
    }
    return slice(body, range.start - got.start, range.end - range.start + 1);
  }

  async put(digest: Digest, bytes: Uint8Array): Promise<BlobInfo> {
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) throw new DigestMismatchError(digest, actual);
    const key = this.blobKey(digest);
    const existing = await this.head(key, digest);
    if (existing) return existing;
    await this.call(`put ${digest}`, () =>
      this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length })),
    );
    return (await this.head(key, digest)) ?? { digest, size: bytes.length, createdAt: Date.now() };
  }

  async delete(digest: Digest): Promise<void> {
    await this.deleteKey(this.blobKey(digest));
  }

  async *list(): AsyncIterable<BlobInfo> {
    const base = `${this.prefix}blobs/`;
    for await (const obj of this.listKeys(base)) {
      const digest = obj.key.slice(base.length).replace('/', ':');
      if (!isDigest(digest)) continue;
      yield { digest: digest as Digest, size: obj.size, createdAt: obj.lastModified };
    }
  }

  // --- uploads ---

  async createUpload(id: string): Promise<void> {
    if (!isUploadId(id)) throw new Error(`invalid upload id ${JSON.stringify(id)}`);
    await this.writeState(id, { incarnation: randomUUID(), startedAt: Date.now(), size: 0, parts: [], segments: [] });
  }

  async uploadInfo(id: string): Promise<UploadInfo> {
    const state = await this.readState(id);
    return { id, size: state.size, startedAt: state.startedAt };
  }

  async appendUpload(id: string, offset: number, data: Readable, opts: AppendOptions = {}): Promise<number> {
    let state = await this.readState(id);
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
    if (state.assembled) state = await this.restage(id, state);

    const staged = await this.stage(id, state, data, opts, hasher);
    await this.writeState(id, staged.state);
    await this.deleteKeys(staged.unreferenced.map((s) => this.segmentKey(id, s)));
    this.hashers.delete(hasherKey(id, state));
    if (hasher) this.hashers.set(hasherKey(id, staged.state), hasher);
    if (staged.inputError !== undefined) throw staged.inputError;
    return staged.state.size;
  }

  async commitUpload(id: string, digest: Digest, expectedSize?: number): Promise<BlobInfo> {
    let state = await this.readState(id);
    if (expectedSize !== undefined && expectedSize !== state.size) throw new SizeMismatchError(expectedSize, state.size);

    let actual: Digest;
    const cached = digestAlgorithm(digest) === 'sha256' ? this.hashers.get(hasherKey(id, state)) : undefined;
    if (cached) {
      actual = `sha256:${cached.copy().digest('hex')}` as Digest;
    } else {
      // Another instance (or a restart) staged these bytes, or the digest is not sha256: read them back.
      const hash = createHash(digestAlgorithm(digest));
      if (state.parts.length > 0 && !state.assembled) state = await this.assemble(id, state);
      if (state.assembled) {
        for await (const chunk of await this.getBody(this.dataKey(id))) hash.update(chunk as Buffer);
      } else {
        for (const seg of state.segments) hash.update(await this.getBytes(this.segmentKey(id, seg)));
      }
      actual = `${digestAlgorithm(digest)}:${hash.digest('hex')}` as Digest;
    }
    if (actual !== digest) throw new DigestMismatchError(digest, actual);

    const finalKey = this.blobKey(digest);
    const existing = await this.head(finalKey, digest);
    if (existing) {
      await this.dropUpload(id, state);
      return existing;
    }
    if (state.parts.length > 0 && !state.assembled) state = await this.assemble(id, state);
    if (state.assembled) {
      await this.copy(this.dataKey(id), finalKey, state.size);
    } else if (state.segments.length === 1) {
      await this.copy(this.segmentKey(id, state.segments[0]!), finalKey, state.size);
    } else {
      // Nothing or a few small segments (< one part): one PutObject.
      const body = Buffer.concat(await Promise.all(state.segments.map((s) => this.getBytes(this.segmentKey(id, s)))));
      await this.call(`commit ${id}`, () =>
        this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: finalKey, Body: body, ContentLength: body.length })),
      );
    }
    await this.dropUpload(id, state);
    return (await this.head(finalKey, digest)) ?? { digest, size: state.size, createdAt: Date.now() };
  }

  async abortUpload(id: string): Promise<void> {
    if (!isUploadId(id)) return;
    let state: UploadState | undefined;
    try {
      state = await this.readState(id);
    } catch (e) {
      if (!(e instanceof UploadNotFoundError)) throw e;
    }
    await this.dropUpload(id, state);
  }

  async *listUploads(): AsyncIterable<UploadInfo> {
    const base = `${this.prefix}uploads/`;
    for await (const obj of this.listKeys(base)) {
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
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }), {
      expiresIn: this.presignExpires,
    });
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.s3.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  async close(): Promise<void> {
    this.hashers.clear();
    this.s3.destroy();
  }

  // --- staging ---

  /**
   * Streams `input` into full parts (uploaded as they fill) and, for the remainder, a new segment. The first part
   * begins with the existing segments, read back only when a part is actually cut. Returns the state to write;
   * nothing referenced by the current state is touched. On an input error without `expectedLength`, what arrived
   * is staged and the error returned with it (contract: it stays staged).
   */
  private async stage(
    id: string,
    state: UploadState,
    input: AsyncIterable<Buffer | Uint8Array>,
    opts: AppendOptions,
    hasher: Hash | undefined,
  ): Promise<{ state: UploadState; unreferenced: Segment[]; inputError?: unknown }> {
    const parts = [...state.parts];
    let multipartId = state.multipartId;
    let nextPart = (parts.at(-1)?.n ?? 0) + 1;
    const oldSegments = state.segments;
    const oldSegBytes = oldSegments.reduce((a, s) => a + s.size, 0);
    let segmentsInPart = oldSegBytes === 0; // once true, the old segments are in an uploaded part
    let chunks: Buffer[] = [];
    let fill = segmentsInPart ? 0 : oldSegBytes; // bytes of the part being filled, old segments included
    let received = 0;
    let inFlight: Promise<void> | undefined;
    let inputError: unknown;

    const cutPart = async () => {
      const fresh = chunks;
      chunks = [];
      fill = 0;
      const lead = segmentsInPart ? [] : await Promise.all(oldSegments.map((s) => this.getBytes(this.segmentKey(id, s))));
      segmentsInPart = true;
      const body = Buffer.concat([...lead, ...fresh]);
      if (inFlight) await inFlight; // at most one part uploads while the next one fills
      if (nextPart > maxParts) throw new SizeMismatchError(this.maxUploadBytes(), state.size + received);
      multipartId ??= await this.createMultipart(id);
      const n = nextPart++;
      const upload = this.uploadPart(id, multipartId, n, body).then((etag) => {
        parts.push({ n, etag, size: body.length });
      });
      upload.catch(() => {}); // observed when awaited
      inFlight = upload;
    };

    const it = input[Symbol.asyncIterator]();
    let done = false;
    try {
      for (;;) {
        let r: IteratorResult<Buffer | Uint8Array>;
        try {
          r = await it.next();
        } catch (e) {
          done = true;
          if (opts.expectedLength !== undefined) throw e; // a declared length that did not arrive: nothing appended
          inputError = e;
          break;
        }
        if (r.done) {
          done = true;
          break;
        }
        const raw = r.value;
        let chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        received += chunk.length;
        if (opts.expectedLength !== undefined && received > opts.expectedLength) {
          throw new SizeMismatchError(opts.expectedLength, received);
        }
        if (opts.maxTotal !== undefined && state.size + received > opts.maxTotal) {
          throw new SizeMismatchError(opts.maxTotal, state.size + received);
        }
        hasher?.update(chunk);
        while (chunk.length > 0) {
          const take = Math.min(this.partSizeFor(nextPart) - fill, chunk.length);
          chunks.push(chunk.subarray(0, take));
          fill += take;
          chunk = chunk.subarray(take);
          if (fill === this.partSizeFor(nextPart)) await cutPart();
        }
      }
    } catch (e) {
      if (inFlight) await inFlight.catch(() => {});
      // a multipart upload begun by this failed append is referenced by no state: give it back now
      if (multipartId !== undefined && multipartId !== state.multipartId) await this.abortMultipart(id, multipartId).catch(() => {});
      throw e;
    } finally {
      if (!done) await it.return?.();
    }
    if (opts.expectedLength !== undefined && received !== opts.expectedLength) {
      if (inFlight) await inFlight.catch(() => {});
      throw new SizeMismatchError(opts.expectedLength, received);
    }
    if (inFlight) await inFlight;
    parts.sort((a, b) => a.n - b.n);

    const size = state.size + received;
    const freshBytes = chunks.reduce((a, c) => a + c.length, 0);
    let segments: Segment[];
    let unreferenced: Segment[] = [];
    if (segmentsInPart) {
      // Every old segment went into a part; what is left of the input is the only segment.
      unreferenced = oldSegments;
      segments = [];
      if (freshBytes > 0) segments.push(await this.putSegment(id, size - freshBytes, Buffer.concat(chunks)));
    } else if (oldSegments.length + 1 > maxSegments) {
      const lead = await Promise.all(oldSegments.map((s) => this.getBytes(this.segmentKey(id, s))));
      segments = [await this.putSegment(id, oldSegments[0]!.offset, Buffer.concat([...lead, ...chunks]))];
      unreferenced = oldSegments;
    } else {
      segments = [...oldSegments];
      if (freshBytes > 0) segments.push(await this.putSegment(id, state.size, Buffer.concat(chunks)));
    }
    const next: UploadState = { incarnation: state.incarnation, startedAt: state.startedAt, size, parts, segments };
    if (multipartId !== undefined) next.multipartId = multipartId;
    return inputError === undefined ? { state: next, unreferenced } : { state: next, unreferenced, inputError };
  }

  /** Completes the multipart upload (the segments become its last part) so `data` holds every staged byte. */
  private async assemble(id: string, state: UploadState): Promise<UploadState> {
    const parts = [...state.parts];
    if (state.segments.length > 0) {
      const body = Buffer.concat(await Promise.all(state.segments.map((s) => this.getBytes(this.segmentKey(id, s)))));
      const n = (parts.at(-1)?.n ?? 0) + 1;
      parts.push({ n, etag: await this.uploadPart(id, state.multipartId!, n, body), size: body.length });
    }
    try {
      await this.call(`complete upload ${id}`, () =>
        this.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.dataKey(id),
            UploadId: state.multipartId,
            MultipartUpload: { Parts: parts.map((p): CompletedPart => ({ PartNumber: p.n, ETag: p.etag })) },
          }),
        ),
      );
    } catch (e) {
      // A crash after completing but before the state was written: the multipart upload is gone, `data` is whole.
      const data = errorName(e) === 'NoSuchUpload' ? await this.headSize(this.dataKey(id)) : undefined;
      if (data !== state.size) throw e;
    }
    const next: UploadState = { ...state, parts: [], segments: [], assembled: true };
    delete next.multipartId;
    await this.writeState(id, next);
    await this.deleteKeys(state.segments.map((s) => this.segmentKey(id, s)));
    return next;
  }

  /** Turns an assembled upload back into parts so it can grow (only after a failed digest check). */
  private async restage(id: string, state: UploadState): Promise<UploadState> {
    const empty: UploadState = { incarnation: state.incarnation, startedAt: state.startedAt, size: 0, parts: [], segments: [] };
    const staged = await this.stage(id, empty, await this.getBody(this.dataKey(id)), {}, undefined);
    if (staged.inputError !== undefined) throw mapError(staged.inputError, `restage ${id}`);
    await this.writeState(id, staged.state);
    return staged.state;
  }

  /** Removes everything an upload staged; its state goes first so the upload is gone at once. */
  private async dropUpload(id: string, state: UploadState | undefined): Promise<void> {
    const base = `${this.prefix}uploads/${id}/`;
    await this.deleteKey(`${base}state`);
    if (state?.multipartId && !state.assembled) await this.abortMultipart(id, state.multipartId);
    const keys: string[] = [];
    for await (const obj of this.listKeys(base)) keys.push(obj.key);
    await this.deleteKeys(keys);
    for (const k of this.hashers.keys()) if (k.startsWith(`${id} `)) this.hashers.delete(k);
  }

  // --- S3 calls ---

  private async createMultipart(id: string): Promise<string> {
    const out = await this.call(`create upload ${id}`, () =>
      this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.dataKey(id) })),
    );
    if (!out.UploadId) throw new StorageUnavailableError('S3 returned no multipart upload id');
    return out.UploadId;
  }

  private async abortMultipart(id: string, multipartId: string): Promise<void> {
    try {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.dataKey(id), UploadId: multipartId }));
    } catch (e) {
      // Already gone, or a server without the call (s3rver); a bucket lifecycle rule
      // (AbortIncompleteMultipartUpload) collects what is left.
      if (isUnavailable(e)) throw mapError(e, `abort ${id}`);
    }
  }

  private async uploadPart(id: string, multipartId: string, n: number, body: Buffer): Promise<string> {
    const out = await this.call(`upload part ${n} of ${id}`, () =>
      this.s3.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: this.dataKey(id),
          UploadId: multipartId,
          PartNumber: n,
          Body: body,
          ContentLength: body.length,
        }),
      ),
    );
    return out.ETag ?? '';
  }

  private async putSegment(id: string, offset: number, body: Buffer): Promise<Segment> {
    const seg = { offset, size: body.length };
    await this.call(`stage ${id}`, () =>
      this.s3.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.segmentKey(id, seg), Body: body, ContentLength: body.length }),
      ),
    );
    return seg;
  }

  /** Server-side copy; past S3's 5 GiB CopyObject limit, a multipart copy (completed atomically as well). */
  private async copy(from: string, to: string, size: number): Promise<void> {
    const source = `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    if (size <= maxSingleCopy) {
      await this.call(`copy ${from}`, () => this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source })));
      return;
    }
    const out = await this.call(`copy ${from}`, () => this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to })));
    const uploadId = out.UploadId!;
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0, n = 1; start < size; start += copyPartSize, n++) {
        const end = Math.min(start + copyPartSize, size) - 1;
        const r = await this.call(`copy ${from}`, () =>
          this.s3.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: to,
              UploadId: uploadId,
              PartNumber: n,
              CopySource: source,
              CopySourceRange: `bytes=${start}-${end}`,
            }),
          ),
        );
        parts.push({ PartNumber: n, ETag: r.CopyPartResult?.ETag });
      }
      await this.call(`copy ${from}`, () =>
        this.s3.send(
          new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        ),
      );
    } catch (e) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId: uploadId })).catch(() => {});
      throw e;
    }
  }

  private async readState(id: string): Promise<UploadState> {
    if (!isUploadId(id)) throw new UploadNotFoundError(id);
    try {
      return JSON.parse((await this.getBytes(this.stateKey(id))).toString('utf8')) as UploadState;
    } catch (e) {
      if (e instanceof BlobNotFoundError) throw new UploadNotFoundError(id);
      throw e;
    }
  }

  private async writeState(id: string, state: UploadState): Promise<void> {
    const body = Buffer.from(JSON.stringify(state));
    await this.call(`stage ${id}`, () =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.stateKey(id),
          Body: body,
          ContentLength: body.length,
          ContentType: 'application/json',
        }),
      ),
    );
  }

  private async getBody(key: string): Promise<Readable> {
    try {
      return (await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))).Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw new BlobNotFoundError(key);
      throw mapError(e, `get ${key}`);
    }
  }

  /** A small object's bytes (state, segments: below one part). */
  private async getBytes(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    try {
      for await (const c of await this.getBody(key)) chunks.push(c as Buffer);
    } catch (e) {
      throw e instanceof BlobNotFoundError ? e : mapError(e, `get ${key}`);
    }
    return Buffer.concat(chunks);
  }

  private async head(key: string, digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { digest, size: out.ContentLength ?? 0, createdAt: out.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw mapError(e, `stat ${digest}`);
    }
  }

  private async headSize(key: string): Promise<number | undefined> {
    try {
      return (await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))).ContentLength;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw mapError(e, `stat ${key}`);
    }
  }

  private async deleteKey(key: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      if (!isNotFound(e)) throw mapError(e, `delete ${key}`);
    }
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    await Promise.all(keys.map((k) => this.deleteKey(k)));
  }

  private async *listKeys(prefix: string): AsyncIterable<{ key: string; size: number; lastModified: number }> {
    let token: string | undefined;
    do {
      const page = await this.call(`list ${prefix}`, () =>
        this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key) yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Part n's size (n from 1): small parts keep an append's memory low (measured: peak RSS pushing 512 MiB
   *  175 MiB with 5 MiB parts against 211 MiB with 8 MiB), larger ones later keep huge layers within 10,000. */
  private partSizeFor(n: number): number {
    return this.partSize * 2 ** Math.floor((n - 1) / partsPerSize);
  }

  private maxUploadBytes(): number {
    let total = 0;
    for (let n = 1; n <= maxParts; n += partsPerSize) total += partsPerSize * this.partSizeFor(n);
    return total;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw mapError(e, what);
    }
  }

  private blobKey(digest: Digest): string {
    return `${this.prefix}blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
  }

  private stateKey(id: string): string {
    return `${this.prefix}uploads/${id}/state`;
  }

  private dataKey(id: string): string {
    return `${this.prefix}uploads/${id}/data`;
  }

  private segmentKey(id: string, seg: Segment): string {
    return `${this.prefix}uploads/${id}/seg-${seg.offset}-${seg.offset + seg.size}`;
  }
}

/** `take` bytes of `body` after skipping `skip`; the source is destroyed once they are through. */
function slice(body: Readable, skip: number, take: number): Readable {
  return Readable.from(
    (async function* () {
      for await (const raw of body) {
        let c = raw as Buffer;
        if (skip >= c.length) {
          skip -= c.length;
          continue;
        }
        c = c.subarray(skip, skip + take);
        skip = 0;
        take -= c.length;
        yield c;
        if (take === 0) return;
      }
    })(),
    { objectMode: false },
  );
}

function rangeInvalid(range: ByteRange, size: number): RangeNotSatisfiableError {
  return new RangeNotSatisfiableError(range, size);
}

function hasherKey(id: string, state: UploadState): string {
  return `${id} ${state.incarnation} ${state.size}`;
}

function errorName(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? ((e as { name?: string }).name ?? undefined) : undefined;
}

function isNotFound(e: unknown): boolean {
  const name = errorName(e);
  const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchBucket' && name !== 'NoSuchUpload');
}

const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);
/** Errors that say "the bucket is not usable right now / as configured" rather than "this object". */
const unusableNames = new Set(['NoSuchBucket', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'TimeoutError', 'RequestTimeout']);

function isUnavailable(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { code?: string; name?: string; cause?: { code?: string }; $metadata?: { httpStatusCode?: number } };
  if (connectionCodes.has(err.code ?? '') || connectionCodes.has(err.cause?.code ?? '')) return true;
  if (unusableNames.has(err.name ?? '')) return true;
  const status = err.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

function mapError(e: unknown, what: string): unknown {
  if (e instanceof StorageUnavailableError || !isUnavailable(e)) return e;
  const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new StorageUnavailableError(`S3 unavailable (${what}): ${detail}`, { cause: e });
}
