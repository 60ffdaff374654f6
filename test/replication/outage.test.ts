import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LinkProxy, addPolicy, addRegistry, api, deleteTag, digestOfTag, pushImage, startIdc, tagMap, waitFor } from '../helpers/idc.js';

const MiB = 1024 * 1024;

async function tasksOf(base: string, policy: number): Promise<any[]> {
  const out: any[] = [];
  for (const e of (await api(base, 'GET', `/replication/executions?policy_id=${policy}&page_size=100`)).body as any[]) {
    out.push(...((await api(base, 'GET', `/replication/executions/${e.id}/tasks?page_size=100`)).body as any[]));
  }
  return out;
}

t.test('an IDC stopped during pushes gets everything it missed once it is back', async (t) => {
  const dataB = await mkdtemp(join(tmpdir(), 'berth-idc-b-'));
  const a = await startIdc('a');
  let b = await startIdc('b', { dataDir: dataB });
  const portB = b.port;
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await rm(dataB, { recursive: true, force: true });
  });
  await addPolicy(a.url, { name: 'a-to-b', dest: await addRegistry(a.url, 'b', b.url) });
  const early = await pushImage(a.url, 'out/app', 'early');
  await waitFor(async () => (await digestOfTag(b.url, 'out/app', 'early')) === early.digest);

  await b.stop();
  for (let i = 0; i < 8; i++) await pushImage(a.url, `out/app${i % 2}`, `t${i}`, { layers: 2 });
  t.ok(await deleteTag(a.url, 'out/app', 'early'), 'a delete while b is down');
  await sleep(1500);

  const back = Date.now();
  b = await startIdc('b', { dataDir: dataB, port: portB });
  t.comment(`b restarted in ${Date.now() - back} ms`);
  const repos = ['out/app', 'out/app0', 'out/app1'];
  const want = await tagMap(a.url, repos);
  await waitFor(async () => JSON.stringify([...(await tagMap(b.url, repos))]) === JSON.stringify([...want]), 30_000, 200);
  const took = Date.now() - back;
  t.pass(`b caught up ${took} ms after it was back`);
  t.ok(took < 15_000, 'within seconds');
  t.equal(await digestOfTag(b.url, 'out/app', 'early'), undefined, 'the delete made while it was down arrived too');
});

t.test('a transfer cut mid-blob resumes from the destination offset; a hung peer fails the task, which is retried', async (t) => {
  const a = await startIdc('a', { env: { BERTH_REPLICATION_CHUNK_MB: '4', BERTH_REPLICATION_IDLE_TIMEOUT_SECONDS: '2' } });
  const b = await startIdc('b');
  const link = await new LinkProxy(b.port).listen();
  t.teardown(async () => {
    await link.close();
    await Promise.all([a.stop(), b.stop()]);
  });
  const policy = await addPolicy(a.url, { name: 'a-to-b', dest: await addRegistry(a.url, 'b', link.url) });

  const startBytes = link.upstreamBytes;
  link.cutAfterBytes(10 * MiB);
  const big = await pushImage(a.url, 'big/app', 'v1', { layerSize: 20 * MiB });
  await waitFor(async () => (await digestOfTag(b.url, 'big/app', 'v1')) === big.digest, 30_000, 100);
  const [task] = await waitFor(async () => {
    const found = (await tasksOf(a.url, policy)).filter((x) => x.dst_resource === 'big/app:v1' && x.status !== 'InProgress');
    return found.length > 0 && found;
  });
  const sent = link.upstreamBytes - startBytes;
  t.ok(sent < 26 * MiB, `resumed rather than restarted: ${(sent / MiB).toFixed(1)} MiB sent for a 20 MiB layer`);
  t.equal(task.status, 'Succeed');
  t.equal(task.attempts, 1, 'the resume happened inside the task, not by a retry from zero');

  // A peer that accepts connections and then answers nothing: the task times out instead of hanging.
  link.stall();
  const hung = await pushImage(a.url, 'big/app', 'v2', { layerSize: 2 * MiB });
  const timedOut = await waitFor(async () => (await tasksOf(a.url, policy)).find((x) => x.dst_resource === 'big/app:v2' && /timed out/.test(x.error)), 20_000, 200);
  t.ok(timedOut, `the hung transfer failed with "${timedOut.error}" and waits for a retry`);
  link.heal();
  await waitFor(async () => (await digestOfTag(b.url, 'big/app', 'v2')) === hung.digest, 30_000, 100);
  t.pass('the retry delivered it once the peer answered again');
});

t.test('stopping an execution stops its transfers at once', async (t) => {
  const a = await startIdc('a');
  const b = await startIdc('b');
  const link = await new LinkProxy(b.port).listen();
  t.teardown(async () => {
    await link.close();
    await Promise.all([a.stop(), b.stop()]);
  });
  await pushImage(a.url, 'slow/app', 'v1', { layerSize: 24 * MiB });
  // 2 MiB/s: the layer takes ~12 s, long enough to stop it in the middle.
  const policy = await addPolicy(a.url, { name: 'slow', dest: await addRegistry(a.url, 'b', link.url), trigger: 'manual', speed: 2048 });
  const exec = Number(
    (await api(a.url, 'POST', '/replication/executions', { policy_id: policy })).headers
      .get('location')!
      .split('/')
      .pop(),
  );
  await waitFor(async () => ((await api(a.url, 'GET', `/replication/executions/${exec}/tasks`)).body as any[]).some((x) => x.bytes > 2 * MiB), 20_000, 100);
  const stopAsked = Date.now();
  t.equal((await api(a.url, 'PUT', `/replication/executions/${exec}`)).status, 200);
  const done = await waitFor(async () => {
    const e = (await api(a.url, 'GET', `/replication/executions/${exec}`)).body;
    return e.status !== 'InProgress' && e;
  }, 10_000, 50);
  t.equal(done.status, 'Stopped', 'the execution is Stopped');
  t.equal(done.stopped, 1, 'with its task counted as stopped');
  t.ok(Date.now() - stopAsked < 3000, 'promptly');
  const bytesAtStop = link.upstreamBytes;
  await sleep(1500);
  t.ok(link.upstreamBytes - bytesAtStop < 256 * 1024, 'no more bytes go to the destination');
  const [task] = (await api(a.url, 'GET', `/replication/executions/${exec}/tasks`)).body as any[];
  t.equal(task.status, 'Stopped');
  t.ok(task.bytes < 20 * MiB, `the transfer was cut short (${(task.bytes / MiB).toFixed(1)} MiB of 24)`);
  t.equal(await digestOfTag(b.url, 'slow/app', 'v1'), undefined, 'nothing half-copied is visible');
});
