import { Transform, pipeline, type Readable } from 'node:stream';

// The origin's egress cap (BERTH_EGRESS_LIMIT): every blob byte the origin sends — GET, web-seed range, its own
// seeding — takes its turn from one schedule, so the cap holds for the sum of all paths, as a real link would.

/** Bytes sent ahead of schedule without waiting: small enough that the cap holds over any 100 ms. */
const burstMs = 20;

export class EgressLimiter {
  /** When the link is next free, in ms (performance.now() clock); each reservation pushes it forward. */
  private freeAt = 0;

  /** `bytesPerSecond` 0 means no cap. */
  constructor(readonly bytesPerSecond: number) {}

  get capped(): boolean {
    return this.bytesPerSecond > 0;
  }

  /** Resolves when `bytes` may be sent. Reservations are served in the order they were asked for. */
  take(bytes: number): Promise<void> | undefined {
    if (!this.capped) return undefined;
    const now = performance.now();
    const start = Math.max(now, this.freeAt);
    this.freeAt = start + (bytes * 1000) / this.bytesPerSecond;
    const wait = start - now - burstMs;
    return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : undefined;
  }

  /** `source` paced to the cap (the source itself when there is none). Errors travel to the result. */
  throttle(source: Readable): Readable {
    if (!this.capped) return source;
    // Chunks are split so that one large read cannot jump the queue of other streams by more than this.
    const slice = 64 * 1024;
    const paced = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        void (async () => {
          for (let off = 0; off < chunk.length; off += slice) {
            const part = chunk.subarray(off, off + slice);
            await this.take(part.length);
            paced.push(part);
          }
        })().then(() => done(), done);
      },
    });
    pipeline(source, paced, () => undefined);
    return paced;
  }
}
