import { Cron } from 'croner';
import type { Logger } from '../../core/log.js';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';

// Cron triggers of admin-defined jobs (preheat and retention policies). Every instance keeps the crons; a lock
// named after the job and the run's scheduled time lets exactly one instance run each occurrence.

export class CronSchedules {
  private readonly crons = new Map<number, { cron: Cron; spec: string }>();

  constructor(
    private readonly meta: MetaStore,
    /** The lock namespace, e.g. `retention`. */
    private readonly name: string,
    private readonly run: (id: number) => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Keeps exactly these crons (by job id), starting new ones and stopping those gone or changed. */
  sync(wanted: { id: number; cron: string }[]): void {
    const specs = new Map(wanted.map((w) => [w.id, w.cron]));
    for (const [id, c] of this.crons) {
      if (specs.get(id) === c.spec) continue;
      c.cron.stop();
      this.crons.delete(id);
    }
    for (const { id, cron: spec } of wanted) {
      if (this.crons.has(id)) continue;
      try {
        const cron = new Cron(spec, { protect: true }, (self: Cron) => void this.fire(id, self));
        this.crons.set(id, { cron, spec });
      } catch (err) {
        this.log.warn({ err, job: `${this.name}:${id}`, cron: spec }, 'cron schedule refused');
      }
    }
  }

  stop(): void {
    for (const { cron } of this.crons.values()) cron.stop();
    this.crons.clear();
  }

  private async fire(id: number, self: Cron): Promise<void> {
    const at = self.currentRun()?.getTime() ?? Math.floor(Date.now() / 1000) * 1000;
    try {
      const lock = await this.meta.acquireLock(`${this.name}-cron:${id}:${Math.floor(at / 1000)}`, 10 * 60_000);
      if (!lock) return; // another instance runs this occurrence
      await this.run(id);
    } catch (err) {
      this.log.warn({ err, job: `${this.name}:${id}` }, 'scheduled run failed');
    }
  }
}
