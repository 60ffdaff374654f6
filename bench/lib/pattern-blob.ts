// Blob bytes for pushes of any size without holding them in memory: one random 1 MiB block repeated. Random so no
// compression or dedup below the registry flatters anyone; a fresh block per run so each push is new content.
import { createHash, randomBytes } from 'node:crypto';

export const MiB = 1024 * 1024;

export class PatternBlob {
  readonly block: Buffer;
  readonly digest: string;

  constructor(readonly size: number, blockSize = MiB) {
    this.block = randomBytes(Math.min(blockSize, size));
    const h = createHash('sha256');
    for (const chunk of this.chunks()) h.update(chunk);
    this.digest = `sha256:${h.digest('hex')}`;
  }

  /** The bytes in [start, end) as views of the block, never copies. */
  *chunks(start = 0, end = this.size): Generator<Buffer> {
    const n = this.block.length;
    let pos = start;
    while (pos < end) {
      const off = pos % n;
      const len = Math.min(n - off, end - pos);
      yield this.block.subarray(off, off + len);
      pos += len;
    }
  }
}
