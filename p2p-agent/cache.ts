import { mkdir, readdir, rename, rm, stat, utimes, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import type { Digest } from '../core/digest.js';

// The agent's blob cache: verified blobs on disk under <data>/blobs, least recently used evicted first when the
// total passes the limit. Use order is the files' mtime (touched on every hit), so it survives restarts with
// no index to keep consistent. The .torrent of each blob sits in <data>/torrents, so it can be seeded again.

export interface CacheEntry {
  digest: Digest;
  size: number;
}

export class BlobCache {
  /** Insertion order = use order (oldest first). */
  private readonly entries = new Map<Digest, number>();
  private readonly pins = new Map<Digest, number>();
  private total = 0;
  /** Space promised to downloads in progress. */
  private reserved = 0;
  readonly blobsDir: string;
  readonly partialDir: string;
  readonly torrentsDir: string;

  constructor(
    dataDir: string,
    readonly maxBytes: number,
    private readonly log: Logger,
    /** Called after a blob left the cache (the agent stops seeding it). */
    private readonly onEvict: (digest: Digest) => void = () => undefined,
  ) {
    this.blobsDir = join(dataDir, 'blobs');
    this.partialDir = join(dataDir, 'partial');
    this.torrentsDir = join(dataDir, 'torrents');
  }

  async open(): Promise<void> {
    await Promise.all([this.blobsDir, this.partialDir, this.torrentsDir].map((d) => mkdir(d, { recursive: true })));
    const found: { digest: Digest; size: number; mtime: number }[] = [];
    for (const name of await readdir(this.blobsDir)) {
      const digest = digestOfName(name);
      if (!digest) continue;
      const s = await stat(join(this.blobsDir, name)).catch(() => undefined);
      if (s?.isFile()) found.push({ digest, size: s.size, mtime: s.mtimeMs });
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) {
      this.entries.set(f.digest, f.size);
      this.total += f.size;
    }
    await this.evict();
  }

  get bytes(): number {
    return this.total;
  }

  list(): CacheEntry[] {
    return [...this.entries].map(([digest, size]) => ({ digest, size }));
  }

  has(digest: Digest): boolean {
    return this.entries.has(digest);
  }

  sizeOf(digest: Digest): number | undefined {
    return this.entries.get(digest);
  }

  blobPath(digest: Digest): string {
    return join(this.blobsDir, fileName(digest));
  }

  partialPath(digest: Digest): string {
    return join(this.partialDir, fileName(digest));
  }

  torrentPath(digest: Digest): string {
    return join(this.torrentsDir, `${fileName(digest)}.torrent`);
  }

  async saveTorrent(digest: Digest, raw: Buffer): Promise<void> {
    await writeFile(`${this.torrentPath(digest)}.tmp`, raw);
    await rename(`${this.torrentPath(digest)}.tmp`, this.torrentPath(digest));
  }

  async loadTorrent(digest: Digest): Promise<Buffer | undefined> {
    return readFile(this.torrentPath(digest)).catch(() => undefined);
  }

  /** Marks a use: the blob moves to the young end (and its mtime records that across restarts). */
  touch(digest: Digest): void {
    const size = this.entries.get(digest);
    if (size === undefined) return;
    this.entries.delete(digest);
    this.entries.set(digest, size);
    const now = new Date();
    void utimes(this.blobPath(digest), now, now).catch(() => undefined);
  }

  /** A blob being read is never evicted. Returns the release. */
  pin(digest: Digest): () => void {
    this.pins.set(digest, (this.pins.get(digest) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.pins.get(digest) ?? 1) - 1;
      if (n <= 0) this.pins.delete(digest);
      else this.pins.set(digest, n);
    };
  }

  /** Makes room for a download of `size` bytes; returns the release of the reservation. */
  async reserve(size: number): Promise<() => void> {
    this.reserved += size;
    await this.evict();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved -= size;
    };
  }

  /** Moves a verified blob from its partial file into the cache. */
  async admit(digest: Digest, size: number): Promise<void> {
    await rename(this.partialPath(digest), this.blobPath(digest));
    if (!this.entries.has(digest)) this.total += size;
    this.entries.delete(digest);
    this.entries.set(digest, size);
    await this.evict();
  }

  async remove(digest: Digest): Promise<void> {
    const size = this.entries.get(digest);
    if (size === undefined) return;
    this.entries.delete(digest);
    this.total -= size;
    await rm(this.blobPath(digest), { force: true });
    await rm(this.torrentPath(digest), { force: true });
    this.onEvict(digest);
  }

  private async evict(): Promise<void> {
    for (const [digest, size] of [...this.entries]) {
      if (this.total + this.reserved <= this.maxBytes) break;
      if (this.pins.has(digest)) continue;
      this.log.info({ digest, size }, 'cache: evicting least recently used blob');
      await this.remove(digest);
    }
  }
}

function fileName(digest: Digest): string {
  return digest.replace(':', '-');
}

function digestOfName(name: string): Digest | undefined {
  const m = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})$/.exec(name);
  return m ? (`${m[1]}:${m[2]}` as Digest) : undefined;
}
