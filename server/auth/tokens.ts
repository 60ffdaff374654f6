import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTHeaderParameters } from 'jose';
import { LRUCache } from 'lru-cache';
import { parseRepositoryName } from '../../core/names.js';
import type { RepositoryAction } from './authorizer.js';
import type { AccessPolicy } from './policy.js';
import { principalName, type Principal } from './principal.js';
import type { SigningKeys } from './signing-keys.js';

// Docker token authentication (distribution docs/spec/auth/token.md, jwt.md): a scope names a resource and the
// actions wanted; the token grants the intersection of what was asked and what the caller's roles allow, as the
// JWT's `access` claim. Tokens are ES256 JWTs with a `kid` from SigningKeys.

export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  /** RFC 3339. */
  issuedAt: string;
  access: AccessEntry[];
}

export interface VerifiedToken {
  /** The principal's name; '' for an anonymous token. */
  subject: string;
  access: AccessEntry[];
}

export class InvalidToken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidToken';
  }
}

export class ScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScopeError';
  }
}

const REPOSITORY_ACTIONS: readonly RepositoryAction[] = ['pull', 'push', 'delete'];

/**
 * `repository:library/alpine:pull,push` (a resource class, `repository(plugin)`, is accepted and dropped).
 * Several scopes may come space-separated in one value (the OAuth2 form) or as repeated parameters.
 */
export function parseScopes(values: string[]): AccessEntry[] {
  const merged = new Map<string, AccessEntry>();
  for (const value of values) {
    for (const scope of value.split(' ').filter(Boolean)) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first <= 0 || last === first) throw new ScopeError(`malformed scope "${scope.slice(0, 300)}"`);
      const type = scope.slice(0, first).replace(/\(.*\)$/, '');
      const name = scope.slice(first + 1, last);
      const actions = scope.slice(last + 1).split(',').filter(Boolean);
      const key = `${type}:${name}`;
      const entry = merged.get(key) ?? { type, name, actions: [] };
      for (const a of actions) if (!entry.actions.includes(a)) entry.actions.push(a);
      merged.set(key, entry);
    }
  }
  return [...merged.values()];
}

export function formatScope(entry: AccessEntry): string {
  return `${entry.type}:${entry.name}:${entry.actions.join(',')}`;
}

export interface TokenServiceOptions {
  /** The `service` clients name and the tokens' audience. */
  service: string;
  issuer: string;
  ttlSeconds: number;
  clock?: () => number;
}

/** A token that passed verification, trusted again without the signature check until `expMs` while `kid` verifies. */
interface VerifiedEntry {
  token: VerifiedToken;
  kid: string;
  expMs: number;
}

/** Distinct live tokens remembered (a few hundred bytes each): a client sends the same one until it expires. */
const VERIFIED_CACHE_SIZE = 10_000;

export class TokenService {
  private readonly clock: () => number;
  // The ES256 check is about a third of the CPU of a manifest GET; keyed by the exact token string, so a
  // forged or altered token is never a hit and goes through the full check.
  private readonly verified = new LRUCache<string, VerifiedEntry>({ max: VERIFIED_CACHE_SIZE });

  constructor(
    private readonly keys: SigningKeys,
    private readonly policy: AccessPolicy,
    private readonly opts: TokenServiceOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
  }

  get service(): string {
    return this.opts.service;
  }

  /** What `principal` may have of what it asked for; entries it may have nothing of are left out. */
  async grant(principal: Principal, requested: AccessEntry[]): Promise<AccessEntry[]> {
    const granted: AccessEntry[] = [];
    for (const entry of requested) {
      if (entry.type === 'repository') {
        let name: string;
        try {
          name = parseRepositoryName(entry.name);
        } catch {
          continue;
        }
        const wanted = new Set<string>(entry.actions.flatMap((a): readonly string[] => (a === '*' ? REPOSITORY_ACTIONS : [a])));
        const { actions } = await this.policy.repositoryActions(principal, name);
        const both = REPOSITORY_ACTIONS.filter((a) => wanted.has(a) && actions.has(a));
        if (both.length > 0) granted.push({ type: 'repository', name, actions: both });
      } else if (entry.type === 'registry' && entry.name === 'catalog' && principal.kind !== 'anonymous') {
        // The catalog lists only what the caller may pull; being signed in is enough to ask.
        granted.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      }
    }
    return granted;
  }

  async issue(principal: Principal, requested: AccessEntry[]): Promise<IssuedToken> {
    const access = await this.grant(principal, requested);
    const { kid, key } = await this.keys.current();
    const iat = Math.floor(this.clock() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(this.opts.issuer)
      .setSubject(principal.kind === 'anonymous' ? '' : principalName(principal))
      .setAudience(this.opts.service)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.opts.ttlSeconds)
      .setJti(randomUUID())
      .sign(key);
    return { token, expiresIn: this.opts.ttlSeconds, issuedAt: new Date(iat * 1000).toISOString(), access };
  }

  /** Checks signature (ES256 with one of our keys, nothing else), issuer, audience and lifetime. */
  async verify(token: string): Promise<VerifiedToken> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expMs > this.clock() && (await this.keys.publicKey(hit.kid))) return hit.token;
      this.verified.delete(token); // expired or its key is gone: the full check below gives the reason
    }
    let payload: Record<string, unknown>;
    let kid: string | undefined;
    try {
      ({ payload, protectedHeader: { kid } } = await jwtVerify(
        token,
        async (header: JWTHeaderParameters) => {
          const key = header.kid ? await this.keys.publicKey(header.kid) : undefined;
          if (!key) throw new InvalidToken('token signed with an unknown key');
          return key;
        },
        {
          algorithms: ['ES256'],
          issuer: this.opts.issuer,
          audience: this.opts.service,
          clockTolerance: 30,
          requiredClaims: ['exp', 'iat', 'sub'],
          currentDate: new Date(this.clock()),
        },
      ));
    } catch (e) {
      throw new InvalidToken(e instanceof Error ? e.message : 'invalid token');
    }
    const access = payload.access;
    if (!Array.isArray(access) || !access.every(isAccessEntry)) throw new InvalidToken('token has a malformed access claim');
    const verified: VerifiedToken = Object.freeze({ subject: String(payload.sub), access });
    // exp is a required claim; within jose's clock tolerance after it a token still passes but is not remembered.
    const expMs = Number(payload.exp) * 1000;
    if (kid && expMs > this.clock()) this.verified.set(token, { token: verified, kid, expMs });
    return verified;
  }
}

function isAccessEntry(v: unknown): v is AccessEntry {
  const e = v as AccessEntry;
  return (
    typeof e === 'object' && e !== null && typeof e.type === 'string' && typeof e.name === 'string' && Array.isArray(e.actions) && e.actions.every((a) => typeof a === 'string')
  );
}

/** Whether a verified token grants every one of `actions` on `repository`. */
export function tokenAllows(access: AccessEntry[], repository: string, actions: RepositoryAction[]): boolean {
  const held = new Set(access.filter((e) => e.type === 'repository' && e.name === repository).flatMap((e) => e.actions));
  return actions.every((a) => held.has(a) || held.has('*'));
}
