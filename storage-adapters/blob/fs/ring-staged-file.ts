import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { ByteRing } from './byte-ring.js';
import type { RunningHash } from './running-hash.js';
import { stageChunks, type Batches } from './staged-file.js';

/**
 * StagedFile for a hash on another thread: socket chunks are copied once into the ring, each full slot (1 MiB)
 * is one write, and once it has landed the hash is handed exactly the bytes that reached the file. take() ends
 * only when every slot is written and hashed, so the ring can go back to its pool.
 */
export class RingStagedFile implements Batches {
  written = 0;
  failed = false;
  private position: number;
  /** Slot `seq` is filling with `fill` bytes. */
  private seq = 0;
  private fill = 0;
  private writing: Promise<void> = Promise.resolve();
  /** The last write of each slot position. */
  private readonly writes: Promise<void>[];
  /** Slots handed to the hash so far. */
  private absorbed = 0;
  /** Slots completely written. */
  private writtenSlots = 0;

  constructor(
    private readonly fh: FileHandle,
    offset: number,
    private readonly hash: RunningHash | undefined,
    private readonly ring: ByteRing,
  ) {
    this.position = offset;
    this.writes = new Array<Promise<void>>(ring.slots).fill(Promise.resolve());
  }

  async take(data: Readable, opts: { expectedLength?: number; maxTotal?: number; keepOnError: boolean }): Promise<void> {
    try {
      await stageChunks(data, this.position, opts, this);
    } finally {
      // The ring goes back to the pool only once nothing reads it any more.
      await this.writing.catch(() => undefined);
      if (this.hash) await this.ring.waitHashed(this.absorbed, this.hash.gone);
    }
  }

  add(buf: Buffer, from = 0): Promise<void> | undefined {
    const ring = this.ring;
    for (let off = from; off < buf.length; ) {
      if (this.failed) return undefined; // a slot may still be hashing: write nothing more over the ring
      if (this.fill === 0 && this.seq >= ring.slots) {
        const wait = this.slotFree();
        if (wait) return wait.then(() => this.add(buf, off));
      }
      const n = Math.min(buf.length - off, ring.slotSize - this.fill);
      buf.copy(ring.data, ring.offset(this.seq) + this.fill, off, off + n);
      this.fill += n;
      off += n;
      if (this.fill === ring.slotSize) this.flush();
    }
    return undefined;
  }

  flush(): void {
    if (this.fill === 0) return;
    const seq = this.seq;
    const len = this.fill;
    this.seq++;
    this.fill = 0;
    this.writing = this.writing.then(() => this.write(seq, len)); // in order: each write lands at the file's end
    this.writing.catch(() => (this.failed = true)); // observed here, rethrown where awaited
    this.writes[seq % this.ring.slots] = this.writing;
  }

  settled(): Promise<void> {
    return this.writing;
  }

  /** Undefined when slot `seq`'s previous use is written and hashed; else a promise for that. */
  private slotFree(): Promise<void> | undefined {
    const used = this.seq - this.ring.slots + 1;
    const hashed = Math.min(used, this.absorbed);
    if (this.writtenSlots >= used && (!this.hash || this.ring.hashed >= hashed)) return undefined;
    const written = this.writes[this.seq % this.ring.slots]!;
    return (async () => {
      await written.catch(() => undefined);
      if (this.hash) await this.ring.waitHashed(hashed, this.hash.gone);
    })();
  }

  private async write(seq: number, len: number): Promise<void> {
    const buf = this.ring.view(seq, len);
    let done = 0;
    try {
      while (done < len) {
        const { bytesWritten } = await this.fh.write(buf, done, len - done, this.position);
        if (bytesWritten === 0) throw new Error('staged file accepted no bytes');
        this.position += bytesWritten;
        this.written += bytesWritten;
        done += bytesWritten;
      }
      this.writtenSlots = seq + 1;
    } finally {
      // hash exactly what landed, even when a short write was followed by a failure
      if (done > 0 && this.hash) {
        this.hash.absorb(this.ring, seq, done);
        this.absorbed = seq + 1;
      }
    }
  }
}
