import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import Wire from 'bittorrent-protocol';
import type { Counter } from 'prom-client';
import type { Logger } from '../../core/log.js';
import { originPeerIdPrefix, parseBerthPeerId, takesWholePieces } from '../../core/p2p-peer-id.js';
import type { LinkedBlobs } from '../../registry/linked-blobs.js';
import type { Throttle } from '../../core/throttle.js';
import type { BlobTorrent, TorrentCatalog } from './metainfo.js';

// The origin's own BitTorrent seed, shaped so the origin sends about one copy of a blob whatever the swarm's size:
// - super-seeding (BEP 16's idea): it shows a peer only the pieces it wants that peer to spread (HAVE messages),
//   and only pieces no connected peer holds and no other peer is being sent — a piece goes out once while the
//   swarm has it, and again only when everyone who had it left;
// - a bounded number of upload slots: peers take turns (a few pieces each, then the next waiting peer), which
//   scatters distinct pieces over many peers so they can trade at once;
// - every byte waits for the shared egress schedule and is counted in berth_blob_bytes_served_total.

/** Pieces offered to a peer at once (one downloading, one queued so the pipe never drains). */
const offerDepth = 2;
/** Pieces a peer gets per turn before the next waiting peer's turn. */
const turnPieces = 4;
/**
 * A turn ends early when the peer asks for nothing and nothing is being sent to it for this long. Bytes still
 * leaving for the peer count as activity: on a thin link its pieces take seconds, and ending the turn then would
 * offer those same pieces to the next peer — a second copy out of the origin.
 */
const idleTurnMs = 3000;
/**
 * A piece handed to the socket whole is still on its way while the kernel's send buffer drains — on a 2 Mbit/s
 * link a 256 KiB piece among eight in flight takes 8 s, with no byte left in Node's queue. Until the peer says it
 * has it (or this long has passed), the turn is not idle: ending it then offered those pieces again, and 100
 * nodes at 2 Mbit/s took 1.31 copies from the origin.
 */
const inKernelMs = 120_000;
/** Largest block a peer may request (BEP 3 peers use 16 KiB; 128 KiB is the common hard limit). */
const maxBlock = 128 * 1024;
/** Pieces kept in memory per torrent while their blocks are sent. */
const cachedPieces = 8;

class SeedPeer {
  readonly has: Uint8Array;
  count = 0;
  /** Pieces this peer is currently meant to fetch from the origin. */
  readonly offered = new Set<number>();
  /** Pieces ever announced to this peer (HAVE cannot be taken back). */
  readonly advertised = new Set<number>();
  unchoked = false;
  /** The largest block this peer may ask for: a whole piece for agents that take them (one message per piece). */
  readonly maxBlock: number;
  turnServed = 0;
  lastActivity = 0;
  queued = false;
  /** Pieces whose last block went to the socket, not yet announced back by the peer: index → when. */
  readonly sent = new Map<number, number>();
  /** The socket's bytesWritten when last looked at. */
  private written = 0;

  constructor(
    readonly wire: Wire,
    readonly socket: Socket,
    pieceCount: number,
    pieceLength: number,
  ) {
    this.has = new Uint8Array(pieceCount);
    const berth = parseBerthPeerId(wire.peerIdBuffer);
    this.maxBlock = berth?.role === 'agent' && takesWholePieces(berth) ? Math.max(pieceLength, maxBlock) : maxBlock;
  }

  /** Has been asked or sent anything within `idleMs`; bytes leaving the socket since the last look count. */
  active(now: number, idleMs: number): boolean {
    if (this.socket.bytesWritten !== this.written || this.socket.writableLength > 0) this.lastActivity = now;
    this.written = this.socket.bytesWritten;
    for (const [index, at] of this.sent) {
      if (now - at <= inKernelMs) return true;
      this.sent.delete(index);
    }
    return now - this.lastActivity <= idleMs;
  }
}

class SeedTorrent {
  readonly pieceCount: number;
  readonly peers = new Set<SeedPeer>();
  /** How many connected peers hold each piece. */
  readonly avail: Uint16Array;
  /** Piece → the peer the origin is sending it to. */
  readonly inflight = new Map<number, SeedPeer>();
  readonly queue: SeedPeer[] = [];
  readonly unchoked = new Set<SeedPeer>();
  readonly cache = new Map<number, Promise<Buffer>>();
  /** Complete peers in the swarm (from the tracker): while there are any, the origin offers nothing. */
  seeders = 0;
  seedersCheckedAt = 0;
  seedersChecking = false;

  constructor(readonly torrent: BlobTorrent) {
    this.pieceCount = Math.ceil(torrent.size / torrent.pieceLength) || 1;
    this.avail = new Uint16Array(this.pieceCount);
  }

  pieceSize(index: number): number {
    return index === this.pieceCount - 1 ? this.torrent.size - index * this.torrent.pieceLength : this.torrent.pieceLength;
  }
}

export interface OriginSeedOptions {
  catalog: TorrentCatalog;
  /** The registry's blobs, read by digest: the torrent was handed out to a caller with pull rights. */
  blobs: LinkedBlobs;
  egress: Throttle;
  /** berth_blob_bytes_served_total and the seed's own counter. */
  counters: Counter[];
  log: Logger;
  slots: number;
  /** How many peers hold the whole blob right now (the tracker's view, beyond this seed's connections). */
  seeders?: (infoHash: string) => Promise<number>;
}

export class OriginSeed {
  readonly peerId: Buffer;
  private readonly server: Server;
  private readonly torrents = new Map<string, SeedTorrent>();
  private readonly sockets = new Set<Socket>();
  private readonly timer: NodeJS.Timeout;
  private boundPort = 0;

  constructor(private readonly opts: OriginSeedOptions) {
    this.peerId = Buffer.concat([Buffer.from(originPeerIdPrefix), randomBytes(12)]);
    this.server = createServer((socket) => this.onConnection(socket));
    this.timer = setInterval(() => this.endIdleTurns(), 500);
    this.timer.unref();
  }

  get port(): number {
    return this.boundPort;
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    this.boundPort = (this.server.address() as { port: number }).port;
    return this.boundPort;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Swarm figures for the tracker and tests. */
  stats(infoHash: string): { peers: number; unchoked: number; queued: number } | undefined {
    const t = this.torrents.get(infoHash);
    return t && { peers: t.peers.size, unchoked: t.unchoked.size, queued: t.queue.length };
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const wire = new Wire('tcpIncoming');
    socket.pipe(wire as unknown as NodeJS.WritableStream);
    wire.pipe(socket);
    const drop = () => {
      socket.destroy();
      wire.destroy();
    };
    socket.on('error', drop);
    socket.on('close', () => {
      this.sockets.delete(socket);
      wire.destroy();
    });
    wire.on('error', drop);
    wire.on('close', drop);
    socket.setTimeout(30_000, drop);
    wire.once('handshake', (infoHash: string) => {
      this.opts.catalog.byInfoHash(infoHash).then(
        (torrent) => {
          if (!torrent || wire.destroyed) return drop();
          this.admit(torrent, wire, socket);
        },
        (err: unknown) => {
          this.opts.log.warn({ err }, 'p2p seed: metainfo lookup failed');
          drop();
        },
      );
    });
  }

  private admit(torrent: BlobTorrent, wire: Wire, socket: Socket): void {
    let t = this.torrents.get(torrent.infoHash);
    if (!t) {
      t = new SeedTorrent(torrent);
      this.torrents.set(torrent.infoHash, t);
    }
    const swarm = t;
    const peer = new SeedPeer(wire, socket, t.pieceCount, torrent.pieceLength);
    peer.lastActivity = Date.now();
    t.peers.add(peer);
    // Idle peers stay connected (they report what they hold); dead ones are found by TCP keep-alive.
    socket.setTimeout(0);
    socket.setKeepAlive(true, 60_000);
    wire.setKeepAlive(true);
    wire.handshake(torrent.infoHash, this.peerId, { fast: true });
    // Super-seeding: start by holding nothing; offers arrive as HAVEs.
    if (wire.hasFast) wire.haveNone();

    const learn = (index: number) => {
      if (index >= swarm.pieceCount || peer.has[index]) return;
      peer.has[index] = 1;
      peer.count++;
      peer.sent.delete(index);
      swarm.avail[index]!++;
      const holder = swarm.inflight.get(index);
      if (holder === peer) {
        swarm.inflight.delete(index);
        peer.offered.delete(index);
        peer.turnServed++;
        peer.lastActivity = Date.now();
        // The turn ends once its pieces are through; a piece half-sent when a turn ends would be wasted.
        if (peer.unchoked) this.offer(swarm, peer);
      }
    };
    // The peer may have sent its bitfield before we knew the torrent; the wire kept it.
    for (let i = 0; i < t.pieceCount; i++) if (wire.peerPieces.get(i)) learn(i);
    wire.on('bitfield', () => {
      for (let i = 0; i < swarm.pieceCount; i++) if (wire.peerPieces.get(i)) learn(i);
      this.schedule(swarm);
    });
    wire.on('have-all', () => {
      for (let i = 0; i < swarm.pieceCount; i++) learn(i);
      this.schedule(swarm);
    });
    wire.on('have', (index: number) => {
      learn(index);
      this.schedule(swarm);
    });
    wire.on('request', (index: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void) => {
      this.serve(swarm, peer, index, offset, length, respond);
    });
    wire.on('close', () => this.leave(swarm, peer));
    this.enqueue(swarm, peer);
    this.schedule(swarm);
  }

  private leave(t: SeedTorrent, peer: SeedPeer): void {
    if (!t.peers.delete(peer)) return;
    for (let i = 0; i < t.pieceCount; i++) if (peer.has[i]) t.avail[i]!--;
    for (const p of peer.offered) if (t.inflight.get(p) === peer) t.inflight.delete(p);
    t.unchoked.delete(peer);
    const q = t.queue.indexOf(peer);
    if (q >= 0) t.queue.splice(q, 1);
    if (t.peers.size === 0) {
      this.torrents.delete(t.torrent.infoHash);
      return;
    }
    this.schedule(t);
  }

  private enqueue(t: SeedTorrent, peer: SeedPeer): void {
    if (peer.queued || peer.count === t.pieceCount) return;
    peer.queued = true;
    t.queue.push(peer);
  }

  /** Fills free upload slots with waiting peers that have something to fetch from the origin. */
  private schedule(t: SeedTorrent): void {
    // The tracker's count of complete peers is refreshed every 2 s; scheduling resumes with the answer.
    if (this.opts.seeders && Date.now() - t.seedersCheckedAt > 2000) {
      if (t.seedersChecking) return;
      t.seedersChecking = true;
      this.opts
        .seeders(t.torrent.infoHash)
        .then(
          (n) => {
            if (n !== t.seeders) this.opts.log.debug({ infoHash: t.torrent.infoHash, seeders: n }, 'p2p seed: complete peers in the swarm');
            t.seeders = n;
          },
          () => undefined,
        )
        .finally(() => {
          t.seedersChecking = false;
          t.seedersCheckedAt = Date.now();
          this.schedule(t);
        });
      return;
    }
    let scanned = 0;
    while (t.unchoked.size < this.opts.slots && scanned < t.queue.length) {
      const peer = t.queue.shift()!;
      peer.queued = false;
      if (!t.peers.has(peer) || peer.count === t.pieceCount) continue;
      if (this.pickOffer(t, peer) === undefined) {
        // Nothing only the origin can give it right now; it waits at the back.
        this.enqueue(t, peer);
        scanned++;
        continue;
      }
      scanned = 0;
      this.opts.log.debug({ peer: peer.wire.peerId?.slice(0, 16), queued: t.queue.length }, 'p2p seed: turn starts');
      peer.unchoked = true;
      peer.turnServed = 0;
      peer.lastActivity = Date.now();
      t.unchoked.add(peer);
      this.offer(t, peer);
      if (peer.unchoked) peer.wire.unchoke();
    }
  }

  /**
   * A piece no connected peer holds, nobody is being sent, and this peer lacks. The lowest such: peers still get
   * distinct pieces (that is what the in-flight rule is for), and the swarm as a whole fills from the front,
   * where the nodes' clients are reading.
   */
  private pickOffer(t: SeedTorrent, peer: SeedPeer): number | undefined {
    if (t.seeders > 0) return undefined;
    for (let i = 0; i < t.pieceCount; i++) if (!peer.has[i] && t.avail[i] === 0 && !t.inflight.has(i)) return i;
    return undefined;
  }

  private offer(t: SeedTorrent, peer: SeedPeer): void {
    while (peer.offered.size < offerDepth && peer.turnServed + peer.offered.size < turnPieces) {
      const i = this.pickOffer(t, peer);
      if (i === undefined) break;
      peer.offered.add(i);
      t.inflight.set(i, peer);
      if (!peer.advertised.has(i)) {
        peer.advertised.add(i);
        peer.wire.have(i);
      }
    }
    if (peer.offered.size === 0) this.endTurn(t, peer);
  }

  private endTurn(t: SeedTorrent, peer: SeedPeer): void {
    if (!peer.unchoked) return;
    peer.unchoked = false;
    t.unchoked.delete(peer);
    for (const p of peer.offered) if (t.inflight.get(p) === peer) t.inflight.delete(p);
    peer.offered.clear();
    peer.wire.choke();
    this.enqueue(t, peer);
    this.schedule(t);
  }

  private endIdleTurns(): void {
    const now = Date.now();
    for (const t of this.torrents.values()) {

      for (const peer of [...t.unchoked]) if (!peer.active(now, idleTurnMs)) this.endTurn(t, peer);
      this.schedule(t);
    }
  }

  private serve(t: SeedTorrent, peer: SeedPeer, index: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void): void {
    const refuse = (why: string) => respond(new Error(why));
    if (index >= t.pieceCount || length === 0 || length > peer.maxBlock || offset + length > t.pieceSize(index)) return refuse('bad request');
    // Only what this peer was offered, or what nobody else in the swarm can give it.
    if (!peer.offered.has(index)) {
      if (t.avail[index] !== 0 || t.inflight.has(index)) return refuse('fetch it from a peer');
      peer.offered.add(index);
      t.inflight.set(index, peer);
    }
    peer.lastActivity = Date.now();
    this.piece(t, index).then(
      async (buf) => {
        await this.opts.egress.take(length);
        if (peer.wire.destroyed || !peer.unchoked) return refuse('choked');
        for (const c of this.opts.counters) c.inc(length);
        peer.lastActivity = Date.now();
        if (offset + length === t.pieceSize(index)) peer.sent.set(index, peer.lastActivity);
        respond(null, buf.subarray(offset, offset + length));
      },
      (err: unknown) => {
        this.opts.log.warn({ err, digest: t.torrent.digest, index }, 'p2p seed: piece read failed');
        refuse('read failed');
      },
    );
  }

  private piece(t: SeedTorrent, index: number): Promise<Buffer> {
    let p = t.cache.get(index);
    if (p) {
      // Most recently used last.
      t.cache.delete(index);
      t.cache.set(index, p);
      return p;
    }
    const start = index * t.torrent.pieceLength;
    p = (async () => {
      const chunks: Buffer[] = [];
      for await (const c of await this.opts.blobs.open(t.torrent.digest, { start, end: start + t.pieceSize(index) - 1 })) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    })();
    p.catch(() => t.cache.delete(index));
    t.cache.set(index, p);
    while (t.cache.size > cachedPieces) t.cache.delete(t.cache.keys().next().value!);
    return p;
  }
}
