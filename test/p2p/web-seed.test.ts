// The web-seed fallback against a real origin: pieces fetched by HTTP range from the URL in the blob's torrent,
// each checked against its SHA-1; a few at a time while the swarm is stalled, marked in flight as the web seed's
// own; a refused (expired) URL renewed from a fresh torrent.
import { pino } from 'pino';
import t from 'tap';
import { OriginClient } from '../../p2p-agent/origin-client.js';
import { PiecesInFlight } from '../../p2p-agent/piece-assembly.js';
import { PiecePicker } from '../../p2p-agent/piece-picker.js';
import { parseTorrent, type Torrent } from '../../p2p-agent/torrent.js';
import { WebSeed, WebSeedRefused, type WebSeedOptions } from '../../p2p-agent/web-seed.js';
import { startBerth } from '../helpers/berth-process.js';
import { openStore } from './peer-fixtures.js';
import { MiB, metric, pushImage } from './swarm-fixtures.js';

const log = pino({ level: 'silent' });
const origin = await startBerth();
t.teardown(() => origin.stop());
const img = await pushImage(origin.url, 'seeded/app', 'v1', 2 * MiB + 12345);
const torrent = parseTorrent(await new OriginClient(origin.url).torrent(img.repository, img.layer.digest, undefined));
const piece = (i: number) => img.layer.bytes.subarray(i * torrent.pieceLength, (i + 1) * torrent.pieceLength);

async function webSeedFor(t: Parameters<typeof openStore>[0], over: Partial<WebSeedOptions> & { torrent?: Torrent } = {}) {
  const tor = over.torrent ?? torrent;
  const { store, file } = await openStore(t, tor, piece);
  const inFlight = new PiecesInFlight();
  const picker = new PiecePicker(tor, store, inFlight);
  let received = 0;
  const seed = new WebSeed({
    torrent: tor,
    url: tor.webSeeds[0],
    inFlight,
    picker,
    log,
    stalled: () => !store.complete,
    received: (n) => (received += n),
    accept: (index, data) => store.store(index, data),
    renew: async () => undefined,
    ...over,
  });
  return { seed, store, file, inFlight, received: () => received };
}

t.test('the torrent names the origin as web seed', async (t) => {
  t.equal(torrent.webSeeds.length, 1);
  t.match(torrent.webSeeds[0], `${origin.url}/p2p/v1/webseed/${img.layer.digest}`);
  t.ok(torrent.pieceCount > 2, `${torrent.pieceCount} pieces`);
});

t.test('one piece by range: the bytes of that piece, verified', async (t) => {
  const { seed } = await webSeedFor(t);
  const last = torrent.pieceCount - 1;
  t.same(await seed.fetchPiece(1), piece(1));
  t.same(await seed.fetchPiece(last), piece(last), 'the shorter last piece');
});

t.test('a piece that does not match its SHA-1 is refused', async (t) => {
  const hashes = Buffer.from(torrent.hashes);
  hashes[20] ^= 0xff; // piece 1's hash
  const { seed, received } = await webSeedFor(t, { torrent: { ...torrent, hashes } });
  await t.rejects(seed.fetchPiece(1), /piece 1 failed its hash check/);
  t.equal(received(), torrent.pieceLength, 'the bytes were counted as received all the same');
});

t.test('while stalled: two pieces at a time, marked as the web seed’s, until the blob is complete', async (t) => {
  const before = await metric(origin.url, 'berth_p2p_webseed_bytes_total');
  const { seed, store, file, inFlight, received } = await webSeedFor(t);
  seed.help();
  t.equal(seed.busy, 2, 'two fetches');
  const claimed = [...inFlight.values()];
  t.same(
    claimed.map((ap) => [ap.index, ap.owner?.kind, ap.blocks]),
    [
      [0, 'webseed', 0],
      [1, 'webseed', 0],
    ],
    "the readers' first pieces, in flight as the web seed's (no blocks for peers to take)",
  );
  seed.help();
  t.equal(seed.busy, 2, 'never more than two');
  while (!store.complete) await new Promise((r) => setTimeout(r, 20));
  while (seed.busy > 0) await new Promise((r) => setTimeout(r, 5));
  t.equal(inFlight.values().next().done, true, 'nothing left in flight');
  t.equal(received(), img.layer.size);
  t.same(await file.readRange(0, img.layer.size), img.layer.bytes, 'the blob, whole');
  t.equal((await metric(origin.url, 'berth_p2p_webseed_bytes_total')) - before, img.layer.size, 'the origin sent it once, as web seed');
});

t.test('a refused URL (expired signature) asks for a fresh torrent, and the next fetch uses it', async (t) => {
  const good = torrent.webSeeds[0]!;
  const expired = good.replace(/s=[^&]+/, 's=expired');
  let renewals = 0;
  let stalled = true;
  const ctx = await webSeedFor(t, {
    url: expired,
    stalled: () => stalled && !ctx.store.complete,
    renew: async () => {
      renewals++;
      ctx.seed.url = good;
    },
  });
  const refused: unknown = await ctx.seed.fetchPiece(0).catch((e: unknown) => e);
  t.ok(refused instanceof WebSeedRefused, 'a WebSeedRefused');
  t.equal((refused as WebSeedRefused).status, 403);
  ctx.seed.help();
  while (ctx.seed.busy > 0) await new Promise((r) => setTimeout(r, 5));
  t.ok(renewals >= 1, 'renewed');
  t.equal(ctx.store.have.count, 0, 'nothing came from the refused URL, and no retry came without the tick');
  ctx.seed.help();
  while (!ctx.store.complete) await new Promise((r) => setTimeout(r, 20));
  stalled = false;
  t.pass('with the fresh URL the blob came');
});
