import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { SizeMismatchError } from '../blob-store.js';
import type { ByteRing } from './byte-ring.js';
import type { RunningHash } from './running-hash.js';

/**
 * Writes one append's bytes into the staged file at its end. Socket chunks (16–64 KiB) are copied once into the
 * ring; each full slot (1 MiB) is one write while the next slots fill, and the hash is fed exactly the bytes that
 * reached the file — so its state always matches what is staged, whatever fails and when. (A fs.WriteStream
 * would drop its buffered chunks on a source error.)
 */
export class StagedFile {
  written = 0;
  private position: number;
  /** Slots handed to the hash so far. */
  private absorbed = 0;

  constructor(
    private readonly fh: FileHandle,
    offset: number,
    private readonly hash: RunningHash | undefined,
    private readonly ring: ByteRing,
  ) {
    this.position = offset;
  }

  async take(
    data: Readable,
    opts: { expectedLength?: number; maxTotal?: number; keepOnError: boolean },
  ): Promise<void> {
    const { expectedLength, maxTotal, keepOnError } = opts;
    const ring = this.ring;
    const start = this.position;
    // Slot `seq` is filling with `fill` bytes; writes[seq % slots] is that slot's last write.
    const writes: Promise<void>[] = new Array<Promise<void>>(ring.slots).fill(Promise.resolve());
    let seq = 0;
    let fill = 0;
    let arrived = 0;
    let writing: Promise<void> = Promise.resolve();
    let failed = false;
    const seal = () => {
      if (fill === 0) return;
      const s = seq;
      const len = fill;
      seq++;
      fill = 0;
      writing = writing.then(() => this.write(s, len)); // in order: each write lands at the file's end
      writing.catch(() => (failed = true)); // observed here, rethrown where awaited
      writes[s % ring.slots] = writing;
    };
    // The caller owns `data`: stopping early must not destroy it (an HTTP server still has to answer on it).
    const it = data.iterator({ destroyOnReturn: false });
    try {
      for await (const chunk of { [Symbol.asyncIterator]: () => it }) {
        const buf = toBuffer(chunk);
        arrived += buf.length;
        if (expectedLength !== undefined && arrived > expectedLength) throw new SizeMismatchError(expectedLength, arrived);
        if (maxTotal !== undefined && start + arrived > maxTotal) throw new SizeMismatchError(maxTotal, start + arrived);
        for (let off = 0; off < buf.length; ) {
          if (fill === 0 && seq >= ring.slots) await this.slotFree(seq, writes[seq % ring.slots]!);
          if (failed) await writing;
          const n = Math.min(buf.length - off, ring.slotSize - fill);
          buf.copy(ring.data, ring.offset(seq) + fill, off, off + n);
          fill += n;
          off += n;
          if (fill === ring.slotSize) seal();
        }
      }
      if (expectedLength !== undefined && arrived !== expectedLength) throw new SizeMismatchError(expectedLength, arrived);
      seal();
      await writing;
    } catch (err) {
      if (keepOnError && !(err instanceof SizeMismatchError)) seal();
      await writing.catch(() => undefined);
      throw err;
    } finally {
      // The ring goes back to the pool only once nothing reads it any more.
      await writing.catch(() => undefined);
      if (this.hash) await ring.waitHashed(this.absorbed, this.hash.gone);
    }
  }

  /** Waits until slot `seq`'s previous use (seq - slots) is written and hashed. */
  private async slotFree(seq: number, written: Promise<void>): Promise<void> {
    await written.catch(() => undefined);
    if (this.hash) await this.ring.waitHashed(Math.min(seq - this.ring.slots + 1, this.absorbed), this.hash.gone);
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
    } finally {
      // hash exactly what landed, even when a short write was followed by a failure
      if (done > 0 && this.hash) {
        this.hash.absorb(this.ring, seq, done);
        this.absorbed = seq + 1;
      }
    }
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError('upload stream must yield bytes');
}
