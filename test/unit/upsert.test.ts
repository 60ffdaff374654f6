// findOrInsert and upsert by a unique field, raced by many writers at once (as instances sharing one store do):
// one document results, every writer sees it, and the last write is whole — on SQLite and on a real Redis.
import t, { type Test } from 'tap';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import { RedisMetaStore } from '../../storage-adapters/meta/redis.js';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';
import { findOrInsert, upsert } from '../../storage-adapters/meta/upsert.js';
import { startRedis } from '../helpers/redis-server.js';

interface Doc {
  id: number;
  name: string;
  value: string;
}

async function race(t: Test, meta: MetaStore): Promise<void> {
  const docs = meta.collection<Doc>('upsert_test', { unique: ['name'] });
  const found = await Promise.all(Array.from({ length: 20 }, (_, i) => findOrInsert(docs, 'name', 'key', () => ({ name: 'key', value: `writer ${i}` }))));
  const all = (await docs.list()).items;
  t.equal(all.length, 1, '20 racing findOrInsert calls store one document');
  t.ok(found.every((d) => d.id === all[0]!.id && d.value === all[0]!.value), 'and every caller gets that one');

  await Promise.all(Array.from({ length: 20 }, (_, i) => upsert(docs, 'name', 'other', (stored) => ({ name: 'other', value: `${stored ? 'update' : 'insert'} ${i}` }))));
  const others = (await docs.list()).items.filter((d) => d.name === 'other');
  t.equal(others.length, 1, '20 racing upserts store one document');
  t.match(others[0]!.value, /^(update|insert) \d+$/, 'holding one whole write');
  await upsert(docs, 'name', 'other', (stored) => ({ name: 'other', value: `after ${stored?.value}` }));
  t.equal((await docs.findOne('name', 'other'))!.value, `after ${others[0]!.value}`, 'an upsert of a stored document sees it');
}

t.test('sqlite', async (t) => {
  const meta = await SqliteMetaStore.open({ path: ':memory:' });
  t.teardown(() => meta.close());
  await race(t, meta);
});

t.test('redis', async (t) => {
  const redis = await startRedis({ args: [] });
  const meta = new RedisMetaStore({ url: redis.url });
  t.teardown(async () => {
    await meta.close();
    await redis.stop();
  });
  await race(t, meta);
});
