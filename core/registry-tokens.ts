import { OciClientError, drain } from './oci-responses.js';

// The Docker token dance (https://distribution.github.io/distribution/spec/auth/token/): a registry's 401
// challenge names a token service; Basic credentials buy a Bearer token per scope there, cached until shortly
// before it expires. A Basic challenge gets the credentials themselves.

export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** A ready bearer token (e.g. the P2P agent forwarding its caller's). */
  bearer?: string;
  timeoutMs?: number;
}

export class TokenDance {
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  private challenge: Challenge | undefined;

  constructor(
    private readonly opts: RegistryCredentials,
    private readonly fetch: (url: URL, init: RequestInit) => Promise<Response>,
  ) {}

  /** Takes a 401's challenge; undefined when it is none this client can answer (the 401 stands). */
  challenged(header: string | null, scope: string | undefined): Challenge | undefined {
    const challenge = parseChallenge(header);
    if (!challenge) return undefined;
    this.challenge = challenge;
    this.tokens.delete(scope ?? '');
    return challenge;
  }

  /** The Authorization header for a request needing `scope`, fetching a token when the registry asked for one. */
  async authorization(scope: string | undefined): Promise<string | undefined> {
    if (this.opts.bearer) return `Bearer ${this.opts.bearer}`;
    const basic = this.opts.username !== undefined ? `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64')}` : undefined;
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return basic;
    const key = scope ?? '';
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const { realm, service } = this.challenge.params;
    if (!realm) return basic;
    const u = new URL(realm);
    if (service) u.searchParams.set('service', service);
    for (const s of (scope ?? '').split(' ').filter(Boolean)) u.searchParams.append('scope', s);
    const r = await this.fetch(u, { headers: basic ? { Authorization: basic } : {}, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
    if (r.status !== 200) {
      await drain(r, undefined);
      throw new OciClientError(r.status, r.status === 401 ? 'UNAUTHORIZED' : 'DENIED', `token service answered ${r.status}`);
    }
    const body = (await r.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new OciClientError(502, 'UNKNOWN', 'token service returned no token');
    // Renew a little before expiry (default lifetime per the token spec: 60 s).
    this.tokens.set(key, { token, expires: Date.now() + Math.max(10, (body.expires_in ?? 60) - 10) * 1000 });
    return `Bearer ${token}`;
  }
}

/** `Bearer realm="…",service="…",scope="…"` → its parts. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme, params };
}
