import { randomBytes } from 'node:crypto';
import type { Collection, MetaStore } from '../../storage-adapters/meta/meta-store.js';
import { sha256Hex } from './passwords.js';

// OAuth2 refresh tokens (distribution docs/spec/auth/oauth.md): opaque, long, stored only as a digest so a copy
// of the store cannot be replayed, bound to the subject. What they grant is decided again at each use. The
// lifetime slides: each use renews it, so a build host that logged in once keeps working while it is used, and a
// token left idle for the whole lifetime lapses. Changing the password, or deleting or disabling the subject,
// revokes them.

export interface RefreshTokenRecord {
  id: number;
  hash: string;
  subject: string;
  /** Unix ms. */
  created_at: number;
  expires_at: number;
}

const RENEW_GRANULARITY_MS = 60_000;

export class RefreshTokens {
  private readonly tokens: Collection<RefreshTokenRecord>;
  private readonly clock: () => number;

  constructor(
    meta: MetaStore,
    private readonly ttlMs: number,
    clock?: () => number,
  ) {
    this.tokens = meta.collection<RefreshTokenRecord>('refresh_tokens', { unique: ['hash'] });
    this.clock = clock ?? Date.now;
  }

  /** Deletes tokens past their expiry (the audit-log purge job runs this); how many went. */
  async purgeExpired(dryRun = false): Promise<number> {
    const now = this.clock();
    let purged = 0;
    for (let offset = 0; ; offset += 500) {
      const { items } = await this.tokens.list({ offset, limit: 500 });
      for (const t of items) {
        if (t.expires_at > now) continue;
        purged++;
        if (!dryRun) await this.tokens.delete(t.id);
      }
      if (items.length < 500) return purged;
      if (!dryRun) offset -= items.filter((t) => t.expires_at <= now).length;
    }
  }

  async issue(subject: string): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const t = this.clock();
    await this.tokens.insert({ hash: sha256Hex(token), subject, created_at: t, expires_at: t + this.ttlMs });
    return token;
  }

  /** The subject a live refresh token belongs to, renewing it; an expired one is removed. */
  async redeem(token: string): Promise<string | undefined> {
    if (token.length === 0 || token.length > 512) return undefined;
    const record = await this.tokens.findOne('hash', sha256Hex(token));
    if (!record) return undefined;
    const now = this.clock();
    if (record.expires_at <= now) {
      await this.tokens.delete(record.id);
      return undefined;
    }
    // Renewed on use; at most one write a minute per token (a client refreshes once per access token).
    if (record.expires_at - now < this.ttlMs - Math.min(RENEW_GRANULARITY_MS, this.ttlMs / 10)) await this.tokens.update({ ...record, expires_at: now + this.ttlMs });
    return record.subject;
  }

  /** Revokes every refresh token of `subject` (password changed, user or robot removed). */
  async revokeSubject(subject: string): Promise<void> {
    for (;;) {
      const { items } = await this.tokens.list({ where: { subject }, limit: 500 });
      for (const r of items) await this.tokens.delete(r.id);
      if (items.length < 500) return;
    }
  }
}
