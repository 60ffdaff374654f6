import type { Context } from 'koa';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** A stream whose chunks may be handed back once sent (the fs store's reads: storage-adapters/blob/fs/recycling-read.ts). */
export interface RecyclingStream extends Readable {
  recycle(chunk: Buffer): void;
}

export function isRecycling(stream: Readable): stream is RecyclingStream {
  return typeof (stream as Partial<RecyclingStream>).recycle === 'function';
}

/**
 * Sends `stream` as the response body itself instead of through Koa's pipe, so each chunk goes back to the
 * stream as soon as the socket has taken it (the write callback) and the next read reuses its memory. Headers and
 * status are those already set on ctx. Resolves when the body is sent or the client has gone (then the stream is
 * destroyed); never throws once the head is out.
 */
export async function sendRecycled(ctx: Context, stream: RecyclingStream, onChunk: (n: number) => void): Promise<void> {
  ctx.respond = false;
  const res = ctx.res;
  res.writeHead(ctx.status, ctx.response.headers as OutgoingHttpHeaders);
  try {
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

function drainOrClose(res: Context['res']): Promise<void> {
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
