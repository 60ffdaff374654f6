import type { OriginTransport } from './origin-transport.js';
import type { Logger } from '../core/log.js';
import { standardBlock } from './peer.js';
import { ActivePiece, type PiecesInFlight } from './piece-assembly.js';
import type { PiecePicker } from './piece-picker.js';
import type { PieceSource } from './piece-source.js';
import { pieceMatches, pieceSize, type Torrent } from './torrent.js';

// The fallback when the swarm stalls: pieces fetched from the origin's web seed (BEP 19), the blob's URL on the
// origin, one HTTP range request per piece, checked against the piece's SHA-1 like any peer's. The URL is
// signed and expires: a refusal asks the swarm for a fresh torrent.

/** Pieces fetched from the web seed at once while the swarm is stalled. */
const parallel = 2;
const fetchTimeoutMs = 30_000;

/** With the origin's seed connected, the web seed waits this many stall times. */
export const originPatience = 6;

/**
 * How long the swarm has given us nothing — no piece bytes from anyone, no news of pieces — counted in healthy
 * time: each tick adds at most half a second, so a process starved of CPU does not mistake its own slowness for
 * a stalled swarm.
 */
export class StallClock {
  ms = 0;
  private lastTickAt = Date.now();
  private noticed = false;
  private hasJoined = false;

  constructor(private readonly stallMs: number) {}

  /** The swarm's tick; `waiting`: we still lack pieces. */
  tick(now: number, waiting: boolean): void {
    const elapsed = Math.min(now - this.lastTickAt, 500);
    this.lastTickAt = now;
    if (waiting) this.ms += elapsed;
  }

  /** Data arrived from a peer, or news that the swarm gained a piece. */
  progress(): void {
    this.ms = 0;
    this.noticed = false;
  }

  /**
   * The tracker answered for the first time: the wait for first data starts now. Until then the time counts
   * too (a tracker that never answers is a stuck swarm), but against a longer limit: a slow first announce —
   * a busy origin link, a node starting many things at once — is not the swarm stalling.
   */
  joined(): void {
    if (this.hasJoined) return;
    this.hasJoined = true;
    this.ms = 0;
  }

  /**
   * Waited past the stall time. Joining a large swarm takes a moment (peers are found, pieces have to reach
   * someone first): before the first piece data it is twice as long after joining, three times before;
   * `originPatience` times while the origin's seed is connected.
   */
  stalled(hadData: boolean, originSeedConnected = false): boolean {
    // With the origin's seed connected every piece the swarm lacks is on its way out of the origin (its seed
    // sends each piece once, to someone), and a web-seed copy would leave through that same origin link: at 50
    // nodes on thin links the web seed sent 3–5 copies to nodes whose swarm was only waiting on the origin. A
    // swarm truly stuck (seed gone, no peers) still gets the web seed, later.
    if (originSeedConnected) return this.ms > originPatience * this.stallMs;
    return this.ms > (hadData ? 1 : this.hasJoined ? 2 : 3) * this.stallMs;
  }

  /** True once per stall (for the log line). */
  firstNotice(): boolean {
    if (this.noticed) return false;
    this.noticed = true;
    return true;
  }
}

/** The web seed refused us (401, 403): its URL's signature expired or was revoked. */
export class WebSeedRefused extends Error {
  constructor(readonly status: number) {
    super(`web seed answered ${status}`);
  }
}

export interface WebSeedOptions {
  torrent: Torrent;
  url: string | undefined;
  inFlight: PiecesInFlight;
  picker: PiecePicker;
  log: Logger;
  /** Whether the swarm still wants pieces from the web seed (it is stalled). */
  stalled: () => boolean;
  /** Bytes received from the web seed, before their check (for the metrics and the tracker's figures). */
  received: (bytes: number) => void;
  /** A verified piece, for the swarm to store and announce. */
  accept: (index: number, data: Buffer) => Promise<void>;
  /** Fetches the torrent again for fresh URLs (ours included). */
  renew: () => Promise<void>;
  /** How the origin is reached (its TLS trust). */
  fetch?: OriginTransport['fetch'];
}

export class WebSeed implements PieceSource {
  readonly kind = 'webseed';
  readonly label = 'webseed';
  readonly closed = false;
  /** Replaced when the torrent is renewed. */
  url: string | undefined;
  /** Fetches under way. */
  busy = 0;

  constructor(private readonly o: WebSeedOptions) {
    this.url = o.url;
  }

  /** Starts fetches, up to a few at once, while the swarm is stalled (the swarm's tick calls it). */
  help(): void {
    while (this.o.stalled() && this.busy < parallel && this.url) {
      const busy = this.busy;
      void this.fetchNext();
      if (this.busy === busy) break; // nothing left to fetch from it
    }
  }

  /** One piece by HTTP range, checked against its SHA-1. Throws WebSeedRefused on 401 and 403. */
  async fetchPiece(index: number): Promise<Buffer> {
    const t = this.o.torrent;
    const start = index * t.pieceLength;
    const size = pieceSize(t, index);
    const r = await (this.o.fetch ?? fetch)(this.url!, { headers: { Range: `bytes=${start}-${start + size - 1}` }, signal: AbortSignal.timeout(fetchTimeoutMs) });
    if (r.status === 403 || r.status === 401) {
      await r.body?.cancel();
      throw new WebSeedRefused(r.status);
    }
    if (r.status !== 206 && r.status !== 200) throw new Error(`web seed answered ${r.status}`);
    let data = Buffer.from(await r.arrayBuffer());
    // A server that ignores Range sends the whole blob.
    if (r.status === 200) data = data.subarray(start, start + size);
    this.o.received(data.length);
    if (data.length !== size || !pieceMatches(t, index, data)) throw new Error(`web seed piece ${index} failed its hash check`);
    return data;
  }

  private async fetchNext(): Promise<void> {
    if (!this.url) return;
    const index = this.o.picker.forWebSeed();
    if (index === undefined) return;
    const inFlight = this.o.inFlight;
    const claimed = !inFlight.has(index);
    // Marked as ours so peers do not start it too (a piece already in flight keeps its peer, as a race).
    if (claimed) inFlight.add(new ActivePiece(index, pieceSize(this.o.torrent, index), standardBlock, this, 0));
    const unclaim = () => {
      if (claimed && inFlight.get(index)?.owner === this) inFlight.delete(index);
    };
    this.busy++;
    try {
      const data = await this.fetchPiece(index);
      unclaim();
      this.o.log.debug({ index }, 'p2p: piece from the web seed');
      await this.o.accept(index, data);
    } catch (err) {
      if (err instanceof WebSeedRefused) {
        this.o.log.warn({ status: err.status }, 'p2p: web seed refused; fetching the torrent again');
        // The next fetch waits for the tick: the renewal may have brought nothing better.
        await this.o.renew();
        return;
      }
      this.o.log.warn({ err, index }, 'p2p: web seed fetch failed');
    } finally {
      this.busy--;
      unclaim();
    }
    // Still stalled: the next piece right away (the tick only starts the fallback).
    if (this.o.stalled() && this.url && this.busy < parallel) void this.fetchNext();
  }
}
