// A standard BitTorrent client (Debian's aria2c) downloads a layer from the swarm with the origin's .torrent
// (auth off): our origin seed, our agents' wire and the tracker speak plain BitTorrent.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bencode from 'bencode';
import t from 'tap';
import { freePort, startBerth } from '../helpers/berth-process.js';
import { MiB, fetchDigest, metric, pushImage, startAgentProcess } from './swarm-fixtures.js';

const origin = await startBerth();
t.teardown(() => origin.stop());
const img = await pushImage(origin.url, 'interop/app', 'v1', 16 * MiB);
const hex = img.layer.digest.slice('sha256:'.length);

async function aria2c(torrentFile: string, dir: string): Promise<{ code: number | null; out: string }> {
  const port = await freePort();
  // Flags from P2P-NOTES: no DHT, LPD or PEX (a private swarm), stop once done.
  const args = ['--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--seed-time=0',
    `--listen-port=${port}`, `--dir=${dir}`, '--summary-interval=0', '--console-log-level=warn', '--bt-stop-timeout=60', torrentFile];
  return new Promise((resolve) => {
    const child = spawn('aria2c', args);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

t.test('aria2c downloads a layer with the origin .torrent, from the swarm alone too', async (t) => {
  // An agent that holds the layer and seeds it.
  const agent = await startAgentProcess({ origin: origin.url });
  t.teardown(() => agent.stop());
  t.equal((await fetchDigest(`${agent.url}/v2/${img.repository}/blobs/${img.layer.digest}`)).digest, img.layer.digest);

  const torrent = await fetch(`${origin.url}/p2p/v1/blobs/${img.layer.digest}/torrent?repository=${img.repository}`);
  t.equal(torrent.status, 200);
  t.equal(torrent.headers.get('content-type'), 'application/x-bittorrent');
  const raw = Buffer.from(await torrent.arrayBuffer());

  // As served: aria2c uses the web seed (BEP 19) and the peers the tracker names.
  const dir = await mkdtemp(join(tmpdir(), 'berth-aria2-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'layer.torrent'), raw);
  const r = await aria2c(join(dir, 'layer.torrent'), dir);
  t.equal(r.code, 0, 'aria2c finished', { output: r.out.slice(-3000) });
  t.equal(await sha256File(join(dir, hex)).catch(() => 'missing'), img.layer.digest, 'the layer aria2c wrote is intact');

  // Without the web seed (same infohash): everything over the BitTorrent wire, from our agent and origin seed.
  const doc = bencode.decode(raw) as Record<string, unknown>;
  delete doc['url-list'];
  const swarmOnly = await mkdtemp(join(tmpdir(), 'berth-aria2-'));
  t.teardown(() => rm(swarmOnly, { recursive: true, force: true }));
  await writeFile(join(swarmOnly, 'layer.torrent'), bencode.encode(doc));
  const uploadedBefore = await metric(agent.url, 'berth_agent_bytes_to_peers_total');
  const r2 = await aria2c(join(swarmOnly, 'layer.torrent'), swarmOnly);
  t.equal(r2.code, 0, 'aria2c finished from the swarm', { output: r2.out.slice(-3000) });
  t.equal(await sha256File(join(swarmOnly, hex)).catch(() => 'missing'), img.layer.digest, 'the layer from the swarm is intact');
  const fromAgent = (await metric(agent.url, 'berth_agent_bytes_to_peers_total')) - uploadedBefore;
  t.comment(`aria2c got ${(fromAgent / MiB).toFixed(1)} MiB from the agent, the rest from the origin's seed`);
  t.ok(fromAgent > 0, 'aria2c fetched pieces from the agent over the BitTorrent wire');
});
