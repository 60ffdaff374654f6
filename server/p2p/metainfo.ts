import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { digestHex, type Digest } from '../../core/digest.js';
import type { Logger } from '../../core/log.js';
import { BlobNotFoundError } from '../../storage-adapters/blob/blob-store.js';
import type { LinkedBlobs } from '../../registry/linked-blobs.js';
import { ConflictError, type Collection, type MetaStore } from '../../storage-adapters/meta/meta-store.js';

// BitTorrent v1 metainfo for a blob. The info dictionary is deterministic — name = hex digest, piece length a
// function of the size alone, no dates or creator — so every origin computes the same infohash for a digest.
// SHA-1 piece hashes are what the wire checks; the blob's sha256 stays the integrity boundary (agents check it).

/** What is stored per blob (computed once: hashing a blob reads all of it). */
export interface BlobTorrent {
  id: number;
  digest: Digest;
  infoHash: string;
  size: number;
  pieceLength: number;
  /** Concatenated 20-byte SHA-1 piece hashes, base64. */
  pieces: string;
  createdAt: number;
}

/** Piece length: a power of two giving about 128 pieces (enough to spread a swarm), between 256 KiB and 4 MiB. */
export function pieceLengthFor(size: number): number {
  let len = 256 * 1024;
  while (len < 4 * 1024 * 1024 && len * 128 < size) len *= 2;
  return len;
}

export function infoDictionary(t: Pick<BlobTorrent, 'digest' | 'size' | 'pieceLength' | 'pieces'>): Record<string, unknown> {
  return {
    length: t.size,
    name: digestHex(t.digest),
    'piece length': t.pieceLength,
    pieces: Buffer.from(t.pieces, 'base64'),
    private: 1,
  };
}

export function infoHashOf(info: Record<string, unknown>): string {
  return createHash('sha1').update(bencode.encode(info)).digest('hex');
}

/** The .torrent file: the stored info plus the caller's announce URL (tracker ticket) and web seed. */
export function torrentFile(t: BlobTorrent, announce: string, webSeed: string): Buffer {
  return Buffer.from(bencode.encode({ announce, 'url-list': [webSeed], info: infoDictionary(t) }));
}

export class TorrentCatalog {
  private readonly records: Collection<BlobTorrent>;
  /** Hashing in progress, so concurrent first requests for a blob read it once. */
  private readonly computing = new Map<Digest, Promise<BlobTorrent>>();
  private readonly byHash = new Map<string, BlobTorrent>();

  constructor(
    meta: MetaStore,
    private readonly blobs: LinkedBlobs,
    private readonly log: Logger,
  ) {
    this.records = meta.collection<BlobTorrent>('p2p_torrents', { unique: ['digest', 'infoHash'] });
  }

  /** The blob's metainfo, computed and stored on first use. Undefined when the blob is not stored. */
  async forBlob(digest: Digest): Promise<BlobTorrent | undefined> {
    const stored = await this.records.findOne('digest', digest);
    if (stored) return this.remember(stored);
    let pending = this.computing.get(digest);
    if (!pending) {
      pending = this.compute(digest).finally(() => this.computing.delete(digest));
      this.computing.set(digest, pending);
    }
    return pending.then(
      (t) => t,
      (e: unknown) => {
        if (e instanceof BlobNotFoundError) return undefined;
        throw e;
      },
    );
  }

  async byInfoHash(infoHash: string): Promise<BlobTorrent | undefined> {
    const known = this.byHash.get(infoHash);
    if (known) return known;
    const stored = await this.records.findOne('infoHash', infoHash);
    return stored && this.remember(stored);
  }

  private remember(t: BlobTorrent): BlobTorrent {
    this.byHash.set(t.infoHash, t);
    return t;
  }

  private async compute(digest: Digest): Promise<BlobTorrent> {
    const info = await this.blobs.stored(digest);
    if (!info) throw new BlobNotFoundError(digest);
    const started = Date.now();
    const pieceLength = pieceLengthFor(info.size);
    const hashes: Buffer[] = [];
    let hash = createHash('sha1');
    let inPiece = 0;
    for await (const chunk of await this.blobs.open(digest)) {
      let c = chunk as Buffer;
      while (c.length > 0) {
        const take = Math.min(c.length, pieceLength - inPiece);
        hash.update(c.subarray(0, take));
        inPiece += take;
        c = c.subarray(take);
        if (inPiece === pieceLength) {
          hashes.push(hash.digest());
          hash = createHash('sha1');
          inPiece = 0;
        }
      }
    }
    if (inPiece > 0 || info.size === 0) hashes.push(hash.digest());
    const fields = { digest, size: info.size, pieceLength, pieces: Buffer.concat(hashes).toString('base64') };
    const record = { ...fields, infoHash: infoHashOf(infoDictionary(fields)), createdAt: Date.now() };
    this.log.debug({ digest, size: info.size, pieces: hashes.length, ms: Date.now() - started }, 'p2p metainfo computed');
    try {
      return this.remember(await this.records.insert(record));
    } catch (e) {
      // Another origin sharing the MetaStore stored it first; theirs is identical.
      if (!(e instanceof ConflictError)) throw e;
      const stored = await this.records.findOne('digest', digest);
      if (!stored) throw e;
      return this.remember(stored);
    }
  }
}
