import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import Wire from 'bittorrent-protocol';
import { agentPeerIdPrefix, parseBerthPeerId, takesWholePieces } from '../core/p2p-peer-id.js';
import type { PieceSource } from './piece-source.js';
import { PieceSet } from './torrent.js';

// One connection to a peer: the bittorrent-protocol wire over a TCP socket, plus what the swarm tracks about it.

/** BEP 3 block size: what every client accepts. */
export const standardBlock = 16 * 1024;
/** Blocks between Berth peers of version 0100. */
const berthV1Block = 64 * 1024;
/** From version 0200: a whole piece (every piece the origin makes: 4 MiB at most, see server/p2p/metainfo.ts). */
export const wholePieceBlock = 4 * 1024 * 1024;

export function newPeerId(): Buffer {
  return Buffer.concat([Buffer.from(agentPeerIdPrefix), randomBytes(12)]);
}

/** Pipes a socket into a wire and back; either side closing tears down both. */
export function connectWire(socket: Socket, wire: Wire, onClose: () => void): void {
  socket.setNoDelay(true);
  socket.pipe(wire as unknown as NodeJS.WritableStream);
  wire.pipe(socket);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    socket.destroy();
    wire.destroy();
    onClose();
  };
  socket.on('error', close);
  socket.on('close', close);
  wire.on('error', close);
  wire.on('close', close);
  wire.on('end', close);
}

export interface BlockRequest {
  piece: number;
  block: number;
  length: number;
  at: number;
}

export class Peer implements PieceSource {
  readonly kind = 'peer';
  readonly has: PieceSet;
  readonly inflight = new Map<string, BlockRequest>();
  strikes = 0;
  timeouts = 0;
  unchokedAt = 0;
  interestedAt = 0;
  closed = false;
  /** We called it at the address the tracker gave (so that address is worth reporting). */
  outgoing = false;
  readonly idHex: string;
  readonly isOrigin: boolean;
  readonly isBerth: boolean;
  /** The largest block this peer is asked for (and, for Berth peers, served). */
  readonly blockLimit: number;
  /** When piece bytes last arrived from this peer (or it was admitted). */
  dataAt = Date.now();
  /** Piece bytes per second from this peer, a moving average over the swarm's ticks. */
  rate = 0;
  private bytesSeen = 0;
  private sampledAt = Date.now();

  constructor(
    readonly wire: Wire,
    readonly socket: Socket,
    readonly addr: string,
    pieceCount: number,
  ) {
    this.has = new PieceSet(pieceCount);
    const id = wire.peerIdBuffer ? Buffer.from(wire.peerIdBuffer) : Buffer.alloc(20);
    this.idHex = id.toString('hex');
    const berth = parseBerthPeerId(id);
    this.isOrigin = berth?.role === 'origin';
    this.isBerth = !!berth;
    this.blockLimit = !berth ? standardBlock : takesWholePieces(berth) ? wholePieceBlock : berthV1Block;
  }

  get label(): string {
    return this.addr;
  }

  /** Piece bytes received since the last call; updates `rate` and `dataAt` (the swarm's tick calls it). */
  sample(now: number): number {
    // PeerWire counts them (peer-wire.ts); a plain wire in a test counts nothing.
    const total = (this.wire as unknown as { pieceBytes?: number }).pieceBytes ?? 0;
    const got = total - this.bytesSeen;
    const dt = now - this.sampledAt;
    this.bytesSeen = total;
    this.sampledAt = now;
    if (got > 0) this.dataAt = now;
    if (dt > 0) this.rate = 0.7 * this.rate + 0.3 * ((got * 1000) / dt);
    return got;
  }

  /**
   * Holds this connection's writes until the end of the event-loop turn, so the small messages written now
   * (HAVEs, requests, block headers) leave in one writev instead of one syscall and one packet each. The wire
   * hands data to the socket in microtasks, hence setImmediate rather than nextTick for the release.
   */
  batch(): void {
    if (this.corked || this.closed) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  private corked = false;

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.wire.destroy();
  }
}
