import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import Wire from 'bittorrent-protocol';
import type { Logger } from '../core/log.js';
import type { AgentMetrics } from './metrics.js';
import { Peer, connectWire, standardBlock } from './peer.js';
import { PeerWire } from './peer-wire.js';
import type { PieceFile } from './piece-file.js';
import type { PieceMemory } from './piece-memory.js';
import { pieceMatches, pieceSize, type Torrent } from './torrent.js';
import { AnnounceFailure, announce } from './tracker-client.js';

// One torrent's swarm as this agent sees it: the peers it is connected to, what it asks each for, and what it
// serves them. Downloading:
// - rarest first among the pieces a peer has (the piece under the local readers' cursor first when it lags);
// - a piece is fetched whole from one peer, so a corrupt piece names its sender, who is dropped and banned;
// - the origin's seed is asked only for pieces no other peer offers (it offers few, see server/p2p);
// - endgame: when every missing piece is in flight, slow blocks are asked of a second peer;
// - when no peer has delivered anything for `stallMs`, pieces come from the origin's web seed (HTTP range)
//   until peers deliver again.
// Uploading: a few unchoke slots, rotated, for every interested peer; pieces served from memory or disk.

/** Largest block served to a standard client (128 KiB is the usual cap); Berth peers may ask for whole pieces. */
const maxBlock = 128 * 1024;
/**
 * Bytes requested and not yet received, per peer: ~512 KiB keeps a loopback or LAN pipe busy, and at least two
 * blocks, so that a peer sending whole pieces has the next request before it finishes the current one.
 */
const pipelineBytes = 512 * 1024;
const requestTimeoutMs = 10_000;
/**
 * Upload slots beyond the connection count: agents cooperate (no tit-for-tat to enforce), so every interested
 * peer is served; a peer left choked behind a few slots waits for rotations while the swarm moves on. Only
 * peers other than Berth agents and origins (standard clients) share a few slots, rotated.
 */
const foreignSlots = 4;
const rotateMs = 5000;
/** Connect and handshake; generous, a busy peer may take a while to answer (a refused connect fails at once). */
const connectTimeoutMs = 10_000;
/** Pieces fetched from the web seed at once while the swarm is stalled. */
const webSeedParallel = 2;

interface ActivePiece {
  index: number;
  size: number;
  /** Fixed when the piece starts, by its first peer: the block grid every request for it follows. */
  blockSize: number;
  /** The piece's bytes: its only block as received, or blocks copied in (allocated with the first). */
  buf: Buffer | undefined;
  blocks: number;
  /** Per block: 1 once received. */
  done: Uint8Array;
  /** Per block: requests outstanding. */
  pending: Uint8Array;
  received: number;
  owner: Peer | undefined;
  contributors: Set<Peer>;
  startedAt: number;
}

export interface SwarmOptions {
  torrent: Torrent;
  file: PieceFile;
  memory: PieceMemory;
  peerId: Buffer;
  /** Our peer port, announced to the tracker. */
  port: number;
  ip?: string;
  idc: string;
  maxPeers: number;
  stallMs: number;
  metrics: AgentMetrics;
  log: Logger;
  /** The torrent fetched again from the origin, for fresh announce and web-seed URLs (their signatures expire). */
  renew?: () => Promise<Torrent | undefined>;
}

export class Swarm extends EventEmitter {
  readonly torrent: Torrent;
  private readonly peers = new Map<string, Peer>();
  private readonly connecting = new Set<string>();
  private readonly banned = new Set<string>();
  private readonly knownAddrs = new Map<string, number>();
  private readonly avail: Uint16Array;
  /** Availability among peers other than the origin's seed. */
  private readonly availPeers: Uint16Array;
  private readonly active = new Map<number, ActivePiece>();
  private readonly reading = new Map<number, Promise<Buffer>>();
  /** Verified pieces being written. */
  private readonly accepting = new Set<number>();
  private readonly timer: NodeJS.Timeout;
  private announceTimer: NodeJS.Timeout | undefined;
  private nextAnnounceAt = 0;
  private announcing = false;
  private minInterval = 2;
  private interval = 30;
  /**
   * How long the swarm has given us nothing while nobody could (no peer that unchokes us holds a piece we lack),
   * counted in healthy time: each tick adds at most half a second, so a process starved of CPU does not mistake
   * its own slowness for a stalled swarm.
   */
  private stallClockMs = 0;
  private lastTickAt = Date.now();
  /** Some peer unchokes us and holds a piece we lack (recomputed every second). */
  private usefulUnchoked = false;
  private lastRotateAt = Date.now();
  private lastRepairAt = Date.now();
  private quietAnnounces = 0;
  private lastStarveAnnounceAt = Date.now();
  private stallLogged = false;
  private starving = false;
  /** Addresses of banned peers (the tracker's, for those we called) not yet reported to the tracker. */
  private unreported: string[] = [];
  private webSeedBusy = 0;
  private webSeedUrl: string | undefined;
  private announceUrl: string | undefined;
  private renewing: Promise<void> | undefined;
  private uploaded = 0;
  private downloaded = 0;
  private closed = false;
  private completedAnnounced = false;

  constructor(private readonly o: SwarmOptions) {
    super();
    this.torrent = o.torrent;
    this.avail = new Uint16Array(o.torrent.pieceCount);
    this.availPeers = new Uint16Array(o.torrent.pieceCount);
    this.webSeedUrl = o.torrent.webSeeds[0];
    this.announceUrl = o.torrent.announce;
    this.completedAnnounced = this.complete;
    this.timer = setInterval(() => this.tick(), 250);
    this.timer.unref();
  }

  /** What the swarm is doing, for logs when something is stuck. */
  describe(): Record<string, unknown> {
    return {
      have: this.have.count,
      pieces: this.torrent.pieceCount,
      cursor: this.cursor,
      active: [...this.active.values()].map((a) => ({ i: a.index, got: a.received, of: a.blocks, owner: a.owner === webSeedOwner ? 'webseed' : a.owner?.addr, pending: a.pending.reduce((x, y) => x + y, 0) })),
      peers: [...this.peers.values()].map((p) => ({ addr: p.addr, origin: p.isOrigin, has: p.has.count, choking: p.wire.peerChoking, interested: p.wire.amInterested, inflight: p.inflight.size })),
      webSeedBusy: this.webSeedBusy,
      stalledMs: this.stallClockMs,
    };
  }

  get complete(): boolean {
    return this.o.file.have.complete;
  }

  get have() {
    return this.o.file.have;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  /** Bytes still missing. */
  get left(): number {
    let left = 0;
    for (let i = 0; i < this.torrent.pieceCount; i++) if (!this.have.has(i)) left += pieceSize(this.torrent, i);
    return left;
  }

  start(): void {
    this.scheduleAnnounce(0, this.complete ? undefined : 'started');
  }

  /** Neither verified nor being stored. */
  private missing(i: number): boolean {
    return !this.have.has(i) && !this.accepting.has(i);
  }

  /** The lowest piece not yet verified (where in-order readers wait). */
  get cursor(): number {
    for (let i = 0; i < this.torrent.pieceCount; i++) if (!this.have.has(i)) return i;
    return this.torrent.pieceCount;
  }

  /**
   * A verified piece, from memory or disk. `local`: for the blob's own readers (client streams, the digest), who
   * take pieces in order and say when they are done with one (consumed); a peer's request counts as a use.
   */
  async readPiece(index: number, local = false): Promise<Buffer> {
    const key = this.memoryKey(index);
    const hit = local ? this.o.memory.peek(key) : this.o.memory.get(key);
    if (hit) return hit;
    // A peer asks for a piece block by block: one disk read serves them all.
    let pending = this.reading.get(index);
    if (!pending) {
      this.o.metrics.pieceDiskReads.inc();
      pending = this.o.file.read(index).then((data) => {
        this.o.memory.set(key, data);
        return data;
      });
      pending.finally(() => this.reading.delete(index)).catch(() => undefined);
      this.reading.set(index, pending);
    }
    return pending;
  }

  /** The blob's local readers are done with this piece: it is the first to leave piece memory. */
  consumed(index: number): void {
    this.o.memory.consume(this.memoryKey(index));
  }

  private memoryKey(index: number): string {
    return `${this.torrent.infoHash}:${index}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (this.announceTimer) clearTimeout(this.announceTimer);
    for (const p of this.peers.values()) p.destroy();
    this.peers.clear();
    await this.o.file.close();
    if (this.announceUrl) await announce(this.announceUrl, this.announceParams('stopped')).catch(() => undefined);
  }

  // --- peers ---

  /** An incoming connection whose handshake named this torrent. */
  addIncoming(wire: Wire, socket: Socket): void {
    if (this.closed || this.peers.size >= this.o.maxPeers + 10) {
      socket.destroy();
      return;
    }
    wire.handshake(this.torrent.infoHashBytes, this.o.peerId, { fast: true });
    this.setUp(wire, socket, `${socket.remoteAddress}:${socket.remotePort}`);
  }

  private connectTo(ip: string, port: number): void {
    const addr = `${ip}:${port}`;
    if (this.closed || this.connecting.has(addr) || this.banned.has(addr) || this.peers.size + this.connecting.size >= this.o.maxPeers) return;
    for (const p of this.peers.values()) if (p.addr === addr) return;
    const lastTry = this.knownAddrs.get(addr) ?? 0;
    if (Date.now() - lastTry < 5000) return;
    this.knownAddrs.set(addr, Date.now());
    this.connecting.add(addr);
    const socket = connect({ host: ip, port });
    const wire = new PeerWire('tcpOutgoing');
    let handshook = false;
    connectWire(socket, wire, () => {
      this.connecting.delete(addr);
    });
    socket.setTimeout(connectTimeoutMs, () => {
      if (!handshook) socket.destroy();
    });
    socket.once('connect', () => wire.handshake(this.torrent.infoHashBytes, this.o.peerId, { fast: true }));
    wire.once('handshake', (infoHash: string) => {
      handshook = true;
      socket.setTimeout(0);
      this.connecting.delete(addr);
      if (infoHash !== this.torrent.infoHash) return socket.destroy();
      this.setUp(wire, socket, addr, true);
    });
  }

  private setUp(wire: Wire, socket: Socket, addr: string, outgoing = false): void {
    const peer = new Peer(wire, socket, addr, this.torrent.pieceCount);
    peer.outgoing = outgoing;
    if (peer.idHex === this.o.peerId.toString('hex') || this.banned.has(peer.idHex) || this.banned.has(addr) || this.peers.has(peer.idHex) || this.closed) {
      peer.destroy();
      return;
    }
    this.peers.set(peer.idHex, peer);
    wire.setKeepAlive(true);
    // Dead peers are found by TCP keep-alive (an idle timer re-armed on every read and write costs CPU).
    socket.setTimeout(0);
    socket.setKeepAlive(true, 60_000);
    // Bitfield only after the other side's handshake (some clients, aria2 among them, drop us otherwise).
    if (this.have.count > 0) wire.bitfield(this.have.bits);
    else if (wire.hasFast) wire.haveNone();

    const learn = (i: number) => {
      if (i >= this.torrent.pieceCount || !peer.has.add(i)) return;
      this.avail[i]!++;
      if (!peer.isOrigin) this.availPeers[i]!++;
      if (this.missing(i) && !wire.amInterested) wire.interested();
    };
    for (let i = 0; i < this.torrent.pieceCount; i++) if (wire.peerPieces.get(i)) learn(i);
    wire.on('bitfield', () => {
      for (let i = 0; i < this.torrent.pieceCount; i++) if (wire.peerPieces.get(i)) learn(i);
      this.fill(peer);
    });
    wire.on('have-all', () => {
      for (let i = 0; i < this.torrent.pieceCount; i++) learn(i);
      this.fill(peer);
    });
    wire.on('have', (i: number) => {
      learn(i);
      // Most HAVEs name a piece we already hold: only one we lack can give the peer something new to do.
      if (i < this.torrent.pieceCount && this.missing(i)) this.fill(peer);
    });
    wire.on('unchoke', () => this.fill(peer));
    wire.on('choke', () => this.releaseRequests(peer));
    wire.on('interested', () => {
      peer.interestedAt = Date.now();
      this.rechoke();
    });
    wire.on('uninterested', () => {
      if (!wire.amChoking) wire.choke();
      this.rechoke();
    });
    wire.on('request', (index: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void) =>
      this.upload(peer, index, offset, length, respond),
    );
    wire.on('close', () => this.drop(peer));
    socket.on('close', () => this.drop(peer));
    this.rechoke();
  }

  private drop(peer: Peer): void {
    if (this.peers.get(peer.idHex) !== peer) return;
    this.peers.delete(peer.idHex);
    peer.destroy();
    for (let i = 0; i < this.torrent.pieceCount; i++) {
      if (!peer.has.has(i)) continue;
      this.avail[i]!--;
      if (!peer.isOrigin) this.availPeers[i]!--;
    }
    this.releaseRequests(peer);
    for (const ap of this.active.values()) if (ap.owner === peer) ap.owner = undefined;
    this.rechoke();
    for (const p of this.peers.values()) this.fill(p);
    if (!this.complete && this.peers.size < this.o.maxPeers / 2) this.scheduleAnnounce(this.minInterval * 1000);
  }

  private ban(peer: Peer, why: string): void {
    this.o.log.warn({ peer: peer.addr, id: peer.idHex.slice(0, 16), infoHash: this.torrent.infoHash, why }, 'p2p: dropping and banning peer');
    this.banned.add(peer.idHex);
    this.banned.add(peer.addr);
    this.o.metrics.peersBanned.inc();
    this.drop(peer);
    // Tell the tracker now, so nobody else is sent to it.
    if (peer.outgoing) this.unreported.push(peer.addr);
    this.scheduleAnnounce(0, undefined, true);
  }

  // --- downloading ---

  private fill(peer: Peer): void {
    if (this.closed || peer.closed || this.complete || peer.wire.peerChoking) return;
    peer.batch();
    let bytes = 0;
    for (const r of peer.inflight.values()) bytes += r.length;
    const target = Math.max(pipelineBytes, 2 * Math.min(peer.blockLimit, this.torrent.pieceLength));
    while (bytes < target) {
      const next = this.nextBlock(peer);
      if (!next) break;
      bytes += this.request(peer, next.ap, next.block);
    }
  }

  private nextBlock(peer: Peer): { ap: ActivePiece; block: number } | undefined {
    // 1. Continue a piece this peer owns; adopt one whose owner went away.
    for (const ap of this.active.values()) {
      if (ap.owner !== undefined && ap.owner !== peer) continue;
      if (!peer.has.has(ap.index) || !this.missing(ap.index) || !this.fits(peer, ap)) continue;
      if (peer.isOrigin && this.availPeers[ap.index]! > 0) continue;
      const b = freeBlock(ap);
      if (b !== undefined) {
        ap.owner = peer;
        return { ap, block: b };
      }
    }
    // 2. A new piece.
    const index = this.pick(peer);
    if (index !== undefined) {
      const size = pieceSize(this.torrent, index);
      const grid = Math.min(peer.blockLimit, size);
      const blocks = Math.ceil(size / grid);
      const ap: ActivePiece = {
        index,
        size,
        blockSize: grid,
        buf: undefined,
        blocks,
        done: new Uint8Array(blocks),
        pending: new Uint8Array(blocks),
        received: 0,
        owner: peer,
        contributors: new Set(),
        startedAt: Date.now(),
      };
      this.active.set(index, ap);
      return { ap, block: 0 };
    }
    // 3. Endgame: every missing piece this peer has is in flight elsewhere; help with the oldest.
    if (peer.isOrigin) return undefined;
    let oldest: ActivePiece | undefined;
    for (const ap of this.active.values()) {
      if (!peer.has.has(ap.index) || ap.owner === peer || ap.owner === webSeedOwner || !this.fits(peer, ap)) continue;
      if (Date.now() - ap.startedAt < 1000) continue;
      if (!oldest || ap.startedAt < oldest.startedAt) oldest = ap;
    }
    if (!oldest) return undefined;
    for (let b = 0; b < oldest.blocks; b++) {
      if (oldest.done[b] || peer.inflight.has(`${oldest.index}:${b}`) || oldest.pending[b]! > 1) continue;
      return { ap: oldest, block: b };
    }
    return undefined;
  }

  /** Whether `peer` may be asked for blocks of `ap`'s grid (only Berth peers take blocks above 16 KiB). */
  private fits(peer: Peer, ap: ActivePiece): boolean {
    return ap.blockSize <= peer.blockLimit;
  }

  /** Rarest first among the pieces `peer` can give; the readers' next piece first when it lags behind. */
  private pick(peer: Peer): number | undefined {
    const n = this.torrent.pieceCount;
    const cursor = this.cursor;
    if (cursor < n && this.have.count >= cursor + 4 && this.missing(cursor) && !this.active.has(cursor) && peer.has.has(cursor) && !(peer.isOrigin && this.availPeers[cursor]! > 0)) {
      return cursor;
    }
    let best: number | undefined;
    let bestAvail = Infinity;
    const start = Math.floor(Math.random() * n);
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (!this.missing(i) || this.active.has(i) || !peer.has.has(i)) continue;
      if (peer.isOrigin && this.availPeers[i]! > 0) continue;
      const a = this.avail[i]!;
      if (a < bestAvail) {
        best = i;
        bestAvail = a;
        if (a <= 1) break;
      }
    }
    return best;
  }

  /** Asks `peer` for one block; returns its length. */
  private request(peer: Peer, ap: ActivePiece, block: number): number {
    const key = `${ap.index}:${block}`;
    const offset = block * ap.blockSize;
    const length = Math.min(ap.blockSize, ap.size - offset);
    ap.pending[block]!++;
    peer.inflight.set(key, { piece: ap.index, block, length, at: Date.now() });
    peer.wire.request(ap.index, offset, length, (err, data) => {
      if (!peer.inflight.delete(key)) return;
      ap.pending[block] = Math.max(0, ap.pending[block]! - 1);
      if (err || !data) {
        if (!peer.closed) this.fill(peer);
        return;
      }
      this.onBlock(peer, ap, block, data);
    });
    return length;
  }

  private onBlock(peer: Peer, ap: ActivePiece, block: number, data: Uint8Array): void {
    this.downloaded += data.length;
    this.o.metrics.bytesFromPeers.inc(data.length);
    this.stallClockMs = 0;
    this.stallLogged = false;
    if (this.active.get(ap.index) !== ap || ap.done[block]) {
      this.fill(peer);
      return;
    }
    if (data.length !== Math.min(ap.blockSize, ap.size - block * ap.blockSize)) {
      this.ban(peer, 'sent a block of the wrong length');
      return;
    }
    // A whole-piece block is the piece: the wire assembled it in a buffer of its own, kept as is.
    if (ap.blocks === 1) ap.buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    else (ap.buf ??= Buffer.allocUnsafe(ap.size)).set(data, block * ap.blockSize);
    ap.done[block] = 1;
    ap.received++;
    ap.contributors.add(peer);
    // Others asked for the same block in the endgame: take it back.
    if (ap.pending[block]! > 0) {
      for (const other of this.peers.values()) {
        const key = `${ap.index}:${block}`;
        if (other !== peer && other.inflight.delete(key)) {
          ap.pending[block] = Math.max(0, ap.pending[block]! - 1);
          other.wire.cancel(ap.index, block * ap.blockSize, Math.min(ap.blockSize, ap.size - block * ap.blockSize));
        }
      }
    }
    if (ap.received === ap.blocks) void this.finishPiece(ap);
    this.fill(peer);
  }

  private async finishPiece(ap: ActivePiece): Promise<void> {
    this.active.delete(ap.index);
    if (!ap.buf || !pieceMatches(this.torrent, ap.index, ap.buf)) {
      this.o.metrics.corruptPieces.inc();
      const senders = [...ap.contributors];
      for (const p of senders) {
        p.strikes++;
        // One sender: it lied. Several (endgame): each gets a strike, two strikes and it is out.
        if (senders.length === 1 || p.strikes >= 2) this.ban(p, `piece ${ap.index} failed its hash check`);
      }
      for (const p of this.peers.values()) this.fill(p);
      return;
    }
    await this.accept(ap.index, ap.buf);
  }

  /** A verified piece: stored, announced to peers, handed to readers. */
  private async accept(index: number, data: Buffer): Promise<void> {
    if (!this.missing(index) || this.closed) return;
    // From here until it is on disk the piece is neither missing nor had: nobody fetches it again.
    this.accepting.add(index);
    const stale = this.active.get(index);
    if (stale) this.abandon(stale);
    this.o.memory.set(this.memoryKey(index), data);
    try {
      await this.o.file.write(index, data);
    } catch (err) {
      this.o.log.error({ err, index }, 'p2p: writing a piece failed');
      this.emit('error', err);
      return;
    } finally {
      this.accepting.delete(index);
    }
    for (const p of this.peers.values()) {
      // A peer that holds the piece has no use for the news (HAVE suppression); the origin's seed does, it
      // learns from our HAVEs that the piece it offered us arrived.
      if (p.has.has(index) && !p.isOrigin) continue;
      p.batch();
      p.wire.have(index);
    }
    this.emit('piece', index);
    if (this.complete) this.onComplete();
  }

  private abandon(ap: ActivePiece): void {
    this.active.delete(ap.index);
    for (const p of this.peers.values()) {
      for (const [key, r] of p.inflight) {
        if (r.piece !== ap.index) continue;
        p.inflight.delete(key);
        p.wire.cancel(ap.index, r.block * ap.blockSize, Math.min(ap.blockSize, ap.size - r.block * ap.blockSize));
      }
    }
  }

  private onComplete(): void {
    for (const ap of [...this.active.values()]) this.abandon(ap);
    this.emit('complete');
    if (!this.completedAnnounced) {
      this.completedAnnounced = true;
      this.scheduleAnnounce(0, 'completed');
    }
    // Seeds have nothing to say to each other.
    for (const p of this.peers.values()) if (p.has.complete || p.isOrigin) p.destroy();
  }

  /** Requests of a peer that choked us or left go back to the pool. */
  private releaseRequests(peer: Peer): void {
    for (const [key, r] of peer.inflight) {
      peer.inflight.delete(key);
      const ap = this.active.get(r.piece);
      if (ap) ap.pending[r.block] = Math.max(0, ap.pending[r.block]! - 1);
    }
    for (const ap of this.active.values()) if (ap.owner === peer) ap.owner = undefined;
    for (const p of this.peers.values()) if (p !== peer) this.fill(p);
  }

  // --- web seed fallback ---

  private async fromWebSeed(): Promise<void> {
    const url = this.webSeedUrl;
    if (!url || this.complete) return;
    // The readers' next piece first; else any missing piece nobody is fetching; else the oldest in flight.
    let index: number | undefined;
    const n = this.torrent.pieceCount;
    for (let i = this.cursor; i < n && index === undefined; i++) if (this.missing(i) && !this.active.has(i)) index = i;
    if (index === undefined) {
      let oldest: ActivePiece | undefined;
      for (const ap of this.active.values()) {
        if (ap.owner === webSeedOwner || !this.missing(ap.index)) continue;
        if (!oldest || ap.startedAt < oldest.startedAt) oldest = ap;
      }
      index = oldest?.index;
    }
    if (index === undefined) return;
    const start = index * this.torrent.pieceLength;
    const size = pieceSize(this.torrent, index);
    const placeholder: ActivePiece = {
      index,
      size,
      blockSize: standardBlock,
      buf: undefined,
      blocks: 0,
      done: new Uint8Array(0),
      pending: new Uint8Array(0),
      received: 0,
      owner: undefined,
      contributors: new Set(),
      startedAt: Date.now(),
    };
    const claimed = !this.active.has(index);
    // Mark it taken so peers do not start it too (a piece already in flight keeps its peer as a race).
    if (claimed) this.active.set(index, { ...placeholder, owner: webSeedOwner });
    this.webSeedBusy++;
    try {
      const r = await fetch(url, { headers: { Range: `bytes=${start}-${start + size - 1}` }, signal: AbortSignal.timeout(30_000) });
      if (r.status === 403 || r.status === 401) {
        await r.body?.cancel();
        this.o.log.warn({ status: r.status }, 'p2p: web seed refused; fetching the torrent again');
        await this.renew();
        return;
      }
      if (r.status !== 206 && r.status !== 200) throw new Error(`web seed answered ${r.status}`);
      let data = Buffer.from(await r.arrayBuffer());
      if (r.status === 200) data = data.subarray(start, start + size);
      this.o.metrics.bytesFromOrigin.inc({ path: 'webseed' }, data.length);
      this.downloaded += data.length;
      if (claimed && this.active.get(index)?.owner === webSeedOwner) this.active.delete(index);
      if (data.length !== size || !pieceMatches(this.torrent, index, data)) throw new Error(`web seed piece ${index} failed its hash check`);
      this.o.log.debug({ index }, 'p2p: piece from the web seed');
      await this.accept(index, data);
    } catch (err) {
      this.o.log.warn({ err, index }, 'p2p: web seed fetch failed');
    } finally {
      this.webSeedBusy--;
      if (claimed && this.active.get(index)?.owner === webSeedOwner) this.active.delete(index);
    }
    // Still stalled: the next piece right away (the tick only starts the fallback).
    if (this.stalled() && this.webSeedUrl && this.webSeedBusy < webSeedParallel) void this.fromWebSeed();
  }

  private stalled(): boolean {
    // Joining a large swarm takes a moment (peers are found, pieces have to reach someone first): the first
    // piece data gets twice the time.
    const patience = this.downloaded === 0 ? 2 * this.o.stallMs : this.o.stallMs;
    return !this.closed && !this.complete && this.stallClockMs > patience;
  }

  // --- uploading ---

  private upload(peer: Peer, index: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void): void {
    if (index >= this.torrent.pieceCount || !this.have.has(index) || length === 0 || length > Math.max(maxBlock, peer.blockLimit) || offset + length > pieceSize(this.torrent, index)) {
      respond(new Error('cannot serve that'));
      return;
    }
    this.readPiece(index).then(
      (data) => {
        if (peer.closed) return;
        this.uploaded += length;
        this.o.metrics.bytesToPeers.inc(length);
        peer.batch();
        respond(null, data.subarray(offset, offset + length));
      },
      (err: unknown) => {
        this.o.log.warn({ err, index }, 'p2p: reading a piece for a peer failed');
        respond(err as Error);
      },
    );
  }

  /**
   * Unchokes every interested Berth peer; standard clients share `foreignSlots`, the longest-served rotated out
   * when others wait.
   */
  private rechoke(): void {
    for (const p of this.peers.values()) {
      if (!p.isBerth || !p.wire.peerInterested || !p.wire.amChoking) continue;
      p.wire.unchoke();
      p.unchokedAt = Date.now();
    }
    const interested = [...this.peers.values()].filter((p) => p.wire.peerInterested && !p.isBerth);
    const unchoked = interested.filter((p) => !p.wire.amChoking);
    const waiting = interested.filter((p) => p.wire.amChoking).sort((a, b) => a.interestedAt - b.interestedAt);
    const slots = foreignSlots;
    if (waiting.length > 0 && unchoked.length >= slots && Date.now() - this.lastRotateAt > rotateMs) {
      this.lastRotateAt = Date.now();
      const longest = unchoked.sort((a, b) => a.unchokedAt - b.unchokedAt)[0]!;
      longest.wire.choke();
      longest.interestedAt = Date.now();
      unchoked.splice(unchoked.indexOf(longest), 1);
    }
    for (const p of waiting) {
      if (unchoked.length >= slots) break;
      p.wire.unchoke();
      p.unchokedAt = Date.now();
      unchoked.push(p);
    }
  }

  /**
   * Recounts what event bookkeeping could let drift: outstanding requests per block (from the peers' own lists),
   * pieces in flight that are already had, and interest (we want something from a peer iff it has a piece we
   * lack — HAVE messages only ever add, so losing interest is decided here).
   */
  private repair(now: number): void {
    this.lastRepairAt = now;
    for (const ap of [...this.active.values()]) {
      if (ap.owner === webSeedOwner) continue;
      if (!this.missing(ap.index)) {
        this.abandon(ap);
        continue;
      }
      ap.pending.fill(0);
      if (ap.owner && (ap.owner.closed || !this.peers.has(ap.owner.idHex))) ap.owner = undefined;
    }
    for (const p of this.peers.values()) {
      for (const r of p.inflight.values()) {
        const ap = this.active.get(r.piece);
        if (ap && ap.owner !== webSeedOwner) ap.pending[r.block]!++;
      }
    }
    if (this.complete) return;
    this.usefulUnchoked = false;
    let usefulPeers = 0;
    const useless: Peer[] = [];
    for (const p of this.peers.values()) {
      let wanted = false;
      for (let i = 0; i < this.torrent.pieceCount && !wanted; i++) wanted = p.has.has(i) && this.missing(i);
      if (wanted && !p.wire.amInterested) p.wire.interested();
      else if (!wanted && p.wire.amInterested) p.wire.uninterested();
      if (wanted && !p.wire.peerChoking) this.usefulUnchoked = true;
      if (wanted) usefulPeers++;
      else if (!p.isOrigin && !p.wire.peerInterested) useless.push(p);
    }
    // Starving: none of our peers has a piece we lack (a neighbourhood of latecomers). Ask the tracker, which
    // hands out the most complete peers first, and when full make room by dropping peers that neither give nor
    // take.
    this.starving = usefulPeers === 0;
    if (this.starving && now - this.lastStarveAnnounceAt > 3000) {
      this.lastStarveAnnounceAt = now;
      if (this.peers.size + this.connecting.size >= this.o.maxPeers) for (const p of useless.slice(0, 5)) this.drop(p);
      this.scheduleAnnounce(0, undefined, true);
    }
  }

  private tick(): void {
    if (this.closed) return;
    const now = Date.now();
    const elapsed = Math.min(now - this.lastTickAt, 500);
    this.lastTickAt = now;
    // A peer that unchokes us and has what we need is progress in waiting (a hung one times out and is dropped).
    if (!this.usefulUnchoked && !this.complete) this.stallClockMs += elapsed;
    for (const peer of [...this.peers.values()]) {
      for (const [key, r] of peer.inflight) {
        if (now - r.at < requestTimeoutMs) continue;
        peer.inflight.delete(key);
        const ap = this.active.get(r.piece);
        if (ap) {
          ap.pending[r.block] = Math.max(0, ap.pending[r.block]! - 1);
          if (ap.owner === peer) ap.owner = undefined;
          peer.wire.cancel(r.piece, r.block * ap.blockSize, Math.min(ap.blockSize, ap.size - r.block * ap.blockSize));
        }
        if (++peer.timeouts >= 3) {
          this.o.log.info({ peer: peer.addr }, 'p2p: dropping a peer that keeps timing out');
          this.drop(peer);
          break;
        }
      }
    }
    if (now - this.lastRotateAt > rotateMs) this.rechoke();
    if (now - this.lastRepairAt >= 1000) this.repair(now);
    if (!this.complete) {
      for (const p of this.peers.values()) this.fill(p);
      if (this.stalled() && !this.stallLogged) {
        this.stallLogged = true;
        this.o.log.info({ infoHash: this.torrent.infoHash, swarm: this.describe() }, 'p2p: swarm stalled, fetching from the web seed');
      }
      while (this.stalled() && this.webSeedBusy < webSeedParallel && this.webSeedUrl) {
        const busy = this.webSeedBusy;
        void this.fromWebSeed();
        if (this.webSeedBusy === busy) break; // nothing left to fetch from it
      }
    }
  }

  // --- tracker ---

  private announceParams(event?: 'started' | 'completed' | 'stopped') {
    return {
      infoHash: this.torrent.infoHashBytes,
      peerId: this.o.peerId,
      port: this.o.port,
      uploaded: this.uploaded,
      downloaded: this.downloaded,
      left: this.left,
      event,
      numwant: Math.max(this.o.maxPeers, 10),
      idc: this.o.idc,
      ip: this.o.ip,
      corrupt: this.unreported.splice(0),
      starving: this.starving,
    };
  }

  /** Fresh URLs from the origin (one renewal at a time). */
  private renew(): Promise<void> {
    this.renewing ??= (async () => {
      const fresh = await this.o.renew?.().catch(() => undefined);
      if (fresh && fresh.infoHash === this.torrent.infoHash) {
        this.webSeedUrl = fresh.webSeeds[0];
        this.announceUrl = fresh.announce;
      }
    })().finally(() => {
      setTimeout(() => (this.renewing = undefined), 5000).unref();
    });
    return this.renewing;
  }

  private scheduleAnnounce(delayMs: number, event?: 'started' | 'completed', urgent = false): void {
    if (this.closed || !this.announceUrl) return;
    const at = Date.now() + delayMs;
    if (this.announceTimer && !event && !urgent && this.nextAnnounceAt <= at) return;
    if (this.announceTimer) clearTimeout(this.announceTimer);
    this.nextAnnounceAt = at;
    this.announceTimer = setTimeout(() => void this.doAnnounce(event), delayMs);
    this.announceTimer.unref();
  }

  private async doAnnounce(event?: 'started' | 'completed'): Promise<void> {
    this.announceTimer = undefined;
    if (this.closed || !this.announceUrl) return;
    if (this.announcing) {
      this.scheduleAnnounce(500, event);
      return;
    }
    this.announcing = true;
    let next = this.interval * 1000;
    try {
      const reply = await announce(this.announceUrl, this.announceParams(event));
      this.interval = reply.interval;
      this.minInterval = Math.max(1, reply.minInterval);
      const fresh = reply.peers.filter((p) => !this.knownAddrs.has(`${p.ip}:${p.port}`)).length;
      for (const p of reply.peers) this.connectTo(p.ip, p.port);
      // While downloading, announce often enough that the tracker's view of who holds how much stays fresh
      // (it hands out the most complete peers first).
      next = this.complete ? reply.interval * 1000 : Math.min(reply.interval, Math.max(5, reply.minInterval)) * 1000;
      // Short of peers while downloading: ask again soon (others are joining at the same moment), less often
      // while the answers bring nobody new.
      this.quietAnnounces = fresh > 0 ? 0 : this.quietAnnounces + 1;
      if (!this.complete && this.peers.size + this.connecting.size < this.o.maxPeers / 2) {
        next = Math.min(next, this.minInterval * 1000 * 2 ** Math.min(this.quietAnnounces, 4));
      }
    } catch (err) {
      if (err instanceof AnnounceFailure) {
        this.o.log.warn({ err: err.message, infoHash: this.torrent.infoHash }, 'p2p: announce refused');
        if (/ticket/.test(err.message)) await this.renew();
      } else this.o.log.warn({ err }, 'p2p: announce failed');
      next = this.complete ? this.interval * 1000 : 3000;
    } finally {
      this.announcing = false;
    }
    this.scheduleAnnounce(next);
  }
}

/** The owner marker of a piece the web seed is fetching. */
const webSeedOwner = { closed: false } as unknown as Peer;

function freeBlock(ap: ActivePiece): number | undefined {
  for (let b = 0; b < ap.blocks; b++) if (!ap.done[b] && ap.pending[b] === 0) return b;
  return undefined;
}
