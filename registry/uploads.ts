import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.js';
import { isUploadId } from '../core/names.js';
import { DigestMismatchError, SizeMismatchError, type AppendOptions, type BlobInfo, type BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { MetaStore, UploadSession } from '../storage-adapters/meta/meta-store.js';
import type { LinkedBlobs } from './linked-blobs.js';

// Upload sessions: bytes staged in the BlobStore under the session id, the session (which repository it belongs
// to) in the MetaStore, so any instance sharing the stores can continue it. Bytes become a blob only through
// finish(), which verifies the digest before anything is visible.

export class Uploads {
  constructor(
    private readonly blobs: BlobStore,
    private readonly meta: MetaStore,
    private readonly linked: LinkedBlobs,
  ) {}

  /** Opens a session in `repository`; its id. */
  async start(repository: string): Promise<string> {
    const id = randomUUID();
    await this.blobs.createUpload(id);
    await this.meta.createUpload({ id, repository, startedAt: Date.now() });
    return id;
  }

  /** The session `id` when it exists and belongs to `repository`. */
  async session(repository: string, id: string): Promise<UploadSession | undefined> {
    const s = isUploadId(id) ? await this.meta.getUpload(id) : undefined;
    return s && s.repository === repository ? s : undefined;
  }

  /** Bytes received so far. */
  async size(id: string): Promise<number> {
    return (await this.blobs.uploadInfo(id)).size;
  }

  /** Appends `data` at `offset` (InvalidOffsetError unless it is the current size); the new size. */
  append(id: string, offset: number, data: Readable, opts?: AppendOptions): Promise<number> {
    return this.blobs.appendUpload(id, offset, data, opts);
  }

  /**
   * Makes the session's bytes the blob `digest` in `repository` and ends the session. Bytes that do not hash to
   * `digest` (or are not `size` long) end the session too, as distribution does; other failures keep it.
   */
  async finish(repository: string, id: string, digest: Digest, size: number): Promise<BlobInfo> {
    let info: BlobInfo;
    try {
      info = await this.linked.commitUpload(repository, id, digest, size);
    } catch (e) {
      if (e instanceof DigestMismatchError || e instanceof SizeMismatchError) await this.cancel(id).catch(() => undefined);
      throw e;
    }
    await this.meta.deleteUpload(id);
    return info;
  }

  /** Drops the session and its staged bytes. */
  async cancel(id: string): Promise<void> {
    await this.blobs.abortUpload(id);
    await this.meta.deleteUpload(id);
  }

  /**
   * A whole blob in one request (POST ?digest=): `fill` writes the bytes into a staging id that no client can
   * name, and they become the blob `digest` in `repository` or nothing.
   */
  async putWhole(repository: string, digest: Digest, fill: (id: string) => Promise<number>): Promise<BlobInfo> {
    const id = randomUUID();
    await this.blobs.createUpload(id);
    try {
      const size = await fill(id);
      return await this.linked.commitUpload(repository, id, digest, size);
    } catch (e) {
      await this.blobs.abortUpload(id).catch(() => undefined);
      throw e;
    }
  }
}
