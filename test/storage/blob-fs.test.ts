import t from 'tap';
import { mkdtemp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { digestHex, digestOf } from '../../core/digest.js';
import { FsBlobStore } from '../../storage-adapters/blob/fs.js';
import { StorageUnavailableError, UploadNotFoundError, type BlobInfo, type UploadInfo } from '../../storage-adapters/blob/blob-store.js';
import { blobStoreContract } from '../contract/blob-store.js';

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'berth-blob-fs-'));
}

const id = '6f1c2a4e-0b7d-4c1e-9a3f-2d5e8b7c9a10';
const bytesOf = (s: string) => Readable.from([Buffer.from(s)], { objectMode: false });

async function collect<T extends BlobInfo | UploadInfo>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

t.test('contract', (t) =>
  blobStoreContract(t, async () => {
    const root = await tempRoot();
    return {
      store: new FsBlobStore({ root }),
      reopen: async () => new FsBlobStore({ root }),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  }),
);

t.test('contract with fsync', (t) =>
  blobStoreContract(t, async () => {
    const root = await tempRoot();
    return {
      store: new FsBlobStore({ root, fsync: true }),
      reopen: async () => new FsBlobStore({ root, fsync: true }),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  }),
);

t.test('contract with sha256 on a hash worker', (t) =>
  blobStoreContract(t, async () => {
    const root = await tempRoot();
    return {
      store: new FsBlobStore({ root, hashWorker: true }),
      reopen: async () => new FsBlobStore({ root, hashWorker: true }),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  }),
);

t.test('no file exists at the final path before commit, and staging stays inside root', async (t) => {
  const root = await tempRoot();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const store = new FsBlobStore({ root });
  const d = digestOf('staged content');
  const final = join(root, 'blobs', 'sha256', digestHex(d).slice(0, 2), digestHex(d));

  await store.createUpload(id);
  await store.appendUpload(id, 0, bytesOf('staged content'));
  t.notOk(existsSync(final), 'nothing at the final path while staged');
  const staged = await filesUnder(root);
  t.ok(staged.length > 0);
  for (const f of staged) t.match(relative(root, f), /^uploads\/[A-Za-z0-9-]+\//, `${relative(root, f)} is under uploads/`);

  await store.commitUpload(id, d);
  t.ok(existsSync(final), 'the blob sits at blobs/<alg>/<2 hex>/<hex> after commit');
  t.same(await readdir(join(root, 'uploads')), [], 'the staging directory is removed');
});

t.test('an upload id that could name a path outside root is refused', async (t) => {
  const parent = await tempRoot();
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  const root = join(parent, 'root');
  const store = new FsBlobStore({ root });
  await store.ping();
  for (const bad of ['../escape', '../../etc', 'a/b', '..', '', 'x'.repeat(65), 'id\0']) {
    await t.rejects(store.createUpload(bad), `createUpload(${JSON.stringify(bad)})`);
    await t.rejects(store.uploadInfo(bad), UploadNotFoundError);
    await t.rejects(store.appendUpload(bad, 0, bytesOf('x')), UploadNotFoundError);
    await t.rejects(store.commitUpload(bad, digestOf('x')), UploadNotFoundError);
    await t.resolves(store.abortUpload(bad));
  }
  t.same((await readdir(parent)).sort(), ['root'], 'nothing was created beside root');
  t.same(await filesUnder(root), [], 'nothing was created inside root either');
});

t.test('a crash-like leftover temp file is never listed as a blob, and is reported for GC', async (t) => {
  const root = await tempRoot();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const store = new FsBlobStore({ root });
  const real = Buffer.from('a real blob');
  await store.put(digestOf(real), real);

  // a put() interrupted mid-write: its staging directory holds a partial file and no `started`
  const half = 'put-0b1f6c1e-3a5d-4e2b-8c7a-9f0e1d2c3b4a';
  await mkdir(join(root, 'uploads', half), { recursive: true });
  await writeFile(join(root, 'uploads', half, 'data'), 'partial by');
  // and stray non-blob names inside the blob tree
  const d = digestOf('partial bytes');
  const shard = join(root, 'blobs', 'sha256', digestHex(d).slice(0, 2));
  await mkdir(shard, { recursive: true });
  await writeFile(join(shard, `${digestHex(d)}.tmp`), 'partial by');
  await writeFile(join(shard, 'ab'), 'x');

  const reopened = new FsBlobStore({ root });
  t.same((await collect(reopened.list())).map((b) => b.digest), [digestOf(real)], 'only the real blob is listed');
  t.equal(await reopened.stat(d), undefined);
  const uploads = await collect(reopened.listUploads());
  t.same(uploads.map((u) => ({ id: u.id, size: u.size })), [{ id: half, size: 10 }], 'the leftover is an upload GC can see');
  t.ok(uploads[0]!.startedAt > 0);
  await reopened.abortUpload(half);
  t.same(await readdir(join(root, 'uploads')), [], 'GC can purge it');
});

t.test('createdAt counts from the commit, not from the upload\'s last write', async (t) => {
  const root = await tempRoot();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const store = new FsBlobStore({ root });
  await store.createUpload(id);
  await store.appendUpload(id, 0, bytesOf('old bytes'));
  await new Promise((r) => setTimeout(r, 120));
  const before = Date.now();
  const info = await store.commitUpload(id, digestOf('old bytes'));
  // mtimes come from the kernel's coarse clock, which may trail Date.now() by a tick
  t.ok(info.createdAt >= before - 20, `createdAt ${info.createdAt} >= commit start ${before}`);
});

t.test('ping throws StorageUnavailableError when the root is not usable', async (t) => {
  const parent = await tempRoot();
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  const file = join(parent, 'a-file');
  await writeFile(file, 'not a directory');
  await t.rejects(new FsBlobStore({ root: file }).ping(), StorageUnavailableError);
  await t.resolves(new FsBlobStore({ root: join(parent, 'fresh') }).ping(), 'a fresh root is laid out');
  t.ok((await stat(join(parent, 'fresh', 'blobs'))).isDirectory());
});

t.test('an upload survives a restart mid-way and commits on the new instance', async (t) => {
  const root = await tempRoot();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const first = new FsBlobStore({ root });
  await first.createUpload(id);
  await first.appendUpload(id, 0, bytesOf('before restart, '));
  const second = new FsBlobStore({ root });
  const size = (await second.uploadInfo(id)).size;
  await second.appendUpload(id, size, bytesOf('after restart'));
  // a later append on the first instance must not reuse its stale hash state
  const now = (await first.uploadInfo(id)).size;
  await first.appendUpload(id, now, bytesOf('!'));
  const info = await first.commitUpload(id, digestOf('before restart, after restart!'));
  t.equal(info.size, 30);
});

t.test('commit uses the digest computed while the bytes streamed in; a restarted instance re-reads the file', async (t) => {
  const root = await tempRoot();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const store = new FsBlobStore({ root });
  const sent = 'bytes as they were streamed';
  await store.createUpload(id);
  await store.appendUpload(id, 0, bytesOf(sent.slice(0, 10)));
  await store.appendUpload(id, 10, bytesOf(sent.slice(10)));
  // Tamper with the staged file behind the store's back (same size): only a second read could notice.
  const tampered = sent.toUpperCase();
  await writeFile(join(root, 'uploads', id, 'data'), tampered);

  const restarted = new FsBlobStore({ root });
  await t.rejects(restarted.commitUpload(id, digestOf(sent)), { name: 'DigestMismatchError' }, 'a fresh instance hashes the file itself');
  t.ok(await store.commitUpload(id, digestOf(sent)), 'the streaming instance commits without reading the file again');
});

t.test('a range reaching past the blob is refused with RangeNotSatisfiableError (416 over HTTP) rather than read short', async (t) => {
  const root = await tempRoot();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const store = new FsBlobStore({ root });
  const d = digestOf('0123456789');
  await store.put(d, Buffer.from('0123456789'));
  await t.rejects(store.read(d, { start: 5, end: 10 }), { name: 'RangeNotSatisfiableError', size: 10 });
  await t.rejects(store.read(d, { start: 10, end: 10 }), { name: 'RangeNotSatisfiableError' });
  await t.rejects(store.read(d, { start: 6, end: 5 }), { name: 'RangeNotSatisfiableError' });
});
