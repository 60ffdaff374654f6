import t from 'tap';
import { addPolicy, addRegistry, api, deleteTag, digestOfTag, pushImage, startDockerRegistry, startExecution, startIdc, tagMap, waitExecution, waitFor } from '../helpers/idc.js';

t.test('CNCF distribution (docker-registry): pull from it, push to it, deletes included', async (t) => {
  const [a, dr] = await Promise.all([startIdc('a'), startDockerRegistry()]);
  t.teardown(async () => {
    await Promise.all([a.stop(), dr.stop()]);
  });
  const reg = await addRegistry(a.url, 'distribution', dr.url, 'docker-registry');
  t.equal((await api(a.url, 'POST', '/registries/ping', { id: reg })).status, 200, 'ping');
  t.equal((await api(a.url, 'POST', '/registries/ping', { type: 'docker-registry', url: 'http://127.0.0.1:1' })).status, 400, 'an unreachable registry fails ping');

  // Pull-based: a manual execution copies what the filters select, renamed by dest_namespace.
  const app = await pushImage(dr.url, 'lib/app', 'v1', { layers: 2 });
  const app2 = await pushImage(dr.url, 'lib/app', 'v2');
  await pushImage(dr.url, 'lib/app', 'dev');
  await pushImage(dr.url, 'other/thing', 'v1');
  const pull = await addPolicy(a.url, {
    name: 'from-distribution',
    src: reg,
    trigger: 'manual',
    filters: [
      { type: 'name', value: 'lib/**' },
      { type: 'tag', value: 'v*' },
    ],
    dest_namespace: 'mirror',
  });
  const exec = await waitExecution(a.url, await startExecution(a.url, pull));
  t.match(exec, { status: 'Succeed', total: 2, succeed: 2, failed: 0 }, 'the execution counts its tasks');
  t.same([...(await tagMap(a.url, ['mirror/app']))], [
    ['mirror/app:v1', app.digest],
    ['mirror/app:v2', app2.digest],
  ]);
  t.equal(await digestOfTag(a.url, 'other/thing', 'v1'), undefined, 'filters hold');
  const again = await waitExecution(a.url, await startExecution(a.url, pull));
  t.match(again, { status: 'Succeed', total: 0 }, 'a second run finds nothing to do');

  // Scheduled pull: a new tag upstream shows up on the next tick.
  const pulled = await addPolicy(a.url, { name: 'scheduled', src: reg, trigger: 'scheduled', cron: '*/2 * * * * *', filters: [{ type: 'name', value: 'lib/app' }] });
  const v3 = await pushImage(dr.url, 'lib/app', 'v3');
  await waitFor(async () => (await digestOfTag(a.url, 'lib/app', 'v3')) === v3.digest, 15_000, 200);
  t.pass('the scheduled policy pulled the new tag');
  const scheduled = (await api(a.url, 'GET', `/replication/executions?policy_id=${pulled}&trigger=scheduled`)).body as any[];
  t.ok(scheduled.length >= 1, 'its executions are marked scheduled');
  await api(a.url, 'PUT', `/replication/policies/${pulled}`, { name: 'scheduled', src_registry: { id: reg }, trigger: { type: 'manual' }, enabled: false });

  // Push-based to distribution, deletes included (it deletes manifests by digest only).
  await addPolicy(a.url, { name: 'to-distribution', dest: reg, filters: [{ type: 'name', value: 'team/**' }] });
  const mine = await pushImage(a.url, 'team/svc', 'v1', { layers: 2 });
  const mine2 = await pushImage(a.url, 'team/svc', 'v2');
  await waitFor(async () => (await digestOfTag(dr.url, 'team/svc', 'v1')) === mine.digest && (await digestOfTag(dr.url, 'team/svc', 'v2')) === mine2.digest);
  t.pass('pushes reach distribution');
  t.ok(await deleteTag(a.url, 'team/svc', 'v1'));
  await waitFor(async () => (await digestOfTag(dr.url, 'team/svc', 'v1')) === undefined);
  t.equal(await digestOfTag(dr.url, 'team/svc', 'v2'), mine2.digest, 'the other tag stays');
  t.pass('a delete reaches distribution');
});
