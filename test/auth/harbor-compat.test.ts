// What Harbor's own clients send and expect, where Berth used to differ: terraform-provider-harbor's empty
// member_group, a sysadmin toggle without its flag, a replication policy naming this registry as `{}`, Harbor's
// /api/version and a semver harbor_version, and a robot's tag/artifact delete not reaching the whole repository.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { AdminApi, admin, basic, deleteTag, pushImage, startTokenBerth } from './access.js';

const berth = await startTokenBerth(t);
const root = new AdminApi(berth.url, admin);
await root.createProject('compat', false);
const uid = await root.createUser('terra', 'Terra-form-1');

t.test('a member with an empty member_group (terraform-provider-harbor) is added; a real group is refused', async (t) => {
  const added = await root.post('/projects/compat/members', { role_id: 2, member_user: { username: 'terra' }, member_group: {} });
  t.equal(added.status, 201, 'member_group {} is ignored, as Harbor does');
  const group = await root.post('/projects/compat/members', { role_id: 2, member_group: { group_name: 'devs' } });
  t.equal(group.status, 400, 'a named group is not supported');
});

t.test('PUT /users/{id}/sysadmin without sysadmin_flag means false', async (t) => {
  t.equal((await root.put(`/users/${uid}/sysadmin`, { sysadmin_flag: true })).status, 200);
  t.equal((await root.get(`/users/${uid}`)).json.sysadmin_flag, true);
  t.equal((await root.put(`/users/${uid}/sysadmin`, {})).status, 200, 'an empty body is accepted');
  t.equal((await root.get(`/users/${uid}`)).json.sysadmin_flag, false, 'and revokes');
});

t.test('a replication policy with src_registry {} is a push from this registry', async (t) => {
  const reg = await root.post('/registries', { name: 'peer', url: 'http://127.0.0.1:9', type: 'docker-registry' });
  t.equal(reg.status, 201);
  const id = Number(reg.headers.get('location')!.split('/').pop());
  const policy = await root.post('/replication/policies', { name: 'out', src_registry: {}, dest_registry: { id }, trigger: { type: 'manual' }, enabled: true });
  t.equal(policy.status, 201, policy.text);
  const pid = Number(policy.headers.get('location')!.split('/').pop());
  const read = (await root.get(`/replication/policies/${pid}`)).json;
  t.equal(read.dest_registry.id, id, 'to the named registry');
  t.equal(read.src_registry.id, 0, 'from this one');
});

t.test('/api/version and a semver harbor_version with Berth\'s own version beside it', async (t) => {
  const version = await fetch(`${berth.url}/api/version`);
  t.equal(version.status, 200);
  t.same(await version.json(), { version: 'v2.0' });
  const info = (await root.get('/systeminfo')).json;
  t.match(info.harbor_version, /^v2\.\d+\.\d+-[\w.]+$/, 'parses as Harbor\'s vX.Y.Z-build');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.equal(info.berth_version, pkg.version);
});

t.test('a robot with tag/artifact delete deletes tags, not the repository (Harbor: repository:delete)', async (t) => {
  t.equal(await pushImage(berth.url, 'compat/app', 'v1', basic(admin)), 201);
  t.equal(await pushImage(berth.url, 'compat/app', 'v2', basic(admin)), 201);
  const robot = await root.createRobot({
    name: 'janitor', level: 'project', duration: -1,
    permissions: [{ kind: 'project', namespace: 'compat', access: [{ resource: 'repository', action: 'pull' }, { resource: 'tag', action: 'delete' }, { resource: 'artifact', action: 'delete' }] }],
  });
  const asRobot = new AdminApi(berth.url, { username: robot.name, password: robot.secret });
  t.equal((await asRobot.del('/projects/compat/repositories/app')).status, 403, 'the repository stays');
  t.equal(await deleteTag(berth.url, 'compat/app', 'v1', basic({ username: robot.name, password: robot.secret })), 202, 'a tag may go');
  const full = await root.createRobot({
    name: 'owner', level: 'project', duration: -1,
    permissions: [{ kind: 'project', namespace: 'compat', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'delete' }] }],
  });
  const asFull = new AdminApi(berth.url, { username: full.name, password: full.secret });
  t.equal((await asFull.del('/projects/compat/repositories/app')).status, 200, 'repository:delete deletes the repository');
});

t.test('an anonymous HEAD on a public repository is challenged (Harbor #11271); an anonymous GET is not', async (t) => {
  t.equal(await pushImage(berth.url, 'library/open', 'v1', basic(admin)), 201);
  const head = await fetch(`${berth.url}/v2/library/open/manifests/v1`, { method: 'HEAD' });
  t.equal(head.status, 401, 'HEAD without credentials: 401');
  t.match(head.headers.get('www-authenticate'), /^Bearer realm=".*\/service\/token",service="[^"]+",scope="repository:library\/open:pull"/);
  const get = await fetch(`${berth.url}/v2/library/open/manifests/v1`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  t.equal(get.status, 200, 'GET without credentials: the public manifest');
  const wrong = await fetch(`${berth.url}/v2/library/open/manifests/v1`, { method: 'HEAD', headers: { Authorization: basic({ username: 'admin', password: 'wrong' }) } });
  t.equal(wrong.status, 401, 'wrong credentials presented on a public image: 401');
});

t.test('sort on projects, users and repositories, as Harbor reads it', async (t) => {
  for (const name of ['zulu', 'alpha', 'mike']) await root.createProject(`sort-${name}`, false);
  const names = async (q: string) => ((await root.get(`/projects?q=${encodeURIComponent('name=~sort-')}&${q}`)).json as { name: string }[]).map((p) => p.name);
  t.same(await names('sort=name'), ['sort-alpha', 'sort-mike', 'sort-zulu'], 'by name');
  t.same(await names('sort=-name'), ['sort-zulu', 'sort-mike', 'sort-alpha'], 'descending');
  t.same(await names('sort=project_id'), ['sort-zulu', 'sort-alpha', 'sort-mike'], 'by id: the order they were made');
  t.same(await names('sort=-project_id,name'), ['sort-mike', 'sort-alpha', 'sort-zulu'], 'several keys, the first decides');
  t.same(await names('sort=nonsense'), await names(''), 'an unknown key is ignored');
  for (const u of ['yank', 'bravo']) await root.createUser(`sort${u}`, 'Sort-user-1');
  const users = ((await root.get('/users?sort=-username&page_size=0')).json as { username: string }[]).map((u) => u.username);
  t.same(users, [...users].sort().reverse(), 'users by username, descending');
  for (const r of ['beta', 'alpha']) t.equal(await pushImage(berth.url, `sort-alpha/${r}`, 'v1', basic(admin)), 201);
  const repos = ((await root.get('/projects/sort-alpha/repositories?sort=-name')).json as { name: string }[]).map((r) => r.name);
  t.same(repos, ['sort-alpha/beta', 'sort-alpha/alpha'], 'repositories by name, descending');
});

t.test('project metadata, cve_allowlist and storage_limit are kept and read back, not dropped', async (t) => {
  const made = await root.post('/projects', {
    project_name: 'meta',
    metadata: { public: 'false', auto_scan: 'true', severity: 'high', reuse_sys_cve_allowlist: 'false' },
    cve_allowlist: { items: [{ cve_id: 'CVE-2024-0001' }], expires_at: 0 },
    storage_limit: 1073741824,
  });
  t.equal(made.status, 201, made.text);
  t.equal(made.headers.get('berth-not-enforced'), 'auto_scan', 'what Berth stores but cannot act on is said');
  const got = await root.get('/projects/meta');
  const read = got.json;
  t.equal(got.headers.get('berth-not-enforced'), 'auto_scan', 'on every read too');
  t.same(read.metadata, { public: 'false', auto_scan: 'true', severity: 'high', reuse_sys_cve_allowlist: 'false' }, 'every metadata key comes back');
  t.same(read.cve_allowlist.items, [{ cve_id: 'CVE-2024-0001' }], 'the CVE allowlist too');
  t.equal((await root.put('/projects/meta', { metadata: { severity: 'critical' } })).status, 200);
  t.same((await root.get('/projects/meta')).json.metadata, { public: 'false', auto_scan: 'true', severity: 'critical', reuse_sys_cve_allowlist: 'false' }, 'an update merges');
  const unknown = await root.post('/projects', { project_name: 'meta2', metadata: { colour: 'blue' } });
  t.equal(unknown.status, 400, 'a key Harbor does not define is refused, not dropped');
});

t.test('a system robot may carry Harbor\'s kind "system" permission beside project ones', async (t) => {
  const body = {
    name: 'sysbot-kinds', level: 'system', duration: -1,
    permissions: [
      { kind: 'system', namespace: '/', access: [{ resource: 'audit-log', action: 'list' }] },
      { kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] },
    ],
  };
  const made = await root.post('/robots', body);
  t.equal(made.status, 201, made.text);
  const read = (await root.get(`/robots/${made.json.id}`)).json;
  t.same(read.permissions.map((p: { kind: string; namespace: string }) => `${p.kind}:${p.namespace}`), ['system:/', 'project:*'], 'both kept as sent');
  t.equal((await root.post('/robots', { ...body, name: 'proj-kinds', level: 'project', permissions: [{ kind: 'system', namespace: '/', access: [{ resource: 'audit-log', action: 'list' }] }] })).status, 400, 'not on a project robot');
});

t.test('GET /repositories lists across projects what the caller may pull', async (t) => {
  t.equal(await pushImage(berth.url, 'library/across', 'v1', basic(admin)), 201);
  t.equal(await pushImage(berth.url, 'compat/hidden', 'v1', basic(admin)), 201);
  const all = await root.get('/repositories?page_size=100');
  t.equal(all.status, 200);
  const names = (all.json as { name: string }[]).map((r) => r.name);
  t.ok(names.includes('library/across') && names.includes('compat/hidden'), 'a system admin sees every project\'s');
  t.equal(all.headers.get('x-total-count'), String(names.length));
  const anonymous = ((await new AdminApi(berth.url).get('/repositories?page_size=100')).json as { name: string }[]).map((r) => r.name);
  t.ok(anonymous.includes('library/across'), 'anonymous sees public repositories');
  t.notOk(anonymous.some((n) => n.startsWith('compat/')), 'and nothing of a private project');
  const q = (await root.get(`/repositories?q=${encodeURIComponent('name=~across')}`)).json as { name: string; artifact_count: number }[];
  t.same(q.map((r) => r.name), ['library/across'], 'q filters by name');
  t.equal(q[0]!.artifact_count, 1);
});

t.test('pull_count counts manifest GETs (not HEADs) and survives a restart', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { startBerth } = await import('../helpers/berth-process.js');
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-pulls-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: 'Pulls-admin-1' };
  const who = { username: 'admin', password: 'Pulls-admin-1' };
  const first = await startBerth({ dataDir, keepData: true, env });
  t.equal(await pushImage(first.url, 'library/pulled', 'v1', basic(who)), 201);
  const get = (url: string, method = 'GET') =>
    fetch(`${url}/v2/library/pulled/manifests/v1`, { method, headers: { Authorization: basic(who), Accept: 'application/vnd.oci.image.manifest.v1+json' } }).then((r) => r.status);
  for (let i = 0; i < 3; i++) t.equal(await get(first.url), 200);
  t.equal(await get(first.url, 'HEAD'), 200);
  const count = async (url: string) => (await new AdminApi(url, who).get('/projects/library/repositories/pulled')).json.pull_count;
  const seen = await count(first.url);
  t.equal(seen, 3, `three GETs, the HEAD not counted, visible at once (${seen})`);
  await first.stop();
  const again = await startBerth({ dataDir, keepData: true, env });
  t.teardown(() => again.stop());
  t.equal(await count(again.url), 3, 'stored at shutdown, read back after the restart');
});
