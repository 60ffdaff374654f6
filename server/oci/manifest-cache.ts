import { LRUCache } from 'lru-cache';
import type { Digest } from '../../core/digest.js';
import type { BlobStore } from '../../storage-adapters/blob/blob-store.js';

/** Manifest bytes by digest. Content-addressed, so entries never go stale; only the memory bound evicts them. */
export class ManifestCache {
  private readonly lru: LRUCache<string, Buffer>;

  constructor(
    private readonly blobs: BlobStore,
    maxBytes = 64 * 1024 * 1024,
  ) {
    this.lru = new LRUCache<string, Buffer>({ maxSize: maxBytes, sizeCalculation: (b) => Math.max(1, b.length) });
  }

  set(digest: Digest, bytes: Buffer): void {
    this.lru.set(digest, bytes);
  }

  delete(digest: Digest): void {
    this.lru.delete(digest);
  }

  /** The manifest's bytes from memory, or read once from the BlobStore (BlobNotFoundError when absent). */
  async get(digest: Digest): Promise<Buffer> {
    const hit = this.lru.get(digest);
    if (hit) return hit;
    const chunks: Buffer[] = [];
    for await (const c of await this.blobs.read(digest)) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    this.lru.set(digest, bytes);
    return bytes;
  }
}
