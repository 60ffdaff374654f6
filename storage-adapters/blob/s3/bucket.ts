// The S3 calls the BlobStore makes, on one bucket under one key prefix: objects, multipart uploads, copies, and
// an upload's state object. Every failure to reach the bucket becomes StorageUnavailableError (errors.ts).
import type { Readable } from 'node:stream';
import {
  S3Client,
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { isUploadId } from '../../../core/names.js';
import { digestAlgorithm, digestHex, type Digest } from '../../../core/digest.js';
import { BlobNotFoundError, StorageUnavailableError, UploadNotFoundError, type BlobInfo } from '../blob-store.js';
import { isNotFound, isUnavailable, mapError } from './errors.js';
import type { Segment, UploadState } from './upload-state.js';

const MiB = 1024 * 1024;
/** S3's ceiling for one CopyObject; larger blobs are copied part by part. */
const maxSingleCopy = 5 * 1024 * MiB;
const copyPartSize = 512 * MiB;

export class Bucket {
  constructor(
    readonly s3: S3Client,
    readonly name: string,
    readonly prefix: string,
  ) {}

  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw mapError(e, what);
    }
  }

  blobKey(digest: Digest): string {
    return `${this.prefix}blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
  }

  stateKey(id: string): string {
    return `${this.prefix}uploads/${id}/state`;
  }

  dataKey(id: string): string {
    return `${this.prefix}uploads/${id}/data`;
  }

  segmentKey(id: string, seg: Segment): string {
    return `${this.prefix}uploads/${id}/seg-${seg.offset}-${seg.offset + seg.size}`;
  }

  async createMultipart(id: string): Promise<string> {
    const out = await this.call(`create upload ${id}`, () =>
      this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: this.dataKey(id) })),
    );
    if (!out.UploadId) throw new StorageUnavailableError('S3 returned no multipart upload id');
    return out.UploadId;
  }

  async abortMultipart(id: string, multipartId: string): Promise<void> {
    try {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: this.dataKey(id), UploadId: multipartId }));
    } catch (e) {
      // Already gone, or a server without the call (s3rver); a bucket lifecycle rule
      // (AbortIncompleteMultipartUpload) collects what is left.
      if (isUnavailable(e)) throw mapError(e, `abort ${id}`);
    }
  }

  async uploadPart(id: string, multipartId: string, n: number, body: Buffer): Promise<string> {
    const out = await this.call(`upload part ${n} of ${id}`, () =>
      this.s3.send(
        new UploadPartCommand({
          Bucket: this.name,
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

  async putSegment(id: string, offset: number, body: Buffer): Promise<Segment> {
    const seg = { offset, size: body.length };
    await this.putObject(`stage ${id}`, this.segmentKey(id, seg), body);
    return seg;
  }

  /** Server-side copy; past S3's 5 GiB CopyObject limit, a multipart copy (completed atomically as well). */
  async copy(from: string, to: string, size: number): Promise<void> {
    const source = `${this.name}/${from.split('/').map(encodeURIComponent).join('/')}`;
    if (size <= maxSingleCopy) {
      await this.call(`copy ${from}`, () => this.s3.send(new CopyObjectCommand({ Bucket: this.name, Key: to, CopySource: source })));
      return;
    }
    const out = await this.call(`copy ${from}`, () => this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: to })));
    const uploadId = out.UploadId!;
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0, n = 1; start < size; start += copyPartSize, n++) {
        const end = Math.min(start + copyPartSize, size) - 1;
        const r = await this.call(`copy ${from}`, () =>
          this.s3.send(
            new UploadPartCopyCommand({
              Bucket: this.name,
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
          new CompleteMultipartUploadCommand({ Bucket: this.name, Key: to, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        ),
      );
    } catch (e) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: to, UploadId: uploadId })).catch(() => {});
      throw e;
    }
  }

  async readState(id: string): Promise<UploadState> {
    if (!isUploadId(id)) throw new UploadNotFoundError(id);
    try {
      return JSON.parse((await this.getBytes(this.stateKey(id))).toString('utf8')) as UploadState;
    } catch (e) {
      if (e instanceof BlobNotFoundError) throw new UploadNotFoundError(id);
      throw e;
    }
  }

  async writeState(id: string, state: UploadState): Promise<void> {
    await this.putObject(`stage ${id}`, this.stateKey(id), Buffer.from(JSON.stringify(state)), 'application/json');
  }

  async getBody(key: string): Promise<Readable> {
    try {
      return (await this.s3.send(new GetObjectCommand({ Bucket: this.name, Key: key }))).Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw new BlobNotFoundError(key);
      throw mapError(e, `get ${key}`);
    }
  }

  /** A small object's bytes (state, segments: below one part). */
  async getBytes(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    try {
      for await (const c of await this.getBody(key)) chunks.push(c as Buffer);
    } catch (e) {
      throw e instanceof BlobNotFoundError ? e : mapError(e, `get ${key}`);
    }
    return Buffer.concat(chunks);
  }

  async head(key: string, digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
      return { digest, size: out.ContentLength ?? 0, createdAt: out.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw mapError(e, `stat ${digest}`);
    }
  }

  async headSize(key: string): Promise<number | undefined> {
    try {
      return (await this.s3.send(new HeadObjectCommand({ Bucket: this.name, Key: key }))).ContentLength;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw mapError(e, `stat ${key}`);
    }
  }

  async deleteKey(key: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
    } catch (e) {
      if (!isNotFound(e)) throw mapError(e, `delete ${key}`);
    }
  }

  async deleteKeys(keys: string[]): Promise<void> {
    await Promise.all(keys.map((k) => this.deleteKey(k)));
  }

  async *listKeys(prefix: string): AsyncIterable<{ key: string; size: number; lastModified: number }> {
    let token: string | undefined;
    do {
      const page = await this.call(`list ${prefix}`, () =>
        this.s3.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token })),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key) yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** A small object written whole (a blob below one part, a segment, the state). */
  async putObject(what: string, key: string, body: Uint8Array, contentType?: string): Promise<void> {
    await this.call(what, () =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: this.name,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ...(contentType ? { ContentType: contentType } : {}),
        }),
      ),
    );
  }
}
