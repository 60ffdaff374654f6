import type { Logger } from '../core/log.js';
import type { AgentMetrics } from './metrics.js';
import type { Peer } from './peer.js';
import type { PieceStore } from './piece-store.js';
import { pieceSize, type Torrent } from './torrent.js';

// What we send the peers we unchoke (choking.ts says which): blocks of verified pieces, from memory or disk.

/** Largest block served to a standard client (128 KiB is the usual cap); Berth peers may ask for whole pieces. */
const maxBlock = 128 * 1024;

export type Respond = (err: Error | null, block?: Uint8Array) => void;

export class Seeder {
  /** Bytes sent to peers (reported to the tracker). */
  uploaded = 0;

  constructor(
    private readonly torrent: Torrent,
    private readonly store: PieceStore,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
  ) {}

  /** Answers a peer's request: the block, or an error for a piece we lack or a block out of bounds. */
  serve(peer: Peer, index: number, offset: number, length: number, respond: Respond): void {
    if (index >= this.torrent.pieceCount || !this.store.have.has(index) || length === 0 || length > Math.max(maxBlock, peer.blockLimit) || offset + length > pieceSize(this.torrent, index)) {
      respond(new Error('cannot serve that'));
      return;
    }
    this.store.read(index).then(
      (data) => {
        if (peer.closed) return;
        this.uploaded += length;
        this.metrics.bytesToPeers.inc(length);
        peer.batch();
        respond(null, data.subarray(offset, offset + length));
      },
      (err: unknown) => {
        this.log.warn({ err, index }, 'p2p: reading a piece for a peer failed');
        respond(err as Error);
      },
    );
  }
}
