// Harbor's preheat API driving Berth's own P2P: the built-in `berth` provider instance, a project's preheat
// policy (repository and tag filters), a manual run whose tasks succeed once a real seed agent (`berth agent`,
// role seed) reports it holds every blob — and the blob is in that agent's cache —, an event-based policy that
// runs on a push, a scheduled one that fires, and what Berth refuses (other vendors, unsupported filters).
import t from 'tap';
import { image } from '../helpers/oci-fixtures.js';
import { waitFor } from '../helpers/idc.js';
import { admin, AdminApi, bearer, pushImage, startTokenBerth, token } from '../auth/access.js';
import { MiB, startAgentProcess } from './swarm-fixtures.js';

const berth = await startTokenBerth(t);
const root = new AdminApi(berth.url, admin);
await root.createProject('hot', false);
const seed = await startAgentProcess({ origin: berth.url, env: { BERTH_AGENT_ROLE: 'seed', BERTH_AGENT_USERNAME: admin.username, BERTH_AGENT_PASSWORD: admin.password } });
t.teardown(() => seed.stop());

async function push(repo: string, tag: string) {
  const img = image({ layers: 1, layerSize: 3 * MiB });
  const status = await pushImage(berth.url, repo, tag, bearer(await token(berth.url, admin, [`repository:${repo}:pull,push`])), img);
  if (status !== 201) throw new Error(`push ${repo}:${tag}: ${status}`);
  return img;
}

async function seedHas(digest: string): Promise<boolean> {
  const status = (await (await fetch(`${seed.url}/p2p/status`)).json()) as { cache: { blobs: { digest: string }[] } };
  return status.cache.blobs.some((b) => b.digest === digest);
}

const policies = '/projects/hot/preheat/policies';
const execution = async (policy: string, id: number) => (await root.get(`${policies}/${policy}/executions/${id}`)).json;

t.test('providers and instances: Berth is the one provider, and its instance is built in', async (t) => {
  t.same((await root.get('/p2p/preheat/providers')).json.map((p: any) => p.id), ['berth']);
  const instances = await root.get('/p2p/preheat/instances');
  t.match(instances.json, [{ name: 'berth', vendor: 'berth', enabled: true, default: true, status: 'Healthy' }]);
  const df = await root.post('/p2p/preheat/instances', { name: 'df', vendor: 'dragonfly', endpoint: 'http://127.0.0.1:1' });
  t.match(df, { status: 400, json: { errors: [{ message: /dragonfly is not supported/ }] } });
  t.equal((await root.post('/p2p/preheat/instances', { name: 'second', vendor: 'berth' })).status, 201);
  t.equal((await root.put('/p2p/preheat/instances/second', { enabled: false })).status, 200);
  t.equal((await root.get('/p2p/preheat/instances/second')).json.enabled, false);
  t.equal((await root.del('/p2p/preheat/instances/berth')).status, 412, 'the built-in one stays');
  t.equal((await root.del('/p2p/preheat/instances/second')).status, 200);
  t.match((await root.get('/projects/hot/preheat/providers')).json, [{ provider: /^berth:/, enabled: true, default: true }]);
  t.equal((await root.post('/p2p/preheat/instances/ping', { vendor: 'berth' })).status, 200);
});

t.test('a manual run: seed agents fetch what the filters select, tasks follow their reports', async (t) => {
  const v1 = await push('hot/app', 'v1');
  await push('hot/app', 'dev');
  await push('hot/other', 'v1');
  const bad = await root.post(policies, { name: 'x', filters: JSON.stringify([{ type: 'label', value: 'prod' }]), trigger: JSON.stringify({ type: 'manual' }) });
  t.match(bad, { status: 400, json: { errors: [{ message: /label filters are not supported/ }] } });

  const made = await root.post(policies, {
    name: 'app-releases',
    filters: JSON.stringify([
      { type: 'repository', value: 'app' },
      { type: 'tag', value: 'v*' },
      { type: 'label', value: '' },
    ]),
    trigger: JSON.stringify({ type: 'manual', trigger_setting: { cron: '' } }),
    enabled: true,
  });
  t.equal(made.status, 201, made.text);
  const got = (await root.get(`${policies}/app-releases`)).json;
  t.match(got, { name: 'app-releases', provider_name: 'berth', enabled: true });
  t.same(JSON.parse(got.filters)[1], { type: 'tag', value: 'v*' }, 'filters read back as Harbor’s JSON string');

  const run = await root.post(`${policies}/app-releases`);
  t.equal(run.status, 201);
  const id = Number(run.headers.get('location')!.split('/').pop());
  const done = await waitFor(async () => {
    const e = await execution('app-releases', id);
    return e.status !== 'Running' && e;
  }, 60_000, 250);
  t.match(done, { status: 'Success', trigger: 'MANUAL', vendor_type: 'P2P_PREHEAT', metrics: { task_count: 1, success_task_count: 1 } });
  t.ok(await seedHas(v1.blobs[1]!.digest), 'the seed agent holds the layer');
  const tasks = (await root.get(`${policies}/app-releases/executions/${id}/tasks`)).json;
  t.match(tasks, [{ status: 'Success', extra_attrs: { artifact: 'hot/app:v1', digest: v1.manifest.digest } }], 'only hot/app:v1 matched');
  const log = await root.get(`${policies}/app-releases/executions/${id}/tasks/${tasks[0].id}/logs`);
  t.match(log.text, /seed agent [0-9a-f]+: 2 of 2 blobs held, 0 failed/);
});

t.test('an event-based policy runs on a push; a scheduled one fires', async (t) => {
  t.equal((await root.post(policies, { name: 'on-push', filters: JSON.stringify([{ type: 'repository', value: 'web' }]), trigger: JSON.stringify({ type: 'event_based' }) })).status, 201);
  await new Promise((r) => setTimeout(r, 2500)); // the trigger finds the end of the outbox first
  const web = await push('hot/web', 'v7');
  await push('hot/app', 'v9'); // not this policy's repository
  const executions = await waitFor(async () => {
    const list = (await root.get(`${policies}/on-push/executions`)).json as any[];
    return list.length > 0 && list[0].status === 'Success' && list;
  }, 60_000, 250);
  t.equal(executions.length, 1, 'one execution, for the matching push');
  t.equal(executions[0].trigger, 'EVENT');
  t.ok(await seedHas(web.blobs[1]!.digest), 'the pushed layer is on the seed agent');

  t.equal((await root.post(policies, { name: 'nightly', trigger: JSON.stringify({ type: 'scheduled', trigger_setting: { cron: 'not a cron' } }) })).status, 400);
  t.equal((await root.post(policies, { name: 'nightly', filters: '[]', trigger: JSON.stringify({ type: 'scheduled', trigger_setting: { cron: '*/2 * * * * *' } }) })).status, 201);
  const scheduled = await waitFor(async () => ((await root.get(`${policies}/nightly/executions`)).json as any[]).find((e) => e.trigger === 'SCHEDULE'), 20_000, 250);
  t.ok(scheduled, 'the cron ran the policy');
  t.equal((await root.put(`${policies}/nightly`, { name: 'nightly', enabled: false, trigger: JSON.stringify({ type: 'scheduled', trigger_setting: { cron: '*/2 * * * * *' } }) })).status, 200);
  t.equal((await root.del(`${policies}/nightly`)).status, 200);
  t.equal((await root.get(`${policies}/nightly`)).status, 404);
});

t.test('stopping an execution, and who may do what', async (t) => {
  // No seed agent knows this project's new policy yet: the execution stays Running until stopped.
  await seed.stop();
  t.equal((await root.post(policies, { name: 'stop-me', filters: JSON.stringify([{ type: 'repository', value: 'app' }]) })).status, 201);
  const run = await root.post(`${policies}/stop-me`);
  const id = Number(run.headers.get('location')!.split('/').pop());
  t.equal((await execution('stop-me', id)).status, 'Running', 'no seed has reported');
  t.equal((await root.call('PATCH', `${policies}/stop-me/executions/${id}`, { status: 'Stopped' })).status, 200);
  t.equal((await execution('stop-me', id)).status, 'Stopped');

  await root.createUser('guest1', 'Guest12345');
  await root.addMember('hot', 'guest1', 3);
  const guest = new AdminApi(berth.url, { username: 'guest1', password: 'Guest12345' });
  t.equal((await guest.get(policies)).status, 200, 'a guest reads');
  t.equal((await guest.post(`${policies}/stop-me`)).status, 403, 'a guest cannot run');
  t.equal((await guest.get('/p2p/preheat/instances')).status, 403, 'instances are for system admins');
});
