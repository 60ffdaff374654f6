import { readAtMost } from '../bounded-read.js';
import type { Context } from 'koa';
import type { z } from 'zod';
import { ApiError, badRequest, unprocessable } from './errors.js';

// Request bodies: JSON only, at most 1 MiB. A body Harbor's swagger marks required (nearly every POST and PUT)
// and that is missing is refused as go-swagger refuses it: 422 ("validation failure list").

export const MAX_BODY = 1024 * 1024;

/** The parsed JSON body; `undefined` only when it is empty and `optional` says that is allowed. */
export async function readJson(ctx: Context, opts: { optional?: boolean } = {}): Promise<unknown> {
  const type = ctx.get('Content-Type');
  if (type && !/json/i.test(type)) throw new ApiError(415, `expected a JSON body, got ${type.slice(0, 100)}`);
  const bytes = await readBytes(ctx, MAX_BODY);
  const text = bytes.toString('utf8');
  if (text.trim() === '') {
    if (opts.optional) return undefined;
    throw unprocessable('the request body is required');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`invalid JSON: ${(e as Error).message}`);
  }
}

/** Reads and validates the body; a 400 names every field that is wrong, and nothing has been written yet. */
export async function readBody<S extends z.ZodType>(ctx: Context, schema: S): Promise<z.infer<S>> {
  return validate(schema, await readJson(ctx));
}

/** An optional body: `undefined` when empty, else validated like readBody. */
export async function readOptionalBody<S extends z.ZodType>(ctx: Context, schema: S): Promise<z.infer<S> | undefined> {
  const raw = await readJson(ctx, { optional: true });
  return raw === undefined ? undefined : validate(schema, raw);
}

function validate<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
    throw badRequest(`invalid request body: ${problems.join('; ')}`);
  }
  return result.data;
}

/** The whole body, at most `max` bytes, else 413. */
export async function readBytes(ctx: Context, max: number): Promise<Buffer> {
  const tooLarge = () => new ApiError(413, `body larger than ${max} bytes`);
  // Refused before reading, so what is left unread is known (and the connection closed when that is much).
  if (Number(ctx.get('Content-Length') || 0) > max) throw tooLarge();
  const body = await readAtMost(ctx.req, max);
  if (!body) throw tooLarge();
  return body;
}
