import type { Context } from 'koa';
import type { OutgoingHttpHeaders } from 'node:http';
import { writeRecycled, type RecyclingStream } from '../../core/recycling-file-stream.js';

export { isRecycling } from '../../core/recycling-file-stream.js';

/**
 * Sends `stream` as the response body itself instead of through Koa's pipe, so each chunk goes back to the
 * stream once the socket has taken it (core/recycling-file-stream.ts). Headers and status are those already set
 * on ctx. Resolves when the body is sent or the client has gone; never throws once the head is out.
 */
export async function sendRecycled(ctx: Context, stream: RecyclingStream, onChunk: (n: number) => void): Promise<void> {
  ctx.respond = false;
  ctx.res.writeHead(ctx.status, ctx.response.headers as OutgoingHttpHeaders);
  await writeRecycled(ctx.res, stream, onChunk);
}
