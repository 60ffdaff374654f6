import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** Buffers a stream keeps for reuse: one being sent, one being read, one spare. */
const poolSize = 3;

/**
 * A file range as a stream of `unit`-sized chunks that can reuse their memory: a consumer that knows when it is
 * done with a chunk (the socket has taken it) hands it back with `recycle`, and the next read goes into it. Fresh
 * buffers for every chunk cost V8 a full GC every few dozen MiB of external memory, which measured as most of a
 * pull's CPU after a push had grown the heap. A consumer that never recycles (a plain pipe) gets fresh buffers.
 */
export class RecyclingFileStream extends Readable {
  private readonly free: Buffer[] = [];
  private readonly unit: number;
  private position: number;
  private reading = false;

  constructor(
    private readonly fh: FileHandle,
    start: number,
    /** Inclusive, like fs.createReadStream's. */
    private readonly end: number,
    unit: number,
  ) {
    super({ highWaterMark: 1, objectMode: false });
    this.position = start;
    this.unit = Math.max(1, Math.min(unit, end - start + 1));
  }

  /** Gives a chunk this stream produced back for reuse; the caller must not touch it afterwards. */
  recycle(chunk: Buffer): void {
    if (this.free.length < poolSize && chunk.buffer.byteLength === this.unit && chunk.byteOffset === 0) {
      this.free.push(Buffer.from(chunk.buffer, 0, this.unit));
    }
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    const want = Math.min(this.unit, this.end - this.position + 1);
    if (want <= 0) {
      this.reading = false;
      this.push(null);
      return;
    }
    const buf = this.free.pop() ?? Buffer.allocUnsafeSlow(this.unit);
    this.fh.read(buf, 0, want, this.position).then(
      ({ bytesRead }) => {
        this.reading = false;
        if (bytesRead === 0) {
          this.push(null);
          return;
        }
        this.position += bytesRead;
        this.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      },
      (err: Error) => {
        this.reading = false;
        this.destroy(err);
      },
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.fh.close().then(
      () => cb(err),
      (closeErr: Error) => cb(err ?? closeErr),
    );
  }
}
