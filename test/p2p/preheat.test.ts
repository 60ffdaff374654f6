// Preheat: the origin asks seed agents to fetch an image ahead of demand; nodes then pull it from the seeds
// while the origin stays quiet. Also the push-event policy (p2p_preheat_on_push).
import t from 'tap';
import { startBerth } from '../helpers/berth-process.js';
import { MiB, fetchDigest, metric, pushImage, startAgentProcess, type AgentProcess } from './swarm-fixtures.js';

async function cached(agent: AgentProcess, digest: string, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = (await (await fetch(`${agent.url}/p2p/status`)).json()) as { cache: { blobs: { digest: string }[] } };
    if (status.cache.blobs.some((b) => b.digest === digest)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

t.test('POST /api/v2.0/berth/p2p/preheat: seed agents fetch the image, nodes then pull from them', async (t) => {
  const origin = await startBerth();
  t.teardown(() => origin.stop());
  const img = await pushImage(origin.url, 'hot/app', 'v1', 16 * MiB);
  const seed = await startAgentProcess({ origin: origin.url, env: { BERTH_AGENT_ROLE: 'seed' } });
  t.teardown(() => seed.stop());
  const served = () => metric(origin.url, 'berth_blob_bytes_served_total');
  const before = await served();

  const r = await fetch(`${origin.url}/api/v2.0/berth/p2p/preheat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repository: img.repository, tag: img.tag }) });
  t.equal(r.status, 201);
  const task = (await r.json()) as { manifest: string; blobs: { digest: string; size: number }[] };
  t.equal(task.manifest, img.manifest);
  t.same(task.blobs.map((b) => b.digest).sort(), [img.config.digest, img.layer.digest].sort(), 'the task lists the config and the layer');
  t.ok(await cached(seed, img.layer.digest), 'the seed agent fetched the layer before anyone asked');
  const afterPreheat = (await served()) - before;
  t.ok(afterPreheat <= 1.1 * img.layer.size, `preheating cost the origin one copy (${(afterPreheat / img.layer.size).toFixed(2)})`);

  const nodes = await Promise.all([0, 1, 2].map(() => startAgentProcess({ origin: origin.url })));
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())));
  const results = await Promise.all(nodes.map((n) => fetchDigest(`${n.url}/v2/${img.repository}/blobs/${img.layer.digest}`)));
  for (const x of results) t.same(x, { status: 200, digest: img.layer.digest, bytes: img.layer.size });
  const forNodes = (await served()) - before - afterPreheat;
  t.ok(forNodes < 0.25 * img.layer.size, `the nodes pulled from the seed: the origin sent ${(forNodes / img.layer.size).toFixed(2)} copies more`);
  t.ok((await metric(seed.url, 'berth_agent_bytes_to_peers_total')) > 0, 'the seed agent uploaded to the nodes');

  const unknown = await fetch(`${origin.url}/api/v2.0/berth/p2p/preheat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repository: img.repository, tag: 'nope' }) });
  t.equal(unknown.status, 404, 'an unknown tag is refused');
  await unknown.arrayBuffer();
});

t.test('the push-event policy preheats what is pushed to matching repositories', async (t) => {
  const origin = await startBerth({ env: { BERTH_P2P_PREHEAT_ON_PUSH: 'hot/*' } });
  t.teardown(() => origin.stop());
  const seed = await startAgentProcess({ origin: origin.url, env: { BERTH_AGENT_ROLE: 'seed' } });
  t.teardown(() => seed.stop());
  // Let the policy find the end of the outbox before the pushes.
  await new Promise((r) => setTimeout(r, 2500));
  const hot = await pushImage(origin.url, 'hot/web', 'v2', 4 * MiB);
  const cold = await pushImage(origin.url, 'cold/web', 'v2', 4 * MiB);
  t.ok(await cached(seed, hot.layer.digest), 'a push to hot/* was preheated');
  await new Promise((r) => setTimeout(r, 2000));
  t.notOk(await cached(seed, cold.layer.digest, 100), 'a push elsewhere was not');
});
