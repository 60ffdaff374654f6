// harbor-cli's commands over the APIs of the artifacts and governance work — artifact, artifact tags, labels,
// artifact labels, repo update, project summary, project delete --force, tag immutable — and robot create --all
// (GET /permissions), replayed like harbor-cli.test.ts: the go-client's requests, answers checked against Harbor
// v2.15.2's swagger and the values the CLI goes on with.
import t, { type Test } from 'tap';
import { admin, basic, pushImage, startTokenBerth } from '../auth/access.js';
import { GONE, goPath, goQuery, Replay, STRFMT_ZERO_TIME } from './replay.js';

const berth = await startTokenBerth(t);
const cli = new Replay(berth.url, { Authorization: basic(admin), Accept: 'application/json' });
const byName = { 'X-Is-Resource-Name': 'true' };
const ARTIFACT = '/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}';

async function createProject(t: Test, name: string): Promise<number> {
  await cli.send(t, 'POST', '/projects', { body: { project_name: name, public: false, storage_limit: -1, metadata: { public: 'false' } }, expect: 201 });
  return (await cli.send(t, 'GET', `/projects/${name}`, { headers: byName, expect: 200, template: '/projects/{project_name_or_id}' })).json.project_id;
}

t.test('harbor artifact: list, view (tag and digest), tags list/create/delete, delete', async (t) => {
  await createProject(t, 'cli-art');
  t.equal(await pushImage(berth.url, 'cli-art/team/app', 'v1', basic(admin)), 201);
  const repo = goPath('team/app');
  // `artifact list cli-art/team/app`
  const list = await cli.send(t, 'GET', `/projects/cli-art/repositories/${repo}/artifacts${goQuery({ page: 1, page_size: 10 })}`, { expect: 200, template: '/projects/{project_name}/repositories/{repository_name}/artifacts' });
  t.equal(list.json.length, 1);
  const digest: string = list.json[0].digest;
  t.match(digest, /^sha256:[0-9a-f]{64}$/);
  t.same((list.json[0].tags ?? []).map((x: any) => x.name), ['v1'], 'with its tag (the CLI prints it)');
  // `artifact view cli-art/team/app:v1` and @digest (with_label=false)
  const byTag = await cli.send(t, 'GET', `/projects/cli-art/repositories/${repo}/artifacts/v1${goQuery({ with_label: false })}`, { expect: 200, template: ARTIFACT });
  t.equal(byTag.json.digest, digest);
  const byDigest = await cli.send(t, 'GET', `/projects/cli-art/repositories/${repo}/artifacts/${goPath(digest)}${goQuery({ with_label: false })}`, { expect: 200, template: ARTIFACT });
  t.equal(byDigest.json.digest, digest);

  // `artifact tags create cli-art/team/app@<digest> v2`: the Tag model, zero times and immutable false included
  await cli.send(t, 'POST', `/projects/cli-art/repositories/${repo}/artifacts/${goPath(digest)}/tags`, { body: { immutable: false, name: 'v2', pull_time: STRFMT_ZERO_TIME, push_time: STRFMT_ZERO_TIME }, expect: 201, template: `${ARTIFACT}/tags` });
  const tags = await cli.send(t, 'GET', `/projects/cli-art/repositories/${repo}/artifacts/${goPath(digest)}/tags`, { expect: 200, template: `${ARTIFACT}/tags` });
  t.same((tags.json as any[]).map((x) => x.name).sort(), ['v1', 'v2']);
  await cli.send(t, 'DELETE', `/projects/cli-art/repositories/${repo}/artifacts/${goPath(digest)}/tags/v1`, { expect: 200, template: `${ARTIFACT}/tags/{tag_name}` });
  const left = await cli.send(t, 'GET', `/projects/cli-art/repositories/${repo}/artifacts/v2/tags`, { expect: 200, template: `${ARTIFACT}/tags` });
  t.same((left.json as any[]).map((x) => x.name), ['v2']);

  // `artifact delete cli-art/team/app@<digest>`
  await cli.send(t, 'DELETE', `/projects/cli-art/repositories/${repo}/artifacts/${goPath(digest)}`, { expect: 200, template: ARTIFACT });
  await cli.send(t, 'GET', `/projects/cli-art/repositories/${repo}/artifacts/${goPath(digest)}${goQuery({ with_label: false })}`, { ...GONE, template: ARTIFACT });
});

t.test('harbor label (global and project) and harbor artifact label add/delete', async (t) => {
  const pid = await createProject(t, 'cli-labels');
  t.equal(await pushImage(berth.url, 'cli-labels/app', 'v1', basic(admin)), 201);
  // `label create --name cli-global` (color default #FFFFFF, scope g): the Label model with zero times
  await cli.send(t, 'POST', '/labels', { body: { color: '#FFFFFF', creation_time: STRFMT_ZERO_TIME, name: 'cli-global', scope: 'g', update_time: STRFMT_ZERO_TIME }, expect: 201 });
  // `label create --name cli-local --scope p --project <id>`: GET /projects/<id> first
  await cli.send(t, 'GET', `/projects/${pid}`, { headers: { 'X-Is-Resource-Name': 'false' }, expect: 200, template: '/projects/{project_name_or_id}' });
  await cli.send(t, 'POST', '/labels', { body: { color: '#00FF00', creation_time: STRFMT_ZERO_TIME, name: 'cli-local', project_id: pid, scope: 'p', update_time: STRFMT_ZERO_TIME }, expect: 201 });

  // GetLabelIdByName: ListLabels with zero paging, the scope, project_id 0 for global labels
  const globals = await cli.send(t, 'GET', `/labels${goQuery({ page: 0, page_size: 0, project_id: 0, scope: 'g' })}`, { expect: 200 });
  const global = (globals.json as any[]).find((l) => l.name === 'cli-global');
  t.ok(global, '`label list` finds the global label');
  const locals = await cli.send(t, 'GET', `/labels${goQuery({ page: 0, page_size: 0, project_id: pid, scope: 'p' })}`, { expect: 200 });
  const local = (locals.json as any[]).find((l) => l.name === 'cli-local');
  t.ok(local, 'and the project one');

  // `label update <id> --description ...`: GET, then PUT name/color/description/scope
  const current = await cli.send(t, 'GET', `/labels/${global.id}`, { expect: 200, template: '/labels/{label_id}' });
  await cli.send(t, 'PUT', `/labels/${global.id}`, { body: { color: current.json.color, creation_time: STRFMT_ZERO_TIME, description: 'set by harbor-cli', name: current.json.name, scope: current.json.scope, update_time: STRFMT_ZERO_TIME }, expect: 200, template: '/labels/{label_id}' });
  t.equal((await cli.send(t, 'GET', `/labels/${global.id}`, { expect: 200, template: '/labels/{label_id}' })).json.description, 'set by harbor-cli');

  // `artifact label add cli-labels/app:v1 cli-global`: the whole Label read back goes in the body
  const label = (await cli.send(t, 'GET', `/labels/${global.id}`, { expect: 200, template: '/labels/{label_id}' })).json;
  await cli.send(t, 'POST', '/projects/cli-labels/repositories/app/artifacts/v1/labels', { body: label, expect: 200, template: `${ARTIFACT}/labels` });
  const withLabel = await cli.send(t, 'GET', `/projects/cli-labels/repositories/app/artifacts/v1${goQuery({ with_label: true })}`, { expect: 200, template: ARTIFACT });
  t.same((withLabel.json.labels ?? []).map((l: any) => l.name), ['cli-global'], '`artifact view` shows it');
  // `artifact label delete cli-labels/app:v1 cli-global`
  await cli.send(t, 'DELETE', `/projects/cli-labels/repositories/app/artifacts/v1/labels/${global.id}`, { expect: 200, template: `${ARTIFACT}/labels/{label_id}` });
  const without = await cli.send(t, 'GET', `/projects/cli-labels/repositories/app/artifacts/v1${goQuery({ with_label: true })}`, { expect: 200, template: ARTIFACT });
  t.same(without.json.labels ?? [], []);

  // `label delete <id>`
  await cli.send(t, 'DELETE', `/labels/${global.id}`, { expect: 200, template: '/labels/{label_id}' });
  await cli.send(t, 'DELETE', `/labels/${local.id}`, { expect: 200, template: '/labels/{label_id}' });
  await cli.send(t, 'GET', `/labels/${global.id}`, { ...GONE, template: '/labels/{label_id}' });
});

t.test('harbor repo update --description: GET, then PUT the Repository read back', async (t) => {
  await createProject(t, 'cli-repoupd');
  t.equal(await pushImage(berth.url, 'cli-repoupd/app', 'v1', basic(admin)), 201);
  const view = await cli.send(t, 'GET', '/projects/cli-repoupd/repositories/app', { expect: 200, template: '/projects/{project_name}/repositories/{repository_name}' });
  const r = view.json;
  const body = { artifact_count: r.artifact_count, ...(r.creation_time && { creation_time: r.creation_time }), description: 'described by harbor-cli', id: r.id, name: r.name, project_id: r.project_id, pull_count: r.pull_count, update_time: r.update_time ?? STRFMT_ZERO_TIME };
  await cli.send(t, 'PUT', '/projects/cli-repoupd/repositories/app', { body, expect: 200, template: '/projects/{project_name}/repositories/{repository_name}' });
  const after = await cli.send(t, 'GET', '/projects/cli-repoupd/repositories/app', { expect: 200, template: '/projects/{project_name}/repositories/{repository_name}' });
  t.equal(after.json.description, 'described by harbor-cli');
});

t.test('harbor tag immutable create/list/delete; project summary; project delete --force', async (t) => {
  await createProject(t, 'cli-force');
  t.equal(await pushImage(berth.url, 'cli-force/app', 'v1', basic(admin)), 201);
  t.equal(await pushImage(berth.url, 'cli-force/team/api', 'v1', basic(admin)), 201);
  // `tag immutable create cli-force`: selectors only (no kind, action or template); the project by name, no header
  await cli.send(t, 'POST', '/projects/cli-force/immutabletagrules', { body: { scope_selectors: { repository: [{ decoration: 'repoMatches', pattern: '**' }] }, tag_selectors: [{ decoration: 'matches', pattern: 'v*' }] }, expect: 201, template: '/projects/{project_name_or_id}/immutabletagrules' });
  const rules = await cli.send(t, 'GET', '/projects/cli-force/immutabletagrules', { headers: byName, expect: 200, template: '/projects/{project_name_or_id}/immutabletagrules' });
  t.equal(rules.json.length, 1, '`tag immutable list`');
  t.not(await pushImage(berth.url, 'cli-force/app', 'v1', basic(admin)), 201, 'the rule holds: another image cannot take v1');

  // `project summary cli-force`
  const summary = await cli.send(t, 'GET', '/projects/cli-force/summary', { headers: byName, expect: 200, template: '/projects/{project_name_or_id}/summary' });
  t.equal(summary.json.repo_count, 2);

  // `project delete cli-force --force`: the project, its immutable rules deleted, every repository deleted, the project
  await cli.send(t, 'GET', '/projects/cli-force', { headers: byName, expect: 200, template: '/projects/{project_name_or_id}' });
  const listed = await cli.send(t, 'GET', '/projects/cli-force/immutabletagrules', { headers: byName, expect: 200, template: '/projects/{project_name_or_id}/immutabletagrules' });
  for (const rule of listed.json as any[]) {
    await cli.send(t, 'DELETE', `/projects/cli-force/immutabletagrules/${rule.id}`, { headers: byName, expect: 200, template: '/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}' });
  }
  const repos = await cli.send(t, 'GET', `/projects/cli-force/repositories${goQuery({ page: 0, page_size: 0 })}`, { expect: 200, template: '/projects/{project_name}/repositories' });
  t.equal(repos.json.length, 2, 'page_size 0: every repository');
  for (const r of repos.json as any[]) {
    const name = String(r.name).slice('cli-force/'.length);
    await cli.send(t, 'DELETE', `/projects/cli-force/repositories/${goPath(name)}`, { expect: 200, template: '/projects/{project_name}/repositories/{repository_name}' });
  }
  await cli.send(t, 'DELETE', '/projects/cli-force', { headers: byName, expect: 200, template: '/projects/{project_name_or_id}' });
});

t.test('harbor robot create --all: every permission GET /permissions lists is granted', async (t) => {
  await createProject(t, 'cli-all');
  const perms = await cli.send(t, 'GET', '/permissions', { expect: 200 });
  const access = (list: any[] | undefined) => (list ?? []).map((p) => ({ action: p.action, resource: p.resource }));
  t.ok(access(perms.json.project).length > 0, 'project permissions to grant');
  // buildMergedPermissions: the project's, and a system entry only when /permissions lists system ones
  const permissions: unknown[] = [{ access: access(perms.json.project), kind: 'project', namespace: 'cli-all' }];
  if (access(perms.json.system).length > 0) permissions.push({ access: access(perms.json.system), kind: 'system', namespace: '/' });
  const created = await cli.send(t, 'POST', '/robots', { body: { description: 'all', duration: -1, level: 'system', name: 'cli-all', permissions }, expect: 201 });
  const read = await cli.send(t, 'GET', `/robots/${created.json.id}`, { expect: 200, template: '/robots/{robot_id}' });
  const count = (r: any, kind: string) => (r.permissions as any[]).find((p) => p.kind === kind)?.access?.length ?? 0;
  t.equal(count(read.json, 'project'), access(perms.json.project).length, 'every project permission kept');
  t.equal(count(read.json, 'system'), access(perms.json.system).length, 'and every system one');
});
