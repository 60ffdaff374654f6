// Harbor's search, statistics, project metadata, _deletable, /configurations (read-only mode and who may create
// projects, obeyed by every instance through the store), the system CVE allowlist, systeminfo/volumes and
// getcert, against a real berth process; read-only mode is also tried with skopeo.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { image, writeOciLayout } from '../helpers/oci-fixtures.js';
import { admin, AdminApi, bearer, pushImage, startTokenBerth, token } from './access.js';

const run = promisify(execFile);
const berth = await startTokenBerth(t);
const root = new AdminApi(berth.url, admin);
const alice = { username: 'alice', password: 'Alice12345' };
await root.createUser(alice.username, alice.password);
const asAlice = new AdminApi(berth.url, alice);
await root.createProject('apps', false);
await root.createProject('public-tools', true);
const push = async (repo: string) => pushImage(berth.url, repo, 'v1', bearer(await token(berth.url, admin, [`repository:${repo}:pull,push`])));
for (const repo of ['apps/web', 'apps/api', 'public-tools/web-lint']) if ((await push(repo)) !== 201) throw new Error(`setup push ${repo}`);

t.test('search finds projects and repositories by name, among those the caller may see', async (t) => {
  const all = await root.get('/search?q=web');
  t.equal(all.status, 200);
  t.same(all.json.project, []);
  t.same(
    all.json.repository.map((r: any) => [r.repository_name, r.project_name, r.project_public, r.artifact_count]),
    [
      ['apps/web', 'apps', false, 1],
      ['public-tools/web-lint', 'public-tools', true, 1],
    ],
  );
  const mine = await asAlice.get('/search?q=web');
  t.same(mine.json.repository.map((r: any) => r.repository_name), ['public-tools/web-lint'], 'a non-member sees only public repositories');
  const projects = await root.get('/search?q=app');
  t.same(projects.json.project.map((p: any) => p.name), ['apps']);
});

t.test('statistics count public and private projects and repositories', async (t) => {
  // Harbor's default public project `library` counts too.
  const s = await root.get('/statistics');
  t.match(s.json, { private_project_count: 1, private_repo_count: 2, public_project_count: 2, public_repo_count: 1, total_project_count: 3, total_repo_count: 3 });
  const a = await asAlice.get('/statistics');
  t.match(a.json, { private_project_count: 0, public_project_count: 2, public_repo_count: 1 });
  t.notOk('total_project_count' in a.json, 'totals are for system admins');
});

t.test('project metadata, key by key', async (t) => {
  t.same((await root.get('/projects/apps/metadatas/')).json, { public: 'false' });
  t.equal((await root.post('/projects/apps/metadatas/', { severity: 'high', auto_scan: 'true' })).status, 200);
  t.same((await root.get('/projects/apps/metadatas/severity')).json, { severity: 'high' });
  t.equal((await root.put('/projects/apps/metadatas/public', { public: 'true' })).status, 200);
  t.equal((await root.get('/projects/apps')).json.metadata.public, 'true', 'public set through metadata is the project’s visibility');
  t.equal((await root.put('/projects/apps/metadatas/public', { public: 'false' })).status, 200);
  t.equal((await root.put('/projects/apps/metadatas/severity', { auto_scan: 'x' })).status, 400, 'the body must name the key in the path');
  t.equal((await root.post('/projects/apps/metadatas/', { colour: 'blue' })).status, 400, 'not a Harbor key');
  t.equal((await root.del('/projects/apps/metadatas/severity')).status, 200);
  t.equal((await root.get('/projects/apps/metadatas/severity')).status, 404);
  t.equal((await asAlice.post('/projects/apps/metadatas/', { severity: 'low' })).status, 403, 'a non-member cannot change it');
});

t.test('_deletable says whether a delete would work, and why not', async (t) => {
  t.match((await root.get('/projects/apps/_deletable')).json, { deletable: false, message: /2 repositories/ });
  await root.createProject('empty', false);
  t.same((await root.get('/projects/empty/_deletable')).json, { deletable: true });
});

t.test('/configurations: read_only refuses every write until turned off', async (t) => {
  const c = await root.get('/configurations');
  t.match(c.json, { read_only: { value: false, editable: true }, project_creation_restriction: { value: 'adminonly', editable: true }, auth_mode: { value: 'db_auth', editable: false } });
  t.equal((await asAlice.get('/configurations')).status, 403, 'system admins only');
  t.match((await root.put('/configurations', { token_expiration: 5 })).json, { errors: [{ code: 'BAD_REQUEST', message: /BERTH_TOKEN_TTL_SECONDS/ }] });

  t.equal((await root.put('/configurations', { read_only: true })).status, 200);
  t.equal((await root.get('/systeminfo')).json.read_only, true);
  const refused = await push('apps/worker');
  t.equal(refused, 403, 'a push is refused');
  const api = await root.post('/projects', { project_name: 'later', metadata: { public: 'false' } });
  t.match(api, { status: 403, json: { errors: [{ code: 'DENIED', message: /read only mode/ }] } });

  // skopeo shows the reason.
  const work = await mkdtemp(join(tmpdir(), 'berth-readonly-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  await writeOciLayout(join(work, 'src'), [{ tag: 'v1', image: image({ layers: 1, layerSize: 1000 }) }]);
  await writeFile(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await rm('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  const out = await run('/usr/bin/skopeo', ['--policy', join(work, 'policy.json'), 'copy', '--dest-tls-verify=false', '--dest-creds', `admin:${admin.password}`, `oci:${join(work, 'src')}:v1`, `docker://127.0.0.1:${berth.port}/apps/worker:v1`]).then(
    () => '',
    (e: { stderr?: string }) => e.stderr ?? 'failed',
  );
  t.match(out, /read only mode/, `skopeo prints why: ${out.slice(-200)}`);

  t.equal((await root.put('/configurations', { read_only: false })).status, 200, 'turning it off is allowed in read-only mode');
  t.equal(await push('apps/worker'), 201, 'pushes work again');
});

t.test('/configurations: project_creation_restriction', async (t) => {
  t.equal((await asAlice.post('/projects', { project_name: 'alices', metadata: { public: 'false' } })).status, 403);
  t.equal((await root.put('/configurations', { project_creation_restriction: 'everyone' })).status, 200);
  t.equal((await asAlice.post('/projects', { project_name: 'alices', metadata: { public: 'false' } })).status, 201, 'a user may create projects now');
  t.equal((await root.get('/systeminfo')).json.project_creation_restriction, 'everyone');
  await root.put('/configurations', { project_creation_restriction: 'adminonly' });
});

t.test('system CVE allowlist, volumes, getcert, adapter infos', async (t) => {
  t.equal((await root.put('/system/CVEAllowlist', { items: [{ cve_id: 'CVE-2024-0001' }], expires_at: 2000000000 })).status, 200);
  const list = await root.get('/system/CVEAllowlist');
  t.match(list.json, { items: [{ cve_id: 'CVE-2024-0001' }], expires_at: 2000000000 });
  t.equal(list.headers.get('berth-not-enforced'), 'cve_allowlist', 'kept, and said to be not enforced');
  t.equal((await asAlice.put('/system/CVEAllowlist', { items: [] })).status, 403);

  const v = await root.get('/systeminfo/volumes');
  t.ok(v.json.storage[0].total > 0 && v.json.storage[0].free > 0 && v.json.storage[0].free <= v.json.storage[0].total, 'the data directory’s volume');
  t.equal((await root.get('/systeminfo/getcert')).status, 404, 'no certificate without TLS');
  const infos = await root.get('/replication/adapterinfos');
  t.equal(infos.json['docker-hub'].endpoint_pattern.endpoints[0].value, 'https://registry-1.docker.io');
});

t.test('permissions: what robots may be granted, and what the caller may do', async (t) => {
  const all = await root.get('/permissions');
  t.equal(all.status, 200);
  const project = all.json.project.map((p: any) => `${p.resource}:${p.action}`);
  for (const pair of ['repository:pull', 'repository:push', 'artifact:delete', 'tag:create', 'label:read']) t.ok(project.includes(pair), pair);

  const appsId = (await root.get('/projects/apps')).json.project_id;
  await root.addMember('apps', 'alice', 3); // guest
  const guest = ((await asAlice.get(`/users/current/permissions?scope=/project/${appsId}&relative=true`)).json as any[]).map((p) => `${p.resource}:${p.action}`);
  t.ok(guest.includes('repository:pull'), 'a guest pulls');
  t.notOk(guest.includes('repository:push'), 'a guest does not push');
  t.notOk(guest.includes('member:create'), 'nor manage members');
  const owner = ((await root.get(`/users/current/permissions?scope=/project/${appsId}`)).json as any[]).map((p) => `${p.resource}:${p.action}`);
  t.ok(owner.includes(`/project/${appsId}/member:create`), 'absolute resource names without relative=true');
  t.same((await asAlice.get('/users/current/permissions?scope=/system')).json, [], 'no system permissions for a user');
  t.equal((await asAlice.get('/users/current/permissions?scope=/nope')).status, 400);
});

t.test('auditlog-exts: the audit log, by project, and its event types', async (t) => {
  const ext = await root.get('/auditlog-exts?page_size=100');
  const plain = await root.get('/audit-logs?page_size=100');
  t.same(ext.json.map((e: any) => e.id), plain.json.map((e: any) => e.id), 'the same entries');
  const project = await root.get('/projects/apps/auditlog-exts');
  t.ok(project.json.length > 0 && project.json.every((e: any) => e.project_id === project.json[0].project_id), "a project's entries");
  const types = (await root.get('/auditlog-exts/events')).json.map((e: any) => e.event_type);
  t.ok(types.includes('create_project') && types.includes('create_user'), `event types: ${types.join(', ')}`);
});

t.test('/schedules lists the crons of system jobs and policies; nothing is paused; /internalconfig', async (t) => {
  t.same((await root.get('/schedules')).json, [], 'no schedule yet');
  t.equal((await root.put('/system/gc/schedule', { schedule: { type: 'Custom', cron: '0 0 3 * * *' }, parameters: { delete_untagged: true } })).status, 200);
  const appsId = (await root.get('/projects/apps')).json.project_id;
  const r = await root.post('/retentions', {
    algorithm: 'or',
    rules: [{ disabled: false, action: 'retain', template: 'always', params: {}, tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**' }], scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] } }],
    trigger: { kind: 'Schedule', settings: { cron: '0 0 4 * * *' } },
    scope: { level: 'project', ref: appsId },
  });
  t.equal(r.status, 201, r.text);
  const list = (await root.get('/schedules')).json as any[];
  t.same(list.map((s) => [s.vendor_type, s.cron]).sort(), [['GARBAGE_COLLECTION', '0 0 3 * * *'], ['RETENTION', '0 0 4 * * *']]);
  t.same((await root.get('/schedules/all/paused')).json, { paused: false });
  t.equal((await root.get('/schedules/NOPE/paused')).status, 400);
  t.equal((await asAlice.get('/schedules')).status, 403);
  t.match((await root.get('/internalconfig')).json, { read_only: { value: false }, notification_enable: { value: true } });
  await root.del(`/retentions/${r.headers.get('location')!.split('/').pop()}`);
  await root.put('/system/gc/schedule', { schedule: { type: 'None' } });
});
