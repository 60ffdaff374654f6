// The MetaStore contract: every driver (sqlite, redis) runs this suite from its own test file:
//   metaStoreContract(t, async () => ({ store, reopen, cleanup }))
// Each subtest gets a fresh, empty backend from `makeBackend` and calls `cleanup` at the end, pass or fail.
import type { Test } from 'tap';
import { digestOf, type Digest } from '../../core/digest.js';
import type { TagVersion } from '../../core/hlc.js';
import { StorageUnavailableError } from '../../storage-adapters/blob/blob-store.js';
import {
  BlobFencedError,
  ConflictError,
  MissingReferencesError,
  NotFoundError,
  type Lock,
  type ManifestRecord,
  type MetaStore,
  type OutboxEvent,
} from '../../storage-adapters/meta/meta-store.js';

export interface MetaBackend {
  /** An open store on empty data. */
  store: MetaStore;
  /** A new, open store on the same data: what a restarted process or a second instance would see. */
  reopen(): Promise<MetaStore>;
  /** Closes every store this backend handed out (some may already be closed) and removes the data. */
  cleanup(): Promise<void>;
}

const v = (wall: number, logical = 0, idc = 'idc-a'): TagVersion => ({ wall, logical, idc });
/** The origin of a replicated write (last-writer-wins); a write without one is local (never loses). */
const from = 'idc-b';
const d = (s: string): Digest => digestOf(s);

function manifest(name: string, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  return {
    digest: d(`manifest ${name}`),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 100 + name.length,
    blobs: [d(`config ${name}`), d(`layer ${name}`)],
    children: [],
    createdAt: 1_700_000_000_000,
    ...extra,
  };
}

const byDigest = (a: { digest: string }, b: { digest: string }) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function allEvents(store: MetaStore): Promise<OutboxEvent[]> {
  return store.readOutbox(0, 10_000);
}

/** Events appended after `seq` without seq, at and absent fields: what the contract fixes. */
async function eventsAfter(store: MetaStore, seq: number) {
  return (await store.readOutbox(seq, 10_000)).map(({ seq: _s, at: _a, ...rest }) => {
    for (const k of Object.keys(rest) as (keyof typeof rest)[]) if (rest[k] === undefined) delete rest[k];
    return rest;
  });
}

async function lastSeq(store: MetaStore): Promise<number> {
  const events = await allEvents(store);
  return events.length === 0 ? 0 : events[events.length - 1]!.seq;
}

/**
 * Takes a lock for `ttlMs` through `first` and checks that `second` is refused it meanwhile. A check that ended
 * later than the TTL after the lock was asked for proves nothing (on a stalled machine the lease may have run out
 * first, and then it rightly goes to `second`), so such an attempt is repeated under a new name; a grant within
 * the TTL fails the test.
 */
async function shortLease(t: Test, first: MetaStore, second: MetaStore, ttlMs: number): Promise<{ name: string; lock: Lock }> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const name = `short-${attempt}`;
    const started = Date.now();
    const lock = await first.acquireLock(name, ttlMs);
    if (!lock) throw new Error(`the free lock ${name} was refused`);
    const other = await second.acquireLock(name, ttlMs);
    const elapsed = Date.now() - started;
    if (!other) {
      t.pass(`a ${ttlMs} ms lease is refused to another instance while it runs`);
      return { name, lock };
    }
    // 5 ms: the backend's clock (Redis's) may round the other way than ours.
    if (elapsed < ttlMs - 5) {
      t.fail(`granted to another instance ${elapsed} ms into a ${ttlMs} ms lease`);
      return { name, lock };
    }
    t.comment(`attempt ${attempt} took ${elapsed} ms, longer than the lease: inconclusive, trying again`);
  }
  throw new Error(`no attempt to check a ${ttlMs} ms lease finished within it (machine stalled)`);
}

interface Person {
  id: number;
  name: string;
  email: string;
  age: number;
  admin: boolean;
  team: string | null;
}

export function metaStoreContract(t: Test, makeBackend: () => Promise<MetaBackend>): void {
  const test = (name: string, fn: (t: Test, b: MetaBackend) => Promise<void>) =>
    t.test(name, async (t) => {
      const b = await makeBackend();
      try {
        await fn(t as unknown as Test, b);
      } finally {
        await b.cleanup();
      }
    });

  // --- manifests ---

  test('putManifest indexes a manifest and getManifest returns it as stored', async (t, { store }) => {
    const full = manifest('full', {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      artifactType: 'application/vnd.example.sbom',
      subject: d('manifest subject'),
      blobs: [d('b2'), d('b1'), d('b2')],
      children: [d('child 1'), d('child 0')],
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'x.y': 'z' },
    });
    const bare = manifest('bare');
    t.equal(await store.putManifest('lib/app', full), undefined, 'no tag, no tag result');
    await store.putManifest('lib/app', bare);
    t.same(await store.getManifest('lib/app', full.digest), full);
    t.strictSame(await store.getManifest('lib/app', bare.digest), bare, 'absent optional fields stay absent');
    t.equal(await store.getManifest('lib/other', full.digest), undefined, 'manifests are per repository');
    t.equal(await store.getManifest('lib/app', d('nothing')), undefined);
    t.same((await store.listManifests('lib/app')).sort(byDigest), [full, bare].sort(byDigest));
    t.same(await store.listManifests('lib/none'), []);
  });

  test('putManifest appends manifest.put once per repository', async (t, { store }) => {
    const m = manifest('m');
    await store.putManifest('a', m);
    await store.putManifest('a', m);
    await store.putManifest('b', m);
    t.same(await eventsAfter(store, 0), [
      { type: 'manifest.put', repository: 'a', digest: m.digest },
      { type: 'manifest.put', repository: 'b', digest: m.digest },
    ]);
    t.same(await store.listManifests('a'), [m], 'indexed once');
  });

  test('putManifest with a tag points the tag and appends manifest.put then tag.put', async (t, { store }) => {
    const m = manifest('m');
    t.equal(await store.putManifest('lib/app', m, { name: 'latest', version: v(100) }), 'applied');
    t.same(await store.getTag('lib/app', 'latest'), { repository: 'lib/app', name: 'latest', digest: m.digest, version: v(100) });
    t.same(await store.listTags('lib/app'), ['latest']);
    t.same(await eventsAfter(store, 0), [
      { type: 'manifest.put', repository: 'lib/app', digest: m.digest },
      { type: 'tag.put', repository: 'lib/app', digest: m.digest, tag: 'latest', version: v(100) },
    ]);
    t.equal(await store.getTag('lib/app', 'other'), undefined);
    t.equal(await store.getTag('lib/none', 'latest'), undefined);
  });

  test('a write arriving by replication records its origin on every event', async (t, { store }) => {
    const m = manifest('m');
    await store.putManifest('r', m, { name: 'latest', version: v(100, 0, 'idc-b'), origin: 'idc-b' });
    t.same(await eventsAfter(store, 0), [
      { type: 'manifest.put', repository: 'r', digest: m.digest, origin: 'idc-b' },
      { type: 'tag.put', repository: 'r', digest: m.digest, tag: 'latest', version: v(100, 0, 'idc-b'), origin: 'idc-b' },
    ]);
    let seq = await lastSeq(store);
    t.equal(await store.deleteTag('r', 'latest', v(200, 0, 'idc-c'), 'idc-c'), 'applied');
    t.same(await eventsAfter(store, seq), [
      { type: 'tag.delete', repository: 'r', digest: m.digest, tag: 'latest', version: v(200, 0, 'idc-c'), origin: 'idc-c' },
    ]);
    await store.putManifest('r', m, { name: 'v1', version: v(300) });
    seq = await lastSeq(store);
    await store.deleteManifest('r', m.digest, v(400, 0, 'idc-d'), 'idc-d');
    t.same(await eventsAfter(store, seq), [
      { type: 'tag.delete', repository: 'r', digest: m.digest, tag: 'v1', version: v(400, 0, 'idc-d'), origin: 'idc-d' },
      { type: 'manifest.delete', repository: 'r', digest: m.digest, version: v(400, 0, 'idc-d'), origin: 'idc-d' },
    ]);
  });

  // --- last-writer-wins on tag versions ---

  test('a replicated write: a newer version moves the tag; an older one is stale and leaves the tag alone', async (t, { store }) => {
    const [m1, m2, m3] = [manifest('1'), manifest('2'), manifest('3')];
    await store.putManifest('r', m1, { name: 'latest', version: v(100) });
    t.equal(await store.putManifest('r', m2, { name: 'latest', version: v(200), origin: from }), 'applied');
    t.same(await store.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m2.digest, version: v(200) });
    const seq = await lastSeq(store);
    t.equal(await store.putManifest('r', m3, { name: 'latest', version: v(150), origin: from }), 'stale');
    t.same(await store.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m2.digest, version: v(200) });
    // The manifest itself is still indexed (it was pushed); only the tag write lost.
    t.same(await store.getManifest('r', m3.digest), m3);
    t.same(await eventsAfter(store, seq), [{ type: 'manifest.put', repository: 'r', digest: m3.digest, origin: from }], 'no tag.put');
  });

  test('versions order by wall, then logical, then IDC', async (t, { store }) => {
    const [m1, m2, m3, m4] = [manifest('1'), manifest('2'), manifest('3'), manifest('4')];
    const put = (m: ManifestRecord, version: TagVersion) => store.putManifest('r', m, { name: 't', version, origin: version.idc });
    await put(m1, v(100, 5, 'idc-b'));
    t.equal(await put(m2, v(100, 4, 'idc-z')), 'stale', 'lower logical loses');
    t.equal(await put(m2, v(100, 5, 'idc-a')), 'stale', 'lower idc loses');
    t.equal(await put(m2, v(99, 9, 'idc-z')), 'stale', 'lower wall loses');
    t.equal(await put(m3, v(100, 5, 'idc-c')), 'applied', 'higher idc wins');
    t.equal(await put(m4, v(100, 6, 'idc-a')), 'applied', 'higher logical wins');
    t.same(await store.getTag('r', 't'), { repository: 'r', name: 't', digest: m4.digest, version: v(100, 6, 'idc-a') });
  });

  test('the same digest again is unchanged, appends nothing, and keeps the newer version', async (t, { store }) => {
    const m = manifest('m');
    await store.putManifest('r', m, { name: 'latest', version: v(100) });
    const seq = await lastSeq(store);
    t.equal(await store.putManifest('r', m, { name: 'latest', version: v(100) }), 'unchanged', 'equal version');
    t.equal(await store.putManifest('r', m, { name: 'latest', version: v(200) }), 'unchanged', 'newer version');
    t.same((await store.getTag('r', 'latest'))?.version, v(200));
    t.equal(await store.putManifest('r', m, { name: 'latest', version: v(150), origin: from }), 'stale', 'replicated, older than the kept version');
    t.same((await store.getTag('r', 'latest'))?.version, v(200));
    t.equal(await store.putManifest('r', m, { name: 'latest', version: v(150) }), 'unchanged', 'local, older than the kept version');
    t.same((await store.getTag('r', 'latest'))?.version, v(200), 'no bump when nothing moves');
    t.same(await eventsAfter(store, seq), []);
  });

  test('a replicated write at an equal version with another digest is not stale: it is applied at that version', async (t, { store }) => {
    const [m1, m2] = [manifest('1'), manifest('2')];
    await store.putManifest('r', m1, { name: 'latest', version: v(100) });
    t.equal(await store.putManifest('r', m2, { name: 'latest', version: v(100), origin: from }), 'applied');
    t.same(await store.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m2.digest, version: v(100) });
  });

  test('deleteTag leaves a tombstone and appends tag.delete', async (t, { store }) => {
    const m = manifest('m');
    await store.putManifest('r', m, { name: 'latest', version: v(100) });
    await store.putManifest('r', m, { name: 'stable', version: v(100) });
    const seq = await lastSeq(store);
    t.equal(await store.deleteTag('r', 'latest', v(200)), 'applied');
    t.equal(await store.getTag('r', 'latest'), undefined, 'tombstones are not returned');
    t.same(await store.listTags('r'), ['stable']);
    const records = (await store.listTagRecords('r')).sort((a, b) => (a.name < b.name ? -1 : 1));
    t.same(records, [
      { repository: 'r', name: 'latest', digest: null, version: v(200) },
      { repository: 'r', name: 'stable', digest: m.digest, version: v(100) },
    ]);
    t.same(await eventsAfter(store, seq), [{ type: 'tag.delete', repository: 'r', digest: m.digest, tag: 'latest', version: v(200) }]);
    t.same(await store.getManifest('r', m.digest), m, 'the manifest stays');
  });

  test('a replicated deleteTag is last-writer-wins too', async (t, { store }) => {
    const m = manifest('m');
    await store.putManifest('r', m, { name: 'latest', version: v(200) });
    const seq = await lastSeq(store);
    t.equal(await store.deleteTag('r', 'latest', v(150), from), 'stale', 'an older delete loses');
    t.equal((await store.getTag('r', 'latest'))?.digest, m.digest);
    t.equal(await store.deleteTag('r', 'missing', v(300)), 'unchanged', 'a missing tag');
    t.equal(await store.deleteTag('nowhere', 'latest', v(300)), 'unchanged', 'a missing repository');
    t.same(await eventsAfter(store, seq), []);

    t.equal(await store.deleteTag('r', 'latest', v(300), from), 'applied');
    const afterDelete = await lastSeq(store);
    t.equal(await store.deleteTag('r', 'latest', v(300), from), 'unchanged', 'deleting again, same version');
    t.equal(await store.deleteTag('r', 'latest', v(400), from), 'unchanged', 'deleting again, newer version');
    t.same((await store.listTagRecords('r'))[0]?.version, v(400), 'the tombstone keeps the newer version');
    t.equal(await store.deleteTag('r', 'latest', v(350), from), 'stale', 'older than the tombstone');
    t.equal(await store.deleteTag('r', 'latest', v(350)), 'unchanged', 'a local delete of a tombstone: already gone');
    t.same((await store.listTagRecords('r'))[0]?.version, v(400));
    t.same(await eventsAfter(store, afterDelete), []);
  });

  test('a tombstoned tag comes back by replication only with a newer version', async (t, { store }) => {
    const [m1, m2, m3] = [manifest('1'), manifest('2'), manifest('3')];
    await store.putManifest('r', m1, { name: 'latest', version: v(100) });
    await store.deleteTag('r', 'latest', v(200));
    const seq = await lastSeq(store);
    t.equal(await store.putManifest('r', m2, { name: 'latest', version: v(150), origin: from }), 'stale');
    t.equal(await store.getTag('r', 'latest'), undefined, 'still deleted');
    t.same(await store.listTagRecords('r'), [{ repository: 'r', name: 'latest', digest: null, version: v(200) }]);
    t.equal(await store.putManifest('r', m1, { name: 'latest', version: v(150), origin: from }), 'stale', 'even the old digest');
    t.equal(await store.putManifest('r', m1, { name: 'latest', version: v(250), origin: from }), 'applied', 'same digest as before the delete');
    t.equal(await store.putManifest('r', m3, { name: 'latest', version: v(300), origin: from }), 'applied');
    t.same(await store.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m3.digest, version: v(300) });
    t.same(await eventsAfter(store, seq), [
      { type: 'manifest.put', repository: 'r', digest: m2.digest, origin: from },
      { type: 'tag.put', repository: 'r', digest: m1.digest, tag: 'latest', version: v(250), origin: from },
      { type: 'manifest.put', repository: 'r', digest: m3.digest, origin: from },
      { type: 'tag.put', repository: 'r', digest: m3.digest, tag: 'latest', version: v(300), origin: from },
    ]);
  });

  // --- local writes never lose: each instance versions with its own clock, which may run behind another's ---

  test('a local put after a newer put is applied just after it, tag and event carrying the bumped version', async (t, b) => {
    const { store } = b;
    const lagging = await b.reopen(); // a second instance whose clock runs behind
    const [m1, m2, m3] = [manifest('1'), manifest('2'), manifest('3')];
    await store.putManifest('r', m1, { name: 'latest', version: v(1000, 3, 'idc-b') });
    const seq = await lastSeq(store);
    t.equal(await lagging.putManifest('r', m2, { name: 'latest', version: v(990) }), 'applied', 'an older local version');
    t.same(await store.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m2.digest, version: v(1000, 4) });
    t.equal(await store.putManifest('r', m3, { name: 'latest', version: v(1000, 4) }), 'applied', 'an equal local version');
    t.same(await lagging.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m3.digest, version: v(1000, 5) });
    t.same(await eventsAfter(store, seq), [
      { type: 'manifest.put', repository: 'r', digest: m2.digest },
      { type: 'tag.put', repository: 'r', digest: m2.digest, tag: 'latest', version: v(1000, 4) },
      { type: 'manifest.put', repository: 'r', digest: m3.digest },
      { type: 'tag.put', repository: 'r', digest: m3.digest, tag: 'latest', version: v(1000, 5) },
    ]);
    // The bump keeps the writer's IDC even where that IDC sorts first: logical + 1 alone orders it after.
    await store.putManifest('r', m1, { name: 'other', version: v(500, 7, 'idc-z'), origin: 'idc-z' });
    t.equal(await store.putManifest('r', m2, { name: 'other', version: v(500, 7, 'idc-a') }), 'applied');
    t.same((await store.getTag('r', 'other'))?.version, v(500, 8, 'idc-a'));
    // A newer local version is applied as given.
    t.equal(await store.putManifest('r', m1, { name: 'other', version: v(600) }), 'applied');
    t.same((await store.getTag('r', 'other'))?.version, v(600));
  });

  test('a local put after a newer tombstone is applied: the tag comes back', async (t, { store }) => {
    const [m1, m2] = [manifest('1'), manifest('2')];
    await store.putManifest('r', m1, { name: 'latest', version: v(100) });
    await store.deleteTag('r', 'latest', v(300, 2, 'idc-b'), 'idc-b');
    const seq = await lastSeq(store);
    t.equal(await store.putManifest('r', m2, { name: 'latest', version: v(200) }), 'applied');
    t.same(await store.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m2.digest, version: v(300, 3) });
    t.same(await store.listTags('r'), ['latest']);
    t.same(await eventsAfter(store, seq), [
      { type: 'manifest.put', repository: 'r', digest: m2.digest },
      { type: 'tag.put', repository: 'r', digest: m2.digest, tag: 'latest', version: v(300, 3) },
    ]);
    // Even the digest it held before the delete: a tombstone is another value.
    await store.deleteTag('r', 'latest', v(400));
    t.equal(await store.putManifest('r', m2, { name: 'latest', version: v(390) }), 'applied', 'the digest before the delete');
    t.same(await store.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m2.digest, version: v(400, 1) });
  });

  test('a local delete after a newer put is applied with the bumped version', async (t, { store }) => {
    const m = manifest('m');
    await store.putManifest('r', m, { name: 'latest', version: v(300, 2, 'idc-b'), origin: 'idc-b' });
    const seq = await lastSeq(store);
    t.equal(await store.deleteTag('r', 'latest', v(100)), 'applied');
    t.equal(await store.getTag('r', 'latest'), undefined);
    t.same(await store.listTags('r'), []);
    t.same(await store.listTagRecords('r'), [{ repository: 'r', name: 'latest', digest: null, version: v(300, 3) }]);
    t.same(await eventsAfter(store, seq), [{ type: 'tag.delete', repository: 'r', digest: m.digest, tag: 'latest', version: v(300, 3) }]);
    t.same(await store.getManifest('r', m.digest), m, 'the manifest stays');
  });

  test('replicated writes stay exact last-writer-wins against a bumped local version', async (t, { store }) => {
    const [m1, m2, m3] = [manifest('1'), manifest('2'), manifest('3')];
    await store.putManifest('r', m1, { name: 'latest', version: v(500) });
    await store.putManifest('r', m2, { name: 'latest', version: v(400) }); // local, bumped to 500.1
    const seq = await lastSeq(store);
    t.equal(await store.putManifest('r', m3, { name: 'latest', version: v(500, 0, 'idc-z'), origin: 'idc-z' }), 'stale', 'the bump orders after the version it passed');
    t.equal(await store.deleteTag('r', 'latest', v(500, 1, 'idc-0'), 'idc-0'), 'stale', 'a lower IDC at the bumped wall and logical');
    t.same(await store.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m2.digest, version: v(500, 1) });
    t.same(await eventsAfter(store, seq), [{ type: 'manifest.put', repository: 'r', digest: m3.digest, origin: 'idc-z' }], 'no tag event');
    t.equal(await store.putManifest('r', m3, { name: 'latest', version: v(500, 1, 'idc-z'), origin: 'idc-z' }), 'applied', 'a newer replicated write');
    t.same(await store.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m3.digest, version: v(500, 1, 'idc-z') }, 'at its own version, not bumped');
    t.equal(await store.deleteTag('r', 'latest', v(600, 0, 'idc-z'), 'idc-z'), 'applied');
    t.same(await store.listTagRecords('r'), [{ repository: 'r', name: 'latest', digest: null, version: v(600, 0, 'idc-z') }]);
  });

  test('concurrent local writes of one tag from two instances all apply, each at a version after the last', async (t, b) => {
    const { store } = b;
    const other = await b.reopen();
    const seq = await lastSeq(store);
    const n = 20;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => (i % 2 ? store : other).putManifest('r', manifest(String(i)), { name: 't', version: v(100) })),
    );
    t.same(results, Array.from({ length: n }, () => 'applied'));
    const puts = (await store.readOutbox(seq, 10_000)).filter((e) => e.type === 'tag.put');
    t.same(puts.map((e) => e.version), Array.from({ length: n }, (_, i) => v(100, i)), 'one version each, increasing in outbox order');
    const last = puts[puts.length - 1]!;
    t.same(await other.getTag('r', 't'), { repository: 'r', name: 't', digest: last.digest, version: v(100, n - 1) }, 'the last event is the value');
  });

  test('deleteManifest tombstones every tag on it, one event each, then manifest.delete', async (t, { store }) => {
    const [m1, m2] = [manifest('1'), manifest('2')];
    await store.putManifest('r', m1, { name: 'b', version: v(100) });
    await store.putManifest('r', m1, { name: 'a', version: v(100) });
    await store.putManifest('r', m2, { name: 'c', version: v(100) });
    await store.putManifest('r', m1, { name: 'gone', version: v(100) });
    await store.deleteTag('r', 'gone', v(150));
    await store.putManifest('other', m1, { name: 'a', version: v(100) });
    const seq = await lastSeq(store);

    const removed = await store.deleteManifest('r', m1.digest, v(200));
    t.same([...(removed ?? [])].sort(), ['a', 'b']);
    t.equal(await store.getManifest('r', m1.digest), undefined);
    t.same(await store.listManifests('r'), [m2]);
    t.same(await store.listTags('r'), ['c']);
    const events = await eventsAfter(store, seq);
    t.same(events.slice(0, 2).sort((x, y) => ((x.tag ?? '') < (y.tag ?? '') ? -1 : 1)), [
      { type: 'tag.delete', repository: 'r', digest: m1.digest, tag: 'a', version: v(200) },
      { type: 'tag.delete', repository: 'r', digest: m1.digest, tag: 'b', version: v(200) },
    ]);
    t.same(events.slice(2), [{ type: 'manifest.delete', repository: 'r', digest: m1.digest, version: v(200) }]);
    t.same(
      (await store.listTagRecords('r')).filter((r) => r.digest === null).map((r) => r.name).sort(),
      ['a', 'b', 'gone'],
    );
    t.same(await store.getTag('other', 'a'), { repository: 'other', name: 'a', digest: m1.digest, version: v(100) });
    t.same(await store.getManifest('other', m1.digest), m1, 'other repositories keep theirs');

    const before = await lastSeq(store);
    t.equal(await store.deleteManifest('r', m1.digest, v(300)), undefined, 'already gone');
    t.equal(await store.deleteManifest('r', d('never'), v(300)), undefined, 'never there');
    t.same(await store.deleteManifest('r', m2.digest, v(50)), ['c'], 'tags go even when newer than the delete');
    t.equal(await store.getTag('r', 'c'), undefined);
    t.same(await store.listTags('r'), []);
    t.ok((await lastSeq(store)) > before);
  });

  test('an untagged manifest deletes with one manifest.delete and returns no tags', async (t, { store }) => {
    const m = manifest('m');
    await store.putManifest('r', m);
    const seq = await lastSeq(store);
    t.same(await store.deleteManifest('r', m.digest, v(100)), []);
    t.same(await eventsAfter(store, seq), [{ type: 'manifest.delete', repository: 'r', digest: m.digest, version: v(100) }]);
    await store.putManifest('r', m);
    t.same(await store.getManifest('r', m.digest), m, 'can be put again');
  });

  test('listReferrers returns the manifests in the repository whose subject is the digest', async (t, { store }) => {
    const subject = manifest('subject');
    const sig = manifest('sig', { artifactType: 'application/vnd.example.signature', subject: subject.digest });
    const sbom = manifest('sbom', { artifactType: 'application/vnd.example.sbom', subject: subject.digest });
    const elsewhere = manifest('elsewhere', { subject: subject.digest });
    const unrelated = manifest('unrelated', { subject: d('manifest x') });
    await store.putManifest('r', subject, { name: 'latest', version: v(1) });
    await store.putManifest('r', sig);
    await store.putManifest('r', sbom);
    await store.putManifest('r', unrelated);
    await store.putManifest('other', elsewhere);
    t.same((await store.listReferrers('r', subject.digest)).sort(byDigest), [sig, sbom].sort(byDigest));
    t.same(await store.listReferrers('other', subject.digest), [elsewhere]);
    t.same(await store.listReferrers('r', sig.digest), []);
    t.same(await store.listReferrers('none', subject.digest), []);
    await store.deleteManifest('r', sig.digest, v(2));
    t.same(await store.listReferrers('r', subject.digest), [sbom], 'a deleted referrer disappears');
  });

  // --- repositories ---

  test('a repository exists while it holds a manifest or a live tag', async (t, { store }) => {
    t.equal(await store.repositoryExists('r'), false);
    await store.linkBlob('r', d('blob'), 4);
    t.equal(await store.repositoryExists('r'), false, 'a blob link alone does not make a repository');
    t.same(await store.listRepositories(), []);
    const m = manifest('m');
    await store.putManifest('r', m, { name: 'latest', version: v(1) });
    t.equal(await store.repositoryExists('r'), true);
    t.same(await store.listRepositories(), ['r']);
    t.equal(await store.repositoryExists('r/sub'), false, 'no prefix matching');
    t.equal(await store.repositoryExists('R'), false, 'case-sensitive');
    await store.deleteManifest('r', m.digest, v(2));
    t.equal(await store.repositoryExists('r'), false, 'tombstones do not keep a repository');
    t.same(await store.listRepositories(), []);
  });

  test('listRepositories is sorted byte-wise and paginates with last (exclusive) and n', async (t, { store }) => {
    const names = ['b', 'a/x', 'a', 'B', 'a-b', 'a/b', 'a/b/c'];
    for (const [i, name] of names.entries()) await store.putManifest(name, manifest(String(i)));
    const sorted = ['B', 'a', 'a-b', 'a/b', 'a/b/c', 'a/x', 'b'];
    t.same(await store.listRepositories(), sorted);
    t.same(await store.listRepositories({}), sorted);
    t.same(await store.listRepositories({ n: 0 }), []);
    t.same(await store.listRepositories({ n: 2 }), ['B', 'a']);
    t.same(await store.listRepositories({ n: 100 }), sorted);
    t.same(await store.listRepositories({ last: 'a', n: 2 }), ['a-b', 'a/b'], 'last is exclusive');
    t.same(await store.listRepositories({ last: 'a/b', n: 2 }), ['a/b/c', 'a/x']);
    t.same(await store.listRepositories({ last: 'a.' }), ['a/b', 'a/b/c', 'a/x', 'b'], 'last between two names');
    t.same(await store.listRepositories({ last: 'b' }), [], 'last is the final name');
    t.same(await store.listRepositories({ last: 'zzz', n: 5 }), [], 'last beyond the end');
    t.same(await store.listRepositories({ last: 'B' }), ['a', 'a-b', 'a/b', 'a/b/c', 'a/x', 'b'], 'upper case sorts first');
    t.same(await store.listRepositories({ last: '', n: 1 }), ['B'], 'empty last is no bound');
  });

  test('listTags is sorted byte-wise, skips tombstones and paginates', async (t, { store }) => {
    const m = manifest('m');
    for (const tag of ['v1', 'Latest', '1.0', '_x', 'v1.1', 'dead', 'v10']) {
      await store.putManifest('r', m, { name: tag, version: v(1) });
    }
    await store.deleteTag('r', 'dead', v(2));
    const sorted = ['1.0', 'Latest', '_x', 'v1', 'v1.1', 'v10'];
    t.same(await store.listTags('r'), sorted);
    t.same(await store.listTags('r', { n: 0 }), []);
    t.same(await store.listTags('r', { n: 3 }), ['1.0', 'Latest', '_x']);
    t.same(await store.listTags('r', { last: '_x', n: 2 }), ['v1', 'v1.1']);
    t.same(await store.listTags('r', { last: 'v1.0' }), ['v1.1', 'v10'], 'last between two names');
    t.same(await store.listTags('r', { last: 'dead' }), ['v1', 'v1.1', 'v10'], 'last may be a tombstone');
    t.same(await store.listTags('r', { last: 'v10' }), []);
    t.same(await store.listTags('r', { last: 'w', n: 10 }), [], 'last beyond the end');
    t.same(await store.listTags('none'), []);
  });

  test('deleteRepository tombstones tags with events and removes manifests and blob links', async (t, { store }) => {
    const [m1, m2, m3] = [manifest('1'), manifest('2'), manifest('3')];
    await store.putManifest('r', m1, { name: 'latest', version: v(100) });
    await store.putManifest('r', m2, { name: 'v2', version: v(100) });
    await store.putManifest('r', m2, { name: 'old', version: v(100) });
    await store.deleteTag('r', 'old', v(110));
    await store.putManifest('r', m3);
    await store.linkBlob('r', d('layer'), 10);
    await store.putManifest('keep', m1, { name: 'latest', version: v(100) });
    await store.linkBlob('keep', d('layer'), 10);
    const seq = await lastSeq(store);

    await store.deleteRepository('r', v(200));
    t.equal(await store.repositoryExists('r'), false);
    t.same(await store.listRepositories(), ['keep']);
    t.same(await store.listTags('r'), []);
    t.same(await store.listManifests('r'), []);
    t.equal(await store.getManifest('r', m1.digest), undefined);
    t.same(await store.listBlobLinks('r'), []);
    t.equal(await store.getBlobLink('r', d('layer')), undefined);
    t.same(await store.blobRepositories(d('layer')), ['keep']);
    const records = (await store.listTagRecords('r')).sort((a, b) => (a.name < b.name ? -1 : 1));
    t.same(records.map((r) => [r.name, r.digest]), [['latest', null], ['old', null], ['v2', null]], 'every tag is a tombstone');
    t.same(records[0]!.version, v(200));
    t.same(records[2]!.version, v(200));
    const events = await eventsAfter(store, seq);
    const tagEvents = events.filter((e) => e.type === 'tag.delete').sort((a, b) => ((a.tag ?? '') < (b.tag ?? '') ? -1 : 1));
    t.same(tagEvents, [
      { type: 'tag.delete', repository: 'r', digest: m1.digest, tag: 'latest', version: v(200) },
      { type: 'tag.delete', repository: 'r', digest: m2.digest, tag: 'v2', version: v(200) },
    ]);
    t.same(
      events.filter((e) => e.type === 'manifest.delete').map((e) => e.digest).sort(),
      [m1.digest, m2.digest, m3.digest].sort(),
      'one manifest.delete per manifest',
    );
    t.equal(events.length, 5, 'nothing else');
    t.same(await store.getTag('keep', 'latest'), { repository: 'keep', name: 'latest', digest: m1.digest, version: v(100) });

    t.equal(await store.putManifest('r', m1, { name: 'latest', version: v(150), origin: from }), 'stale', 'the tombstones still order');
    t.equal(await store.putManifest('r', m1, { name: 'latest', version: v(300) }), 'applied', 'the repository can be reborn');
    t.equal(await store.repositoryExists('r'), true);
  });

  // --- blob links ---

  test('blob links are per repository and list the repositories holding a digest', async (t, { store }) => {
    const blob = d('layer');
    const before = Date.now();
    await store.linkBlob('r', blob, 123);
    const after = Date.now();
    const link = await store.getBlobLink('r', blob);
    t.equal(link?.size, 123);
    t.ok(link && link.linkedAt >= before - 1000 && link.linkedAt <= after + 1000, 'linkedAt is now (ms)');
    t.equal(await store.getBlobLink('other', blob), undefined);
    t.equal(await store.getBlobLink('r', d('unknown')), undefined);

    await store.linkBlob('r', blob, 123);
    t.equal((await store.listBlobLinks('r')).length, 1, 'linking twice keeps one link');
    await store.linkBlob('r', d('config'), 7);
    t.same(
      (await store.listBlobLinks('r')).map(({ digest, size }) => ({ digest, size })).sort(byDigest),
      [{ digest: blob, size: 123 }, { digest: d('config'), size: 7 }].sort(byDigest),
    );
    t.same(await store.listBlobLinks('none'), []);

    await store.linkBlob('c/x', blob, 123);
    await store.linkBlob('a', blob, 123);
    t.same(await store.blobRepositories(blob), ['a', 'c/x', 'r'], 'sorted');
    t.same(await store.blobRepositories(blob, 2), ['a', 'c/x'], 'limited');
    t.same(await store.blobRepositories(d('unknown')), []);

    t.equal(await store.unlinkBlob('r', blob), true);
    t.equal(await store.unlinkBlob('r', blob), false, 'already unlinked');
    t.equal(await store.getBlobLink('r', blob), undefined);
    t.same(await store.blobRepositories(blob), ['a', 'c/x']);
    t.same((await store.listBlobLinks('r')).map((l) => l.digest), [d('config')]);
  });

  // --- uploads ---

  test('upload sessions are created, read, listed and deleted', async (t, { store }) => {
    const s1 = { id: 'f2b0a7d4-0000-4000-8000-000000000001', repository: 'lib/app', startedAt: 1_700_000_000_000 };
    const s2 = { id: 'f2b0a7d4-0000-4000-8000-000000000002', repository: 'lib/other', startedAt: 1_700_000_001_000 };
    t.same(await store.listUploads(), []);
    await store.createUpload(s1);
    await store.createUpload(s2);
    t.same(await store.getUpload(s1.id), s1);
    t.equal(await store.getUpload('nope'), undefined);
    t.same((await store.listUploads()).sort((a, b) => a.startedAt - b.startedAt), [s1, s2]);
    await store.deleteUpload(s1.id);
    t.equal(await store.getUpload(s1.id), undefined);
    await store.deleteUpload(s1.id);
    await store.deleteUpload('never');
    t.same(await store.listUploads(), [s2]);
  });

  // --- outbox ---

  test('the outbox pages by afterSeq and limit with strictly increasing seq', async (t, { store }) => {
    const before = Date.now();
    for (let i = 0; i < 7; i++) await store.putManifest('r', manifest(String(i)), { name: `t${i}`, version: v(100 + i) });
    const all = await allEvents(store);
    t.equal(all.length, 14);
    for (let i = 1; i < all.length; i++) t.ok(all[i]!.seq > all[i - 1]!.seq, `seq ${i} increases`);
    t.ok(all.every((e) => e.at >= before - 1000 && e.at <= Date.now() + 1000), 'at is now (ms)');
    t.same(all.map((e) => e.type), Array.from({ length: 7 }, () => ['manifest.put', 'tag.put']).flat(), 'in write order');

    const paged: OutboxEvent[] = [];
    let after = 0;
    for (;;) {
      const page = await store.readOutbox(after, 3);
      t.ok(page.length <= 3);
      if (page.length === 0) break;
      paged.push(...page);
      after = page[page.length - 1]!.seq;
    }
    t.same(paged, all, 'pages concatenate to the whole');
    t.same(await store.readOutbox(all[4]!.seq, 2), all.slice(5, 7), 'afterSeq is exclusive');
    t.same(await store.readOutbox(all[13]!.seq, 10), []);
    t.same(await store.readOutbox(all[13]!.seq + 1000, 10), []);
    t.same(await store.readOutbox(0, 0), []);
    t.same(await store.readOutbox(-1, 1), [all[0]]);
  });

  // --- locks ---

  test('a lock is exclusive until released or expired', async (t, b) => {
    const { store } = b;
    const gc = await store.acquireLock('gc', 10_000);
    t.ok(gc, 'free lock is taken');
    t.equal(await store.acquireLock('gc', 10_000), undefined, 'second acquire fails');
    t.ok(await store.acquireLock('other', 10_000), 'other names are independent');

    const second = await b.reopen();
    t.equal(await second.acquireLock('gc', 10_000), undefined, 'held across instances');
    await gc!.release();
    const again = await second.acquireLock('gc', 10_000);
    t.ok(again, 'released lock is free, for another instance too');
    t.equal(await store.acquireLock('gc', 10_000), undefined);
    await again!.release();
    await again!.release();

    const { name, lock: short } = await shortLease(t, store, second, 100);
    await sleep(250);
    const taker = await second.acquireLock(name, 10_000);
    t.ok(taker, 'an expired lock is free');
    await short.release();
    t.equal(await store.acquireLock(name, 10_000), undefined, 'release by a former owner does nothing');
    await taker!.release();
    t.ok(await store.acquireLock(name, 10_000));
  });

  test('a held lock is extended by its holder only, and an extended lock outlives its first TTL', async (t, b) => {
    const { store } = b;
    const second = await b.reopen();
    const lock = await store.acquireLock('extend-me', 300);
    t.ok(lock, 'taken');
    t.equal(await lock!.extend(10_000), true, 'the holder extends it');
    await sleep(450);
    t.equal(await second.acquireLock('extend-me', 10_000), undefined, 'still held past the first TTL');
    await lock!.release();
    const taker = await second.acquireLock('extend-me', 200);
    t.ok(taker, 'free once released');
    t.equal(await lock!.extend(10_000), false, 'a former holder cannot extend it');
    await sleep(350);
    t.equal(await taker!.extend(10_000), false, 'nor can a holder whose lease lapsed');
  });

  // --- collections ---

  test('a collection inserts with increasing ids, gets and finds documents', async (t, { store }) => {
    const people = store.collection<Person>('people', { unique: ['name', 'email'] });
    const a = await people.insert({ name: 'ann', email: 'ann@x', age: 30, admin: true, team: 'red' });
    const b = await people.insert({ name: 'bob', email: 'bob@x', age: 40, admin: false, team: null });
    t.type(a.id, 'number');
    t.ok(b.id > a.id, 'ids increase');
    t.same(a, { id: a.id, name: 'ann', email: 'ann@x', age: 30, admin: true, team: 'red' });
    t.same(await people.get(b.id), b);
    t.equal(await people.get(b.id + 100), undefined);
    t.same(await people.findOne('name', 'ann'), a);
    t.same(await people.findOne('email', 'bob@x'), b);
    t.same(await people.findOne('age', 40), b, 'findOne works on non-unique fields too');
    t.equal(await people.findOne('name', 'Ann'), undefined, 'exact match');
    t.equal(await people.findOne('name', 'carl'), undefined);

    t.equal(await people.delete(b.id), true);
    t.equal(await people.delete(b.id), false);
    const c = await people.insert({ name: 'carl', email: 'carl@x', age: 50, admin: false, team: null });
    t.ok(c.id > b.id, 'ids are not reused after a delete');

    const other = store.collection<{ id: number; name: string }>('teams', { unique: ['name'] });
    const team = await other.insert({ name: 'ann' });
    t.same(await other.get(team.id), team, 'collections are separate namespaces');
    t.equal((await other.list()).total, 1);
  });

  test('a duplicate unique value is a ConflictError and inserts nothing', async (t, { store }) => {
    const people = store.collection<Person>('people', { unique: ['name', 'email'] });
    const a = await people.insert({ name: 'ann', email: 'ann@x', age: 30, admin: true, team: 'red' });
    await t.rejects(people.insert({ name: 'ann2', email: 'ann@x', age: 1, admin: false, team: null }), ConflictError);
    await t.rejects(people.insert({ name: 'ann', email: 'new@x', age: 1, admin: false, team: null }), { name: 'ConflictError', collection: 'people', field: 'name' });
    t.same(await people.list(), { items: [a], total: 1 });
    t.equal(await people.findOne('name', 'ann2'), undefined, 'no half-written document');
    t.equal(await people.findOne('email', 'new@x'), undefined, 'no unique key left behind');
    const b = await people.insert({ name: 'ann2', email: 'new@x', age: 2, admin: false, team: null });
    t.same(await people.get(b.id), b, 'the rejected values are still free');
    t.ok(b.id > a.id);

    // Unique values are distinct by type too: the number 1 and the string "1" do not collide.
    const codes = store.collection<{ id: number; code: string | number }>('codes', { unique: ['code'] });
    await codes.insert({ code: 1 });
    await codes.insert({ code: '1' });
    t.equal((await codes.list()).total, 2);
  });

  test('update replaces a document; NotFoundError and ConflictError change nothing', async (t, { store }) => {
    const people = store.collection<Person>('people', { unique: ['name', 'email'] });
    const a = await people.insert({ name: 'ann', email: 'ann@x', age: 30, admin: true, team: 'red' });
    const b = await people.insert({ name: 'bob', email: 'bob@x', age: 40, admin: false, team: null });

    const renamed = { ...a, name: 'anna', age: 31 };
    await people.update(renamed);
    t.same(await people.get(a.id), renamed);
    t.same(await people.findOne('name', 'anna'), renamed);
    t.equal(await people.findOne('name', 'ann'), undefined);
    await people.update({ ...renamed, email: 'anna@x' });
    await people.update({ ...renamed, email: 'anna@x' }); // unchanged unique values are not conflicts with itself
    t.equal((await people.get(a.id))?.email, 'anna@x');

    await t.rejects(people.update({ ...b, email: 'anna@x' }), { name: 'ConflictError', collection: 'people', field: 'email' });
    t.same(await people.get(b.id), b, 'the conflicting update left bob alone');
    t.same(await people.findOne('email', 'bob@x'), b);
    t.equal((await people.findOne('email', 'anna@x'))?.id, a.id);

    await t.rejects(people.update({ ...b, id: 999 }), NotFoundError);
    await t.rejects(people.update({ ...b, id: 999 }), { name: 'NotFoundError', collection: 'people', id: 999 });
    t.equal(await people.get(999), undefined, 'update does not create');

    const c = await people.insert({ name: 'ann', email: 'ann@x', age: 5, admin: false, team: null });
    t.same(await people.findOne('name', 'ann'), c, 'the old unique values were freed by the update');
    await people.delete(c.id);
    t.ok(await people.insert({ name: 'ann', email: 'ann@x', age: 6, admin: false, team: null }), 'and by delete');
  });

  test('list filters by equality, pages with offset/limit, orders by id and counts total', async (t, { store }) => {
    const people = store.collection<Person>('people', { unique: ['name'] });
    const all: Person[] = [];
    for (let i = 0; i < 10; i++) {
      all.push(await people.insert({ name: `p${i}`, email: `p${i}@x`, age: 20 + (i % 3), admin: i % 2 === 0, team: i < 4 ? 'red' : i < 7 ? null : 'blue' }));
    }
    t.same(await people.list(), { items: all, total: 10 }, 'ascending by id by default');
    t.same(await people.list({ order: 'desc' }), { items: [...all].reverse(), total: 10 });
    t.same(await people.list({ limit: 3 }), { items: all.slice(0, 3), total: 10 });
    t.same(await people.list({ offset: 8, limit: 5 }), { items: all.slice(8), total: 10 });
    t.same(await people.list({ offset: 20 }), { items: [], total: 10 });
    t.same(await people.list({ order: 'desc', offset: 2, limit: 2 }), { items: [all[7], all[6]], total: 10 });
    t.same(await people.list({ limit: 0 }), { items: [], total: 10 });

    const red = all.filter((p) => p.team === 'red');
    t.same(await people.list({ where: { team: 'red' } }), { items: red, total: red.length }, 'string');
    const age21 = all.filter((p) => p.age === 21);
    t.same(await people.list({ where: { age: 21 } }), { items: age21, total: age21.length }, 'number');
    const admins = all.filter((p) => p.admin);
    t.same(await people.list({ where: { admin: true } }), { items: admins, total: admins.length }, 'boolean true');
    const nonAdmins = all.filter((p) => !p.admin);
    t.same(await people.list({ where: { admin: false } }), { items: nonAdmins, total: nonAdmins.length }, 'boolean false');
    const noTeam = all.filter((p) => p.team === null);
    t.same(await people.list({ where: { team: null } }), { items: noTeam, total: noTeam.length }, 'null');
    const both = all.filter((p) => p.admin && p.age === 20);
    t.same(await people.list({ where: { admin: true, age: 20 } }), { items: both, total: both.length }, 'several fields');
    t.same(await people.list({ where: { age: '20' } as never }), { items: [], total: 0 }, 'the string "20" is not the number 20');
    t.same(await people.list({ where: { name: 'nobody' } }), { items: [], total: 0 });

    const page = await people.list({ where: { admin: true }, order: 'desc', offset: 1, limit: 2 });
    t.same(page, { items: [...admins].reverse().slice(1, 3), total: admins.length }, 'where + order + offset + limit');
  });

  // --- persistence, instances, health ---

  test('data survives a restart and new writes continue after it', async (t, b) => {
    const { store } = b;
    const m = manifest('m');
    await store.putManifest('r', m, { name: 'latest', version: v(100) });
    await store.putManifest('r', m, { name: 'gone', version: v(100) });
    await store.deleteTag('r', 'gone', v(200));
    await store.linkBlob('r', d('layer'), 9);
    const session = { id: 'u1', repository: 'r', startedAt: 1 };
    await store.createUpload(session);
    const people = store.collection<Person>('people', { unique: ['name'] });
    const ann = await people.insert({ name: 'ann', email: 'a', age: 1, admin: true, team: null });
    const events = await allEvents(store);
    await store.close();

    const s2 = await b.reopen();
    t.same(await s2.getManifest('r', m.digest), m);
    t.same(await s2.getTag('r', 'latest'), { repository: 'r', name: 'latest', digest: m.digest, version: v(100) });
    t.same((await s2.listTagRecords('r')).find((r) => r.name === 'gone'), { repository: 'r', name: 'gone', digest: null, version: v(200) });
    t.equal((await s2.getBlobLink('r', d('layer')))?.size, 9);
    t.same(await s2.getUpload('u1'), session);
    t.same(await allEvents(s2), events);
    t.same(await s2.listRepositories(), ['r']);
    const people2 = s2.collection<Person>('people', { unique: ['name'] });
    t.same(await people2.get(ann.id), ann);
    await t.rejects(people2.insert({ name: 'ann', email: 'b', age: 2, admin: false, team: null }), ConflictError);
    const bob = await people2.insert({ name: 'bob', email: 'b', age: 2, admin: false, team: null });
    t.ok(bob.id > ann.id, 'ids continue');
    t.equal(await s2.putManifest('r', m, { name: 'gone', version: v(150), origin: from }), 'stale', 'tombstones survive');
    await s2.putManifest('r', manifest('n'), { name: 'next', version: v(300) });
    const after = await s2.readOutbox(events[events.length - 1]!.seq, 10);
    t.equal(after.length, 2, 'new events follow the old ones');
  });

  test('a second instance sees the first one\'s writes at once', async (t, b) => {
    const { store } = b;
    const other = await b.reopen();
    const m1 = manifest('1');
    const m2 = manifest('2');
    await store.putManifest('r', m1, { name: 'latest', version: v(100) });
    t.same((await other.getTag('r', 'latest'))?.digest, m1.digest);
    t.equal(await other.putManifest('r', m2, { name: 'latest', version: v(90), origin: from }), 'stale', 'LWW sees the other instance');
    t.equal(await other.putManifest('r', m2, { name: 'latest', version: v(110) }), 'applied');
    t.same((await store.getTag('r', 'latest'))?.digest, m2.digest);
    const seqs = (await allEvents(store)).map((e) => e.seq);
    t.equal(new Set(seqs).size, seqs.length, 'seq stays unique across instances');
    t.same(await other.readOutbox(0, 100), await store.readOutbox(0, 100));
    const c1 = store.collection<{ id: number; k: string }>('things', { unique: ['k'] });
    const c2 = other.collection<{ id: number; k: string }>('things', { unique: ['k'] });
    const x = await c1.insert({ k: 'x' });
    await t.rejects(c2.insert({ k: 'x' }), ConflictError, 'unique across instances');
    const y = await c2.insert({ k: 'y' });
    t.ok(y.id > x.id);
    t.same(await c1.get(y.id), y);
  });

  test('concurrent writes from two instances all land', async (t, b) => {
    const { store } = b;
    const other = await b.reopen();
    const c1 = store.collection<{ id: number; k: string }>('things', { unique: ['k'] });
    const c2 = other.collection<{ id: number; k: string }>('things', { unique: ['k'] });
    const inserted = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? c1 : c2).insert({ k: `k${i}` })),
    );
    t.equal(new Set(inserted.map((x) => x.id)).size, 20, 'every id distinct');
    const m = manifest('m');
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).putManifest('r', m, { name: `t${i}`, version: v(100) })));
    t.equal((await store.listTags('r')).length, 10);
    t.equal((await allEvents(store)).filter((e) => e.type === 'manifest.put').length, 1, 'manifest.put once');
  });

  test('ping answers while open and fails with StorageUnavailableError once closed', async (t, b) => {
    await b.store.ping();
    const other = await b.reopen();
    await other.ping();
    await other.close();
    await t.rejects(other.ping(), StorageUnavailableError);
    await b.store.ping();
  });

  // --- online GC: sweeps decided atomically against the writes that make content reachable ---

  const gcVersion = v(1_800_000_000_000, 0, 'gc');

  test('sweepManifest keeps a manifest tagged, a child, a referrer of a present subject, or touched since the cutoff', async (t, { store }) => {
    const tagged = manifest('tagged');
    const child = manifest('child');
    const parent = manifest('parent', { children: [child.digest] });
    const subject = manifest('subject');
    const referrer = manifest('referrer', { subject: subject.digest });
    const loose = manifest('loose');
    for (const m of [child, parent, subject, referrer, loose]) await store.putManifest('r', m);
    await store.putManifest('r', tagged, { name: 'v1', version: v(1) });
    const cutoff = Date.now() + 60_000; // everything above was written "before" it
    t.notOk(await store.sweepManifest('r', tagged.digest, cutoff, gcVersion), 'tagged');
    t.notOk(await store.sweepManifest('r', child.digest, cutoff, gcVersion), 'a child of a manifest here');
    t.notOk(await store.sweepManifest('r', referrer.digest, cutoff, gcVersion), 'its subject is here');
    t.ok(await store.sweepManifest('r', loose.digest, cutoff, gcVersion), 'unreferenced goes');
    t.equal(await store.getManifest('r', loose.digest), undefined);
    t.notOk(await store.sweepManifest('r', loose.digest, cutoff, gcVersion), 'already gone');
    t.ok(await store.sweepManifest('r', parent.digest, cutoff, gcVersion));
    t.ok(await store.sweepManifest('r', child.digest, cutoff, gcVersion), 'the child goes once its parent went');
    t.ok(await store.sweepManifest('r', subject.digest, cutoff, gcVersion));
    t.ok(await store.sweepManifest('r', referrer.digest, cutoff, gcVersion), 'the referrer goes once its subject went');
    const old = manifest('old', { createdAt: 1000 });
    await store.putManifest('r', old);
    t.notOk(await store.sweepManifest('r', old.digest, 1000, gcVersion), 'created at the cutoff is kept');
    const before = Date.now();
    await store.putManifest('r', old); // pushed again
    t.notOk(await store.sweepManifest('r', old.digest, before, gcVersion), 'a re-push after the cutoff keeps it');
    await sleep(5);
    t.ok(await store.touchManifest('r', old.digest));
    t.notOk(await store.sweepManifest('r', old.digest, before + 2, gcVersion), 'a touch after the cutoff keeps it');
    t.notOk(await store.touchManifest('r', d('absent')), 'touching an absent manifest says so');
    t.ok(await store.sweepManifest('r', old.digest, Date.now() + 1000, gcVersion));
  });

  test('a re-tag between the mark and the sweep keeps the manifest', async (t, { store }) => {
    const m = manifest('m', { createdAt: 1000 });
    await store.putManifest('r', m);
    const cutoff = Date.now() + 60_000; // the mark saw it untagged and old
    await store.putManifest('r', m, { name: 'again', version: v(5) });
    t.notOk(await store.sweepManifest('r', m.digest, cutoff, gcVersion));
    t.equal((await store.getTag('r', 'again'))?.digest, m.digest, 'the tag survives');
  });

  test('sweepBlobLink keeps a link a manifest references or that was touched since the cutoff', async (t, { store }) => {
    const m = manifest('m');
    await store.linkBlob('r', m.blobs[0]!, 1);
    await store.linkBlob('r', m.blobs[1]!, 1);
    await store.linkBlob('r', d('loose'), 1);
    await store.putManifest('r', m);
    const cutoff = Date.now() + 60_000;
    t.notOk(await store.sweepBlobLink('r', m.blobs[0]!, cutoff), 'referenced');
    t.ok(await store.sweepBlobLink('r', d('loose'), cutoff), 'unreferenced goes');
    t.equal(await store.getBlobLink('r', d('loose')), undefined);
    t.same(await store.blobRepositories(d('loose')), []);
    await store.linkBlob('r', d('touched'), 1);
    const before = Date.now();
    await sleep(5);
    t.ok(await store.touchBlobLink('r', d('touched')));
    t.notOk(await store.sweepBlobLink('r', d('touched'), before + 2), 'touched after the cutoff');
    t.notOk(await store.touchBlobLink('r', d('absent')), 'touching an absent link says so');
    t.notOk(await store.sweepBlobLink('r', d('touched'), before), 'linked at or after the cutoff');
  });

  test('putManifest with requireReferences checks links and children in the same step', async (t, { store }) => {
    const child = manifest('child');
    const index = manifest('index', { blobs: [], children: [child.digest] });
    const image = manifest('image');
    await t.rejects(store.putManifest('r', image, { name: 't', version: v(1) }, { requireReferences: true }), MissingReferencesError);
    t.equal(await store.getManifest('r', image.digest), undefined, 'nothing written');
    t.equal(await store.getTag('r', 't'), undefined);
    await store.linkBlob('r', image.blobs[0]!, 1);
    const err = await store.putManifest('r', image, undefined, { requireReferences: true }).catch((e: unknown) => e);
    t.ok(err instanceof MissingReferencesError);
    t.same((err as MissingReferencesError).digests, [image.blobs[1]]);
    await store.linkBlob('r', image.blobs[1]!, 1);
    t.equal(await store.putManifest('r', image, { name: 't', version: v(1) }, { requireReferences: true }), 'applied');
    await t.rejects(store.putManifest('r', index, undefined, { requireReferences: true }), MissingReferencesError, 'child missing');
    await store.putManifest('r', child);
    await store.putManifest('r', index, undefined, { requireReferences: true });
    t.ok(await store.getManifest('r', index.digest));
  });

  test('pins and fences on a digest exclude each other, and a fence needs nothing to link or index it', async (t, b) => {
    const { store } = b;
    const other = await b.reopen();
    const blob = d('blob');
    const pin = await store.pinBlob(blob, 60_000);
    t.equal(await other.fenceBlob(blob, 60_000), undefined, 'pinned: no fence');
    await pin.release();
    await store.linkBlob('r', blob, 1);
    t.equal(await other.fenceBlob(blob, 60_000), undefined, 'linked: no fence');
    await store.unlinkBlob('r', blob);
    const m = manifest('m');
    await store.putManifest('r', m);
    t.equal(await other.fenceBlob(m.digest, 60_000), undefined, 'a manifest has that digest: no fence');
    const fence = await other.fenceBlob(blob, 60_000);
    t.ok(fence, 'nothing holds it: fenced');
    t.equal(await store.fenceBlob(blob, 60_000), undefined, 'one fence at a time');
    await t.rejects(store.pinBlob(blob, 60_000), BlobFencedError, 'no pin while fenced');
    await t.rejects(store.linkBlob('r', blob, 1), BlobFencedError, 'no link while fenced');
    t.equal(await store.getBlobLink('r', blob), undefined);
    await fence!.release();
    const again = await store.pinBlob(blob, 60_000);
    await store.linkBlob('r', blob, 1);
    await again.release();
    t.ok(await store.getBlobLink('r', blob), 'linked once the fence went');
    const lapsed = await store.fenceBlob(d('other'), 20);
    t.ok(lapsed);
    await sleep(40);
    const p2 = await other.pinBlob(d('other'), 60_000);
    t.pass('an expired fence does not hold writers off');
    await p2.release();
  });

  // --- usage ledgers ---

  test('chargeUsage counts each item once and refuses a charge past the limit, changing nothing', async (t, { store }) => {
    t.same(await store.chargeUsage('project:p', 'a', 60, 100), { outcome: 'charged', total: 60 });
    t.same(await store.chargeUsage('project:p', 'a', 60, 100), { outcome: 'present', total: 60 }, 'the same item again is free');
    t.same(await store.chargeUsage('project:p', 'b', 41, 100), { outcome: 'refused', total: 60 });
    t.same(await store.chargeUsage('project:p', 'b', 40, 100), { outcome: 'charged', total: 100 }, 'up to the limit exactly');
    t.same(await store.chargeUsage('project:q', 'b', 40, -1), { outcome: 'charged', total: 40 }, 'scopes are separate; -1 is no limit');
    t.equal(await store.usageOf('project:p'), 100);
    t.equal(await store.usageOf('project:none'), 0);
    t.same((await store.usageItems('project:p')).map((i) => [i.item, i.size]), [['a', 60], ['b', 40]]);
  });

  test('concurrent charges from two connections never pass the limit together', async (t, b) => {
    const other = await b.reopen();
    const stores = [b.store, other];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 2]!.chargeUsage('project:edge', `item-${i}`, 10, 155)));
    t.equal(results.filter((r) => r.outcome === 'charged').length, 15, 'exactly as many as fit');
    t.equal(await b.store.usageOf('project:edge'), 150);
    t.ok(results.every((r) => r.total <= 155));
  });

  test('releaseUsage removes an item only when no repository under the prefix holds it', async (t, { store }) => {
    const blob = d('held blob');
    const m = manifest('held');
    await store.linkBlob('p/a', blob, 7);
    await store.linkBlob('p/a', m.blobs[0]!, 1);
    await store.linkBlob('p/a', m.blobs[1]!, 1);
    await store.putManifest('p/a', m);
    await store.chargeUsage('project:p', blob, 7, -1);
    await store.chargeUsage('project:p', m.digest, m.size, -1);
    await store.linkBlob('px/other', d('px only'), 3);
    await store.chargeUsage('project:p', d('px only'), 3, -1);
    t.equal(await store.releaseUsage('project:p', blob, 'p/'), false, 'linked: kept');
    t.equal(await store.releaseUsage('project:p', m.digest, 'p/'), false, 'a manifest: kept');
    t.equal(await store.releaseUsage('project:p', d('px only'), 'p/'), true, 'held only by another project: released');
    await store.unlinkBlob('p/a', blob);
    t.equal(await store.releaseUsage('project:p', blob, 'p/', 0), false, 'charged after chargedBefore: kept');
    t.equal(await store.releaseUsage('project:p', blob, 'p/'), true, 'unlinked: released');
    t.equal(await store.releaseUsage('project:p', blob, 'p/'), false, 'twice: nothing');
    t.equal(await store.usageOf('project:p'), m.size);
  });
}
