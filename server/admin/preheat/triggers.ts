import type { Logger } from '../../../core/log.js';
import type { Collection, MetaStore } from '../../../storage-adapters/meta/meta-store.js';
import type { AccessRecords } from '../../auth/records.js';
import { CronSchedules } from '../cron-schedules.js';
import type { PreheatPolicyRecord, PreheatRecords } from './records.js';
import { matcher, type PreheatRunner } from './runner.js';

// The automatic preheat triggers. event_based: a tag pushed into a project runs its matching policies on that
// artifact, read from the MetaStore outbox by one instance at a time (a lease), its place kept in the store so
// a restart neither replays nor skips. scheduled: each policy's cron (../cron-schedules.ts: one instance runs
// each occurrence).

interface Cursor {
  id: number;
  name: string;
  seq: number;
}

const POLL_MS = 1000;

export class PreheatTriggers {
  private timer: NodeJS.Timeout | undefined;
  private readonly crons: CronSchedules;
  private readonly cursors: Collection<Cursor>;
  private busy = false;

  constructor(
    private readonly meta: MetaStore,
    private readonly records: PreheatRecords,
    private readonly access: AccessRecords,
    private readonly runner: PreheatRunner,
    private readonly log: Logger,
  ) {
    this.cursors = meta.collection<Cursor>('preheat_cursors', { unique: ['name'] });
    this.crons = new CronSchedules(meta, 'preheat', (id) => this.scheduled(id), log);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.crons.stop();
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const policies = (await this.records.policies.list({ where: { enabled: true }, limit: 10_000 })).items;
      this.schedule(policies.filter((p) => p.trigger.type === 'scheduled'));
      const onPush = policies.filter((p) => p.trigger.type === 'event_based');
      if (onPush.length > 0) await this.followPushes(onPush);
    } catch (err) {
      this.log.warn({ err }, 'preheat triggers');
    } finally {
      this.busy = false;
    }
  }

  private schedule(policies: PreheatPolicyRecord[]): void {
    this.crons.sync(policies.flatMap((p) => (p.trigger.trigger_setting?.cron ? [{ id: p.id, cron: p.trigger.trigger_setting.cron }] : [])));
  }

  private async scheduled(policyId: number): Promise<void> {
    const policy = await this.records.policies.get(policyId);
    const project = policy && (await this.access.projects.get(policy.project_id));
    if (!policy?.enabled || !project) return;
    const id = await this.runner.execute(policy, project.name, 'SCHEDULE');
    this.log.info({ policy: policy.name, project: project.name, execution: id }, 'preheat: scheduled run');
  }

  private async followPushes(policies: PreheatPolicyRecord[]): Promise<void> {
    const lock = await this.meta.acquireLock('preheat-events', 10_000);
    if (!lock) return;
    try {
      let cursor = await this.cursors.findOne('name', 'outbox');
      if (!cursor) {
        // From now on: pushes before the first event policy existed are not preheated.
        let seq = 0;
        for (let page = await this.meta.readOutbox(0, 1000); page.length > 0; page = await this.meta.readOutbox(seq, 1000)) seq = page[page.length - 1]!.seq;
        cursor = await this.cursors.insert({ name: 'outbox', seq });
      }
      const events = await this.meta.readOutbox(cursor.seq, 200);
      if (events.length === 0) return;
      const projects = new Map<number, string>();
      for (const p of policies) if (!projects.has(p.project_id)) projects.set(p.project_id, (await this.access.projects.get(p.project_id))?.name ?? '');
      for (const e of events) {
        // A replicated write is preheated where it lands too: the nodes of this IDC want it as much.
        if (e.type !== 'tag.put' || !e.tag) continue;
        for (const p of policies) {
          const project = projects.get(p.project_id);
          if (!project || !e.repository.startsWith(`${project}/`)) continue;
          if (!matcher(p.filters, 'repository')(e.repository.slice(project.length + 1)) || !matcher(p.filters, 'tag')(e.tag)) continue;
          const id = await this.runner.execute(p, project, 'EVENT', { repository: e.repository, tag: e.tag });
          this.log.info({ policy: p.name, repository: e.repository, tag: e.tag, execution: id }, 'preheat: on push');
        }
      }
      await this.cursors.update({ ...cursor, seq: events[events.length - 1]!.seq });
    } finally {
      await lock.release();
    }
  }
}
