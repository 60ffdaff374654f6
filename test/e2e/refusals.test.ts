// Refusals are 4xx/5xx with an OCI body and a reason, never `500 text/plain` or a bare `500 UNKNOWN`: an oversized
// token form, a chunked manifest over the limit, and a full disk (a 2 MiB tmpfs as the data directory).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startBerth } from '../helpers/berth-process.js';
import { randomBlob } from '../helpers/oci-fixtures.js';
import { startTokenBerth } from '../auth/access.js';

const MiB = 1024 * 1024;

/** `n` MiB of body sent with Transfer-Encoding: chunked (no Content-Length). */
function chunkedBody(n: number): ReadableStream<Uint8Array> {
  let left = n;
  return new ReadableStream({
    pull(c) {
      if (left-- > 0) c.enqueue(new Uint8Array(MiB).fill(32));
      else c.close();
    },
  });
}

t.test('an oversized token form without credentials answers 413 in JSON', async (t) => {
  const berth = await startTokenBerth(t);
  const r = await fetch(`${berth.url}/service/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `scope=${'x'.repeat(200_000)}`,
  });
  t.equal(r.status, 413);
  t.match(r.headers.get('content-type'), /application\/json/);
  await r.arrayBuffer();
});

t.test('a chunked manifest over 4 MiB with auth off answers 413 with an OCI body', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.stop());
  const r = await fetch(`${berth.url}/v2/big/app/manifests/latest`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: chunkedBody(6),
    duplex: 'half',
  } as RequestInit);
  t.equal(r.status, 413);
  const body = (await r.json()) as { errors: { code: string }[] };
  t.equal(body.errors[0]!.code, 'SIZE_INVALID');
});

const root = process.getuid?.() === 0;
t.test('a full disk answers 507 INSUFFICIENT_STORAGE naming ENOSPC, and leaves nothing half-written', { skip: !root && 'mounting a tmpfs needs root' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
  t.teardown(async () => {
    execFileSync('umount', ['-l', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  const berth = await startBerth({ dataDir: dir });
  t.teardown(() => berth.stop());
  const blob = randomBlob(3 * MiB);
  const r = await fetch(`${berth.url}/v2/full/app/blobs/uploads/?digest=${blob.digest}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
    body: blob.bytes,
  });
  t.equal(r.status, 507);
  const body = (await r.json()) as { errors: { code: string; detail: { reason: string } }[] };
  t.equal(body.errors[0]!.code, 'INSUFFICIENT_STORAGE');
  t.equal(body.errors[0]!.detail.reason, 'ENOSPC');
  const head = await fetch(`${berth.url}/v2/full/app/blobs/${blob.digest}`, { method: 'HEAD' });
  t.equal(head.status, 404, 'the blob is not visible');
  const files = execFileSync('find', [dir, '-type', 'f', '-size', '+512k']).toString().trim();
  t.equal(files, '', 'no partial blob is left in blobs or staging');
});
