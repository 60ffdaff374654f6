import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestAlgorithm, type Digest } from '../core/digest.js';
import type { Logger } from '../core/log.js';
import type { BlobCache } from './cache.js';
import type { AgentMetrics } from './metrics.js';
import type { PieceFile } from './piece-file.js';
import type { Swarm } from './swarm.js';
import { pieceSize } from './torrent.js';

// One blob being fetched through its swarm, however many local clients want it. Pieces are hashed into the
// blob's digest in order as they verify; readers stream the same pieces in order right behind. The last bytes
// of the blob are released only once the whole digest matched, so a client can never receive a complete but
// wrong blob — a mismatch ends every response early. Then the blob enters the cache and keeps being seeded.

export class DownloadFailed extends Error {}

export interface DownloadOptions {
  digest: Digest;
  swarm: Swarm;
  file: PieceFile;
  cache: BlobCache;
  metrics: AgentMetrics;
  log: Logger;
  /** Fail when no piece arrives for this long, from peers or the origin. */
  deadlineMs: number;
  /** Gives back the cache space reserved for the download (the blob itself takes it over). */
  releaseReservation: () => void;
}

export class BlobDownload {
  readonly digest: Digest;
  readonly size: number;
  /** Settles when the blob is verified and in the cache (or failed). */
  readonly done: Promise<void>;
  private readonly started = Date.now();
  private readonly hash: Hash;
  private hashedPieces = 0;
  /** The next piece of each client stream (the digest's is hashedPieces). */
  private readonly readers = new Set<{ next: number }>();
  private hashing = false;
  private failure: Error | undefined;
  private verified = false;
  private readonly waiters = new Map<number, { resolve: () => void; reject: (e: Error) => void }[]>();
  private settle!: { resolve: () => void; reject: (e: Error) => void };
  private lastProgress = Date.now();
  private readonly watchdog: NodeJS.Timeout;

  constructor(private readonly o: DownloadOptions) {
    this.digest = o.digest;
    this.size = o.swarm.torrent.length;
    this.hash = createHash(digestAlgorithm(o.digest));
    this.done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined);
    o.swarm.on('piece', (index: number) => this.onPiece(index));
    o.swarm.on('error', (err: Error) => this.fail(err));
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastProgress > o.deadlineMs) this.fail(new DownloadFailed(`no data for ${o.deadlineMs} ms from peers or the origin`));
    }, 1000);
    this.watchdog.unref();
    o.metrics.activeDownloads.inc();
    // Pieces resumed from a previous run are already there.
    void this.advance();
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** The bytes start..end (inclusive) as they become available. */
  read(start: number, end: number): Readable {
    const t = this.o.swarm.torrent;
    const first = Math.floor(start / t.pieceLength);
    const last = Math.floor(end / t.pieceLength);
    const self = this;
    const reader = { next: first };
    this.readers.add(reader);
    const stream = Readable.from(
      (async function* () {
        for (let i = first; i <= last; i++) {
          await self.waitFor(i);
          if (i === t.pieceCount - 1) await self.done;
          const data = await self.o.swarm.readPiece(i, true);
          reader.next = i + 1;
          self.release(i);
          const base = i * t.pieceLength;
          const from = Math.max(start, base) - base;
          const to = Math.min(end, base + pieceSize(t, i) - 1) - base + 1;
          yield data.subarray(from, to);
        }
      })(),
      { objectMode: false, highWaterMark: 1 },
    );
    stream.once('close', () => this.readers.delete(reader));
    return stream;
  }

  /** Once the digest and every client stream are past a piece, it is the first to leave piece memory. */
  private release(index: number): void {
    if (this.hashedPieces <= index) return;
    for (const r of this.readers) if (r.next <= index) return;
    this.o.swarm.consumed(index);
  }

  private waitFor(index: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.o.swarm.have.has(index)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(index) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(index, list);
    });
  }

  private onPiece(index: number): void {
    this.lastProgress = Date.now();
    const list = this.waiters.get(index);
    if (list) {
      this.waiters.delete(index);
      for (const w of list) w.resolve();
    }
    void this.advance();
  }

  /** Hashes verified pieces in order; at the end checks the digest and hands the blob to the cache. */
  private async advance(): Promise<void> {
    if (this.hashing || this.failure || this.verified) return;
    this.hashing = true;
    try {
      const t = this.o.swarm.torrent;
      while (this.hashedPieces < t.pieceCount && this.o.swarm.have.has(this.hashedPieces)) {
        this.hash.update(await this.o.swarm.readPiece(this.hashedPieces, true));
        this.hashedPieces++;
        this.release(this.hashedPieces - 1);
      }
      if (this.hashedPieces === t.pieceCount && !this.verified) {
        const actual = `${digestAlgorithm(this.digest)}:${this.hash.digest('hex')}`;
        if (actual !== this.digest) throw new DownloadFailed(`content digest ${actual} does not match ${this.digest}`);
        this.verified = true;
        await this.o.file.finish();
        this.o.releaseReservation();
        await this.o.cache.admit(this.digest, this.size);
        clearInterval(this.watchdog);
        this.o.metrics.activeDownloads.dec();
        this.o.metrics.downloadSeconds.observe((Date.now() - this.started) / 1000);
        this.o.log.info({ digest: this.digest, size: this.size, ms: Date.now() - this.started }, 'p2p: blob downloaded and verified');
        this.settle.resolve();
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.hashing = false;
    }
  }

  fail(err: Error): void {
    if (this.failure || this.verified) return;
    this.failure = err;
    clearInterval(this.watchdog);
    this.o.metrics.activeDownloads.dec();
    this.o.metrics.downloadsFailed.inc();
    this.o.log.error({ err, digest: this.digest, hashed: this.hashedPieces, swarm: this.o.swarm.describe() }, 'p2p: download failed');
    for (const list of this.waiters.values()) for (const w of list) w.reject(err);
    this.waiters.clear();
    this.settle.reject(err);
  }
}
