import type { OriginTransport } from './origin-transport.js';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type Wire from 'bittorrent-protocol';
import type { Logger } from '../core/log.js';
import { Announcer } from './announcer.js';
import { Choker } from './choking.js';
import type { AgentMetrics } from './metrics.js';
import type { Peer } from './peer.js';
import { PeerSet } from './peers.js';
import { PiecesInFlight, type ActivePiece } from './piece-assembly.js';
import type { PieceFile } from './piece-file.js';
import type { PieceMemory } from './piece-memory.js';
import { PiecePicker } from './piece-picker.js';
import { PieceStore } from './piece-store.js';
import { Seeder, type Respond } from './seeding.js';
import type { Torrent } from './torrent.js';
import { StallClock, WebSeed } from './web-seed.js';

// One torrent's swarm as this agent sees it, composed of: the peers it is connected to (peers.ts), the pieces
// it is fetching and the requests out for them (piece-assembly.ts), which block to ask whom for (piece-picker.ts),
// the verified pieces (piece-store.ts), whom we upload to and what we send (choking.ts, seeding.ts), the origin's
// web seed as the fallback (web-seed.ts) and the tracker's schedule (announcer.ts). Here: how a peer's messages
// drive them. A piece is fetched whole from one peer, so a corrupt piece names its sender, who is dropped and
// banned; when no peer has delivered anything for `stallMs`, pieces come from the web seed until peers deliver.

/**
 * Bytes requested and not yet received, per peer: ~512 KiB keeps a loopback or LAN pipe busy, and at least two
 * blocks, so that a peer sending whole pieces has the next request before it finishes the current one — but no
 * more than about a second of what the peer actually delivers (and at least one block). On a thin link a peer
 * serves many at once: a deep queue there only claims pieces that then wait behind each other for seconds,
 * while other peers could have sent them.
 */
const pipelineBytes = 512 * 1024;
const pipelineSeconds = 1;
/** How long a peer may send no piece bytes while we wait on a request before the request is withdrawn. */
const requestTimeoutMs = 10_000;
/**
 * Bytes requested from agents at once, all peers together: at least `windowPieces` pieces, and about
 * `windowSeconds` of what they deliver together. On a thin NIC one piece asked of each of 20 peers makes 20 flows
 * share the node's downlink — every piece then takes 20 piece-times to arrive and can be passed on only then.
 * The origin's seed is outside the window: it hands out turns of its own.
 */
const windowPieces = 4;
const windowSeconds = 2;

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
  /** Bound what is requested from other agents at once (`windowPieces`, `windowSeconds`). */
  window: boolean;
  stallMs: number;
  metrics: AgentMetrics;
  log: Logger;
  /** The torrent fetched again from the origin, for fresh announce and web-seed URLs (their signatures expire). */
  renew?: () => Promise<Torrent | undefined>;
  /** How the origin (tracker, web seed) is reached: its TLS trust. */
  fetch?: OriginTransport['fetch'];
}

export class Swarm extends EventEmitter {
  readonly torrent: Torrent;
  private readonly store: PieceStore;
  private readonly inFlight = new PiecesInFlight();
  private readonly picker: PiecePicker;
  private readonly peers: PeerSet;
  private readonly choker = new Choker();
  private readonly seeder: Seeder;
  private readonly webSeed: WebSeed;
  private readonly announcer: Announcer;
  private readonly timer: NodeJS.Timeout;
  private readonly stall: StallClock;
  private lastRepairAt = Date.now();
  private lastStarveAnnounceAt = Date.now();
  /** None of our peers holds a piece we lack. */
  private starving = false;
  /** A peer announced a piece it did not have before (since the last tick): the swarm is moving. */
  private swarmGrew = false;
  private renewing: Promise<void> | undefined;
  private downloaded = 0;
  private closed = false;

  constructor(private readonly o: SwarmOptions) {
    super();
    this.torrent = o.torrent;
    this.store = new PieceStore(o.torrent, o.file, o.memory, o.metrics);
    this.stall = new StallClock(o.stallMs);
    this.seeder = new Seeder(o.torrent, this.store, o.metrics, o.log);
    this.picker = new PiecePicker(o.torrent, this.store, this.inFlight);
    this.peers = new PeerSet({ torrent: o.torrent, peerId: o.peerId, maxPeers: o.maxPeers, admitted: (peer) => this.follow(peer) });
    this.webSeed = new WebSeed({
      torrent: o.torrent,
      url: o.torrent.webSeeds[0],
      inFlight: this.inFlight,
      picker: this.picker,
      log: o.log,
      stalled: () => this.stalled(),
      received: (n) => {
        o.metrics.bytesFromOrigin.inc({ path: 'webseed' }, n);
        this.downloaded += n;
      },
      accept: (index, data) => this.accept(index, data),
      renew: () => this.renew(),
      ...(o.fetch && { fetch: o.fetch }),
    });
    this.announcer = new Announcer({
      torrent: o.torrent,
      url: o.torrent.announce,
      peerId: o.peerId,
      port: o.port,
      ip: o.ip,
      idc: o.idc,
      maxPeers: o.maxPeers,
      log: o.log,
      report: () => ({ uploaded: this.seeder.uploaded, downloaded: this.downloaded, left: this.store.left, corrupt: this.peers.takeUnreported(), starving: this.starving }),
      complete: () => this.complete,
      short: () => this.peers.short,
      dialedBefore: (addr) => this.peers.dialedBefore(addr),
      connect: (ip, port) => this.peers.connectTo(ip, port),
      answered: () => this.stall.joined(),
      renew: () => this.renew(),
      ...(o.fetch && { fetch: o.fetch }),
    });
    this.timer = setInterval(() => this.tick(), 250);
    this.timer.unref();
  }

  /** What the swarm is doing, for logs when something is stuck. */
  describe(): Record<string, unknown> {
    return {
      have: this.have.count,
      pieces: this.torrent.pieceCount,
      cursor: this.store.cursor,
      active: this.inFlight.describe(),
      peers: [...this.peers.values()].map((p) => ({ addr: p.addr, origin: p.isOrigin, has: p.has.count, choking: p.wire.peerChoking, interested: p.wire.amInterested, inflight: p.inflight.size })),
      connections: this.peers.counts,
      webSeedBusy: this.webSeed.busy,
      stalledMs: this.stall.ms,
    };
  }

  get complete(): boolean {
    return this.store.complete;
  }

  get have() {
    return this.store.have;
  }

  /** What became of this swarm's connections (dialed, failed, admitted, duplicates…). */
  get connections(): Record<string, number> {
    return this.peers.counts;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  start(): void {
    this.announcer.schedule(0, this.complete ? undefined : 'started');
  }

  /** A verified piece, from memory or disk; `local`: for the blob's own readers (see PieceStore.read). */
  readPiece(index: number, local = false): Promise<Buffer> {
    return this.store.read(index, local);
  }

  /** The blob's local readers are done with this piece: it is the first to leave piece memory. */
  consumed(index: number): void {
    this.store.consumed(index);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.announcer.stop();
    this.peers.close();
    await this.o.file.close();
    await this.announcer.farewell();
  }

  // --- peers ---

  /** An incoming connection whose handshake named this torrent. */
  addIncoming(wire: Wire, socket: Socket): void {
    this.peers.addIncoming(wire, socket);
  }

  /** A peer just admitted: what we have goes first, then its messages drive the download and the upload. */
  private follow(peer: Peer): void {
    const wire = peer.wire;
    const n = this.torrent.pieceCount;
    // Bitfield only after the other side's handshake (some clients, aria2 among them, drop us otherwise).
    if (this.have.count > 0) wire.bitfield(this.have.bits);
    else if (wire.hasFast) wire.haveNone();

    const learn = (i: number) => {
      if (!this.picker.learned(peer, i)) return;
      if (this.store.missing(i) && !wire.amInterested) wire.interested();
    };
    for (let i = 0; i < n; i++) if (wire.peerPieces.get(i)) learn(i);
    wire.on('bitfield', () => {
      for (let i = 0; i < n; i++) if (wire.peerPieces.get(i)) learn(i);
      this.fill(peer);
    });
    wire.on('have-all', () => {
      for (let i = 0; i < n; i++) learn(i);
      this.fill(peer);
    });
    wire.on('have', (i: number) => {
      if (i < n && !peer.has.has(i)) this.swarmGrew = true;
      learn(i);
      // Most HAVEs name a piece we already hold: only one we lack can give the peer something new to do.
      if (i < n && this.store.missing(i)) this.fill(peer);
    });
    wire.on('unchoke', () => this.fill(peer));
    // With the fast extension a choke leaves our requests standing: the peer rejects those it will not answer
    // (each reject frees its block), and a piece it is sending still arrives. Dropping them here threw that
    // piece away on arrival — the origin's seed chokes us at the end of every turn (server/p2p/origin-seed.ts).
    wire.on('choke', () => {
      if (!wire.hasFast) this.releaseRequests(peer);
    });
    wire.on('interested', () => {
      peer.interestedAt = Date.now();
      this.choker.rechoke(this.peers.values());
    });
    wire.on('uninterested', () => {
      if (!wire.amChoking) wire.choke();
      this.choker.rechoke(this.peers.values());
    });
    wire.on('request', (index: number, offset: number, length: number, respond: Respond) => this.seeder.serve(peer, index, offset, length, respond));
    wire.on('close', () => this.drop(peer));
    peer.socket.on('close', () => this.drop(peer));
    this.choker.rechoke(this.peers.values());
  }

  private drop(peer: Peer): void {
    if (!this.peers.remove(peer)) return;
    this.picker.forget(peer);
    this.releaseRequests(peer);
    this.choker.rechoke(this.peers.values());
    this.fillAll();
    if (!this.complete && this.peers.size < this.o.maxPeers / 2) this.announcer.soon();
  }

  private ban(peer: Peer, why: string): void {
    this.o.log.warn({ peer: peer.addr, id: peer.idHex.slice(0, 16), infoHash: this.torrent.infoHash, why }, 'p2p: dropping and banning peer');
    this.peers.ban(peer);
    this.o.metrics.peersBanned.inc();
    this.drop(peer);
    // Tell the tracker now, so nobody else is sent to it.
    this.announcer.schedule(0, undefined, true);
  }

  /** Requests of a peer that choked us or left go back to the pool, for the others. */
  private releaseRequests(peer: Peer): void {
    this.inFlight.release(peer);
    this.fillAll(peer);
  }

  // --- downloading ---

  /** Fills every peer's pipeline, the fastest first (the window then goes to those that deliver). */
  private fillAll(except?: Peer): void {
    const peers = [...this.peers.values()];
    if (this.o.window) peers.sort((a, b) => b.rate - a.rate);
    for (const p of peers) if (p !== except) this.fill(p);
  }

  /** Room left in the window of requests to agents (Infinity when it is off). */
  private windowRoom(): number {
    if (!this.o.window) return Infinity;
    let inflight = 0;
    let rate = 0;
    for (const p of this.peers.values()) {
      if (p.isOrigin) continue;
      rate += p.rate;
      for (const r of p.inflight.values()) inflight += r.length;
    }
    return Math.max(windowPieces * this.torrent.pieceLength, rate * windowSeconds) - inflight;
  }

  /** Keeps `peer`'s request pipeline full. */
  private fill(peer: Peer): void {
    if (this.closed || peer.closed || this.complete || peer.wire.peerChoking) return;
    peer.batch();
    let bytes = 0;
    for (const r of peer.inflight.values()) bytes += r.length;
    const block = Math.min(peer.blockLimit, this.torrent.pieceLength);
    const target = Math.min(Math.max(pipelineBytes, 2 * block), Math.max(block, peer.rate * pipelineSeconds));
    let room = peer.isOrigin ? Infinity : this.windowRoom();
    while (bytes < target) {
      // A full window starts nothing new; the endgame's second asks for a slow piece still go out.
      const next = room > 0 ? this.picker.next(peer) : this.picker.endgame(peer, Date.now());
      if (!next) break;
      const asked = this.request(peer, next.ap, next.block);
      bytes += asked;
      room -= asked;
    }
  }

  /** Asks `peer` for one block; returns its length. */
  private request(peer: Peer, ap: ActivePiece, block: number): number {
    const length = this.inFlight.asked(peer, ap, block);
    peer.wire.request(ap.index, ap.blockOffset(block), length, (err, data) => {
      if (!this.inFlight.answered(peer, ap, block)) return;
      if (err || !data) {
        // Rejected (a choke at the end of a turn, or a piece it lacks): the piece is free for someone else.
        this.inFlight.rejected(peer, ap);
        this.fillAll();
        return;
      }
      this.onBlock(peer, ap, block, data);
    });
    return length;
  }

  private onBlock(peer: Peer, ap: ActivePiece, block: number, data: Uint8Array): void {
    this.downloaded += data.length;
    // The origin's seed is the origin, not a peer: the metrics say where the bytes really came from.
    if (peer.isOrigin) this.o.metrics.bytesFromOrigin.inc({ path: 'seed' }, data.length);
    else this.o.metrics.bytesFromPeers.inc(data.length);
    this.stall.progress();
    if (!this.inFlight.current(ap) || ap.done[block]) {
      this.fill(peer);
      return;
    }
    if (!ap.take(block, data, peer)) {
      this.ban(peer, 'sent a block of the wrong length');
      return;
    }
    // Others asked for the same block in the endgame: take it back.
    this.inFlight.withdrawOthers(ap, block, peer, this.peers.values());
    if (ap.whole) void this.finishPiece(ap);
    this.fill(peer);
  }

  private async finishPiece(ap: ActivePiece): Promise<void> {
    this.inFlight.delete(ap.index);
    this.picker.finished(ap);
    if (!ap.verified(this.torrent)) {
      this.o.metrics.corruptPieces.inc();
      const senders = [...ap.contributors];
      for (const p of senders) {
        p.strikes++;
        // One sender: it lied. Several (endgame): each gets a strike, two strikes and it is out.
        if (senders.length === 1 || p.strikes >= 2) this.ban(p, `piece ${ap.index} failed its hash check`);
      }
      this.fillAll();
      return;
    }
    await this.accept(ap.index, ap.buf!);
  }

  /** A verified piece (from a peer or the web seed): stored, announced to peers, handed to readers. */
  private async accept(index: number, data: Buffer): Promise<void> {
    if (!this.store.missing(index) || this.closed) return;
    const stale = this.inFlight.get(index);
    if (stale) this.inFlight.abandon(stale, this.peers.values());
    try {
      await this.store.store(index, data);
    } catch (err) {
      this.o.log.error({ err, index }, 'p2p: writing a piece failed');
      this.emit('error', err);
      return;
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

  private onComplete(): void {
    for (const ap of [...this.inFlight.values()]) this.inFlight.abandon(ap, this.peers.values());
    this.emit('complete');
    this.announcer.completed();
    // Seeds have nothing to say to each other.
    for (const p of this.peers.values()) if (p.has.complete || p.isOrigin) p.destroy();
  }

  /** Stalled, so the web seed should help (later while the origin's seed is connected: StallClock.stalled). */
  private stalled(): boolean {
    if (this.closed || this.complete) return false;
    let originSeed = false;
    for (const p of this.peers.values()) if (p.isOrigin) originSeed = true;
    return this.stall.stalled(this.downloaded > 0, originSeed);
  }

  /** Fresh URLs from the origin (one renewal at a time). */
  private renew(): Promise<void> {
    this.renewing ??= (async () => {
      const fresh = await this.o.renew?.().catch(() => undefined);
      if (fresh && fresh.infoHash === this.torrent.infoHash) {
        this.webSeed.url = fresh.webSeeds[0];
        this.announcer.url = fresh.announce;
      }
    })().finally(() => {
      setTimeout(() => (this.renewing = undefined), 5000).unref();
    });
    return this.renewing;
  }

  // --- every tick ---

  /**
   * Recounts the requests (see PiecesInFlight.recount) and interest: we want something from a peer iff it has a
   * piece we lack — HAVE messages only ever add, so losing interest is decided here.
   */
  private repair(now: number): void {
    this.lastRepairAt = now;
    this.inFlight.recount(this.peers.values(), (i) => this.store.missing(i));
    if (this.complete) return;
    let usefulPeers = 0;
    const useless: Peer[] = [];
    for (const p of this.peers.values()) {
      const wanted = this.picker.wants(p);
      if (wanted && !p.wire.amInterested) p.wire.interested();
      else if (!wanted && p.wire.amInterested) p.wire.uninterested();
      if (wanted) usefulPeers++;
      else if (!p.isOrigin && !p.wire.peerInterested) useless.push(p);
    }
    // Starving: none of our peers has a piece we lack (a neighbourhood of latecomers). Ask the tracker, which
    // hands out the most complete peers first, and when full make room by dropping peers that neither give nor
    // take.
    this.starving = usefulPeers === 0;
    if (this.starving && now - this.lastStarveAnnounceAt > 3000) {
      this.lastStarveAnnounceAt = now;
      if (this.peers.full) for (const p of useless.slice(0, 5)) this.drop(p);
      this.announcer.schedule(0, undefined, true);
    }
  }

  private tick(): void {
    if (this.closed) return;
    const now = Date.now();
    // Progress is piece bytes arriving from anyone (the origin's seed included), counted as they flow, and news
    // of pieces the swarm gained: only a swarm where neither happens is stalled. A slow swarm is not — the web
    // seed's copies would come out of the same thin origin link the swarm is waiting on.
    let moved = this.swarmGrew;
    this.swarmGrew = false;
    for (const peer of this.peers.values()) if (peer.sample(now) > 0) moved = true;
    if (moved) this.stall.progress();
    this.stall.tick(now, !this.complete);
    for (const peer of [...this.peers.values()]) {
      if (this.inFlight.expire(peer, now, requestTimeoutMs)) {
        this.o.log.info({ peer: peer.addr }, 'p2p: dropping a peer that keeps timing out');
        this.drop(peer);
      }
    }
    if (this.choker.due(now)) this.choker.rechoke(this.peers.values());
    if (now - this.lastRepairAt >= 1000) this.repair(now);
    if (!this.complete) {
      this.fillAll();
      if (this.stalled() && this.stall.firstNotice()) {
        this.o.log.info({ infoHash: this.torrent.infoHash, swarm: this.describe() }, 'p2p: swarm stalled, fetching from the web seed');
      }
      this.webSeed.help();
    }
  }
}
