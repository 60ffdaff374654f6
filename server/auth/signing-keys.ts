import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Logger } from '../../core/log.js';
import type { Collection, MetaStore } from '../../storage-adapters/meta/meta-store.js';

// The token service's ES256 keys. They live in the MetaStore so every instance sharing it signs with the same
// key and verifies every other's tokens. A key signs for `rotationMs`; after that a new one is made and the old
// public key is kept until the last token it signed has expired, then deleted. Deleting a record by hand revokes
// the key: every instance stops verifying with it at its next refresh (a minute). `kid` is the JWK thumbprint.

export interface SigningKeyRecord {
  id: number;
  kid: string;
  private_jwk: JWK;
  public_jwk: JWK;
  /** Unix ms. */
  created_at: number;
  sign_until: number;
  verify_until: number;
}

export interface SigningKeyOptions {
  rotationMs: number;
  /** The longest life of a token signed with a key (it stays verifiable that long after it stops signing). */
  tokenTtlMs: number;
  log: Logger;
  clock?: () => number;
}

interface Signer {
  kid: string;
  key: CryptoKey;
  signUntil: number;
}

interface Verifier {
  key: CryptoKey;
  jwk: JWK;
  verifyUntil: number;
}

const ALG = 'ES256';
const LOCK = 'auth:signing-key';
/** Unknown kids trigger a reload at most this often (a stream of forged kids must not hammer the store). */
const RELOAD_INTERVAL_MS = 2_000;
/** Known keys are read again this often: a key deleted from the store (revoked) stops verifying on every instance. */
const REFRESH_INTERVAL_MS = 60_000;

export class SigningKeys {
  private readonly keys: Collection<SigningKeyRecord>;
  private readonly clock: () => number;
  private signer?: Signer;
  private pendingSigner?: Promise<Signer>;
  private verifiers = new Map<string, Verifier>();
  private loadedAt = 0;
  private pendingLoad?: Promise<SigningKeyRecord[]>;

  constructor(
    private readonly meta: MetaStore,
    private readonly opts: SigningKeyOptions,
  ) {
    this.keys = meta.collection<SigningKeyRecord>('signing_keys', { unique: ['kid'] });
    this.clock = opts.clock ?? Date.now;
  }

  /** The key to sign with now, making or rotating one when due. */
  async current(): Promise<{ kid: string; key: CryptoKey }> {
    if (this.signer && this.signer.signUntil > this.clock()) return this.signer;
    this.pendingSigner ??= this.findOrMakeSigner().finally(() => (this.pendingSigner = undefined));
    this.signer = await this.pendingSigner;
    return this.signer;
  }

  /** The public key for `kid`, if it is one of ours and still valid for verification. */
  async publicKey(kid: string): Promise<CryptoKey | undefined> {
    const age = this.clock() - this.loadedAt;
    if (age >= REFRESH_INTERVAL_MS || (!this.verifiers.has(kid) && age >= RELOAD_INTERVAL_MS)) await this.reload();
    const v = this.verifiers.get(kid);
    return v && v.verifyUntil > this.clock() ? v.key : undefined;
  }

  /** The JWK set other IDCs and agents verify our tokens with. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.current();
    if (this.clock() - this.loadedAt >= RELOAD_INTERVAL_MS) await this.load();
    const t = this.clock();
    return { keys: [...this.verifiers.values()].filter((v) => v.verifyUntil > t).map((v) => v.jwk) };
  }

  /** One load at a time however many requests find the keys due for a reload. */
  private reload(): Promise<SigningKeyRecord[]> {
    this.pendingLoad ??= this.load().finally(() => (this.pendingLoad = undefined));
    return this.pendingLoad;
  }

  /** Reads every key record, drops the ones no token can need any more. */
  private async load(): Promise<SigningKeyRecord[]> {
    const t = this.clock();
    const live: SigningKeyRecord[] = [];
    for (let offset = 0; ; offset += 100) {
      const { items } = await this.keys.list({ offset, limit: 100 });
      for (const r of items) {
        if (r.verify_until <= t) await this.keys.delete(r.id);
        else live.push(r);
      }
      if (items.length < 100) break;
    }
    const verifiers = new Map<string, Verifier>();
    for (const r of live) {
      const known = this.verifiers.get(r.kid);
      verifiers.set(r.kid, known ?? { key: (await importJWK(r.public_jwk, ALG)) as CryptoKey, jwk: r.public_jwk, verifyUntil: r.verify_until });
    }
    this.verifiers = verifiers;
    this.loadedAt = t;
    return live;
  }

  private async findOrMakeSigner(): Promise<Signer> {
    for (let attempt = 0; ; attempt++) {
      const usable = await this.newestSigning();
      if (usable) return usable;
      // One instance makes the key; the others wait for it and read it back.
      const lock = await this.meta.acquireLock(LOCK, 15_000);
      if (lock || attempt >= 20) {
        try {
          return (await this.newestSigning()) ?? (await this.makeKey());
        } finally {
          await lock?.release();
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async newestSigning(): Promise<Signer | undefined> {
    const t = this.clock();
    const best = (await this.load()).filter((r) => r.sign_until > t).sort((a, b) => b.created_at - a.created_at)[0];
    if (!best) return undefined;
    return { kid: best.kid, key: (await importJWK(best.private_jwk, ALG)) as CryptoKey, signUntil: best.sign_until };
  }

  private async makeKey(): Promise<Signer> {
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const t = this.clock();
    const record = await this.keys.insert({
      kid,
      private_jwk: { ...(await exportJWK(privateKey)), kid, alg: ALG },
      public_jwk: { ...publicJwk, kid, alg: ALG, use: 'sig' },
      created_at: t,
      sign_until: t + this.opts.rotationMs,
      verify_until: t + this.opts.rotationMs + this.opts.tokenTtlMs + 60_000,
    });
    this.opts.log.info({ kid }, 'token signing key created');
    await this.load();
    return { kid, key: privateKey, signUntil: record.sign_until };
  }
}
