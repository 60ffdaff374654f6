import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

// Registry secrets are encrypted at rest with AES-256-GCM. The key comes from `replication_key`
// (BERTH_REPLICATION_KEY), stretched with HKDF-SHA256; without one, a random 32-byte key is created once in
// <data_dir>/replication.key (mode 0600). A MetaStore dump alone then never reveals a registry password.
// Instances sharing a MetaStore (Redis) must share the key.

const VERSION = 'v1';

export class CredentialCipher {
  private constructor(private readonly key: Buffer) {}

  static fromSecret(secret: string): CredentialCipher {
    return new CredentialCipher(Buffer.from(hkdfSync('sha256', secret, 'berth-replication', 'registry-credentials', 32)));
  }

  /** The configured secret, else the key file in `dataDir` (created when missing). */
  static async load(opts: { secret?: string; dataDir: string }): Promise<CredentialCipher> {
    if (opts.secret) return CredentialCipher.fromSecret(opts.secret);
    const dir = resolve(opts.dataDir);
    const file = join(dir, 'replication.key');
    try {
      const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
      if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
      return new CredentialCipher(key);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await mkdir(dir, { recursive: true });
    const key = randomBytes(32);
    try {
      // 'wx': two processes starting together must not overwrite each other's key.
      await writeFile(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      return new CredentialCipher(key);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return CredentialCipher.load(opts);
      throw e;
    }
  }

  /** `v1.<iv>.<tag>.<ciphertext>` (base64url); the record's id is bound in as associated data. */
  encrypt(plain: string, context: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(context));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return [VERSION, iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  decrypt(sealed: string, context: string): string {
    const [v, iv, tag, ct] = sealed.split('.');
    if (v !== VERSION || iv === undefined || tag === undefined || ct === undefined) throw new CredentialError('unknown credential format');
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      d.setAAD(Buffer.from(context));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
    } catch {
      throw new CredentialError('cannot decrypt a registry credential: it was sealed with another key (set replication_key identically on every instance)');
    }
  }
}

export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialError';
  }
}
