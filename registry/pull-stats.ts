import type { Collection, MetaStore } from '../storage-adapters/meta/meta-store.js';
import { ConflictError } from '../storage-adapters/meta/meta-store.js';

// Pull counts per repository (Harbor's pull_count), counted on every manifest GET without a store write on that
// path: counts gather in memory and are added to the stored ones every few seconds and at shutdown. Instances
// sharing a MetaStore each add their own; two flushing the same repository at the same instant may lose one
// batch (a read-modify-write), which a count meant for people, not billing, can afford.

export interface PullStatRecord {
  id: number;
  repository: string;
  pulls: number;
  /** ISO time of the latest counted pull. */
  last_pull: string;
}

export class PullStats {
  private readonly stats: Collection<PullStatRecord>;
  private pending = new Map<string, { pulls: number; last: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    meta: MetaStore,
    private readonly flushMs = 5000,
  ) {
    this.stats = meta.collection<PullStatRecord>('pull_stats', { unique: ['repository'] });
  }

  /** One pull of `repository` (a manifest GET). */
  record(repository: string): void {
    const p = this.pending.get(repository);
    if (p) {
      p.pulls++;
      p.last = Date.now();
    } else {
      this.pending.set(repository, { pulls: 1, last: Date.now() });
    }
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush().catch(() => undefined), this.flushMs);
      this.timer.unref();
    }
  }

  /** Pulls counted so far, stored and not yet stored. */
  async of(repository: string): Promise<{ pulls: number; lastPull?: string }> {
    const stored = await this.stats.findOne('repository', repository);
    const p = this.pending.get(repository);
    const pulls = (stored?.pulls ?? 0) + (p?.pulls ?? 0);
    const lastPull = p ? new Date(p.last).toISOString() : stored?.last_pull;
    return { pulls, ...(lastPull && { lastPull }) };
  }

  /** Adds what gathered to the stored counts. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    for (const [repository, p] of batch) {
      const last = new Date(p.last).toISOString();
      for (let attempt = 0; attempt < 3; attempt++) {
        const stored = await this.stats.findOne('repository', repository);
        try {
          if (stored) await this.stats.update({ ...stored, pulls: stored.pulls + p.pulls, last_pull: last });
          else await this.stats.insert({ repository, pulls: p.pulls, last_pull: last });
          break;
        } catch (e) {
          // Another instance inserted it first: add to theirs.
          if (!(e instanceof ConflictError)) throw e;
        }
      }
    }
  }
}
