import type { Middleware } from 'koa';
import { RegistryError } from '../../core/errors.js';
import { ApiError, conflict, notFound } from '../../core/harbor-api/errors.js';
import { harborErrors } from '../../core/harbor-api/render.js';
import { ConflictError, NotFoundError } from '../../storage-adapters/meta/meta-store.js';

// Harbor's error body for everything under /api (the admin API and replication's, mounted in this app) and
// /service (the token service) and /c/ (the console's login); the stores' typed errors become Harbor's 409 and
// 404, the domain layer's refusals keep their status and message.

export function harborApiErrors(): Middleware {
  return harborErrors(['/api', '/service', '/c'], storeError);
}

function storeError(e: unknown): ApiError | undefined {
  if (e instanceof ConflictError) return conflict(`${e.field} already exists`);
  if (e instanceof NotFoundError) return notFound('resource not found');
  // The domain layer's refusals (an immutable tag: Harbor's 412; a quota: 403) keep their message.
  if (e instanceof RegistryError && e.status < 500) {
    const immutable = (e.detail as { reason?: string } | undefined)?.reason === 'immutable';
    return new ApiError(immutable ? 412 : e.status, e.message);
  }
  return undefined;
}
