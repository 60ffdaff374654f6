// The cached MetaStore (storage-adapters/meta/cached.ts) over a real redis-server, as two instances would run it:
// the MetaStore contract still holds; lookups are served from memory; a write on one instance reaches the other's
// cache through pub/sub at once; a change that publishes nothing (a lost message) is seen within the TTL; while
// the subscriber is cut off nothing is served from memory, and caching resumes once Redis is back.
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { digestOf, type Digest } from '../../core/digest.js';
import { StorageUnavailableError } from '../../storage-adapters/blob/blob-store.js';
import { CachedMetaStore, RedisInvalidationBus } from '../../storage-adapters/meta/cached.js';
import type { ManifestRecord, MetaStore, TagRecord } from '../../storage-adapters/meta/meta-store.js';
import { RedisMetaStore } from '../../storage-adapters/meta/redis.js';
import { metaStoreContract } from '../contract/meta-store.js';
import { loadServerConfig } from '../../core/config.js';
import { openMetaStore } from '../../storage-adapters/open.js';
import { startRedis, startSentinel, type RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
t.before(async () => {
  server = await startRedis();
});
t.teardown(async () => {
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const v = (wall: number) => ({ wall, logical: 0, idc: 'idc-a' });
const manifest = (name: string): ManifestRecord => ({
  digest: digestOf(`manifest ${name}`),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 10,
  blobs: [],
  children: [],
  createdAt: 1,
});

let prefixes = 0;
/** One instance: a Redis MetaStore under `keyPrefix`, cached, with its own pub/sub connections. */
function instance(keyPrefix: string, ttlMs: number, url = server.url): CachedMetaStore {
  const store = new RedisMetaStore({ url, keyPrefix });
  const bus = new RedisInvalidationBus(store.duplicateConnection(), store.duplicateConnection(), `${keyPrefix}meta-changes`);
  return new CachedMetaStore(store, { ttlMs, bus });
}

/** Resolves once the instance's subscription is confirmed (it caches nothing before). */
async function subscribed(s: CachedMetaStore): Promise<void> {
  const bus = (s as unknown as { bus: RedisInvalidationBus }).bus;
  for (let i = 0; i < 500 && !bus.listening; i++) await sleep(10);
  if (!bus.listening) throw new Error('bus never subscribed');
}

/** How long until `probe` holds, polling every `everyMs`, up to `limitMs` (then Infinity). */
async function timeUntil(probe: () => Promise<boolean>, limitMs: number, everyMs = 5): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - start;
    if (performance.now() - start > limitMs) return Infinity;
    await sleep(everyMs);
  }
}

t.test('MetaStore contract, through the cache', async (t) => {
  metaStoreContract(t, async () => {
    const keyPrefix = `contract${++prefixes}:`;
    const stores: MetaStore[] = [];
    const open = () => {
      const s = instance(keyPrefix, 1000);
      stores.push(s);
      return s;
    };
    return {
      store: open(),
      reopen: async () => open(),
      cleanup: async () => {
        for (const s of stores) await s.close();
      },
    };
  });
});

t.test('a repeated lookup is answered from memory', async (t) => {
  const p = `hits${++prefixes}:`;
  const a = instance(p, 60_000);
  const raw = new RedisMetaStore({ url: server.url, keyPrefix: p });
  t.teardown(async () => {
    await a.close();
    await raw.close();
  });
  await subscribed(a);
  const m1 = manifest('1');
  await a.putManifest('lib/app', m1, { name: 'v1', version: v(1) });
  await a.linkBlob('lib/app', digestOf('layer'), 5);
  t.equal((await a.getTag('lib/app', 'v1'))?.digest, m1.digest);
  t.same(await a.getManifest('lib/app', m1.digest), m1);
  t.equal((await a.getBlobLink('lib/app', digestOf('layer')))?.size, 5);
  const before = a.stats();
  for (let i = 0; i < 10; i++) {
    await a.getTag('lib/app', 'v1');
    await a.getManifest('lib/app', m1.digest);
    await a.getBlobLink('lib/app', digestOf('layer'));
  }
  t.equal(a.stats().hits - before.hits, 30, 'every repeat is a hit');
  t.equal(a.stats().misses, before.misses, 'no further reads of Redis');
  // Proof that memory answered: a change behind the cache's back (no message) is not seen yet.
  await raw.putManifest('lib/app', manifest('2'), { name: 'v1', version: v(2) });
  t.equal((await a.getTag('lib/app', 'v1'))?.digest, m1.digest, 'still the cached answer');
});

t.test('a caller changing a record it got does not change the cached one', async (t) => {
  const p = `own${++prefixes}:`;
  const a = instance(p, 60_000);
  t.teardown(() => a.close());
  await subscribed(a);
  const m = manifest('1');
  await a.putManifest('r', m, { name: 't', version: v(1) });
  const first = (await a.getManifest('r', m.digest))!;
  first.blobs.push(digestOf('x'));
  const hit = (await a.getManifest('r', m.digest))!;
  hit.mediaType = 'changed';
  t.same(await a.getManifest('r', m.digest), m);
  t.ok(a.stats().hits >= 2, 'served from memory');
});

t.test('concurrent misses of one key share a single read', async (t) => {
  const p = `flight${++prefixes}:`;
  const a = instance(p, 60_000);
  t.teardown(() => a.close());
  await subscribed(a);
  await a.putManifest('r', manifest('1'), { name: 't', version: v(1) });
  const before = a.stats().misses;
  const all = await Promise.all(Array.from({ length: 20 }, () => a.getTag('r', 't')));
  t.ok(all.every((x) => x?.digest === manifest('1').digest));
  t.equal(a.stats().misses - before, 1, 'one read for twenty callers');
});

t.test('a write on instance A reaches instance B\'s cache at once through pub/sub (TTL far away)', async (t) => {
  const p = `pubsub${++prefixes}:`;
  const a = instance(p, 60_000);
  const b = instance(p, 60_000);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  await Promise.all([subscribed(a), subscribed(b)]);
  const [m1, m2, m3] = [manifest('1'), manifest('2'), manifest('3')];
  await a.putManifest('lib/app', m1, { name: 'latest', version: v(1) });
  await a.putManifest('lib/app', m3, { name: 'other', version: v(1) });
  await a.linkBlob('lib/app', digestOf('layer'), 5);
  t.equal((await b.getTag('lib/app', 'latest'))?.digest, m1.digest, 'B caches latest → m1');
  t.ok(await b.getManifest('lib/app', m3.digest));
  t.ok(await b.getBlobLink('lib/app', digestOf('layer')));

  await a.putManifest('lib/app', m2, { name: 'latest', version: v(2) });
  const moved = await timeUntil(async () => (await b.getTag('lib/app', 'latest'))?.digest === m2.digest, 2000, 1);
  t.ok(moved < 50, `tag move seen by B in ${moved.toFixed(1)} ms (TTL is 60 s)`);

  await a.deleteTag('lib/app', 'latest', v(3));
  const deleted = await timeUntil(async () => (await b.getTag('lib/app', 'latest')) === undefined, 2000, 1);
  t.ok(deleted < 50, `tag delete seen by B in ${deleted.toFixed(1)} ms`);

  await a.deleteManifest('lib/app', m3.digest, v(4));
  const gone = await timeUntil(async () => (await b.getManifest('lib/app', m3.digest)) === undefined && (await b.getTag('lib/app', 'other')) === undefined, 2000, 1);
  t.ok(gone < 50, `manifest delete (and its tag) seen by B in ${gone.toFixed(1)} ms`);

  await a.unlinkBlob('lib/app', digestOf('layer'));
  const unlinked = await timeUntil(async () => (await b.getBlobLink('lib/app', digestOf('layer'))) === undefined, 2000, 1);
  t.ok(unlinked < 50, `blob unlink seen by B in ${unlinked.toFixed(1)} ms`);

  await a.putManifest('lib/gone', m1, { name: 'x', version: v(5) });
  t.ok(await b.getTag('lib/gone', 'x'));
  t.ok(await b.getManifest('lib/gone', m1.digest));
  await a.deleteRepository('lib/gone', v(6));
  const repoGone = await timeUntil(async () => !(await b.getTag('lib/gone', 'x')) && !(await b.getManifest('lib/gone', m1.digest)), 2000, 1);
  t.ok(repoGone < 50, `repository delete seen by B in ${repoGone.toFixed(1)} ms`);
});

t.test('with messages lost, B serves a moved tag for no longer than the TTL', async (t) => {
  const ttl = 1000;
  const p = `ttl${++prefixes}:`;
  const b = instance(p, ttl);
  // A writer that publishes nothing: what B sees when A crashed between its write and its message.
  const silent = new RedisMetaStore({ url: server.url, keyPrefix: p });
  t.teardown(async () => {
    await b.close();
    await silent.close();
  });
  await subscribed(b);
  const [m1, m2] = [manifest('1'), manifest('2')];
  for (let round = 0; round < 3; round++) {
    await silent.putManifest('r', m1, { name: 'latest', version: v(10 * round + 1) });
    await sleep(ttl + 20); // nothing cached from the round before
    t.equal((await b.getTag('r', 'latest'))?.digest, m1.digest, 'B cached m1');
    await silent.putManifest('r', m2, { name: 'latest', version: v(10 * round + 2) });
    const movedAt = performance.now();
    t.equal((await b.getTag('r', 'latest'))?.digest, m1.digest, 'right after the move B still has m1 (no message came)');
    // A stale answer can only come to a lookup begun before the entry expired (ttl after its read began, which
    // was before the move): the begin time of the last stale one is what the bound limits.
    let lastStale = 0;
    let after = Infinity;
    while (performance.now() - movedAt < 3 * ttl) {
      const began = performance.now() - movedAt;
      if ((await b.getTag('r', 'latest'))?.digest === m2.digest) {
        after = began;
        break;
      }
      lastStale = began;
      await sleep(5);
    }
    t.ok(lastStale <= ttl, `the last stale answer came ${lastStale.toFixed(0)} ms after the move (bound ${ttl} ms)`);
    t.ok(after < 3 * ttl, `B serves m2 from ${after.toFixed(0)} ms after the move`);
    t.ok(lastStale > ttl / 2, 'and served the cached m1 until close to the bound (the cache was in use)');
  }
});

t.test('a read under way when a write lands does not put the old answer in the cache', async (t) => {
  const p = `race${++prefixes}:`;
  const store = new RedisMetaStore({ url: server.url, keyPrefix: p });
  // Holds getTag answers until released, so a write can land while a read is in flight.
  let hold: Promise<void> | undefined;
  const slow: MetaStore = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'getTag') {
        return async (repo: string, tag: string): Promise<TagRecord | undefined> => {
          const answer = await target.getTag(repo, tag);
          if (hold) await hold;
          return answer;
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const c = new CachedMetaStore(slow, { ttlMs: 60_000 });
  t.teardown(() => c.close());
  const [m1, m2] = [manifest('1'), manifest('2')];
  await c.putManifest('r', m1, { name: 't', version: v(1) });
  let release!: () => void;
  hold = new Promise<void>((r) => (release = r));
  const inFlight = c.getTag('r', 't'); // reads m1, then waits
  await sleep(20);
  await c.putManifest('r', m2, { name: 't', version: v(2) });
  release();
  hold = undefined;
  t.equal((await inFlight)?.digest, m1.digest, 'the in-flight read answers what it read');
  t.equal((await c.getTag('r', 't'))?.digest, m2.digest, 'the next read is not served the old answer');
});

t.test('absent answers are not cached: a tag created elsewhere is visible at once', async (t) => {
  const p = `neg${++prefixes}:`;
  const b = instance(p, 60_000);
  const silent = new RedisMetaStore({ url: server.url, keyPrefix: p });
  t.teardown(async () => {
    await b.close();
    await silent.close();
  });
  await subscribed(b);
  const m = manifest('1');
  t.equal(await b.getTag('r', 'new'), undefined);
  t.equal(await b.getManifest('r', m.digest), undefined);
  t.equal(await b.getBlobLink('r', digestOf('l')), undefined);
  await silent.putManifest('r', m, { name: 'new', version: v(1) });
  await silent.linkBlob('r', digestOf('l'), 1);
  t.equal((await b.getTag('r', 'new'))?.digest, m.digest);
  t.ok(await b.getManifest('r', m.digest));
  t.ok(await b.getBlobLink('r', digestOf('l')));
});

t.test('while Redis is away nothing is served from memory; after it returns caching resumes', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.stop());
  const p = 'outage:';
  const a = instance(p, 60_000, own.url);
  t.teardown(() => a.close());
  await subscribed(a);
  const m = manifest('1');
  await a.putManifest('r', m, { name: 't', version: v(1) });
  t.ok(await a.getTag('r', 't'));
  t.ok(await a.getTag('r', 't'), 'cached');

  await own.kill();
  const port = own.port;
  const failedIn = await timeUntil(async () => {
    try {
      await a.getTag('r', 't');
      return false;
    } catch (e) {
      return e instanceof StorageUnavailableError;
    }
  }, 2000);
  t.ok(failedIn < 500, `lookups fail with StorageUnavailableError ${failedIn.toFixed(0)} ms after Redis died (no stale answers from memory)`);

  const back = await startRedis({ port });
  t.teardown(() => back.stop());
  // Redis came back empty (nothing persisted): the tag is gone, and the cache must not pretend otherwise.
  const recovered = await timeUntil(async () => {
    try {
      return (await a.getTag('r', 't')) === undefined;
    } catch {
      return false;
    }
  }, 5000);
  t.ok(recovered < 5000, 'answers again without a restart, from Redis');
  await subscribed(a);
  await a.putManifest('r', m, { name: 't', version: v(2) });
  const before = a.stats().hits;
  await a.getTag('r', 't');
  await a.getTag('r', 't');
  t.ok(a.stats().hits > before, 'caching resumed once subscribed again');
});

t.test('the channel is not under ioredis key prefixing: instances with one prefix hear each other, others do not', async (t) => {
  const spy = new Redis(server.url);
  t.teardown(() => spy.disconnect());
  const heard: string[] = [];
  spy.on('message', (ch: string) => heard.push(ch));
  await spy.subscribe('chan1:meta-changes', 'chan2:meta-changes');
  const a = instance('chan1:', 60_000);
  t.teardown(() => a.close());
  await subscribed(a);
  await a.putManifest('r', manifest('1'), { name: 't', version: v(1) });
  await sleep(50);
  t.same(heard, ['chan1:meta-changes']);
});

t.test('ttl 0 caches nothing', async (t) => {
  const p = `off${++prefixes}:`;
  const store = new RedisMetaStore({ url: server.url, keyPrefix: p });
  const c = new CachedMetaStore(store, { ttlMs: 0 });
  t.teardown(() => c.close());
  await c.putManifest('r', manifest('1'), { name: 't', version: v(1) });
  await c.getTag('r', 't');
  await c.getTag('r', 't');
  t.same(c.stats().hits, 0);
  t.equal((await c.getTag('r', 't'))?.digest, manifest('1').digest as Digest);
});

/** Two instances as `berth serve` opens them from BERTH_* settings; a tag moved through A reaches B's cache. */
async function expectInvalidationThrough(t: Test, env: Record<string, string>): Promise<void> {
  const config = loadServerConfig({ env: { BERTH_META: 'redis', BERTH_META_CACHE_TTL_MS: '60000', ...env } });
  const [a, b] = [await openMetaStore(config), await openMetaStore(config)];
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  t.ok(a instanceof CachedMetaStore && b instanceof CachedMetaStore, 'open.ts puts the cache in front of Redis');
  await Promise.all([subscribed(a as CachedMetaStore), subscribed(b as CachedMetaStore)]);
  const [m1, m2] = [manifest('1'), manifest('2')];
  await a.putManifest('r', m1, { name: 't', version: v(1) });
  await sleep(20); // A's message reaches B (a read under way when it lands is, rightly, not kept)
  t.equal((await b.getTag('r', 't'))?.digest, m1.digest);
  t.equal((await b.getTag('r', 't'))?.digest, m1.digest);
  t.ok((b as CachedMetaStore).stats().hits >= 1, 'B answers from memory');
  await a.putManifest('r', m2, { name: 't', version: v(2) });
  const ms = await timeUntil(async () => (await b.getTag('r', 't'))?.digest === m2.digest, 2000, 1);
  t.ok(ms < 50, `B sees the move in ${ms.toFixed(1)} ms (TTL 60 s)`);
}

t.test('through Sentinel, the cache and its invalidation channel work as on a standalone Redis', async (t) => {
  const master = await startRedis();
  const sentinel = await startSentinel(master.port, 'berth-master');
  t.teardown(async () => {
    await sentinel.stop();
    await master.stop();
  });
  await expectInvalidationThrough(t, { BERTH_REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`, BERTH_REDIS_SENTINEL_NAME: 'berth-master' });
});

t.test('on Redis Cluster, the cache and its invalidation channel work as on a standalone Redis', async (t) => {
  const node = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1'] });
  t.teardown(() => node.stop());
  const direct = new Redis(node.url);
  t.teardown(() => direct.disconnect());
  await direct.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  for (let i = 0; i < 100 && !String(await direct.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); i++) await sleep(50);
  await expectInvalidationThrough(t, { BERTH_REDIS_CLUSTER: `127.0.0.1:${node.port}` });
});

t.test('with BERTH_META_CACHE_TTL_MS=0 open.ts gives the plain Redis store', async (t) => {
  const config = loadServerConfig({ env: { BERTH_META: 'redis', BERTH_REDIS_URL: server.url, BERTH_META_CACHE_TTL_MS: '0' } });
  const store = await openMetaStore(config);
  t.teardown(() => store.close());
  t.ok(store instanceof RedisMetaStore);
});
