import type { Peer } from './peer.js';
import type { PieceSource } from './piece-source.js';
import { pieceMatches, type Torrent } from './torrent.js';

// The pieces being fetched and the block requests out for them. A piece is fetched whole from one source, its
// owner, so a corrupt piece names its sender; in the endgame other peers are asked for its slow blocks too, and
// every sender is then a suspect. A request lives in two places kept in step here: the asking peer's list
// (peer.inflight, what it owes us) and the piece's count per block (pending, how many peers were asked).

export function requestKey(piece: number, block: number): string {
  return `${piece}:${block}`;
}

export class ActivePiece {
  /** The piece's bytes: its only block as received, or blocks copied in (allocated with the first). */
  buf: Buffer | undefined;
  /** Per block: 1 once received. */
  readonly done: Uint8Array;
  /** Per block: requests outstanding. */
  readonly pending: Uint8Array;
  received = 0;
  /** The peers whose blocks are in `buf`: the suspects when it fails its hash check. */
  readonly contributors = new Set<Peer>();
  readonly startedAt = Date.now();

  constructor(
    readonly index: number,
    readonly size: number,
    /** Fixed when the piece starts, by its first source: the block grid every request for it follows. */
    readonly blockSize: number,
    public owner: PieceSource | undefined,
    /** 0 for a piece the web seed fetches whole: nothing in it to ask of peers. */
    readonly blocks = Math.ceil(size / blockSize),
  ) {
    this.done = new Uint8Array(blocks);
    this.pending = new Uint8Array(blocks);
  }

  blockOffset(block: number): number {
    return block * this.blockSize;
  }

  blockLength(block: number): number {
    return Math.min(this.blockSize, this.size - block * this.blockSize);
  }

  /** A block neither received nor asked of anyone. */
  freeBlock(): number | undefined {
    for (let b = 0; b < this.blocks; b++) if (!this.done[b] && this.pending[b] === 0) return b;
    return undefined;
  }

  /** Whether `peer` may be asked for blocks of this grid (only Berth peers take blocks above 16 KiB). */
  fits(peer: Peer): boolean {
    return this.blockSize <= peer.blockLimit;
  }

  /** Keeps a block from `from`; false when its length does not fit the grid (the sender is broken or lying). */
  take(block: number, data: Uint8Array, from: Peer): boolean {
    if (data.length !== this.blockLength(block)) return false;
    // A whole-piece block is the piece: the wire assembled it in a buffer of its own, kept as is.
    if (this.blocks === 1) this.buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    else (this.buf ??= Buffer.allocUnsafe(this.size)).set(data, block * this.blockSize);
    this.done[block] = 1;
    this.received++;
    this.contributors.add(from);
    return true;
  }

  get whole(): boolean {
    return this.blocks > 0 && this.received === this.blocks;
  }

  /** The assembled bytes match the piece's SHA-1 in the torrent. */
  verified(torrent: Torrent): boolean {
    return !!this.buf && pieceMatches(torrent, this.index, this.buf);
  }
}

export class PiecesInFlight {
  private readonly pieces = new Map<number, ActivePiece>();

  get(index: number): ActivePiece | undefined {
    return this.pieces.get(index);
  }

  has(index: number): boolean {
    return this.pieces.has(index);
  }

  values(): IterableIterator<ActivePiece> {
    return this.pieces.values();
  }

  add(ap: ActivePiece): void {
    this.pieces.set(ap.index, ap);
  }

  /** Whether `ap` is still the piece being fetched at its index (not finished, abandoned or replaced). */
  current(ap: ActivePiece): boolean {
    return this.pieces.get(ap.index) === ap;
  }

  delete(index: number): void {
    this.pieces.delete(index);
  }

  /** Records that `peer` was asked for `block` of `ap`; returns the block's length. */
  asked(peer: Peer, ap: ActivePiece, block: number, now = Date.now()): number {
    const length = ap.blockLength(block);
    ap.pending[block]!++;
    peer.inflight.set(requestKey(ap.index, block), { piece: ap.index, block, length, at: now });
    return length;
  }

  /** `peer` answered (data or error); false when the request had already been withdrawn, so the answer is void. */
  answered(peer: Peer, ap: ActivePiece, block: number): boolean {
    if (!peer.inflight.delete(requestKey(ap.index, block))) return false;
    ap.pending[block] = Math.max(0, ap.pending[block]! - 1);
    return true;
  }

  /**
   * `peer` rejected a request for `ap` (it choked us at the end of a turn, with the fast extension): once it
   * owes us nothing more of the piece, the piece is free for another peer — its owner would otherwise keep it
   * until it unchoked us again.
   */
  rejected(peer: Peer, ap: ActivePiece): void {
    if (ap.owner !== peer) return;
    for (const r of peer.inflight.values()) if (r.piece === ap.index) return;
    ap.owner = undefined;
  }

  /** A block arrived from `from`: the others asked for it in the endgame are told to forget it. */
  withdrawOthers(ap: ActivePiece, block: number, from: Peer, peers: Iterable<Peer>): void {
    if (ap.pending[block]! === 0) return;
    const key = requestKey(ap.index, block);
    for (const other of peers) {
      if (other !== from && other.inflight.delete(key)) {
        ap.pending[block] = Math.max(0, ap.pending[block]! - 1);
        other.wire.cancel(ap.index, ap.blockOffset(block), ap.blockLength(block));
      }
    }
  }

  /** Stops fetching a piece (had by other means, or the torrent is complete): every request for it is cancelled. */
  abandon(ap: ActivePiece, peers: Iterable<Peer>): void {
    this.pieces.delete(ap.index);
    for (const p of peers) {
      for (const [key, r] of p.inflight) {
        if (r.piece !== ap.index) continue;
        p.inflight.delete(key);
        p.wire.cancel(ap.index, ap.blockOffset(r.block), ap.blockLength(r.block));
      }
    }
  }

  /** A peer choked us or left: its requests go back to the pool and its pieces lose their owner. */
  release(peer: Peer): void {
    for (const [key, r] of peer.inflight) {
      peer.inflight.delete(key);
      const ap = this.pieces.get(r.piece);
      if (ap) ap.pending[r.block] = Math.max(0, ap.pending[r.block]! - 1);
    }
    for (const ap of this.pieces.values()) if (ap.owner === peer) ap.owner = undefined;
  }

  /**
   * Withdraws the requests `peer` left unanswered while it sent no piece bytes for `timeoutMs` (cancelled on the
   * wire, their pieces free to adopt). Measured in progress, not age: on a thin link a peer serving many takes
   * long over each request, and a request it is still answering must not be thrown away (its bytes would be
   * dropped on arrival and sent again by someone else). Returns true once the peer has timed out three times:
   * it is hung and should go.
   */
  expire(peer: Peer, now: number, timeoutMs: number): boolean {
    for (const [key, r] of peer.inflight) {
      if (now - Math.max(r.at, peer.dataAt) < timeoutMs) continue;
      peer.inflight.delete(key);
      const ap = this.pieces.get(r.piece);
      if (ap) {
        ap.pending[r.block] = Math.max(0, ap.pending[r.block]! - 1);
        if (ap.owner === peer) ap.owner = undefined;
        peer.wire.cancel(r.piece, ap.blockOffset(r.block), ap.blockLength(r.block));
      }
      if (++peer.timeouts >= 3) return true;
    }
    return false;
  }

  /**
   * Recounts what event bookkeeping could let drift: outstanding requests per block, from the peers' own lists;
   * owners that are gone; pieces in flight that are no longer missing (abandoned). Pieces the web seed fetches
   * have no blocks and keep their owner.
   */
  recount(peers: Iterable<Peer>, missing: (index: number) => boolean): void {
    const list = [...peers];
    for (const ap of [...this.pieces.values()]) {
      if (ap.owner?.kind === 'webseed') continue;
      if (!missing(ap.index)) {
        this.abandon(ap, list);
        continue;
      }
      ap.pending.fill(0);
      // A peer leaves the swarm's set only when its connection is destroyed (closed), so closed says gone.
      if (ap.owner?.closed) ap.owner = undefined;
    }
    for (const p of list) {
      for (const r of p.inflight.values()) {
        const ap = this.pieces.get(r.piece);
        if (ap && ap.owner?.kind !== 'webseed') ap.pending[r.block]!++;
      }
    }
  }

  describe(): Record<string, unknown>[] {
    return [...this.pieces.values()].map((a) => ({ i: a.index, got: a.received, of: a.blocks, owner: a.owner?.label, pending: a.pending.reduce((x, y) => x + y, 0) }));
  }
}
