import { Transform, type Readable, type TransformCallback } from 'node:stream';

// A policy's bandwidth limit (Harbor's `speed`, KB/s) as a token bucket shared by the policy's transfers, and
// the stream stage every transferred byte goes through: it waits for tokens, counts bytes, reports progress
// (the idle watchdog) and stops when the task is stopped.

export class Bandwidth {
  private tokens: number;
  private last = Date.now();
  private readonly burst: number;

  /** `bytesPerSecond` ≤ 0: unlimited. */
  constructor(readonly bytesPerSecond: number) {
    this.burst = Math.max(16 * 1024, Math.floor(bytesPerSecond / 10));
    this.tokens = this.burst;
  }

  get limited(): boolean {
    return this.bytesPerSecond > 0;
  }

  /** Resolves once `n` bytes (≤ burst) may pass. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (!this.limited) return;
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
      this.last = now;
      if (this.tokens >= n) {
        this.tokens -= n;
        return;
      }
      const wait = Math.ceil(((n - this.tokens) / this.bytesPerSecond) * 1000);
      await sleep(Math.max(1, wait), signal);
    }
  }

  /** The largest piece handed to take() at once. */
  get piece(): number {
    return this.burst;
  }
}

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

/** `src` through the bandwidth limit, counting bytes into `onBytes`; destroyed when `signal` aborts. */
export function metered(src: Readable, opts: { bandwidth?: Bandwidth; onBytes: (n: number) => void; signal?: AbortSignal }): Readable {
  const { bandwidth, onBytes, signal } = opts;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      void (async () => {
        try {
          if (!bandwidth?.limited) {
            onBytes(chunk.length);
            done(null, chunk);
            return;
          }
          for (let i = 0; i < chunk.length; i += bandwidth.piece) {
            const piece = chunk.subarray(i, i + bandwidth.piece);
            await bandwidth.take(piece.length, signal);
            onBytes(piece.length);
            this.push(piece);
          }
          done();
        } catch (e) {
          done(e as Error);
        }
      })();
    },
  });
  const onAbort = () => {
    const reason = signal!.reason instanceof Error ? signal!.reason : new Error('stopped');
    t.destroy(reason);
    src.destroy(reason);
  };
  if (signal?.aborted) queueMicrotask(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
  t.once('close', () => signal?.removeEventListener('abort', onAbort));
  src.once('error', (e) => t.destroy(e));
  t.once('close', () => src.destroy());
  return src.pipe(t);
}
