// When the swarm announces, against the origin's real tracker: peers learn of each other through it, a
// 'stopped' announce takes us off its lists, a plain announce never postpones one due sooner while an urgent one
// goes at once, 'completed' goes once, and a refused ticket asks for a fresh torrent.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import t from 'tap';
import { agentPeerIdPrefix } from '../../core/p2p-peer-id.js';
import { Announcer, type AnnouncerOptions } from '../../p2p-agent/announcer.js';
import { OriginClient } from '../../p2p-agent/origin-client.js';
import { parseTorrent } from '../../p2p-agent/torrent.js';
import { startBerth } from '../helpers/berth-process.js';
import { until } from './peer-fixtures.js';
import { MiB, pushImage } from './swarm-fixtures.js';

const log = pino({ level: 'silent' });
const origin = await startBerth();
t.teardown(() => origin.stop());
const img = await pushImage(origin.url, 'announced/app', 'v1', MiB);
const torrent = parseTorrent(await new OriginClient(origin.url).torrent(img.repository, img.layer.digest, undefined));
let nextPort = 41000;

/** An announcer as a downloading agent on its own port, recording the peers it is told to call. */
function agent(t: { teardown(fn: () => unknown): void }, over: Partial<AnnouncerOptions> = {}) {
  const port = nextPort++;
  const told: number[] = [];
  let sent = 0;
  const a = new Announcer({
    torrent,
    url: torrent.announce,
    peerId: Buffer.concat([Buffer.from(agentPeerIdPrefix), randomBytes(12)]),
    port,
    ip: '127.0.0.1',
    idc: 'default',
    maxPeers: 10,
    log,
    report: () => {
      sent++;
      return { uploaded: 0, downloaded: 0, left: torrent.length, corrupt: [], starving: false };
    },
    complete: () => false,
    short: () => true,
    dialedBefore: () => false,
    connect: (_ip, p) => told.push(p),
    renew: async () => undefined,
    ...over,
  });
  t.teardown(() => a.stop());
  return { a, port, told, sent: () => sent };
}

t.test('agents meet through the tracker; a stopped one is no longer handed out', async (t) => {
  const first = agent(t);
  first.a.schedule(0, 'started');
  t.ok(await until(() => first.sent() === 1), 'the first announce left');
  await new Promise((r) => setTimeout(r, 200));
  const second = agent(t);
  second.a.schedule(0, 'started');
  t.ok(await until(() => second.told.includes(first.port)), 'the second is told to call the first');
  first.a.stop();
  await first.a.farewell();
  const third = agent(t);
  third.a.schedule(0, 'started');
  t.ok(await until(() => third.told.includes(second.port)), 'the third is told to call the second');
  t.notOk(third.told.includes(first.port), 'but not the first, which said it stopped');
});

t.test('a plain announce never postpones a sooner one; an urgent one replaces a later one', async (t) => {
  const soon = agent(t);
  soon.a.schedule(0);
  soon.a.schedule(60_000);
  t.ok(await until(() => soon.sent() === 1, 2000), 'the sooner announce went');
  const urgent = agent(t);
  urgent.a.schedule(60_000);
  urgent.a.schedule(0, undefined, true);
  t.ok(await until(() => urgent.sent() === 1, 2000), 'the urgent one went at once');
  const later = agent(t);
  later.a.schedule(60_000);
  later.a.schedule(50_000);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(later.sent(), 0, 'two later ones: nothing yet');
});

t.test("'completed' is announced once, and never by a swarm that was complete from the start", async (t) => {
  const finishing = agent(t);
  finishing.a.completed();
  finishing.a.completed();
  t.ok(await until(() => finishing.sent() === 1, 2000));
  await new Promise((r) => setTimeout(r, 300));
  t.equal(finishing.sent(), 1, 'one announce');
  const seeding = agent(t, { complete: () => true });
  seeding.a.completed();
  await new Promise((r) => setTimeout(r, 300));
  t.equal(seeding.sent(), 0);
});

t.test('after stop nothing more is announced', async (t) => {
  const stopped = agent(t);
  stopped.a.schedule(100);
  stopped.a.stop();
  stopped.a.schedule(0, 'started');
  await new Promise((r) => setTimeout(r, 400));
  t.equal(stopped.sent(), 0);
});

t.test('a refused ticket asks for a fresh torrent, whose announce URL is used next', async (t) => {
  let renewals = 0;
  const good = torrent.announce!;
  const ctx = agent(t, {
    url: good.replace(/ticket=[^&]+/, 'ticket=forged'),
    renew: async () => {
      renewals++;
      ctx.a.url = good;
    },
  });
  ctx.a.schedule(0, 'started');
  t.ok(await until(() => renewals === 1), 'renewed after the refusal');
  // Retried three seconds later while downloading, with the fresh ticket: the tracker now answers with peers.
  t.ok(await until(() => ctx.told.length > 0, 6000), 'the next announce was accepted');
});
