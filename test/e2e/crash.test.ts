// Durability under kill -9: an interrupted blob upload or manifest PUT leaves nothing visible, what was
// committed before survives, and a chunked upload continues after the restart from the offset the registry
// reports (spec: "Resumable Push"; GET on the session gives the offset).
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { acceptAllManifests, berthOnly, targetFor } from '../helpers/conformance-target.js';
import { image, manifestOfSize } from '../helpers/oci-fixtures.js';
import { digestOf } from '../../core/digest.js';

const MiB = 1024 * 1024;
const target = await targetFor(t);
const reg = target.client;
const repo = 'crash/app';

/**
 * Starts `method url` for `body`, sends only its first `sent` bytes, and leaves the connection open (the slow
 * client the registry is busy with when it dies). The body is declared in Content-Length, or, with `chunked`,
 * streamed with Transfer-Encoding: chunked as clients do when they do not know the length.
 */
async function startPartialRequest(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer,
  sent: number,
  chunked = false,
): Promise<Socket> {
  const sock = connect(Number(url.port), url.hostname);
  sock.on('error', () => {}); // the registry is about to die under it
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  const framing = chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) };
  const head = Object.entries({ ...headers, host: url.host, ...framing })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  sock.write(`${method} ${url.pathname}${url.search} HTTP/1.1\r\n${head}\r\n`);
  const part = body.subarray(0, sent);
  const wire = chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part;
  await new Promise<void>((resolve) => sock.write(wire, () => resolve()));
  // Let the registry read (and stage) what it was sent.
  await new Promise((r) => setTimeout(r, 500));
  return sock;
}

async function crashAndRestart(sock?: Socket): Promise<void> {
  await target.kill();
  sock?.destroy();
  await target.restart();
}

// Committed before any crash: must survive all of them.
const committed = image({ layers: 2, layerSize: 200_000 });
await reg.pushImage(repo, committed, 'committed');

async function expectCommittedIntact(t: Test): Promise<void> {
  const m = await reg.getManifest(repo, 'committed', acceptAllManifests);
  t.equal(m.status, 200, 'the image committed before the crash is there');
  t.ok(m.body.equals(committed.manifest.bytes));
  for (const b of committed.blobs) t.equal(digestOf((await reg.send('GET', `/v2/${repo}/blobs/${b.digest}`)).body), b.digest);
}

for (const streamed of [false, true]) {
  const how = streamed ? 'a streamed PATCH (no Content-Range)' : 'a PATCH with Content-Range';
  t.test(`kill -9 in the middle of ${how}: no blob after restart, the session reports its offset and the upload continues to 201`, berthOnly('a session interrupted mid-chunk cannot be resumed after a restart'), async (t) => {
    const chunk = 8 * MiB;
    const blob = randomBytes(3 * chunk);
    const digest = digestOf(blob);
    const post = await reg.startUpload(repo);
    t.equal(post.status, 202);
    const first = await reg.send('PATCH', post.headers.get('location')!, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${chunk - 1}` },
      body: blob.subarray(0, chunk),
    });
    t.equal(first.status, 202);
    const location = first.headers.get('location')!;

    // The second chunk is on the wire, 3 MiB of 8 sent, when the registry dies.
    const sent = 3 * MiB;
    const sock = await startPartialRequest(
      reg.url(location),
      'PATCH',
      streamed ? { 'content-type': 'application/octet-stream' } : { 'content-type': 'application/octet-stream', 'content-range': `${chunk}-${2 * chunk - 1}` },
      blob.subarray(chunk, 2 * chunk),
      sent,
      streamed,
    );
    await crashAndRestart(sock);

    t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${digest}`)).status, 404, 'no blob is visible');
    const status = await reg.send('GET', location);
    t.equal(status.status, 204, 'the session survived the crash');
    const range = /^0-(\d+)$/.exec(status.headers.get('range') ?? '');
    t.ok(range, 'Range 0-<end>', { range: status.headers.get('range') });
    const offset = Number(range?.[1]) + 1;
    // Either the interrupted chunk was dropped or the bytes that arrived were kept; never more, never less than chunk 1.
    t.ok(offset >= chunk && offset <= chunk + sent, `offset ${offset} between ${chunk} and ${chunk + sent}`);

    let next = status.headers.get('location') ?? location;
    for (let start = offset; start < blob.length; start += chunk) {
      const part = blob.subarray(start, Math.min(start + chunk, blob.length));
      const r = await reg.send('PATCH', next, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + part.length - 1}` },
        body: part,
      });
      t.equal(r.status, 202, `chunk at ${start} after the restart`);
      next = r.headers.get('location')!;
    }
    const put = await reg.send('PUT', next, { query: { digest } });
    t.equal(put.status, 201, 'the continued upload completes');
    t.equal(put.headers.get('docker-content-digest'), digest);
    const get = await reg.send('GET', `/v2/${repo}/blobs/${digest}`);
    t.equal(get.body.length, blob.length);
    t.equal(digestOf(get.body), digest, 'with exactly the bytes of the original');
    await expectCommittedIntact(t);
  });
}

t.test('kill -9 in the middle of a monolithic blob PUT: no blob after restart, and it can be pushed again', async (t) => {
  const blob = randomBytes(16 * MiB);
  const digest = digestOf(blob);
  const post = await reg.startUpload(repo);
  const sock = await startPartialRequest(
    reg.url(post.headers.get('location')!, { digest }),
    'PUT',
    { 'content-type': 'application/octet-stream' },
    blob,
    5 * MiB,
  );
  await crashAndRestart(sock);
  t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${digest}`)).status, 404, 'no blob is visible');
  await reg.pushBlob(repo, blob, digest);
  t.equal(digestOf((await reg.send('GET', `/v2/${repo}/blobs/${digest}`)).body), digest);
  await expectCommittedIntact(t);
});

t.test('kill -9 in the middle of a manifest PUT: after restart neither the manifest nor the tag move is visible', async (t) => {
  const before = image();
  await reg.pushImage(repo, before, 'moving');
  const img = image({ layers: 1 });
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  const big = manifestOfSize(img, 4 * MiB);
  const sock = await startPartialRequest(
    reg.url(`/v2/${repo}/manifests/moving`),
    'PUT',
    { 'content-type': big.mediaType },
    big.bytes,
    2 * MiB,
  );
  await crashAndRestart(sock);
  const tag = await reg.getManifest(repo, 'moving', acceptAllManifests);
  t.equal(tag.status, 200);
  t.ok(tag.body.equals(before.manifest.bytes), 'the tag still points at the previous manifest');
  t.equal((await reg.getManifest(repo, big.digest, acceptAllManifests, 'HEAD')).status, 404, 'the half-sent manifest is not there');
  await expectCommittedIntact(t);
});

t.test('kill -9 just after a manifest PUT was sent: the tag is all or nothing', async (t) => {
  const before = image();
  await reg.pushImage(repo, before, 'race');
  const img = image({ layers: 1 });
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  const big = manifestOfSize(img, 4 * MiB);
  // Whole body sent, response not awaited: the crash lands somewhere inside the registry's write path.
  const sock = await startPartialRequest(reg.url(`/v2/${repo}/manifests/race`), 'PUT', { 'content-type': big.mediaType }, big.bytes, big.bytes.length);
  await crashAndRestart(sock);
  const tag = await reg.getManifest(repo, 'race', acceptAllManifests);
  t.equal(tag.status, 200);
  const digest = tag.headers.get('docker-content-digest');
  t.ok(digest === before.manifest.digest || digest === big.digest, 'the tag names the old or the new manifest', { digest });
  t.equal(digestOf(tag.body), digest, 'and serves exactly its bytes');
  const byDigest = await reg.getManifest(repo, big.digest, acceptAllManifests);
  t.ok(byDigest.status === 404 || byDigest.body.equals(big.bytes), 'the new manifest is absent or whole');
  await expectCommittedIntact(t);
});
