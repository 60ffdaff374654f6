// The tag-write rule as a table: the pure function, then the same cases through both MetaStore drivers (sqlite
// in memory, Redis on a real redis-server), so the Lua port cannot drift from the TypeScript.
import t, { type Test } from 'tap';
import { digestOf, type Digest } from '../../core/digest.js';
import type { TagVersion } from '../../core/hlc.js';
import { decideTagWrite, type StoredTag, type TagWriteDecision } from '../../core/tag-write.js';
import type { ManifestRecord, MetaStore } from '../../storage-adapters/meta/meta-store.js';
import { RedisMetaStore } from '../../storage-adapters/meta/redis.js';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';
import { startRedis } from '../helpers/redis-server.js';

const v = (wall: number, logical = 0, idc = 'a'): TagVersion => ({ wall, logical, idc });
const A = digestOf('manifest A');
const B = digestOf('manifest B');

interface Case {
  name: string;
  stored?: StoredTag;
  digest: Digest | null;
  version: TagVersion;
  replicated: boolean;
  expect: TagWriteDecision;
}

const cases: Case[] = [
  { name: 'first write', digest: A, version: v(10), replicated: false, expect: { result: 'applied', version: v(10) } },
  { name: 'first write, replicated', digest: A, version: v(10, 0, 'b'), replicated: true, expect: { result: 'applied', version: v(10, 0, 'b') } },
  { name: 'delete of a tag never written', digest: null, version: v(10), replicated: false, expect: { result: 'unchanged' } },
  { name: 'move, newer', stored: { digest: A, version: v(10) }, digest: B, version: v(20), replicated: false, expect: { result: 'applied', version: v(20) } },
  { name: 'move, local, older clock: applied just after', stored: { digest: A, version: v(30, 2) }, digest: B, version: v(20), replicated: false, expect: { result: 'applied', version: v(30, 3) } },
  { name: 'move, local, equal version: applied just after', stored: { digest: A, version: v(30) }, digest: B, version: v(30), replicated: false, expect: { result: 'applied', version: v(30, 1) } },
  { name: 'move, local, keeps the writer IDC', stored: { digest: A, version: v(30, 0, 'z') }, digest: B, version: v(20, 0, 'a'), replicated: false, expect: { result: 'applied', version: v(30, 1, 'a') } },
  { name: 'move, replicated, older: stale', stored: { digest: A, version: v(30) }, digest: B, version: v(20, 0, 'b'), replicated: true, expect: { result: 'stale' } },
  { name: 'move, replicated, newer: applied', stored: { digest: A, version: v(30) }, digest: B, version: v(40, 0, 'b'), replicated: true, expect: { result: 'applied', version: v(40, 0, 'b') } },
  { name: 'move, replicated, equal: applied', stored: { digest: A, version: v(30, 0, 'b') }, digest: B, version: v(30, 0, 'b'), replicated: true, expect: { result: 'applied', version: v(30, 0, 'b') } },
  { name: 'same digest, newer: unchanged, version raised', stored: { digest: A, version: v(10) }, digest: A, version: v(20), replicated: false, expect: { result: 'unchanged', raiseTo: v(20) } },
  { name: 'same digest, replicated newer: unchanged, raised', stored: { digest: A, version: v(10) }, digest: A, version: v(20, 0, 'b'), replicated: true, expect: { result: 'unchanged', raiseTo: v(20, 0, 'b') } },
  { name: 'same digest, local older: unchanged', stored: { digest: A, version: v(30) }, digest: A, version: v(20), replicated: false, expect: { result: 'unchanged' } },
  { name: 'same digest, replicated older: stale', stored: { digest: A, version: v(30) }, digest: A, version: v(20, 0, 'b'), replicated: true, expect: { result: 'stale' } },
  { name: 'same digest, equal: unchanged', stored: { digest: A, version: v(30) }, digest: A, version: v(30), replicated: false, expect: { result: 'unchanged' } },
  { name: 'delete, newer', stored: { digest: A, version: v(10) }, digest: null, version: v(20), replicated: false, expect: { result: 'applied', version: v(20) } },
  { name: 'delete, local, older clock', stored: { digest: A, version: v(30) }, digest: null, version: v(20), replicated: false, expect: { result: 'applied', version: v(30, 1) } },
  { name: 'delete, replicated older: stale', stored: { digest: A, version: v(30) }, digest: null, version: v(20, 0, 'b'), replicated: true, expect: { result: 'stale' } },
  { name: 'delete of a tombstone: unchanged', stored: { digest: null, version: v(30) }, digest: null, version: v(20), replicated: false, expect: { result: 'unchanged' } },
  { name: 'delete of a tombstone, newer: raised', stored: { digest: null, version: v(30) }, digest: null, version: v(40), replicated: false, expect: { result: 'unchanged', raiseTo: v(40) } },
  { name: 'write over a tombstone, replicated older: stale', stored: { digest: null, version: v(30) }, digest: A, version: v(20, 0, 'b'), replicated: true, expect: { result: 'stale' } },
  { name: 'write over a tombstone, local older: just after', stored: { digest: null, version: v(30) }, digest: A, version: v(20), replicated: false, expect: { result: 'applied', version: v(30, 1) } },
  { name: 'IDC breaks a tie of wall and logical', stored: { digest: A, version: v(30, 0, 'b') }, digest: B, version: v(30, 0, 'a'), replicated: true, expect: { result: 'stale' } },
];

t.test('decideTagWrite', async (t) => {
  for (const c of cases) t.same(decideTagWrite(c.stored, c.digest, c.version, c.replicated), c.expect, c.name);
});

const record = (digest: Digest): ManifestRecord => ({ digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, blobs: [], children: [], createdAt: 1 });

/** Drives one case through a store: the stored record is set up with local writes at exact versions. */
async function throughStore(store: MetaStore, repo: string, c: Case): Promise<{ result: string; after: StoredTag | undefined }> {
  await store.putManifest(repo, record(A));
  await store.putManifest(repo, record(B));
  if (c.stored) {
    if (c.stored.digest === null) {
      await store.putManifest(repo, record(A), { name: 't', version: v(1) });
      await store.deleteTag(repo, 't', c.stored.version);
    } else {
      await store.putManifest(repo, record(c.stored.digest as Digest), { name: 't', version: c.stored.version });
    }
  }
  const origin = c.replicated ? c.version.idc : undefined;
  const result =
    c.digest === null
      ? await store.deleteTag(repo, 't', c.version, origin)
      : ((await store.putManifest(repo, record(c.digest), { name: 't', version: c.version, ...(origin && { origin }) })) as string);
  const rec = (await store.listTagRecords(repo)).find((r) => r.name === 't');
  return { result, after: rec && { digest: rec.digest, version: rec.version } };
}

function expectedAfter(c: Case): StoredTag | undefined {
  if (c.expect.result === 'applied') return { digest: c.digest, version: c.expect.version };
  if (c.expect.result === 'unchanged' && c.expect.raiseTo) return { digest: c.stored!.digest, version: c.expect.raiseTo };
  return c.stored;
}

async function runTable(t: Test, store: MetaStore): Promise<void> {
  for (const [i, c] of cases.entries()) {
    const got = await throughStore(store, `case/${i}`, c);
    t.same(got, { result: c.expect.result, after: expectedAfter(c) }, c.name);
  }
}

t.test('the sqlite driver follows the table', async (t) => {
  const store = await SqliteMetaStore.open({ path: ':memory:' });
  t.teardown(() => store.close());
  await runTable(t, store);
});

t.test('the Redis driver (Lua) follows the table', async (t) => {
  const redis = await startRedis({ args: [] });
  const store = new RedisMetaStore({ url: redis.url });
  t.teardown(async () => {
    await store.close();
    await redis.stop();
  });
  await runTable(t, store);
});
