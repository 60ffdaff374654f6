import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { PieceSet, pieceMatches, pieceSize, type Torrent } from './torrent.js';

// A blob being assembled from pieces on disk: a sparse file written at each piece's offset, plus a sidecar
// bitfield of the pieces verified so far. After a crash the bitfield is trusted only as a hint: each piece it
// lists is hashed again before it counts, so a torn write is fetched anew rather than served.

export class PieceFile {
  private saving: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private fhClosed = false;
  private sidecar: FileHandle | undefined;

  private constructor(
    readonly path: string,
    readonly torrent: Torrent,
    private fh: FileHandle,
    readonly have: PieceSet,
  ) {}

  /** Opens (or resumes) the partial file at `path`. */
  static async open(path: string, torrent: Torrent): Promise<PieceFile> {
    const fh = await open(path, 'a+').then(async (h) => {
      await h.close();
      return open(path, 'r+');
    });
    const have = new PieceSet(torrent.pieceCount);
    const file = new PieceFile(path, torrent, fh, have);
    let hint: Uint8Array | undefined;
    try {
      hint = await readFile(`${path}.have`);
    } catch {
      hint = undefined;
    }
    if (hint && hint.length === have.bits.length) {
      const claimed = new PieceSet(torrent.pieceCount);
      claimed.bits.set(hint);
      for (let i = 0; i < torrent.pieceCount; i++) {
        if (!claimed.has(i)) continue;
        const data = await file.read(i).catch(() => undefined);
        if (data && pieceMatches(torrent, i, data)) have.add(i);
      }
    }
    return file;
  }

  /** A complete, verified blob file (the cache) opened to be served to peers. */
  static async complete(path: string, torrent: Torrent): Promise<PieceFile> {
    const fh = await open(path, 'r');
    const have = new PieceSet(torrent.pieceCount);
    for (let i = 0; i < torrent.pieceCount; i++) have.add(i);
    return new PieceFile(path, torrent, fh, have);
  }

  async read(index: number): Promise<Buffer> {
    return this.readRange(index * this.torrent.pieceLength, pieceSize(this.torrent, index));
  }

  async readRange(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, position + done);
      if (bytesRead === 0) throw new Error(`short read at ${position + done} in ${this.path}`);
      done += bytesRead;
    }
    return buf;
  }

  /** Writes a verified piece and records it (the sidecar is saved lazily). */
  async write(index: number, data: Uint8Array): Promise<void> {
    let done = 0;
    const position = index * this.torrent.pieceLength;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
    this.have.add(index);
    this.dirty = true;
    this.saveSoon();
  }

  private saveSoon(): void {
    if (this.saving || this.closed) return;
    // One saver at a time, until nothing is left to save: two would each open the sidecar.
    this.saving = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      while (this.dirty && !this.closed) {
        this.dirty = false;
        // Overwritten in place, no fsync: the sidecar is only a hint (a torn or stale one costs a re-fetch,
        // never a wrong byte: every piece it names is hashed again on resume).
        if (!this.sidecar) {
          const opened = await open(`${this.path}.have`, 'w');
          if (this.closed) return void (await opened.close());
          this.sidecar = opened;
        }
        await this.sidecar.write(this.have.bits, 0, this.have.bits.length, 0);
      }
    })()
      .catch(() => undefined)
      .finally(() => (this.saving = undefined));
  }

  /** Makes the file what `path` now names (after the cache renamed it) and stops saving the sidecar. */
  async finish(): Promise<void> {
    this.closed = true;
    await this.saving;
    await this.closeSidecar();
    await rm(`${this.path}.have`, { force: true });
  }

  private async closeSidecar(): Promise<void> {
    const sidecar = this.sidecar;
    this.sidecar = undefined;
    await sidecar?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.saving;
    await this.closeSidecar();
    if (this.fhClosed) return;
    this.fhClosed = true;
    await this.fh.close().catch(() => undefined);
  }

  async discard(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true });
    await rm(`${this.path}.have`, { force: true });
  }
}
