import type { Context } from 'koa';
import { unprocessable } from './errors.js';
import { parseInteger, queryString } from './params.js';

// Harbor's paging (swagger parameters.page / parameters.pageSize, lib/orm/query.go, handler/base.go Links):
// page from 1 (default 1), page_size at most 100 (default 10); X-Total-Count, and a Link header to the
// neighbouring pages.

export const MAX_PAGE_SIZE = 100;

export interface Paging {
  /** 1 or more: Harbor reads a page of 0 or less as the first. */
  page: number;
  /** 0 means unpaged: Harbor answers every item when page_size is 0 or less. */
  pageSize: number;
  offset: number;
  limit: number;
}

export function paging(ctx: Context): Paging {
  const page = intQuery(ctx, 'page', 1);
  const size = intQuery(ctx, 'page_size', 10);
  if (size > MAX_PAGE_SIZE) throw unprocessable(`page_size in query should be less than or equal to ${MAX_PAGE_SIZE}`);
  if (size <= 0) return { page: 1, pageSize: 0, offset: 0, limit: Number.MAX_SAFE_INTEGER };
  const p = Math.max(1, page);
  return { page: p, pageSize: size, offset: (p - 1) * size, limit: size };
}

function intQuery(ctx: Context, key: string, fallback: number): number {
  const raw = queryString(ctx, key);
  return raw === undefined ? fallback : parseInteger(raw, key, 'query');
}

/** X-Total-Count and a Link header with the neighbouring pages, keeping the other query parameters. */
export function setPageHeaders(ctx: Context, total: number, p: Paging): void {
  ctx.set('X-Total-Count', String(total));
  if (p.pageSize === 0) return;
  const links: string[] = [];
  const link = (page: number, rel: string) => {
    const params = new URLSearchParams(ctx.querystring);
    params.set('page', String(page));
    params.set('page_size', String(p.pageSize));
    // Go's url.Values.Encode sorts by key.
    params.sort();
    links.push(`<${ctx.path}?${params.toString()}>; rel="${rel}"`);
  };
  if (p.page > 1 && p.offset < total) link(p.page - 1, 'prev');
  if (p.offset + p.pageSize < total) link(p.page + 1, 'next');
  // lib/link.go: Links.String joins with " , ".
  if (links.length > 0) ctx.set('Link', links.join(' , '));
}

/** One page of an in-memory list, with the paging headers set. */
export function pageOf<T>(ctx: Context, items: T[], p: Paging = paging(ctx)): T[] {
  setPageHeaders(ctx, items.length, p);
  return items.slice(p.offset, p.offset + p.limit);
}
