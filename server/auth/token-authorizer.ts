import type { Context } from 'koa';
import { LRUCache } from 'lru-cache';
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

/** How long a token's subject and its roles are trusted before they are read again (disable a robot: refused within this). */
const LIVE_CHECK_TTL_MS = 2_000;

export class TokenAuthorizer implements Authorizer {
  // Whether a token's subject still exists and is enabled, and what its roles grant now, per repository: a
  // token grants no more than its subject may do today. Cached briefly so the hot path reads the store rarely.
  private readonly liveSubjects = new LRUCache<string, { principal: Principal | null }>({ max: 10_000, ttl: LIVE_CHECK_TTL_MS });
  private readonly liveActions = new LRUCache<string, { actions: Set<string>; reason?: string }>({ max: 50_000, ttl: LIVE_CHECK_TTL_MS });

  constructor(
    private readonly tokens: TokenService,
    private readonly authenticator: Authenticator,
    private readonly policy: AccessPolicy,
    /** Where clients fetch tokens; undefined: derived from the request's own host. */
    private readonly publicUrl: string | undefined,
    /** Principals that are no account in the store (the in-process replicator): their tokens stay valid. */
    private readonly builtIn: Principal[] = [],
  ) {}

  async authorize(ctx: Context, requests: AccessRequest[]): Promise<void> {
    const caller = await this.caller(ctx, requests);
    if (requests.length === 0) {
      if (caller.via === 'anonymous') throw this.challenge(ctx, requests);
      return;
    }
    if (caller.via === 'token') {
      if (requests.every((r) => tokenAllows(caller.token.access, r.repository, r.actions))) {
        const principal = await this.liveSubject(caller);
        if (principal === null) throw this.challenge(ctx, requests, 'invalid_token', 'the token\'s subject no longer exists or is disabled');
        const denial = await this.liveDenial(principal, requests);
        if (denial) throw this.refusal(ctx, requests, denial);
        return;
      }
      const principal = await this.tokenPrincipal(caller);
      // The token is narrower than the request. If the subject's roles would allow it, a new token will do.
      if (!principal) throw this.challenge(ctx, requests, 'insufficient_scope');
      const denial = await this.denial(principal, requests);
      if (!denial) throw this.challenge(ctx, requests, 'insufficient_scope');
      throw this.refusal(ctx, requests, denial);
    }
    // As Harbor does (goharbor/harbor#11271): an anonymous HEAD on a repository is challenged even where anonymous
    // pulls are allowed. A client's first request (containerd's resolve, docker's) is such a HEAD: the challenge makes
    // it present the credentials it was given, so wrong ones fail instead of passing silently as anonymous, and
    // anonymous clients simply fetch an anonymous token. A plain anonymous GET still needs no token.
    if (caller.via === 'anonymous' && ctx.method === 'HEAD' && requests.length > 0) throw this.challenge(ctx, requests);
    const denial = await this.denial(caller.principal, requests);
    if (!denial) return;
    if (caller.via === 'anonymous') throw this.challenge(ctx, requests);
    throw this.refusal(ctx, requests, denial);
  }

  async canPull(ctx: Context, repository: string): Promise<boolean> {
    const caller = await this.caller(ctx, []);
    if (caller.via === 'token') {
      if (tokenAllows(caller.token.access, repository, ['pull'])) {
        const principal = await this.liveSubject(caller);
        return principal !== null && !(await this.liveDenial(principal, [{ repository, actions: ['pull'] }]));
      }
      // Beyond the token's scope (a catalog token): what the subject's roles allow now; anonymous sees public projects.
      const principal = caller.token.subject === '' ? ANONYMOUS : await this.tokenPrincipal(caller);
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

  /** The token's subject as it is now (ANONYMOUS for anonymous tokens), or null when deleted, disabled or expired. */
  private async liveSubject(caller: Extract<Caller, { via: 'token' }>): Promise<Principal | null> {
    const subject = caller.token.subject;
    if (subject === '') return ANONYMOUS;
    const own = this.builtIn.find((p) => principalName(p) === subject);
    if (own) return own;
    let hit = this.liveSubjects.get(subject);
    if (!hit) {
      hit = { principal: (await this.authenticator.principalByName(subject)) ?? null };
      this.liveSubjects.set(subject, hit);
    }
    const p = hit.principal;
    if (p && p.kind === 'robot' && p.expiresAt !== -1 && p.expiresAt * 1000 <= Date.now()) return null;
    return p;
  }

  private async liveDenial(principal: Principal, requests: AccessRequest[]): Promise<Denial | undefined> {
    for (const r of requests) {
      const key = `${principalName(principal)}\0${r.repository}`;
      let decision = this.liveActions.get(key);
      if (!decision) {
        const d = await this.policy.repositoryActions(principal, r.repository);
        decision = { actions: d.actions, ...(d.reason && { reason: d.reason }) };
        this.liveActions.set(key, decision);
      }
      const missing = r.actions.filter((a) => !decision.actions.has(a));
      if (missing.length > 0) return { repository: r.repository, actions: missing, ...(decision.reason && { reason: decision.reason }) };
    }
    return undefined;
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
  /**
   * A known caller refused: 403 with the reason in the body. A HEAD cannot carry a body, and it is the first
   * request skopeo, podman and buildah make (does the blob exist?): there the reason travels as RFC 6750's
   * error_description in a 401 insufficient_scope challenge, which those clients print ("denied: <reason>").
   */
  private refusal(ctx: Context, requests: AccessRequest[], d: Denial): RegistryError {
    if (ctx.method !== 'HEAD' || !d.reason) return denied(d);
    return this.challenge(ctx, requests, 'insufficient_scope', d.reason, true);
  }

  private challenge(ctx: Context, requests: AccessRequest[], error?: string, message?: string, describe = false): RegistryError {
    const base = (this.publicUrl ?? `${ctx.protocol}://${ctx.host}`).replace(/\/+$/, '');
    const parts = [`realm="${base}/service/token"`, `service="${this.tokens.service}"`];
    const scopes = requests.map((r) => `repository:${r.repository}:${r.actions.join(',')}`);
    if (requests.length === 0 && ctx.path === '/v2/_catalog') scopes.push('registry:catalog:*');
    if (scopes.length > 0) parts.push(`scope="${scopes.join(' ')}"`);
    if (error) parts.push(`error="${error}"`);
    // RFC 6750 §3: quoted-string; the description is ours (a project name at most), quotes and backslashes dropped.
    if (describe && message) parts.push(`error_description="${message.replace(/["\\]/g, '')}"`);
    return new RegistryError('UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': `Bearer ${parts.join(',')}` } });
  }
}

function denied(d: Denial): RegistryError {
  return new RegistryError('DENIED', d.reason ?? 'requested access to the resource is denied', {
    detail: { repository: d.repository, actions: d.actions },
  });
}
