import type { Context } from 'koa';

// Harbor's empty answers (swagger responses 200 and 201 carry headers only): no body, no Content-Type.

/** 201 with Location; a body only where Harbor's swagger gives the 201 a schema (a robot's secret). */
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
