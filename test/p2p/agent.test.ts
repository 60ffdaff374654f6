// The agent's local endpoint: streaming as pieces verify, Range, one download however many clients, the cache
// (hits, LRU limit, restart), pull-only, small blobs relayed, and the origin's egress cap.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { digestOf } from '../../core/digest.js';
import { OciClient } from '../../core/oci-client.js';
import { startBerth } from '../helpers/berth-process.js';
import { MiB, fetchDigest, metric, pushImage, startAgentProcess } from './swarm-fixtures.js';

// An origin capped at 16 MiB/s: slow enough to watch a download stream, and the cap is itself under test.
const cap = 16 * MiB;
const origin = await startBerth({ env: { BERTH_EGRESS_LIMIT: String(cap) } });
t.teardown(() => origin.stop());
const img = await pushImage(origin.url, 'team/app', 'v1', 24 * MiB);
const blobUrl = (base: string, digest = img.layer.digest) => `${base}/v2/${img.repository}/blobs/${digest}`;
const served = () => metric(origin.url, 'berth_blob_bytes_served_total');

t.test('the origin caps every blob byte it sends (BERTH_EGRESS_LIMIT)', async (t) => {
  const before = await served();
  const started = Date.now();
  const r = await fetchDigest(blobUrl(origin.url));
  const seconds = (Date.now() - started) / 1000;
  t.equal(r.digest, img.layer.digest);
  t.ok(seconds >= (img.layer.size / cap) * 0.85, `a direct GET of 24 MiB at 16 MiB/s took ${seconds.toFixed(2)} s`);
  t.equal((await served()) - before, img.layer.size, 'berth_blob_bytes_served_total counts the GET');
});

t.test('one agent: streams before the download ends, one download for many clients, then serves from its cache', async (t) => {
  const agent = await startAgentProcess({ origin: origin.url });
  t.teardown(() => agent.stop());
  const before = await served();

  // Five clients at once; the first byte comes long before the whole layer could have crossed the capped origin.
  const started = Date.now();
  let firstByteMs = 0;
  const first = fetch(blobUrl(agent.url)).then(async (r) => {
    const reader = r.body!.getReader();
    await reader.read();
    firstByteMs = Date.now() - started;
    for (;;) if ((await reader.read()).done) break;
  });
  const others = Array.from({ length: 4 }, () => fetchDigest(blobUrl(agent.url)));
  await first;
  const results = await Promise.all(others);
  const totalMs = Date.now() - started;
  for (const r of results) t.same(r, { status: 200, digest: img.layer.digest, bytes: img.layer.size });
  t.ok(firstByteMs < totalMs / 3, `first byte after ${firstByteMs} ms, last after ${totalMs} ms`);
  const copies = ((await served()) - before) / img.layer.size;
  t.ok(copies < 1.2, `five clients, one download: the origin sent ${copies.toFixed(2)} copies`);
  t.equal(await metric(agent.url, 'berth_agent_cache_misses_total'), 1, 'one download');

  // From the cache now: whole, ranges, HEAD; the origin sends no blob bytes.
  const mid = await served();
  t.same(await fetchDigest(blobUrl(agent.url)), { status: 200, digest: img.layer.digest, bytes: img.layer.size });
  const ranged = await fetch(blobUrl(agent.url), { headers: { Range: 'bytes=1000-1999' } });
  t.equal(ranged.status, 206);
  t.equal(ranged.headers.get('content-range'), `bytes 1000-1999/${img.layer.size}`);
  t.ok(Buffer.from(await ranged.arrayBuffer()).equals(img.layer.bytes.subarray(1000, 2000)), 'the range holds the right bytes');
  const head = await fetch(blobUrl(agent.url), { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), String(img.layer.size));
  t.equal(head.headers.get('docker-content-digest'), img.layer.digest);
  t.equal((await served()) - mid, 0, 'cache hits cost the origin no blob bytes');
  t.ok((await metric(agent.url, 'berth_agent_cache_hits_total')) >= 2, 'cache hits are counted');

  // Small blobs and manifests are relayed; writes are refused.
  const config = await fetchDigest(blobUrl(agent.url, img.config.digest));
  t.same(config, { status: 200, digest: img.config.digest, bytes: img.config.size }, 'the config blob is relayed from the origin');
  t.ok((await metric(agent.url, 'berth_agent_bytes_from_origin_total', { path: 'proxy' })) >= img.config.size);
  const manifest = await fetch(`${agent.url}/v2/${img.repository}/manifests/${img.tag}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  t.equal(manifest.status, 200);
  t.equal(manifest.headers.get('docker-content-digest'), img.manifest);
  await manifest.arrayBuffer();
  const push = await fetch(`${agent.url}/v2/${img.repository}/blobs/uploads/`, { method: 'POST' });
  t.equal(push.status, 405, 'the agent is pull-only');
  await push.arrayBuffer();
  const unknown = await fetch(blobUrl(agent.url, digestOf('nothing')));
  t.equal(unknown.status, 404, 'the origin decides what exists');
  await unknown.arrayBuffer();
});

t.test('the cache keeps to its size limit, least recently used out first, and survives a restart', async (t) => {
  const client = new OciClient({ baseUrl: origin.url });
  const blobs = [0, 1, 2].map(() => randomBytes(3 * MiB));
  const digests = blobs.map((b) => digestOf(b));
  for (const [i, b] of blobs.entries()) await client.uploadBlob('team/cache', digests[i]!, b.length, async (o) => Readable.from([b.subarray(o)]));
  const url = (base: string, d: string) => `${base}/v2/team/cache/blobs/${d}`;
  const env = { BERTH_AGENT_CACHE_MAX: String(7 * MiB) };
  const agent = await startAgentProcess({ origin: origin.url, env });
  let dataDirOwned = true;
  t.teardown(async () => {
    if (dataDirOwned) await agent.stop();
  });
  for (const d of digests) t.equal((await fetchDigest(url(agent.url, d))).digest, d);
  const status = (await (await fetch(`${agent.url}/p2p/status`)).json()) as { cache: { bytes: number; blobs: { digest: string }[] } };
  t.same(status.cache.blobs.map((b) => b.digest).sort(), [digests[1], digests[2]].sort(), 'the oldest blob was evicted');
  t.ok(status.cache.bytes <= 7 * MiB);

  await agent.kill();
  dataDirOwned = false;
  const again = await startAgentProcess({ origin: origin.url, dataDir: agent.dataDir, env, removeData: true });
  t.teardown(() => again.stop());
  const before = await served();
  t.equal((await fetchDigest(url(again.url, digests[2]!))).digest, digests[2]);
  t.equal(await metric(again.url, 'berth_agent_cache_hits_total'), 1, 'after a restart the cached blob is a hit');
  t.equal((await served()) - before, 0, 'and the origin sent nothing for it');
});
