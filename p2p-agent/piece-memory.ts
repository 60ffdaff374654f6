// Recently verified or read pieces, kept in memory up to a byte budget: the pieces peers ask for are mostly the
// ones just received, and local readers stream right behind the download.

export class PieceMemory {
  private readonly pieces = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Buffer | undefined {
    const hit = this.pieces.get(key);
    if (hit) {
      this.pieces.delete(key);
      this.pieces.set(key, hit);
    }
    return hit;
  }

  set(key: string, data: Buffer): void {
    if (data.length > this.maxBytes) return;
    const old = this.pieces.get(key);
    if (old) {
      this.bytes -= old.length;
      this.pieces.delete(key);
    }
    this.pieces.set(key, data);
    this.bytes += data.length;
    for (const [k, v] of this.pieces) {
      if (this.bytes <= this.maxBytes) break;
      this.pieces.delete(k);
      this.bytes -= v.length;
    }
  }

  /** Forgets every piece of one torrent (its blob was evicted or its download failed). */
  forget(infoHash: string): void {
    for (const [k, v] of this.pieces) {
      if (!k.startsWith(`${infoHash}:`)) continue;
      this.pieces.delete(k);
      this.bytes -= v.length;
    }
  }
}
