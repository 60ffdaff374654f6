// The verified pieces of a torrent: a piece being written is neither missing nor had, reads come from piece
// memory or, once evicted, from disk (one read for concurrent askers), and the cursor and byte count follow.
import t from 'tap';
import { PieceMemory } from '../../p2p-agent/piece-memory.js';
import { PieceStore } from '../../p2p-agent/piece-store.js';
import { openStore, pieceLength, smallTorrent } from './peer-fixtures.js';


t.test('while a piece is written it is neither missing nor had; then it is had, on disk and in memory', async (t) => {
  const { torrent, piece, data } = smallTorrent(3);
  const { store, file } = await openStore(t, torrent, piece);
  t.equal(store.left, data.length);
  const writing = store.store(1, piece(1));
  t.notOk(store.missing(1), 'not missing: nobody fetches it again meanwhile');
  t.notOk(store.have.has(1), 'not had yet: nobody is told of it yet');
  await writing;
  t.ok(store.have.has(1));
  t.notOk(store.missing(1));
  t.equal(store.cursor, 0, 'the readers still wait for piece 0');
  t.equal(store.left, data.length - pieceLength);
  t.same(await file.read(1), piece(1), 'on disk');
  t.same(await store.read(1), piece(1));
  await store.store(0, piece(0));
  t.equal(store.cursor, 2);
  await store.store(2, piece(2));
  t.ok(store.complete);
  t.equal(store.left, 0);
});

t.test('a piece no longer in memory is read from disk once for all who ask at the same time', async (t) => {
  const { torrent, piece } = smallTorrent(3);
  const opened = await openStore(t, torrent, piece, [0, 1, 2]);
  // The same file through a store whose memory is empty: every read goes to disk.
  const cold = new PieceStore(torrent, opened.file, new PieceMemory(64 * 1024 * 1024), opened.metrics);
  const reads = () => opened.metrics.pieceDiskReads.get().then((m) => m.values[0]?.value ?? 0);
  const before = await reads();
  const [x, y, z] = await Promise.all([cold.read(2), cold.read(2), cold.read(2, true)]);
  t.same(x, piece(2));
  t.equal(x, y, 'one buffer');
  t.equal(x, z);
  t.equal((await reads()) - before, 1, 'one disk read');
  await cold.read(2);
  t.equal((await reads()) - before, 1, 'then it is in memory');
});

t.test('local reads do not count as a use; consumed pieces leave memory first', async (t) => {
  const { torrent, piece } = smallTorrent(3);
  // Memory for two pieces.
  const opened = await openStore(t, torrent, piece, []);
  const memory = new PieceMemory(2 * pieceLength);
  const store = new PieceStore(torrent, opened.file, memory, opened.metrics);
  await store.store(0, piece(0));
  await store.store(1, piece(1));
  store.consumed(1);
  await store.store(2, piece(2));
  const key = (i: number) => `${torrent.infoHash}:${i}`;
  t.ok(memory.peek(key(0)), 'piece 0 stays (nobody is done with it)');
  t.notOk(memory.peek(key(1)), 'piece 1, consumed, left first');
  t.ok(memory.peek(key(2)));
});
