import t from 'tap';
import { addPolicy, addRegistry, api, deleteTag, digestOfTag, pushImage, retag, startIdc, tagMap, waitFor } from './idc.js';

t.test('master-slave: pushes, tag moves and deletes on the master reach the slave; the API shows the work', async (t) => {
  const a = await startIdc('a');
  const b = await startIdc('b');
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  const reg = await addRegistry(a.url, 'idc-b', b.url);
  const registry = await api(a.url, 'GET', `/registries/${reg}`);
  t.equal(registry.body.idc, 'b', 'the peer told its IDC');
  t.equal(registry.body.credential.access_secret, '', 'no secret shown');
  const policy = await addPolicy(a.url, { name: 'a-to-b', dest: reg, filters: [{ type: 'name', value: 'team/**' }] });

  const one = await pushImage(a.url, 'team/app', 'v1', { layers: 2 });
  const other = await pushImage(a.url, 'other/app', 'v1');
  await waitFor(async () => (await digestOfTag(b.url, 'team/app', 'v1')) === one.digest);
  t.pass('a pushed tag arrives');

  // A tag move: v1 now names another image; the slave follows.
  const two = await pushImage(a.url, 'team/app', 'v2');
  await retag(a.url, 'team/app', 'v1', two);
  await waitFor(async () => (await digestOfTag(b.url, 'team/app', 'v1')) === two.digest);
  t.pass('a moved tag follows');

  t.ok(await deleteTag(a.url, 'team/app', 'v2'));
  await waitFor(async () => (await digestOfTag(b.url, 'team/app', 'v2')) === undefined);
  t.pass('a deleted tag is deleted');
  t.same([...(await tagMap(b.url, ['team/app'])).entries()], [['team/app:v1', two.digest]]);
  t.equal(await digestOfTag(b.url, 'other/app', 'v1'), undefined, 'the name filter kept other/app home');
  t.ok(other.digest);

  const executions = await api(a.url, 'GET', `/replication/executions?policy_id=${policy}`);
  t.equal(executions.status, 200);
  t.ok(Number(executions.headers.get('x-total-count')) >= 1, 'executions are listed');
  const ex = executions.body[executions.body.length - 1];
  const tasks = await api(a.url, 'GET', `/replication/executions/${ex.id}/tasks`);
  t.ok(tasks.body.length >= 1, 'with their tasks');
  t.match(tasks.body[0], { operation: 'copy', src_resource: 'team/app:v1', dst_resource: 'team/app:v1', status: 'Succeed' });
  t.ok(tasks.body[0].bytes > 0, 'bytes are counted');

  const metrics = await (await fetch(`${a.url}/metrics`)).text();
  t.match(metrics, /berth_replication_lag_seconds_count\{policy="a-to-b"\} [1-9]/, 'lag is measured');
  t.match(metrics, /berth_replication_bytes_total\{policy="a-to-b"\} [1-9]/, 'bytes are counted in metrics');
  t.match(metrics, /berth_replication_queue_depth\{policy="a-to-b"\} 0/, 'the queue is empty');
});
