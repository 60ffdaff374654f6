import type { Context } from 'koa';
import { RegistryError } from '../../core/errors.js';
import type { AccessRequest, Authorizer } from './authorizer.js';
import { LoginFailed, type Authenticator } from './credentials.js';
import type { AccessPolicy } from './policy.js';
import { ANONYMOUS, principalName, type Principal } from './principal.js';
import { InvalidToken, tokenAllows, type TokenService, type VerifiedToken } from './tokens.js';

// Access control on /v2 in token mode. A Bearer token's `access` claim is the grant (spec: token.md); Basic
// credentials are accepted too and checked against the roles directly; no credentials is the anonymous
// caller, who may pull from public projects. Refusals: 401 with a Bearer challenge when new credentials or a
// new token could help, 403 DENIED when the caller is known and the roles say no.

type Caller =
  | { via: 'anonymous'; principal: Principal }
  | { via: 'basic'; principal: Principal }
  | { via: 'token'; token: VerifiedToken; principal?: Principal | null };

interface Denial {
  repository: string;
  actions: string[];
  reason?: string;
}

export class TokenAuthorizer implements Authorizer {
  constructor(
    private readonly tokens: TokenService,
    private readonly authenticator: Authenticator,
    private readonly policy: AccessPolicy,
    /** Where clients fetch tokens; undefined: derived from the request's own host. */
    private readonly publicUrl: string | undefined,
  ) {}

  async authorize(ctx: Context, requests: AccessRequest[]): Promise<void> {
    const caller = await this.caller(ctx, requests);
    if (requests.length === 0) {
      if (caller.via === 'anonymous') throw this.challenge(ctx, requests);
      return;
    }
    if (caller.via === 'token') {
      if (requests.every((r) => tokenAllows(caller.token.access, r.repository, r.actions))) return;
      const principal = await this.tokenPrincipal(caller);
      // The token is narrower than the request. If the subject's roles would allow it, a new token will do.
      if (!principal) throw this.challenge(ctx, requests, 'insufficient_scope');
      const denial = await this.denial(principal, requests);
      if (!denial) throw this.challenge(ctx, requests, 'insufficient_scope');
      throw denied(denial);
    }
    const denial = await this.denial(caller.principal, requests);
    if (!denial) return;
    if (caller.via === 'anonymous') throw this.challenge(ctx, requests);
    throw denied(denial);
  }

  async canPull(ctx: Context, repository: string): Promise<boolean> {
    const caller = await this.caller(ctx, []);
    if (caller.via === 'token') {
      if (tokenAllows(caller.token.access, repository, ['pull'])) return true;
      const principal = await this.tokenPrincipal(caller);
      return principal ? (await this.policy.repositoryActions(principal, repository)).actions.has('pull') : false;
    }
    return (await this.policy.repositoryActions(caller.principal, repository)).actions.has('pull');
  }

  /** Who is calling, worked out once per request. */
  private async caller(ctx: Context, requests: AccessRequest[]): Promise<Caller> {
    const cached = ctx.state.caller as Caller | undefined;
    if (cached) return cached;
    const header = ctx.get('Authorization');
    let caller: Caller;
    if (header === '') {
      caller = { via: 'anonymous', principal: ANONYMOUS };
    } else if (/^Bearer\s/i.test(header)) {
      try {
        caller = { via: 'token', token: await this.tokens.verify(header.replace(/^Bearer\s+/i, '').trim()) };
      } catch (e) {
        if (!(e instanceof InvalidToken)) throw e;
        ctx.state.log?.debug({ reason: e.message }, 'bearer token refused');
        throw this.challenge(ctx, requests, 'invalid_token', 'invalid or expired token');
      }
    } else if (/^Basic\s/i.test(header)) {
      try {
        caller = { via: 'basic', principal: await this.authenticator.basic(header, ctx.ip) };
      } catch (e) {
        if (!(e instanceof LoginFailed)) throw e;
        if (e.retryAfterSeconds !== undefined) {
          throw new RegistryError('TOOMANYREQUESTS', e.message, { headers: { 'Retry-After': String(e.retryAfterSeconds) } });
        }
        throw this.challenge(ctx, requests, undefined, e.message);
      }
    } else {
      throw this.challenge(ctx, requests, undefined, 'unsupported authorization scheme');
    }
    ctx.state.caller = caller;
    ctx.state.principalName = caller.via === 'token' ? caller.token.subject || 'anonymous' : principalName(caller.principal);
    return caller;
  }

  private async tokenPrincipal(caller: Extract<Caller, { via: 'token' }>): Promise<Principal | undefined> {
    if (caller.principal === undefined) {
      caller.principal = caller.token.subject === '' ? null : ((await this.authenticator.principalByName(caller.token.subject)) ?? null);
    }
    return caller.principal ?? undefined;
  }

  private async denial(principal: Principal, requests: AccessRequest[]): Promise<Denial | undefined> {
    for (const r of requests) {
      const decision = await this.policy.repositoryActions(principal, r.repository);
      const missing = r.actions.filter((a) => !decision.actions.has(a));
      if (missing.length > 0) return { repository: r.repository, actions: missing, ...(decision.reason && { reason: decision.reason }) };
    }
    return undefined;
  }

  /** 401 with the challenge that sends a client to the token service (spec: token.md, "How to authenticate"). */
  private challenge(ctx: Context, requests: AccessRequest[], error?: string, message?: string): RegistryError {
    const base = (this.publicUrl ?? `${ctx.protocol}://${ctx.host}`).replace(/\/+$/, '');
    const parts = [`realm="${base}/service/token"`, `service="${this.tokens.service}"`];
    const scopes = requests.map((r) => `repository:${r.repository}:${r.actions.join(',')}`);
    if (requests.length === 0 && ctx.path === '/v2/_catalog') scopes.push('registry:catalog:*');
    if (scopes.length > 0) parts.push(`scope="${scopes.join(' ')}"`);
    if (error) parts.push(`error="${error}"`);
    return new RegistryError('UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': `Bearer ${parts.join(',')}` } });
  }
}

function denied(d: Denial): RegistryError {
  return new RegistryError('DENIED', d.reason ?? 'requested access to the resource is denied', {
    detail: { repository: d.repository, actions: d.actions },
  });
}
