import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { digestOf, type Digest } from '../../core/digest.js';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';
import { metaStoreContract, type MetaBackend } from '../contract/meta-store.js';
import { repoRoot } from '../helpers/berth-process.js';

/** A fresh file database in its own temp dir; every instance opened on it is closed by cleanup. */
async function fileBackend(): Promise<MetaBackend & { path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-meta-'));
  const path = join(dir, 'nested', 'meta.db');
  const opened: MetaStore[] = [];
  const open = async () => {
    const s = await SqliteMetaStore.open({ path });
    opened.push(s);
    return s;
  };
  return {
    path,
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const s of opened) await s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

t.test('contract on a file database', async (t) => {
  metaStoreContract(t, fileBackend);
});

const m = (name: string) => ({
  digest: digestOf(`manifest ${name}`),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 10,
  blobs: [digestOf(`layer ${name}`)],
  children: [] as Digest[],
  createdAt: 1,
});
const v = (wall: number) => ({ wall, logical: 0, idc: 'a' });

t.test('the database is WAL with foreign keys, at the current schema version', async (t) => {
  const b = await fileBackend();
  t.teardown(b.cleanup);
  const db = new Database(b.path, { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('user_version', { simple: true }), SqliteMetaStore.schemaVersion);
  t.ok(SqliteMetaStore.schemaVersion >= 1);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
  for (const table of ['manifests', 'manifest_refs', 'tags', 'blob_links', 'uploads', 'outbox', 'locks', 'records', 'record_keys']) {
    t.ok(tables.includes(table), table);
  }
  // Reopening runs no migration twice and keeps the version.
  await (await b.reopen()).close();
  t.equal(db.pragma('user_version', { simple: true }), SqliteMetaStore.schemaVersion);
});

t.test('a database from a newer Berth is refused', async (t) => {
  const b = await fileBackend();
  t.teardown(b.cleanup);
  await b.store.close();
  const db = new Database(b.path);
  db.pragma(`user_version = ${SqliteMetaStore.schemaVersion + 1}`);
  db.close();
  await t.rejects(SqliteMetaStore.open({ path: b.path }), /newer than this Berth/);
});

t.test('manifest references are indexed for GC and go with the manifest', async (t) => {
  const b = await fileBackend();
  t.teardown(b.cleanup);
  const index = { ...m('index'), mediaType: 'application/vnd.oci.image.index.v1+json', blobs: [], children: [m('a').digest, m('a').digest] };
  await b.store.putManifest('r', m('a'));
  await b.store.putManifest('r', index);
  const db = new Database(b.path, { readonly: true });
  t.teardown(() => db.close());
  const refs = () => db.prepare('SELECT digest, ref, kind FROM manifest_refs ORDER BY kind, ref').all();
  t.same(refs(), [
    { digest: m('a').digest, ref: digestOf('layer a'), kind: 'blob' },
    { digest: index.digest, ref: m('a').digest, kind: 'child' },
  ]);
  await b.store.deleteManifest('r', index.digest, v(1));
  t.same(refs(), [{ digest: m('a').digest, ref: digestOf('layer a'), kind: 'blob' }]);
  await b.store.deleteRepository('r', v(2));
  t.same(refs(), []);
});

t.test('two instances on one file see each other\'s writes', async (t) => {
  const b = await fileBackend();
  t.teardown(b.cleanup);
  const one = b.store;
  const two = await b.reopen();
  await one.putManifest('lib/app', m('1'), { name: 'latest', version: v(100) });
  t.same((await two.getTag('lib/app', 'latest'))?.digest, m('1').digest);
  t.equal(await two.putManifest('lib/app', m('2'), { name: 'latest', version: v(200) }), 'applied');
  t.same((await one.getTag('lib/app', 'latest'))?.digest, m('2').digest);
  t.same(await one.listRepositories(), ['lib/app']);
  await two.linkBlob('lib/app', digestOf('x'), 1);
  t.same(await one.blobRepositories(digestOf('x')), ['lib/app']);
  const events = await one.readOutbox(0, 100);
  t.same(events.map((e) => e.type), ['manifest.put', 'tag.put', 'manifest.put', 'tag.put'], 'one outbox');
  t.same(await two.readOutbox(0, 100), events);
});

t.test('a lock is exclusive across processes on the same file', async (t) => {
  // berth gc beside berth serve: another Node process, with its own SqliteMetaStore, must see the lease.
  const b = await fileBackend();
  t.teardown(b.cleanup);
  const script = join(dirname(b.path), 'take-lock.mts');
  await writeFile(script, `
    import { SqliteMetaStore } from ${JSON.stringify(join(repoRoot, 'storage-adapters/meta/sqlite.js'))};
    const store = await SqliteMetaStore.open({ path: ${JSON.stringify(b.path)} });
    const lock = await store.acquireLock('gc', 60_000);
    process.stdout.write(lock ? 'taken' : 'busy');
    await store.close();
  `);
  // The parent's execArgv carries tap's TypeScript loader, so the child can import the .ts sources.
  const tryLock = () => execFileSync(process.execPath, [...process.execArgv, script], { encoding: 'utf8' }).trim();
  const lock = await b.store.acquireLock('gc', 60_000);
  t.ok(lock);
  t.equal(tryLock(), 'busy', 'held against the other process');
  await lock!.release();
  t.equal(tryLock(), 'taken', 'free once released');
  t.equal(await b.store.acquireLock('gc', 60_000), undefined, 'and now the other process holds it');
});

t.test('a write interrupted by an exception leaves nothing behind', async (t) => {
  const b = await fileBackend();
  t.teardown(b.cleanup);
  const store = b.store;
  await store.putManifest('r', m('old'), { name: 'latest', version: v(100) });
  const before = await store.readOutbox(0, 100);

  // A trigger refuses the tag write, which comes after the manifest row, its references and the manifest.put
  // event were written inside the same transaction: none of them may survive.
  const db = new Database(b.path);
  t.teardown(() => db.close());
  db.exec(`CREATE TRIGGER refuse_tag BEFORE UPDATE ON tags BEGIN SELECT RAISE(ABORT, 'refused'); END`);
  await t.rejects(store.putManifest('r', m('new'), { name: 'latest', version: v(200) }), /refused/);
  t.equal(await store.getManifest('r', m('new').digest), undefined, 'no manifest');
  t.same(db.prepare('SELECT count(*) AS n FROM manifest_refs').get(), { n: 1 }, 'no references but the old one');
  t.same((await store.getTag('r', 'latest'))?.digest, m('old').digest, 'tag unmoved');
  t.same(await store.readOutbox(0, 100), before, 'no event');
  db.exec('DROP TRIGGER refuse_tag');

  // Same for a failure in the middle of deleteManifest's tag tombstoning (simulated with a trigger that
  // aborts the manifest row delete, which runs after the tags were tombstoned and their events appended).
  db.exec(`CREATE TRIGGER refuse BEFORE DELETE ON manifests BEGIN SELECT RAISE(ABORT, 'refused'); END`);
  await t.rejects(store.deleteManifest('r', m('old').digest, v(300)), /refused/);
  t.same((await store.getTag('r', 'latest'))?.digest, m('old').digest, 'tag still live');
  t.same(await store.readOutbox(0, 100), before, 'no tag.delete event');
  db.exec('DROP TRIGGER refuse');
  t.same(await store.deleteManifest('r', m('old').digest, v(300)), ['latest'], 'works once the cause is gone');

  // A collection insert whose second unique field conflicts must not keep the first one's key.
  const users = store.collection<{ id: number; name: string; email: string }>('users', { unique: ['name', 'email'] });
  await users.insert({ name: 'ann', email: 'a@x' });
  await t.rejects(users.insert({ name: 'bob', email: 'a@x' }), { name: 'ConflictError', field: 'email' });
  t.same(db.prepare("SELECT value FROM record_keys WHERE collection = 'users' ORDER BY value").all(), [
    { value: '"a@x"' },
    { value: '"ann"' },
  ]);
});

t.test(':memory: works and closed stores answer StorageUnavailableError', async (t) => {
  const s = await SqliteMetaStore.open({ path: ':memory:' });
  await s.putManifest('r', m('1'), { name: 'latest', version: v(1) });
  t.same(await s.listTags('r'), ['latest']);
  await s.close();
  await s.close();
  await t.rejects(s.getTag('r', 'latest'), { name: 'StorageUnavailableError' });
  await t.rejects(s.ping(), { name: 'StorageUnavailableError' });
});
