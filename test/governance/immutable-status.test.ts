// The artifact list's with_immutable_status answers from the project's immutable tag rules, and retention keeps
// an artifact whose tag is immutable, saying why, while deleting the others the rules do not retain.
import t from 'tap';
import { admin, AdminApi, bearer, pushImage, startTokenBerth, token } from '../auth/access.js';
import { image } from '../helpers/oci-fixtures.js';
import { waitFor } from '../helpers/idc.js';

const berth = await startTokenBerth(t);
const root = new AdminApi(berth.url, admin);
const projectId = await root.createProject('rel', false);
const push = async (tag: string) => {
  const status = await pushImage(berth.url, 'rel/app', tag, bearer(await token(berth.url, admin, ['repository:rel/app:pull,push'])), image({ layers: 1, layerSize: 256 }));
  if (status !== 201) throw new Error(`push ${tag}: ${status}`);
};
for (const tag of ['v1', 'dev', 'v2']) await push(tag);
const made = await root.post('/projects/rel/immutabletagrules', {
  disabled: false,
  action: 'immutable',
  template: 'immutable_template',
  tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'v1' }],
  scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
});
if (made.status !== 201) throw new Error(`rule: ${made.status} ${made.text}`);

t.test('with_immutable_status marks exactly the tags a rule covers', async (t) => {
  const list = await root.get('/projects/rel/repositories/app/artifacts?with_immutable_status=true');
  t.equal(list.status, 200);
  const tags = Object.fromEntries(list.json.flatMap((a: any) => a.tags).map((x: any) => [x.name, x.immutable]));
  t.same(tags, { v1: true, dev: false, v2: false });
});

t.test('retention keeps the immutable artifact and says why', async (t) => {
  // Retain only the latest pushed one (v2): dev would go, and v1 too were it not immutable.
  const p = await root.post('/retentions', {
    algorithm: 'or',
    rules: [{ disabled: false, action: 'retain', template: 'latestPushedK', params: { latestPushedK: 1 }, tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**' }], scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] } }],
    trigger: { kind: 'Schedule', settings: {} },
    scope: { level: 'project', ref: projectId },
  });
  t.equal(p.status, 201, p.text);
  const id = Number(p.headers.get('location')!.split('/').pop());
  // A dry run already says v1 stays for its immutable tag.
  const dry = await root.post(`/retentions/${id}/executions`, { dry_run: true });
  const did = Number(dry.headers.get('location')!.split('/').pop());
  await waitFor(async () => ((await root.get(`/retentions/${id}/executions`)).json as any[]).find((e) => e.id === did && e.status !== 'Running'), 30_000, 200);
  const dryTasks = (await root.get(`/retentions/${id}/executions/${did}/tasks`)).json;
  const dryLog = (await root.get(`/retentions/${id}/executions/${did}/tasks/${dryTasks[0].id}`)).text;
  t.match(dryLog, /kept .*tags=\[v1\].*immutable/i, `the dry run keeps v1:\n${dryLog}`);
  t.match(dryLog, /would delete .*tags=\[dev\]/, 'and would delete dev');
  const run = await root.post(`/retentions/${id}/executions`, { dry_run: false });
  const eid = Number(run.headers.get('location')!.split('/').pop());
  await waitFor(async () => ((await root.get(`/retentions/${id}/executions`)).json as any[]).find((e) => e.id === eid && e.status !== 'Running'), 30_000, 200);
  const tasks = (await root.get(`/retentions/${id}/executions/${eid}/tasks`)).json;
  const log = (await root.get(`/retentions/${id}/executions/${eid}/tasks/${tasks[0].id}`)).text;
  t.match(log, /kept .*tags=\[v1\].*immutable/i, `the log says v1 was kept for its immutable tag:\n${log}`);
  const left = (await root.get('/projects/rel/repositories/app/artifacts')).json.flatMap((a: any) => a.tags.map((x: any) => x.name)).sort();
  t.same(left, ['v1', 'v2'], 'dev was deleted, v1 kept');
});
