// Refresh tokens slide: each use renews the lifetime, idleness for a whole lifetime ends them, and revoking a
// subject ends them at once. Over a real SQLite MetaStore, with the clock in the test's hand.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { RefreshTokens } from '../../server/auth/refresh-tokens.js';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';

const dir = await mkdtemp(join(tmpdir(), 'berth-refresh-'));
const meta = await SqliteMetaStore.open({ path: join(dir, 'meta.db') });
t.teardown(async () => {
  await meta.close();
  await rm(dir, { recursive: true, force: true });
});
const day = 24 * 3600 * 1000;
let now = Date.UTC(2026, 0, 1);
const tokens = new RefreshTokens(meta, 30 * day, () => now);

t.test('a token used now and then outlives its lifetime; one left idle for a lifetime lapses', async (t) => {
  const used = await tokens.issue('builder');
  const idle = await tokens.issue('builder');
  for (let i = 0; i < 4; i++) {
    now += 20 * day;
    t.equal(await tokens.redeem(used), 'builder', `used again after ${(i + 1) * 20} days`);
  }
  t.equal(await tokens.redeem(idle), undefined, 'the idle one expired after 30 days without use');
  now += 31 * day;
  t.equal(await tokens.redeem(used), undefined, 'and the used one too, once left idle for 31 days');
});

t.test('revoking the subject ends its tokens at once, not others', async (t) => {
  const mine = await tokens.issue('alice');
  const theirs = await tokens.issue('bob');
  await tokens.revokeSubject('alice');
  t.equal(await tokens.redeem(mine), undefined, 'alice: revoked');
  t.equal(await tokens.redeem(theirs), 'bob', 'bob: still valid');
  t.equal(await tokens.redeem('not-a-token'), undefined, 'an unknown token names nobody');
});
