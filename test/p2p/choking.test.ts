// Who we upload to: Berth peers take turns in four slots (two pieces a turn while others wait); standard clients
// share four slots, rotated every few seconds while others wait. Real Peers over in-memory wires: their side says it is interested, and sees our
// choke and unchoke messages.
import t from 'tap';
import { Choker, turnPieces } from '../../p2p-agent/choking.js';
import type { Peer } from '../../p2p-agent/peer.js';
import type { PeerWire } from '../../p2p-agent/peer-wire.js';
import { connectedPeer, next, smallTorrent, type PeerKind } from './peer-fixtures.js';

/** Their wires, by our Peer: what they are told. */
const remote = new Map<Peer, PeerWire>();

async function interestedPeers(kind: PeerKind, count: number, firstInterestAt: number): Promise<Peer[]> {
  const { torrent } = smallTorrent(2);
  const peers: Peer[] = [];
  for (let i = 0; i < count; i++) {
    const { peer, theirs } = await connectedPeer(torrent, kind);
    const told = next(peer.wire, 'interested');
    theirs.interested();
    await told;
    peer.interestedAt = firstInterestAt + i;
    peers.push(peer);
    remote.set(peer, theirs);
  }
  return peers;
}

const unchoked = (peers: Peer[]) => peers.map((p) => !p.wire.amChoking);

t.test('Berth peers take turns in four slots: two pieces each while others wait, then the longest waiting', async (t) => {
  const now = 1_000_000;
  const agents = await interestedPeers('agent', 6, now);
  const choker = new Choker(now);
  choker.rechoke(agents, now);
  t.same(unchoked(agents), [true, true, true, true, false, false], 'four slots, first come first served');
  t.ok(agents.slice(0, 4).every((p) => p.unchokedAt === now && p.turnSent === 0));

  agents[1]!.turnSent = turnPieces - 1;
  agents[1]!.servedAt = now + 500;
  choker.rechoke(agents, now + 500);
  t.same(unchoked(agents), [true, true, true, true, false, false], 'a turn lasts its pieces');

  const choked = next(remote.get(agents[1]!)!, 'choke');
  const unchokedNow = next(remote.get(agents[4]!)!, 'unchoke');
  agents[1]!.turnSent = turnPieces;
  choker.rechoke(agents, now + 1000);
  t.same(unchoked(agents), [true, false, true, true, true, false], 'its pieces sent, it makes room for the longest waiting');
  t.equal(agents[1]!.interestedAt, now + 1000, 'back in the queue, last');
  await choked;
  await unchokedNow;
  t.pass('they were told: a CHOKE and an UNCHOKE on the wire');

  // One asking for nothing makes room too; nobody waiting, nobody is choked however long its turn.
  choker.rechoke(agents, now + 1000 + 1500);
  t.same(unchoked(agents), [false, true, false, false, false, true], 'idle turns end: the two waiting come in, the idle go to the back');
});

t.test('with nobody waiting a Berth peer keeps its slot, whatever it was sent', async (t) => {
  const now = 1_000_000;
  const agents = await interestedPeers('agent', 3, now);
  const choker = new Choker(now);
  choker.rechoke(agents, now);
  for (const p of agents) p.turnSent = 10;
  choker.rechoke(agents, now + 60_000);
  t.same(unchoked(agents), [true, true, true]);
});

t.test('standard clients share four slots, first come first served; not interested, not unchoked', async (t) => {
  const now = 1_000_000;
  const clients = await interestedPeers('standard', 6, now);
  const { torrent } = smallTorrent(2);
  const idle = (await connectedPeer(torrent, 'standard')).peer;
  const choker = new Choker(now);
  choker.rechoke([...clients.slice().reverse(), idle], now);
  t.same(unchoked(clients), [true, true, true, true, false, false], 'the four that asked first');
  t.notOk(unchoked([idle])[0], 'a peer that is not interested stays choked');
});

t.test('after the rotation time the longest served client makes room for the longest waiting', async (t) => {
  const now = 1_000_000;
  const clients = await interestedPeers('standard', 6, now);
  const choker = new Choker(now);
  choker.rechoke(clients, now);
  clients[2]!.unchokedAt = now - 100; // served longest
  t.notOk(choker.due(now + 4000));
  choker.rechoke(clients, now + 4000);
  t.same(unchoked(clients), [true, true, true, true, false, false], 'no rotation within five seconds');
  t.ok(choker.due(now + 6000));
  const choked = next(remote.get(clients[2]!)!, 'choke');
  const unchokedNow = next(remote.get(clients[4]!)!, 'unchoke');
  choker.rechoke(clients, now + 6000);
  t.same(unchoked(clients), [true, true, false, true, true, false], 'the longest served out, the first waiting in');
  t.equal(clients[2]!.interestedAt, now + 6000, 'back in the queue, last');
  t.equal(clients[4]!.unchokedAt, now + 6000);
  await choked;
  await unchokedNow;
  t.pass('they were told: a CHOKE and an UNCHOKE on the wire');
  t.notOk(choker.due(now + 6000), 'the next rotation waits again');
});

t.test('a rotation needs someone waiting', async (t) => {
  const now = 1_000_000;
  const clients = await interestedPeers('standard', 4, now);
  const choker = new Choker(now);
  choker.rechoke(clients, now);
  choker.rechoke(clients, now + 60_000);
  t.same(unchoked(clients), [true, true, true, true]);
});
