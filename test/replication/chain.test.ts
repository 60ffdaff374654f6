import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { addPolicy, addRegistry, api, deleteTag, digestOfTag, pushImage, startIdc, waitFor } from '../helpers/idc.js';

t.test('hierarchical a → b → c: replicated writes are forwarded by the next hop, never back to where they came from', async (t) => {
  const [a, b, c] = await Promise.all([startIdc('a'), startIdc('b'), startIdc('c')]);
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });
  await addPolicy(a.url, { name: 'a-to-b', dest: await addRegistry(a.url, 'b', b.url) });
  const bToA = await addPolicy(b.url, { name: 'b-to-a', dest: await addRegistry(b.url, 'a', a.url) });
  await addPolicy(b.url, { name: 'b-to-c', dest: await addRegistry(b.url, 'c', c.url) });

  const img = await pushImage(a.url, 'tree/app', 'v1', { layers: 2 });
  await waitFor(async () => (await digestOfTag(c.url, 'tree/app', 'v1')) === img.digest);
  t.pass('a write in a reaches c through b');

  t.ok(await deleteTag(a.url, 'tree/app', 'v1'));
  await waitFor(async () => (await digestOfTag(c.url, 'tree/app', 'v1')) === undefined);
  t.equal(await digestOfTag(b.url, 'tree/app', 'v1'), undefined, 'the delete went through b too');
  t.pass('a delete in a reaches c');

  // b's own push toward a never carried a's writes back.
  await sleep(500);
  const executions = (await api(b.url, 'GET', `/replication/executions?policy_id=${bToA}&page_size=100`)).body as any[];
  let tasks = 0;
  for (const e of executions) {
    if (e.trigger === 'reconcile') continue;
    tasks += ((await api(b.url, 'GET', `/replication/executions/${e.id}/tasks`)).body as any[]).length;
  }
  t.equal(tasks, 0, 'b → a made no task for writes that came from a');

  // A write made in b goes both ways: up to a and down to c.
  const fromB = await pushImage(b.url, 'tree/app', 'b1');
  await waitFor(async () => (await digestOfTag(a.url, 'tree/app', 'b1')) === fromB.digest && (await digestOfTag(c.url, 'tree/app', 'b1')) === fromB.digest);
  t.pass('a write in b reaches a and c');
});
