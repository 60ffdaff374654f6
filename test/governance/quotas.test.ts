// Project storage quotas through real `berth serve` processes: Harbor's /quotas and project summary, usage
// counted each digest once per project, refusals that name project, limit and usage (skopeo prints them),
// concurrent pushes from two instances on one Redis that never overshoot, and usage equal to a full recount
// after 200 random pushes and deletes and a GC.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import { AdminApi, ADMIN_PASSWORD, admin, basic, startTokenBerth } from '../auth/access.js';
import { berthBin, childEnv, startBerth } from '../helpers/berth-process.js';
import { blobOf, descriptorOf, imageConfig, ociManifest, randomBlob, writeOciLayout, type Blob, type Image } from '../helpers/oci-fixtures.js';
import { startRedis } from '../helpers/redis-server.js';

const auth = { Authorization: basic(admin) };

async function pushBlob(base: string, repo: string, b: Blob): Promise<{ status: number; body: any; reason: string }> {
  const r = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(b.digest)}`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/octet-stream', 'Content-Length': String(b.size) },
    body: b.bytes,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined, reason: r.statusText };
}

/** An image over the given layers (a config of its own, so each image's manifest differs). */
function imageOf(layers: Blob[]): Image {
  const config = imageConfig(layers.map((l) => l.digest), { os: 'linux', architecture: 'amd64' });
  return { manifest: ociManifest({ config: descriptorOf(config), layers: layers.map((l) => descriptorOf(l, { mediaType: 'application/vnd.oci.image.layer.v1.tar' })) }), blobs: [config, ...layers], children: [] };
}

async function push(base: string, repo: string, tag: string, img: Image): Promise<number> {
  for (const b of img.blobs) {
    const r = await pushBlob(base, repo, b);
    if (r.status !== 201) return r.status;
  }
  const r = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { ...auth, 'Content-Type': img.manifest.mediaType }, body: img.manifest.bytes });
  await r.arrayBuffer();
  return r.status;
}

/** What the project holds, counted from the stores: each distinct blob-link or manifest digest once. */
async function recount(meta: MetaStore, project: string): Promise<number> {
  const sizes = new Map<string, number>();
  for (const repo of await meta.listRepositories()) {
    if (!repo.startsWith(`${project}/`)) continue;
    for (const l of await meta.listBlobLinks(repo)) sizes.set(l.digest, l.size);
    for (const m of await meta.listManifests(repo)) sizes.set(m.digest, m.size);
  }
  // Repositories holding only links are not in the catalog; the catalog is enough here because every test
  // repository gets a manifest first.
  return [...sizes.values()].reduce((a, b) => a + b, 0);
}

async function quotaOf(api: AdminApi, project: string): Promise<{ id: number; hard: number; used: number }> {
  const list = (await api.get('/quotas?page_size=100')).json as { id: number; ref: { name: string }; hard: { storage: number }; used: { storage: number } }[];
  const q = list.find((x) => x.ref.name === project);
  if (!q) throw new Error(`no quota for ${project}`);
  return { id: q.id, hard: q.hard.storage, used: q.used.storage };
}

t.test('Harbor shapes: quota on create, /quotas, PUT, summary; usage counts a blob once per project', async (t) => {
  const berth = await startTokenBerth(t, { BERTH_STORAGE_PER_PROJECT: '5000000' });
  const api = new AdminApi(berth.url, admin);
  t.equal((await api.post('/projects', { project_name: 'dflt' })).status, 201);
  t.equal((await quotaOf(api, 'dflt')).hard, 5_000_000, 'a new project takes storage_per_project');
  t.equal((await quotaOf(api, 'library')).hard, 5_000_000, 'library got one at start');
  t.equal((await api.post('/projects', { project_name: 'q1', storage_limit: 20_000 })).status, 201);
  t.equal((await api.post('/projects', { project_name: 'bad', storage_limit: -5 })).status, 400, 'a negative limit other than -1 is refused');
  const q = await quotaOf(api, 'q1');
  t.same(q, { id: q.id, hard: 20_000, used: 0 });
  const one = (await api.get(`/quotas/${q.id}`)).json;
  t.same(Object.keys(one).sort(), ['creation_time', 'hard', 'id', 'ref', 'update_time', 'used']);
  t.equal(one.ref.owner_name, 'admin');
  t.equal((await api.get(`/quotas?reference=project&reference_id=${one.ref.id}`)).json.length, 1, 'filter by project id');

  const layer = randomBlob(3000);
  const img = imageOf([layer]);
  t.equal(await push(berth.url, 'q1/a', 'v1', img), 201);
  const expected = img.blobs.reduce((n, b) => n + b.size, 0) + img.manifest.bytes.length;
  t.equal((await quotaOf(api, 'q1')).used, expected, 'config, layer and manifest');
  t.equal(await push(berth.url, 'q1/b', 'v1', img), 201);
  t.equal((await quotaOf(api, 'q1')).used, expected, 'the same content in a second repository is not counted again');
  const summary = (await api.get('/projects/q1/summary')).json;
  t.same(summary.quota, { hard: { storage: 20_000 }, used: { storage: expected } });
  t.equal(summary.repo_count, 2);
  t.equal(summary.project_admin_count, 1);

  const big = randomBlob(20_000);
  const refused = await pushBlob(berth.url, 'q1/a', big);
  t.equal(refused.status, 403);
  t.equal(refused.body.errors[0].code, 'DENIED');
  t.match(refused.body.errors[0].message, /quota exceeded: project q1 .* storage limit \(usage /);
  t.same(refused.body.errors[0].detail, { project: 'q1', limit: 20_000, usage: expected, adding: 20_000 });
  t.equal((await quotaOf(api, 'q1')).used, expected, 'a refusal changes nothing');

  t.equal((await api.put(`/quotas/${q.id}`, { hard: { storage: 100_000 } })).status, 200);
  t.equal((await api.put(`/quotas/${q.id}`, { hard: { storage: 0 } })).status, 400);
  t.equal((await pushBlob(berth.url, 'q1/a', big)).status, 201, 'allowed once the limit is raised');
  t.equal((await api.get('/projects/q1')).status, 200);
  t.equal((await api.put(`/quotas/${q.id}`, { hard: { storage: -1 } })).status, 200, '-1 is unlimited');
  t.equal((await pushBlob(berth.url, 'q1/a', randomBlob(200_000))).status, 201);
});

t.test('skopeo shows the refusal: project, limit and usage', async (t) => {
  const berth = await startTokenBerth(t);
  const api = new AdminApi(berth.url, admin);
  t.equal((await api.post('/projects', { project_name: 'tight', storage_limit: 4096 })).status, 201);
  const dir = await mkdtemp(join(tmpdir(), 'berth-quota-skopeo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeOciLayout(join(dir, 'layout'), [{ tag: 'v1', image: imageOf([randomBlob(10_000)]) }]);
  await writeFile(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await rm('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  const run = promisify(execFile)('skopeo', ['--policy', join(dir, 'policy.json'), 'copy', '--dest-tls-verify=false', '--dest-creds', `admin:${ADMIN_PASSWORD}`,
    `oci:${join(dir, 'layout')}:v1`, `docker://127.0.0.1:${berth.port}/tight/app:v1`]);
  const err = await run.then(() => undefined, (e: { stderr: string }) => e.stderr);
  t.ok(err, 'the copy fails');
  t.match(err, /quota exceeded: project tight would use .* of its 4\.0 KiB storage limit/, 'skopeo prints the reason');
  t.comment(err?.trim().split('\n').pop());
});

t.test('concurrent pushes through two instances on one Redis never overshoot the quota', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-quota-shared-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD, BERTH_META: 'redis', BERTH_REDIS_URL: redis.url };
  const a = await startBerth({ env, dataDir });
  t.teardown(() => a.stop());
  const b = await startBerth({ env, dataDir });
  t.teardown(() => b.stop());
  const api = new AdminApi(a.url, admin);
  const size = 1000;
  const limit = 25 * size + 500; // room for 25 blobs, not 26
  t.equal((await api.post('/projects', { project_name: 'edge', storage_limit: limit })).status, 201);
  const blobs = Array.from({ length: 60 }, () => randomBlob(size));
  const results = await Promise.all(blobs.map((blob, i) => pushBlob(i % 2 ? a.url : b.url, `edge/r${i % 3}`, blob)));
  const accepted = results.filter((r) => r.status === 201).length;
  t.equal(accepted, 25, 'exactly as many as fit');
  t.ok(results.every((r) => r.status === 201 || (r.status === 403 && r.body.errors[0].code === 'DENIED')), 'the rest refused with DENIED');
  const q = await quotaOf(new AdminApi(b.url, admin), 'edge');
  t.equal(q.used, 25 * size, 'usage is what was accepted, never past the limit');
});

t.test('usage equals a full recount after 200 random pushes and deletes, and after GC', async (t) => {
  const berth = await startTokenBerth(t, { BERTH_GC_GRACE_SECONDS: '0' });
  const api = new AdminApi(berth.url, admin);
  t.equal((await api.post('/projects', { project_name: 'rnd', storage_limit: -1 })).status, 201);
  const meta = await SqliteMetaStore.open({ path: join(berth.dataDir, 'meta.db') });
  t.teardown(() => meta.close());
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pool = Array.from({ length: 12 }, (_, i) => blobOf(`shared layer ${i} `.repeat(50 + i * 7)));
  const repos = ['rnd/a', 'rnd/b', 'rnd/c'];
  const pushed: { repo: string; tag: string; digest: string }[] = [];
  let pushes = 0;
  let deletes = 0;
  for (let i = 0; i < 200; i++) {
    const repo = repos[rand(3)]!;
    if (pushed.length === 0 || rand(3) > 0) {
      const layers = [pool[rand(pool.length)]!, ...(rand(2) ? [randomBlob(100 + rand(900))] : [])];
      const img = imageOf(layers);
      const tag = `t${rand(8)}`;
      if ((await push(berth.url, repo, tag, img)) !== 201) throw new Error('push failed');
      pushed.push({ repo, tag, digest: img.manifest.digest });
      pushes++;
    } else {
      const [victim] = pushed.splice(rand(pushed.length), 1);
      const r = await fetch(`${berth.url}/v2/${victim!.repo}/manifests/${victim!.digest}`, { method: 'DELETE', headers: auth });
      await r.arrayBuffer();
      t.ok(r.status === 202 || r.status === 404, `delete answers ${r.status}`);
      deletes++;
    }
  }
  t.comment(`${pushes} pushes, ${deletes} deletes`);
  const before = await recount(meta, 'rnd');
  t.equal((await quotaOf(api, 'rnd')).used, before, 'usage equals the recount before GC');
  const gc = await promisify(execFile)(process.execPath, [berthBin, 'gc', '--grace', '0'], { env: childEnv({ BERTH_DATA_DIR: berth.dataDir, BERTH_LOG_LEVEL: 'warn' }) });
  const report = JSON.parse(gc.stdout.trim().split('\n').pop()!) as { linksDeleted: number; manifestsDeleted: number };
  t.ok(report.linksDeleted + report.manifestsDeleted > 0, 'GC removed something');
  const after = await recount(meta, 'rnd');
  t.ok(after < before, `GC freed ${before - after} bytes`);
  t.equal((await quotaOf(api, 'rnd')).used, after, 'GC subtracted exactly what it removed');
});

t.test('drift (a charge whose push crashed before linking) is reconciled by the GC job\'s recount', async (t) => {
  const berth = await startTokenBerth(t);
  const api = new AdminApi(berth.url, admin);
  t.equal((await api.post('/projects', { project_name: 'drift', storage_limit: -1 })).status, 201);
  t.equal(await push(berth.url, 'drift/app', 'v1', imageOf([randomBlob(2000)])), 201);
  const meta = await SqliteMetaStore.open({ path: join(berth.dataDir, 'meta.db') });
  t.teardown(() => meta.close());
  const held = await recount(meta, 'drift');
  t.equal((await quotaOf(api, 'drift')).used, held);
  // What a crash between the charge and the link leaves: a charge nothing holds.
  await meta.chargeUsage('project:drift', `sha256:${'0'.repeat(64)}`, 12_345, -1);
  t.equal((await quotaOf(api, 'drift')).used, held + 12_345);
  await new Promise((r) => setTimeout(r, 10_500)); // past the in-flight window a recount leaves alone
  const started = await api.post('/system/gc/schedule', { schedule: { type: 'Manual' } });
  t.equal(started.status, 201);
  const id = Number(started.headers.get('location')!.split('/').pop());
  let run: any;
  for (let i = 0; i < 200; i++) {
    run = (await api.get(`/system/gc/${id}`)).json;
    if (run.job_status === 'Success' || run.job_status === 'Error') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(run.job_status, 'Success');
  const log = await (await fetch(`${berth.url}/api/v2.0/system/gc/${id}/log`, { headers: auth })).text();
  t.match(log, `quota usage recounted: drift ${held + 12_345} → ${held}`);
  t.equal((await quotaOf(api, 'drift')).used, held, 'usage equals what the project holds again');
});
