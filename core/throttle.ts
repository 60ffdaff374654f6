import { Transform, pipeline, type Readable } from 'node:stream';

// One throttler for every byte stream Berth paces: the origin's egress cap (GETs, web seed, its own seeding share
// one schedule, as a real link would) and a replication policy's bandwidth limit (shared by the policy's
// transfers). Reservations are served in the order they were asked for, so concurrent streams share fairly.

/** Bytes sent ahead of schedule without waiting: small enough that the rate holds over any 100 ms. */
const BURST_MS = 20;
/** A chunk is split so that one large read cannot jump the queue of other streams by more than this. */
const SLICE = 64 * 1024;

export class Throttle {
  /** When the link is next free, in ms (performance.now() clock); each reservation pushes it forward. */
  private freeAt = 0;

  /** `bytesPerSecond` ≤ 0: unlimited. */
  constructor(readonly bytesPerSecond: number) {}

  get limited(): boolean {
    return this.bytesPerSecond > 0;
  }

  /** Resolves when `bytes` may be sent (undefined: right now); rejects with the signal's reason on abort. */
  take(bytes: number, signal?: AbortSignal): Promise<void> | undefined {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (!this.limited) return undefined;
    const now = performance.now();
    const start = Math.max(now, this.freeAt);
    this.freeAt = start + (bytes * 1000) / this.bytesPerSecond;
    const wait = start - now - BURST_MS;
    return wait > 0 ? sleep(wait, signal) : undefined;
  }

  /**
   * `source` paced to the limit, each byte counted into `onBytes` as it passes; an abort of `signal` destroys
   * both with its reason. Errors travel to the result. Unlimited, uncounted and unstoppable: `source` itself.
   */
  pace(source: Readable, opts: { onBytes?: (n: number) => void; signal?: AbortSignal } = {}): Readable {
    const { onBytes, signal } = opts;
    if (!this.limited && !onBytes && !signal) return source;
    const paced = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        void (async () => {
          for (let off = 0; off < chunk.length; off += SLICE) {
            const part = chunk.subarray(off, off + SLICE);
            await this.take(part.length, signal);
            onBytes?.(part.length);
            paced.push(part);
          }
        })().then(() => done(), done);
      },
    });
    pipeline(source, paced, () => undefined);
    if (signal) {
      const onAbort = () => paced.destroy(signal.reason instanceof Error ? signal.reason : new Error('stopped'));
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener('abort', onAbort, { once: true });
      paced.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return paced;
  }
}

/** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
