import { connect, type Socket } from 'node:net';
import type Wire from 'bittorrent-protocol';
import { Peer, connectWire } from './peer.js';
import { PeerWire } from './peer-wire.js';
import type { Torrent } from './torrent.js';

// The peers of one torrent's swarm: connections made to the addresses the tracker gives and accepted from
// others, each admitted once per peer id; and the peers banned for corrupt data, never admitted again.

/** Connect and handshake; generous, a busy peer may take a while to answer (a refused connect fails at once). */
const connectTimeoutMs = 10_000;
/** An address is called again at most this often. */
const redialMs = 5000;
/** Incoming connections accepted beyond maxPeers: others' calls are how a swarm of latecomers meets. */
const incomingExtra = 10;

export interface PeerSetOptions {
  torrent: Torrent;
  peerId: Buffer;
  maxPeers: number;
  /** A peer is in the set, its handshake done: the swarm says what it has and starts following the peer. */
  admitted: (peer: Peer) => void;
}

export class PeerSet {
  private readonly peers = new Map<string, Peer>();
  private readonly connecting = new Set<string>();
  /** Peer ids and addresses. */
  private readonly banned = new Set<string>();
  /** Address → when we last called it. */
  private readonly dialed = new Map<string, number>();
  /** Addresses of banned peers (the tracker's, for those we called) not yet reported to the tracker. */
  private unreported: string[] = [];
  private closed = false;
  /** What became of the connections, for the swarm's stall log. */
  readonly counts: Record<string, number> = { dialed: 0, dialFailed: 0, dialTimedOut: 0, admitted: 0, incoming: 0, incomingRefused: 0, duplicates: 0 };

  constructor(private readonly o: PeerSetOptions) {}

  get size(): number {
    return this.peers.size;
  }

  values(): IterableIterator<Peer> {
    return this.peers.values();
  }

  /** Connected or being connected: what maxPeers bounds. */
  get full(): boolean {
    return this.peers.size + this.connecting.size >= this.o.maxPeers;
  }

  /** Connected or being connected, fewer than half of maxPeers. */
  get short(): boolean {
    return this.peers.size + this.connecting.size < this.o.maxPeers / 2;
  }

  /** We have called this address before (a tracker answer naming only such addresses brought nobody new). */
  dialedBefore(addr: string): boolean {
    return this.dialed.has(addr);
  }

  /** Calls a peer the tracker named, unless it is known, banned, called recently, or the set is full. */
  connectTo(ip: string, port: number): void {
    const addr = `${ip}:${port}`;
    if (this.closed || this.connecting.has(addr) || this.banned.has(addr) || this.full) return;
    for (const p of this.peers.values()) if (p.addr === addr) return;
    const lastTry = this.dialed.get(addr) ?? 0;
    if (Date.now() - lastTry < redialMs) return;
    this.dialed.set(addr, Date.now());
    this.connecting.add(addr);
    const socket = connect({ host: ip, port });
    const wire = new PeerWire('tcpOutgoing');
    let handshook = false;
    this.counts.dialed++;
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (!handshook) this.counts[`dial:${e.code ?? 'error'}`] = (this.counts[`dial:${e.code ?? 'error'}`] ?? 0) + 1;
    });
    connectWire(socket, wire, () => {
      if (!handshook) this.counts.dialFailed++;
      this.connecting.delete(addr);
    });
    socket.setTimeout(connectTimeoutMs, () => {
      if (!handshook) {
        this.counts.dialTimedOut++;
        socket.destroy();
      }
    });
    socket.once('connect', () => wire.handshake(this.o.torrent.infoHashBytes, this.o.peerId, { fast: true }));
    wire.once('handshake', (infoHash: string) => {
      handshook = true;
      socket.setTimeout(0);
      this.connecting.delete(addr);
      if (infoHash !== this.o.torrent.infoHash) return socket.destroy();
      this.admit(wire, socket, addr, true);
    });
  }

  /** An incoming connection whose handshake named this torrent: we answer the handshake and admit it. */
  addIncoming(wire: Wire, socket: Socket): void {
    this.counts.incoming++;
    if (this.closed || this.peers.size >= this.o.maxPeers + incomingExtra) {
      this.counts.incomingRefused++;
      socket.destroy();
      return;
    }
    wire.handshake(this.o.torrent.infoHashBytes, this.o.peerId, { fast: true });
    this.admit(wire, socket, `${socket.remoteAddress}:${socket.remotePort}`);
  }

  private admit(wire: Wire, socket: Socket, addr: string, outgoing = false): void {
    const peer = new Peer(wire, socket, addr, this.o.torrent.pieceCount);
    peer.outgoing = outgoing;
    if (peer.idHex === this.o.peerId.toString('hex') || this.banned.has(peer.idHex) || this.banned.has(addr) || this.peers.has(peer.idHex) || this.closed) {
      if (this.peers.has(peer.idHex)) this.counts.duplicates++;
      peer.destroy();
      return;
    }
    this.counts.admitted++;
    this.peers.set(peer.idHex, peer);
    wire.setKeepAlive(true);
    // Dead peers are found by TCP keep-alive (an idle timer re-armed on every read and write costs CPU).
    socket.setTimeout(0);
    socket.setKeepAlive(true, 60_000);
    this.o.admitted(peer);
  }

  /** Takes a peer out of the set and closes its connection; false when it was not in the set (already gone). */
  remove(peer: Peer): boolean {
    if (this.peers.get(peer.idHex) !== peer) return false;
    this.peers.delete(peer.idHex);
    peer.destroy();
    return true;
  }

  /** Never admits this peer again (by id or address); its address is reported to the tracker if it gave it. */
  ban(peer: Peer): void {
    this.banned.add(peer.idHex);
    this.banned.add(peer.addr);
    if (peer.outgoing) this.unreported.push(peer.addr);
  }

  /** Banned addresses not yet reported, now reported. */
  takeUnreported(): string[] {
    return this.unreported.splice(0);
  }

  close(): void {
    this.closed = true;
    for (const p of this.peers.values()) p.destroy();
    this.peers.clear();
  }
}
