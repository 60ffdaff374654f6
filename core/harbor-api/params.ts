import type { Context } from 'koa';
import { unprocessable } from './errors.js';

// Query and path parameters read as go-swagger binds Harbor's: the last of repeated values, an empty value
// as absent, integers as int64 or 422.

export function queryString(ctx: Context, key: string): string | undefined {
  const v = ctx.query[key];
  const s = Array.isArray(v) ? v[v.length - 1] : v;
  return s === undefined || s === '' ? undefined : s;
}

/** An integer parameter (strconv.ParseInt's grammar); anything else is go-swagger's 422. */
export function parseInteger(raw: string, name: string, location: 'query' | 'path'): number {
  const n = Number(raw);
  if (!/^[+-]?\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw unprocessable(`${name} in ${location} must be of type int64: ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return n;
}

/**
 * A path id. Harbor's swagger declares ids as plain int64 with no minimum, so 0 (or -1) binds and the lookup
 * answers 404; only what is no integer at all is refused here.
 */
export function idParam(ctx: Context, key: string): number {
  return parseInteger(String(ctx.params[key] ?? ''), key, 'path');
}

/** A boolean query parameter as go-swagger binds it (strconv.ParseBool's words); anything else is 422. */
export function boolQuery(ctx: Context, key: string, fallback: boolean): boolean {
  const raw = queryString(ctx, key);
  if (raw === undefined) return fallback;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(raw)) return false;
  throw unprocessable(`${key} in query must be of type boolean: ${JSON.stringify(raw.slice(0, 40))}`);
}
