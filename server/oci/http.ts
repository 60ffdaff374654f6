import { readAtMost } from '../../core/bounded-read.js';
import type { Context } from 'koa';
import { RegistryError } from '../../core/errors.js';
import { parseRepositoryName } from '../../core/names.js';

// Request/response details shared by the /v2 routes.

/**
 * The repository named in the path. The router hands us a percent-decoded value, so an encoded '/' or '.'
 * would slip past the grammar: any '%' before the last path segment is refused outright.
 */
export function repositoryOf(ctx: Context): string {
  const raw = ctx.path;
  if (raw.slice(0, raw.lastIndexOf('/')).includes('%')) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { detail: { reason: 'percent-encoded characters are not allowed in a name' } });
  }
  const name = ctx.params.name;
  return parseRepositoryName(Array.isArray(name) ? name.join('/') : String(name ?? ''));
}

/** The first value of a query parameter. */
export function queryParam(ctx: Context, key: string): string | undefined {
  const v = ctx.query[key];
  return Array.isArray(v) ? v[0] : v;
}

export function queryParams(ctx: Context, key: string): string[] {
  const v = ctx.query[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Content-Length as a number; undefined when absent (chunked transfer). */
export function contentLength(ctx: Context): number | undefined {
  const h = ctx.get('Content-Length');
  if (h === '') return undefined;
  const n = Number(h);
  if (!Number.isSafeInteger(n) || n < 0) throw new RegistryError('SIZE_INVALID', 'invalid Content-Length');
  return n;
}

/** Whether the request carries a body at all. */
export function hasBody(ctx: Context): boolean {
  const len = ctx.get('Content-Length');
  if (len !== '') return Number(len) > 0;
  return ctx.get('Transfer-Encoding') !== '';
}

/** Reads a small body (a manifest) into memory, refusing more than `limit` bytes with 413. */
export async function readSmallBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = contentLength(ctx);
  const tooLarge = () =>
    new RegistryError('SIZE_INVALID', `manifest larger than ${limit} bytes`, { status: 413, detail: { limit } });
  if (declared !== undefined && declared > limit) throw tooLarge();
  const body = await readAtMost(ctx.req, limit);
  if (!body) throw tooLarge();
  if (declared !== undefined && body.length !== declared) throw new RegistryError('SIZE_INVALID', 'body length does not match Content-Length');
  return body;
}

/** `n` for paginated listings: a non-negative integer, or undefined for "all". */
export function pageSize(ctx: Context, max = 100_000): number | undefined {
  const raw = queryParam(ctx, 'n');
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new RegistryError('UNSUPPORTED', 'n must be a non-negative integer', { status: 400, detail: { reason: 'pagination number invalid', n: raw.slice(0, 40) } });
  }
  return Math.min(n, max);
}

/** RFC 8288 Link to the next page, as distribution writes it. */
export function setNextLink(ctx: Context, path: string, params: Record<string, string>): void {
  const qs = new URLSearchParams(params).toString();
  ctx.set('Link', `<${path}?${qs}>; rel="next"`);
}

/** The upload session URL a client continues with (relative: it survives proxies and load balancers). */
export function uploadLocation(repository: string, id: string): string {
  return `/v2/${repository}/blobs/uploads/${id}`;
}

/** The `Range` header of an upload holding `size` bytes (spec: inclusive end; "0-0" when empty). */
export function uploadRange(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

/** A response with headers only. Koa would otherwise write the status text as the body; the explicit null
 *  body must be set before the status, or Koa turns the status into 204. */
export function emptyResponse(ctx: Context, status: number): void {
  ctx.body = null;
  ctx.status = status;
}
