import type { Context, Middleware, Next } from 'koa';
import { RegistryError } from '../../core/errors.js';
import { ApiError } from '../../core/harbor-api/errors.js';
import type { RuntimeSettings } from '../settings.js';

// Harbor's read-only mode (PUT /configurations {"read_only": true}): every request that would change something
// is refused with DENIED — pushes and deletes on /v2, admin changes on /api — until it is turned off again.
// Reads go on, and so do logging in and turning read-only off.

const MESSAGE = 'The system is in read only mode. Any modification is prohibited.';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function exempt(ctx: Context): boolean {
  if (ctx.method === 'PUT' && ctx.path === '/api/v2.0/configurations') return true;
  // docker login's refresh-token exchange, the console's login and logout, P2P announces.
  return ctx.path.startsWith('/service/') || ctx.path.startsWith('/c/') || ctx.path.startsWith('/p2p/');
}

export function readOnlyGuard(settings: RuntimeSettings): Middleware {
  return async (ctx: Context, next: Next) => {
    if (SAFE.has(ctx.method) || exempt(ctx) || !(await settings.get()).read_only) return next();
    if (ctx.path.startsWith('/v2/')) throw new RegistryError('DENIED', MESSAGE, { detail: { read_only: true } });
    throw new ApiError(403, MESSAGE, {}, 'DENIED');
  };
}
