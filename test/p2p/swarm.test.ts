// Twenty nodes pull one image at once, each through its own agent with skopeo: every copy is intact and the
// origin sends the layer about once (at most 2 copies), the rest travelling peer to peer.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import t from 'tap';
import { startBerth } from '../helpers/berth-process.js';
import { MiB, metric, pushImage, startAgents } from './swarm-fixtures.js';

const agentsCount = Number(process.env.P2P_TEST_AGENTS ?? 20);
const origin = await startBerth();
t.teardown(() => origin.stop());
const img = await pushImage(origin.url, 'fleet/app', 'v1', 64 * MiB);
const agents = await startAgents(agentsCount, { origin: origin.url });
t.teardown(() => Promise.all(agents.map((a) => a.stop())));

function skopeoCopy(agentPort: number, dest: string): Promise<{ code: number | null; out: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://127.0.0.1:${agentPort}/${img.repository}:${img.tag}`, `dir:${dest}`]);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => resolve({ code, out, ms: Date.now() - started }));
  });
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

t.test(`${agentsCount} agents pull one image with skopeo at once`, async (t) => {
  const before = await metric(origin.url, 'berth_blob_bytes_served_total');
  const dirs = await Promise.all(agents.map(() => mkdtemp(join(tmpdir(), 'berth-p2p-pull-'))));
  t.teardown(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const started = Date.now();
  const results = await Promise.all(agents.map((a, i) => skopeoCopy(a.port, dirs[i]!)));
  const wall = Date.now() - started;

  for (const [i, r] of results.entries()) {
    t.equal(r.code, 0, `skopeo through agent ${i} succeeded`, { output: r.out.slice(-2000) });
    const layerFile = join(dirs[i]!, img.layer.digest.slice('sha256:'.length));
    t.equal(await sha256File(layerFile).catch(() => 'missing'), img.layer.digest, `agent ${i}: the layer is intact`);
  }
  const served = (await metric(origin.url, 'berth_blob_bytes_served_total')) - before;
  const copies = served / img.layer.size;
  const times = results.map((r) => r.ms).sort((a, b) => a - b);
  t.comment(`wall ${wall} ms; per pull p50 ${times[Math.floor(times.length / 2)]} ms, max ${times[times.length - 1]} ms; origin sent ${copies.toFixed(2)} layer copies`);
  t.ok(copies <= 2, `the origin sent at most 2 copies of the layer (${copies.toFixed(2)})`);

  let fromPeers = 0;
  for (const a of agents) fromPeers += await metric(a.url, 'berth_agent_bytes_from_peers_total');
  t.ok(fromPeers >= (agentsCount - 2) * img.layer.size, 'most of the layer travelled between peers');
  t.same(
    (await readdir(dirs[0]!)).sort(),
    [img.config.digest.slice(7), img.layer.digest.slice(7), 'manifest.json', 'version'].sort(),
    'skopeo wrote the whole image',
  );
});
