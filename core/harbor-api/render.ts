import type { Context, Middleware, Next } from 'koa';
import { RegistryError } from '../errors.js';
import { ApiError } from './errors.js';
import { settleUnreadBody } from './unread-body.js';

// One place renders every failure under the Harbor-shaped paths (the admin API, replication's API, the token
// service): Harbor's error body, and the connection handled as Harbor's server does.

/** Turns an error of a layer this toolkit cannot see (a store's conflict, say) into an ApiError, or declines. */
export type ErrorTranslation = (e: unknown) => ApiError | undefined;

/** Maps failures of requests under `prefixes` to Harbor's error body; other paths pass through untouched. */
export function harborErrors(prefixes: string[], translate: ErrorTranslation = () => undefined): Middleware {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!prefixes.some((p) => ctx.path === p || ctx.path.startsWith(p + '/'))) return next();
    try {
      await next();
    } catch (e) {
      render(ctx, e, translate);
    }
    await settleUnreadBody(ctx);
  };
}

function render(ctx: Context, e: unknown, translate: ErrorTranslation): void {
  const err = e instanceof ApiError ? e : (translate(e) ?? fromRegistryError(e));
  ctx.type = 'application/json';
  if (!err) {
    ctx.state.log?.error({ err: e }, 'unhandled error');
    ctx.status = 500;
    ctx.body = { errors: [{ code: 'UNKNOWN', message: 'internal server error' }] };
    return;
  }
  ctx.status = err.status;
  for (const [k, v] of Object.entries(err.headers)) ctx.set(k, v);
  ctx.body = ctx.method === 'HEAD' ? null : err.toJSON();
}

function fromRegistryError(e: unknown): ApiError | undefined {
  return e instanceof RegistryError ? new ApiError(e.status, e.message, e.headers) : undefined;
}
