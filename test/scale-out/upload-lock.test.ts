// Two `berth serve` processes on one data directory and one SQLite file — what BERTH_WORKERS=2 runs — and one
// upload session: a request arriving at the second process while the first is still streaming a PATCH waits for
// it (a lease in the MetaStore), instead of working on the same staged file at the same time.
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startBerth } from '../helpers/berth-process.js';

const dataDir = await mkdtemp(join(tmpdir(), 'berth-two-workers-'));
const a = await startBerth({ dataDir });
const b = await startBerth({ dataDir });
t.teardown(async () => {
  await a.stop();
  await b.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const sha = (buf: Buffer) => `sha256:${createHash('sha256').update(buf).digest('hex')}`;

/** A PATCH whose body is sent in two halves; the second half only when `release` resolves. */
function slowPatch(url: string, body: Buffer, release: Promise<void>): { started: Promise<void>; done: Promise<{ status: number; range?: string }> } {
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  const done = new Promise<{ status: number; range?: string }>((resolve, reject) => {
    const req = request(url, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length, 'Content-Range': `0-${body.length - 1}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, range: res.headers.range as string | undefined }));
    });
    req.on('error', reject);
    const half = body.length >> 1;
    req.write(body.subarray(0, half), () => started());
    void release.then(() => req.end(body.subarray(half)));
  });
  return { started: startedP, done };
}

t.test('a PUT through one process waits for the PATCH another process is still streaming', async (t) => {
  const post = await fetch(`${a.url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
  t.equal(post.status, 202);
  const path = post.headers.get('location')!;
  const body = randomBytes(4 * 1024 * 1024);

  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const slow = slowPatch(`${a.url}${path}`, body, released);
  await slow.started;
  await new Promise((r) => setTimeout(r, 300)); // a has staged part of the body and waits for the rest
  // What is staged so far (the status GET takes no lock).
  const status = await fetch(`${b.url}${path}`);
  t.equal(status.status, 204);
  const staged = Number(status.headers.get('range')!.split('-')[1]) + 1;
  t.ok(staged > 0 && staged < body.length, `part of the body is staged (${staged} bytes)`);
  const firstHalf = body.subarray(0, staged);

  // b is asked to commit what is staged so far. Were it not to wait, it would publish the staged file as the
  // staged part's digest while a goes on writing into it: a visible blob whose bytes are not its digest.
  const put = fetch(`${b.url}${path}${path.includes('?') ? '&' : '?'}digest=${sha(firstHalf)}`, { method: 'PUT' });
  await new Promise((r) => setTimeout(r, 300));
  release();
  const [ra, rb] = await Promise.all([slow.done, put]);
  t.equal(ra.status, 202, "a's PATCH is staged whole");
  t.equal(ra.range, `0-${body.length - 1}`);
  t.equal(rb.status, 400, 'b waited for it, then found the staged bytes do not match');
  t.match(await rb.text(), /"code":"DIGEST_INVALID"/);

  const got = await fetch(`${a.url}/v2/team/app/blobs/${sha(firstHalf)}`);
  const bytes = Buffer.from(await got.arrayBuffer());
  t.equal(got.status, 404, 'nothing became visible under the digest of the staged part');
  t.not(got.status === 200 && sha(bytes) !== sha(firstHalf), true, 'no blob whose bytes differ from its digest');
});
