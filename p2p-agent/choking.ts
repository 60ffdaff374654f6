import type { Peer } from './peer.js';

// Who we upload to. Agents cooperate (no tit-for-tat to enforce), so every interested Berth peer — agent or
// origin — is unchoked: a peer left choked behind a few slots would wait for rotations while the swarm moves on.
// Peers other than Berth's (standard clients) share a few slots, the longest-served rotated out when others wait.

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
    for (const p of all) {
      if (!p.isBerth || !p.wire.peerInterested || !p.wire.amChoking) continue;
      p.wire.unchoke();
      p.unchokedAt = now;
    }
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
      p.wire.unchoke();
      p.unchokedAt = now;
      unchoked.push(p);
    }
  }
}
