import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Digester } from '../../../core/digest.js';
import { SizeMismatchError } from '../blob-store.js';
import { ioUnit } from './files.js';

// Linux IOV_MAX: the most buffers one writev() takes.
const maxIovecs = 1024;

/**
 * Writes one append's bytes into the staged file at its end, ~1 MiB per writev while the next batch is read,
 * and feeds the digester exactly the bytes that reached the file — so its state always matches what is staged,
 * whatever fails and when. (A fs.WriteStream would drop its buffered chunks on a source error.)
 */
export class StagedFile {
  written = 0;
  private position: number;

  constructor(
    private readonly fh: FileHandle,
    offset: number,
    private readonly digester: Digester | undefined,
  ) {
    this.position = offset;
  }

  async take(
    data: Readable,
    opts: { expectedLength?: number; maxTotal?: number; keepOnError: boolean },
  ): Promise<void> {
    const { expectedLength, maxTotal, keepOnError } = opts;
    const start = this.position;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let arrived = 0;
    let writing: Promise<void> = Promise.resolve();
    let failed = false;
    const flush = () => {
      if (batchBytes === 0) return;
      const bufs = batch;
      batch = [];
      batchBytes = 0;
      writing = writing.then(() => this.write(bufs));
      writing.catch(() => (failed = true)); // observed here, rethrown where awaited
    };
    // The caller owns `data`: stopping early must not destroy it (an HTTP server still has to answer on it).
    const it = data.iterator({ destroyOnReturn: false });
    try {
      for await (const chunk of { [Symbol.asyncIterator]: () => it }) {
        const buf = toBuffer(chunk);
        arrived += buf.length;
        if (expectedLength !== undefined && arrived > expectedLength) throw new SizeMismatchError(expectedLength, arrived);
        if (maxTotal !== undefined && start + arrived > maxTotal) throw new SizeMismatchError(maxTotal, start + arrived);
        batch.push(buf);
        batchBytes += buf.length;
        if (batchBytes >= ioUnit) {
          await writing; // at most one write in flight while the next batch fills
          flush();
        }
        if (failed) await writing;
      }
      if (expectedLength !== undefined && arrived !== expectedLength) throw new SizeMismatchError(expectedLength, arrived);
      flush();
      await writing;
    } catch (err) {
      if (keepOnError && !(err instanceof SizeMismatchError)) flush();
      await writing.catch(() => undefined);
      throw err;
    }
  }

  private async write(bufs: Buffer[]): Promise<void> {
    let i = 0;
    while (i < bufs.length) {
      const { bytesWritten } = await this.fh.writev(bufs.slice(i, i + maxIovecs), this.position);
      if (bytesWritten === 0) throw new Error('staged file accepted no bytes');
      this.position += bytesWritten;
      this.written += bytesWritten;
      // hash exactly what landed; a short write leaves the rest of a buffer for the next round
      let n = bytesWritten;
      while (n > 0) {
        const b = bufs[i]!;
        if (n >= b.length) {
          this.digester?.update(b);
          n -= b.length;
          i++;
        } else {
          this.digester?.update(b.subarray(0, n));
          bufs[i] = b.subarray(n);
          n = 0;
        }
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
