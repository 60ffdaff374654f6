import type { Context } from 'koa';
import type { z } from 'zod';
import { ApiError, badRequest } from './errors.js';

// Request and response details shared by the admin routes: JSON bodies validated with zod, Harbor's paging
// (page, page_size, X-Total-Count, Link), 201 with Location.

const MAX_BODY = 1024 * 1024;

export async function readJson(ctx: Context): Promise<unknown> {
  const type = ctx.get('Content-Type');
  if (type && !/json/i.test(type)) throw new ApiError(415, `expected a JSON body, got ${type.slice(0, 100)}`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of ctx.req) {
    total += (c as Buffer).length;
    if (total > MAX_BODY) throw new ApiError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks, total).toString('utf8');
  if (text.trim() === '') throw badRequest('a JSON body is required');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`invalid JSON: ${(e as Error).message}`);
  }
}

/** Reads and validates the body; a 400 names every field that is wrong, and nothing has been written yet. */
export async function readBody<S extends z.ZodType>(ctx: Context, schema: S): Promise<z.infer<S>> {
  const raw = await readJson(ctx);
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
    throw badRequest(`invalid request body: ${problems.join('; ')}`);
  }
  return result.data;
}

export interface Paging {
  page: number;
  pageSize: number;
  offset: number;
}

function firstQuery(ctx: Context, key: string): string | undefined {
  const v = ctx.query[key];
  return Array.isArray(v) ? v[0] : v;
}

export function queryString(ctx: Context, key: string): string | undefined {
  return firstQuery(ctx, key);
}

/** Harbor's page (from 1, default 1) and page_size (1–100, default 10). */
export function paging(ctx: Context): Paging {
  const page = intParam(ctx, 'page', 1, 1, Number.MAX_SAFE_INTEGER);
  const pageSize = intParam(ctx, 'page_size', 10, 1, 100);
  return { page, pageSize, offset: (page - 1) * pageSize };
}

function intParam(ctx: Context, key: string, fallback: number, min: number, max: number): number {
  const raw = firstQuery(ctx, key);
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw badRequest(`${key} must be an integer from ${min} to ${max}`);
  }
  return n;
}

/** X-Total-Count and a Link header with the neighbouring pages, keeping the other query parameters. */
export function setPageHeaders(ctx: Context, total: number, p: Paging): void {
  ctx.set('X-Total-Count', String(total));
  const links: string[] = [];
  const link = (page: number, rel: string) => {
    const params = new URLSearchParams(ctx.querystring);
    params.set('page', String(page));
    params.set('page_size', String(p.pageSize));
    links.push(`<${ctx.path}?${params.toString()}>; rel="${rel}"`);
  };
  if (p.page > 1) link(p.page - 1, 'prev');
  if (p.offset + p.pageSize < total) link(p.page + 1, 'next');
  if (links.length > 0) ctx.set('Link', links.join(', '));
}

export function created(ctx: Context, location: string, body?: unknown): void {
  // An explicit null body first: Koa would otherwise turn an empty 201 into 204 or write "Created".
  ctx.body = body ?? null;
  ctx.status = 201;
  ctx.set('Location', location);
}

/** 200 with an empty body, as Harbor answers updates and deletes. */
export function ok(ctx: Context): void {
  ctx.body = null;
  ctx.status = 200;
}

/** A path id: a positive integer, or 400. */
export function idParam(ctx: Context, key: string): number {
  const raw = String(ctx.params[key] ?? '');
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n <= 0) throw badRequest(`${key} must be a positive integer`);
  return n;
}
