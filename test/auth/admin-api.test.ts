// The admin API against Harbor's swagger (goharbor/harbor api/v2.0/swagger.yaml): field names, status codes,
// 201 + Location, 409, 401 vs 403, paging headers, the error shape, and bad input that must leave nothing
// half-created.
import t, { type Test } from 'tap';
import { admin, AdminApi, basic, must, pushImage, startTokenBerth, type Creds } from './access.js';

const berth = await startTokenBerth(t);
const root = new AdminApi(berth.url, admin);
const anon = new AdminApi(berth.url);

const owner: Creds = { username: 'owner', password: 'Owner-pass-1' };
const maint: Creds = { username: 'maint', password: 'Maint-pass-1' };
const dev: Creds = { username: 'dev', password: 'Dev-pass-1' };
const guest: Creds = { username: 'guest', password: 'Guest-pass-1' };
const nobody: Creds = { username: 'nobody', password: 'Nobody-pass-1' };
const ids: Record<string, number> = {};
for (const c of [owner, maint, dev, guest, nobody]) ids[c.username] = await root.createUser(c.username, c.password);
const privId = await root.createProject('priv', false);
await root.addMember('priv', 'owner', 1);
await root.addMember('priv', 'maint', 4);
await root.addMember('priv', 'dev', 2);
await root.addMember('priv', 'guest', 3);
const as = (c: Creds) => new AdminApi(berth.url, c);

// Harbor's definitions: every field Berth answers with is Harbor's (or a listed extension), and Harbor's
// fields are there (except the ones listed as not kept).
function harborShape(t: Test, what: string, body: Record<string, unknown>, harbor: string[], opts: { omitted?: string[]; extensions?: string[] } = {}) {
  const keys = Object.keys(body).sort();
  const allowed = new Set([...harbor, ...(opts.extensions ?? [])]);
  t.same(keys.filter((k) => !allowed.has(k)), [], `${what}: no field outside Harbor's`);
  t.same(harbor.filter((k) => !keys.includes(k) && !(opts.omitted ?? []).includes(k)), [], `${what}: Harbor's fields present`);
}
const harbor = {
  UserResp: ['email', 'realname', 'comment', 'user_id', 'username', 'sysadmin_flag', 'admin_role_in_auth', 'oidc_user_meta', 'creation_time', 'update_time'],
  Project: ['project_id', 'owner_id', 'name', 'registry_id', 'creation_time', 'update_time', 'deleted', 'owner_name', 'togglable', 'current_user_role_id', 'current_user_role_ids', 'repo_count', 'metadata', 'cve_allowlist'],
  ProjectMemberEntity: ['id', 'project_id', 'entity_name', 'role_name', 'role_id', 'entity_id', 'entity_type'],
  Robot: ['id', 'name', 'description', 'secret', 'level', 'duration', 'editable', 'disable', 'expires_at', 'permissions', 'creator_type', 'creator_ref', 'creation_time', 'update_time'],
  RobotCreated: ['id', 'name', 'secret', 'creation_time', 'expires_at'],
  Repository: ['id', 'project_id', 'name', 'description', 'artifact_count', 'pull_count', 'creation_time', 'update_time'],
  AuditLog: ['id', 'username', 'resource', 'resource_type', 'operation', 'op_time'],
  OverallHealthStatus: ['status', 'components'],
};

function errorShape(t: Test, r: { json: any }, code: string) {
  t.same(Object.keys(r.json ?? {}), ['errors'], 'Harbor error body');
  t.equal(r.json?.errors?.[0]?.code, code);
  t.type(r.json?.errors?.[0]?.message, 'string');
}

t.test('ping, health, systeminfo', async (t) => {
  const ping = await anon.get('/ping');
  t.equal(ping.status, 200);
  t.equal(ping.text, 'Pong');
  const health = await anon.get('/health');
  harborShape(t, 'health', health.json, harbor.OverallHealthStatus);
  t.equal(health.json.status, 'healthy');
  t.same(health.json.components.map((c: { name: string }) => c.name), ['core', 'database', 'registry']);
  const info = await anon.get('/systeminfo');
  t.equal(info.json.auth_mode, 'db_auth');
  t.notOk('external_url' in info.json, 'anonymous callers see less');
  const full = await root.get('/systeminfo');
  t.equal(full.json.project_creation_restriction, 'adminonly');
  t.equal(full.json.external_url, berth.url);
  t.equal(full.json.registry_url, `127.0.0.1:${berth.port}`);
});

t.test('users: shapes, current, search, paging with X-Total-Count and Link', async (t) => {
  const me = await as(dev).get('/users/current');
  t.equal(me.status, 200);
  harborShape(t, 'UserResp', me.json, harbor.UserResp, { omitted: ['oidc_user_meta'] });
  t.match(me.json, { username: 'dev', email: 'dev@example.test', sysadmin_flag: false, user_id: ids.dev });
  t.notOk('password' in me.json || 'password_hash' in me.json, 'no password material');

  for (let i = 0; i < 7; i++) await root.createUser(`page${i}`, 'Page-pass-1');
  const total = 1 + 5 + 7;
  const p2 = await root.get('/users?page=2&page_size=5');
  t.equal(p2.status, 200);
  t.equal(p2.json.length, 5);
  t.equal(p2.headers.get('x-total-count'), String(total));
  // Harbor joins the links with " , " (src/lib/link.go, Links.String).
  t.equal(p2.headers.get('link'), '</api/v2.0/users?page=1&page_size=5>; rel="prev" , </api/v2.0/users?page=3&page_size=5>; rel="next"');
  const p3 = await root.get('/users?page=3&page_size=5');
  t.equal(p3.json.length, total - 10);
  t.notMatch(p3.headers.get('link') ?? '', /next/);
  const q = await root.get(`/users?q=${encodeURIComponent('username=~page')}`);
  t.equal(q.headers.get('x-total-count'), '7');
  const search = await as(dev).get('/users/search?username=own');
  t.same(search.json, [{ user_id: ids.owner, username: 'owner' }]);

  t.equal((await anon.get('/users')).status, 401, 'anonymous: 401');
  errorShape(t, await anon.get('/users'), 'UNAUTHORIZED');
  t.equal((await as(dev).get('/users')).status, 403, 'a user: 403');
  errorShape(t, await as(dev).get('/users'), 'FORBIDDEN');
  t.equal((await new AdminApi(berth.url, { ...dev, password: 'Wrong-1x' }).get('/users/current')).status, 401, 'wrong password: 401');
  t.equal((await as(dev).get(`/users/${ids.owner}`)).status, 403, "another user's profile");
  t.equal((await as(dev).get(`/users/${ids.dev}`)).status, 200, 'your own profile');
  t.equal((await root.get('/users/99999')).status, 404);
  // An id that is no integer fails go-swagger's binding: 422 (src/server/v2.0/handler/handler.go serveError).
  errorShape(t, await root.get('/users/abc'), 'UNPROCESSABLE_ENTITY');
});

t.test('users: create, profile, password, sysadmin, delete', async (t) => {
  const created = await root.post('/users', { username: 'newbie', password: 'Newbie-pass-1', email: 'n@example.test', realname: 'New Bie' });
  t.equal(created.status, 201);
  t.match(created.headers.get('location'), /^\/api\/v2\.0\/users\/\d+$/);
  t.equal(created.text, '', 'no body, as Harbor');
  const id = Number(created.headers.get('location')!.split('/').pop());
  const newbie = as({ username: 'newbie', password: 'Newbie-pass-1' });
  t.equal((await newbie.put(`/users/${id}`, { realname: 'Renamed', comment: 'hi' })).status, 200);
  t.match((await root.get(`/users/${id}`)).json, { realname: 'Renamed', comment: 'hi' });
  t.equal((await newbie.put(`/users/${id}/password`, { new_password: 'Newbie-pass-2' })).status, 400, 'your own password needs the old one');
  t.equal((await newbie.put(`/users/${id}/password`, { old_password: 'Wrong-pass-9', new_password: 'Newbie-pass-2' })).status, 403);
  t.equal((await newbie.put(`/users/${id}/password`, { old_password: 'Newbie-pass-1', new_password: 'weak' })).status, 400);
  t.equal((await newbie.put(`/users/${id}/password`, { old_password: 'Newbie-pass-1', new_password: 'Newbie-pass-1' })).status, 400, 'same as before');
  t.equal((await newbie.put(`/users/${id}/password`, { old_password: 'Newbie-pass-1', new_password: 'Newbie-pass-2' })).status, 200);
  t.equal((await newbie.get('/users/current')).status, 401, 'old password gone');
  t.equal((await root.put(`/users/${id}/password`, { new_password: 'Newbie-pass-3' })).status, 200, 'an admin resets it without the old one');
  const renewed = as({ username: 'newbie', password: 'Newbie-pass-3' });
  t.equal((await renewed.get('/users/current')).status, 200);

  t.equal((await renewed.put(`/users/${id}/sysadmin`, { sysadmin_flag: true })).status, 403, 'users cannot make themselves admins');
  t.equal((await root.put(`/users/${id}/sysadmin`, { sysadmin_flag: true })).status, 200);
  t.equal((await renewed.get('/users')).status, 200, 'now a system admin');
  t.equal((await renewed.put(`/users/${id}/sysadmin`, { sysadmin_flag: false })).status, 403, 'not your own flag');
  t.equal((await root.put(`/users/${id}/sysadmin`, { sysadmin_flag: false })).status, 200);
  t.equal((await renewed.get('/users')).status, 403, 'revoked at once');

  await root.addMember('priv', 'newbie', 3);
  const adminId = (await root.get('/users/current')).json.user_id;
  t.equal((await root.del(`/users/${adminId}`)).status, 403, 'you cannot delete yourself');
  t.equal((await root.del(`/users/${id}`)).status, 200);
  t.equal((await root.get(`/users/${id}`)).status, 404);
  const members = await root.get('/projects/priv/members?page_size=100');
  t.notOk(members.json.some((m: { entity_name: string }) => m.entity_name === 'newbie'), 'memberships go with the user');
  t.equal((await renewed.get('/users/current')).status, 401);
});

t.test('bad input on users: 400/409/415 in the error shape, nothing created', async (t) => {
  const before = (await root.get('/users?page_size=100')).headers.get('x-total-count');
  const cases: [string, unknown, number, string?][] = [
    ['invalid JSON', '{"username": "x",', 400],
    ['an array', '[]', 400],
    // A required body that is missing fails go-swagger's binding: 422 (swagger: userReq required).
    ['empty body', '', 422],
    ['username of the wrong type', { username: 123, password: 'Valid-pass-1' }, 400],
    ['username breaking the grammar', { username: 'bad name!', password: 'Valid-pass-1' }, 400],
    ['robot-like username', { username: 'robot$x', password: 'Valid-pass-1' }, 400],
    ['weak password', { username: 'weakling', password: 'short' }, 400],
    ['bad email', { username: 'mailer', password: 'Valid-pass-1', email: 'not-an-email' }, 400],
    ['duplicate username', { username: 'dev', password: 'Valid-pass-1' }, 409],
    ['duplicate email', { username: 'copycat', password: 'Valid-pass-1', email: 'dev@example.test' }, 409],
  ];
  for (const [what, body, status] of cases) {
    const r = await root.call('POST', '/users', body, { 'Content-Type': 'application/json' });
    t.equal(r.status, status, what);
    errorShape(t, r, status === 409 ? 'CONFLICT' : status === 422 ? 'UNPROCESSABLE_ENTITY' : 'BAD_REQUEST');
  }
  const text = await root.call('POST', '/users', 'username=x', { 'Content-Type': 'text/plain' });
  t.equal(text.status, 415);
  errorShape(t, text, 'UNSUPPORTED_MEDIA_TYPE');
  t.equal((await root.get('/users?page_size=100')).headers.get('x-total-count'), before, 'no user was created');
  // Harbor's paging: page has no minimum (0 reads as the first page, src/lib/orm/query.go); page_size over 100
  // or anything that is no integer fails go-swagger's binding with 422.
  t.equal((await root.get('/users?page=0')).status, 200, 'page 0 is the first page');
  t.equal((await root.get('/users?page_size=101')).status, 422, 'page_size at most 100');
  t.equal((await root.get('/users?page_size=ten')).status, 422);
  t.equal((await root.get(`/users?q=${encodeURIComponent('password=x')}`)).status, 400, 'unknown q key');
  const missing = await root.get('/no-such-endpoint');
  t.equal(missing.status, 404);
  errorShape(t, missing, 'NOT_FOUND');
  const method = await root.call('PATCH', '/users');
  t.equal(method.status, 405);
  errorShape(t, method, 'METHOD_NOT_ALLOWED');
});

t.test('projects: shapes, visibility, HEAD, name or id, 401 vs 403', async (t) => {
  const p = await as(dev).get('/projects/priv');
  t.equal(p.status, 200);
  harborShape(t, 'Project', p.json, harbor.Project, { omitted: ['cve_allowlist'] });
  t.match(p.json, { project_id: privId, name: 'priv', owner_name: 'admin', metadata: { public: 'false' }, current_user_role_id: 2, current_user_role_ids: [2] });
  t.same((await as(dev).get(`/projects/${privId}`)).json.name, 'priv', 'by id');
  t.equal((await as(dev).call('GET', '/projects/priv', undefined, { 'X-Is-Resource-Name': 'true' })).status, 200, 'X-Is-Resource-Name');
  t.equal((await anon.get('/projects/priv')).status, 401);
  t.equal((await as(nobody).get('/projects/priv')).status, 403);
  t.equal((await as(nobody).get('/projects/library')).status, 200, 'public: everyone');
  t.equal((await root.get('/projects/nope')).status, 404);

  t.same((await anon.get('/projects')).json.map((x: { name: string }) => x.name), ['library'], 'anonymous: public only');
  t.same((await as(nobody).get('/projects')).json.map((x: { name: string }) => x.name), ['library']);
  t.same((await as(dev).get('/projects')).json.map((x: { name: string }) => x.name), ['library', 'priv']);
  t.same((await as(dev).get('/projects?public=false')).json.map((x: { name: string }) => x.name), ['priv']);
  t.same((await root.get('/projects?name=pri')).json.map((x: { name: string }) => x.name), ['priv']);
  t.same((await root.get('/projects?owner=admin')).headers.get('x-total-count'), '2');

  t.equal((await root.call('HEAD', '/projects?project_name=priv')).status, 200);
  t.equal((await root.call('HEAD', '/projects?project_name=nope')).status, 404);
  t.equal((await root.call('HEAD', '/projects')).status, 400);
  t.equal((await anon.call('HEAD', '/projects?project_name=priv')).status, 401);
});

t.test('projects: create, update, delete (412 while repositories remain)', async (t) => {
  const c = await root.call('POST', '/projects', { project_name: 'made', public: true }, { 'X-Resource-Name-In-Location': 'true' });
  t.equal(c.status, 201);
  t.equal(c.headers.get('location'), '/api/v2.0/projects/made');
  t.equal((await root.get('/projects/made')).json.metadata.public, 'true', 'the deprecated public flag works');
  t.equal((await as(dev).post('/projects', { project_name: 'mine' })).status, 403, 'only system admins create projects');
  t.equal((await anon.post('/projects', { project_name: 'mine' })).status, 401);
  t.equal((await root.put('/projects/made', { metadata: { public: 'false' } })).status, 200);
  t.equal((await root.get('/projects/made')).json.metadata.public, 'false');
  t.equal((await as(dev).put('/projects/priv', { metadata: { public: 'true' } })).status, 403, 'developers do not change visibility');
  t.equal((await as(owner).put('/projects/priv', { metadata: { public: 'false' } })).status, 200, 'project admins do');
  t.equal((await root.put('/projects/made', { project_name: 'renamed' })).status, 400, 'no renames');

  must((await pushImage(berth.url, 'made/app', 'v1', basic(admin))) === 201, 'seed made/app');
  const busy = await root.del('/projects/made');
  t.equal(busy.status, 412);
  errorShape(t, busy, 'PRECONDITION');
  t.equal((await root.del('/projects/made/repositories/app')).status, 200);
  t.equal((await root.del('/projects/made')).status, 200);
  t.equal((await root.get('/projects/made')).status, 404);
  t.equal((await root.call('HEAD', '/projects?project_name=made')).status, 404);
});

t.test('bad input on projects: nothing created', async (t) => {
  const count = async () => (await root.get('/projects')).headers.get('x-total-count');
  const before = await count();
  const cases: [string, unknown, number][] = [
    ['uppercase name', { project_name: 'Bad' }, 400],
    ['name with a slash', { project_name: 'a/b' }, 400],
    ['name too long', { project_name: 'a'.repeat(256) }, 400],
    ['missing name', { metadata: { public: 'true' } }, 400],
    ['metadata.public as a boolean', { project_name: 'typed', metadata: { public: true } }, 400],
    ['public as a string', { project_name: 'typed', public: 'yes' }, 400],
    ['proxy cache', { project_name: 'proxy', registry_id: 3 }, 400],
    ['name as a number', { project_name: 42 }, 400],
    ['duplicate', { project_name: 'priv' }, 409],
  ];
  for (const [what, body, status] of cases) {
    const r = await root.post('/projects', body);
    t.equal(r.status, status, what);
    errorShape(t, r, status === 409 ? 'CONFLICT' : 'BAD_REQUEST');
  }
  t.equal(await count(), before, 'no project was created');
});

t.test('members: CRUD with role ids, Harbor shapes, who may', async (t) => {
  const list = await as(guest).get('/projects/priv/members');
  t.equal(list.status, 200, 'guests list members');
  t.equal(list.headers.get('x-total-count'), '5');
  for (const m of list.json) harborShape(t, 'ProjectMemberEntity', m, harbor.ProjectMemberEntity);
  const byName = Object.fromEntries(list.json.map((m: any) => [m.entity_name, m]));
  t.match(byName.owner, { role_id: 1, role_name: 'projectAdmin', entity_type: 'u', entity_id: ids.owner, project_id: privId });
  t.match(byName.maint, { role_id: 4, role_name: 'maintainer' });
  t.match(byName.dev, { role_id: 2, role_name: 'developer' });
  t.match(byName.guest, { role_id: 3, role_name: 'guest' });
  t.same((await as(guest).get('/projects/priv/members?entityname=mai')).json.map((m: any) => m.entity_name), ['maint']);

  const add = await as(owner).post(`/projects/${privId}/members`, { role_id: 5, member_user: { user_id: ids.nobody } });
  t.equal(add.status, 201);
  t.match(add.headers.get('location'), new RegExp(`^/api/v2\\.0/projects/${privId}/members/\\d+$`));
  const mid = Number(add.headers.get('location')!.split('/').pop());
  const m = await as(owner).get(`/projects/priv/members/${mid}`);
  t.match(m.json, { entity_name: 'nobody', role_id: 5, role_name: 'limitedGuest' });
  t.equal((await as(nobody).get('/projects/priv/members')).status, 403, 'limited guests do not list members');
  t.equal((await as(owner).post('/projects/priv/members', { role_id: 3, member_user: { username: 'nobody' } })).status, 409, 'already a member');
  t.equal((await as(owner).put(`/projects/priv/members/${mid}`, { role_id: 3 })).status, 200);
  t.equal((await as(nobody).get('/projects/priv/members')).status, 200, 'as a guest now');
  t.equal((await as(maint).put(`/projects/priv/members/${mid}`, { role_id: 1 })).status, 403, 'maintainers do not manage members');
  t.equal((await as(owner).del(`/projects/priv/members/${mid}`)).status, 200);
  t.equal((await as(owner).get(`/projects/priv/members/${mid}`)).status, 404);
  t.equal((await as(owner).get(`/projects/library/members/${byName.dev.id}`)).status, 403, 'a member id from another project');

  const before = (await root.get('/projects/priv/members')).headers.get('x-total-count');
  const bad: [string, unknown, number][] = [
    ['role 9', { role_id: 9, member_user: { username: 'nobody' } }, 400],
    ['role as a string', { role_id: '2', member_user: { username: 'nobody' } }, 400],
    ['group member', { role_id: 2, member_group: { group_name: 'devs' } }, 400],
    ['no member', { role_id: 2 }, 400],
    ['unknown user', { role_id: 2, member_user: { username: 'ghost' } }, 404],
  ];
  for (const [what, body, status] of bad) t.equal((await root.post('/projects/priv/members', body)).status, status, what);
  t.equal((await root.get('/projects/priv/members')).headers.get('x-total-count'), before, 'no member was added');
});

t.test('repositories: list, get (name encoded twice), delete', async (t) => {
  must((await pushImage(berth.url, 'priv/app', 'v1', basic(dev))) === 201, 'push priv/app');
  must((await pushImage(berth.url, 'priv/app/sub', 'v1', basic(dev))) === 201, 'push priv/app/sub');
  must((await pushImage(berth.url, 'priv/app/sub', 'v2', basic(dev))) === 201, 'push priv/app/sub:v2');
  const list = await as(guest).get('/projects/priv/repositories');
  t.equal(list.status, 200);
  t.equal(list.headers.get('x-total-count'), '2');
  for (const r of list.json) harborShape(t, 'Repository', r, harbor.Repository, { omitted: ['id'] });
  t.same(list.json.map((r: any) => [r.name, r.artifact_count, r.project_id]), [['priv/app', 1, privId], ['priv/app/sub', 2, privId]]);
  t.equal((await as(nobody).get('/projects/priv/repositories')).status, 403);
  t.equal((await root.get(`/projects/priv/repositories?q=${encodeURIComponent('name=~sub')}`)).json.length, 1);
  const one = await as(dev).get('/projects/priv/repositories/app%252Fsub');
  t.equal(one.status, 200);
  t.equal(one.json.name, 'priv/app/sub');
  t.equal((await as(dev).get('/projects/priv/repositories/none')).status, 404);
  t.equal((await as(dev).get('/projects/priv/repositories/BAD%2520name')).status, 400);
  t.equal((await as(dev).del('/projects/priv/repositories/app%252Fsub')).status, 403, 'developers do not delete');
  t.equal((await as(maint).del('/projects/priv/repositories/app%252Fsub')).status, 200, 'maintainers do');
  const gone = await fetch(`${berth.url}/v2/priv/app/sub/manifests/v1`, { headers: { Authorization: basic(admin) } });
  t.equal(gone.status, 404, 'the repository is gone from /v2');
  t.equal((await as(maint).del('/projects/priv/repositories/app%252Fsub')).status, 404);
  const log = await root.get(`/audit-logs?q=${encodeURIComponent('operation=delete,resource_type=repository')}`);
  t.match(log.json[0], { username: 'maint', resource: 'priv/app/sub', operation: 'delete', project_id: privId });
});

t.test('robots: shapes, levels, who may, bad input', async (t) => {
  const body = {
    name: 'builder',
    description: 'CI',
    level: 'project',
    duration: 7,
    permissions: [{ kind: 'project', namespace: 'priv', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }] }],
  };
  t.equal((await as(maint).post('/robots', body)).status, 403, 'maintainers do not create robots');
  const created = await as(owner).post('/robots', body);
  t.equal(created.status, 201);
  harborShape(t, 'RobotCreated', created.json, harbor.RobotCreated);
  t.equal(created.json.name, 'robot$priv+builder');
  t.match(created.headers.get('location'), new RegExp(`^/api/v2\\.0/robots/${created.json.id}$`));
  t.ok(Math.abs(created.json.expires_at - (Date.now() / 1000 + 7 * 86400)) < 120, 'expires in 7 days');
  t.match(created.json.secret, /^(?=.*[A-Z])(?=.*[a-z])(?=.*\d).{32}$/);
  const got = await as(owner).get(`/robots/${created.json.id}`);
  harborShape(t, 'Robot', got.json, harbor.Robot, { omitted: ['secret'] });
  t.notOk('secret' in got.json, 'the secret is shown once');
  t.match(got.json, { level: 'project', duration: 7, disable: false, editable: true, creator_type: 'local', creator_ref: ids.owner, permissions: body.permissions });
  t.equal((await as(dev).get(`/robots/${created.json.id}`)).status, 403);
  t.equal((await as(owner).post('/robots', body)).status, 409, 'same name');

  const listed = await as(owner).get(`/robots?q=${encodeURIComponent(`Level=project,ProjectID=${privId}`)}`);
  t.equal(listed.status, 200);
  t.same(listed.json.map((r: any) => r.name), ['robot$priv+builder']);
  t.equal((await as(owner).get('/robots')).status, 403, 'system robots are for system admins');
  t.equal((await as(dev).get(`/robots?q=${encodeURIComponent(`Level=project,ProjectID=${privId}`)}`)).status, 403);
  t.equal((await root.get('/robots?q=Level=project')).status, 400, 'project robots need ProjectID');

  const sys = { name: 'sysbot', level: 'system', duration: -1, permissions: [{ kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] }] };
  t.equal((await as(owner).post('/robots', sys)).status, 403, 'only system admins make system robots');
  const s = await root.post('/robots', sys);
  t.equal(s.status, 201);
  t.equal(s.json.expires_at, -1);
  t.same((await root.get('/robots')).json.map((r: any) => r.name), ['robot$sysbot']);

  const chosen = await as(owner).call('PATCH', `/robots/${created.json.id}`, { secret: 'Chosen-secret-1' });
  t.same(chosen.json, { secret: '' }, 'a chosen secret is not echoed');
  t.equal((await as(owner).call('PATCH', `/robots/${created.json.id}`, { secret: 'weak' })).status, 400);
  t.equal((await as(owner).put(`/robots/${created.json.id}`, { name: 'other' })).status, 400, 'no renames');
  t.equal((await as(owner).put(`/robots/${created.json.id}`, { duration: -1, description: 'forever' })).status, 200);
  t.match((await as(owner).get(`/robots/${created.json.id}`)).json, { duration: -1, expires_at: -1, description: 'forever' });

  const before = (await root.get('/robots')).headers.get('x-total-count');
  const projectBefore = (await as(owner).get(`/robots?q=${encodeURIComponent(`Level=project,ProjectID=${privId}`)}`)).headers.get('x-total-count');
  const bad: [string, unknown, number][] = [
    ['duration 0', { ...body, name: 'b1', duration: 0 }, 400],
    ['duration as a string', { ...body, name: 'b2', duration: '7' }, 400],
    ['unknown level', { ...body, name: 'b3', level: 'global' }, 400],
    ['no permissions', { ...body, name: 'b4', permissions: [] }, 400],
    ['name breaking the grammar', { ...body, name: 'Bad$Name' }, 400],
    ['missing project', { ...body, name: 'b5', permissions: [{ ...body.permissions[0], namespace: 'ghost' }] }, 404],
    ['two projects for a project robot', { ...body, name: 'b6', permissions: [body.permissions[0], { ...body.permissions[0], namespace: 'library' }] }, 400],
    ['unsupported kind', { ...body, name: 'b7', permissions: [{ ...body.permissions[0], kind: 'system' }] }, 400],
    ['weak secret', { ...body, name: 'b8', secret: 'weak' }, 400],
    ['access without action', { ...body, name: 'b9', permissions: [{ kind: 'project', namespace: 'priv', access: [{ resource: 'repository' }] }] }, 400],
  ];
  for (const [what, b, status] of bad) t.equal((await root.post('/robots', b)).status, status, what);
  t.equal((await root.get('/robots')).headers.get('x-total-count'), before, 'no system robot was created');
  t.equal((await as(owner).get(`/robots?q=${encodeURIComponent(`Level=project,ProjectID=${privId}`)}`)).headers.get('x-total-count'), projectBefore, 'no project robot either');

  t.equal((await as(owner).del(`/robots/${created.json.id}`)).status, 200);
  t.equal((await root.get(`/robots/${created.json.id}`)).status, 404);
});

t.test('audit logs: shapes, q, sort, paging, who sees what', async (t) => {
  const all = await root.get('/audit-logs?page_size=100');
  t.equal(all.status, 200);
  for (const e of all.json.slice(0, 5)) harborShape(t, 'AuditLog', e, harbor.AuditLog, { extensions: ['operation_result', 'operation_description', 'client_ip', 'project_id'] });
  const ids_ = all.json.map((e: { id: number }) => e.id);
  t.same(ids_, [...ids_].sort((a: number, b: number) => b - a), 'newest first');
  const asc = await root.get('/audit-logs?sort=op_time&page_size=3');
  t.ok(asc.json[0].id < asc.json[2].id, 'sort=op_time: oldest first');

  const created = await root.get(`/audit-logs?q=${encodeURIComponent('operation=create,resource_type=project')}`);
  t.same(created.json.map((e: { resource: string }) => e.resource).sort(), ['made', 'priv']);
  t.ok(created.json.every((e: { username: string }) => e.username === 'admin'));
  const members = await root.get(`/audit-logs?q=${encodeURIComponent('resource_type={project_member robot}')}&page_size=100`);
  t.ok(members.json.length >= 6 && members.json.every((e: { resource_type: string }) => ['project_member', 'robot'].includes(e.resource_type)), 'union');
  const from = new Date(Date.now() - 3600_000).toISOString().replace('T', ' ').slice(0, 19);
  const to = new Date(Date.now() + 3600_000).toISOString().replace('T', ' ').slice(0, 19);
  const ranged = await root.get(`/audit-logs?q=${encodeURIComponent(`op_time=[${from}~${to}]`)}&page_size=1`);
  t.equal(ranged.headers.get('x-total-count'), all.headers.get('x-total-count'), 'a range around now holds everything');
  const past = await root.get(`/audit-logs?q=${encodeURIComponent('op_time=[2000-01-01 00:00:00~2000-01-02 00:00:00]')}`);
  t.same(past.json, []);
  t.equal((await root.get(`/audit-logs?q=${encodeURIComponent('op_time=[yesterday~today]')}`)).status, 400);

  const mine = await as(owner).get('/audit-logs?page_size=100');
  t.ok(mine.json.length > 0 && mine.json.every((e: { project_id: number }) => e.project_id === privId), 'a project admin sees its project only');
  t.same((await as(dev).get('/audit-logs')).json, [], 'a developer sees nothing');
  t.equal((await anon.get('/audit-logs')).status, 401);
  t.equal((await as(owner).get('/projects/priv/logs')).status, 200);
  t.equal((await as(dev).get('/projects/priv/logs')).status, 403);
  const changes = await as(owner).get(`/projects/priv/logs?q=${encodeURIComponent('operation=create,resource_type=project_member')}`);
  t.ok(changes.json.some((e: { resource: string; username: string }) => e.resource === 'nobody' && e.username === 'owner'), 'owner added nobody');
});

t.test('the OpenAPI document lists what is implemented', async (t) => {
  const doc = await anon.get('/openapi.json');
  t.equal(doc.status, 200);
  t.equal(doc.json.openapi, '3.1.0');
  const paths = Object.keys(doc.json.paths);
  for (const p of ['/ping', '/health', '/systeminfo', '/users', '/users/current', '/users/{user_id}/password', '/users/{user_id}/sysadmin', '/projects', '/projects/{project_name_or_id}', '/projects/{project_name_or_id}/members/{mid}', '/projects/{project_name}/repositories/{repository_name}', '/robots', '/robots/{robot_id}', '/audit-logs']) {
    t.ok(paths.includes(p), p);
  }
  t.same(Object.keys(doc.json.paths['/robots/{robot_id}']).sort(), ['delete', 'get', 'patch', 'put']);
  const robotCreate = doc.json.components.schemas.RobotCreate;
  t.same(robotCreate.required.sort(), ['duration', 'level', 'name', 'permissions'], 'request bodies come from the zod schemas');
  // Every documented operation is routed: none answers "no such endpoint".
  for (const [path, methods] of Object.entries(doc.json.paths as Record<string, Record<string, unknown>>)) {
    const concrete = path.replace(/\{[^}]+\}/g, '1');
    for (const method of Object.keys(methods)) {
      const r = await root.call(method.toUpperCase(), concrete, ['post', 'put', 'patch'].includes(method) ? '{}' : undefined, { 'Content-Type': 'application/json' });
      t.not(r.status === 404 && r.json?.errors?.[0]?.message === 'no such endpoint', true, `${method} ${path} is routed`);
      t.not(r.status, 405, `${method} ${path} is allowed`);
    }
  }
});

t.test('allow_user_projects lets users create projects, and makes them its admin', async (t) => {
  const open = await startTokenBerth(t, { BERTH_ALLOW_USER_PROJECTS: 'true' });
  const api = new AdminApi(open.url, admin);
  await api.createUser('maker', 'Maker-pass-1');
  const maker = new AdminApi(open.url, { username: 'maker', password: 'Maker-pass-1' });
  t.equal((await maker.post('/projects', { project_name: 'own' })).status, 201);
  const members = await maker.get('/projects/own/members');
  t.match(members.json, [{ entity_name: 'maker', role_id: 1 }]);
  t.equal((await maker.get('/systeminfo')).json.project_creation_restriction, 'everyone');
  t.equal(await pushImage(open.url, 'own/app', 'v1', basic({ username: 'maker', password: 'Maker-pass-1' })), 201);
});

t.test("replication's API (mounted beside ours) is for system admins in token mode", async (t) => {
  t.equal((await anon.get('/registries')).status, 401);
  errorShape(t, await as(owner).get('/registries'), 'FORBIDDEN');
  t.equal((await as(owner).get('/replication/policies')).status, 403);
  t.equal((await root.get('/registries')).status, 200);
});
