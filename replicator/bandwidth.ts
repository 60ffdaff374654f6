import type { Readable } from 'node:stream';
import { Throttle } from '../core/throttle.js';

// A policy's bandwidth limit (Harbor's `speed`, KB/s): one core Throttle shared by the policy's transfers, and
// the stream stage every transferred byte goes through: it waits its turn, counts bytes, reports progress (the
// idle watchdog) and stops when the task is stopped.

export { Throttle as Bandwidth, sleep } from '../core/throttle.js';

/** `src` through the bandwidth limit, counting bytes into `onBytes`; destroyed when `signal` aborts. */
export function metered(src: Readable, opts: { bandwidth?: Throttle; onBytes: (n: number) => void; signal?: AbortSignal }): Readable {
  return (opts.bandwidth ?? UNLIMITED).pace(src, { onBytes: opts.onBytes, signal: opts.signal });
}

const UNLIMITED = new Throttle(0);
