import type { Collection, MetaStore } from '../storage-adapters/meta/meta-store.js';
import { ConflictError } from '../storage-adapters/meta/meta-store.js';

// Pull counts per repository (Harbor's pull_count) and the time of the latest pull per artifact and per tag
// (Harbor's pull_time), recorded on every manifest GET without a store write on that path: they gather in
// memory and are stored every few seconds and at shutdown. Instances sharing a MetaStore each add their own;
// two flushing the same repository at the same instant may lose one batch (a read-modify-write), which a count
// meant for people, not billing, can afford. A pull time only moves forward, so a lost race loses nothing.

export interface PullStatRecord {
  id: number;
  repository: string;
  pulls: number;
  /** ISO time of the latest counted pull. */
  last_pull: string;
}

/** The latest pull of one artifact (`<repository>@<digest>`) or tag (`<repository>:<tag>`). */
export interface PullTimeRecord {
  id: number;
  key: string;
  /** ISO time. */
  last_pull: string;
}

const artifactKey = (repository: string, digest: string) => `${repository}@${digest}`;
const tagKey = (repository: string, tag: string) => `${repository}:${tag}`;

export class PullStats {
  private readonly stats: Collection<PullStatRecord>;
  private readonly times: Collection<PullTimeRecord>;
  private pending = new Map<string, { pulls: number; last: number }>();
  private pendingTimes = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    meta: MetaStore,
    private readonly flushMs = 5000,
  ) {
    this.stats = meta.collection<PullStatRecord>('pull_stats', { unique: ['repository'] });
    this.times = meta.collection<PullTimeRecord>('pull_times', { unique: ['key'] });
  }

  /** One pull of `repository` (a manifest GET): of the manifest `digest`, by `tag` when it was asked by tag. */
  record(repository: string, digest?: string, tag?: string): void {
    const now = Date.now();
    const p = this.pending.get(repository);
    if (p) {
      p.pulls++;
      p.last = now;
    } else {
      this.pending.set(repository, { pulls: 1, last: now });
    }
    if (digest) this.pendingTimes.set(artifactKey(repository, digest), now);
    if (tag) this.pendingTimes.set(tagKey(repository, tag), now);
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

  /** The ISO time `digest` was last pulled from `repository`; undefined when never. */
  artifactPulled(repository: string, digest: string): Promise<string | undefined> {
    return this.timeOf(artifactKey(repository, digest));
  }

  /** The ISO time `repository:tag` was last pulled by that tag; undefined when never. */
  tagPulled(repository: string, tag: string): Promise<string | undefined> {
    return this.timeOf(tagKey(repository, tag));
  }

  private async timeOf(key: string): Promise<string | undefined> {
    const pending = this.pendingTimes.get(key);
    if (pending !== undefined) return new Date(pending).toISOString();
    return (await this.times.findOne('key', key))?.last_pull;
  }

  /** Adds what gathered to the stored counts and times. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    const times = this.pendingTimes;
    this.pending = new Map();
    this.pendingTimes = new Map();
    for (const [repository, p] of batch) {
      const last = new Date(p.last).toISOString();
      await this.upsert(
        () => this.stats.findOne('repository', repository),
        (stored) => (stored ? this.stats.update({ ...stored, pulls: stored.pulls + p.pulls, last_pull: last }) : this.stats.insert({ repository, pulls: p.pulls, last_pull: last })),
      );
    }
    for (const [key, at] of times) {
      const last = new Date(at).toISOString();
      await this.upsert(
        () => this.times.findOne('key', key),
        async (stored) => {
          if (!stored) await this.times.insert({ key, last_pull: last });
          else if (stored.last_pull < last) await this.times.update({ ...stored, last_pull: last });
        },
      );
    }
  }

  /** Read then write; another instance inserting first makes the write apply to theirs. */
  private async upsert<T>(read: () => Promise<T | undefined>, write: (stored: T | undefined) => Promise<unknown>): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await write(await read());
        return;
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
      }
    }
  }
}
