import Router from '@koa/router';
import type { Context } from 'koa';
import { readBytes } from '../../core/harbor-api/body.js';
import { ApiError, badRequest, forbidden } from '../../core/harbor-api/errors.js';
import { LoginFailed, type Authenticator } from './credentials.js';
import type { Principal } from './principal.js';
import { ROBOT_PREFIX } from './records.js';
import { CSRF_HEADER, SESSION_COOKIE, csrfMatches, csrfTokenOf, type ConsoleSessions } from './sessions.js';

// The console's login, as Harbor's UI does it: POST /c/login with `principal` and `password` (form or JSON)
// sets the session cookie; /c/log_out ends it. The admin API then takes the cookie as one more credential
// (sessionPrincipal), with a CSRF token in X-Harbor-CSRF-Token on every request that changes something.

const MAX_FORM = 16 * 1024;

export interface SessionRouteDeps {
  sessions: ConsoleSessions;
  authenticator: Authenticator;
}

export function sessionRouter(d: SessionRouteDeps): Router {
  const router = new Router({ prefix: '/c' });
  router.post('/login', (ctx) => logIn(ctx, d));
  // Harbor's UI logs out with a GET; the console POSTs. The cookie is SameSite=Strict, so neither can be
  // triggered from another site.
  router.get('/log_out', (ctx) => logOut(ctx, d));
  router.post('/log_out', (ctx) => logOut(ctx, d));
  return router;
}

async function logIn(ctx: Context, d: SessionRouteDeps): Promise<void> {
  sameOrigin(ctx);
  const { principal, password } = await readCredentials(ctx);
  // Robots are for scripts and pipelines; Harbor's UI refuses them too.
  if (principal.startsWith(ROBOT_PREFIX)) throw new ApiError(401, 'robot accounts cannot log in to the console');
  let caller: Principal;
  try {
    caller = await d.authenticator.login(principal, password, ctx.ip);
  } catch (e) {
    if (!(e instanceof LoginFailed)) throw e;
    if (e.retryAfterSeconds !== undefined) throw new ApiError(429, e.message, { 'Retry-After': String(e.retryAfterSeconds) });
    throw new ApiError(401, e.message);
  }
  if (caller.kind !== 'user') throw new ApiError(401, 'only users log in to the console');
  const id = await d.sessions.issue(caller.name);
  ctx.cookies.set(SESSION_COOKIE, id, cookieOptions(ctx));
  ctx.set(CSRF_HEADER, csrfTokenOf(id));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { username: caller.name, sysadmin_flag: caller.sysadmin };
}

async function logOut(ctx: Context, d: SessionRouteDeps): Promise<void> {
  sameOrigin(ctx);
  const id = ctx.cookies.get(SESSION_COOKIE);
  if (id) await d.sessions.end(id);
  ctx.cookies.set(SESSION_COOKIE, '', { ...cookieOptions(ctx), maxAge: 0 });
  ctx.status = 200;
  ctx.body = {};
}

/**
 * The principal a session cookie stands for, or undefined without a live one. A request that changes something
 * must carry the session's CSRF token; every answer to a session carries it, so the console reads it there.
 */
export async function sessionPrincipal(ctx: Context, d: SessionRouteDeps): Promise<Principal | undefined> {
  const id = ctx.cookies.get(SESSION_COOKIE);
  if (!id) return undefined;
  const subject = await d.sessions.resolve(id);
  if (!subject) return undefined;
  const principal = await d.authenticator.principalByName(subject);
  if (!principal || principal.kind !== 'user') return undefined;
  if (!['GET', 'HEAD', 'OPTIONS'].includes(ctx.method) && !csrfMatches(id, ctx.get(CSRF_HEADER))) throw forbidden('CSRF token invalid');
  ctx.set(CSRF_HEADER, csrfTokenOf(id));
  return principal;
}

function cookieOptions(ctx: Context) {
  // Secure whenever the browser reached us over TLS (directly or through a trusted proxy).
  return { httpOnly: true, sameSite: 'strict' as const, secure: ctx.secure, path: '/', overwrite: true };
}

/** A login form posted from another site (login CSRF) is refused; browsers send Origin on every POST. */
function sameOrigin(ctx: Context): void {
  // Koa 3's ctx.origin is the Origin header itself: compare with the scheme and host this request reached.
  const origin = ctx.get('Origin');
  if (origin && origin !== `${ctx.protocol}://${ctx.host}`) throw forbidden('cross-origin request refused');
}

async function readCredentials(ctx: Context): Promise<{ principal: string; password: string }> {
  const type = ctx.get('Content-Type');
  const text = (await readBytes(ctx, MAX_FORM)).toString('utf8');
  let principal: unknown;
  let password: unknown;
  if (/application\/x-www-form-urlencoded/i.test(type)) {
    const form = new URLSearchParams(text);
    principal = form.get('principal');
    password = form.get('password');
  } else if (/application\/json/i.test(type)) {
    try {
      ({ principal, password } = JSON.parse(text) as Record<string, unknown>);
    } catch {
      throw badRequest('the body is not valid JSON');
    }
  } else throw new ApiError(415, 'POST /c/login takes a form (principal, password) or JSON');
  if (typeof principal !== 'string' || principal === '' || typeof password !== 'string') throw badRequest('principal and password are required');
  return { principal, password };
}
