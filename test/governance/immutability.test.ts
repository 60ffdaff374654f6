// Immutable tag rules through real `berth serve` processes: Harbor's /projects/{p}/immutabletagrules CRUD, the
// OCI overwrite and deletes refused with a readable reason (skopeo prints it), excludes and disabled rules, and
// the partition case: two IDCs that wrote the same immutable tag differently keep their own value, the
// replication task of the newer writer fails saying why, and the refusing side lists the conflict.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { AdminApi, ADMIN_PASSWORD, admin, basic, deleteTag, pushImage, startTokenBerth } from '../auth/access.js';
import { OciClient } from '../../core/oci-client.js';
import { addPolicy, addRegistry, api, startExecution, startIdc, waitExecution } from '../helpers/idc.js';
import { image, writeOciLayout } from '../helpers/oci-fixtures.js';
import { startBerth } from '../helpers/berth-process.js';
import { startRedis } from '../helpers/redis-server.js';

const auth = basic(admin);
const rule = (tag: string, repo = '**', tagDecoration = 'matches', repoDecoration = 'repoMatches') => ({
  disabled: false,
  action: 'immutable',
  template: 'immutable_template',
  tag_selectors: [{ kind: 'doublestar', decoration: tagDecoration, pattern: tag }],
  scope_selectors: { repository: [{ kind: 'doublestar', decoration: repoDecoration, pattern: repo }] },
});

async function digestOfTag(base: string, repository: string, tag: string): Promise<string | undefined> {
  return (await new OciClient({ baseUrl: base, username: admin.username, password: admin.password }).headManifest(repository, tag))?.digest;
}

async function putManifestStatus(base: string, repo: string, tag: string, img = image({ layers: 1, layerSize: 256 })): Promise<{ status: number; body: any }> {
  const status = await pushImage(base, repo, tag, auth, img);
  if (status === 201) return { status, body: undefined };
  const r = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { Authorization: auth, 'Content-Type': img.manifest.mediaType }, body: img.manifest.bytes });
  return { status: r.status, body: await r.json() };
}

t.test('rules CRUD in Harbor shape; overwrite and deletes of an immutable tag refused, others free', async (t) => {
  const berth = await startTokenBerth(t);
  const root = new AdminApi(berth.url, admin);
  await root.createProject('rel', false);
  const made = await root.post('/projects/rel/immutabletagrules', rule('v*'));
  t.equal(made.status, 201, made.text);
  t.match(made.headers.get('location'), /\/api\/v2\.0\/projects\/rel\/immutabletagrules\/\d+$/);
  const id = Number(made.headers.get('location')!.split('/').pop());
  t.equal((await root.post('/projects/rel/immutabletagrules', rule('v*'))).status, 409, 'a duplicate is refused');
  t.equal((await root.post('/projects/rel/immutabletagrules', { ...rule('x'), tag_selectors: [] })).status, 400, 'a rule needs a tag selector');
  const listed = (await root.get('/projects/rel/immutabletagrules')).json;
  t.same(listed, [{ id, priority: 0, params: {}, ...rule('v*') }]);

  const first = image({ layers: 1, layerSize: 300 });
  t.equal((await putManifestStatus(berth.url, 'rel/app', 'v1', first)).status, 201, 'the first push of v1');
  t.equal((await putManifestStatus(berth.url, 'rel/app', 'v1', first)).status, 201, 'the same content again is no move');
  const moved = await putManifestStatus(berth.url, 'rel/app', 'v1');
  t.equal(moved.status, 403, 'moving v1 is refused');
  t.equal(moved.body.errors[0].code, 'DENIED');
  t.match(moved.body.errors[0].message, 'the tag rel/app:v1 is immutable and cannot be overwritten');
  t.equal(await digestOfTag(berth.url, 'rel/app', 'v1'), first.manifest.digest, 'v1 still the first image');
  t.equal((await putManifestStatus(berth.url, 'rel/app', 'latest')).status, 201);
  t.equal((await putManifestStatus(berth.url, 'rel/app', 'latest')).status, 201, 'a tag no rule matches moves freely');
  t.equal(await deleteTag(berth.url, 'rel/app', 'v1', auth), 403, 'deleting v1 by tag is refused');
  const byDigest = await fetch(`${berth.url}/v2/rel/app/manifests/${first.manifest.digest}`, { method: 'DELETE', headers: { Authorization: auth } });
  t.equal(byDigest.status, 403, 'deleting the manifest v1 points at is refused');
  const repoDelete = await root.del('/projects/rel/repositories/app');
  t.equal(repoDelete.status, 412, 'deleting the repository is refused (Harbor: precondition)');
  t.match(repoDelete.json.errors[0].message, /immutable/);

  // excludes: every repository but rel/scratch
  t.equal((await root.post('/projects/rel/immutabletagrules', rule('release-*', 'scratch', 'matches', 'repoExcludes'))).status, 201);
  t.equal((await putManifestStatus(berth.url, 'rel/scratch', 'release-1')).status, 201);
  t.equal((await putManifestStatus(berth.url, 'rel/scratch', 'release-1')).status, 201, 'the excluded repository moves release-1');
  t.equal((await putManifestStatus(berth.url, 'rel/other', 'release-1')).status, 201);
  t.equal((await putManifestStatus(berth.url, 'rel/other', 'release-1')).status, 403, 'another repository may not');

  t.equal((await root.put(`/projects/rel/immutabletagrules/${id}`, { ...rule('v*'), disabled: true })).status, 200, 'disable');
  t.equal((await putManifestStatus(berth.url, 'rel/app', 'v1')).status, 201, 'a disabled rule holds nothing');
  t.equal((await root.del(`/projects/rel/immutabletagrules/${id}`)).status, 200);
  t.equal((await root.del(`/projects/rel/immutabletagrules/${id}`)).status, 404);
  t.equal((await root.get('/projects/rel/immutabletagrules')).json.length, 1);
});

t.test('ten concurrent first pushes of one immutable tag through two instances on one Redis: exactly one wins', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-immutable-race-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD, BERTH_META: 'redis', BERTH_REDIS_URL: redis.url };
  const one = await startBerth({ env, dataDir });
  t.teardown(() => one.stop());
  const two = await startBerth({ env, dataDir });
  t.teardown(() => two.stop());
  const root = new AdminApi(one.url, admin);
  await root.createProject('race', false);
  t.equal((await root.post('/projects/race/immutabletagrules', rule('v*'))).status, 201);
  const imgs = Array.from({ length: 10 }, () => image({ layers: 1, layerSize: 200 }));
  // Blobs first, then the ten manifest PUTs at once, half through each instance.
  for (const [i, img] of imgs.entries()) t.equal(await pushImage(i % 2 ? one.url : two.url, 'race/app', `pre${i}`, auth, img), 201);
  const statuses = await Promise.all(imgs.map(async (img, i) => {
    const r = await fetch(`${i % 2 ? one.url : two.url}/v2/race/app/manifests/v1`, { method: 'PUT', headers: { Authorization: auth, 'Content-Type': img.manifest.mediaType }, body: img.manifest.bytes });
    await r.arrayBuffer();
    return r.status;
  }));
  t.equal(statuses.filter((s) => s === 201).length, 1, `one 201 (${statuses.join(' ')})`);
  t.equal(statuses.filter((s) => s === 403).length, 9, 'the others refused');
  const winner = imgs[statuses.indexOf(201)]!;
  t.equal(await digestOfTag(two.url, 'race/app', 'v1'), winner.manifest.digest, 'v1 is the winner\'s');
});

t.test('skopeo prints why an overwrite of an immutable tag is refused', async (t) => {
  const berth = await startTokenBerth(t);
  const root = new AdminApi(berth.url, admin);
  await root.createProject('sk', false);
  t.equal((await root.post('/projects/sk/immutabletagrules', rule('v*'))).status, 201);
  const dir = await mkdtemp(join(tmpdir(), 'berth-immutable-skopeo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const copy = async (name: string) => {
    await writeOciLayout(join(dir, name), [{ tag: 'v1', image: image({ layers: 1, layerSize: 400 }) }]);
    await rm('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
    return promisify(execFile)('skopeo', ['--policy', join(dir, 'policy.json'), 'copy', '--dest-tls-verify=false', '--dest-creds', `admin:${ADMIN_PASSWORD}`,
      `oci:${join(dir, name)}:v1`, `docker://127.0.0.1:${berth.port}/sk/app:v1`]).then(() => '', (e: { stderr: string }) => e.stderr || 'failed');
  };
  t.equal(await copy('one'), '', 'the first copy works');
  const err = await copy('two');
  t.match(err, /the tag sk\/app:v1 is immutable and cannot be overwritten/, 'the second prints the reason');
  t.comment(err.trim().split('\n').pop());
});

t.test('partition: two IDCs wrote one immutable tag differently; the newer write is refused, recorded, surfaced — no last-writer-wins', async (t) => {
  const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD, BERTH_REPLICATION_MAX_ATTEMPTS: '1' };
  const [a, b] = await Promise.all([startIdc('a', { env }), startIdc('b', { env })]);
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });
  for (const side of [a, b]) {
    const root = new AdminApi(side.url, admin);
    await root.createProject('rel', false);
    t.equal((await root.post('/projects/rel/immutabletagrules', rule('v*'))).status, 201);
  }
  // b reports replication outcomes to a receiver (REPLICATION webhook).
  const hooks: any[] = [];
  const hookServer = createServer((req, res) => {
    let d = '';
    req.on('data', (c) => (d += c));
    req.on('end', () => {
      hooks.push(JSON.parse(d));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => hookServer.close(() => r())));
  const hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/`;
  t.equal((await new AdminApi(b.url, admin).post('/projects/rel/webhook/policies', { name: 'repl', targets: [{ address: hookUrl }], event_types: ['REPLICATION'] })).status, 201);
  // During the partition each IDC takes its own v1.
  const onA = image({ layers: 1, layerSize: 500 });
  const onB = image({ layers: 1, layerSize: 600 });
  t.equal(await pushImage(a.url, 'rel/app', 'v1', auth, onA), 201);
  t.equal(await pushImage(b.url, 'rel/app', 'v1', auth, onB), 201);
  t.equal(await pushImage(a.url, 'rel/app', 'v2', auth), 201, 'a tag only a has');
  // The link comes back: dual-master, each side pushes to the other.
  const toB = await addRegistry(a.url, 'b', b.url, 'berth', { access_key: 'admin', access_secret: ADMIN_PASSWORD }, auth);
  const toA = await addRegistry(b.url, 'a', a.url, 'berth', { access_key: 'admin', access_secret: ADMIN_PASSWORD }, auth);
  const pa = await addPolicy(a.url, { name: 'a-to-b', dest: toB, trigger: 'manual' }, auth);
  const pb = await addPolicy(b.url, { name: 'b-to-a', dest: toA, trigger: 'manual' }, auth);
  // Tag versions order the two v1 writes: b's is newer. a's planner sees that and does not send its older v1
  // (it sends v2); b sends its newer v1, which last-writer-wins would let replace a's — the rule refuses it.
  const [ea, eb] = [await startExecution(a.url, pa, auth), await startExecution(b.url, pb, auth)];
  const [xa, xb] = [await waitExecution(a.url, ea, 60_000, auth), await waitExecution(b.url, eb, 60_000, auth)];
  t.equal(xa.status, 'Succeed', 'a → b copies what b lacks');
  t.equal(xb.status, 'Failed', 'b → a fails');
  const tasks = (await api(b.url, 'GET', `/replication/executions/${eb}/tasks`, undefined, auth)).body as { status: string; dst_resource: string }[];
  t.ok(tasks.some((k) => k.status === 'Failed' && k.dst_resource === 'rel/app:v1'), 'the v1 task failed');
  const log = JSON.stringify((await api(b.url, 'GET', `/replication/executions/${eb}`, undefined, auth)).body) + JSON.stringify(tasks);
  t.comment(log.slice(0, 600));
  t.match(log, /immutable/, 'the execution says why: the tag is immutable at a');
  t.equal(await digestOfTag(a.url, 'rel/app', 'v1'), onA.manifest.digest, 'a keeps its v1 (anyone who pulled it there sees no change)');
  t.equal(await digestOfTag(b.url, 'rel/app', 'v1'), onB.manifest.digest, 'b keeps its v1');
  t.equal(await digestOfTag(b.url, 'rel/app', 'v2'), await digestOfTag(a.url, 'rel/app', 'v2'), 'v2, written on a only, did replicate');
  const deadline = Date.now() + 20_000;
  while (!hooks.some((h) => h.type === 'REPLICATION') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.match(hooks.find((h) => h.type === 'REPLICATION'), { type: 'REPLICATION', event_data: { replication: { job_status: 'Failed', trigger_type: 'manual' } } }, "b's REPLICATION webhook reports the failed execution");
  const conflicts = (await api(a.url, 'GET', '/berth/replication/conflicts?repository=rel/app', undefined, auth)).body as any[];
  const c = conflicts.find((x) => x.tag === 'v1');
  t.match(c, { reason: 'immutable', winner: 'local', from: 'b', local: { digest: onA.manifest.digest }, incoming: { digest: onB.manifest.digest } }, 'a lists the conflict');
  // Anti-entropy and later runs try again: still refused, recorded once per pair of values.
  const again = await startExecution(b.url, pb, auth);
  t.equal((await waitExecution(b.url, again, 60_000, auth)).status, 'Failed');
  const later = (await api(a.url, 'GET', '/berth/replication/conflicts?repository=rel/app', undefined, auth)).body as any[];
  t.equal(later.filter((x) => x.tag === 'v1').length, 1, 'recorded once');
  t.equal(await digestOfTag(a.url, 'rel/app', 'v1'), onA.manifest.digest, 'still a\'s v1');
});
