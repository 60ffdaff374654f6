import type { Context, Next } from 'koa';
import { RegistryError } from '../../core/errors.js';
import { ConflictError, NotFoundError } from '../../storage-adapters/meta/meta-store.js';

// Harbor's error shape for the admin API and the token service: {"errors":[{"code","message"}]} with Harbor's
// codes (src/lib/errors/const.go). One middleware maps every failure under those paths.

export type ApiErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'PRECONDITION'
  | 'TOO_MANY_REQUEST'
  | 'TOOMANYREQUESTS' // the token service speaks the distribution spec's code
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'REQUEST_ENTITY_TOO_LARGE'
  | 'UNKNOWN';

const codeForStatus: Record<number, ApiErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  412: 'PRECONDITION',
  413: 'REQUEST_ENTITY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUEST',
};

export class ApiError extends Error {
  readonly code: ApiErrorCode;

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    code?: ApiErrorCode,
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code ?? codeForStatus[status] ?? 'UNKNOWN';
  }
}

export const badRequest = (message: string) => new ApiError(400, message);
export const unauthorized = (message = 'unauthorized') => new ApiError(401, message);
export const forbidden = (message = 'forbidden') => new ApiError(403, message);
export const notFound = (message: string) => new ApiError(404, message);
export const conflict = (message: string) => new ApiError(409, message);

/** Maps failures of requests under `prefixes` to Harbor's error body; other paths pass through untouched. */
export function apiErrors(prefixes: string[]) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!prefixes.some((p) => ctx.path === p || ctx.path.startsWith(p + '/'))) return next();
    try {
      await next();
    } catch (e) {
      const err = toApiError(e);
      if (!err) {
        ctx.state.log?.error({ err: e }, 'unhandled error');
        ctx.status = 500;
        ctx.body = { errors: [{ code: 'UNKNOWN', message: 'internal server error' }] };
        return;
      }
      ctx.status = err.status;
      for (const [k, v] of Object.entries(err.headers)) ctx.set(k, v);
      ctx.type = 'application/json';
      ctx.body = ctx.method === 'HEAD' ? null : { errors: [{ code: err.code, message: err.message }] };
      if (!ctx.req.readableEnded && ctx.req.readable) ctx.set('Connection', 'close');
    }
  };
}

function toApiError(e: unknown): ApiError | undefined {
  if (e instanceof ApiError) return e;
  if (e instanceof ConflictError) return conflict(`${e.field} already exists`);
  if (e instanceof NotFoundError) return notFound('resource not found');
  if (e instanceof RegistryError) return new ApiError(e.status, e.message, e.headers);
  return undefined;
}
