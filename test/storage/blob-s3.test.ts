// The S3 BlobStore against a real S3-compatible server (s3rver in its own process): the shared BlobStore
// contract, then what only S3 adds (parts of >= 5 MiB from small chunks, upload state kept in the bucket,
// failing fast while S3 is away, presigned redirects).
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { digestOf, type Digest } from '../../core/digest.js';
import {
  DigestMismatchError,
  StorageUnavailableError,
  UploadNotFoundError,
  type BlobStore,
} from '../../storage-adapters/blob/blob-store.js';
import { S3BlobStore, type S3BlobStoreOptions } from '../../storage-adapters/blob/s3.js';
import { blobStoreContract } from '../contract/blob-store.js';
import { startS3, type S3Server } from '../helpers/s3-server.js';

const MiB = 1024 * 1024;
let server: S3Server;
let raw: S3Client;
t.before(async () => {
  server = await startS3();
  raw = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
});
t.teardown(async () => {
  raw?.destroy();
  await server?.stop();
});

function options(prefix: string, extra: Partial<S3BlobStoreOptions> = {}): S3BlobStoreOptions {
  return {
    endpoint: server.endpoint,
    bucket: server.bucket,
    region: server.region,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    prefix,
    ...extra,
  };
}

async function keysUnder(prefix: string): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await raw.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function readState(prefix: string, id: string) {
  const out = await raw.send(new GetObjectCommand({ Bucket: server.bucket, Key: `${prefix}uploads/${id}/state` }));
  return JSON.parse(await out.Body!.transformToString()) as {
    size: number;
    parts: { n: number; size: number }[];
    segments: { offset: number; size: number }[];
  };
}

let backends = 0;
t.test('BlobStore contract', async (t) => {
  await blobStoreContract(t, async () => {
    // one server, a fresh key prefix per backend: an empty store without restarting s3rver
    const prefix = `contract-${++backends}/`;
    return {
      store: new S3BlobStore(options(prefix)),
      reopen: async () => new S3BlobStore(options(prefix)),
      cleanup: async () => {
        for (const { key } of await keysUnder(prefix)) await raw.send(new DeleteObjectCommand({ Bucket: server.bucket, Key: key }));
      },
    };
  });
});

const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const chunk = (b: Buffer) => Readable.from([b], { objectMode: false });

async function readAll(s: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** Appends `bytes` in PATCH-sized pieces of `step`, alternating between `stores` when several are given. */
async function appendAll(stores: BlobStore[], uploadId: string, bytes: Buffer, step: number, from = 0): Promise<number> {
  let offset = from;
  let i = 0;
  while (offset < bytes.length) {
    const piece = bytes.subarray(offset, Math.min(offset + step, bytes.length));
    offset = await stores[i++ % stores.length]!.appendUpload(uploadId, offset, chunk(piece), { expectedLength: piece.length });
  }
  return offset;
}

t.test('small PATCH chunks are combined into parts of at least 5 MiB, the rest kept as few small segments', async (t) => {
  const prefix = 'combine/';
  const store = new S3BlobStore(options(prefix, { partSize: 5 * MiB }));
  t.teardown(() => store.close());
  const bytes = randomBytes(12 * MiB + 12345);
  await store.createUpload(id(1));
  // 100 KiB requests: 124 appends
  const step = 100 * 1024;
  let offset = 0;
  let maxSegments = 0;
  while (offset < bytes.length) {
    const piece = bytes.subarray(offset, offset + step);
    offset = await store.appendUpload(id(1), offset, chunk(piece), { expectedLength: piece.length });
    maxSegments = Math.max(maxSegments, (await readState(prefix, id(1))).segments.length);
  }
  const state = await readState(prefix, id(1));
  t.equal(state.size, bytes.length);
  t.same(state.parts.map((p) => p.size), [5 * MiB, 5 * MiB], 'two full parts of exactly the part size');
  t.same(state.parts.map((p) => p.n), [1, 2]);
  t.equal(state.segments.reduce((a, s) => a + s.size, 0), bytes.length - 10 * MiB, 'the tail is in segments');
  t.ok(maxSegments <= 32, `segments stay few (at most ${maxSegments})`);
  const staged = await keysUnder(`${prefix}uploads/${id(1)}/`);
  t.equal(staged.filter((o) => o.key.includes('/seg-')).length, state.segments.length, 'segments merged into parts are deleted');

  const info = await store.commitUpload(id(1), digestOf(bytes), bytes.length);
  t.equal(info.size, bytes.length);
  t.ok((await readAll(await store.read(info.digest))).equals(bytes), 'the blob reads back whole');
  t.same(await keysUnder(`${prefix}uploads/`), [], 'nothing staged is left behind');
});

t.test('an upload begun on one instance continues and commits on another (state in the bucket, digest recomputed)', async (t) => {
  const prefix = 'shared/';
  const a = new S3BlobStore(options(prefix, { partSize: 5 * MiB }));
  const b = new S3BlobStore(options(prefix, { partSize: 5 * MiB }));
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const bytes = randomBytes(13 * MiB + 99);
  await a.createUpload(id(1));
  // A: 6 MiB in 1 MiB requests (one part cut); then A and B alternate 700 KiB requests
  let offset = await appendAll([a], id(1), bytes.subarray(0, 6 * MiB), MiB);
  t.equal((await b.uploadInfo(id(1))).size, 6 * MiB, 'B sees what A staged');
  offset = await appendAll([b, a], id(1), bytes, 700 * 1024, offset);
  t.equal(offset, bytes.length);
  await t.rejects(b.commitUpload(id(1), digestOf(bytes.subarray(1))), DigestMismatchError, 'B hashes the staged bytes');
  const info = await b.commitUpload(id(1), digestOf(bytes), bytes.length);
  t.same(await a.stat(digestOf(bytes)), info, 'A sees the blob B committed');
  t.equal(await hashOf(await a.read(digestOf(bytes))), digestOf(bytes));
  await t.rejects(a.uploadInfo(id(1)), UploadNotFoundError);
});

t.test('a multi-part upload whose digest check failed can still grow and commit (sha512 too)', async (t) => {
  const prefix = 'regrow/';
  const store = new S3BlobStore(options(prefix, { partSize: 5 * MiB }));
  t.teardown(() => store.close());
  const first = randomBytes(11 * MiB);
  const more = randomBytes(3 * MiB);
  await store.createUpload(id(1));
  await appendAll([store], id(1), first, 4 * MiB);
  // sha512 is never cached: the commit assembles the parts and reads them back, then refuses
  await t.rejects(store.commitUpload(id(1), digestOf(more, 'sha512')), DigestMismatchError);
  t.equal((await store.uploadInfo(id(1))).size, first.length, 'still staged');
  const whole = Buffer.concat([first, more]);
  await appendAll([store], id(1), whole, 2 * MiB, first.length);
  const info = await store.commitUpload(id(1), digestOf(whole, 'sha512'), whole.length);
  t.equal(info.digest, digestOf(whole, 'sha512'));
  t.ok((await readAll(await store.read(info.digest))).equals(whole));
});

t.test('S3 killed mid-append: StorageUnavailableError fast, the upload resumes at its last staged size after S3 returns', async (t) => {
  const s3 = await startS3({ bucket: 'outage' });
  let restarted: S3Server | undefined;
  t.teardown(async () => {
    await s3.stop();
    await restarted?.stop();
  });
  const store = new S3BlobStore({
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    partSize: 5 * MiB,
  });
  t.teardown(() => store.close());
  const bytes = randomBytes(12 * MiB);
  await store.createUpload(id(1));
  await store.appendUpload(id(1), 0, chunk(bytes.subarray(0, 3 * MiB)));

  // a slow client: S3 dies after the first part of this append went up
  const slow = Readable.from(
    (async function* () {
      for (let o = 3 * MiB; o < bytes.length; o += MiB) {
        if (o === 9 * MiB) await s3.kill();
        yield bytes.subarray(o, o + MiB);
      }
    })(),
    { objectMode: false },
  );
  await t.rejects(store.appendUpload(id(1), 3 * MiB, slow), StorageUnavailableError, 'the append fails with StorageUnavailableError');
  for (const [what, call] of [
    ['stat', () => store.stat(digestOf('x'))],
    ['uploadInfo', () => store.uploadInfo(id(1))],
    ['ping', () => store.ping()],
  ] as const) {
    const started = Date.now();
    await t.rejects((call as () => Promise<unknown>)(), StorageUnavailableError, `${what} while S3 is down`);
    t.ok(Date.now() - started < 2000, `${what} failed in ${Date.now() - started} ms`);
  }

  restarted = await startS3({ port: s3.port, bucket: s3.bucket, directory: s3.directory });
  t.equal((await store.uploadInfo(id(1))).size, 3 * MiB, 'the failed append left the upload at its last staged size');
  await appendAll([store], id(1), bytes, 2 * MiB, 3 * MiB);
  const info = await store.commitUpload(id(1), digestOf(bytes), bytes.length);
  t.ok((await readAll(await store.read(info.digest))).equals(bytes), 'the resumed upload commits intact');
});

t.test('presigned redirect URLs serve the blob straight from the bucket, only when enabled', async (t) => {
  const plain = new S3BlobStore(options('presign/'));
  const presigning = new S3BlobStore(options('presign/', { presignRedirect: true, presignExpiresSeconds: 60 }));
  t.teardown(async () => {
    await plain.close();
    await presigning.close();
  });
  const bytes = Buffer.from('a layer served by the bucket');
  const d = digestOf(bytes);
  await plain.put(d, bytes);
  t.equal(await plain.redirectUrl!(d), undefined, 'no URL unless presignRedirect');
  const url = await presigning.redirectUrl!(d);
  t.match(url, /X-Amz-Signature=/);
  const res = await fetch(url!);
  t.equal(res.status, 200);
  t.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), 'the URL yields the bytes without credentials');
  t.match(url, new RegExp(`/${server.bucket}/presign/blobs/sha256/[0-9a-f]{64}\\?`), 'path-style URL of the blob key');
  // (s3rver does not verify SigV4 signatures, so a forged one cannot be tested here; S3 and MinIO refuse it)
});

t.test('a range reaching past the blob is refused with RangeNotSatisfiableError (416 over HTTP) rather than read short', async (t) => {
  const store = new S3BlobStore(options('ranges/'));
  t.teardown(() => store.close());
  const d = digestOf('0123456789');
  await store.put(d, Buffer.from('0123456789'));
  await t.rejects(store.read(d, { start: 5, end: 10 }), { name: 'RangeNotSatisfiableError', size: 10 });
  await t.rejects(store.read(d, { start: 10, end: 10 }), { name: 'RangeNotSatisfiableError' });
  await t.rejects(store.read(d, { start: 6, end: 5 }), { name: 'RangeNotSatisfiableError' });
  t.equal((await readAll(await store.read(d, { start: 9, end: 9 }))).toString(), '9');
});

t.test('64 MiB through the adapter: one monolithic append and 8 MiB chunks across two instances', async (t) => {
  const bytes = randomBytes(64 * MiB);
  const d = digestOf(bytes);
  const a = new S3BlobStore(options('throughput/'));
  const b = new S3BlobStore(options('throughput/'));
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const mibps = (ms: number) => ((64 / ms) * 1000).toFixed(0);

  let started = Date.now();
  await a.createUpload(id(1));
  // a client streaming the layer in 64 KiB network reads, one PATCH
  const pieces = Array.from({ length: 1024 }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536));
  await a.appendUpload(id(1), 0, Readable.from(pieces, { objectMode: false }), { expectedLength: bytes.length });
  const appended = Date.now() - started;
  await a.commitUpload(id(1), d, bytes.length);
  const oneInstance = Date.now() - started;
  started = Date.now();
  t.equal(await hashOf(await b.read(d)), d);
  const read = Date.now() - started;
  await a.delete(d);

  started = Date.now();
  await a.createUpload(id(2));
  await appendAll([a, b], id(2), bytes, 8 * MiB);
  await b.commitUpload(id(2), d, bytes.length);
  const twoInstances = Date.now() - started;
  t.ok(await a.stat(d));
  t.comment(
    `S3BlobStore on s3rver, 64 MiB: upload ${oneInstance} ms (${mibps(oneInstance)} MiB/s; append ${appended} ms, ` +
      `commit ${oneInstance - appended} ms), read ${read} ms (${mibps(read)} MiB/s), ` +
      `8 MiB PATCHes alternating two instances + recomputed digest ${twoInstances} ms (${mibps(twoInstances)} MiB/s)`,
  );
});

async function hashOf(s: Readable): Promise<Digest> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}` as Digest;
}
