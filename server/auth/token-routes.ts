import Router from '@koa/router';
import type { Context } from 'koa';
import { readBytes } from '../../core/harbor-api/body.js';
import { ApiError, badRequest } from '../../core/harbor-api/errors.js';
import { LoginFailed, type Authenticator } from './credentials.js';
import { ANONYMOUS, principalName, type Principal } from './principal.js';
import type { RefreshTokens } from './refresh-tokens.js';
import type { SigningKeys } from './signing-keys.js';
import { formatScope, parseScopes, ScopeError, type AccessEntry, type IssuedToken, type TokenService } from './tokens.js';

// The token service: GET /service/token (distribution docs/spec/auth/token.md), POST /service/token (oauth.md:
// password and refresh_token grants), and the public keys at /service/jwks.json.

export interface TokenRouteDeps {
  tokens: TokenService;
  authenticator: Authenticator;
  refreshTokens: RefreshTokens;
  keys: SigningKeys;
}

const MAX_FORM = 64 * 1024;

export function tokenRouter(deps: TokenRouteDeps): Router {
  const router = new Router();
  router.get('/service/token', (ctx) => getToken(ctx, deps));
  router.post('/service/token', (ctx) => postToken(ctx, deps));
  router.get('/service/jwks.json', async (ctx) => {
    ctx.set('Cache-Control', 'max-age=60');
    ctx.body = await deps.keys.jwks();
  });
  return router;
}

async function getToken(ctx: Context, deps: TokenRouteDeps): Promise<void> {
  checkService(ctx.query.service, deps.tokens.service);
  const header = ctx.get('Authorization');
  let principal: Principal = ANONYMOUS;
  if (header !== '') {
    if (!/^Basic\s/i.test(header)) throw new ApiError(401, 'the token service takes Basic credentials');
    principal = await login(() => deps.authenticator.basic(header, ctx.ip));
  }
  const issued = await deps.tokens.issue(principal, scopesOf(queryValues(ctx, 'scope')));
  const body: Record<string, unknown> = tokenBody(issued);
  if (queryValues(ctx, 'offline_token')[0] === 'true' && principal.kind !== 'anonymous') {
    body.refresh_token = await deps.refreshTokens.issue(principalName(principal));
  }
  respond(ctx, body);
}

async function postToken(ctx: Context, deps: TokenRouteDeps): Promise<void> {
  const form = await readForm(ctx);
  checkService(form.get('service') ?? undefined, deps.tokens.service);
  const scopes = scopesOf(form.getAll('scope'));
  const grant = form.get('grant_type');
  if (grant === 'password') {
    const username = form.get('username');
    const password = form.get('password');
    if (!username || password === null) throw badRequest('grant_type=password needs username and password');
    const principal = await login(() => deps.authenticator.login(username, password, ctx.ip));
    const issued = await deps.tokens.issue(principal, scopes);
    const body: Record<string, unknown> = { ...tokenBody(issued), scope: issued.access.map(formatScope).join(' ') };
    if (form.get('access_type') === 'offline') body.refresh_token = await deps.refreshTokens.issue(principalName(principal));
    return respond(ctx, body);
  }
  if (grant === 'refresh_token') {
    const refresh = form.get('refresh_token');
    if (!refresh) throw badRequest('grant_type=refresh_token needs refresh_token');
    const subject = await deps.refreshTokens.redeem(refresh);
    const principal = subject === undefined ? undefined : await deps.authenticator.principalByName(subject);
    if (!principal) throw new ApiError(401, 'invalid or expired refresh token');
    const issued = await deps.tokens.issue(principal, scopes);
    // spec (oauth.md): a refresh grant answers with the same refresh token.
    return respond(ctx, { ...tokenBody(issued), scope: issued.access.map(formatScope).join(' '), refresh_token: refresh });
  }
  throw badRequest(`unsupported grant_type "${String(grant).slice(0, 50)}": use password or refresh_token`);
}

function tokenBody(issued: IssuedToken): Record<string, unknown> {
  return { token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt };
}

function respond(ctx: Context, body: Record<string, unknown>): void {
  // RFC 6749 5.1: token responses must not be cached.
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  ctx.body = body;
}

async function login(check: () => Promise<Principal>): Promise<Principal> {
  try {
    return await check();
  } catch (e) {
    if (!(e instanceof LoginFailed)) throw e;
    if (e.retryAfterSeconds !== undefined) throw new ApiError(429, e.message, { 'Retry-After': String(e.retryAfterSeconds) }, 'TOOMANYREQUESTS');
    throw new ApiError(401, e.message);
  }
}

function scopesOf(values: string[]): AccessEntry[] {
  try {
    return parseScopes(values);
  } catch (e) {
    if (e instanceof ScopeError) throw badRequest(e.message);
    throw e;
  }
}

function checkService(service: unknown, ours: string): void {
  const s = Array.isArray(service) ? service[0] : service;
  if (s !== undefined && s !== '' && s !== ours) throw badRequest(`unknown service "${String(s).slice(0, 100)}"; this registry is "${ours}"`);
}

function queryValues(ctx: Context, key: string): string[] {
  const v = ctx.query[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!/application\/x-www-form-urlencoded/i.test(ctx.get('Content-Type'))) {
    throw new ApiError(415, 'POST /service/token takes an application/x-www-form-urlencoded body');
  }
  return new URLSearchParams((await readBytes(ctx, MAX_FORM)).toString('utf8'));
}
