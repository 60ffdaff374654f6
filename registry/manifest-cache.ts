import { LRUCache } from 'lru-cache';
import type { Digest } from '../core/digest.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';

/** Per-entry cost beyond the bytes (key string, Buffer object, LRU slots), so the bound is in real memory. */
const ENTRY_OVERHEAD = 256;

/**
 * Manifest bytes by digest. Content-addressed, so entries never go stale; only the memory bound evicts them.
 * Entries are copied into buffers of their own: a small Buffer from Buffer.concat is a slice of Node's shared
 * 8 KiB pool, and caching the slice kept the whole slab alive — ~8 KiB of RSS per cached 500-byte manifest.
 */
export class ManifestCache {
  private readonly lru: LRUCache<string, Buffer>;

  constructor(
    private readonly blobs: BlobStore,
    maxBytes = 64 * 1024 * 1024,
  ) {
    this.lru = new LRUCache<string, Buffer>({ maxSize: maxBytes, sizeCalculation: (b) => b.length + ENTRY_OVERHEAD });
  }

  set(digest: Digest, bytes: Buffer): void {
    this.lru.set(digest, ownCopy(bytes));
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
    this.lru.set(digest, ownCopy(bytes));
    return bytes;
  }
}

/** `b` itself when it owns its memory, else a copy in an unpooled buffer of exactly its size. */
function ownCopy(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  const own = Buffer.allocUnsafeSlow(b.length);
  b.copy(own);
  return own;
}
