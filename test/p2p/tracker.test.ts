// The origin's metainfo and tracker-scheduler over real stores (SQLite MetaStore, fs BlobStore): deterministic
// torrents, and who gets which peers.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bencode from 'bencode';
import { pino } from 'pino';
import t from 'tap';
import { loadServerConfig } from '../../core/config.js';
import { digestOf } from '../../core/digest.js';
import { parseTorrent } from '../../p2p-agent/torrent.js';
import { TorrentCatalog, pieceLengthFor, torrentFile } from '../../server/p2p/metainfo.js';
import { UrlSigner } from '../../server/p2p/signing.js';
import { SwarmDirectory } from '../../server/p2p/swarm-directory.js';
import { Tracker, parseAnnounce } from '../../server/p2p/tracker.js';
import { openBlobStore, openMetaStore } from '../../storage-adapters/open.js';
import { LinkedBlobs } from '../../registry/linked-blobs.js';

const log = pino({ level: 'silent' });
const MiB = 1024 * 1024;

async function stores(t: { teardown(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-p2p-unit-'));
  const config = loadServerConfig({ env: { BERTH_DATA_DIR: dir } });
  const blobs = await openBlobStore(config);
  const meta = await openMetaStore(config);
  t.teardown(async () => {
    await Promise.allSettled([blobs.close(), meta.close()]);
    await rm(dir, { recursive: true, force: true });
  });
  return { blobs, meta };
}

t.test('piece length grows with the blob: ~128 pieces, 256 KiB to 4 MiB', async (t) => {
  t.equal(pieceLengthFor(1), 256 * 1024);
  t.equal(pieceLengthFor(32 * MiB), 256 * 1024);
  t.equal(pieceLengthFor(64 * MiB), 512 * 1024);
  t.equal(pieceLengthFor(1024 * MiB), 4 * MiB);
  t.equal(pieceLengthFor(100 * 1024 * MiB), 4 * MiB);
});

t.test('two origins compute the same infohash for a blob; the .torrent is private and well formed', async (t) => {
  const bytes = randomBytes(3 * MiB + 12345);
  const digest = digestOf(bytes);
  const hashes: string[] = [];
  for (let i = 0; i < 2; i++) {
    const { blobs, meta } = await stores(t);
    await blobs.put(digest, bytes);
    const catalog = new TorrentCatalog(meta, new LinkedBlobs(blobs, meta), log);
    const [a, b] = await Promise.all([catalog.forBlob(digest), catalog.forBlob(digest)]);
    t.equal(a!.infoHash, b!.infoHash, 'concurrent first requests agree');
    t.equal((await catalog.byInfoHash(a!.infoHash))?.digest, digest, 'found again by infohash');
    hashes.push(a!.infoHash);
    const parsed = parseTorrent(torrentFile(a!, 'http://o/p2p/v1/announce?ticket=x', 'http://o/p2p/v1/webseed/d?s=y'));
    t.equal(parsed.infoHash, a!.infoHash, 'the agent computes the same infohash from the file');
    t.equal(parsed.name, digest.slice(7));
    t.equal(parsed.length, bytes.length);
    t.equal(parsed.pieceCount, Math.ceil(bytes.length / (256 * 1024)));
    t.same(parsed.webSeeds, ['http://o/p2p/v1/webseed/d?s=y']);
    const doc = bencode.decode(parsed.raw) as { info: { private: number } };
    t.equal(doc.info.private, 1, 'private torrent (no DHT, no PEX)');
  }
  t.equal(hashes[0], hashes[1], 'deterministic across origins');
  const { blobs, meta } = await stores(t);
  t.equal(await new TorrentCatalog(meta, new LinkedBlobs(blobs, meta), log).forBlob(digestOf('absent')), undefined, 'no torrent for an unknown blob');
});

t.test('announces: the origin seed first for leechers only, then same IDC, the more complete first; across IDCs gateway to gateway; stop and expiry', async (t) => {
  const { blobs, meta } = await stores(t);
  const bytes = randomBytes(MiB);
  const digest = digestOf(bytes);
  await blobs.put(digest, bytes);
  const catalog = new TorrentCatalog(meta, new LinkedBlobs(blobs, meta), log);
  const torrent = (await catalog.forBlob(digest))!;
  const signer = await UrlSigner.open(meta);
  const directory = new SwarmDirectory(meta, 1500);
  const seed = { port: 7000, peerId: Buffer.alloc(20, 9) } as unknown as ConstructorParameters<typeof Tracker>[0]['seed'];
  const tracker = new Tracker({ catalog, directory, signer, seed, seedIp: '10.0.0.1', idc: 'east', log, interval: 30 });
  const ih = Buffer.from(torrent.infoHash, 'hex');
  const esc = (b: Buffer) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
  const ask = async (n: number, o: { idc: string; left: number; event?: string; ip?: string; infoHash?: string }) => {
    const hash = o.infoHash ?? torrent.infoHash;
    const q = `ticket=${signer.sign('announce', hash, 60)}&info_hash=${esc(Buffer.from(hash, 'hex'))}&peer_id=${esc(Buffer.alloc(20, n))}&port=${6000 + n}&left=${o.left}&idc=${o.idc}&compact=1&numwant=50${o.event ? `&event=${o.event}` : ''}`;
    const doc = bencode.decode(await tracker.announce(q, o.ip ?? `::ffff:10.1.0.${n}`)) as Record<string, unknown>;
    if (doc['failure reason']) throw new Error(Buffer.from(doc['failure reason'] as Uint8Array).toString());
    const peers = doc.peers as Uint8Array;
    const out: string[] = [];
    for (let i = 0; i < peers.length; i += 6) out.push(`${peers[i]}.${peers[i + 1]}.${peers[i + 2]}.${peers[i + 3]}:${(peers[i + 4]! << 8) | peers[i + 5]!}`);
    return { peers: out, complete: doc.complete, incomplete: doc.incomplete };
  };
  await ask(1, { idc: 'west', left: 0 });
  await ask(2, { idc: 'east', left: MiB });
  await ask(3, { idc: 'east', left: MiB / 2 });
  await ask(4, { idc: 'east', left: 0 });
  await ask(5, { idc: 'west', left: MiB });
  const r = await ask(6, { idc: 'east', left: MiB, event: 'started' });
  t.equal(r.peers[0], '10.0.0.1:7000', 'the origin seed first, for a peer still downloading (an agent calls in order until it is full)');
  t.same(r.peers.slice(1, 4), ['10.1.0.4:6004', '10.1.0.3:6003', '10.1.0.2:6002'], 'same IDC first, the more complete first');
  t.equal(r.peers.length, 4, 'never the caller itself, and nobody of the other IDC: 6 is not its gateway');
  const gateway = await ask(2, { idc: 'east', left: MiB });
  t.same(gateway.peers.slice(1, 4), ['10.1.0.4:6004', '10.1.0.3:6003', '10.1.0.6:6006'], "east's gateway (the first of east to join) gets its IDC first");
  t.same(gateway.peers.slice(4), ['10.1.0.1:6001'], "then west's gateway, not the other west peers: each piece crosses once");
  t.same((await ask(5, { idc: 'west', left: MiB })).peers, ['10.1.0.1:6001'], "a west node that is not its gateway meets only west, not even the east origin's seed: its pieces cross the link once, via the gateway");
  const westGateway = await ask(1, { idc: 'west', left: MiB });
  t.same(westGateway.peers, ['10.1.0.5:6005', '10.1.0.2:6002'], "west has no origin seed of its own and east has agents: its gateway meets west, then east's gateway — one source across the link");
  // A blob only west's agents want: the origin's IDC has none of its own, so west's gateway calls the seed.
  const other = randomBytes(MiB);
  await blobs.put(digestOf(other), other);
  const lone = (await catalog.forBlob(digestOf(other)))!;
  t.same((await ask(11, { idc: 'west', left: MiB, infoHash: lone.infoHash })).peers, ['10.0.0.1:7000'], "with no agent in the origin's IDC, the other IDC's gateway gets the seed");
  t.same((await ask(10, { idc: 'west', left: MiB, infoHash: lone.infoHash })).peers, ['10.1.0.11:6011'], 'the rest of that IDC only their gateway');
  t.same((await ask(11, { idc: 'west', left: MiB, infoHash: lone.infoHash })).peers, ['10.0.0.1:7000', '10.1.0.10:6010'], 'the gateway is the first to join, not the lowest peer id: it stays one node while others join');
  await ask(1, { idc: 'west', left: 0 });
  t.equal(r.complete, 2);
  t.equal(r.incomplete, 4);
  t.same((await ask(4, { idc: 'east', left: 0 })).peers, [], 'a seeder gets no list: leechers come to it');
  await ask(4, { idc: 'east', left: 0, event: 'stopped' });
  t.notOk((await ask(6, { idc: 'east', left: MiB })).peers.includes('10.1.0.4:6004'), 'a stopped peer is no longer handed out');
  await new Promise((r) => setTimeout(r, 1600));
  const late = await ask(7, { idc: 'east', left: MiB });
  t.same(late.peers, ['10.0.0.1:7000'], 'peers silent longer than the TTL are gone (the seed re-registers)');

  t.throws(() => parseAnnounce('info_hash=abc&peer_id=x&port=1'), /info_hash/);
  const refused = bencode.decode(await tracker.announce(`info_hash=${esc(ih)}&peer_id=${esc(Buffer.alloc(20, 1))}&port=1&left=0`, '10.0.0.9')) as Record<string, unknown>;
  t.match(Buffer.from(refused['failure reason'] as Uint8Array).toString(), /ticket/, 'no ticket, no admission');
});
