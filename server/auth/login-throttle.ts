import { LRUCache } from 'lru-cache';

// Failed logins counted per key (a username, an address) in a fixed window; a key over its limit is refused
// until the window ends. In-process on purpose: a few lines, no shared state to lose, and an attacker spread
// over N instances gets N times the budget, which still bounds guessing. Memory is bounded by the LRU.

export interface ThrottleLimits {
  maxFailures: number;
  windowMs: number;
}

interface Window {
  failures: number;
  startedAt: number;
}

export class LoginThrottle {
  private readonly windows: LRUCache<string, Window>;

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly clock: () => number = Date.now,
  ) {
    this.windows = new LRUCache({ max: 100_000 });
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryAfterMs(key: string): number {
    const w = this.current(key);
    if (!w || w.failures < this.limits.maxFailures) return 0;
    return w.startedAt + this.limits.windowMs - this.clock();
  }

  recordFailure(key: string): void {
    const w = this.current(key);
    if (w) w.failures++;
    else this.windows.set(key, { failures: 1, startedAt: this.clock() });
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private current(key: string): Window | undefined {
    const w = this.windows.get(key);
    if (w && this.clock() - w.startedAt >= this.limits.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }
}
