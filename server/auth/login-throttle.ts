import { LRUCache } from 'lru-cache';

// Failed logins counted per key (a username, an address) in a window; a key over its limit is refused until the
// window ends, and each lockout in a row doubles the next window (up to MAX_WINDOW_FACTOR), so a patient guesser
// slows down geometrically while a user who mistyped waits one window. A successful login resets the key.
// In-process on purpose: a few lines, no shared state to lose, and an attacker spread over N instances gets N
// times the budget, which still bounds guessing. Memory is bounded by the LRUs.

export interface ThrottleLimits {
  maxFailures: number;
  windowMs: number;
}

interface Window {
  failures: number;
  startedAt: number;
  lengthMs: number;
}

/** The longest window, as a multiple of the configured one (15 min windows grow to at most 8 h). */
const MAX_WINDOW_FACTOR = 32;

export class LoginThrottle {
  private readonly windows: LRUCache<string, Window>;
  /** Lockouts in a row per key (how many times its window doubles), forgotten after two longest windows idle. */
  private readonly strikes: LRUCache<string, { count: number; at: number }>;

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly clock: () => number = Date.now,
  ) {
    this.windows = new LRUCache({ max: 100_000 });
    this.strikes = new LRUCache({ max: 100_000 });
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryAfterMs(key: string): number {
    const w = this.current(key);
    if (!w || w.failures < this.limits.maxFailures) return 0;
    return w.startedAt + w.lengthMs - this.clock();
  }

  recordFailure(key: string): void {
    let w = this.current(key);
    if (!w) {
      const factor = Math.min(2 ** this.strikeCount(key), MAX_WINDOW_FACTOR);
      w = { failures: 0, startedAt: this.clock(), lengthMs: this.limits.windowMs * factor };
      this.windows.set(key, w);
    }
    w.failures++;
    if (w.failures === this.limits.maxFailures) this.strikes.set(key, { count: this.strikeCount(key) + 1, at: this.clock() });
  }

  reset(key: string): void {
    this.windows.delete(key);
    this.strikes.delete(key);
  }

  private strikeCount(key: string): number {
    const s = this.strikes.get(key);
    return s && this.clock() - s.at < this.limits.windowMs * MAX_WINDOW_FACTOR * 2 ? s.count : 0;
  }

  private current(key: string): Window | undefined {
    const w = this.windows.get(key);
    if (w && this.clock() - w.startedAt >= w.lengthMs) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }
}
