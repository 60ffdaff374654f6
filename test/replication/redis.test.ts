import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addPolicy, addRegistry, api, deleteTag, digestOfTag, pushImage, startIdc, waitFor } from '../helpers/idc.js';
import { startRedis } from '../helpers/redis-server.js';

t.test('two instances of one IDC sharing a Redis MetaStore: one engine replicates what either receives', async (t) => {
  const redis = await startRedis();
  const shared = await mkdtemp(join(tmpdir(), 'berth-idc-a-'));
  const env = {
    BERTH_META: 'redis',
    BERTH_REDIS_URL: redis.url,
    BERTH_REPLICATION_KEY: 'one key for every instance of a',
    BERTH_LOG_LEVEL: 'info',
  };
  const a1 = await startIdc('a', { env, dataDir: shared });
  const a2 = await startIdc('a', { env, dataDir: shared });
  const b = await startIdc('b');
  t.teardown(async () => {
    await Promise.all([a1.stop(), a2.stop(), b.stop()]);
    await redis.stop();
    await rm(shared, { recursive: true, force: true });
  });

  const reg = await addRegistry(a1.url, 'b', b.url);
  const policy = await addPolicy(a1.url, { name: 'a-to-b', dest: reg });
  t.equal((await api(a2.url, 'GET', `/replication/policies/${policy}`)).body.name, 'a-to-b', 'the other instance serves the same policy');

  const one = await pushImage(a2.url, 'shared/app', 'v1');
  const two = await pushImage(a1.url, 'shared/app', 'v2');
  await waitFor(async () => (await digestOfTag(b.url, 'shared/app', 'v1')) === one.digest && (await digestOfTag(b.url, 'shared/app', 'v2')) === two.digest);
  t.pass('pushes through either instance reach b');
  t.ok(await deleteTag(a2.url, 'shared/app', 'v1'));
  await waitFor(async () => (await digestOfTag(b.url, 'shared/app', 'v1')) === undefined);
  t.pass('and so do deletes');

  const active = [a1, a2].filter((x) => x.output().includes('replicator active'));
  t.equal(active.length, 1, 'one engine is active for the IDC');
  // Both instances read the same (sealed) registry credential record and executions.
  const executions = (await api(a2.url, 'GET', `/replication/executions?policy_id=${policy}`)).body as any[];
  t.ok(executions.length >= 1, 'executions are shared');
  let copies = 0;
  for (const e of executions) {
    for (const task of (await api(a1.url, 'GET', `/replication/executions/${e.id}/tasks`)).body as any[]) if (task.operation === 'copy' && task.tag === 'v1') copies++;
  }
  t.equal(copies, 1, 'the push was replicated once, not once per instance');
});
