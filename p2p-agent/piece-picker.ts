import type { Peer } from './peer.js';
import { ActivePiece, requestKey, type PiecesInFlight } from './piece-assembly.js';
import { pieceSize, type PieceSet, type Torrent } from './torrent.js';

// Which block to ask a peer for next:
// 1. a free block of a piece this peer already fetches, or of one whose owner went away;
// 2. a new piece: the readers' next piece when the download has run ahead of them, else rarest first among the
//    pieces the peer has (ties broken from a random place, so peers do not all start on the same piece);
// 3. endgame: every missing piece is in flight, so this peer helps with the oldest one's blocks — only once it
//    has taken well over the usual time for a piece: on a thin link every piece takes seconds, and asking a
//    second peer for each (a whole piece, between Berth peers) would spend the swarm's upload twice.
// The origin's seed is asked only for pieces no other peer offers (it offers few, see server/p2p).

/** What the picker reads of the download's progress (the swarm's PieceStore). */
export interface Progress {
  readonly have: PieceSet;
  /** Neither verified nor being stored. */
  missing(index: number): boolean;
  /** The lowest piece not yet verified: where in-order readers wait. */
  readonly cursor: number;
}

/** In the endgame a piece must have been in flight this long, and `endgameSlowness` times the usual, before a second peer is asked for its blocks. */
const endgameAfterMs = 1000;
const endgameSlowness = 2;
/** How far the download may run ahead of the readers' next piece before that piece goes first. */
const cursorLead = 4;

export class PiecePicker {
  /** How long a piece fetched from a peer usually takes, ms (a moving average). */
  pieceMs = 0;
  /** How many connected peers hold each piece. */
  private readonly avail: Uint16Array;
  /** The same, among peers other than the origin's seed. */
  private readonly availPeers: Uint16Array;

  constructor(
    private readonly torrent: Torrent,
    private readonly progress: Progress,
    private readonly inFlight: PiecesInFlight,
    /** Where the rarest-first scan starts, as a fraction of the pieces (tests fix it). */
    private readonly random: () => number = Math.random,
  ) {
    this.avail = new Uint16Array(torrent.pieceCount);
    this.availPeers = new Uint16Array(torrent.pieceCount);
  }

  /** `peer` has piece `index` (bitfield, HAVE or HAVE ALL); false when already known or out of range. */
  learned(peer: Peer, index: number): boolean {
    if (index >= this.torrent.pieceCount || !peer.has.add(index)) return false;
    this.avail[index]!++;
    if (!peer.isOrigin) this.availPeers[index]!++;
    return true;
  }

  /** A piece from peers arrived whole: its time counts toward the usual. */
  finished(ap: ActivePiece, now = Date.now()): void {
    const ms = now - ap.startedAt;
    this.pieceMs = this.pieceMs === 0 ? ms : 0.8 * this.pieceMs + 0.2 * ms;
  }

  /** `peer` left: its pieces no longer count. */
  forget(peer: Peer): void {
    for (let i = 0; i < this.torrent.pieceCount; i++) {
      if (!peer.has.has(i)) continue;
      this.avail[i]!--;
      if (!peer.isOrigin) this.availPeers[i]!--;
    }
  }

  /** `peer` holds a piece we lack (we are interested in it). */
  wants(peer: Peer): boolean {
    for (let i = 0; i < this.torrent.pieceCount; i++) if (peer.has.has(i) && this.progress.missing(i)) return true;
    return false;
  }

  /** How many connected peers hold piece `index`. */
  availability(index: number): number {
    return this.avail[index]!;
  }

  /** The next block to ask `peer` for, starting a piece when needed; undefined when it has nothing for us. */
  next(peer: Peer, now = Date.now()): { ap: ActivePiece; block: number } | undefined {
    for (const ap of this.inFlight.values()) {
      if (ap.owner !== undefined && ap.owner !== peer) continue;
      if (!peer.has.has(ap.index) || !this.progress.missing(ap.index) || !ap.fits(peer)) continue;
      if (this.leftToPeers(peer, ap.index)) continue;
      const b = ap.freeBlock();
      if (b !== undefined) {
        ap.owner = peer;
        return { ap, block: b };
      }
    }
    const index = this.pick(peer);
    if (index !== undefined) {
      const size = pieceSize(this.torrent, index);
      const ap = new ActivePiece(index, size, Math.min(peer.blockLimit, size), peer);
      this.inFlight.add(ap);
      return { ap, block: 0 };
    }
    return this.endgame(peer, now);
  }

  /** The piece the web seed should fetch: the readers' next one nobody fetches, else the oldest peers fetch. */
  forWebSeed(): number | undefined {
    const n = this.torrent.pieceCount;
    for (let i = this.progress.cursor; i < n; i++) if (this.progress.missing(i) && !this.inFlight.has(i)) return i;
    let oldest: ActivePiece | undefined;
    for (const ap of this.inFlight.values()) {
      if (ap.owner?.kind === 'webseed' || !this.progress.missing(ap.index)) continue;
      if (!oldest || ap.startedAt < oldest.startedAt) oldest = ap;
    }
    return oldest?.index;
  }

  /** The origin's seed is not asked for a piece some other peer offers. */
  private leftToPeers(peer: Peer, index: number): boolean {
    return peer.isOrigin && this.availPeers[index]! > 0;
  }

  /** Rarest first among the pieces `peer` can give; the readers' next piece first when it lags behind. */
  private pick(peer: Peer): number | undefined {
    const n = this.torrent.pieceCount;
    const { cursor, have } = this.progress;
    const startable = (i: number) => this.progress.missing(i) && !this.inFlight.has(i) && peer.has.has(i) && !this.leftToPeers(peer, i);
    if (cursor < n && have.count >= cursor + cursorLead && startable(cursor)) return cursor;
    let best: number | undefined;
    let bestAvail = Infinity;
    const start = Math.floor(this.random() * n);
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (!startable(i)) continue;
      const a = this.avail[i]!;
      if (a < bestAvail) {
        best = i;
        bestAvail = a;
        if (a <= 1) break;
      }
    }
    return best;
  }

  /** Every missing piece this peer has is in flight elsewhere: a block of the oldest, asked of at most two. */
  endgame(peer: Peer, now: number): { ap: ActivePiece; block: number } | undefined {
    if (peer.isOrigin) return undefined;
    // Not the endgame while some missing piece is not being fetched at all: that one comes from someone else.
    for (let i = 0; i < this.torrent.pieceCount; i++) if (this.progress.missing(i) && !this.inFlight.has(i)) return undefined;
    const slowAfter = Math.max(endgameAfterMs, endgameSlowness * this.pieceMs);
    let oldest: ActivePiece | undefined;
    for (const ap of this.inFlight.values()) {
      if (!peer.has.has(ap.index) || ap.owner === peer || ap.owner?.kind === 'webseed' || !ap.fits(peer)) continue;
      if (now - ap.startedAt < slowAfter) continue;
      if (!oldest || ap.startedAt < oldest.startedAt) oldest = ap;
    }
    if (!oldest) return undefined;
    for (let b = 0; b < oldest.blocks; b++) {
      if (oldest.done[b] || peer.inflight.has(requestKey(oldest.index, b)) || oldest.pending[b]! > 1) continue;
      return { ap: oldest, block: b };
    }
    return undefined;
  }
}
