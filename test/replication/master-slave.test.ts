import t from 'tap';
import { addPolicy, addRegistry, api, deleteTag, digestOfTag, pushImage, retag, startIdc, tagMap, waitFor } from '../helpers/idc.js';

t.test('master-slave: pushes, tag moves and deletes on the master reach the slave; the API shows the work', async (t) => {
  const a = await startIdc('a');
  const b = await startIdc('b');
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  // Pushed before any policy existed: no event will carry it; anti-entropy must.
  const before = await pushImage(a.url, 'team/old', 'v0');
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

  await waitFor(async () => (await digestOfTag(b.url, 'team/old', 'v0')) === before.digest, 15_000, 100);
  const repairs = await api(a.url, 'GET', `/replication/executions?policy_id=${policy}&trigger=reconcile`);
  t.ok(repairs.body.length >= 1, 'anti-entropy copied what no event carried, in a reconcile execution');
  const executions = await api(a.url, 'GET', `/replication/executions?policy_id=${policy}&trigger=event_based`);
  t.equal(executions.status, 200);
  t.ok(Number(executions.headers.get('x-total-count')) >= 1, 'executions are listed');
  const ex = executions.body[executions.body.length - 1];
  const tasks = await api(a.url, 'GET', `/replication/executions/${ex.id}/tasks`);
  t.ok(tasks.body.length >= 1, 'with their tasks');
  t.match(tasks.body[0], { operation: 'copy', src_resource: 'team/app:v1', dst_resource: 'team/app:v1', status: 'Succeed' });
  t.ok(tasks.body[0].bytes > 0, 'bytes are counted');

  const metrics = await waitFor(async () => {
    const text = await (await fetch(`${a.url}/metrics`)).text();
    return /berth_replication_queue_depth\{policy="a-to-b"\} 0/.test(text) && text;
  });
  t.match(metrics, /berth_replication_lag_seconds_count\{policy="a-to-b"\} [1-9]/, 'lag is measured');
  t.match(metrics, /berth_replication_bytes_total\{policy="a-to-b"\} [1-9]/, 'bytes are counted in metrics');
  t.match(metrics, /berth_replication_queue_depth\{policy="a-to-b"\} 0/, 'the queue is empty');

  // Bad input answers Harbor-shaped errors.
  const err = async (method: string, path: string, body?: unknown) => {
    const r = await api(a.url, method, path, body);
    return [r.status, r.body?.errors?.[0]?.code];
  };
  t.same(await err('POST', '/registries', { name: 'idc-b', url: b.url, type: 'berth' }), [409, 'CONFLICT'], 'duplicate registry name');
  t.same(await err('POST', '/registries', { name: 'x', url: 'ftp://x', type: 'berth' }), [400, 'BAD_REQUEST'], 'not an http URL');
  t.same(await err('POST', '/registries', { name: 'x', url: b.url, type: 'quay' }), [400, 'BAD_REQUEST'], 'unknown type');
  t.same(await err('DELETE', `/registries/${reg}`), [412, 'PRECONDITION'], 'a registry in use stays');
  t.same(await err('GET', '/registries/9999'), [404, 'NOT_FOUND']);
  const policyBody = { name: 'p2', dest_registry: { id: reg }, trigger: { type: 'manual' } };
  t.same(await err('POST', '/replication/policies', { ...policyBody, src_registry: { id: reg } }), [400, 'BAD_REQUEST'], 'push and pull at once');
  t.same(await err('POST', '/replication/policies', { ...policyBody, trigger: { type: 'scheduled', trigger_settings: { cron: 'every day' } } }), [400, 'BAD_REQUEST'], 'a bad cron');
  t.same(await err('POST', '/replication/policies', { name: 'p3', src_registry: { id: reg }, trigger: { type: 'event_based' } }), [400, 'BAD_REQUEST'], 'event-based pull');
  t.same(await err('POST', '/replication/policies', { ...policyBody, dest_registry: { id: 4242 } }), [400, 'BAD_REQUEST'], 'an unknown registry');
  t.same(await err('POST', '/replication/executions', { policy_id: 4242 }), [404, 'NOT_FOUND'], 'an unknown policy');
  const got = await api(a.url, 'GET', `/replication/policies/${policy}`);
  t.match(got.body, { id: policy, name: 'a-to-b', dest_registry: { id: reg, name: 'idc-b' }, src_registry: { id: 0 }, trigger: { type: 'event_based' }, replicate_deletion: true });
});
