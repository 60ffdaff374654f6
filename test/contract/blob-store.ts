// The BlobStore contract suite (storage-adapters/blob/blob-store.ts). Every adapter's test file calls
// blobStoreContract() with a factory of fresh, empty backends; a behaviour pinned here holds for fs and s3 alike.
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { digestOf, type Digest } from '../../core/digest.js';
import {
  BlobNotFoundError,
  DigestMismatchError,
  InvalidOffsetError,
  SizeMismatchError,
  UploadNotFoundError,
  type BlobInfo,
  type BlobStore,
  type UploadInfo,
} from '../../storage-adapters/blob/blob-store.js';

export interface BlobBackend {
  /** A store over a fresh, empty backend (list() and listUploads() yield nothing yet). */
  store: BlobStore;
  /** A NEW store instance over the same backing data: a restart, or another instance sharing the backend. */
  reopen(): Promise<BlobStore>;
  /** Removes the backing data. The suite closes every store it was given before calling it. */
  cleanup(): Promise<void>;
}

type Opened = { backend: BlobBackend; store: BlobStore; reopen(): Promise<BlobStore> };

/** Registers the contract's subtests on `t`; resolves when they have all run. */
export function blobStoreContract(t: Test, makeBackend: () => Promise<BlobBackend>): Promise<void> {
  // Each subtest gets its own backend so list()/listUploads() can be asserted exactly.
  const open = async (t: Test): Promise<Opened> => {
    const backend = await makeBackend();
    const stores: BlobStore[] = [backend.store];
    t.teardown(async () => {
      for (const s of stores) await s.close();
      await backend.cleanup();
    });
    return {
      backend,
      store: backend.store,
      reopen: async () => {
        const s = await backend.reopen();
        stores.push(s);
        return s;
      },
    };
  };

  const tests: Promise<unknown>[] = [];
  const test = (name: string, fn: (t: Test, b: Opened) => Promise<void>): void => {
    tests.push(t.test(name, async (t) => fn(t, await open(t))));
  };

  test('ping resolves on a reachable backend', async (t, { store }) => {
    await t.resolves(store.ping());
  });

  test('createUpload opens an empty upload that uploadInfo reports', async (t, { store }) => {
    const before = Date.now();
    await store.createUpload(uploadId(1));
    const info = await store.uploadInfo(uploadId(1));
    t.equal(info.id, uploadId(1));
    t.equal(info.size, 0);
    t.ok(info.startedAt >= before - 2000 && info.startedAt <= Date.now() + 2000, 'startedAt is about now');
  });

  test('an unknown upload throws UploadNotFoundError on uploadInfo, append and commit', async (t, { store }) => {
    const id = uploadId(404);
    await t.rejects(store.uploadInfo(id), UploadNotFoundError);
    await t.rejects(store.appendUpload(id, 0, chunks([Buffer.from('x')])), UploadNotFoundError);
    await t.rejects(store.commitUpload(id, digestOf('x')), UploadNotFoundError);
  });

  test('a blob is visible only after its upload is committed', async (t, { store }) => {
    const bytes = Buffer.from('layer bytes, not yet committed');
    const d = digestOf(bytes);
    await store.createUpload(uploadId(1));
    t.equal(await store.appendUpload(uploadId(1), 0, chunks([bytes])), bytes.length, 'append resolves with the new size');

    t.equal(await store.stat(d), undefined, 'no stat before commit');
    await t.rejects(store.read(d), BlobNotFoundError, 'no read before commit');
    t.same(await collect(store.list()), [], 'not listed before commit');

    const before = Date.now();
    const info = await store.commitUpload(uploadId(1), d, bytes.length);
    t.equal(info.digest, d);
    t.equal(info.size, bytes.length);
    t.ok(info.createdAt >= before - 2000 && info.createdAt <= Date.now() + 2000, 'createdAt is about the commit time');

    t.same(await store.stat(d), info, 'stat reports what commit returned');
    t.ok((await readAll(await store.read(d))).equals(bytes), 'read yields the bytes');
    t.same(await collect(store.list()), [info], 'listed after commit');
    t.same(await collect(store.listUploads()), [], 'the upload is gone from listUploads');
    await t.rejects(store.uploadInfo(uploadId(1)), UploadNotFoundError, 'the upload is gone');
  });

  test('an empty upload commits to the empty blob', async (t, { store }) => {
    const d = digestOf('');
    await store.createUpload(uploadId(1));
    const info = await store.commitUpload(uploadId(1), d, 0);
    t.equal(info.size, 0);
    t.equal((await store.stat(d))?.size, 0);
    t.equal((await readAll(await store.read(d))).length, 0);
  });

  test('appends in several calls and several stream chunks stage their concatenation', async (t, { store }) => {
    const parts = [Buffer.from('alpha-'), Buffer.from('beta-'), Buffer.from('gamma')];
    const whole = Buffer.concat(parts);
    await store.createUpload(uploadId(1));
    let size = 0;
    for (const p of parts) {
      // each call also splits its bytes across stream chunks
      size = await store.appendUpload(uploadId(1), size, chunks([p.subarray(0, 2), p.subarray(2)]), { expectedLength: p.length });
      t.equal((await store.uploadInfo(uploadId(1))).size, size, `staged size after ${p.toString()}`);
    }
    t.equal(size, whole.length);
    await store.commitUpload(uploadId(1), digestOf(whole), whole.length);
    t.ok((await readAll(await store.read(digestOf(whole)))).equals(whole));
  });

  test('an append at the wrong offset throws InvalidOffsetError carrying the staged size and stages nothing', async (t, { store }) => {
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([Buffer.from('12345')]));
    for (const offset of [0, 3, 6, 100]) {
      const err = await store.appendUpload(uploadId(1), offset, chunks([Buffer.from('zz')])).then(
        () => undefined,
        (e: unknown) => e,
      );
      t.type(err, InvalidOffsetError, `offset ${offset} is refused`);
      t.equal((err as InvalidOffsetError).size, 5, 'the error carries the real staged size');
      t.equal((err as InvalidOffsetError).offset, offset);
    }
    t.equal((await store.uploadInfo(uploadId(1))).size, 5);
    await store.appendUpload(uploadId(1), 5, chunks([Buffer.from('6')]));
    await store.commitUpload(uploadId(1), digestOf('123456'));
    t.ok(await store.stat(digestOf('123456')));
  });

  test('commit with the wrong digest throws DigestMismatchError, shows no blob and keeps the upload', async (t, { store }) => {
    const bytes = Buffer.from('the real content');
    const wrong = digestOf('other content');
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([bytes]));
    const err = await store.commitUpload(uploadId(1), wrong).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, DigestMismatchError);
    t.equal((err as DigestMismatchError).expected, wrong);
    t.equal((err as DigestMismatchError).actual, digestOf(bytes), 'the error names the digest of what was staged');
    t.equal(await store.stat(wrong), undefined, 'nothing visible under the claimed digest');
    t.equal(await store.stat(digestOf(bytes)), undefined, 'nothing visible under the real digest');
    t.same(await collect(store.list()), []);
    t.equal((await store.uploadInfo(uploadId(1))).size, bytes.length, 'the upload stays staged');
    // the kept upload is still whole: it can grow and commit correctly
    await store.appendUpload(uploadId(1), bytes.length, chunks([Buffer.from('!')]));
    const whole = Buffer.concat([bytes, Buffer.from('!')]);
    t.equal((await store.commitUpload(uploadId(1), digestOf(whole))).size, whole.length);
  });

  test('commit with the wrong expectedSize throws SizeMismatchError and shows no blob', async (t, { store }) => {
    const bytes = Buffer.from('twelve bytes');
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([bytes]));
    const err = await store.commitUpload(uploadId(1), digestOf(bytes), bytes.length + 1).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, SizeMismatchError);
    t.equal((err as SizeMismatchError).expected, bytes.length + 1);
    t.equal((err as SizeMismatchError).actual, bytes.length);
    t.equal(await store.stat(digestOf(bytes)), undefined);
  });

  test('an append shorter or longer than expectedLength throws SizeMismatchError and leaves the staged size unchanged', async (t, { store }) => {
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([Buffer.from('head-')]), { expectedLength: 5 });
    const short = store.appendUpload(uploadId(1), 5, chunks([Buffer.from('ab'), Buffer.from('c')]), { expectedLength: 4 });
    await t.rejects(short, SizeMismatchError, 'short stream');
    t.equal((await store.uploadInfo(uploadId(1))).size, 5, 'short stream staged nothing');
    const long = store.appendUpload(uploadId(1), 5, chunks([Buffer.from('abcd'), Buffer.from('efgh')]), { expectedLength: 4 });
    await t.rejects(long, SizeMismatchError, 'long stream');
    t.equal((await store.uploadInfo(uploadId(1))).size, 5, 'long stream staged nothing');
    // large enough that an adapter has written some of it before the count is known
    const big = randomBytes(3 * 1024 * 1024 + 7);
    const bigParts = [big.subarray(0, 1_000_000), big.subarray(1_000_000, 2_500_000), big.subarray(2_500_000)];
    await t.rejects(store.appendUpload(uploadId(1), 5, chunks(bigParts), { expectedLength: big.length + 1 }), SizeMismatchError);
    t.equal((await store.uploadInfo(uploadId(1))).size, 5, 'a large short stream staged nothing');
    await t.rejects(store.appendUpload(uploadId(1), 5, chunks(bigParts), { expectedLength: big.length - 1 }), SizeMismatchError);
    t.equal((await store.uploadInfo(uploadId(1))).size, 5, 'a large long stream staged nothing');
    // nothing of the refused chunks leaks into the blob
    await store.appendUpload(uploadId(1), 5, chunks([Buffer.from('tail')]), { expectedLength: 4 });
    const info = await store.commitUpload(uploadId(1), digestOf('head-tail'), 9);
    t.equal(info.size, 9);
  });

  test('with expectedLength, an append whose stream fails stages nothing from it', async (t, { store }) => {
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([Buffer.from('keep')]));
    await t.rejects(store.appendUpload(uploadId(1), 4, failingAfter(Buffer.from('lost')), { expectedLength: 8 }));
    t.equal((await store.uploadInfo(uploadId(1))).size, 4);
    const big = randomBytes(2 * 1024 * 1024);
    await t.rejects(store.appendUpload(uploadId(1), 4, failingAfter(big), { expectedLength: 2 * big.length }));
    t.equal((await store.uploadInfo(uploadId(1))).size, 4, 'nothing of a large failed chunk stays');
    await store.appendUpload(uploadId(1), 4, chunks([Buffer.from('+more')]));
    t.ok(await store.commitUpload(uploadId(1), digestOf('keep+more')));
  });

  test('without expectedLength, bytes that arrived before a stream error stay staged and the upload continues', async (t, { store }) => {
    await store.createUpload(uploadId(1));
    await t.rejects(store.appendUpload(uploadId(1), 0, failingAfter(Buffer.from('arrived'))), /client went away/);
    t.equal((await store.uploadInfo(uploadId(1))).size, 7, 'what arrived is staged');
    const big = randomBytes(1536 * 1024);
    await t.rejects(store.appendUpload(uploadId(1), 7, failingAfter(big)), /client went away/);
    t.equal((await store.uploadInfo(uploadId(1))).size, 7 + big.length, 'a large part that arrived is staged');
    await store.appendUpload(uploadId(1), 7 + big.length, chunks([Buffer.from(' later')]));
    const whole = Buffer.concat([Buffer.from('arrived'), big, Buffer.from(' later')]);
    t.ok(await store.commitUpload(uploadId(1), digestOf(whole)), 'commit hashes exactly the staged bytes');
  });

  test('an append that would exceed maxTotal throws SizeMismatchError and stages nothing beyond it', async (t, { store }) => {
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([Buffer.from('123456')]), { maxTotal: 10 });
    await t.rejects(
      store.appendUpload(uploadId(1), 6, chunks([Buffer.from('789AB')]), { expectedLength: 5, maxTotal: 10 }),
      SizeMismatchError,
      'declared length over the bound',
    );
    t.equal((await store.uploadInfo(uploadId(1))).size, 6, 'a refused declared chunk stages nothing');
    await t.rejects(
      store.appendUpload(uploadId(1), 6, chunks([Buffer.from('78'), Buffer.from('9AB'), Buffer.from('CDEF')]), { maxTotal: 10 }),
      SizeMismatchError,
      'undeclared stream over the bound',
    );
    const size = (await store.uploadInfo(uploadId(1))).size;
    t.ok(size >= 6 && size <= 10, `staged size ${size} stays within maxTotal`);
    // whatever stayed is a prefix of what was sent: the upload completes from there
    const rest = Buffer.from('123456789A').subarray(size);
    await store.appendUpload(uploadId(1), size, chunks([rest]), { maxTotal: 10 });
    t.equal((await store.commitUpload(uploadId(1), digestOf('123456789A'), 10)).size, 10);

    // large enough that an adapter has written some of the stream before it crosses the bound
    const mib = 1024 * 1024;
    const big = randomBytes(5 * mib);
    const limit = 3 * mib + 3;
    await store.createUpload(uploadId(2));
    const parts = [0, 1, 2, 3, 4].map((i) => big.subarray(i * mib, (i + 1) * mib));
    await t.rejects(store.appendUpload(uploadId(2), 0, chunks(parts), { maxTotal: limit }), SizeMismatchError, 'a large stream over the bound');
    const bigSize = (await store.uploadInfo(uploadId(2))).size;
    t.ok(bigSize <= limit, `staged size ${bigSize} stays within maxTotal`);
    await store.appendUpload(uploadId(2), bigSize, chunks([big.subarray(bigSize, limit)]), { maxTotal: limit });
    t.equal((await store.commitUpload(uploadId(2), digestOf(big.subarray(0, limit)), limit)).size, limit, 'and the staged part is a true prefix');
  });

  test('an upload continued on another instance commits there with the digest recomputed', async (t, { store, reopen }) => {
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([Buffer.from('begun on A, ')]));
    const other = await reopen();
    t.equal((await other.uploadInfo(uploadId(1))).size, 12, 'the other instance sees the staged bytes');
    await other.appendUpload(uploadId(1), 12, chunks([Buffer.from('finished on B')]));
    const whole = 'begun on A, finished on B';
    await t.rejects(other.commitUpload(uploadId(1), digestOf('begun on A, ')), DigestMismatchError);
    const info = await other.commitUpload(uploadId(1), digestOf(whole), whole.length);
    t.equal(info.size, whole.length);
    t.same(await store.stat(digestOf(whole)), info, 'the first instance sees the committed blob');
    await t.rejects(store.uploadInfo(uploadId(1)), UploadNotFoundError);
  });

  test('an instance commits bytes another instance appended in between', async (t, { store, reopen }) => {
    const other = await reopen();
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([Buffer.from('A1 ')]));
    await other.appendUpload(uploadId(1), 3, chunks([Buffer.from('B2 ')]));
    await store.appendUpload(uploadId(1), 6, chunks([Buffer.from('A3')]));
    await t.rejects(store.commitUpload(uploadId(1), digestOf('A1 A3')), DigestMismatchError);
    t.ok(await store.commitUpload(uploadId(1), digestOf('A1 B2 A3'), 8));
  });

  test('commit checks the bytes actually staged even when another instance replaced the upload', async (t, { store, reopen }) => {
    const other = await reopen();
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([Buffer.from('first')]));
    await other.abortUpload(uploadId(1));
    await other.createUpload(uploadId(1));
    await other.appendUpload(uploadId(1), 0, chunks([Buffer.from('other')]));
    await t.rejects(store.commitUpload(uploadId(1), digestOf('first')), DigestMismatchError, 'the replaced bytes do not commit');
    t.ok(await store.commitUpload(uploadId(1), digestOf('other')));
  });

  test('commit verifies a sha512 digest and stores the blob under it', async (t, { store }) => {
    const bytes = Buffer.from('hashed with sha512');
    const d = digestOf(bytes, 'sha512');
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([bytes.subarray(0, 6), bytes.subarray(6)]));
    await t.rejects(store.commitUpload(uploadId(1), digestOf('nope', 'sha512')), DigestMismatchError);
    const info = await store.commitUpload(uploadId(1), d, bytes.length);
    t.equal(info.digest, d);
    t.ok((await readAll(await store.read(d))).equals(bytes));
    t.equal(await store.stat(digestOf(bytes)), undefined, 'not visible under its sha256');
    t.same((await collect(store.list())).map((b) => b.digest), [d]);
  });

  test('committing a digest that is already visible drops the upload and keeps the blob', async (t, { store }) => {
    const bytes = Buffer.from('already here');
    const d = digestOf(bytes);
    await store.put(d, bytes);
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([bytes]));
    const info = await store.commitUpload(uploadId(1), d, bytes.length);
    t.equal(info.digest, d);
    t.equal(info.size, bytes.length);
    await t.rejects(store.uploadInfo(uploadId(1)), UploadNotFoundError, 'the upload is dropped');
    t.ok((await readAll(await store.read(d))).equals(bytes));
    t.equal((await collect(store.list())).length, 1);
  });

  test('put stores verified bytes and is idempotent', async (t, { store }) => {
    const bytes = Buffer.from('{"schemaVersion":2}');
    const d = digestOf(bytes);
    const first = await store.put(d, bytes);
    t.equal(first.digest, d);
    t.equal(first.size, bytes.length);
    const second = await store.put(d, new Uint8Array(bytes));
    t.equal(second.size, bytes.length);
    t.ok((await readAll(await store.read(d))).equals(bytes));
    t.same((await collect(store.list())).map((b) => b.digest), [d], 'listed once');
    t.same(await collect(store.listUploads()), [], 'put leaves no upload behind');
    const d512 = digestOf(bytes, 'sha512');
    t.equal((await store.put(d512, bytes)).digest, d512, 'put accepts sha512');
  });

  test('put with bytes that do not hash to the digest throws DigestMismatchError and stores nothing', async (t, { store }) => {
    const d = digestOf('claimed');
    await t.rejects(store.put(d, Buffer.from('actual')), DigestMismatchError);
    t.equal(await store.stat(d), undefined);
    t.equal(await store.stat(digestOf('actual')), undefined);
    t.same(await collect(store.list()), []);
  });

  test('range reads return exactly the inclusive range', async (t, { store }) => {
    const bytes = Buffer.from('0123456789abcdefghij');
    const d = digestOf(bytes);
    await store.put(d, bytes);
    const range = async (start: number, end: number) => (await readAll(await store.read(d, { start, end }))).toString();
    t.equal(await range(0, 0), '0', 'first byte');
    t.equal(await range(5, 12), '56789abc', 'middle');
    t.equal(await range(19, 19), 'j', 'last byte');
    t.equal(await range(0, 19), bytes.toString(), 'whole blob as a range');
    t.equal(await range(10, 19), 'abcdefghij', 'tail');
  });

  test('read and stat of a missing blob: read throws BlobNotFoundError, stat is undefined', async (t, { store }) => {
    const d = digestOf('never stored');
    // the error must reject the call itself, not surface later as a stream 'error' event
    const err = await store.read(d).then(
      (s) => (s.destroy(), undefined),
      (e: unknown) => e,
    );
    t.type(err, BlobNotFoundError);
    t.equal((err as BlobNotFoundError).digest, d);
    await t.rejects(store.read(d, { start: 0, end: 0 }), BlobNotFoundError);
    t.equal(await store.stat(d), undefined);
  });

  test('list yields every visible blob once and listUploads every staged upload with its size', async (t, { store }) => {
    const blobs = ['one', 'two', 'three'].map((s) => Buffer.from(s));
    for (const b of blobs) await store.put(digestOf(b), b);
    await store.createUpload(uploadId(1));
    await store.createUpload(uploadId(2));
    await store.appendUpload(uploadId(2), 0, chunks([Buffer.from('staged')]));

    const listed = (await collect(store.list())).sort(byDigest);
    t.same(
      listed.map(({ digest, size }) => ({ digest, size })),
      blobs.map((b) => ({ digest: digestOf(b), size: b.length })).sort(byDigest),
    );
    for (const b of listed) t.same(await store.stat(b.digest), b, 'list agrees with stat');

    const uploads = (await collect(store.listUploads())).sort((a, b) => a.id.localeCompare(b.id));
    t.same(
      uploads.map(({ id, size }) => ({ id, size })),
      [
        { id: uploadId(1), size: 0 },
        { id: uploadId(2), size: 6 },
      ],
    );
    for (const u of uploads) t.ok(u.startedAt > 0, 'startedAt is set');
  });

  test('abortUpload discards the staged bytes; aborting again or an unknown id is not an error', async (t, { store }) => {
    await store.createUpload(uploadId(1));
    await store.appendUpload(uploadId(1), 0, chunks([Buffer.from('discard me')]));
    await store.abortUpload(uploadId(1));
    await t.rejects(store.uploadInfo(uploadId(1)), UploadNotFoundError);
    await t.rejects(store.appendUpload(uploadId(1), 10, chunks([Buffer.from('x')])), UploadNotFoundError);
    await t.rejects(store.commitUpload(uploadId(1), digestOf('discard me')), UploadNotFoundError);
    t.equal(await store.stat(digestOf('discard me')), undefined);
    t.same(await collect(store.listUploads()), []);
    await t.resolves(store.abortUpload(uploadId(1)), 'aborting twice');
    await t.resolves(store.abortUpload(uploadId(404)), 'aborting an unknown id');
  });

  test('delete removes a blob; deleting an absent blob is not an error', async (t, { store }) => {
    const keep = Buffer.from('keep');
    const gone = Buffer.from('gone');
    await store.put(digestOf(keep), keep);
    await store.put(digestOf(gone), gone);
    await store.delete(digestOf(gone));
    t.equal(await store.stat(digestOf(gone)), undefined);
    await t.rejects(store.read(digestOf(gone)), BlobNotFoundError);
    t.same((await collect(store.list())).map((b) => b.digest), [digestOf(keep)]);
    await t.resolves(store.delete(digestOf(gone)), 'deleting twice');
    t.ok(await store.stat(digestOf(keep)), 'other blobs untouched');
  });

  test('an 8 MiB blob streamed in random-sized chunks reads back identically', async (t, { store }) => {
    const rand = prng(0xb17e);
    const total = 8 * 1024 * 1024 + 12345;
    const bytes = randomBytes(total);
    const d = digestOf(bytes);
    await store.createUpload(uploadId(1));
    // a few appends (PATCH requests), each a stream of random-sized chunks (network reads)
    let offset = 0;
    while (offset < total) {
      const len = Math.min(total - offset, 256 * 1024 + (rand() % (3 * 1024 * 1024)));
      const pieces: Buffer[] = [];
      for (let p = offset; p < offset + len; ) {
        const n = Math.min(offset + len - p, 1 + (rand() % 200_000));
        pieces.push(bytes.subarray(p, p + n));
        p += n;
      }
      offset = await store.appendUpload(uploadId(1), offset, chunks(pieces), { expectedLength: len });
    }
    t.equal(offset, total);
    const info = await store.commitUpload(uploadId(1), d, total);
    t.equal(info.size, total);
    t.equal(await hashStream(await store.read(d)), d, 'the streamed read hashes to the digest');
    const mid = { start: 3_000_001, end: 5_999_999 };
    const part = await readAll(await store.read(d, mid));
    t.ok(part.equals(bytes.subarray(mid.start, mid.end + 1)), 'a large range read is exact');
  });

  return Promise.all(tests).then(() => undefined);
}

/** Distinct UUID-shaped ids, so adapters that validate ids accept them. */
function uploadId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** A byte stream (not object mode, like an HTTP request body) yielding the given chunks. */
function chunks(parts: Buffer[]): Readable {
  return Readable.from(
    (function* () {
      yield* parts;
    })(),
    { objectMode: false },
  );
}

/** Yields `first`, then fails as a dropped connection would — after the consumer had time to read `first`. */
function failingAfter(first: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield first;
      await new Promise((r) => setTimeout(r, 30));
      throw new Error('client went away');
    })(),
    { objectMode: false },
  );
}

async function readAll(s: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(out);
}

async function hashStream(s: Readable): Promise<Digest> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Uint8Array);
  return `sha256:${h.digest('hex')}` as Digest;
}

async function collect<T extends BlobInfo | UploadInfo>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function byDigest(a: { digest: string }, b: { digest: string }): number {
  return a.digest.localeCompare(b.digest);
}

/** A small deterministic generator (xorshift32), so a failure replays with the same chunking. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
