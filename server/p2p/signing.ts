import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import { findOrInsert } from '../../storage-adapters/meta/upsert.js';

// Short-lived capabilities the origin hands out inside a .torrent, where no Authorization header can travel:
// - a tracker ticket: "this caller had pull rights on the blob behind this infohash, until exp";
// - a web-seed URL signature: "these bytes may be read by range until exp".
// One HMAC key, created by the first origin and shared with the others through the MetaStore.

interface KeyRecord {
  id: number;
  name: string;
  key: string;
}

export class UrlSigner {
  private constructor(private readonly key: Buffer) {}

  static async open(meta: MetaStore): Promise<UrlSigner> {
    const keys = meta.collection<KeyRecord>('p2p_keys', { unique: ['name'] });
    const record = await findOrInsert(keys, 'name', 'hmac', () => ({ name: 'hmac', key: randomBytes(32).toString('base64') }));
    return new UrlSigner(Buffer.from(record.key, 'base64'));
  }

  /** `<exp>.<mac>` for `purpose` and `subject` (an infohash, a digest), valid `ttlSeconds`. */
  sign(purpose: string, subject: string, ttlSeconds: number): string {
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    return `${exp}.${this.mac(purpose, subject, exp)}`;
  }

  /** Whether `token` was made by sign(purpose, subject) and has not expired. */
  verify(purpose: string, subject: string, token: string | undefined): boolean {
    const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token ?? '');
    if (!m) return false;
    const exp = Number(m[1]);
    if (exp < Date.now() / 1000) return false;
    const expected = Buffer.from(this.mac(purpose, subject, exp));
    const given = Buffer.from(m[2]!);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  private mac(purpose: string, subject: string, exp: number): string {
    return createHmac('sha256', this.key).update(`${purpose}\n${subject}\n${exp}`).digest('base64url');
  }
}
