import type { Middleware } from 'koa';
import { conflict, notFound, type ApiError } from '../../core/harbor-api/errors.js';
import { harborErrors } from '../../core/harbor-api/render.js';
import { ConflictError, NotFoundError } from '../../storage-adapters/meta/meta-store.js';

// Harbor's error body for everything under /api (the admin API and replication's, mounted in this app) and
// /service (the token service) and /c/ (the console's login); the stores' typed errors become Harbor's 409 and 404.

export function harborApiErrors(): Middleware {
  return harborErrors(['/api', '/service', '/c'], storeError);
}

function storeError(e: unknown): ApiError | undefined {
  if (e instanceof ConflictError) return conflict(`${e.field} already exists`);
  if (e instanceof NotFoundError) return notFound('resource not found');
  return undefined;
}
