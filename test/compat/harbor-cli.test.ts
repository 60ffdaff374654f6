// harbor-cli (goharbor/harbor-cli @d98afec, go-client v0.213.1) replayed against a token-auth Berth: each command's
// requests as pkg/api/*.go and cmd/harbor/root/** build them through the generated go-client — query strings as
// go-openapi writes them (page/page_size sent even when 0, empty strings left out, X-Is-Resource-Name as a header),
// bodies as the swagger models with the fields the CLI sets — each answer checked against Harbor v2.15.2's swagger
// and the values the CLI prints or goes on with.
import t, { type Test } from 'tap';
import { ADMIN_PASSWORD, admin, basic, pushImage, startTokenBerth, tokenReply } from '../auth/access.js';
import { GONE, goPath, goQuery, Replay, STRFMT_ZERO_TIME } from './replay.js';

const berth = await startTokenBerth(t);
const cli = new Replay(berth.url, { Authorization: basic(admin), Accept: 'application/json' });
const byName = { 'X-Is-Resource-Name': 'true' };
const byId = { 'X-Is-Resource-Name': 'false' };

/** `harbor project create <name>` (not a proxy cache, default storage limit -1): api.CreateProject. */
async function createProject(t: Test, name: string, isPublic = false): Promise<number> {
  await cli.send(t, 'POST', '/projects', { body: { project_name: name, public: isPublic, storage_limit: -1, metadata: { public: String(isPublic) } }, expect: 201 });
  const view = await cli.send(t, 'GET', `/projects/${goPath(name)}`, { headers: byName, expect: 200, template: '/projects/{project_name_or_id}' });
  return view.json.project_id;
}

t.test('harbor login: GET /users/current with the credentials; a robot falls back to the project list and ping', async (t) => {
  const me = await cli.send(t, 'GET', '/users/current', { expect: 200 });
  t.same({ username: me.json.username, sysadmin: me.json.sysadmin_flag }, { username: 'admin', sysadmin: true });
  const wrong = new Replay(berth.url, { Authorization: basic({ username: 'admin', password: 'not-it' }), Accept: 'application/json' });
  const refused = await wrong.send(t, 'GET', '/users/current');
  t.equal(refused.status, 401, 'wrong credentials: 401, which the CLI reports as an authentication failure');

  await createProject(t, 'cli-login');
  const robot = await cli.send(t, 'POST', '/robots', { body: { duration: -1, level: 'project', name: 'login', permissions: [{ access: [{ action: 'pull', resource: 'repository' }], kind: 'project', namespace: 'cli-login' }] }, expect: 201 });
  const asRobot = new Replay(berth.url, { Authorization: basic({ username: robot.json.name, password: robot.json.secret }), Accept: 'application/json' });
  // not 401/403 (the CLI would stop there) but 412, as Harbor's handler answers a robot (user.go
  // GetCurrentUserInfo: PreconditionFailedError), so the CLI goes on to the project list and ping
  await asRobot.send(t, 'GET', '/users/current', { expect: 412, undeclared: 'Harbor answers a robot 412 here too, outside its swagger' });
  await asRobot.send(t, 'GET', `/projects${goQuery({ page: 1, page_size: 1 })}`, { expect: 200 });
  await asRobot.send(t, 'GET', '/ping', { expect: 200 });
});

t.test('harbor info: systeminfo, statistics, volumes, current user', async (t) => {
  const info = await cli.send(t, 'GET', '/systeminfo', { expect: 200 });
  t.match(info.json.harbor_version, /^v2\.\d+\.\d+/, 'a Harbor-shaped version');
  const stats = await cli.send(t, 'GET', '/statistics', { expect: 200 });
  t.type(stats.json.total_project_count, 'number');
  const volumes = await cli.send(t, 'GET', '/systeminfo/volumes', { expect: 200 });
  t.type(volumes.json.storage?.[0]?.total, 'number');
  await cli.send(t, 'GET', '/users/current', { expect: 200 });
});

t.test('harbor project: create, view (by name and by id), list (all, --public), search, delete', async (t) => {
  const id = await createProject(t, 'cli-project');
  const view = await cli.send(t, 'GET', '/projects/cli-project', { headers: byName, expect: 200, template: '/projects/{project_name_or_id}' });
  t.same({ name: view.json.name, public: view.json.metadata?.public }, { name: 'cli-project', public: 'false' });
  const viewById = await cli.send(t, 'GET', `/projects/${id}`, { headers: byId, expect: 200, template: '/projects/{project_name_or_id}' });
  t.equal(viewById.json.name, 'cli-project', '--id reads the same project');
  await cli.send(t, 'POST', '/projects', { body: { project_name: 'cli-public', public: true, storage_limit: -1, metadata: { public: 'true' } }, expect: 201 });

  // `project list`: page size 0 means every page of 100 until a short one (ListAllProjects: no public parameter)
  const all = await cli.send(t, 'GET', `/projects${goQuery({ page: 1, page_size: 100 })}`, { expect: 200 });
  t.ok((all.json as any[]).some((p) => p.name === 'cli-project'), 'listed');
  // `project list --public` (ListProject: public=true)
  const pub = await cli.send(t, 'GET', `/projects${goQuery({ page: 1, page_size: 100, public: true })}`, { expect: 200 });
  t.same((pub.json as any[]).map((p) => p.name).filter((n) => n.startsWith('cli-')), ['cli-public'], 'only the public one');
  // `project list --private` (ListProject: public=false)
  const priv = await cli.send(t, 'GET', `/projects${goQuery({ page: 1, page_size: 100, public: false })}`, { expect: 200 });
  t.notOk((priv.json as any[]).some((p) => p.name === 'cli-public'), 'the public one is not private');

  const found = await cli.send(t, 'GET', `/search${goQuery({ q: 'cli-proj' })}`, { expect: 200 });
  t.same((found.json.project ?? []).map((p: any) => p.name), ['cli-project'], '`project search` finds it');

  await cli.send(t, 'DELETE', '/projects/cli-project', { headers: byName, expect: 200, template: '/projects/{project_name_or_id}' });
  await cli.send(t, 'GET', '/projects/cli-project', { headers: byName, ...GONE, template: '/projects/{project_name_or_id}' });
  await cli.send(t, 'DELETE', '/projects/cli-public', { headers: byName, expect: 200, template: '/projects/{project_name_or_id}' });
});

t.test('harbor repo: list, view (nested names path-escaped), search, delete', async (t) => {
  await createProject(t, 'cli-repo');
  t.equal(await pushImage(berth.url, 'cli-repo/app', 'v1', basic(admin)), 201);
  t.equal(await pushImage(berth.url, 'cli-repo/team/api', 'v1', basic(admin)), 201);
  // `repo list cli-repo` (page 1, page size 10)
  const list = await cli.send(t, 'GET', `/projects/cli-repo/repositories${goQuery({ page: 1, page_size: 10 })}`, { expect: 200 });
  t.same((list.json as any[]).map((r) => r.name).sort(), ['cli-repo/app', 'cli-repo/team/api']);
  t.same((list.json as any[]).map((r) => r.artifact_count), [1, 1], 'each has one artifact');
  // `repo view cli-repo/team/api`: the repository part is one path parameter
  const view = await cli.send(t, 'GET', `/projects/cli-repo/repositories/${goPath('team/api')}`, { expect: 200, template: '/projects/{project_name}/repositories/{repository_name}' });
  t.equal(view.json.name, 'cli-repo/team/api');
  // `repo search api`
  const found = await cli.send(t, 'GET', `/search${goQuery({ q: 'api' })}`, { expect: 200 });
  t.ok((found.json.repository ?? []).some((r: any) => r.repository_name === 'cli-repo/team/api'), 'found by search');
  // `repo delete cli-repo/team/api`
  await cli.send(t, 'DELETE', `/projects/cli-repo/repositories/${goPath('team/api')}`, { expect: 200, template: '/projects/{project_name}/repositories/{repository_name}' });
  await cli.send(t, 'GET', `/projects/cli-repo/repositories/${goPath('team/api')}`, { ...GONE, template: '/projects/{project_name}/repositories/{repository_name}' });
  const left = await cli.send(t, 'GET', `/projects/cli-repo/repositories${goQuery({ page: 1, page_size: 10 })}`, { expect: 200 });
  t.same((left.json as any[]).map((r) => r.name), ['cli-repo/app']);
});

t.test('harbor project robot / harbor robot: create, list, view by name, update, refresh, delete', async (t) => {
  const pid = await createProject(t, 'cli-robots');
  // `project robot create cli-robots --name ci --duration 30` with pull+push: CheckRobotWithNameExists first —
  // the q is percent-encoded by the CLI (constants.ProjectQString) and once more by go-openapi
  const existing = await cli.send(t, 'GET', `/robots${goQuery({ page: 0, page_size: 0, q: `Level%3Dproject%2CProjectID%3D${pid}` })}`, { expect: 200 });
  t.same(existing.json, [], 'no robot in the project yet');
  await cli.send(t, 'GET', `/projects/${pid}`, { headers: byId, expect: 200, template: '/projects/{project_name_or_id}' });
  const config = await cli.send(t, 'GET', '/configurations', { expect: 200 });
  const prefix: string = config.json.robot_name_prefix?.value;
  t.type(prefix, 'string', 'robot_name_prefix.value, which the CLI puts before the name');
  const permissions = [{ access: [{ action: 'pull', resource: 'repository' }, { action: 'push', resource: 'repository' }], kind: 'project', namespace: 'cli-robots' }];
  const created = await cli.send(t, 'POST', '/robots', { body: { duration: 30, level: 'project', name: 'ci', permissions }, expect: 201 });
  t.type(created.json?.secret, 'string', 'the secret is in the answer');
  const id: number = created.json.id;
  const view = await cli.send(t, 'GET', `/robots/${id}`, { expect: 200, template: '/robots/{robot_id}' });
  t.equal(view.json.name, `${prefix}cli-robots+ci`, 'named <prefix><project>+<name>, as CheckRobotWithNameExists expects');
  const again = await cli.send(t, 'GET', `/robots${goQuery({ page: 0, page_size: 0, q: `Level%3Dproject%2CProjectID%3D${pid}` })}`, { expect: 200 });
  t.same((again.json as any[]).map((r) => r.name), [`${prefix}cli-robots+ci`], 'the project\'s robots, which the CLI compares by full name');

  // `project robot view ci -p cli-robots` (GetRobotByName): q name is the name without the prefix
  await cli.send(t, 'GET', '/projects/cli-robots', { headers: byName, expect: 200, template: '/projects/{project_name_or_id}' });
  const q = `Level%3Dproject%2CProjectID%3D${pid}%2Cname=cli-robots%2Bci`;
  const one = await cli.send(t, 'GET', `/robots${goQuery({ page: 0, page_size: 0, q })}`, { expect: 200 });
  t.same((one.json as any[]).map((r) => r.id), [id], 'exactly the robot (the CLI refuses none or several)');

  // `robot update <id>` with a description: GET, then PUT the Robot model (zero timestamps and all)
  const current = await cli.send(t, 'GET', `/robots/${id}`, { expect: 200, template: '/robots/{robot_id}' });
  const update = {
    creation_time: STRFMT_ZERO_TIME, description: 'updated by harbor-cli', disable: current.json.disable, duration: current.json.duration,
    editable: current.json.editable, id, level: current.json.level, name: current.json.name,
    permissions: [{ access: [{ action: 'pull', resource: 'repository' }], kind: 'project', namespace: 'cli-robots' }], update_time: STRFMT_ZERO_TIME,
  };
  await cli.send(t, 'PUT', `/robots/${id}`, { body: update, expect: 200, template: '/robots/{robot_id}' });
  const after = await cli.send(t, 'GET', `/robots/${id}`, { expect: 200, template: '/robots/{robot_id}' });
  t.same({ description: after.json.description, access: after.json.permissions?.[0]?.access?.map((a: any) => `${a.resource}:${a.action}`) }, { description: 'updated by harbor-cli', access: ['repository:pull'] });

  // `robot refresh <id>` without --secret: {} and Harbor answers the new random secret; with --secret: that one
  const refreshed = await cli.send(t, 'PATCH', `/robots/${id}`, { body: {}, expect: 200, template: '/robots/{robot_id}' });
  t.type(refreshed.json?.secret, 'string', 'a new secret to print');
  t.equal((await tokenReply(berth.url, { username: after.json.name, password: refreshed.json.secret }, [])).status, 200, 'the new secret logs in');
  await cli.send(t, 'PATCH', `/robots/${id}`, { body: { secret: 'Chosen-Secret-9' }, expect: 200, template: '/robots/{robot_id}' });
  t.equal((await tokenReply(berth.url, { username: after.json.name, password: 'Chosen-Secret-9' }, [])).status, 200, 'the chosen secret logs in');

  // `robot create` (system level) from a config file, then `robot list`, `robot view <name>`, `robot delete <id>`
  const sysPermissions = [
    { access: [{ action: 'pull', resource: 'repository' }], kind: 'project', namespace: 'cli-robots' },
    { access: [{ action: 'list', resource: 'project' }], kind: 'system', namespace: '/' },
  ];
  const sys = await cli.send(t, 'POST', '/robots', { body: { description: 'system', duration: -1, level: 'system', name: 'cli-sys', permissions: sysPermissions }, expect: 201 });
  const list = await cli.send(t, 'GET', `/robots${goQuery({ page: 1, page_size: 10 })}`, { expect: 200 });
  t.ok((list.json as any[]).some((r) => r.id === sys.json.id), '`robot list` shows the system robot');
  const named = await cli.send(t, 'GET', `/robots${goQuery({ page: 0, page_size: 0, q: 'name=cli-sys' })}`, { expect: 200 });
  t.same((named.json as any[]).map((r) => r.id), [sys.json.id], '`robot view cli-sys` finds it by the name without the prefix');
  await cli.send(t, 'DELETE', `/robots/${sys.json.id}`, { expect: 200, template: '/robots/{robot_id}' });
  await cli.send(t, 'DELETE', `/robots/${id}`, { expect: 200, template: '/robots/{robot_id}' });
  await cli.send(t, 'GET', `/robots/${id}`, { ...GONE, template: '/robots/{robot_id}' });
});

t.test('harbor registry: create, list, view, update (the credential read back goes out again), delete', async (t) => {
  // `registry create --name cli-reg --type docker-registry --url <berth> --credential-access-key admin ...`:
  // the Registry model with its zero timestamps and id 0
  const body = {
    creation_time: STRFMT_ZERO_TIME, credential: { access_key: 'admin', access_secret: ADMIN_PASSWORD, type: 'basic' }, description: 'from harbor-cli',
    id: 0, name: 'cli-reg', type: 'docker-registry', update_time: STRFMT_ZERO_TIME, url: berth.url,
  };
  await cli.send(t, 'POST', '/registries', { body, expect: 201 });
  // GetRegistryIdByName: list with name=
  const list = await cli.send(t, 'GET', `/registries${goQuery({ page: 1, page_size: 10, name: 'cli-reg' })}`, { expect: 200 });
  const reg = (list.json as any[]).find((r) => r.name === 'cli-reg');
  t.ok(reg, 'found by name');
  const view = await cli.send(t, 'GET', `/registries/${reg.id}`, { expect: 200, template: '/registries/{id}' });
  t.same({ name: view.json.name, type: view.json.type, url: view.json.url, key: view.json.credential?.access_key }, { name: 'cli-reg', type: 'docker-registry', url: berth.url, key: 'admin' });

  // `registry update <id> --description mirror`: every RegistryUpdate field, the credential as read (secret masked)
  const r = view.json;
  await cli.send(t, 'PUT', `/registries/${reg.id}`, {
    body: { access_key: r.credential.access_key, access_secret: r.credential.access_secret ?? '', credential_type: r.credential.type, description: 'mirror', insecure: r.insecure ?? false, name: r.name, url: r.url },
    expect: 200, template: '/registries/{id}',
  });
  const after = await cli.send(t, 'GET', `/registries/${reg.id}`, { expect: 200, template: '/registries/{id}' });
  t.equal(after.json.description, 'mirror');
  // the registry still works with the secret it had: a ping with its id
  const ping = await cli.send(t, 'POST', '/registries/ping', { body: { id: reg.id } });
  t.equal(ping.status, 200, 'the stored secret survived the update (not replaced by the mask)');
  await cli.send(t, 'DELETE', `/registries/${reg.id}`, { expect: 200, template: '/registries/{id}' });
  await cli.send(t, 'GET', `/registries/${reg.id}`, { ...GONE, template: '/registries/{id}' });
});

t.test('harbor replication: policies create (push, pull with a resource filter), list, view, update, start, executions, delete', async (t) => {
  await createProject(t, 'cli-repl');
  await createProject(t, 'copies');
  t.equal(await pushImage(berth.url, 'cli-repl/app', 'v1', basic(admin)), 201);
  await cli.send(t, 'POST', '/registries', { body: { creation_time: STRFMT_ZERO_TIME, credential: { access_key: 'admin', access_secret: ADMIN_PASSWORD, type: 'basic' }, id: 0, name: 'cli-target', type: 'docker-registry', update_time: STRFMT_ZERO_TIME, url: berth.url }, expect: 201 });
  const regs = await cli.send(t, 'GET', `/registries${goQuery({ page: 1, page_size: 10, name: 'cli-target' })}`, { expect: 200 });
  const regId: number = regs.json[0].id;
  const registry = (await cli.send(t, 'GET', `/registries/${regId}`, { expect: 200, template: '/registries/{id}' })).json;

  // `replication policies create` (push): ConvertToPolicy puts the whole Registry read back as dest_registry
  const push = {
    copy_by_chunk: false, creation_time: STRFMT_ZERO_TIME, description: 'cli push', dest_namespace: 'copies', dest_registry: registry, enabled: true,
    filters: [{ type: 'name', value: 'cli-repl/**' }, { decoration: 'matches', type: 'tag', value: 'v*' }], override: true,
    trigger: { type: 'manual' }, update_time: STRFMT_ZERO_TIME, name: 'cli-push',
  };
  await cli.send(t, 'POST', '/replication/policies', { body: push, expect: 201 });
  // pull: src_registry is the registry, the resource filter "image" the only choice the CLI offers
  const pull = {
    copy_by_chunk: false, creation_time: STRFMT_ZERO_TIME, name: 'cli-pull', src_registry: registry, enabled: true,
    filters: [{ type: 'resource', value: 'image' }, { type: 'name', value: 'cli-repl/app' }], override: true, trigger: { type: 'manual' }, update_time: STRFMT_ZERO_TIME,
  };
  await cli.send(t, 'POST', '/replication/policies', { body: pull, expect: 201 });

  // `replication policies list` (page size 0: pages of 100)
  const list = await cli.send(t, 'GET', `/replication/policies${goQuery({ page: 1, page_size: 100 })}`, { expect: 200 });
  const pushPolicy = (list.json as any[]).find((p) => p.name === 'cli-push');
  const pullPolicy = (list.json as any[]).find((p) => p.name === 'cli-pull');
  t.ok(pushPolicy && pullPolicy, 'both listed');
  const view = await cli.send(t, 'GET', `/replication/policies/${pushPolicy.id}`, { expect: 200, template: '/replication/policies/{id}' });
  t.same({ dest: view.json.dest_registry?.id, ns: view.json.dest_namespace, filters: view.json.filters?.map((f: any) => `${f.type}=${f.value}`) }, { dest: regId, ns: 'copies', filters: ['name=cli-repl/**', 'tag=v*'] });
  const pullView = await cli.send(t, 'GET', `/replication/policies/${pullPolicy.id}`, { expect: 200, template: '/replication/policies/{id}' });
  t.same(pullView.json.filters?.map((f: any) => `${f.type}=${f.value}`), ['resource=image', 'name=cli-repl/app'], 'the resource filter is kept');

  // `replication policies update <id>`: the policy read back, changed, PUT whole
  const update = { ...view.json, description: 'cli push, scheduled', trigger: { type: 'scheduled', trigger_settings: { cron: '0 0 * * * *' } } };
  await cli.send(t, 'PUT', `/replication/policies/${pushPolicy.id}`, { body: update, expect: 200, template: '/replication/policies/{id}' });
  const after = await cli.send(t, 'GET', `/replication/policies/${pushPolicy.id}`, { expect: 200, template: '/replication/policies/{id}' });
  t.same({ description: after.json.description, cron: after.json.trigger?.trigger_settings?.cron }, { description: 'cli push, scheduled', cron: '0 0 * * * *' });

  // `replication start <policy>`, then `replication executions list <policy>` and view
  await cli.send(t, 'POST', '/replication/executions', { body: { policy_id: pushPolicy.id }, expect: 201 });
  let execution: any;
  for (let i = 0; i < 100; i++) {
    const runs = await cli.send(t, 'GET', `/replication/executions${goQuery({ page: 1, page_size: 100, policy_id: pushPolicy.id })}`, { expect: 200 });
    execution = runs.json[0];
    if (execution && execution.status !== 'InProgress') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(execution?.status, 'Succeed', 'the replication ran');
  await cli.send(t, 'GET', `/replication/executions/${execution.id}`, { expect: 200, template: '/replication/executions/{id}' });
  const tasks = await cli.send(t, 'GET', `/replication/executions/${execution.id}/tasks${goQuery({ page: 1, page_size: 100 })}`, { expect: 200, template: '/replication/executions/{id}/tasks' });
  t.ok((tasks.json as any[]).length > 0, 'with its tasks');
  const copied = await cli.send(t, 'GET', `/projects/copies/repositories${goQuery({ page: 1, page_size: 10 })}`, { expect: 200 });
  t.same((copied.json as any[]).map((r) => r.name), ['copies/app'], 'cli-repl/app landed in dest_namespace copies');

  await cli.send(t, 'DELETE', `/replication/policies/${pullPolicy.id}`, { expect: 200, template: '/replication/policies/{id}' });
  await cli.send(t, 'DELETE', `/replication/policies/${pushPolicy.id}`, { expect: 200, template: '/replication/policies/{id}' });
  await cli.send(t, 'GET', `/replication/policies/${pushPolicy.id}`, { ...GONE, template: '/replication/policies/{id}' });
});
