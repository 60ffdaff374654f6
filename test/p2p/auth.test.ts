// The private swarm: with token auth on, every path to a blob's bytes is gated — through the agent (its cache
// included), the .torrent, the tracker (signed ticket) and the web seed (signed URL).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseTorrent } from '../../p2p-agent/torrent.js';
import { startBerth } from '../helpers/berth-process.js';
import { MiB, fetchDigest, pushImage, startAgentProcess } from './swarm-fixtures.js';

const password = 'Berth-p2p-1';
const admin = { username: 'admin', password };
const basic = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
const origin = await startBerth({ env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: password } });
t.teardown(() => origin.stop());
const created = await fetch(`${origin.url}/api/v2.0/projects`, {
  method: 'POST',
  headers: { authorization: basic, 'content-type': 'application/json' },
  body: JSON.stringify({ project_name: 'secret', public: false }),
});
if (created.status !== 201) throw new Error(`creating the private project: ${created.status} ${await created.text()}`);
await created.arrayBuffer();
const img = await pushImage(origin.url, 'secret/app', 'v1', 4 * MiB, admin);
const agent = await startAgentProcess({ origin: origin.url });
t.teardown(() => agent.stop());
const blob = `${agent.url}/v2/${img.repository}/blobs/${img.layer.digest}`;

function skopeo(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('skopeo', args);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

t.test('skopeo with credentials pulls a private image through the agent; the token dance passes through', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-p2p-auth-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = await skopeo(['copy', '--quiet', '--src-tls-verify=false', '--src-creds', `admin:${password}`, `docker://127.0.0.1:${agent.port}/${img.repository}:${img.tag}`, `dir:${dir}`]);
  t.equal(r.code, 0, 'skopeo succeeded', { output: r.out.slice(-2000) });
  const status = (await (await fetch(`${agent.url}/p2p/status`)).json()) as { cache: { blobs: { digest: string }[] } };
  t.same(status.cache.blobs.map((b) => b.digest), [img.layer.digest], 'the layer went through the swarm into the cache');
});

t.test('without credentials nothing leaks, not even from the cache', async (t) => {
  const anon = await fetch(blob);
  t.equal(anon.status, 401, 'the agent relays the origin 401 for a cached blob');
  t.match(anon.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer realm="${origin.url}/service/token"`), 'with the challenge to the origin token service');
  await anon.arrayBuffer();
  const skopeoAnon = await skopeo(['inspect', '--tls-verify=false', `docker://127.0.0.1:${agent.port}/${img.repository}:${img.tag}`]);
  t.not(skopeoAnon.code, 0, 'skopeo without credentials is refused');
  const torrent = await fetch(`${origin.url}/p2p/v1/blobs/${img.layer.digest}/torrent?repository=${img.repository}`);
  t.equal(torrent.status, 401, 'the .torrent needs pull rights');
  await torrent.arrayBuffer();
});

t.test('the tracker admits signed tickets only; the web seed signed URLs only', async (t) => {
  const raw = await fetch(`${origin.url}/p2p/v1/blobs/${img.layer.digest}/torrent?repository=${img.repository}`, { headers: { authorization: basic } });
  t.equal(raw.status, 200);
  const torrent = parseTorrent(Buffer.from(await raw.arrayBuffer()));
  t.match(torrent.announce, /\/p2p\/v1\/announce\?ticket=\d+\.[\w-]{43}$/);
  const q = `info_hash=${escape(torrent.infoHashBytes)}&peer_id=${escape(Buffer.alloc(20, 7))}&port=6881&left=0&compact=1`;
  const tracker = `${origin.url}/p2p/v1/announce`;
  const noTicket = Buffer.from(await (await fetch(`${tracker}?${q}`)).arrayBuffer()).toString('latin1');
  t.match(noTicket, /failure reason/, 'an announce without a ticket is refused');
  const forged = Buffer.from(await (await fetch(`${tracker}?ticket=9999999999.${'A'.repeat(43)}&${q}`)).arrayBuffer()).toString('latin1');
  t.match(forged, /failure reason/, 'a forged ticket is refused');
  const good = Buffer.from(await (await fetch(`${torrent.announce}&${q}`)).arrayBuffer()).toString('latin1');
  t.match(good, /8:intervali\d+e/, 'the signed ticket is admitted');

  const seed = torrent.webSeeds[0]!;
  t.equal((await fetchDigest(seed)).digest, img.layer.digest, 'the signed web-seed URL serves the blob');
  const tampered = await fetch(seed.replace(/s=\d+/, (m) => `s=${Number(m.slice(2)) + 1}`));
  t.equal(tampered.status, 403, 'a tampered signature is refused');
  await tampered.arrayBuffer();
});

function escape(b: Buffer): string {
  return [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
}

t.test('the .torrent answers alike for a digest not stored and one stored where the caller may not pull', async (t) => {
  const outsiderPassword = 'Outsider-p2p-1';
  const u = await fetch(`${origin.url}/api/v2.0/users`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'outsider', password: outsiderPassword, email: 'o@example.test', realname: 'o' }),
  });
  t.equal(u.status, 201);
  await u.arrayBuffer();
  const unknown = `sha256:${'0'.repeat(64)}`;
  const answer = async (digest: string, authorization?: string) => {
    const r = await fetch(`${origin.url}/p2p/v1/blobs/${digest}/torrent`, { headers: authorization ? { authorization } : {} });
    return { status: r.status, challenge: r.headers.get('www-authenticate'), body: (await r.text()).replaceAll(digest, '<digest>') };
  };
  for (const [who, authorization] of [
    ['anonymous', undefined],
    ['an outsider', `Basic ${Buffer.from(`outsider:${outsiderPassword}`).toString('base64')}`],
  ] as const) {
    const stored = await answer(img.layer.digest, authorization);
    const absent = await answer(unknown, authorization);
    t.same(stored, absent, `${who}: same status, challenge and body`);
    t.notMatch(JSON.stringify(stored), /secret/, `${who}: the private repository is not named`);
  }
  t.equal((await answer(unknown)).status, 401);
  t.equal((await answer(unknown, `Basic ${Buffer.from(`outsider:${outsiderPassword}`).toString('base64')}`)).status, 404);
  t.equal((await answer(img.layer.digest, basic)).status, 200, 'the admin may pull: the torrent');
});
