// end-4a/4b, end-5, end-6, end-13, end-14: upload sessions, monolithic and chunked pushes.
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { berthOnly, expectOciError, targetFor, type Reply } from '../helpers/conformance-target.js';
import { randomBlob } from '../helpers/oci-fixtures.js';
import { digestOf } from '../../core/digest.js';

const target = await targetFor(t);
const reg = target.client;
const repo = 'conformance/uploads';

/** Starts a session and returns its Location and the chunk size to use (at least OCI-Chunk-Min-Length). */
async function session(t: Test, name = repo): Promise<{ location: string; chunk: number }> {
  const r = await reg.startUpload(name);
  t.equal(r.status, 202, 'POST starts a session');
  const min = Number(r.headers.get('oci-chunk-min-length') ?? 0);
  return { location: r.headers.get('location')!, chunk: Math.max(min, 1024) };
}

async function patch(location: string, bytes: Buffer, start?: number): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (start !== undefined) headers['content-range'] = `${start}-${start + bytes.length - 1}`;
  return reg.send('PATCH', location, { headers, body: bytes });
}

/** A body sent with chunked transfer encoding (no Content-Length, no Content-Range). */
function stream(...parts: Buffer[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(new Uint8Array(p));
      c.close();
    },
  });
}

function blobPath(digest: string, name = repo): string {
  return `/v2/${name}/blobs/${digest}`;
}

function locationPath(r: Reply): string {
  return new URL(r.headers.get('location') ?? '', target.url).pathname;
}

t.test('POST starts a session: 202 with Location, Range 0-0 and Docker-Upload-UUID', async (t) => {
  const r = await reg.startUpload(repo);
  t.equal(r.status, 202);
  t.ok(r.headers.get('location'), 'Location');
  t.equal(r.headers.get('range'), '0-0');
  const uuid = r.headers.get('docker-upload-uuid');
  t.ok(uuid, 'Docker-Upload-UUID');
  t.ok(r.headers.get('location')!.includes(uuid!), 'the Location carries the session id');
});

t.test('POST ?digest= with the whole body pushes monolithically: 201 with Location and Docker-Content-Digest', berthOnly('single-POST push is not supported (answers 202)'), async (t) => {
  const b = randomBlob(3000);
  const r = await reg.startUpload(repo, { query: { digest: b.digest }, headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
  t.equal(r.status, 201);
  t.equal(locationPath(r), blobPath(b.digest));
  t.equal(r.headers.get('docker-content-digest'), b.digest);
  const get = await reg.send('GET', blobPath(b.digest));
  t.same(get.body, b.bytes);
});

t.test('POST then PUT ?digest= with the whole body: 201 with Location /v2/<name>/blobs/<digest>', async (t) => {
  const b = randomBlob(3000);
  const { location } = await session(t);
  const put = await reg.send('PUT', location, { query: { digest: b.digest }, headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
  t.equal(put.status, 201);
  t.equal(locationPath(put), blobPath(b.digest));
  t.equal(put.headers.get('docker-content-digest'), b.digest);
  const get = await reg.send('GET', put.headers.get('location')!);
  t.equal(get.status, 200, 'the returned Location is pullable');
  t.same(get.body, b.bytes);
});

t.test('a zero-length blob can be pushed and pulled', async (t) => {
  const empty = Buffer.alloc(0);
  const d = digestOf(empty);
  const { location } = await session(t);
  const put = await reg.send('PUT', location, { query: { digest: d }, headers: { 'content-type': 'application/octet-stream' }, body: empty });
  t.equal(put.status, 201);
  const head = await reg.send('HEAD', blobPath(d));
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), '0');
});

t.test('PATCH chunks with Content-Range: each answers 202 with Location and Range 0-<end>, PUT without body completes', async (t) => {
  let { location, chunk } = await session(t);
  const b = randomBlob(chunk * 3 - 7);
  for (let start = 0; start < b.size; start += chunk) {
    const part = b.bytes.subarray(start, start + chunk);
    const r = await patch(location, part, start);
    t.equal(r.status, 202, `chunk at ${start}`);
    t.equal(r.headers.get('range'), `0-${start + part.length - 1}`);
    t.ok(r.headers.get('location'), 'Location');
    location = r.headers.get('location')!;
  }
  const put = await reg.send('PUT', location, { query: { digest: b.digest } });
  t.equal(put.status, 201);
  t.equal(locationPath(put), blobPath(b.digest));
  t.same((await reg.send('GET', blobPath(b.digest))).body, b.bytes);
});

t.test('PATCH streamed without Content-Range appends, Range tracks the total', async (t) => {
  let { location } = await session(t);
  const b = randomBlob(10_000);
  const first = await reg.send('PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body: stream(b.bytes.subarray(0, 3000), b.bytes.subarray(3000, 6000)) });
  t.equal(first.status, 202);
  t.equal(first.headers.get('range'), '0-5999');
  location = first.headers.get('location')!;
  const second = await reg.send('PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body: stream(b.bytes.subarray(6000)) });
  t.equal(second.status, 202);
  t.equal(second.headers.get('range'), '0-9999');
  const put = await reg.send('PUT', second.headers.get('location')!, { query: { digest: b.digest } });
  t.equal(put.status, 201);
  t.same((await reg.send('GET', blobPath(b.digest))).body, b.bytes);
});

t.test('PUT ?digest= with the final chunk in its body completes a chunked upload', async (t) => {
  const { location, chunk } = await session(t);
  const b = randomBlob(chunk + 500);
  const r = await patch(location, b.bytes.subarray(0, chunk), 0);
  t.equal(r.status, 202);
  const put = await reg.send('PUT', r.headers.get('location')!, {
    query: { digest: b.digest },
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${chunk}-${b.size - 1}` },
    body: b.bytes.subarray(chunk),
  });
  t.equal(put.status, 201);
  t.equal(put.headers.get('docker-content-digest'), b.digest);
  t.same((await reg.send('GET', blobPath(b.digest))).body, b.bytes);
});

t.test('GET on a session answers 204 with Range 0-<end> and Location', async (t) => {
  const { location, chunk } = await session(t);
  const b = randomBlob(chunk);
  const r = await patch(location, b.bytes, 0);
  const status = await reg.send('GET', r.headers.get('location')!);
  t.equal(status.status, 204);
  t.equal(status.headers.get('range'), `0-${chunk - 1}`);
  t.ok(status.headers.get('location'), 'Location');
  t.equal(status.body.length, 0);
});

t.test('PATCH out of order answers 416 and keeps the session', berthOnly('an out-of-order chunk is not answered 416 with the session kept'), async (t) => {
  let { location, chunk } = await session(t);
  const b = randomBlob(chunk * 3);
  const first = await patch(location, b.bytes.subarray(0, chunk), 0);
  t.equal(first.status, 202);
  location = first.headers.get('location')!;

  const skipped = await patch(location, b.bytes.subarray(chunk * 2), chunk * 2);
  expectOciError(t, skipped, 416, ['RANGE_INVALID', 'BLOB_UPLOAD_INVALID'], 'a chunk past the end');
  const repeated = await patch(location, b.bytes.subarray(0, chunk), 0);
  expectOciError(t, repeated, 416, ['RANGE_INVALID', 'BLOB_UPLOAD_INVALID'], 'a chunk already uploaded');

  const status = await reg.send('GET', location);
  t.equal(status.status, 204, 'the session is still there');
  t.equal(status.headers.get('range'), `0-${chunk - 1}`, 'and still at the old offset');
  location = status.headers.get('location')!;

  const second = await patch(location, b.bytes.subarray(chunk, chunk * 2), chunk);
  t.equal(second.status, 202, 'the right chunk is then accepted');
  t.equal(second.headers.get('range'), `0-${chunk * 2 - 1}`);
  const third = await patch(second.headers.get('location')!, b.bytes.subarray(chunk * 2), chunk * 2);
  t.equal(third.status, 202);
  const put = await reg.send('PUT', third.headers.get('location')!, { query: { digest: b.digest } });
  t.equal(put.status, 201);
  t.same((await reg.send('GET', blobPath(b.digest))).body, b.bytes);
});

t.test('PUT with a final chunk out of order answers 416', berthOnly('an out-of-order final chunk is not answered 416'), async (t) => {
  const { location, chunk } = await session(t);
  const b = randomBlob(chunk * 2);
  const first = await patch(location, b.bytes.subarray(0, chunk), 0);
  const put = await reg.send('PUT', first.headers.get('location')!, {
    query: { digest: b.digest },
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${chunk + 10}-${chunk * 2 + 9}` },
    body: b.bytes.subarray(chunk),
  });
  expectOciError(t, put, 416, ['RANGE_INVALID', 'BLOB_UPLOAD_INVALID']);
  t.equal((await reg.send('HEAD', blobPath(b.digest))).status, 404, 'no blob');
});

t.test('PUT with a digest that does not match answers 400 DIGEST_INVALID and stores nothing', async (t) => {
  const b = randomBlob(2000);
  const claimed = randomBlob(10).digest;
  const { location } = await session(t);
  const put = await reg.send('PUT', location, { query: { digest: claimed }, headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
  expectOciError(t, put, 400, 'DIGEST_INVALID');
  t.equal((await reg.send('HEAD', blobPath(claimed))).status, 404, 'nothing under the claimed digest');
  t.equal((await reg.send('HEAD', blobPath(b.digest))).status, 404, 'nothing under the real digest');
});

t.test('a chunked upload closed with the wrong digest stores nothing', async (t) => {
  const { location, chunk } = await session(t);
  const b = randomBlob(chunk * 2);
  const r = await patch(location, b.bytes, 0);
  const wrong = digestOf(Buffer.concat([b.bytes, Buffer.from('x')]));
  const put = await reg.send('PUT', r.headers.get('location')!, { query: { digest: wrong } });
  expectOciError(t, put, 400, 'DIGEST_INVALID');
  t.equal((await reg.send('HEAD', blobPath(wrong))).status, 404);
  t.equal((await reg.send('HEAD', blobPath(b.digest))).status, 404);
});

t.test('PUT without a digest parameter answers 400 and stores nothing', async (t) => {
  const b = randomBlob(100);
  const { location } = await session(t);
  const put = await reg.send('PUT', location, { headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
  expectOciError(t, put, 400, ['DIGEST_INVALID', 'BLOB_UPLOAD_INVALID']);
  t.equal((await reg.send('HEAD', blobPath(b.digest))).status, 404);
});

t.test('DELETE cancels a session: 204, then GET status answers 404 BLOB_UPLOAD_UNKNOWN', async (t) => {
  const { location, chunk } = await session(t);
  const r = await patch(location, randomBlob(chunk).bytes, 0);
  const loc = r.headers.get('location')!;
  const del = await reg.send('DELETE', loc);
  t.equal(del.status, 204);
  expectOciError(t, await reg.send('GET', loc), 404, 'BLOB_UPLOAD_UNKNOWN');
});

t.test('an unknown session answers 404 BLOB_UPLOAD_UNKNOWN to GET, PATCH, PUT and DELETE', berthOnly('an unsigned session id is BLOB_UPLOAD_INVALID'), async (t) => {
  const loc = `/v2/${repo}/blobs/uploads/${randomUUID()}`;
  const b = randomBlob(10);
  expectOciError(t, await reg.send('GET', loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'GET');
  expectOciError(t, await patch(loc, b.bytes, 0), 404, 'BLOB_UPLOAD_UNKNOWN', 'PATCH');
  expectOciError(t, await reg.send('PUT', loc, { query: { digest: b.digest }, body: b.bytes }), 404, 'BLOB_UPLOAD_UNKNOWN', 'PUT');
  expectOciError(t, await reg.send('DELETE', loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'DELETE');
});

t.test('a completed session is gone: GET on its Location answers 404 BLOB_UPLOAD_UNKNOWN', async (t) => {
  const b = randomBlob(100);
  const { location } = await session(t);
  const put = await reg.send('PUT', location, { query: { digest: b.digest }, body: b.bytes });
  t.equal(put.status, 201);
  expectOciError(t, await reg.send('GET', location), 404, 'BLOB_UPLOAD_UNKNOWN');
});

t.test('Location values are usable exactly as given, relative or absolute, through POST, PATCH, PATCH, PUT', async (t) => {
  const b = randomBlob(5000);
  const post = await reg.startUpload(repo);
  let location = post.headers.get('location')!;
  for (const [i, [from, to]] of [[0, 2500], [2500, 5000]].entries()) {
    t.ok(/^https?:\/\//.test(location) || location.startsWith('/'), `Location ${i} is an absolute URL or an absolute path`, { location });
    if (/^https?:\/\//.test(location)) t.equal(new URL(location).host, new URL(target.url).host, 'an absolute Location points at this registry');
    // Whatever query the registry put in the Location (state tokens) must survive: only the body is ours.
    const r = await reg.send('PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body: b.bytes.subarray(from!, to!) });
    t.equal(r.status, 202);
    location = r.headers.get('location')!;
  }
  const put = await reg.send('PUT', location, { query: { digest: b.digest } });
  t.equal(put.status, 201);
  t.same((await reg.send('GET', put.headers.get('location')!)).body, b.bytes);
});

t.test('two sessions for the same repository are independent', async (t) => {
  const a = randomBlob(3000);
  const c = randomBlob(3000);
  const s1 = await session(t);
  const s2 = await session(t);
  t.not(s1.location, s2.location);
  const r1 = await patch(s1.location, a.bytes, 0);
  const r2 = await patch(s2.location, c.bytes, 0);
  t.equal((await reg.send('PUT', r2.headers.get('location')!, { query: { digest: c.digest } })).status, 201);
  t.equal((await reg.send('PUT', r1.headers.get('location')!, { query: { digest: a.digest } })).status, 201);
  t.same((await reg.send('GET', blobPath(a.digest))).body, a.bytes);
  t.same((await reg.send('GET', blobPath(c.digest))).body, c.bytes);
});

t.test('two sessions uploading the same blob both complete, and the blob is stored once under its digest', async (t) => {
  const b = randomBlob(4000);
  const s1 = await session(t);
  const s2 = await session(t);
  const r1 = await patch(s1.location, b.bytes, 0);
  const r2 = await patch(s2.location, b.bytes, 0);
  t.equal((await reg.send('PUT', r1.headers.get('location')!, { query: { digest: b.digest } })).status, 201);
  t.equal((await reg.send('PUT', r2.headers.get('location')!, { query: { digest: b.digest } })).status, 201);
  t.same((await reg.send('GET', blobPath(b.digest))).body, b.bytes);
});

/** A body that sends `head`, then holds the request open until `go` resolves before sending `tail`. */
function held(head: Buffer, tail: Buffer, go: Promise<void>): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async start(c) {
      c.enqueue(new Uint8Array(head));
      await go;
      c.enqueue(new Uint8Array(tail));
      c.close();
    },
  });
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

t.test('two PATCHes racing on one session run one after the other: one 202, the other 416, the session holds the first', berthOnly('requests on one session are not serialised'), async (t) => {
  const { location } = await session(t);
  const a = randomBlob(4000);
  const c = randomBlob(4000);
  let go!: () => void;
  const released = new Promise<void>((r) => (go = r));
  const range = { 'content-type': 'application/octet-stream', 'content-range': '0-3999' };
  // a is in flight (half its body sent) when c arrives; c must wait for it, then find the session at 4000.
  const pa = reg.send('PATCH', location, { headers: range, body: held(a.bytes.subarray(0, 2000), a.bytes.subarray(2000), released) });
  await pause(300);
  const pc = reg.send('PATCH', location, { headers: range, body: c.bytes });
  await pause(300);
  go();
  const [ra, rc] = await Promise.all([pa, pc]);
  t.same([ra.status, rc.status].sort(), [202, 416], 'exactly one chunk is applied');
  const winner = ra.status === 202 ? a : c;
  t.equal((await reg.send('GET', location)).headers.get('range'), '0-3999', 'the session holds one chunk');
  const put = await reg.send('PUT', location, { query: { digest: winner.digest } });
  t.equal(put.status, 201);
  t.same((await reg.send('GET', blobPath(winner.digest))).body, winner.bytes);
});

t.test('a PUT sent while a PATCH is in flight waits for it and commits its bytes', berthOnly('requests on one session are not serialised'), async (t) => {
  const { location } = await session(t);
  const b = randomBlob(6000);
  let go!: () => void;
  const released = new Promise<void>((r) => (go = r));
  const headers = { 'content-type': 'application/octet-stream', 'content-range': '0-5999' };
  const patching = reg.send('PATCH', location, { headers, body: held(b.bytes.subarray(0, 3000), b.bytes.subarray(3000), released) });
  await pause(300);
  const putting = reg.send('PUT', location, { query: { digest: b.digest } });
  await pause(300);
  go();
  const [patched, put] = await Promise.all([patching, putting]);
  t.equal(patched.status, 202, 'the PATCH completes');
  t.equal(put.status, 201, 'the PUT commits what the PATCH staged');
  t.same((await reg.send('GET', blobPath(b.digest))).body, b.bytes);
});

t.test("a session cannot be driven through another repository's path", async (t) => {
  const { location } = await session(t);
  const u = reg.url(location);
  const other = reg.url(u.pathname.replace(`/v2/${repo}/`, '/v2/conformance/intruder/') + u.search);
  t.not(other.pathname, u.pathname);
  const b = randomBlob(100);
  const put = await reg.send('PUT', other.toString(), { query: { digest: b.digest }, headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
  expectOciError(t, put, [400, 404], ['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID']);
  t.equal((await reg.send('HEAD', blobPath(b.digest, 'conformance/intruder'))).status, 404, 'nothing stored in the other repository');
  t.equal((await reg.send('HEAD', blobPath(b.digest))).status, 404, 'nor in the session repository');
  t.equal((await reg.send('GET', location)).status, 204, 'the session is still usable where it belongs');
});
