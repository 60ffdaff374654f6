import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadServerConfig } from '../../core/config.js';
import { createLogger } from '../../core/log.js';
import { OciClient } from '../../core/oci-client.js';
import type { Digest } from '../../core/digest.js';
import { openBlobStore, openMetaStore } from '../../storage-adapters/open.js';
import { startRegistry } from '../../server/serve.js';
import { collectGarbage } from '../../registry/gc.js';
import { allBlobs, artifact, blobOf, descriptorOf, image, ociManifest, type Image } from '../helpers/oci-fixtures.js';
import { berthBin, startBerth } from '../helpers/berth-process.js';

const run = promisify(execFile);
const HOUR = 3600_000;

async function push(client: OciClient, repository: string, img: Image, reference: string): Promise<void> {
  for (const child of img.children) await push(client, repository, child, child.manifest.digest);
  for (const b of img.blobs) await client.uploadBlob(repository, b.digest as Digest, b.size, async () => Readable.from([b.bytes]));
  await client.putManifest(repository, reference, img.manifest.bytes, img.manifest.mediaType);
}

t.test('GC keeps what tags and referrers reach, and after the grace period sweeps the rest', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-gc-'));
  const config = loadServerConfig({ env: { BERTH_AUTH: 'none', BERTH_ADDR: '127.0.0.1:0', BERTH_DATA_DIR: dataDir, BERTH_LOG_LEVEL: 'silent' } });
  const log = createLogger('silent');
  const blobs = await openBlobStore(config);
  const meta = await openMetaStore(config);
  const registry = await startRegistry(config, log, { blobs, meta });
  t.teardown(async () => {
    await registry.close();
    await blobs.close();
    await meta.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const port = (registry.server.address() as { port: number }).port;
  const base = `http://127.0.0.1:${port}`;
  const client = new OciClient({ baseUrl: base });
  const repo = 'team/app';

  const kept = image({ layers: 2 });
  // The image whose tag is deleted shares one layer with `kept`: that layer must survive.
  const droppedImg = image({ layers: 1 });
  droppedImg.blobs.push(kept.blobs[1]!);
  droppedImg.manifest = ociManifest({ config: descriptorOf(droppedImg.blobs[0]!), layers: droppedImg.blobs.slice(1).map((b) => descriptorOf(b)) });
  const sbom = artifact({ artifactType: 'application/vnd.example.sbom', subject: kept.manifest, blobs: [blobOf('sbom-content', 'application/json')] });
  const untagged = image({ layers: 1 });
  const orphan = blobOf('uploaded but never referenced');

  await push(client, repo, kept, 'kept');
  await push(client, repo, droppedImg, 'dropped');
  await push(client, repo, sbom, sbom.manifest.digest);
  await push(client, repo, untagged, untagged.manifest.digest);
  await client.uploadBlob(repo, orphan.digest as Digest, orphan.size, async () => Readable.from([orphan.bytes]));
  const stale = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const staleLocation = stale.headers.get('location')!;
  t.ok(await client.deleteManifest(repo, 'dropped'), 'tag deleted');

  const young = await collectGarbage({ blobs, meta, log }, { graceMs: HOUR, uploadTtlMs: HOUR });
  t.match(young, { manifestsDeleted: 0, linksDeleted: 0, blobsDeleted: 0, uploadsPurged: 0 }, 'inside the grace period nothing goes');
  t.ok(await client.headManifest(repo, droppedImg.manifest.digest), 'untagged manifest still there during grace');

  const later = () => Date.now() + 2 * HOUR;
  const report = await collectGarbage({ blobs, meta, log }, { graceMs: HOUR, uploadTtlMs: HOUR, now: later });
  t.equal(report.manifestsDeleted, 2, 'the untagged image and the unrelated untagged manifest');
  t.equal(report.uploadsPurged, 1, 'the stale upload session');
  t.ok(report.blobsDeleted >= 5, `blobs swept (${report.blobsDeleted})`);

  for (const b of allBlobs(kept)) t.equal(await client.headBlob(repo, b.digest as Digest), b.size, `kept blob ${b.digest.slice(7, 19)}`);
  t.ok(await client.getManifest(repo, 'kept'), 'tagged manifest kept');
  t.ok(await client.headManifest(repo, sbom.manifest.digest), 'referrer of a kept manifest kept');
  for (const b of sbom.blobs) t.ok(await blobs.stat(b.digest as Digest), 'referrer blobs kept');
  t.equal(await client.headManifest(repo, droppedImg.manifest.digest), undefined, 'untagged manifest gone');
  t.equal(await client.headManifest(repo, untagged.manifest.digest), undefined, 'unrelated untagged manifest gone');
  t.equal(await blobs.stat(droppedImg.blobs[0]!.digest as Digest), undefined, "the dropped image's own config bytes are gone");
  t.equal(await blobs.stat(orphan.digest as Digest), undefined, 'orphan blob bytes are gone');
  t.equal(await client.headBlob(repo, orphan.digest as Digest), undefined, 'orphan blob no longer served');
  t.equal(await blobs.stat(droppedImg.manifest.digest as Digest), undefined, 'manifest bytes are gone');
  t.equal((await fetch(`${base}${staleLocation}`)).status, 404, 'stale upload session gone');
  t.same(await client.listTags(repo), ['kept']);

  const again = await collectGarbage({ blobs, meta, log }, { graceMs: HOUR, uploadTtlMs: HOUR, now: later });
  t.match(again, { manifestsDeleted: 0, linksDeleted: 0, blobsDeleted: 0, uploadsPurged: 0 }, 'a second pass finds nothing');
});

t.test('a collector already running keeps a second one out', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-gc-lock-'));
  const config = loadServerConfig({ env: { BERTH_DATA_DIR: dataDir } });
  const blobs = await openBlobStore(config);
  const meta = await openMetaStore(config);
  t.teardown(async () => {
    await blobs.close();
    await meta.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const lock = await meta.acquireLock('gc', 60_000);
  t.ok(lock);
  const report = await collectGarbage({ blobs, meta, log: createLogger('silent') }, { graceMs: 0, uploadTtlMs: HOUR });
  t.equal(report.skipped, 'locked');
  await lock!.release();
});

t.test('`berth gc` runs as its own process beside a serving registry', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.stop());
  const client = new OciClient({ baseUrl: berth.url });
  const a = image();
  const b = image();
  await push(client, 'x/y', a, 'a');
  await push(client, 'x/y', b, 'b');
  await client.deleteManifest('x/y', 'b');
  const env = { ...process.env, BERTH_DATA_DIR: berth.dataDir, BERTH_LOG_LEVEL: 'silent' };
  const dry = await run(process.execPath, [berthBin, 'gc', '--grace', '0', '--dry-run'], { env });
  t.match(JSON.parse(dry.stdout), { manifestsDeleted: 1 }, 'dry run reports');
  t.ok(await client.headManifest('x/y', b.manifest.digest), 'dry run removes nothing');
  const real = await run(process.execPath, [berthBin, 'gc', '--grace', '0'], { env });
  const report = JSON.parse(real.stdout);
  t.equal(report.manifestsDeleted, 1);
  t.equal(report.blobsDeleted, 1 + b.blobs.length, 'manifest bytes + config + layers of the untagged image');
  t.equal(await client.headManifest('x/y', b.manifest.digest), undefined);
  const pulled = await client.getManifest('x/y', 'a');
  t.ok(pulled?.bytes.equals(a.manifest.bytes), 'the running server still serves what is tagged');
  for (const blob of a.blobs) t.equal(await client.headBlob('x/y', blob.digest as Digest), blob.size);
  const bad = await run(process.execPath, [berthBin, 'gc', '--grace', 'soon'], { env }).catch((e: { code: number; stderr: string }) => e);
  t.match(bad, { code: 2, stderr: /--grace must be/ }, 'bad option: clear message, exit 2');
});
