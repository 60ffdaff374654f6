import type { Context } from 'koa';

// Harbor is served by Go's net/http, which reads up to 256 KiB of a body the handler left unread so the
// connection can carry the next request, and answers "Connection: close" when more than that is left
// (net/http/server.go, maxPostHandlerReadBytes). Node would read any amount; this puts Go's bound on it.

export const MAX_UNREAD_BODY = 256 * 1024;

/** Called once the answer is decided: drains a small unread body, or marks the connection for closing. */
export async function settleUnreadBody(ctx: Context): Promise<void> {
  const req = ctx.req;
  // Everything has arrived (or there never was a body): node discards what is left and the connection stays.
  if (req.complete || req.readableEnded || req.destroyed) return;
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    if (Number(declared) > MAX_UNREAD_BODY) ctx.set('Connection', 'close');
    return;
  }
  // A chunked body of unknown length: read up to the bound to learn whether it ends there.
  if (!(await drain(req, MAX_UNREAD_BODY))) ctx.set('Connection', 'close');
}

/** Reads and discards up to `limit` bytes; true when the body ended within them. */
function drain(req: Context['req'], limit: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (ended: boolean) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onFail);
      req.off('close', onFail);
      if (!ended) req.pause();
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) finish(false);
    };
    const onEnd = () => finish(true);
    const onFail = () => finish(false);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onFail);
    req.once('close', onFail);
    req.resume();
  });
}
