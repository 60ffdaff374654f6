// The peer set over real loopback TCP: a call to an address the tracker gave is admitted on both sides once per
// peer, a banned peer is never admitted again and its address is reported once, and we never admit ourselves.
import { createServer, type Server } from 'node:net';
import t from 'tap';
import { Peer, connectWire, newPeerId } from '../../p2p-agent/peer.js';
import { PeerWire } from '../../p2p-agent/peer-wire.js';
import { PeerSet } from '../../p2p-agent/peers.js';
import { smallTorrent, until } from './peer-fixtures.js';

const { torrent } = smallTorrent(4);

/** A peer set listening on loopback like an agent's peer port (handshake first, then the set takes over). */
async function node(t: { teardown(fn: () => unknown): void }, peerId = newPeerId()) {
  const admitted: Peer[] = [];
  const set: PeerSet = new PeerSet({
    torrent,
    peerId,
    maxPeers: 10,
    admitted: (peer) => {
      admitted.push(peer);
      peer.wire.on('close', () => set.remove(peer));
    },
  });
  const server: Server = createServer((socket) => {
    const wire = new PeerWire('tcpIncoming');
    connectWire(socket, wire, () => undefined);
    wire.once('handshake', () => set.addIncoming(wire, socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  t.teardown(() => {
    set.close();
    return new Promise((r) => server.close(r));
  });
  return { set, admitted, port, peerId };
}

t.test('a call is admitted on both sides, once', async (t) => {
  const a = await node(t);
  const b = await node(t);
  a.set.connectTo('127.0.0.1', b.port);
  t.ok(await until(() => a.admitted.length === 1 && b.admitted.length === 1), 'both sides admitted the other');
  const [ours, theirs] = [a.admitted[0]!, b.admitted[0]!];
  t.equal(ours.idHex, b.peerId.toString('hex'), 'our side knows their peer id');
  t.equal(theirs.idHex, a.peerId.toString('hex'));
  t.ok(ours.outgoing, 'we called');
  t.notOk(theirs.outgoing);
  t.ok(ours.isBerth && !ours.isOrigin, 'a Berth agent');
  t.ok(a.set.dialedBefore(`127.0.0.1:${b.port}`));
  a.set.connectTo('127.0.0.1', b.port);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(a.set.size, 1, 'calling the same address again makes no second connection');
  t.equal(b.set.size, 1);
});

t.test('a banned peer is dropped, never admitted again, and reported once', async (t) => {
  const a = await node(t);
  const b = await node(t);
  a.set.connectTo('127.0.0.1', b.port);
  t.ok(await until(() => a.set.size === 1 && b.set.size === 1));
  const liar = a.admitted[0]!;
  a.set.ban(liar);
  t.ok(a.set.remove(liar), 'removed');
  t.notOk(a.set.remove(liar), 'only once');
  t.ok(liar.closed);
  t.ok(await until(() => b.set.size === 0), 'the other side saw the connection close');
  t.same(a.set.takeUnreported(), [`127.0.0.1:${b.port}`], 'its address, for the tracker');
  t.same(a.set.takeUnreported(), [], 'reported once');
  // b calls a: a refuses it by peer id.
  b.set.connectTo('127.0.0.1', a.port);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(a.set.size, 0, 'the banned peer calling us is not admitted');
  t.equal(a.admitted.length, 1);
});

t.test('we never admit ourselves (the tracker hands out our own address too)', async (t) => {
  const id = newPeerId();
  const a = await node(t, id);
  const self = await node(t, id);
  a.set.connectTo('127.0.0.1', self.port);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(a.set.size, 0);
  t.equal(self.set.size, 0);
});

t.test('a full set calls nobody', async (t) => {
  const a = await node(t);
  const small = new PeerSet({ torrent, peerId: newPeerId(), maxPeers: 0, admitted: () => undefined });
  t.ok(small.full);
  small.connectTo('127.0.0.1', a.port);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(a.set.size, 0);
  t.notOk(small.dialedBefore(`127.0.0.1:${a.port}`));
});
