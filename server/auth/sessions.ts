import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Collection, MetaStore } from '../../storage-adapters/meta/meta-store.js';
import { sha256Hex } from './passwords.js';

// Web console sessions (Harbor's `sid` cookie): an opaque id the browser holds in an HttpOnly cookie, stored
// only as a digest in the MetaStore so every instance of an IDC knows it and a copy of the store cannot be
// replayed. The lifetime slides with use. What the session may do is decided again at each request from the
// account as it stands (callerOf), so a deleted user's session stops working at once.

export interface SessionRecord {
  id: number;
  hash: string;
  subject: string;
  /** Unix ms. */
  created_at: number;
  expires_at: number;
}

/** The cookie's name (Harbor's). */
export const SESSION_COOKIE = 'sid';
/** The header a console sends its CSRF token in, and the one it reads it from (Harbor's). */
export const CSRF_HEADER = 'X-Harbor-CSRF-Token';

const RENEW_GRANULARITY_MS = 60_000;

export class ConsoleSessions {
  private readonly sessions: Collection<SessionRecord>;
  private readonly clock: () => number;

  constructor(
    meta: MetaStore,
    private readonly ttlMs: number,
    clock?: () => number,
  ) {
    this.sessions = meta.collection<SessionRecord>('console_sessions', { unique: ['hash'] });
    this.clock = clock ?? Date.now;
  }

  /** A new session id for `subject`. */
  async issue(subject: string): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const t = this.clock();
    await this.sessions.insert({ hash: sha256Hex(id), subject, created_at: t, expires_at: t + this.ttlMs });
    return id;
  }

  /** The subject of a live session, renewing it; an expired one is removed. */
  async resolve(id: string): Promise<string | undefined> {
    const record = await this.find(id);
    if (!record) return undefined;
    const now = this.clock();
    if (record.expires_at <= now) {
      await this.sessions.delete(record.id);
      return undefined;
    }
    // At most one write a minute per session, however many requests a page makes.
    if (record.expires_at - now < this.ttlMs - Math.min(RENEW_GRANULARITY_MS, this.ttlMs / 10)) await this.sessions.update({ ...record, expires_at: now + this.ttlMs });
    return record.subject;
  }

  async end(id: string): Promise<void> {
    const record = await this.find(id);
    if (record) await this.sessions.delete(record.id);
  }

  /** Ends every session of `subject` (password changed, account deleted). */
  async revokeSubject(subject: string): Promise<void> {
    for (;;) {
      const { items } = await this.sessions.list({ where: { subject }, limit: 500 });
      for (const r of items) await this.sessions.delete(r.id);
      if (items.length < 500) return;
    }
  }

  private async find(id: string): Promise<SessionRecord | undefined> {
    if (id.length === 0 || id.length > 128) return undefined;
    return this.sessions.findOne('hash', sha256Hex(id));
  }
}

/**
 * The CSRF token of a session: derived from the id, which only the cookie carries and no script can read, so a
 * page on another origin can neither read nor compute it (a synchronizer token with nothing more to store).
 */
export function csrfTokenOf(sessionId: string): string {
  return createHmac('sha256', sessionId).update('berth console csrf').digest('base64url');
}

export function csrfMatches(sessionId: string, presented: string): boolean {
  const expected = Buffer.from(csrfTokenOf(sessionId));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
