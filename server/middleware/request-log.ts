import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../../core/log.js';
import type { ServerMetrics } from '../metrics.js';

/** Request id, a per-request child logger, one log line and the HTTP metrics per request. */
export function requestLog(log: Logger, metrics: ServerMetrics) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const start = process.hrtime.bigint();
    // Read now: after a refused body the socket may be destroyed, and Koa's ctx.ip then throws.
    const remote = remoteOf(ctx);
    ctx.state.remote = remote;
    const id = ctx.get('X-Request-Id') || randomUUID();
    ctx.set('X-Request-Id', id);
    ctx.state.requestId = id;
    ctx.state.log = log.child({ reqId: id });
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = (ctx.state.route as string | undefined) ?? (ctx._matchedRoute ? String(ctx._matchedRoute) : 'unmatched');
      const status = ctx.status;
      metrics.requests.inc({ method: ctx.method, route, status: String(status) });
      metrics.latency.observe({ method: ctx.method, route }, seconds);
      const len = ctx.response.length;
      if (typeof len === 'number' && ctx.method !== 'HEAD') metrics.bytesOut.inc(len);
      if (log.isLevelEnabled('info')) {
        ctx.state.log.info({ method: ctx.method, url: ctx.url, status, ms: Math.round(seconds * 1e4) / 10, remote }, 'request');
      }
    }
  };
}

function remoteOf(ctx: Context): string | undefined {
  try {
    return ctx.ip;
  } catch {
    return ctx.req.socket?.remoteAddress;
  }
}
