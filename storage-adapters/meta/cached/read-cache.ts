// What the cached MetaStore holds: answers that found something, each for at most `ttlMs` after the read that
// fetched it began, concurrent misses sharing one read, and a read overtaken by an invalidation never stored.
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';

export type Kind = 't' | 'm' | 'l'; // tag, manifest record, blob link

interface Flight {
  promise: Promise<unknown>;
  /** Set when an invalidation arrives while the read is under way: its answer may predate the change. */
  spoiled: boolean;
}

export class ReadCache {
  private readonly lru: LRUCache<string, object>;
  private readonly flights = new Map<string, Flight>();
  /** Bumped when the whole cache is dropped: reads begun before must not store their answers. */
  private epoch = 0;
  private counts = { hits: 0, misses: 0, invalidations: 0 };

  /** `listening`: whether changes made elsewhere reach us now; while not, nothing is cached. */
  constructor(
    private readonly ttlMs: number,
    maxEntries: number,
    private readonly listening: () => boolean,
  ) {
    this.lru = new LRUCache<string, object>({ max: maxEntries, ttl: Math.max(1, this.ttlMs) });
  }

  /** Hits, misses and invalidations applied since start (tests, diagnostics). */
  stats(): { hits: number; misses: number; invalidations: number; entries: number } {
    return { ...this.counts, entries: this.lru.size };
  }

  /** The cached answer for (repo, kind, id), or the store's; concurrent misses share one read. */
  async get<T extends object>(repo: string, kind: Kind, id: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    if (!this.enabled()) return load();
    const key = keyOf(repo, kind, id);
    const hit = this.lru.get(key);
    if (hit !== undefined) {
      this.counts.hits++;
      // Callers own what they get (as from the store itself): a caller changing it must not change the cache.
      return structuredClone(hit) as T;
    }
    const shared = this.flights.get(key);
    if (shared) return shared.promise.then((v) => (v === undefined ? v : structuredClone(v))) as Promise<T | undefined>;
    this.counts.misses++;
    const started = performance.now();
    const epoch = this.epoch;
    const flight: Flight = { promise: Promise.resolve(), spoiled: false };
    flight.promise = (async () => {
      try {
        const value = await load();
        // The entry expires ttlMs after the read began, so what it holds is never older than that.
        const left = this.ttlMs - (performance.now() - started);
        if (value !== undefined && !flight.spoiled && epoch === this.epoch && this.enabled() && left >= 1) {
          this.lru.set(key, structuredClone(value), { ttl: Math.floor(left) });
        }
        return value;
      } finally {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      }
    })();
    this.flights.set(key, flight);
    return flight.promise as Promise<T | undefined>;
  }

  /** Drops the entries of `repo` named by `keys`, or all of its entries. */
  invalidate(repo: string, keys: [Kind, string][] | undefined): void {
    this.counts.invalidations++;
    if (keys) {
      for (const [kind, id] of keys) this.forget(keyOf(repo, kind, id));
      return;
    }
    const prefix = `${repo}\0`;
    for (const key of [...this.lru.keys()]) if (key.startsWith(prefix)) this.lru.delete(key);
    for (const key of [...this.flights.keys()]) if (key.startsWith(prefix)) this.forget(key);
  }

  private forget(key: string): void {
    this.lru.delete(key);
    const flight = this.flights.get(key);
    if (flight) {
      flight.spoiled = true;
      this.flights.delete(key);
    }
  }

  dropAll(): void {
    this.epoch++;
    this.lru.clear();
    for (const f of this.flights.values()) f.spoiled = true;
    this.flights.clear();
  }

  private enabled(): boolean {
    return this.ttlMs > 0 && this.listening();
  }
}

function keyOf(repo: string, kind: Kind, id: string): string {
  return `${repo}\0${kind}\0${id}`;
}
