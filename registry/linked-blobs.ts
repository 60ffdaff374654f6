import type { Digest } from '../core/digest.js';
import type { ByteRange } from '../core/range.js';
import { BlobNotFoundError, type BlobInfo, type BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../storage-adapters/meta/meta-store.js';
import { TOUCH_EVERY_MS, whilePinned } from './blob-guard.js';
import type { Quotas } from './quotas.js';
import type { Readable } from 'node:stream';

// A blob is readable through a repository only when linked there (pushed or mounted into it), and a link exists
// only while the bytes do: bytes are stored and linked under a pin, and GC deletes bytes only under a fence that
// requires no link (see MetaStore, "online GC").

export class LinkedBlobs {
  constructor(
    private readonly blobs: BlobStore,
    private readonly meta: MetaStore,
    /** Counts linked blobs against project quotas; absent: nothing counted (a registry core without projects). */
    private readonly quotas?: Quotas,
  ) {}

  /** The blob as seen through `repository`; undefined unless linked there and stored. */
  async stat(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
    const link = await this.meta.getBlobLink(repository, digest);
    return link && (await this.blobs.stat(digest));
  }

  /** The size `digest` was linked into `repository` with; undefined when it is not linked there. */
  async linkedSize(repository: string, digest: Digest): Promise<number | undefined> {
    return (await this.meta.getBlobLink(repository, digest))?.size;
  }

  /**
   * As stat, for a client about to rely on the answer (HEAD before skipping an upload): the link is touched, so
   * GC spares it for a grace period from now, and a link GC removed meanwhile answers undefined.
   */
  async confirm(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
    const link = await this.meta.getBlobLink(repository, digest);
    if (!link) return undefined;
    if (Date.now() - link.linkedAt >= TOUCH_EVERY_MS && !(await this.meta.touchBlobLink(repository, digest))) return undefined;
    return this.blobs.stat(digest);
  }

  /** The bytes of a blob stat() or stored() answered for, optionally one range of them. */
  open(digest: Digest, range?: ByteRange): Promise<Readable> {
    return this.blobs.read(digest, range);
  }

  /** The bytes of `digest` as read through `repository` (`range` when given); BlobNotFoundError unless linked
   *  there. For readers outside a request (replication's local source). */
  async openLinked(repository: string, digest: Digest, range?: ByteRange): Promise<Readable> {
    if (!(await this.meta.getBlobLink(repository, digest))) throw new BlobNotFoundError(digest);
    return this.blobs.read(digest, range);
  }

  /** A URL the client may fetch the bytes from directly (S3 presigned), when the store offers one. */
  async redirectUrl(digest: Digest): Promise<string | undefined> {
    return this.blobs.redirectUrl ? this.blobs.redirectUrl(digest) : undefined;
  }

  /**
   * The stored blob regardless of repository, for callers that authorised the digest itself (a signed P2P web
   * seed URL, the torrent of a blob the caller may pull through some repository).
   */
  stored(digest: Digest): Promise<BlobInfo | undefined> {
    return this.blobs.stat(digest);
  }

  /** Verifies the upload's bytes against `digest`, makes them visible and links them into `repository`. */
  commitUpload(repository: string, uploadId: string, digest: Digest, size?: number): Promise<BlobInfo> {
    return whilePinned(this.meta, digest, async () => {
      const info = await this.blobs.commitUpload(uploadId, digest, size);
      // Verified bytes no project pays for are GC's; a refusal leaves exactly those.
      await this.linkCharged(repository, info.digest, info.size);
      return info;
    });
  }

  /**
   * Links `digest` into `repository` from the first of `sources` that holds it and that `mayRead` allows;
   * undefined when none does (the caller falls back to an upload). A blob GC is deleting is not mounted.
   */
  async mount(repository: string, digest: Digest, sources: string[], mayRead: (source: string) => Promise<boolean>): Promise<BlobInfo | undefined> {
    for (const source of sources) {
      if (!(await this.meta.getBlobLink(source, digest))) continue;
      if (!(await mayRead(source))) continue;
      return whilePinned(this.meta, digest, async () => {
        const info = await this.blobs.stat(digest);
        if (!info) return undefined;
        await this.linkCharged(repository, digest, info.size);
        return info;
      });
    }
    return undefined;
  }

  /** Repositories holding `digest`: those a mount without `from` may try, or a pull by digest alone. */
  holders(digest: Digest, limit: number): Promise<string[]> {
    return this.meta.blobRepositories(digest, limit);
  }

  /** Unlinking is the delete; the bytes go when GC finds no other reference. */
  async unlink(repository: string, digest: Digest): Promise<boolean> {
    const removed = await this.meta.unlinkBlob(repository, digest);
    if (removed) await this.quotas?.release(repository, [digest]);
    return removed;
  }

  /** Charges the project's quota (DENIED past its limit), then links; a failed link gives the charge back. */
  private async linkCharged(repository: string, digest: Digest, size: number): Promise<void> {
    await this.quotas?.charge(repository, digest, size);
    try {
      await this.meta.linkBlob(repository, digest, size);
    } catch (e) {
      await this.quotas?.release(repository, [digest]).catch(() => undefined);
      throw e;
    }
  }
}
