import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { sendFileBody } from './sendfile.js';

// File reads served to HTTP clients in large reused buffers: the registry's blob GETs (the fs store) and the P2P
// agent's cached blobs.

/** Reads served to clients go in 4 MiB steps: measured on loopback with curl, a 256 MiB GET runs at ~1.6 GB/s with
 *  1 MiB reads and ~2.3 GB/s with 4 MiB (fewer read/write system calls, fuller socket writes); 8 MiB gains nothing. */
export const SERVE_UNIT = 4 * 1024 * 1024;

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

  /** The file range still to be read, while nothing has been read yet (sendfile can then take the whole body). */
  unreadRange(): { fh: FileHandle; start: number; length: number } | undefined {
    if (this.reading || this.readableDidRead || this.destroyed) return undefined;
    return { fh: this.fh, start: this.position, length: this.end - this.position + 1 };
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

/** A stream whose chunks may be handed back once sent (RecyclingFileStream). */
export interface RecyclingStream extends Readable {
  recycle(chunk: Buffer): void;
}

export function isRecycling(stream: Readable): stream is RecyclingStream {
  return typeof (stream as Partial<RecyclingStream>).recycle === 'function';
}

/**
 * Writes `stream` as the body of `res` (its head already written), handing each chunk back to the stream as soon
 * as the socket has taken it (the write callback), so the next read reuses its memory. Resolves when the body is
 * sent or the client has gone (then the stream is destroyed); never throws.
 */
export async function writeRecycled(res: ServerResponse, stream: RecyclingStream, onChunk: (n: number) => void): Promise<void> {
  try {
    // The kernel's sendfile where it can be had: no copy through these buffers at all (core/sendfile.ts).
    const range = stream instanceof RecyclingFileStream ? stream.unreadRange() : undefined;
    if (range && (await sendFileBody(res, range.fh, range.start, range.length, onChunk))) return;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (res.destroyed) break;
      onChunk(chunk.length);
      const flushed = res.write(chunk, () => stream.recycle(chunk));
      if (!flushed) await drainOrClose(res);
    }
    if (!res.destroyed) res.end();
  } catch {
    // A read error after the head is out: the client sees a short body, as with a broken pipe.
    res.destroy();
  } finally {
    stream.destroy();
  }
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
