// Which block the swarm asks a peer for: rarest first over the peers' bitfields, the readers' next piece when
// the download runs ahead, the origin's seed only for what nobody else has, pieces continued before new ones,
// and the endgame. Real Peers over in-memory wires, a real PieceStore on disk.
import t from 'tap';
import type { Peer } from '../../p2p-agent/peer.js';
import { ActivePiece, PiecesInFlight } from '../../p2p-agent/piece-assembly.js';
import { PiecePicker } from '../../p2p-agent/piece-picker.js';
import type { PieceSource } from '../../p2p-agent/piece-source.js';
import { connectedPeer, openStore, smallTorrent, type PeerKind } from './peer-fixtures.js';

const webSeed: PieceSource = { kind: 'webseed', label: 'webseed', closed: false };

async function swarmOf(t: { teardown(fn: () => unknown): void }, pieces: number, have: number[], peers: { kind: PeerKind; has: number[] }[]) {
  const { torrent, piece } = smallTorrent(pieces);
  const { store } = await openStore(t, torrent, piece, have);
  const inFlight = new PiecesInFlight();
  // The rarest-first scan starts at piece 0, so ties go to the lowest index.
  const picker = new PiecePicker(torrent, store, inFlight, () => 0);
  const connected: Peer[] = [];
  for (const p of peers) {
    const { peer } = await connectedPeer(torrent, p.kind);
    for (const i of p.has) picker.learned(peer, i);
    connected.push(peer);
  }
  return { torrent, store, inFlight, picker, peers: connected };
}

const rarest: { name: string; pieces: number; have: number[]; others: number[][]; asker: number[]; expect: number | undefined }[] = [
  { name: 'the piece only the asker has', pieces: 4, have: [], others: [[0, 1, 3], [0, 3]], asker: [0, 1, 2, 3], expect: 2 },
  { name: 'the least held of those the asker has', pieces: 4, have: [], others: [[0, 1, 2, 3], [0, 2, 3], [0, 3]], asker: [0, 1, 2, 3], expect: 1 },
  { name: 'ties: the first from where the scan starts', pieces: 4, have: [], others: [[0, 1, 2, 3]], asker: [0, 1, 2, 3], expect: 0 },
  { name: 'not a piece we have', pieces: 4, have: [2], others: [[0, 1, 3], [0, 3]], asker: [0, 1, 2, 3], expect: 1 },
  { name: 'not a piece the asker lacks', pieces: 4, have: [], others: [[0, 1, 3], [0, 3]], asker: [0, 3], expect: 0 },
  { name: 'nothing when the asker has only what we have', pieces: 4, have: [0, 1], others: [], asker: [0, 1], expect: undefined },
];

for (const c of rarest) {
  t.test(`rarest first: ${c.name}`, async (t) => {
    const s = await swarmOf(t, c.pieces, c.have, [...c.others.map((has) => ({ kind: 'agent' as const, has })), { kind: 'agent', has: c.asker }]);
    const asker = s.peers[s.peers.length - 1]!;
    const next = s.picker.next(asker);
    t.equal(next?.ap.index, c.expect);
    if (next) {
      t.equal(next.block, 0, 'a new piece starts at its first block');
      t.equal(next.ap.owner, asker, 'owned by the asker');
      t.ok(s.inFlight.has(c.expect!), 'and in flight');
    }
  });
}

t.test('a piece in flight is not started again: the next rarest is', async (t) => {
  const s = await swarmOf(t, 4, [], [{ kind: 'agent', has: [0, 1, 3] }, { kind: 'agent', has: [0, 1, 2, 3] }, { kind: 'agent', has: [0, 1, 2, 3] }]);
  const [, a, b] = s.peers as [Peer, Peer, Peer];
  t.equal(s.picker.next(a)?.ap.index, 2);
  // b asks: piece 2 is a's; among 0, 1, 3 (all held by three peers) the scan's first.
  t.equal(s.picker.next(b)?.ap.index, 0);
});

t.test("the readers' next piece goes first once the download is four pieces ahead of it", async (t) => {
  const ahead = await swarmOf(t, 8, [1, 2, 3, 4], [{ kind: 'agent', has: [5] }, { kind: 'agent', has: [0, 5, 6, 7] }]);
  t.equal(ahead.picker.next(ahead.peers[1]!)?.ap.index, 0, 'piece 0 (held by one) although 6 and 7 are as rare');
  const notYet = await swarmOf(t, 8, [1, 2, 3], [{ kind: 'agent', has: [0, 7] }, { kind: 'agent', has: [0, 6, 7] }]);
  t.equal(notYet.picker.next(notYet.peers[1]!)?.ap.index, 6, 'three ahead: rarest first (6) rather than the cursor (0)');
});

t.test("the origin's seed is asked only for pieces no other peer offers", async (t) => {
  const s = await swarmOf(t, 4, [], [{ kind: 'agent', has: [0, 1, 3] }, { kind: 'origin', has: [0, 1, 2, 3] }]);
  const origin = s.peers[1]!;
  t.ok(origin.isOrigin);
  const first = s.picker.next(origin)!;
  t.equal(first.ap.index, 2, 'piece 2, which only the origin has');
  s.inFlight.asked(origin, first.ap, first.block);
  t.equal(s.picker.next(origin), undefined, 'then nothing: peers offer the rest, and the origin takes no part in the endgame');
  t.equal(s.picker.availability(0), 2, 'the origin still counts in availability');
});

t.test('a piece being fetched is continued before a new one starts; an ownerless one is adopted', async (t) => {
  const s = await swarmOf(t, 4, [], [{ kind: 'standard', has: [0, 1, 2, 3] }, { kind: 'standard', has: [0, 1, 2, 3] }]);
  const [a, b] = s.peers as [Peer, Peer];
  t.equal(a.blockLimit, 16 * 1024, 'a standard client is asked for 16 KiB blocks');
  const first = s.picker.next(a)!;
  s.inFlight.asked(a, first.ap, first.block);
  // One-block pieces (16 KiB): the piece has no free block left, so a new one starts.
  const second = s.picker.next(a)!;
  t.not(second.ap.index, first.ap.index);
  s.inFlight.asked(a, second.ap, second.block);
  // a goes away: its requests are released and its pieces lose their owner; b adopts the first.
  s.inFlight.release(a);
  const adopted = s.picker.next(b)!;
  t.equal(adopted.ap, first.ap, 'b continues the piece a left');
  t.equal(adopted.ap.owner, b);
});

t.test('endgame: every missing piece is in flight elsewhere; the oldest one is shared, asked of two peers at most', async (t) => {
  const s = await swarmOf(t, 2, [0], [{ kind: 'agent', has: [0, 1] }, { kind: 'agent', has: [0, 1] }, { kind: 'agent', has: [0, 1] }, { kind: 'origin', has: [0, 1] }]);
  const [a, b, c, origin] = s.peers as [Peer, Peer, Peer, Peer];
  const first = s.picker.next(a)!;
  t.equal(first.ap.index, 1);
  s.inFlight.asked(a, first.ap, first.block);
  t.equal(s.picker.next(b, first.ap.startedAt + 500), undefined, 'not within the first second of the piece');
  const help = s.picker.next(b, first.ap.startedAt + 1500);
  t.equal(help?.ap, first.ap, 'after a second, b is asked for the same block');
  t.equal(help?.ap.owner, a, 'the piece keeps its owner');
  s.inFlight.asked(b, help!.ap, help!.block);
  t.equal(s.picker.next(c, first.ap.startedAt + 1500), undefined, 'a block already asked of two peers is not asked of a third');
  t.equal(s.picker.next(origin, first.ap.startedAt + 1500), undefined, 'the origin takes no part');
  t.equal(s.picker.next(a, first.ap.startedAt + 1500), undefined, 'nor the owner, again');
});

t.test('no endgame while some missing piece is fetched by nobody: a peer without it waits instead of doubling a piece', async (t) => {
  // Pieces 1 and 2 missing; a and b have 1, only c has 2 and c is busy (its request for 2 not made yet).
  const s = await swarmOf(t, 3, [0], [{ kind: 'agent', has: [0, 1] }, { kind: 'agent', has: [0, 1] }, { kind: 'agent', has: [2] }]);
  const [a, b] = s.peers as [Peer, Peer, Peer];
  const first = s.picker.next(a)!;
  t.equal(first.ap.index, 1);
  s.inFlight.asked(a, first.ap, first.block);
  t.equal(s.picker.next(b, first.ap.startedAt + 60_000), undefined, 'piece 2 is not in flight: not the endgame, b is not asked for piece 1');
});

t.test('endgame on a thin link: a second peer is asked only once a piece took twice the usual time', async (t) => {
  const s = await swarmOf(t, 3, [0], [{ kind: 'agent', has: [0, 1, 2] }, { kind: 'agent', has: [0, 1, 2] }]);
  const [a, b] = s.peers as [Peer, Peer];
  // Pieces here take 5 s each (the picker learned it from the pieces before).
  const done = new ActivePiece(0, s.torrent.pieceLength, 16 * 1024, a);
  s.picker.finished(done, done.startedAt + 5000);
  t.equal(s.picker.pieceMs, 5000);
  const one = s.picker.next(a)!;
  s.inFlight.asked(a, one.ap, one.block);
  const two = s.picker.next(b)!;
  s.inFlight.asked(b, two.ap, two.block);
  t.not(one.ap.index, two.ap.index);
  t.equal(s.picker.next(b, one.ap.startedAt + 1500), undefined, 'not after one second: pieces take five here');
  t.equal(s.picker.next(b, one.ap.startedAt + 9000), undefined, 'nor before twice the usual time');
  t.equal(s.picker.next(b, one.ap.startedAt + 10_500)?.ap, one.ap, 'then b helps with the slow piece');
});

t.test("endgame leaves the web seed's pieces alone", async (t) => {
  const s = await swarmOf(t, 2, [0], [{ kind: 'agent', has: [0, 1] }]);
  s.inFlight.add(new ActivePiece(1, s.torrent.length - s.torrent.pieceLength, 16 * 1024, webSeed, 0));
  t.equal(s.picker.next(s.peers[0]!, Date.now() + 5000), undefined);
});

t.test('the web seed fetches the readers’ next piece nobody fetches, else the oldest in flight', async (t) => {
  const s = await swarmOf(t, 4, [0], [{ kind: 'agent', has: [1, 2, 3] }]);
  const a = s.peers[0]!;
  t.equal(s.picker.forWebSeed(), 1, 'the first missing piece');
  const started = s.picker.next(a)!; // rarest first from 0: piece 1
  t.equal(started.ap.index, 1);
  t.equal(s.picker.forWebSeed(), 2, 'the first missing piece not in flight');
  s.inFlight.add(new ActivePiece(2, s.torrent.pieceLength, 16 * 1024, webSeed, 0));
  s.inFlight.add(new ActivePiece(3, s.torrent.length - 3 * s.torrent.pieceLength, 16 * 1024, webSeed, 0));
  t.equal(s.picker.forWebSeed(), 1, 'all in flight: the oldest a peer is fetching (a race)');
  s.inFlight.delete(1);
  s.inFlight.add(new ActivePiece(1, s.torrent.pieceLength, 16 * 1024, webSeed, 0));
  t.equal(s.picker.forWebSeed(), undefined, 'none when the web seed fetches every missing piece already');
});

t.test('availability counts each peer once and forgets a peer that left', async (t) => {
  const s = await swarmOf(t, 4, [], [{ kind: 'agent', has: [0, 1] }, { kind: 'agent', has: [1] }]);
  const a = s.peers[0]!;
  t.equal(s.picker.learned(a, 1), false, 'a HAVE for a piece already known');
  t.equal(s.picker.learned(a, 4), false, 'a piece out of range');
  t.same([0, 1, 2, 3].map((i) => s.picker.availability(i)), [1, 2, 0, 0]);
  t.equal(s.picker.wants(a), true, 'a has pieces we lack');
  s.picker.forget(a);
  t.same([0, 1, 2, 3].map((i) => s.picker.availability(i)), [0, 1, 0, 0]);
});
