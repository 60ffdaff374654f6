import bencode from 'bencode';
import type { Logger } from '../../core/log.js';
import type { TorrentCatalog } from './metainfo.js';
import type { OriginSeed } from './origin-seed.js';
import type { UrlSigner } from './signing.js';
import type { PeerEntry, SwarmDirectory } from './swarm-directory.js';

// The tracker-scheduler (BEP 3 HTTP tracker, BEP 23 compact answers). Admission: the announce URL carries a
// ticket the origin signed for this infohash when it handed the .torrent to a caller with pull rights.
// Scheduling: peers of the caller's IDC only (across IDCs, one gateway node per IDC meets the others'); among them, the more complete first, with a penalty for peers
// handed out a lot lately (load spreads off the first seeders) and some randomness (the graph stays random,
// as in Kraken). The origin's own seed is added for peers still downloading; it rations itself (origin-seed.ts).

export interface Announce {
  infoHash: string;
  peerId: string;
  port: number;
  left: number;
  event: '' | 'started' | 'completed' | 'stopped';
  numwant: number;
  ticket: string | undefined;
  idc: string;
  /** An IPv4 address the peer asks to be reached on; otherwise the request's source address. */
  ip: string | undefined;
  /** Berth extension: addresses (ip:port, as this tracker handed them out) of peers caught sending corrupt pieces. */
  corrupt: string[];
  /** Berth extension: none of the caller's peers holds a piece it lacks. */
  starving: boolean;
}

export class AnnounceError extends Error {}

/** Parses an announce query string. info_hash and peer_id are raw bytes, percent-encoded: decoded by hand. */
export function parseAnnounce(query: string): Announce {
  const raw = new Map<string, Buffer>();
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' '));
    raw.set(key, percentDecode(eq < 0 ? '' : part.slice(eq + 1)));
  }
  const bytes = (k: string) => raw.get(k);
  const text = (k: string) => bytes(k)?.toString('utf8');
  const num = (k: string, dflt?: number) => {
    const v = text(k);
    if (v === undefined || v === '') {
      if (dflt === undefined) throw new AnnounceError(`missing ${k}`);
      return dflt;
    }
    if (!/^\d{1,16}$/.test(v)) throw new AnnounceError(`invalid ${k}`);
    return Number(v);
  };
  const infoHash = bytes('info_hash');
  const peerId = bytes('peer_id');
  if (!infoHash || infoHash.length !== 20) throw new AnnounceError('invalid info_hash');
  if (!peerId || peerId.length !== 20) throw new AnnounceError('invalid peer_id');
  const port = num('port');
  if (port < 1 || port > 65535) throw new AnnounceError('invalid port');
  const event = text('event') ?? '';
  if (!['', 'started', 'completed', 'stopped', 'empty', 'paused'].includes(event)) throw new AnnounceError('invalid event');
  const ip = text('ip');
  return {
    infoHash: infoHash.toString('hex'),
    peerId: peerId.toString('hex'),
    port,
    left: num('left', 0),
    event: (event === 'empty' || event === 'paused' ? '' : event) as Announce['event'],
    numwant: Math.min(num('numwant', 30), 50),
    ticket: text('ticket'),
    idc: (text('idc') ?? '').slice(0, 64),
    ip: ip && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) ? ip : undefined,
    starving: text('starving') === '1',
    corrupt: (text('corrupt') ?? '')
      .split(',')
      .filter((addr) => /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(addr))
      .slice(0, 16),
  };
}

function percentDecode(s: string): Buffer {
  const out = Buffer.alloc(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out[n++] = parseInt(s.slice(i + 1, i + 3), 16);
      i += 2;
    } else if (c === 0x2b) {
      out[n++] = 0x20;
    } else {
      out[n++] = c & 0xff;
    }
  }
  return out.subarray(0, n);
}

export function failure(reason: string): Buffer {
  return Buffer.from(bencode.encode({ 'failure reason': reason }));
}

/** Compact peer strings: 6 bytes per IPv4 peer (BEP 23). */
export function compactPeers(peers: Pick<PeerEntry, 'ip' | 'port'>[]): Buffer {
  const out: Buffer[] = [];
  for (const p of peers) {
    const parts = p.ip.split('.').map(Number);
    if (parts.length !== 4) continue;
    const b = Buffer.alloc(6);
    parts.forEach((v, i) => (b[i] = v));
    b.writeUInt16BE(p.port, 4);
    out.push(b);
  }
  return Buffer.concat(out);
}

export interface TrackerOptions {
  catalog: TorrentCatalog;
  directory: SwarmDirectory;
  signer: UrlSigner;
  seed: OriginSeed | undefined;
  /** Where agents reach this origin's seed. */
  seedIp: string;
  idc: string;
  log: Logger;
  /** Seconds between regular announces. */
  interval: number;
}

/** Peers handed out lately, per peer: the scheduler steers new peers away from busy ones. */
class HandoutLog {
  private counts = new Map<string, number>();
  private older = new Map<string, number>();
  private rotatedAt = Date.now();

  count(key: string): number {
    this.rotate();
    return (this.counts.get(key) ?? 0) + (this.older.get(key) ?? 0);
  }

  add(key: string): void {
    this.rotate();
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  private rotate(): void {
    if (Date.now() - this.rotatedAt < 10_000) return;
    this.older = this.counts;
    this.counts = new Map();
    this.rotatedAt = Date.now();
  }
}

export class Tracker {
  private readonly handouts = new HandoutLog();
  private readonly seedRegisteredAt = new Map<string, number>();

  constructor(private readonly opts: TrackerOptions) {}

  /** Answers one announce with a bencoded body (a failure reason when refused). */
  async announce(query: string, sourceIp: string): Promise<Buffer> {
    let a: Announce;
    try {
      a = parseAnnounce(query);
    } catch (e) {
      if (e instanceof AnnounceError) return failure(e.message);
      throw e;
    }
    if (!this.opts.signer.verify('announce', a.infoHash, a.ticket)) return failure('ticket missing, invalid or expired: fetch the .torrent again');
    const torrent = await this.opts.catalog.byInfoHash(a.infoHash);
    if (!torrent) return failure('unknown torrent');
    const { directory } = this.opts;
    const ip = a.ip ?? normalizeIp(sourceIp);
    if (a.event === 'stopped') {
      await directory.remove(a.infoHash, a.peerId);
      return Buffer.from(bencode.encode({ interval: this.opts.interval, peers: Buffer.alloc(0) }));
    }
    await directory.upsert({ infoHash: a.infoHash, peerId: a.peerId, ip, port: a.port, idc: a.idc || 'default', left: a.left, origin: false });
    await this.registerSeed(a.infoHash);
    for (const addr of a.corrupt) await directory.flag(a.infoHash, addr);

    const everyone = (await directory.peers(a.infoHash)).filter((p) => !p.flagged);
    const others = everyone.filter((p) => p.peerId !== a.peerId);
    const self = everyone.find((p) => p.peerId === a.peerId);
    const complete = everyone.filter((p) => !p.origin && p.left === 0).length;
    const incomplete = everyone.filter((p) => !p.origin && p.left > 0).length;
    // A seeder waits for leechers to call it; it needs no list.
    // The origin's seed first: an agent calls the addresses in order until its peer slots are full, and with the
    // seed last an agent handed numwant busy peers never called it (every piece of a fresh blob starts there).
    const joined = self?.id ?? Number.MAX_SAFE_INTEGER;
    const chosen = a.left > 0 ? [...this.seedsFor(others, a, joined), ...this.choose(this.reachable(others.filter((p) => !p.origin), a, joined), a, torrent.size)] : [];
    for (const p of chosen) this.handouts.add(p.key);
    return Buffer.from(
      bencode.encode({
        interval: this.opts.interval,
        'min interval': 2,
        complete,
        incomplete,
        peers: compactPeers(chosen),
      }),
    );
  }

  /**
   * The peers a caller may meet: those of its own IDC; across IDCs only gateway to gateway — one node per IDC,
   * the first of it to join the swarm (lowest directory id), meets the other IDCs' gateways. With every node given
   * a few peers of the other IDC, two IDCs of 20 nodes on one thin link moved 3.4 and 7.5 copies of the blob across
   * it; through one pair of gateways each piece crosses once. The lowest peer id was the gateway before, but as nodes
   * joined one by one about ln N of them had been the lowest for a while and kept their links: 1.6–2.1 copies into
   * IDC b. A node alone in its IDC is its gateway.
   */
  private reachable(peers: PeerEntry[], a: Announce, joined: number): PeerEntry[] {
    const gateways = gatewaysOf(peers);
    const own = gateways.get(a.idc || 'default');
    const callerIsGateway = !own || joined < own.id;
    return peers.filter((p) => p.idc === (a.idc || 'default') || (callerIsGateway && gateways.get(p.idc) === p));
  }

  /**
   * The origins' seeds a caller may call: those of its own IDC. Another IDC reaches the origin through its gateway
   * alone, and that gateway calls the seed itself only where the seed's IDC has no agents: where it has, their
   * gateway is the one source across the link. With the seed handed to every node of IDC b, the origin sent b's
   * nodes pieces directly and b's gateway fetched the same pieces again from a's (1.52–1.60 copies into b); with
   * the seed for b's gateway too, it still took pieces from both over the one link (1.60).
   */
  private seedsFor(others: PeerEntry[], a: Announce, joined: number): PeerEntry[] {
    const seeds = others.filter((p) => p.origin);
    const idc = a.idc || 'default';
    const local = seeds.filter((p) => p.idc === idc);
    if (local.length > 0) return local;
    const own = others.filter((p) => !p.origin && p.idc === idc);
    const callerIsGateway = own.every((p) => joined < p.id);
    if (!callerIsGateway) return [];
    const agentIdcs = new Set(others.filter((p) => !p.origin).map((p) => p.idc));
    return seeds.filter((s) => !agentIdcs.has(s.idc));
  }

  private choose(peers: PeerEntry[], a: Announce, size: number): PeerEntry[] {
    const scored = peers.map((p) => {
      const completeness = size > 0 ? 1 - Math.min(p.left, size) / size : 1;
      const load = this.handouts.count(p.key);
      // A starving peer gets the complete ones first, busy or not: they are the ones that can help it.
      const rescue = a.starving && p.left === 0 ? 5 : 0;
      const score = (p.idc === a.idc ? 10 : 0) + rescue + completeness - load / (load + 20) + Math.random() * 0.5;
      return { p, score };
    });
    scored.sort((x, y) => y.score - x.score);
    return scored.slice(0, a.numwant).map((s) => s.p);
  }

  /** Lists this origin's seed in the swarm (other origins' trackers hand it out too). */
  private async registerSeed(infoHash: string): Promise<void> {
    const seed = this.opts.seed;
    if (!seed || !seed.port) return;
    const last = this.seedRegisteredAt.get(infoHash) ?? 0;
    if (Date.now() - last < Math.min((this.opts.interval * 1000) / 2, this.opts.directory.ttlMs / 3)) return;
    this.seedRegisteredAt.set(infoHash, Date.now());
    await this.opts.directory.upsert({
      infoHash,
      peerId: seed.peerId.toString('hex'),
      ip: this.opts.seedIp,
      port: seed.port,
      idc: this.opts.idc,
      left: 0,
      origin: true,
    });
  }
}

/** Per IDC, the node that joined the swarm first: it alone meets other IDCs. */
function gatewaysOf(peers: PeerEntry[]): Map<string, PeerEntry> {
  const gateways = new Map<string, PeerEntry>();
  for (const p of peers) {
    const g = gateways.get(p.idc);
    if (!g || p.id < g.id) gateways.set(p.idc, p);
  }
  return gateways;
}

export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip === '::1' ? '127.0.0.1' : ip;
}
