import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.js';

// A content digest as the OCI image-spec defines it: "<algorithm>:<encoded>". Kept as a branded string so it can
// be stored, compared and logged as-is; only parseDigest() makes one from outside input.
export type Digest = string & { readonly __brand: 'Digest' };
export type DigestAlgorithm = 'sha256' | 'sha512';

const hexLength: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// image-spec descriptor.md: algorithm-component and encoded grammar.
const grammar = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Validates a digest string; unsupported algorithms and malformed hex are DIGEST_INVALID (spec: 400). */
export function parseDigest(input: string): Digest {
  if (typeof input !== 'string' || input.length > 200 || !grammar.test(input)) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest', { detail: { digest: String(input).slice(0, 200) } });
  }
  const [alg, hex] = input.split(':', 2) as [string, string];
  if (alg !== 'sha256' && alg !== 'sha512') {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${alg}`, { detail: { digest: input } });
  }
  if (hex.length !== hexLength[alg] || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError('DIGEST_INVALID', `malformed ${alg} digest`, { detail: { digest: input } });
  }
  return input as Digest;
}

export function isDigest(input: string): boolean {
  try {
    parseDigest(input);
    return true;
  } catch {
    return false;
  }
}

export function digestAlgorithm(d: Digest): DigestAlgorithm {
  return d.slice(0, d.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

/** Digest of bytes already in memory (manifests, small test blobs). */
export function digestOf(bytes: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}

/** An incremental digester: feed chunks while they stream, read the digest at the end. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  bytes = 0;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): Digest {
    return `${this.algorithm}:${this.hash.digest('hex')}` as Digest;
  }
}
