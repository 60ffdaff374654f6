import type { OriginTransport } from './origin-transport.js';
import bencode from 'bencode';

// One HTTP announce (BEP 3; compact answers, BEP 23). The announce URL comes from the .torrent and already
// carries the origin's ticket; the agent adds its IDC so the tracker can hand out neighbours first.

export interface AnnounceParams {
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event?: 'started' | 'completed' | 'stopped';
  numwant: number;
  idc: string;
  ip?: string;
  /** Addresses (ip:port) of peers caught sending corrupt pieces, reported so the tracker stops handing them out. */
  corrupt?: string[];
  /** None of our peers holds a piece we lack: the tracker answers with complete peers first. */
  starving?: boolean;
}

export interface AnnounceReply {
  interval: number;
  minInterval: number;
  peers: { ip: string; port: number }[];
}

export class AnnounceFailure extends Error {}

// Generous: an announce shares the origin's link with its seed and web seed, and a busy node's CPU with the swarm;
// a timed-out announce leaves the agent without peers until the retry.
const timeoutMs = 10_000;

export async function announce(url: string, p: AnnounceParams, fetchFn: OriginTransport['fetch'] = (u, i) => fetch(u, i)): Promise<AnnounceReply> {
  const q = [
    `info_hash=${escapeBytes(p.infoHash)}`,
    `peer_id=${escapeBytes(p.peerId)}`,
    `port=${p.port}`,
    `uploaded=${p.uploaded}`,
    `downloaded=${p.downloaded}`,
    `left=${p.left}`,
    'compact=1',
    `numwant=${p.numwant}`,
    `idc=${encodeURIComponent(p.idc)}`,
  ];
  if (p.event) q.push(`event=${p.event}`);
  if (p.ip) q.push(`ip=${p.ip}`);
  if (p.corrupt?.length) q.push(`corrupt=${p.corrupt.join(',')}`);
  if (p.starving) q.push('starving=1');
  const r = await fetchFn(`${url}${url.includes('?') ? '&' : '?'}${q.join('&')}`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = Buffer.from(await r.arrayBuffer());
  if (r.status !== 200) throw new AnnounceFailure(`tracker answered ${r.status}`);
  let doc: Record<string, unknown>;
  try {
    doc = bencode.decode(body) as Record<string, unknown>;
  } catch {
    throw new AnnounceFailure('tracker answer is not bencoded');
  }
  const reason = doc['failure reason'];
  if (reason !== undefined) throw new AnnounceFailure(`tracker: ${Buffer.from(reason as Uint8Array).toString('utf8')}`);
  return {
    interval: typeof doc.interval === 'number' ? doc.interval : 30,
    minInterval: typeof doc['min interval'] === 'number' ? doc['min interval'] : 2,
    peers: parsePeers(doc.peers),
  };
}

function parsePeers(v: unknown): { ip: string; port: number }[] {
  const out: { ip: string; port: number }[] = [];
  if (v instanceof Uint8Array) {
    for (let i = 0; i + 6 <= v.length; i += 6) out.push({ ip: `${v[i]}.${v[i + 1]}.${v[i + 2]}.${v[i + 3]}`, port: (v[i + 4]! << 8) | v[i + 5]! });
  } else if (Array.isArray(v)) {
    for (const p of v as Record<string, unknown>[]) {
      const ip = p.ip instanceof Uint8Array ? Buffer.from(p.ip).toString() : undefined;
      if (ip && typeof p.port === 'number') out.push({ ip, port: p.port });
    }
  }
  return out;
}

function escapeBytes(b: Buffer): string {
  let s = '';
  for (const byte of b) s += `%${byte.toString(16).padStart(2, '0')}`;
  return s;
}
