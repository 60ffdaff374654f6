// Token signing keys over the real SQLite MetaStore, with a clock the test moves: instances sharing a store
// sign with one key, a rotated-out key keeps verifying its tokens until they have expired, then is dropped.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { AccessPolicy } from '../../server/auth/policy.js';
import { AccessRecords } from '../../server/auth/records.js';
import { SigningKeys, type SigningKeyRecord } from '../../server/auth/signing-keys.js';
import { InvalidToken, TokenService } from '../../server/auth/tokens.js';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';

const dir = await mkdtemp(join(tmpdir(), 'berth-keys-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const meta = await SqliteMetaStore.open({ path: join(dir, 'meta.db') });
t.teardown(() => meta.close());
const log = pino({ level: 'silent' });

let now = Date.parse('2030-01-01T00:00:00Z');
const clock = () => now;
const HOUR = 3600_000;
const opts = { rotationMs: 24 * HOUR, tokenTtlMs: HOUR, log, clock };
const policy = new AccessPolicy(new AccessRecords(meta));
const service = (keys: SigningKeys) => new TokenService(keys, policy, { service: 'berth', issuer: 'berth', ttlSeconds: 3600, clock });
const anonymous = { kind: 'anonymous' } as const;

t.test('instances sharing a store make one key between them', async (t) => {
  const a = new SigningKeys(meta, opts);
  const b = new SigningKeys(meta, opts);
  const c = new SigningKeys(meta, opts);
  const [ka, kb, kc] = await Promise.all([a.current(), b.current(), c.current()]);
  t.equal(kb.kid, ka.kid);
  t.equal(kc.kid, ka.kid);
  t.equal((await meta.collection<SigningKeyRecord>('signing_keys').list()).total, 1, 'one key record');
  const token = await service(a).issue(anonymous, []);
  t.equal((await service(b).verify(token.token)).subject, '', "b verifies a's token");
});

t.test('rotation: a new key signs, the old one verifies until its last token expired', async (t) => {
  const a = new SigningKeys(meta, opts);
  const b = new SigningKeys(meta, opts);
  const first = await a.current();
  const old = await service(a).issue(anonymous, []);

  now += 24 * HOUR + 1000; // past sign_until of the first key
  const second = await a.current();
  t.not(second.kid, first.kid, 'rotated');
  const fresh = await service(a).issue(anonymous, []);
  t.equal(JSON.parse(Buffer.from(fresh.token.split('.')[0]!, 'base64url').toString()).kid, second.kid, 'new tokens carry the new kid');
  t.same((await b.jwks()).keys.map((k) => k.kid).sort(), [first.kid, second.kid].sort(), 'both published meanwhile');
  t.equal(await b.current().then((k) => k.kid), second.kid, 'the other instance signs with the new key too');

  // The first key signed until T+24h; its tokens live one hour: it is kept until then (plus a margin).
  now += 30 * 60_000;
  t.ok(await b.publicKey(first.kid), 'still verifiable 30 min after rotation');
  now += HOUR;
  await t.rejects(service(b).verify(old.token), InvalidToken, 'its tokens are expired anyway');
  now += 5_000;
  t.equal(await b.publicKey(first.kid), undefined, 'dropped once no token can need it');
  t.same((await a.jwks()).keys.map((k) => k.kid), [second.kid], 'no longer published');
  const records = (await meta.collection<SigningKeyRecord>('signing_keys').list()).items;
  t.same(records.map((r) => r.kid), [second.kid], 'and deleted from the store (by the next reload)');
  const later = await service(a).issue(anonymous, []);
  t.equal((await service(b).verify(later.token)).subject, '', 'the current key still signs and verifies');
});

t.test('an unknown kid is refused without error', async (t) => {
  const a = new SigningKeys(meta, opts);
  t.equal(await a.publicKey('no-such-kid'), undefined);
});

// Verified tokens are remembered (the signature check is the costly part of a request); these pin that the memory
// never outlives what a full check would accept.
t.test('a remembered token is refused once past its exp', async (t) => {
  const keys = new SigningKeys(meta, opts);
  const short = new TokenService(keys, policy, { service: 'berth', issuer: 'berth', ttlSeconds: 60, clock });
  const { token } = await short.issue(anonymous, []);
  t.equal((await short.verify(token)).subject, '', 'verified');
  now += 30_000;
  t.equal((await short.verify(token)).subject, '', 'again, within its life');
  now += 30_000 + 31_000; // past exp and past the 30 s clock tolerance
  await t.rejects(short.verify(token), { name: 'InvalidToken', message: /exp/ }, 'refused after exp');
});

t.test('a remembered token is refused once its key is deleted from the store (revoked)', async (t) => {
  const keys = new SigningKeys(meta, opts);
  const svc = service(keys);
  const { token } = await svc.issue(anonymous, []);
  t.equal((await svc.verify(token)).subject, '', 'verified');
  const kid = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
  const signingKeys = meta.collection<SigningKeyRecord>('signing_keys', { unique: ['kid'] });
  const record = (await signingKeys.list()).items.find((r) => r.kid === kid)!;
  await signingKeys.delete(record.id);
  t.equal((await svc.verify(token)).subject, '', 'accepted until the instance reads its keys again');
  now += 61_000; // the token lives an hour; the keys are read again after a minute
  await t.rejects(svc.verify(token), { name: 'InvalidToken', message: /unknown key/ }, 'refused once the deletion is seen');
});

t.test('a remembered token is refused once its key has expired, even if the token has not', async (t) => {
  // Keys kept for 1-minute tokens, a service that issues day-long ones: the key goes first.
  const keys = new SigningKeys(meta, { ...opts, rotationMs: HOUR, tokenTtlMs: 60_000 });
  const long = new TokenService(keys, policy, { service: 'berth', issuer: 'berth', ttlSeconds: 24 * 3600, clock });
  now += 25 * HOUR; // past every earlier key's signing time, so this one makes a fresh key
  const { token } = await long.issue(anonymous, []);
  t.equal((await long.verify(token)).subject, '', 'verified');
  now += HOUR + 2 * 60_000 + 1000; // past sign_until + tokenTtl + margin
  await t.rejects(long.verify(token), { name: 'InvalidToken', message: /unknown key/ }, 'refused with the key gone');
});

t.test('a token altered after a genuine one was remembered is refused', async (t) => {
  const svc = service(new SigningKeys(meta, opts));
  const { token } = await svc.issue({ kind: 'anonymous' }, []);
  await svc.verify(token);
  const [h, p, sig] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${sig}`;
  await t.rejects(svc.verify(forged), InvalidToken, 'claims changed, signature kept');
  const flipped = `${h}.${p}.${sig.slice(0, -2)}${sig.endsWith('A') ? 'B' : 'A'}${sig.slice(-1)}`;
  await t.rejects(svc.verify(flipped), InvalidToken, 'signature changed');
  t.equal((await svc.verify(token)).subject, '', 'the genuine one still passes');
});
