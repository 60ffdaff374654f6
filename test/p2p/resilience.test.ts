// When peers misbehave or die: a peer sending corrupt pieces is dropped and the pieces fetched again; an agent
// killed in the middle of a download resumes from the pieces it had verified, and its clients never get a
// wrong blob.
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import Wire from 'bittorrent-protocol';
import t from 'tap';
import { parseTorrent } from '../../p2p-agent/torrent.js';
import { announce } from '../../p2p-agent/tracker-client.js';
import { freePort, startBerth } from '../helpers/berth-process.js';
import { MiB, fetchDigest, metric, pushImage, startAgentProcess } from './swarm-fixtures.js';

t.test('a peer that sends corrupt pieces is dropped and the pieces come again from honest peers', async (t) => {
  const origin = await startBerth();
  t.teardown(() => origin.stop());
  const img = await pushImage(origin.url, 'evil/target', 'v1', 16 * MiB);
  const torrent = parseTorrent(Buffer.from(await (await fetch(`${origin.url}/p2p/v1/blobs/${img.layer.digest}/torrent?repository=${img.repository}`)).arrayBuffer()));

  // The liar: claims every piece, unchokes everyone, answers every request with random bytes.
  let liesTold = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const liar = createServer((socket) => {
    connections++;
    sockets.add(socket);
    const wire = new Wire('tcpIncoming');
    socket.pipe(wire as unknown as NodeJS.WritableStream);
    wire.pipe(socket);
    socket.on('error', () => wire.destroy());
    socket.on('close', () => sockets.delete(socket));
    wire.on('handshake', () => {
      wire.handshake(torrent.infoHashBytes, randomBytes(20), { fast: true });
      wire.bitfield(Buffer.alloc(Math.ceil(torrent.pieceCount / 8), 0xff));
      wire.unchoke();
    });
    wire.on('request', (_i: number, _o: number, length: number, respond: (e: Error | null, b?: Uint8Array) => void) => {
      liesTold++;
      respond(null, randomBytes(length));
    });
  });
  const liarPort = await freePort();
  await new Promise<void>((r) => liar.listen(liarPort, '127.0.0.1', () => r()));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    liar.close();
  });
  // Announced as a complete seeder, the tracker hands it out first.
  await announce(torrent.announce!, { infoHash: torrent.infoHashBytes, peerId: randomBytes(20), port: liarPort, uploaded: 0, downloaded: 0, left: 0, numwant: 0, idc: 'default' });

  const agents = await Promise.all([0, 1, 2].map(() => startAgentProcess({ origin: origin.url })));
  t.teardown(() => Promise.all(agents.map((a) => a.stop())));
  const results = await Promise.all(agents.map((a) => fetchDigest(`${a.url}/v2/${img.repository}/blobs/${img.layer.digest}`)));
  for (const r of results) t.same(r, { status: 200, digest: img.layer.digest, bytes: img.layer.size }, 'the pull is intact');
  let corrupt = 0;
  let banned = 0;
  for (const a of agents) {
    corrupt += await metric(a.url, 'berth_agent_corrupt_pieces_total');
    banned += await metric(a.url, 'berth_agent_peers_banned_total');
  }
  t.ok(connections >= 1 && liesTold > 0, `the liar was asked (${connections} connections, ${liesTold} blocks)`);
  t.ok(corrupt >= 1, `corrupt pieces were detected (${corrupt})`);
  t.ok(banned >= 1, `the liar was banned (${banned} bans)`);
  t.equal(sockets.size, 0, 'nobody stays connected to the liar');
  const again = await announce(torrent.announce!, { infoHash: torrent.infoHashBytes, peerId: randomBytes(20), port: 1, uploaded: 0, downloaded: 0, left: 1, numwant: 50, idc: 'default' });
  t.notOk(again.peers.some((p) => p.port === liarPort), 'the agents reported it: the tracker no longer hands it out');
});

t.test('an agent killed mid-download resumes from its verified pieces after a restart', async (t) => {
  // A slow origin (4 MiB/s) so the kill lands mid-download.
  const origin = await startBerth({ env: { BERTH_EGRESS_LIMIT: String(4 * MiB) } });
  t.teardown(() => origin.stop());
  const img = await pushImage(origin.url, 'crash/app', 'v1', 24 * MiB);
  const served = () => metric(origin.url, 'berth_blob_bytes_served_total');
  const url = (base: string) => `${base}/v2/${img.repository}/blobs/${img.layer.digest}`;
  const before = await served();

  const agent = await startAgentProcess({ origin: origin.url });
  const cut = fetchDigest(url(agent.url)).catch((e: Error) => e);
  // Wait until a good part has arrived, then kill -9.
  const deadline = Date.now() + 30_000;
  while ((await metric(agent.url, 'berth_agent_bytes_from_origin_total', { path: 'seed' })) < 8 * MiB && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await agent.kill();
  const outcome = await cut;
  t.ok(outcome instanceof Error || outcome.bytes < img.layer.size, 'the client of the killed agent got a short response, not a wrong blob');

  const again = await startAgentProcess({ origin: origin.url, dataDir: agent.dataDir, port: agent.port, peerPort: agent.peerPort, removeData: true });
  t.teardown(() => again.stop());
  t.same(await fetchDigest(url(again.url)), { status: 200, digest: img.layer.digest, bytes: img.layer.size }, 'after the restart the pull is intact');
  const copies = ((await served()) - before) / img.layer.size;
  t.ok(copies < 1.3, `the restarted agent resumed: the origin sent ${copies.toFixed(2)} copies in all`);
  const status = (await (await fetch(`${again.url}/p2p/status`)).json()) as { cache: { blobs: { digest: string }[] } };
  t.same(status.cache.blobs.map((b) => b.digest), [img.layer.digest], 'the blob is in the cache');
});

t.test('when the swarm stalls the agent falls back to the origin web seed, and only then', async (t) => {
  const origin = await startBerth();
  t.teardown(() => origin.stop());
  const img = await pushImage(origin.url, 'stall/app', 'v1', 8 * MiB);
  const torrent = parseTorrent(Buffer.from(await (await fetch(`${origin.url}/p2p/v1/blobs/${img.layer.digest}/torrent?repository=${img.repository}`)).arrayBuffer()));
  // A "seeder" that claims every piece and never unchokes anyone: the origin's seed defers to it, peers wait on it.
  const sockets = new Set<Socket>();
  const miser = createServer((socket) => {
    sockets.add(socket);
    const wire = new Wire('tcpIncoming');
    socket.pipe(wire as unknown as NodeJS.WritableStream);
    wire.pipe(socket);
    socket.on('error', () => wire.destroy());
    socket.on('close', () => sockets.delete(socket));
    wire.on('handshake', () => {
      wire.handshake(torrent.infoHashBytes, randomBytes(20), { fast: true });
      wire.bitfield(Buffer.alloc(Math.ceil(torrent.pieceCount / 8), 0xff));
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => miser.listen(port, '127.0.0.1', () => r()));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    miser.close();
  });
  await announce(torrent.announce!, { infoHash: torrent.infoHashBytes, peerId: randomBytes(20), port, uploaded: 0, downloaded: 0, left: 0, numwant: 0, idc: 'default' });

  const agent = await startAgentProcess({ origin: origin.url, env: { BERTH_AGENT_STALL_MS: '1000' } });
  t.teardown(() => agent.stop());
  const started = Date.now();
  t.same(await fetchDigest(`${agent.url}/v2/${img.repository}/blobs/${img.layer.digest}`), { status: 200, digest: img.layer.digest, bytes: img.layer.size });
  const fromWebSeed = await metric(agent.url, 'berth_agent_bytes_from_origin_total', { path: 'webseed' });
  t.equal(fromWebSeed, img.layer.size, 'the whole layer came from the web seed');
  t.equal(await metric(origin.url, 'berth_p2p_webseed_bytes_total'), img.layer.size, 'and the origin counted it');
  t.ok(Date.now() - started >= 2000, 'not before the stall time had passed (twice the stall time for the first data)');
});
