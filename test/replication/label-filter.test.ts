// Harbor's label filters on replication policies: only tags whose artifact carries (matches) or lacks
// (excludes) the labels travel — for manual runs (planned from tag lists), event-based pushes (from the outbox)
// and pull policies from a Berth source (its artifact API). Real `berth serve` processes with token auth.
import t from 'tap';
import { OciClient } from '../../core/oci-client.js';
import { addPolicy, addRegistry, api, pushImage, retag, startExecution, startIdc, waitExecution, waitFor } from '../helpers/idc.js';

const PASSWORD = 'Label-Admin-1';
const admin = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: PASSWORD };
const credential = { access_key: 'admin', access_secret: PASSWORD };

async function label(on: string, name: string): Promise<number> {
  const r = await api(on, 'POST', '/labels', { name, scope: 'g', color: '#00aa00' }, admin);
  if (r.status !== 201) throw new Error(`label ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return Number(r.headers.get('location')!.split('/').pop());
}

async function attach(on: string, repository: string, digest: string, labelId: number): Promise<void> {
  const [project, ...rest] = repository.split('/');
  const r = await api(on, 'POST', `/projects/${project}/repositories/${encodeURIComponent(rest.join('/'))}/artifacts/${digest}/labels`, { id: labelId }, admin);
  if (r.status !== 200 && r.status !== 201) throw new Error(`attach: ${r.status} ${JSON.stringify(r.body)}`);
}

const tagsAt = async (c: OciClient, repository: string) => ((await c.listTags(repository)) ?? []).sort();

t.test('push policies: a manual run and event-based pushes send only labelled artifacts', async (t) => {
  const [a, b] = await Promise.all([startIdc('a', { env }), startIdc('b', { env })]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const client = new OciClient({ baseUrl: a.url, username: 'admin', password: PASSWORD });
  const onB = new OciClient({ baseUrl: b.url, username: 'admin', password: PASSWORD });
  t.equal((await api(a.url, 'POST', '/projects', { project_name: 'team' }, admin)).status, 201);
  const [v1, v2] = [await pushImage(a.url, 'team/app', 'v1', { client }), await pushImage(a.url, 'team/app', 'v2', { client })];
  await pushImage(a.url, 'team/app', 'v3', { client });
  const [release, wip] = [await label(a.url, 'release'), await label(a.url, 'wip')];
  await attach(a.url, 'team/app', v1.digest, release);
  await attach(a.url, 'team/app', v2.digest, release);
  await attach(a.url, 'team/app', v2.digest, wip);

  const dest = await addRegistry(a.url, 'b', b.url, 'berth', credential, admin);
  const bad = await api(a.url, 'POST', '/replication/policies', { name: 'bad', dest_registry: { id: dest }, filters: [{ type: 'label', value: [] }] }, admin);
  t.equal(bad.status, 400, 'a label filter without names is refused');
  t.match(JSON.stringify(bad.body), /names at least one label/);
  const filters = [
    { type: 'label' as const, value: ['release'] },
    { type: 'label' as const, value: ['wip'], decoration: 'excludes' },
  ];
  const manual = await addPolicy(a.url, { name: 'releases', dest, trigger: 'manual', filters }, admin);
  const shown = (await api(a.url, 'GET', `/replication/policies/${manual}`, undefined, admin)).body;
  t.same(shown.filters, [{ type: 'label', value: ['release'], decoration: 'matches' }, { type: 'label', value: ['wip'], decoration: 'excludes' }], 'the filters read back in Harbor\'s shape');
  const done = await waitExecution(a.url, await startExecution(a.url, manual, admin), 30_000, admin);
  t.equal(done.status, 'Succeed', done.status_text);
  t.same(await tagsAt(onB, 'team/app'), ['v1'], 'only v1 travelled: v2 is labelled wip, v3 carries no release label');

  // Event-based: a new tag on the labelled artifact goes at once; an unlabelled push never does.
  await addPolicy(a.url, { name: 'release-events', dest, trigger: 'event_based', filters: [{ type: 'label', value: 'release' }] }, admin);
  await pushImage(a.url, 'team/app', 'v5-unlabelled', { client });
  await retag(a.url, 'team/app', 'v4', v1, client);
  await waitFor(async () => (await tagsAt(onB, 'team/app')).includes('v4'), 30_000, 200);
  t.same(await tagsAt(onB, 'team/app'), ['v1', 'v4'], 'the retag of the release artifact was pushed, the unlabelled push before it was not');
});

t.test('pull policies read the labels from a Berth source; sources without labels are refused', async (t) => {
  const [a, b] = await Promise.all([startIdc('a', { env }), startIdc('b', { env })]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const onB = new OciClient({ baseUrl: b.url, username: 'admin', password: PASSWORD });
  t.equal((await api(b.url, 'POST', '/projects', { project_name: 'up' }, admin)).status, 201);
  const one = await pushImage(b.url, 'up/tools/cli', 'one', { client: onB });
  await pushImage(b.url, 'up/tools/cli', 'two', { client: onB });
  await attach(b.url, 'up/tools/cli', one.digest, await label(b.url, 'stable'));

  const src = await addRegistry(a.url, 'b', b.url, 'berth', credential, admin);
  const policy = await addPolicy(a.url, { name: 'stable-from-b', src, trigger: 'manual', filters: [{ type: 'label', value: ['stable'] }] }, admin);
  const done = await waitExecution(a.url, await startExecution(a.url, policy, admin), 30_000, admin);
  t.equal(done.status, 'Succeed', done.status_text);
  const onA = new OciClient({ baseUrl: a.url, username: 'admin', password: PASSWORD });
  t.same(await tagsAt(onA, 'up/tools/cli'), ['one'], 'only the stable-labelled tag was pulled (a nested repository name)');

  const dist = await addRegistry(a.url, 'plain', b.url, 'docker-registry', credential, admin);
  const refused = await api(a.url, 'POST', '/replication/policies', { name: 'x', src_registry: { id: dist }, filters: [{ type: 'label', value: ['stable'] }] }, admin);
  t.equal(refused.status, 400, 'a label filter on a pull from a registry without labels is refused');
  t.match(JSON.stringify(refused.body), /label filters need a source that keeps labels/);
});
