// Who we upload to: every interested Berth peer at once; standard clients share four slots, rotated every few
// seconds while others wait. Real Peers over in-memory wires: their side says it is interested, and sees our
// choke and unchoke messages.
import t from 'tap';
import { Choker } from '../../p2p-agent/choking.js';
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

t.test('every interested Berth peer is unchoked, agents and the origin alike', async (t) => {
  const now = 1_000_000;
  const agents = await interestedPeers('agent', 6, now);
  const origin = await interestedPeers('origin', 1, now);
  const choker = new Choker(now);
  choker.rechoke([...agents, ...origin], now);
  t.same(unchoked([...agents, ...origin]), [true, true, true, true, true, true, true]);
  t.ok(agents.every((p) => p.unchokedAt === now));
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
