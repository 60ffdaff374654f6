import type { Peer } from './peer.js';

// Whom we upload to. Agents cooperate (no tit-for-tat to enforce), but a NIC carries only so many flows well:
// with every interested peer unchoked a node on a thin link uploaded to 20–40 peers at once, each piece crawled
// at 1/40 of the link, the full queues at the NICs dropped ~20 % of the packets (SYNs and handshakes too, so
// newcomers could not connect for 10 s) and pieces arrived too late to be passed on. So Berth peers take turns
// in a few slots: a turn is a couple of whole pieces sent at a fair share of the link, then the longest waiting
// peer's turn — a piece leaves in about the time of `berthSlots` pieces, and is passed on at once.
// Standard clients share a few slots of their own, the longest-served rotated out when others wait.

/** Berth peers uploaded to at once. */
export const berthSlots = 4;
/** Pieces sent to a Berth peer per turn while others wait. */
export const turnPieces = 2;
/** A turn ends when the peer asked for nothing this long (it got what it wanted elsewhere). */
const idleTurnMs = 1000;
const foreignSlots = 4;
const rotateMs = 5000;

export class Choker {
  constructor(private lastRotateAt = Date.now()) {}

  /** A rotation of the foreign slots is due (the swarm's tick rechokes then; events rechoke in between). */
  due(now = Date.now()): boolean {
    return now - this.lastRotateAt > rotateMs;
  }

  rechoke(peers: Iterable<Peer>, now = Date.now()): void {
    const all = [...peers];
    this.rechokeBerth(all.filter((p) => p.isBerth), now);
    const interested = all.filter((p) => p.wire.peerInterested && !p.isBerth);
    const unchoked = interested.filter((p) => !p.wire.amChoking);
    const waiting = interested.filter((p) => p.wire.amChoking).sort((a, b) => a.interestedAt - b.interestedAt);
    if (waiting.length > 0 && unchoked.length >= foreignSlots && this.due(now)) {
      this.lastRotateAt = now;
      const longest = unchoked.sort((a, b) => a.unchokedAt - b.unchokedAt)[0]!;
      longest.wire.choke();
      // Back in the queue as if it had just asked.
      longest.interestedAt = now;
      unchoked.splice(unchoked.indexOf(longest), 1);
    }
    for (const p of waiting) {
      if (unchoked.length >= foreignSlots) break;
      unchoke(p, now);
      unchoked.push(p);
    }
  }

  /**
   * Turns among Berth peers: a peer that is no longer interested, that had its pieces while others wait, or that
   * asks for nothing, makes room; the longest waiting come in. A choke rejects the requests not yet answered
   * (fast extension); a piece already being sent finishes.
   */
  private rechokeBerth(peers: Peer[], now: number): void {
    const waiting = peers.filter((p) => p.wire.peerInterested && p.wire.amChoking).sort((a, b) => a.interestedAt - b.interestedAt);
    let open = 0;
    for (const p of peers) {
      if (p.wire.amChoking) continue;
      const idle = p.wire.peerRequests.length === 0 && now - Math.max(p.unchokedAt, p.servedAt) > idleTurnMs;
      if (!p.wire.peerInterested || (waiting.length > 0 && (p.turnSent >= turnPieces || idle))) {
        p.wire.choke();
        // Back in the queue, last (its next turn comes in a later round: no choke and unchoke in one go).
        p.interestedAt = now;
      } else open++;
    }
    for (const p of waiting) {
      if (open >= berthSlots) break;
      if (!p.wire.amChoking) continue;
      unchoke(p, now);
      open++;
    }
  }
}

function unchoke(p: Peer, now: number): void {
  p.wire.unchoke();
  p.unchokedAt = now;
  p.turnSent = 0;
}
