import type { AgentMetrics } from './metrics.js';
import type { PieceFile } from './piece-file.js';
import type { PieceMemory } from './piece-memory.js';
import { pieceSize, type PieceSet, type Torrent } from './torrent.js';

// One torrent's verified pieces: which we have, which are being written, and their bytes, from piece memory
// (recently verified or read) or from the partial file on disk.

export class PieceStore {
  /** Disk reads under way: a peer asks for a piece block by block, one read serves them all. */
  private readonly reading = new Map<number, Promise<Buffer>>();
  /** Verified pieces being written. */
  private readonly accepting = new Set<number>();

  constructor(
    private readonly torrent: Torrent,
    private readonly file: PieceFile,
    private readonly memory: PieceMemory,
    private readonly metrics: AgentMetrics,
  ) {}

  get have(): PieceSet {
    return this.file.have;
  }

  get complete(): boolean {
    return this.file.have.complete;
  }

  /** Neither verified nor being stored: worth fetching. */
  missing(i: number): boolean {
    return !this.have.has(i) && !this.accepting.has(i);
  }

  /** The lowest piece not yet verified (where in-order readers wait). */
  get cursor(): number {
    for (let i = 0; i < this.torrent.pieceCount; i++) if (!this.have.has(i)) return i;
    return this.torrent.pieceCount;
  }

  /** Bytes still missing. */
  get left(): number {
    let left = 0;
    for (let i = 0; i < this.torrent.pieceCount; i++) if (!this.have.has(i)) left += pieceSize(this.torrent, i);
    return left;
  }

  /**
   * Keeps a verified piece in memory and writes it to disk. From the call until the write settles the piece is
   * neither missing nor had, so nobody fetches it again meanwhile. Rejects when the write fails.
   */
  async store(index: number, data: Buffer): Promise<void> {
    this.accepting.add(index);
    this.memory.set(this.memoryKey(index), data);
    try {
      await this.file.write(index, data);
    } finally {
      this.accepting.delete(index);
    }
  }

  /**
   * A verified piece, from memory or disk. `local`: for the blob's own readers (client streams, the digest), who
   * take pieces in order and say when they are done with one (consumed); a peer's request counts as a use.
   */
  async read(index: number, local = false): Promise<Buffer> {
    const key = this.memoryKey(index);
    const hit = local ? this.memory.peek(key) : this.memory.get(key);
    if (hit) return hit;
    let pending = this.reading.get(index);
    if (!pending) {
      this.metrics.pieceDiskReads.inc();
      pending = this.file.read(index).then((data) => {
        this.memory.set(key, data);
        return data;
      });
      pending.finally(() => this.reading.delete(index)).catch(() => undefined);
      this.reading.set(index, pending);
    }
    return pending;
  }

  /** The blob's local readers are done with this piece: it is the first to leave piece memory. */
  consumed(index: number): void {
    this.memory.consume(this.memoryKey(index));
  }

  private memoryKey(index: number): string {
    return `${this.torrent.infoHash}:${index}`;
  }
}
