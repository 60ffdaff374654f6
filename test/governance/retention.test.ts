// Tag retention over 50 tags with known push order and pull times: a dry run lists exactly what the rules would
// delete and deletes nothing; the real run deletes exactly that, and the deletes replicate to a second IDC.
// Rules (Harbor's `or`): the 10 most recently pushed v* artifacts, the 3 most recently pulled of any tag, and
// keep-* always.
import t from 'tap';
import { OciClient } from '../../core/oci-client.js';
import { addPolicy, addRegistry, api, pushImage, startIdc, waitFor } from '../helpers/idc.js';

const PASSWORD = 'Retention-Admin-1';
const admin = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: PASSWORD };
const [a, b] = await Promise.all([startIdc('a', { env }), startIdc('b', { env })]);
t.teardown(async () => {
  await Promise.all([a.stop(), b.stop()]);
});
const onA = new OciClient({ baseUrl: a.url, username: 'admin', password: PASSWORD });
const onB = new OciClient({ baseUrl: b.url, username: 'admin', password: PASSWORD });
const call = (method: string, path: string, body?: unknown) => api(a.url, method, path, body, admin);

// Replication a → b, deletes included.
const reg = await addRegistry(a.url, 'b', b.url, 'berth', { access_key: 'admin', access_secret: PASSWORD }, admin);
await addPolicy(a.url, { name: 'a-to-b', dest: reg, deletion: true }, admin);
const made = await call('POST', '/projects', { project_name: 'team', metadata: { public: 'false' } });
const projectId = Number(made.headers.get('location')!.split('/').pop());

// 50 tags, one artifact each, pushed in this order (push times increase).
const tags = [...Array.from({ length: 45 }, (_, i) => `v${i}`), 'keep-0', 'keep-1', 'keep-2', 'dev-0', 'dev-1'];
for (const tag of tags) await pushImage(a.url, 'team/app', tag, { client: onA });
await waitFor(async () => ((await onB.listTags('team/app')) ?? []).length === 50, 60_000, 200);
// Pulls in a known order: dev-0, then v3, then v5 (the most recent).
for (const tag of ['dev-0', 'v3', 'v5']) {
  await onA.getManifest('team/app', tag);
  await new Promise((r) => setTimeout(r, 20));
}
await new Promise((r) => setTimeout(r, 6000)); // pull times are stored every 5 s

const expectedKept = [...Array.from({ length: 10 }, (_, i) => `v${35 + i}`), 'v3', 'v5', 'dev-0', 'keep-0', 'keep-1', 'keep-2'].sort();
const expectedGone = tags.filter((x) => !expectedKept.includes(x)).sort();

const policy = {
  algorithm: 'or',
  rules: [
    { disabled: false, action: 'retain', template: 'latestPushedK', params: { latestPushedK: 10 }, tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'v*' }], scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] } },
    { disabled: false, action: 'retain', template: 'latestPulledN', params: { latestPulledN: 3 }, tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**' }], scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] } },
    { disabled: false, action: 'retain', template: 'always', params: {}, tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'keep-*' }], scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: 'app' }] } },
  ],
  trigger: { kind: 'Schedule', settings: { cron: '' } },
  scope: { level: 'project', ref: projectId },
};

async function runAndWait(id: number, dryRun: boolean): Promise<{ execution: any; log: string }> {
  const r = await call('POST', `/retentions/${id}/executions`, { dry_run: dryRun });
  if (r.status !== 201) throw new Error(`run: ${r.status}`);
  const eid = Number(r.headers.get('location')!.split('/').pop());
  const execution = await waitFor(async () => ((await call('GET', `/retentions/${id}/executions`)).body as any[]).find((e) => e.id === eid && e.status !== 'Running'), 60_000, 200);
  const tasks = (await call('GET', `/retentions/${id}/executions/${eid}/tasks`)).body as any[];
  const log = await fetch(`${a.url}/api/v2.0/retentions/${id}/executions/${eid}/tasks/${tasks[0].id}`, { headers: { Authorization: admin } }).then((x) => x.text());
  return { execution: { ...execution, tasks }, log };
}

const tagsIn = (log: string, verb: string) =>
  log
    .split('\n')
    .filter((l) => l.startsWith(verb))
    .flatMap((l) => /tags=\[([^\]]*)\]/.exec(l)![1]!.split(',').filter(Boolean))
    .sort();

t.test('policy CRUD and metadata', async (t) => {
  t.match((await call('GET', '/retentions/metadatas')).body, { templates: [{ rule_template: 'latestPushedK' }, {}, {}, {}, { rule_template: 'always' }] });
  t.equal((await call('POST', '/retentions', { ...policy, rules: [policy.rules[0], policy.rules[0]] })).status, 409, 'two identical rules');
  t.equal((await call('POST', '/retentions', { ...policy, trigger: { kind: 'Schedule', settings: { cron: 'nope' } } })).status, 400, 'a bad cron');
});

t.test('a dry run lists what would go and deletes nothing; the run deletes exactly that, and b follows', async (t) => {
  const created = await call('POST', '/retentions', policy);
  t.equal(created.status, 201);
  const id = Number(created.headers.get('location')!.split('/').pop());
  t.equal((await call('GET', `/projects/${projectId}`)).body.metadata.retention_id, String(id), 'the project names its policy');
  t.equal((await call('GET', `/retentions/${id}`)).body.rules[0].params.latestPushedK, 10);

  const dry = await runAndWait(id, true);
  t.match(dry.execution, { status: 'Success', dry_run: true, tasks: [{ repository: 'team/app', total: 50, retained: 16 }] });
  t.same(tagsIn(dry.log, 'would delete'), expectedGone, 'the dry run names exactly the 34 artifacts the rules do not keep');
  t.same(tagsIn(dry.log, 'retained'), expectedKept);
  t.equal(((await onA.listTags('team/app')) ?? []).length, 50, 'nothing was deleted');

  const real = await runAndWait(id, false);
  t.match(real.execution, { status: 'Success', dry_run: false });
  t.same(tagsIn(real.log, 'deleted'), expectedGone);
  t.same(((await onA.listTags('team/app')) ?? []).sort(), expectedKept, 'a keeps exactly what the rules retain');
  await waitFor(async () => (((await onB.listTags('team/app')) ?? []).sort().join() === expectedKept.join() ? true : undefined), 60_000, 250);
  t.pass('the deletes replicated to b');

  t.equal((await call('DELETE', `/retentions/${id}`)).status, 200);
  t.notOk((await call('GET', `/projects/${projectId}`)).body.metadata.retention_id, 'the project no longer names it');
});

t.test('a scheduled policy fires', async (t) => {
  const created = await call('POST', '/retentions', { ...policy, rules: [policy.rules[2]], trigger: { kind: 'Schedule', settings: { cron: '*/2 * * * * *' } } });
  t.equal(created.status, 201);
  const id = Number(created.headers.get('location')!.split('/').pop());
  const fired = await waitFor(async () => ((await call('GET', `/retentions/${id}/executions`)).body as any[]).find((e) => e.trigger === 'SCHEDULE' && e.status !== 'Running'), 20_000, 250);
  t.equal(fired.status, 'Success');
  await call('DELETE', `/retentions/${id}`);
});
