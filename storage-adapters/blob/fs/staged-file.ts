import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { SizeMismatchError } from '../blob-store.js';
import { ioUnit } from './files.js';
import type { LocalHash } from './running-hash.js';

// Linux IOV_MAX: the most buffers one writev() takes.
const maxIovecs = 1024;

/** How an append's chunks reach the file: gathered into batches, each written while the next one fills. */
export interface Batches {
  /** Takes a chunk; a promise when the next chunk must wait (for a write, or a free buffer). */
  add(buf: Buffer): Promise<void> | undefined;
  /** Starts writing what is gathered. */
  flush(): void;
  /** Every write started so far has landed; rejects with the first write's failure. */
  settled(): Promise<void>;
  readonly failed: boolean;
}

/**
 * Stages one append's chunks through `batches`, checking its length on the way. The caller owns `data`:
 * stopping early must not destroy it (an HTTP server still has to answer on it). With `keepOnError`, what
 * arrived before a source error is still written.
 */
export async function stageChunks(
  data: Readable,
  start: number,
  opts: { expectedLength?: number; maxTotal?: number; keepOnError: boolean },
  batches: Batches,
): Promise<void> {
  const { expectedLength, maxTotal, keepOnError } = opts;
  let arrived = 0;
  const it = data.iterator({ destroyOnReturn: false });
  try {
    for await (const chunk of { [Symbol.asyncIterator]: () => it }) {
      const buf = toBuffer(chunk);
      arrived += buf.length;
      if (expectedLength !== undefined && arrived > expectedLength) throw new SizeMismatchError(expectedLength, arrived);
      if (maxTotal !== undefined && start + arrived > maxTotal) throw new SizeMismatchError(maxTotal, start + arrived);
      const wait = batches.add(buf);
      if (wait) await wait;
      if (batches.failed) await batches.settled();
    }
    if (expectedLength !== undefined && arrived !== expectedLength) throw new SizeMismatchError(expectedLength, arrived);
    batches.flush();
    await batches.settled();
  } catch (err) {
    if (keepOnError && !(err instanceof SizeMismatchError)) batches.flush();
    await batches.settled().catch(() => undefined);
    throw err;
  }
}

/**
 * Writes one append's bytes into the staged file at its end, ~1 MiB per writev while the next batch is read,
 * and feeds the hash exactly the bytes that reached the file — so its state always matches what is staged,
 * whatever fails and when. (A fs.WriteStream would drop its buffered chunks on a source error.)
 */
export class StagedFile implements Batches {
  written = 0;
  failed = false;
  private position: number;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly fh: FileHandle,
    offset: number,
    private readonly hash: LocalHash | undefined,
  ) {
    this.position = offset;
  }

  take(data: Readable, opts: { expectedLength?: number; maxTotal?: number; keepOnError: boolean }): Promise<void> {
    return stageChunks(data, this.position, opts, this);
  }

  add(buf: Buffer): Promise<void> | undefined {
    this.batch.push(buf);
    this.batchBytes += buf.length;
    if (this.batchBytes < ioUnit) return undefined;
    // at most one write in flight while the next batch fills
    return this.writing.then(() => this.flush(), () => undefined);
  }

  flush(): void {
    if (this.batchBytes === 0) return;
    const bufs = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    this.writing = this.writing.then(() => this.write(bufs));
    this.writing.catch(() => (this.failed = true)); // observed here, rethrown where awaited
  }

  settled(): Promise<void> {
    return this.writing;
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
          this.hash?.update(b);
          n -= b.length;
          i++;
        } else {
          this.hash?.update(b.subarray(0, n));
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
