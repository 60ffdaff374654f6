// Pieces in flight: blocks assembled on the piece's grid and checked against its SHA-1, and the request
// bookkeeping kept in step between the asking peers and the pieces (answers, endgame duplicates, chokes and
// departures, timeouts, the periodic recount). Real Peers over in-memory wires: cancels reach the other side.
import t from 'tap';
import { ActivePiece, PiecesInFlight, requestKey } from '../../p2p-agent/piece-assembly.js';
import type { PieceSource } from '../../p2p-agent/piece-source.js';
import { connectedPeer, next, pieceLength, smallTorrent } from './peer-fixtures.js';

const block = 4 * 1024;

t.test('a piece assembled from blocks verifies; a wrong byte or a block of the wrong length does not pass', async (t) => {
  const { torrent, piece } = smallTorrent(2);
  const { peer } = await connectedPeer(torrent, 'standard');
  const data = piece(0);
  const ap = new ActivePiece(0, pieceLength, block, peer);
  t.equal(ap.blocks, 4);
  t.equal(ap.freeBlock(), 0);
  t.notOk(ap.take(1, data.subarray(block, 2 * block - 1), peer), 'a short block is refused');
  t.equal(ap.received, 0);
  for (const b of [3, 0, 2]) t.ok(ap.take(b, data.subarray(b * block, (b + 1) * block), peer));
  t.notOk(ap.whole, 'three of four blocks');
  t.equal(ap.freeBlock(), 1, 'the one block neither received nor asked for');
  t.ok(ap.take(1, data.subarray(block, 2 * block), peer));
  t.ok(ap.whole);
  t.ok(ap.verified(torrent), 'the SHA-1 matches');
  t.same([...ap.contributors], [peer]);

  const bad = new ActivePiece(0, pieceLength, block, peer);
  for (let b = 0; b < 4; b++) bad.take(b, data.subarray(b * block, (b + 1) * block), peer);
  bad.buf![100] ^= 1;
  t.notOk(bad.verified(torrent), 'one flipped bit fails the check');
});

t.test('a whole-piece block is kept as the piece, not copied', async (t) => {
  const { torrent, piece } = smallTorrent(2);
  const { peer } = await connectedPeer(torrent, 'agent');
  const last = piece(1);
  const ap = new ActivePiece(1, last.length, Math.min(peer.blockLimit, last.length), peer);
  t.equal(ap.blocks, 1);
  t.equal(ap.blockLength(0), last.length, 'the last piece is shorter');
  t.ok(ap.take(0, last, peer));
  t.equal(ap.buf, last, 'the same buffer');
  t.ok(ap.verified(torrent));
});

t.test('requests: an answer counts once; a block arriving first from one peer withdraws it from the other', async (t) => {
  const { torrent } = smallTorrent(2);
  const a = await connectedPeer(torrent, 'standard');
  const b = await connectedPeer(torrent, 'standard');
  const inFlight = new PiecesInFlight();
  const ap = new ActivePiece(0, pieceLength, block, a.peer);
  inFlight.add(ap);
  t.equal(inFlight.asked(a.peer, ap, 2), block);
  inFlight.asked(b.peer, ap, 2);
  t.equal(ap.pending[2], 2, 'asked of two peers');
  t.ok(inFlight.answered(a.peer, ap, 2), "a's answer");
  t.notOk(inFlight.answered(a.peer, ap, 2), 'a second answer to the same request is void');
  t.equal(ap.pending[2], 1);
  const cancel = next<[number, number, number]>(b.theirs, 'cancel');
  inFlight.withdrawOthers(ap, 2, a.peer, [a.peer, b.peer]);
  t.same(await cancel, [0, 2 * block, block], 'b is told to cancel the block');
  t.equal(ap.pending[2], 0);
  t.notOk(b.peer.inflight.has(requestKey(0, 2)));
  t.notOk(inFlight.answered(b.peer, ap, 2), "b's late answer is void");
});

t.test('a peer that chokes us or leaves: its requests go back to the pool, its pieces lose their owner', async (t) => {
  const { torrent } = smallTorrent(3);
  const a = await connectedPeer(torrent, 'standard');
  const b = await connectedPeer(torrent, 'standard');
  const inFlight = new PiecesInFlight();
  const mine = new ActivePiece(0, pieceLength, block, a.peer);
  const theirs = new ActivePiece(1, pieceLength, block, b.peer);
  inFlight.add(mine);
  inFlight.add(theirs);
  inFlight.asked(a.peer, mine, 0);
  inFlight.asked(a.peer, mine, 1);
  inFlight.asked(a.peer, theirs, 3);
  inFlight.asked(b.peer, theirs, 0);
  inFlight.release(a.peer);
  t.equal(a.peer.inflight.size, 0);
  t.same([...mine.pending], [0, 0, 0, 0]);
  t.same([...theirs.pending], [1, 0, 0, 0], "b's request stays");
  t.equal(mine.owner, undefined, 'free to adopt');
  t.equal(theirs.owner, b.peer);
});

t.test('requests unanswered past the timeout are cancelled; the third timeout says the peer is hung', async (t) => {
  const { torrent } = smallTorrent(2);
  const a = await connectedPeer(torrent, 'standard');
  const inFlight = new PiecesInFlight();
  const ap = new ActivePiece(0, pieceLength, block, a.peer);
  inFlight.add(ap);
  const at = 1_000_000;
  a.peer.dataAt = 0; // it never sent anything
  inFlight.asked(a.peer, ap, 0, at);
  inFlight.asked(a.peer, ap, 1, at + 5000);
  const cancels: number[] = [];
  a.theirs.on('cancel', (_i: number, offset: number) => cancels.push(offset));
  t.notOk(inFlight.expire(a.peer, at + 9000, 10_000), 'nothing is old enough');
  t.notOk(inFlight.expire(a.peer, at + 10_000, 10_000), 'one timeout');
  t.equal(ap.owner, undefined, 'the piece is free to adopt');
  t.same([...ap.pending], [0, 1, 0, 0]);
  t.ok(a.peer.inflight.has(requestKey(0, 1)), 'the younger request stays');
  inFlight.asked(a.peer, ap, 2, at);
  t.ok(inFlight.expire(a.peer, at + 20_000, 10_000), 'two more: three in all');
  t.equal(a.peer.timeouts, 3);
  await new Promise((r) => setImmediate(r));
  t.same(cancels.sort((x, y) => x - y), [0, block, 2 * block], 'every expired request was cancelled on the wire');
});

t.test('the recount rebuilds pending from the peers, frees pieces of peers gone, and drops pieces no longer missing', async (t) => {
  const { torrent } = smallTorrent(4);
  const a = await connectedPeer(torrent, 'standard');
  const gone = await connectedPeer(torrent, 'standard');
  const webSeed: PieceSource = { kind: 'webseed', label: 'webseed', closed: false };
  const inFlight = new PiecesInFlight();
  const drifted = new ActivePiece(0, pieceLength, block, a.peer);
  const orphan = new ActivePiece(1, pieceLength, block, gone.peer);
  const had = new ActivePiece(2, pieceLength, block, a.peer);
  const seeded = new ActivePiece(3, torrent.length - 3 * pieceLength, block, webSeed, 0);
  for (const ap of [drifted, orphan, had, seeded]) inFlight.add(ap);
  inFlight.asked(a.peer, drifted, 1);
  inFlight.asked(a.peer, had, 0);
  drifted.pending[3] = 2; // drift: counted, but asked of nobody
  gone.peer.destroy();
  inFlight.recount([a.peer], (i) => i !== 2);
  t.same([...drifted.pending], [0, 1, 0, 0], 'pending as the peers list it');
  t.equal(orphan.owner, undefined, "the departed peer's piece is free");
  t.notOk(inFlight.has(2), 'a piece had meanwhile is abandoned');
  t.notOk(a.peer.inflight.has(requestKey(2, 0)), 'and its requests withdrawn');
  t.equal(inFlight.get(3)?.owner, webSeed, "the web seed's piece is left as it is");
  t.same(inFlight.describe().map((d) => d.owner), [a.peer.addr, undefined, 'webseed']);
});

t.test('a request is not expired while its peer keeps sending piece bytes, however old it is', async (t) => {
  const { torrent } = smallTorrent(2);
  const a = await connectedPeer(torrent, 'standard');
  const inFlight = new PiecesInFlight();
  const ap = new ActivePiece(0, pieceLength, block, a.peer);
  inFlight.add(ap);
  const at = 1_000_000;
  inFlight.asked(a.peer, ap, 0, at);
  // A thin link: the peer is busy answering others and us, bytes keep coming.
  a.peer.dataAt = at + 25_000;
  t.notOk(inFlight.expire(a.peer, at + 30_000, 10_000), 'no timeout 30 s after the request');
  t.ok(a.peer.inflight.has(requestKey(0, 0)), 'the request stays');
  t.equal(a.peer.timeouts, 0);
  t.notOk(inFlight.expire(a.peer, at + 35_000, 10_000), 'one timeout once the peer went quiet for 10 s');
  t.notOk(a.peer.inflight.has(requestKey(0, 0)), 'then it is withdrawn');
  t.equal(a.peer.timeouts, 1);
});

t.test('a rejected request frees its piece once the peer owes nothing more of it (a choke ends our turn)', async (t) => {
  const { torrent } = smallTorrent(2);
  const a = await connectedPeer(torrent, 'agent');
  const inFlight = new PiecesInFlight();
  const ap = new ActivePiece(0, pieceLength, block, a.peer);
  inFlight.add(ap);
  inFlight.asked(a.peer, ap, 0);
  inFlight.asked(a.peer, ap, 1);
  t.ok(inFlight.answered(a.peer, ap, 0), 'the first request is rejected');
  inFlight.rejected(a.peer, ap);
  t.equal(ap.owner, a.peer, 'still owed a block of it: still its piece');
  t.ok(inFlight.answered(a.peer, ap, 1), 'and the second');
  inFlight.rejected(a.peer, ap);
  t.equal(ap.owner, undefined, 'free for another peer');
});
