import type { OriginTransport } from './origin-transport.js';
import type { Logger } from '../core/log.js';
import type { Torrent } from './torrent.js';
import { AnnounceFailure, announce, type AnnounceParams } from './tracker-client.js';

// When the swarm announces to the tracker. One announce at a time, the next one scheduled from the tracker's
// intervals: often while downloading, so the tracker's view of who holds how much stays fresh (it hands out the
// most complete peers first); sooner still while short of peers; at the tracker's interval once complete.

/** What each announce reports, read when it leaves. */
export type AnnounceReport = Pick<AnnounceParams, 'uploaded' | 'downloaded' | 'left' | 'corrupt' | 'starving'>;

export interface AnnouncerOptions {
  torrent: Torrent;
  url: string | undefined;
  peerId: Buffer;
  port: number;
  ip?: string;
  idc: string;
  maxPeers: number;
  log: Logger;
  /** How the tracker is reached (the origin's TLS trust). */
  fetch?: OriginTransport['fetch'];
  report: () => AnnounceReport;
  complete: () => boolean;
  /** Fewer peers connected or being connected than half of maxPeers. */
  short: () => boolean;
  /** Whether an address was called before (an answer of only such addresses brought nobody new). */
  dialedBefore: (addr: string) => boolean;
  connect: (ip: string, port: number) => void;
  /** The tracker answered (the agent has joined the swarm). */
  answered?: () => void;
  /** Fetches the torrent again for fresh URLs (a refused ticket: the announce URL's signature expired). */
  renew: () => Promise<void>;
}

/** While the tracker refuses or cannot be reached, a downloading swarm tries again this soon. */
const retryMs = 3000;

export class Announcer {
  /** Replaced when the torrent is renewed. */
  url: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextAt = 0;
  private announcing = false;
  private minInterval = 2;
  private interval = 30;
  /** Announces in a row that brought no new address. */
  private quiet = 0;
  private completedSent: boolean;
  private stopped = false;

  constructor(private readonly o: AnnouncerOptions) {
    this.url = o.url;
    this.completedSent = o.complete();
  }

  /**
   * An announce in `delayMs`. A plain one (no event, not urgent) never postpones one already due sooner; an event
   * or an urgent one replaces whatever was scheduled.
   */
  schedule(delayMs: number, event?: 'started' | 'completed', urgent = false): void {
    if (this.stopped || !this.url) return;
    const at = Date.now() + delayMs;
    if (this.timer && !event && !urgent && this.nextAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextAt = at;
    this.timer = setTimeout(() => void this.run(event), delayMs);
    this.timer.unref();
  }

  /** Soon, at the tracker's minimum interval: the swarm lost peers. */
  soon(): void {
    this.schedule(this.minInterval * 1000);
  }

  /** The download finished: 'completed', once per torrent (not when it was complete from the start). */
  completed(): void {
    if (this.completedSent) return;
    this.completedSent = true;
    this.schedule(0, 'completed');
  }

  /** No more announces but the last (see farewell). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The 'stopped' announce, so the tracker stops handing us out. */
  async farewell(): Promise<void> {
    if (this.url) await announce(this.url, this.params('stopped'), this.o.fetch).catch(() => undefined);
  }

  private params(event?: 'started' | 'completed' | 'stopped'): AnnounceParams {
    return {
      infoHash: this.o.torrent.infoHashBytes,
      peerId: this.o.peerId,
      port: this.o.port,
      ...this.o.report(),
      event,
      numwant: Math.max(this.o.maxPeers, 10),
      idc: this.o.idc,
      ip: this.o.ip,
    };
  }

  private async run(event?: 'started' | 'completed'): Promise<void> {
    this.timer = undefined;
    if (this.stopped || !this.url) return;
    if (this.announcing) {
      this.schedule(500, event);
      return;
    }
    this.announcing = true;
    let next = this.interval * 1000;
    try {
      const reply = await announce(this.url, this.params(event), this.o.fetch);
      this.interval = reply.interval;
      this.minInterval = Math.max(1, reply.minInterval);
      const fresh = reply.peers.filter((p) => !this.o.dialedBefore(`${p.ip}:${p.port}`)).length;
      this.o.answered?.();
      for (const p of reply.peers) this.o.connect(p.ip, p.port);
      next = this.o.complete() ? reply.interval * 1000 : Math.min(reply.interval, Math.max(5, reply.minInterval)) * 1000;
      // Short of peers while downloading: ask again soon (others are joining at the same moment), less often
      // while the answers bring nobody new.
      this.quiet = fresh > 0 ? 0 : this.quiet + 1;
      if (!this.o.complete() && this.o.short()) next = Math.min(next, this.minInterval * 1000 * 2 ** Math.min(this.quiet, 4));
    } catch (err) {
      if (err instanceof AnnounceFailure) {
        this.o.log.warn({ err: err.message, infoHash: this.o.torrent.infoHash }, 'p2p: announce refused');
        if (/ticket/.test(err.message)) await this.o.renew();
      } else this.o.log.warn({ err }, 'p2p: announce failed');
      next = this.o.complete() ? this.interval * 1000 : retryMs;
    } finally {
      this.announcing = false;
    }
    this.schedule(next);
  }
}
