import type { Digest } from '../../core/digest.js';
import type { Logger } from '../../core/log.js';
import type { Collection, MetaStore } from '../../storage-adapters/meta/meta-store.js';
import type { Registry } from '../../registry/registry.js';

// Preheat: the origin asks seed agents (agents started with the seed role) to fetch an image's blobs before
// nodes ask for them. A task lists the blobs; seed agents long-poll for tasks and pull each blob through the
// swarm, so the origin still sends about one copy and the seeds are ready when the nodes come.

export interface PreheatTask {
  id: number;
  repository: string;
  tag: string;
  manifest: Digest;
  blobs: { digest: Digest; size: number }[];
  createdAt: number;
}

/** A seed agent's report on one task: how many of its blobs it fetched (or already held) and how many failed. */
export interface PreheatAck {
  id: number;
  task_id: number;
  peer: string;
  fetched: number;
  failed: number;
  at: number;
}

export class PreheatQueue {
  readonly tasks: Collection<PreheatTask>;
  readonly acks: Collection<PreheatAck>;

  constructor(
    meta: MetaStore,
    private readonly registry: Registry,
  ) {
    this.tasks = meta.collection<PreheatTask>('p2p_preheat');
    this.acks = meta.collection<PreheatAck>('p2p_preheat_acks');
  }

  /** Records a seed agent's report (inserts only: reports of several seeds never overwrite each other). */
  async ack(taskId: number, peer: string, fetched: number, failed: number): Promise<void> {
    await this.acks.insert({ task_id: taskId, peer, fetched, failed, at: Date.now() });
  }

  /** The reports on a task so far. */
  async results(taskId: number): Promise<PreheatAck[]> {
    return (await this.acks.list({ where: { task_id: taskId }, limit: 1000 })).items;
  }

  /** Creates a task for the image `repository:tag` points at; undefined when the tag is unknown. */
  async create(repository: string, tag: string): Promise<PreheatTask | undefined> {
    const record = await this.registry.manifests.resolve(repository, { kind: 'tag', tag });
    if (!record) return undefined;
    const manifest = record.digest;
    const blobs = await this.blobsOf(repository, manifest);
    return this.tasks.insert({ repository, tag, manifest, blobs, createdAt: Date.now() });
  }

  /** Tasks after `afterId`, oldest first. */
  async after(afterId: number, limit = 100): Promise<PreheatTask[]> {
    // Ids grow, so the newest tasks are at the end; read only the tail.
    const { items } = await this.tasks.list({ order: 'desc', limit: limit * 4 });
    return items.filter((t) => t.id > afterId).reverse().slice(0, limit);
  }

  /** Config and layer blobs of a manifest, through an index's children. */
  private async blobsOf(repository: string, digest: Digest, depth = 0): Promise<{ digest: Digest; size: number }[]> {
    const m = await this.registry.manifests.get(repository, digest);
    if (!m || depth > 2) return [];
    const out: { digest: Digest; size: number }[] = [];
    for (const b of m.blobs) {
      const size = await this.registry.blobs.linkedSize(repository, b);
      if (size !== undefined) out.push({ digest: b, size });
    }
    for (const child of m.children) out.push(...(await this.blobsOf(repository, child, depth + 1)));
    return [...new Map(out.map((b) => [b.digest, b])).values()];
  }
}

/**
 * The push-event policy: tags pushed to repositories matching `globs` become preheat tasks. One origin runs it
 * at a time (a MetaStore lease), reading the outbox from where it was when the origin started.
 */
export class PreheatOnPush {
  private timer: NodeJS.Timeout | undefined;
  private after = -1;
  private readonly patterns: RegExp[];

  constructor(
    private readonly meta: MetaStore,
    private readonly queue: PreheatQueue,
    globs: string,
    private readonly log: Logger,
  ) {
    this.patterns = globs
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean)
      .map((g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '.*').replace(/\?/g, '[^/]')}$`));
  }

  start(pollMs = 1000): void {
    if (this.patterns.length === 0) return;
    this.timer = setInterval(() => void this.poll().catch((err: unknown) => this.log.warn({ err }, 'p2p preheat-on-push poll failed')), pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  matches(repository: string): boolean {
    return this.patterns.some((p) => p.test(repository));
  }

  private async poll(): Promise<void> {
    const lock = await this.meta.acquireLock('p2p-preheat-on-push', 10_000);
    if (!lock) return;
    try {
      if (this.after < 0) {
        // Start at the end: pushes before this origin started are not preheated.
        let seq = 0;
        for (;;) {
          const page = await this.meta.readOutbox(seq, 1000);
          if (page.length === 0) break;
          seq = page[page.length - 1]!.seq;
        }
        this.after = seq;
        return;
      }
      const events = await this.meta.readOutbox(this.after, 200);
      for (const e of events) {
        this.after = e.seq;
        if (e.type !== 'tag.put' || !e.tag || !this.matches(e.repository)) continue;
        const task = await this.queue.create(e.repository, e.tag);
        if (task) this.log.info({ repository: e.repository, tag: e.tag, blobs: task.blobs.length }, 'p2p preheat task from push');
      }
    } finally {
      await lock.release();
    }
  }
}
