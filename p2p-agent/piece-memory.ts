// Recently verified or read pieces, kept in memory up to a byte budget: the pieces peers ask for are mostly the
// ones just received, and local readers stream right behind the download. Least recently used goes first, but
// pieces every local reader is done with go before all others: a piece still ahead of a reader that lags (a
// client slower than the swarm) would otherwise be pushed out by the pieces it just read, and read back from disk.

export class PieceMemory {
  /** Use order, oldest first. */
  private readonly pieces = new Map<string, Buffer>();
  /** Pieces the local readers are done with, in the order they were done: evicted first. */
  private readonly consumed = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Buffer | undefined {
    const hit = this.pieces.get(key) ?? this.consumed.get(key);
    if (hit) {
      this.pieces.delete(key);
      this.consumed.delete(key);
      this.pieces.set(key, hit);
    }
    return hit;
  }

  /** Without a use: for the local readers, who mark what they are done with (see consume). */
  peek(key: string): Buffer | undefined {
    return this.pieces.get(key) ?? this.consumed.get(key);
  }

  set(key: string, data: Buffer): void {
    if (data.length > this.maxBytes) return;
    this.remove(key);
    this.pieces.set(key, data);
    this.bytes += data.length;
    for (const map of [this.consumed, this.pieces]) {
      for (const [k, v] of map) {
        if (this.bytes <= this.maxBytes) return;
        map.delete(k);
        this.bytes -= v.length;
      }
    }
  }

  /** The local readers are done with this piece: it leaves before the others (a peer asking for it keeps it). */
  consume(key: string): void {
    const data = this.pieces.get(key);
    if (!data) return;
    this.pieces.delete(key);
    this.consumed.set(key, data);
  }

  /** Forgets every piece of one torrent (its blob was evicted or its download failed). */
  forget(infoHash: string): void {
    for (const map of [this.pieces, this.consumed]) {
      for (const k of map.keys()) if (k.startsWith(`${infoHash}:`)) this.remove(k);
    }
  }

  private remove(key: string): void {
    const old = this.pieces.get(key) ?? this.consumed.get(key);
    if (!old) return;
    this.pieces.delete(key);
    this.consumed.delete(key);
    this.bytes -= old.length;
  }
}
