// Berth on Redis + S3 when either goes away: OCI requests answer 503 with an UNAVAILABLE error body quickly (no
// hanging clients), /healthz says 503, and once the store is back on the same address the same process serves
// again. Nothing is half-written: an upload in flight survives the outage and can be finished, and a manifest
// pushed during one leaves no tag behind.
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { digestOf } from '../../core/digest.js';
import { startBerth } from '../helpers/berth-process.js';
import { acceptAllManifests, expectOciError, RegistryClient, type Reply } from '../helpers/conformance-target.js';
import { image } from '../helpers/oci-fixtures.js';
import { startSharedStores } from '../helpers/shared-stores.js';

const MiB = 1024 * 1024;
const stores = await startSharedStores();
t.teardown(() => stores.stop());
const berth = await startBerth({ env: stores.env() });
t.teardown(() => berth.stop());
const reg = new RegistryClient(berth.url);
const repo = 'fail/app';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pushed = image({ layers: 2, layerSize: 100_000 });
await reg.pushImage(repo, pushed, 'v1');

/** Sends the request and measures how long the answer took. */
async function timed(send: () => Promise<Reply>): Promise<{ reply: Reply; ms: number }> {
  const start = performance.now();
  const reply = await send();
  return { reply, ms: performance.now() - start };
}

/** 503 with an OCI UNAVAILABLE body (HEAD: status only) within 2 s. */
async function expectUnavailable(t: Test, what: string, send: () => Promise<Reply>, head = false): Promise<void> {
  const { reply, ms } = await timed(send);
  t.ok(ms < 2000, `${what}: answered in ${ms.toFixed(0)} ms (< 2 s)`);
  if (head) t.equal(reply.status, 503, `${what}: 503`);
  else expectOciError(t, reply, 503, 'UNAVAILABLE', what);
}

async function healthz(): Promise<{ status: number; body: { status?: string; reason?: string } }> {
  const r = await fetch(`${berth.url}/healthz`);
  return { status: r.status, body: (await r.json()) as { status?: string } };
}

/** Polls /healthz until 200; the time it took. */
async function untilHealthy(limitMs = 15_000): Promise<number> {
  const start = performance.now();
  while ((await healthz()).status !== 200) {
    if (performance.now() - start > limitMs) throw new Error(`not healthy within ${limitMs} ms:\n${berth.output().slice(-2000)}`);
    await sleep(50);
  }
  return performance.now() - start;
}

async function expectImageServed(t: Test, ref: string): Promise<void> {
  const m = await reg.getManifest(repo, ref, acceptAllManifests);
  t.equal(m.status, 200, `${repo}:${ref} served`);
  t.ok(m.body.equals(pushed.manifest.bytes), 'same manifest bytes');
  for (const b of pushed.blobs) t.equal(digestOf((await reg.send('GET', `/v2/${repo}/blobs/${b.digest}`)).body), b.digest, 'blob intact');
}

/** POST a session and PATCH `first` into it; the session's Location. */
async function beginUpload(first: Buffer): Promise<string> {
  const post = await reg.startUpload(repo);
  const patch = await reg.send('PATCH', post.headers.get('location')!, {
    headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${first.length - 1}` },
    body: first,
  });
  if (patch.status !== 202) throw new Error(`PATCH: ${patch.status} ${patch.text()}`);
  return patch.headers.get('location')!;
}

t.test('Redis killed: 503 UNAVAILABLE within 2 s on every OCI route that needs it, /healthz 503; back on its port: serving again, the upload begun before finishes', async (t) => {
  const first = randomBytes(3 * MiB);
  const second = randomBytes(2 * MiB);
  const location = await beginUpload(first);
  const other = image({ layers: 1, layerSize: 1000 });
  await expectImageServed(t, 'v1'); // its tag, manifest record and blob links now sit in the instance's cache

  await stores.killRedis();
  await expectUnavailable(t, 'GET manifest by tag (cached a moment ago: the cache is off while Redis is away)', () => reg.getManifest(repo, 'v1', acceptAllManifests));
  await expectUnavailable(t, 'HEAD manifest by digest', () => reg.getManifest(repo, pushed.manifest.digest, acceptAllManifests, 'HEAD'), true);
  await expectUnavailable(t, 'GET blob', () => reg.send('GET', `/v2/${repo}/blobs/${pushed.blobs[1]!.digest}`));
  await expectUnavailable(t, 'HEAD blob', () => reg.send('HEAD', `/v2/${repo}/blobs/${pushed.blobs[1]!.digest}`), true);
  await expectUnavailable(t, 'GET tags/list', () => reg.send('GET', `/v2/${repo}/tags/list`));
  await expectUnavailable(t, 'GET _catalog', () => reg.send('GET', '/v2/_catalog'));
  await expectUnavailable(t, 'POST upload', () => reg.startUpload(repo));
  await expectUnavailable(t, 'PATCH of the open session', () =>
    reg.send('PATCH', location, { headers: { 'content-type': 'application/octet-stream', 'content-range': `${first.length}-${first.length + second.length - 1}` }, body: second }),
  );
  await expectUnavailable(t, 'PUT manifest', () => reg.putManifest(repo, 'v2', other.manifest.bytes, other.manifest.mediaType));
  const h = await healthz();
  t.equal(h.status, 503, '/healthz 503');
  t.equal(h.body.status, 'unavailable');
  t.match(h.body.reason ?? '', /redis/i, '/healthz names Redis');

  await stores.restartRedis();
  const ms = await untilHealthy();
  t.ok(ms < 5000, `healthy again ${ms.toFixed(0)} ms after Redis restarted, same process`);
  t.equal(berth.child.exitCode, null, 'never restarted');
  await expectImageServed(t, 'v1');

  const status = await reg.send('GET', location);
  t.equal(status.status, 204, 'the session is still there');
  t.equal(status.headers.get('range'), `0-${first.length - 1}`, 'with every byte accepted before the outage');
  const patch = await reg.send('PATCH', location, {
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${first.length}-${first.length + second.length - 1}` },
    body: second,
  });
  t.equal(patch.status, 202);
  const digest = digestOf(Buffer.concat([first, second]));
  const put = await reg.send('PUT', patch.headers.get('location')!, { query: { digest } });
  t.equal(put.status, 201, 'finished after the outage');
  t.equal(digestOf((await reg.send('GET', `/v2/${repo}/blobs/${digest}`)).body), digest, 'blob intact');

  const v2 = await reg.getManifest(repo, 'v2', acceptAllManifests);
  expectOciError(t, v2, 404, 'MANIFEST_UNKNOWN', 'the manifest refused during the outage left no tag');
  t.notOk((await reg.send('GET', `/v2/${repo}/tags/list`)).json<{ tags: string[] }>().tags.includes('v2'));
});

t.test('Redis dies while a PATCH streams: the chunk lands (S3 holds it), the PUT waits for Redis, then finishes', async (t) => {
  const first = randomBytes(1 * MiB);
  const location = await beginUpload(first);
  const rest = randomBytes(12 * MiB);
  // A slow client: 12 × 1 MiB, 100 ms apart; Redis is killed after the third.
  let sent = 0;
  let sentThree!: () => void;
  const threeSent = new Promise<void>((r) => (sentThree = r));
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (sent >= rest.length) return c.close();
      c.enqueue(rest.subarray(sent, sent + MiB));
      sent += MiB;
      if (sent === 3 * MiB) sentThree();
      await sleep(100);
    },
  });
  const patching = reg.send('PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body });
  await threeSent;
  await stores.killRedis();
  const patch = await patching;
  t.equal(patch.status, 202, 'the PATCH completes: its bytes went to S3, its session was read before Redis died');
  const digest = digestOf(Buffer.concat([first, rest]));
  await expectUnavailable(t, 'PUT to finish while Redis is away', () => reg.send('PUT', location, { query: { digest } }));

  await stores.restartRedis();
  await untilHealthy();
  const status = await reg.send('GET', location);
  t.equal(status.headers.get('range'), `0-${first.length + rest.length - 1}`, 'every byte is in the session');
  const put = await reg.send('PUT', location, { query: { digest } });
  t.equal(put.status, 201, 'finished after the outage');
  t.equal(put.headers.get('docker-content-digest'), digest);
  const got = await reg.send('GET', `/v2/${repo}/blobs/${digest}`);
  t.equal(got.body.length, first.length + rest.length);
  t.equal(digestOf(got.body), digest, 'blob intact');
});

t.test('S3 killed: blob reads and writes 503 UNAVAILABLE within 2 s, /healthz 503, no tag for a manifest whose bytes could not be stored; back: serving again', async (t) => {
  const first = randomBytes(6 * MiB);
  const second = randomBytes(1 * MiB);
  const location = await beginUpload(first);
  const fresh = image({ layers: 1, layerSize: 2000 });
  for (const b of fresh.blobs) await reg.pushBlob(repo, b.bytes, b.digest);

  await stores.killS3();
  await expectUnavailable(t, 'GET blob', () => reg.send('GET', `/v2/${repo}/blobs/${pushed.blobs[1]!.digest}`));
  await expectUnavailable(t, 'POST upload', () => reg.startUpload(repo));
  await expectUnavailable(t, 'PATCH of the open session', () =>
    reg.send('PATCH', location, { headers: { 'content-type': 'application/octet-stream', 'content-range': `${first.length}-${first.length + second.length - 1}` }, body: second }),
  );
  await expectUnavailable(t, 'PUT manifest (its bytes go to S3 first)', () => reg.putManifest(repo, 'fresh', fresh.manifest.bytes, fresh.manifest.mediaType));
  const h = await healthz();
  t.equal(h.status, 503, '/healthz 503');

  await stores.restartS3();
  const ms = await untilHealthy();
  t.ok(ms < 5000, `healthy again ${ms.toFixed(0)} ms after S3 restarted, same process`);
  await expectImageServed(t, 'v1');
  expectOciError(t, await reg.getManifest(repo, 'fresh', acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'no tag without its manifest');

  const status = await reg.send('GET', location);
  t.equal(status.headers.get('range'), `0-${first.length - 1}`, 'the session kept what it had before the outage');
  const patch = await reg.send('PATCH', location, {
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${first.length}-${first.length + second.length - 1}` },
    body: second,
  });
  t.equal(patch.status, 202);
  const digest = digestOf(Buffer.concat([first, second]));
  t.equal((await reg.send('PUT', location, { query: { digest } })).status, 201, 'the upload finishes');
  t.equal(digestOf((await reg.send('GET', `/v2/${repo}/blobs/${digest}`)).body), digest);
  const again = await reg.putManifest(repo, 'fresh', fresh.manifest.bytes, fresh.manifest.mediaType);
  t.equal(again.status, 201, 'the manifest refused during the outage is accepted now');
  t.equal((await reg.getManifest(repo, 'fresh', acceptAllManifests)).status, 200);
});
