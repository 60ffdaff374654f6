import type { Context } from 'koa';
import { queryString } from './params.js';

// Harbor's `sort` query parameter (lib/q): comma-separated keys, a leading `-` for descending, applied in order.
// Keys a list does not sort by are ignored, as Harbor's orm ignores them; without `sort` the list keeps its order.

export type SortKeys<T> = Record<string, (item: T) => string | number>;

export function sortBy<T>(ctx: Context, items: T[], keys: SortKeys<T>): T[] {
  const spec = (queryString(ctx, 'sort') ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map((k) => ({ desc: k.startsWith('-'), key: keys[k.replace(/^-/, '')] }))
    .filter((s): s is { desc: boolean; key: (item: T) => string | number } => s.key !== undefined);
  if (spec.length === 0) return items;
  return [...items].sort((a, b) => {
    for (const { desc, key } of spec) {
      const x = key(a);
      const y = key(b);
      if (x !== y) return (x < y ? -1 : 1) * (desc ? -1 : 1);
    }
    return 0;
  });
}
