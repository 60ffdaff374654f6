import { createHash } from 'node:crypto';
import bencode from 'bencode';

// A single-file BitTorrent v1 torrent as the origin writes it for a blob (name = hex digest). The infohash is
// recomputed from the info dictionary, never trusted from elsewhere.

export interface Torrent {
  infoHash: string;
  infoHashBytes: Buffer;
  name: string;
  length: number;
  pieceLength: number;
  pieceCount: number;
  /** 20-byte SHA-1 per piece, concatenated. */
  hashes: Buffer;
  announce: string | undefined;
  webSeeds: string[];
  /** The .torrent as received (kept on disk to seed after a restart). */
  raw: Buffer;
}

export class TorrentError extends Error {}

export function parseTorrent(raw: Uint8Array): Torrent {
  let doc: Record<string, unknown>;
  try {
    doc = bencode.decode(raw) as Record<string, unknown>;
  } catch (e) {
    throw new TorrentError(`not a torrent: ${(e as Error).message}`);
  }
  const info = doc?.info as Record<string, unknown> | undefined;
  if (!info || typeof info !== 'object') throw new TorrentError('torrent without info');
  const length = info.length;
  const pieceLength = info['piece length'];
  const pieces = info.pieces;
  if (typeof length !== 'number' || length < 0 || !Number.isSafeInteger(length)) throw new TorrentError('torrent info: bad length (only single-file torrents)');
  if (typeof pieceLength !== 'number' || pieceLength < 16384 || pieceLength > 64 * 1024 * 1024) throw new TorrentError('torrent info: bad piece length');
  if (!(pieces instanceof Uint8Array) || pieces.length % 20 !== 0) throw new TorrentError('torrent info: bad pieces');
  const pieceCount = Math.max(1, Math.ceil(length / pieceLength));
  if (pieces.length / 20 !== pieceCount) throw new TorrentError('torrent info: piece count does not match length');
  const infoHashBytes = createHash('sha1').update(bencode.encode(info)).digest();
  const text = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : typeof v === 'string' ? v : undefined);
  const urlList = doc['url-list'];
  const webSeeds = (Array.isArray(urlList) ? urlList : urlList !== undefined ? [urlList] : []).map(text).filter((u): u is string => !!u);
  return {
    infoHash: infoHashBytes.toString('hex'),
    infoHashBytes,
    name: text(info.name) ?? '',
    length,
    pieceLength,
    pieceCount,
    hashes: Buffer.from(pieces),
    announce: text(doc.announce),
    webSeeds,
    raw: Buffer.from(raw),
  };
}

export function pieceSize(t: Torrent, index: number): number {
  return index === t.pieceCount - 1 ? t.length - index * t.pieceLength : t.pieceLength;
}

export function pieceMatches(t: Torrent, index: number, data: Uint8Array): boolean {
  const h = createHash('sha1').update(data).digest();
  return h.equals(t.hashes.subarray(index * 20, index * 20 + 20));
}

/** A set of piece indexes, stored as a BitTorrent bitfield (piece 0 is the high bit of byte 0). */
export class PieceSet {
  readonly bits: Uint8Array;
  count = 0;

  constructor(readonly size: number) {
    this.bits = new Uint8Array(Math.ceil(size / 8));
  }

  has(i: number): boolean {
    return (this.bits[i >> 3]! & (0x80 >> (i & 7))) !== 0;
  }

  add(i: number): boolean {
    if (i < 0 || i >= this.size || this.has(i)) return false;
    this.bits[i >> 3]! |= 0x80 >> (i & 7);
    this.count++;
    return true;
  }

  get complete(): boolean {
    return this.count === this.size;
  }
}
