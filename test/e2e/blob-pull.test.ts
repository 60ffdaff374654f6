// Blob GETs from a real `berth serve` on the fs store, where chunks are read into reused buffers and written by
// the server itself: bytes stay exact across chunk boundaries, with ranges, with many pulls at once, and a client
// that hangs up mid-body leaves the server serving the next one.
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import t from 'tap';
import { startBerth } from '../helpers/berth-process.js';

const berth = await startBerth();
t.teardown(() => berth.stop());

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
// More than two 4 MiB read units and not a multiple of one, so buffers are reused and the last chunk is short.
const blob = randomBytes(9 * 1024 * 1024 + 777);
const digest = sha(blob);

const post = await fetch(`${berth.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
const loc = new URL(post.headers.get('location')!, berth.url);
loc.searchParams.set('digest', digest);
const put = await fetch(loc, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: blob });
if (put.status !== 201) throw new Error(`push: ${put.status} ${await put.text()}`);
const url = `${berth.url}/v2/lib/app/blobs/${digest}`;

t.test('a GET returns the exact bytes with the headers set', async (t) => {
  const r = await fetch(url);
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-length'), String(blob.length));
  t.equal(r.headers.get('docker-content-digest'), digest);
  t.equal(r.headers.get('content-type'), 'application/octet-stream');
  t.ok(r.headers.get('x-request-id'));
  t.equal(sha(Buffer.from(await r.arrayBuffer())), digest);
});

t.test('a range across read units is the slice', async (t) => {
  const start = 4 * 1024 * 1024 - 10;
  const end = 8 * 1024 * 1024 + 10;
  const r = await fetch(url, { headers: { Range: `bytes=${start}-${end}` } });
  t.equal(r.status, 206);
  t.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${blob.length}`);
  t.ok(Buffer.from(await r.arrayBuffer()).equals(blob.subarray(start, end + 1)));
});

t.test('16 pulls at once are all exact', async (t) => {
  const got = await Promise.all(Array.from({ length: 16 }, async () => sha(Buffer.from(await (await fetch(url)).arrayBuffer()))));
  t.same(got, Array(16).fill(digest));
});

t.test('a client that hangs up mid-body leaves the server serving, its file closed', async (t) => {
  const openFiles = async () => (await readdir(`/proc/${berth.child.pid}/fd`)).length;
  const before = await openFiles();
  for (let i = 0; i < 5; i++) await hangUpMidBody();
  await new Promise((r) => setTimeout(r, 300));
  t.ok((await openFiles()) <= before + 2, 'no file handle left open per aborted pull');
  const r = await fetch(url);
  t.equal(r.status, 200);
  t.equal(sha(Buffer.from(await r.arrayBuffer())), digest);
  const health = await fetch(`${berth.url}/healthz`);
  t.equal(health.status, 200);
});

function hangUpMidBody(): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = request(url, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)));
    req.end();
  });
}
