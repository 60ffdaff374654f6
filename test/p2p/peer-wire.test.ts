// The agent's wire (PeerWire) reassembles BitTorrent messages however the bytes are cut by the socket: a whole
// piece sent as one block arrives as one buffer, byte for byte, and a peer announcing an oversized message is cut off.
import { randomBytes } from 'node:crypto';
import Wire from 'bittorrent-protocol';
import t from 'tap';
import { PeerWire, maxMessageBytes } from '../../p2p-agent/peer-wire.js';

const infoHash = randomBytes(20);
const peerId = Buffer.from('-BA0200-abcdefghijkl');

/** The bytes the library's wire sends for the given calls. */
async function sent(calls: (w: Wire) => void): Promise<Buffer> {
  const w = new Wire('tcpOutgoing');
  const out: Buffer[] = [];
  w.on('data', (c: Uint8Array) => out.push(Buffer.from(c)));
  calls(w);
  await new Promise((resolve) => setTimeout(resolve, 20));
  w.destroy();
  return Buffer.concat(out);
}

/** Writes `bytes` into a fresh PeerWire in chunks of the sizes `cut` gives, recording the events it emits. */
async function received(bytes: Buffer, cut: () => number): Promise<{ wire: PeerWire; events: unknown[] }> {
  const wire = new PeerWire('tcpIncoming');
  const events: unknown[] = [];
  wire.on('handshake', (hash: string, id: string) => events.push(['handshake', hash, id]));
  wire.on('bitfield', () => events.push(['bitfield', [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => wire.peerPieces.get(i))]));
  wire.on('unchoke', () => events.push(['unchoke']));
  wire.on('have', (i: number) => events.push(['have', i]));
  wire.on('keep-alive', () => events.push(['keep-alive']));
  wire.on('piece', (index: number, offset: number, block: Uint8Array) => events.push(['piece', index, offset, Buffer.from(block).toString('base64')]));
  wire.on('cancel', (index: number, offset: number, length: number) => events.push(['cancel', index, offset, length]));
  wire.on('error', () => undefined);
  for (let at = 0; at < bytes.length && !wire.destroyed; ) {
    const n = Math.min(bytes.length - at, cut());
    wire.write(bytes.subarray(at, at + n));
    at += n;
    // Let the stream hand each chunk over on its own, as socket reads would.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { wire, events };
}

t.test('messages cut at any byte boundary arrive whole, in order, byte for byte', async (t) => {
  const piece = randomBytes(512 * 1024);
  const block = randomBytes(16 * 1024);
  const bits = Buffer.from([0b10100000, 0b10000000]);
  const bytes = await sent((w) => {
    w.handshake(infoHash, peerId, { fast: true });
    w.bitfield(bits);
    w.unchoke();
    w.have(5);
    w.keepAlive();
    w.piece(1, 0, piece);
    w.piece(2, 16384, block);
    w.cancel(3, 0, 16384);
    w.have(7);
  });
  const expected = [
    ['handshake', infoHash.toString('hex'), peerId.toString('hex')],
    ['bitfield', [true, false, true, false, false, false, false, false, true]],
    ['unchoke'],
    ['have', 5],
    ['keep-alive'],
    ['piece', 1, 0, piece.toString('base64')],
    ['piece', 2, 16384, block.toString('base64')],
    ['cancel', 3, 0, 16384],
    ['have', 7],
  ];
  // A small deterministic generator: the same cuts on every run.
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const cuts: [string, () => number][] = [
    ['all at once', () => bytes.length],
    ['cuts of 1 byte, 40 KB or 80 KB', () => 1 + Math.floor(random() * 3) * 40_000],
    ['64 KiB socket reads', () => 65536],
    ['random cuts', () => 1 + Math.floor(random() * 70_000)],
  ];
  for (const [name, cut] of cuts) {
    // A copy each time: the library records HAVEs in the bitfield message's own bytes.
    const { wire, events } = await received(Buffer.from(bytes), cut);
    t.same(events, expected, name);
    t.notOk(wire.destroyed, `${name}: the wire stays open`);
    wire.destroy();
  }
});

t.test('a peer announcing a message larger than the largest whole piece is cut off', async (t) => {
  const handshake = await sent((w) => w.handshake(infoHash, peerId, { fast: true }));
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(maxMessageBytes + 1);
  const { wire, events } = await received(Buffer.concat([handshake, huge, randomBytes(1000)]), () => 100);
  t.equal(events.length, 1, 'the handshake arrived');
  t.ok(wire.destroyed, 'then the wire was destroyed');
});
