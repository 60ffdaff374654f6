import Wire from 'bittorrent-protocol';

// The bittorrent-protocol wire with a cheaper receive path. The library joins everything it has buffered each time a
// chunk arrives while a message is incomplete: a message spanning n socket reads is joined n times into ever larger
// buffers (a 512 KiB piece in 64 KiB reads: 2.3 MiB copied, and as much garbage). Here a message that arrives whole
// is handed on as a view of the chunk, and one that does not is copied once into a buffer of its exact size as its
// bytes come in. Between Berth peers a block is a whole piece, so that buffer becomes the piece.

/**
 * The largest message accepted: a block of the largest piece the origin makes (4 MiB), plus its header. The
 * library buffers whatever length a peer announces; a peer announcing more than this is cut off.
 */
export const maxMessageBytes = 4 * 1024 * 1024 + 1024;

/** Messages larger than this are piece data (every control message is smaller): their bytes count as progress. */
const bulkMessage = 4096;

export class PeerWire extends Wire {
  /**
   * Bytes of piece messages received so far, counted as they arrive, not when a message completes: on a thin link
   * a whole-piece block takes seconds, and progress must be seen while it flows (request timeouts, stall clock).
   */
  pieceBytes = 0;
  /** The message being assembled from several chunks, and how much of it has arrived. */
  private partial: Uint8Array | undefined;
  private partialFilled = 0;

  constructor(type: 'tcpIncoming' | 'tcpOutgoing') {
    // No protocol encryption: the library's own receive path handles that, and Berth never enables it.
    super(type);
  }

  override _write(data: Uint8Array, cb: (err?: Error | null) => void): void {
    this.feed(data);
    cb(null);
  }

  /** Hands every complete message in `chunk` to the library's parser (which sets the size of the next one). */
  private feed(chunk: Uint8Array): void {
    let at = 0;
    while (!this.destroyed) {
      if (this.partial) {
        const out = this.partial;
        const n = Math.min(out.length - this.partialFilled, chunk.length - at);
        out.set(n === chunk.length ? chunk : chunk.subarray(at, at + n), this.partialFilled);
        this.partialFilled += n;
        if (out.length > bulkMessage) this.pieceBytes += n;
        at += n;
        if (this.partialFilled < out.length) return;
        this.partial = undefined;
        this._parser(out);
        continue;
      }
      const size = this._parserSize;
      // After the stream finished the library waits for Number.MAX_VALUE bytes: nothing more is parsed.
      if (this._finished) return;
      if (size > maxMessageBytes) {
        this.destroy();
        return;
      }
      const left = chunk.length - at;
      if (left >= size) {
        const message = chunk.subarray(at, at + size);
        at += size;
        if (size > bulkMessage) this.pieceBytes += size;
        this._parser(message);
        continue;
      }
      if (left === 0) return;
      this.partial = Buffer.allocUnsafe(size);
      this.partialFilled = 0;
    }
  }
}
