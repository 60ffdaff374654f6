// The Redis MetaStore against a real redis-server: the shared MetaStore contract, then what only Redis adds
// (key prefixes, failing fast while Redis is away and recovering without a restart).
import t from 'tap';
import { Redis } from 'ioredis';
import { digestOf } from '../../core/digest.js';
import { StorageUnavailableError } from '../../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import { RedisMetaStore } from '../../storage-adapters/meta/redis.js';
import { metaStoreContract } from '../contract/meta-store.js';
import { freePort } from '../helpers/berth-process.js';
import { startRedis, startSentinel, type RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
let admin: Redis;
t.before(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
});
t.teardown(async () => {
  admin?.disconnect();
  await server?.stop();
});

/** Deletes every key under `prefix` (what a test backend wrote). */
async function dropPrefix(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

let backends = 0;
t.test('MetaStore contract', async (t) => {
  metaStoreContract(t, async () => {
    // one server, a fresh key prefix per backend: an empty store without restarting Redis
    const keyPrefix = `test${++backends}:`;
    const stores: MetaStore[] = [];
    const open = () => {
      const s = new RedisMetaStore({ url: server.url, keyPrefix });
      stores.push(s);
      return s;
    };
    return {
      store: open(),
      reopen: async () => open(),
      cleanup: async () => {
        for (const s of stores) await s.close();
        await dropPrefix(keyPrefix);
      },
    };
  });
});

const v = (wall: number) => ({ wall, logical: 0, idc: 'idc-a' });
const manifest = (name: string) => ({
  digest: digestOf(`manifest ${name}`),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 10,
  blobs: [],
  children: [],
  createdAt: 1,
});

t.test('every key lives under the key prefix and two prefixes do not see each other', async (t) => {
  const a = new RedisMetaStore({ url: server.url, keyPrefix: 'tenant-a:' });
  const b = new RedisMetaStore({ url: server.url, keyPrefix: 'tenant-b:' });
  t.teardown(async () => {
    await a.close();
    await b.close();
    await dropPrefix('tenant-');
  });
  await a.putManifest('lib/app', manifest('m'), { name: 'latest', version: v(1) });
  await a.linkBlob('lib/app', digestOf('layer'), 5);
  await a.createUpload({ id: 'u1', repository: 'lib/app', startedAt: 1 });
  await a.collection<{ id: number; name: string }>('users', { unique: ['name'] }).insert({ name: 'ann' });
  await (await a.acquireLock('gc', 10_000))?.release();

  t.same(await b.listRepositories(), []);
  t.equal(await b.getTag('lib/app', 'latest'), undefined);
  t.same(await b.readOutbox(0, 10), []);
  t.ok(await b.collection<{ id: number; name: string }>('users', { unique: ['name'] }).insert({ name: 'ann' }), 'no unique clash');
  const keys = await admin.keys('*');
  t.ok(keys.length > 0);
  t.same(
    keys.filter((k) => !k.startsWith('tenant-a:') && !k.startsWith('tenant-b:') && !/^test\d+:/.test(k)),
    [],
    'nothing outside the prefixes',
  );
});

t.test('a store created while Redis is down fails fast and works once Redis is up', async (t) => {
  const port = await freePort();
  const store = new RedisMetaStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 500 });
  t.teardown(() => store.close());
  const started = Date.now();
  await t.rejects(store.ping(), StorageUnavailableError);
  t.ok(Date.now() - started < 2000, `failed in ${Date.now() - started} ms`);
  const late = await startRedis({ port });
  t.teardown(() => late.stop());
  await waitFor(() => store.ping());
  await store.putManifest('r', manifest('m'), { name: 'latest', version: v(1) });
  t.equal((await store.getTag('r', 'latest'))?.digest, manifest('m').digest);
});

t.test('Redis going away: StorageUnavailableError within 2 s, then recovery on the same store once it is back', async (t) => {
  let redis = await startRedis();
  const port = redis.port;
  const store = new RedisMetaStore({ url: redis.url });
  t.teardown(async () => {
    await store.close();
    await redis.stop();
  });
  await store.putManifest('r', manifest('before'), { name: 'latest', version: v(1) });

  await redis.kill();
  for (const [what, call] of [
    ['ping', () => store.ping()],
    ['getTag', () => store.getTag('r', 'latest')],
    ['putManifest', () => store.putManifest('r', manifest('during'), { name: 'latest', version: v(2) })],
    ['deleteTag', () => store.deleteTag('r', 'latest', v(3))],
    ['collection insert', () => store.collection<{ id: number; k: string }>('things').insert({ k: 'x' })],
    ['acquireLock', () => store.acquireLock('gc', 1000)],
  ] as const) {
    const started = Date.now();
    await t.rejects((call as () => Promise<unknown>)(), StorageUnavailableError, `${what} rejects with StorageUnavailableError`);
    const took = Date.now() - started;
    t.ok(took < 2000, `${what} failed in ${took} ms`);
  }

  // Same port, empty data (nothing persisted): the store reconnects on its own.
  redis = await startRedis({ port });
  await waitFor(() => store.ping());
  t.same(await store.readOutbox(0, 10), [], 'an empty server (nothing was persisted)');
  t.equal(await store.putManifest('r', manifest('after'), { name: 'latest', version: v(4) }), 'applied');
  t.equal((await store.getTag('r', 'latest'))?.digest, manifest('after').digest);
  const events = await store.readOutbox(0, 10);
  t.same(events.map((e) => e.type), ['manifest.put', 'tag.put']);
});

t.test('a lock held on one store is refused to another until its TTL runs out, across instances', async (t) => {
  const a = new RedisMetaStore({ url: server.url, keyPrefix: 'locks:' });
  const b = new RedisMetaStore({ url: server.url, keyPrefix: 'locks:' });
  t.teardown(async () => {
    await a.close();
    await b.close();
    await dropPrefix('locks:');
  });
  // Only a check that ends within the 300 ms lease proves it is held (a stalled machine may outlast it, and then
  // the lease rightly runs out): an attempt that overran is repeated under a new name.
  let name = '';
  let held: Awaited<ReturnType<RedisMetaStore['acquireLock']>>;
  for (let attempt = 1; ; attempt++) {
    name = `gc-${attempt}`;
    const started = Date.now();
    held = await a.acquireLock(name, 300);
    const ttl = await admin.pttl(`locks:lock:${name}`);
    const other = await b.acquireLock(name, 300);
    const elapsed = Date.now() - started;
    if (elapsed < 295) {
      t.ok(held, 'a free lock is taken');
      t.ok(ttl > 0 && ttl <= 300, `the lock carries its TTL in Redis (${ttl} ms left)`);
      t.equal(other, undefined, 'and is refused to the other instance meanwhile');
      break;
    }
    if (attempt === 20) throw new Error('no attempt finished within the 300 ms lease (machine stalled)');
    t.comment(`attempt ${attempt} took ${elapsed} ms, longer than the lease: trying again`);
  }
  await new Promise((r) => setTimeout(r, 400));
  const taken = await b.acquireLock(name, 10_000);
  t.ok(taken, 'expired lock taken by the other instance');
  await held!.release();
  t.equal(await admin.exists(`locks:lock:${name}`), 1, "the former owner's release leaves the new owner's lock");
  await taken!.release();
  t.equal(await admin.exists(`locks:lock:${name}`), 0);
});

t.test('through Sentinel: the store finds the master by name', async (t) => {
  const master = await startRedis();
  const sentinel = await startSentinel(master.port, 'berth-master');
  t.teardown(async () => {
    await sentinel.stop();
    await master.stop();
  });
  const store = new RedisMetaStore({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], sentinelName: 'berth-master' });
  t.teardown(() => store.close());
  await waitFor(() => store.ping());
  t.equal(await store.putManifest('r', manifest('m'), { name: 'latest', version: v(1) }), 'applied');
  const direct = new Redis(master.url);
  t.teardown(() => direct.disconnect());
  t.ok((await direct.exists('berth:repos')) === 1, 'the write landed on the master');
});

t.test('on Redis Cluster: the key prefix becomes a hash tag so every multi-key script runs in one slot', async (t) => {
  const node = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1'] });
  t.teardown(() => node.stop());
  const direct = new Redis(node.url);
  t.teardown(() => direct.disconnect());
  await direct.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  await waitFor(async () => {
    if (!String(await direct.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) throw new Error('cluster not ready');
  });
  // the control: on a cluster, one script over keys of different slots is refused
  await t.rejects(direct.eval("return redis.call('MSET', KEYS[1], 1, KEYS[2], 2)", 2, 'a', 'b'), /CROSSSLOT/);

  const store = new RedisMetaStore({ cluster: [{ host: '127.0.0.1', port: node.port }] });
  t.teardown(() => store.close());
  await waitFor(() => store.ping());
  const m = manifest('m');
  t.equal(await store.putManifest('lib/app', m, { name: 'latest', version: v(1) }), 'applied');
  await store.linkBlob('lib/app', digestOf('layer'), 3);
  t.same(await store.blobRepositories(digestOf('layer')), ['lib/app']);
  t.same(await store.deleteManifest('lib/app', m.digest, v(2)), ['latest']);
  t.same((await store.readOutbox(0, 10)).map((e) => e.type), ['manifest.put', 'tag.put', 'tag.delete', 'manifest.delete']);
  const users = store.collection<{ id: number; name: string }>('users', { unique: ['name'] });
  await users.insert({ name: 'ann' });
  await t.rejects(users.insert({ name: 'ann' }), { name: 'ConflictError' });
  t.ok(await store.acquireLock('gc', 1000));
  const keys = await direct.keys('*');
  t.ok(keys.length > 5 && keys.every((k) => k.startsWith('{berth}:')), 'every key carries the {berth} hash tag');
});

/** Retries `fn` until it resolves (Redis coming back), for at most `ms`. */
async function waitFor(fn: () => Promise<unknown>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await fn();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
