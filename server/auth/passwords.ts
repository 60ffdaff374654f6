import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { Algorithm, hash, verify } from '@node-rs/argon2';

// Password and secret handling. Passwords are argon2id (OWASP's parameters, the library's defaults); generated
// robot secrets carry ~190 bits of entropy, so a SHA-256 of them compared in constant time is enough and keeps
// robot logins cheap for CI fleets.

export async function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: Algorithm.Argon2id });
}

/** False for a wrong password and for a malformed stored hash alike. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

/** Harbor's rule for passwords and chosen robot secrets: 8–128 characters, an upper, a lower and a digit. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 8 || password.length > 128) return 'must be 8 to 128 characters long';
  if (!/[A-Z]/.test(password) || !/[a-z]/.test(password) || !/[0-9]/.test(password)) {
    return 'must contain at least one uppercase letter, one lowercase letter and one digit';
  }
  return undefined;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random secret that also satisfies `passwordProblem` (some clients re-validate what they are given). */
export function generateSecret(length = 32): string {
  for (;;) {
    let s = '';
    for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)];
    if (passwordProblem(s) === undefined) return s;
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const SHA256_PREFIX = 'sha256:';

/** How a robot secret is kept: generated secrets by digest, chosen ones (possibly weak) by argon2id. */
export async function hashRobotSecret(secret: string, generated: boolean): Promise<string> {
  return generated ? SHA256_PREFIX + sha256Hex(secret) : hashPassword(secret);
}

export async function verifyRobotSecret(stored: string, secret: string): Promise<boolean> {
  if (stored.startsWith(SHA256_PREFIX)) {
    const expected = Buffer.from(stored.slice(SHA256_PREFIX.length), 'hex');
    const actual = Buffer.from(sha256Hex(secret), 'hex');
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  return verifyPassword(stored, secret);
}
