// A hybrid logical clock (Kulkarni et al.): versions that follow wall time, never go backwards, and order
// causally across IDCs. A tag write's version is an HLC timestamp plus the IDC that made it; comparing two
// versions gives a total order, which is what last-writer-wins between dual masters needs.

export interface HlcTimestamp {
  /** Wall-clock milliseconds (the larger of local time and anything seen). */
  wall: number;
  /** Tie-breaker within one millisecond. */
  logical: number;
}

export interface TagVersion extends HlcTimestamp {
  idc: string;
}

export class HybridLogicalClock {
  private last: HlcTimestamp = { wall: 0, logical: 0 };
  constructor(private readonly now: () => number = Date.now) {}

  /** A timestamp for a local event. */
  tick(): HlcTimestamp {
    const pt = this.now();
    if (pt > this.last.wall) this.last = { wall: pt, logical: 0 };
    else this.last = { wall: this.last.wall, logical: this.last.logical + 1 };
    return { ...this.last };
  }

  /** Merges a timestamp received from a peer, so later local events sort after it. */
  observe(remote: HlcTimestamp): HlcTimestamp {
    const pt = this.now();
    const wall = Math.max(pt, this.last.wall, remote.wall);
    let logical: number;
    if (wall === this.last.wall && wall === remote.wall) logical = Math.max(this.last.logical, remote.logical) + 1;
    else if (wall === this.last.wall) logical = this.last.logical + 1;
    else if (wall === remote.wall) logical = remote.logical + 1;
    else logical = 0;
    this.last = { wall, logical };
    return { ...this.last };
  }
}

/** Total order: wall, then logical, then IDC name. */
export function compareVersions(a: TagVersion, b: TagVersion): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return a.idc < b.idc ? -1 : a.idc > b.idc ? 1 : 0;
}

/** Wire form, e.g. for a `Berth-Tag-Version` header: "<wall>.<logical>@<idc>". */
export function formatVersion(v: TagVersion): string {
  return `${v.wall}.${v.logical}@${v.idc}`;
}

export function parseVersion(s: string): TagVersion | undefined {
  const m = /^(\d{1,16})\.(\d{1,9})@([A-Za-z0-9._-]{1,64})$/.exec(s.trim());
  if (!m) return undefined;
  return { wall: Number(m[1]), logical: Number(m[2]), idc: m[3]! };
}
