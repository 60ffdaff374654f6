import { Cron } from 'croner';
import type { Logger } from '../core/log.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { Collection, MetaStore } from '../storage-adapters/meta/meta-store.js';
import { collectGarbage, type GcReport } from './gc.js';
import { Lease } from './lease.js';

// GC as Harbor runs it: a schedule (None, Hourly, Daily, Weekly, Custom cron) and manual runs, each a run record
// with status and log. Runs are made by whoever asks (any instance) and executed by the one instance per IDC
// holding the "schedules" lease, one at a time; the online collector underneath keeps its own lock too.

export interface GcParameters {
  delete_untagged: boolean;
  dry_run: boolean;
  workers: number;
}

export type GcRunStatus = 'Pending' | 'Running' | 'Success' | 'Error' | 'Stopped';

export interface GcRunRecord {
  id: number;
  kind: 'MANUAL' | 'SCHEDULE';
  parameters: GcParameters;
  schedule: { type: string; cron: string };
  status: GcRunStatus;
  log: string;
  report?: GcReport;
  creation_time: string;
  update_time: string;
}

export type ScheduleType = 'None' | 'Hourly' | 'Daily' | 'Weekly' | 'Custom';

export interface ScheduleRecord {
  id: number;
  name: string;
  type: ScheduleType;
  /** Harbor's six-field cron (seconds first). */
  cron: string;
  parameters: GcParameters;
  /** Epoch ms up to which fire times were looked at: a restart neither repeats nor skips one. */
  checked_until: number;
  update_time: string;
}

export const PRESET_CRON: Record<Exclude<ScheduleType, 'None' | 'Custom'>, string> = {
  Hourly: '0 0 * * * *',
  Daily: '0 0 0 * * *',
  Weekly: '0 0 0 * * 0',
};
export const DEFAULT_GC_PARAMETERS: GcParameters = { delete_untagged: true, dry_run: false, workers: 1 };

/** Throws on a cron croner cannot read (the admin API answers 400). */
export function checkCron(cron: string): void {
  new Cron(cron, { paused: true }).stop();
}

export class GcSchedule {
  readonly runs: Collection<GcRunRecord>;
  private readonly schedules: Collection<ScheduleRecord>;
  private readonly lease: Lease;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(
    private readonly stores: { blobs: BlobStore; meta: MetaStore; log: Logger },
    private readonly gc: { graceMs: number; uploadTtlMs: number },
    private readonly pollMs = 1000,
  ) {
    this.runs = stores.meta.collection<GcRunRecord>('gc_runs');
    this.schedules = stores.meta.collection<ScheduleRecord>('schedules', { unique: ['name'] });
    this.lease = new Lease('schedules', stores.meta, stores.log, () => undefined);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.lease.relinquish()?.release().catch(() => undefined);
  }

  async schedule(): Promise<ScheduleRecord | undefined> {
    return this.schedules.findOne('name', 'gc');
  }

  async setSchedule(type: ScheduleType, cron: string, parameters: GcParameters): Promise<ScheduleRecord> {
    const effective = type === 'None' ? '' : type === 'Custom' ? cron : PRESET_CRON[type];
    if (effective) checkCron(effective);
    const next = { name: 'gc', type, cron: effective, parameters, checked_until: Date.now(), update_time: new Date().toISOString() };
    const found = await this.schedule();
    if (found) {
      await this.schedules.update({ ...found, ...next });
      return { ...found, ...next };
    }
    return this.schedules.insert(next);
  }

  /** The next time the schedule fires, if it does. */
  nextRun(s: ScheduleRecord | undefined): Date | undefined {
    if (!s?.cron) return undefined;
    return new Cron(s.cron, { paused: true }).nextRun() ?? undefined;
  }

  /** A run, executed by the lease holder at its next poll. */
  request(kind: GcRunRecord['kind'], parameters: GcParameters, schedule: { type: string; cron: string } = { type: 'Manual', cron: '' }): Promise<GcRunRecord> {
    const t = new Date().toISOString();
    return this.runs.insert({ kind, parameters, schedule, status: 'Pending', log: '', creation_time: t, update_time: t });
  }

  /** A Pending run is stopped before it starts; a Running one finishes (the collector has no stop point). */
  async stopRun(run: GcRunRecord): Promise<boolean> {
    if (run.status !== 'Pending') return false;
    await this.runs.update({ ...run, status: 'Stopped', update_time: new Date().toISOString() });
    return true;
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (!this.lease.held && !(await this.lease.take())) return;
      await this.fireSchedule();
      const { items } = await this.runs.list({ where: { status: 'Pending' }, order: 'asc', limit: 1 });
      if (items[0]) await this.execute(items[0]);
    } catch (err) {
      this.stores.log.warn({ err }, 'gc schedule round failed');
    } finally {
      this.ticking = false;
    }
  }

  /** A fire time passed since the last look: one scheduled run (several missed ones collapse into it). */
  private async fireSchedule(): Promise<void> {
    const s = await this.schedule();
    if (!s?.cron) return;
    const now = Date.now();
    const due = new Cron(s.cron, { paused: true }).nextRun(new Date(s.checked_until));
    if (!due || due.getTime() > now) return;
    await this.schedules.update({ ...s, checked_until: now });
    await this.request('SCHEDULE', s.parameters, { type: s.type, cron: s.cron });
  }

  private async execute(run: GcRunRecord): Promise<void> {
    const started = new Date();
    const lines = [`${started.toISOString()} [INFO] garbage collection started: ${JSON.stringify(run.parameters)}`];
    await this.runs.update({ ...run, status: 'Running', log: lines.join('\n'), update_time: started.toISOString() });
    let status: GcRunStatus = 'Success';
    let report: GcReport | undefined;
    try {
      report = await collectGarbage(this.stores, { ...this.gc, dryRun: run.parameters.dry_run });
      if (report.skipped) {
        status = 'Error';
        lines.push(`${new Date().toISOString()} [ERROR] another collector holds the GC lock; nothing done`);
      } else {
        lines.push(
          `${new Date().toISOString()} [INFO] ${run.parameters.dry_run ? 'dry run: would delete' : 'deleted'} ${report.manifestsDeleted} manifests, ${report.linksDeleted} blob links, ${report.blobsDeleted} blobs (${report.bytesFreed} bytes), purged ${report.uploadsPurged} uploads in ${report.ms} ms`,
        );
      }
    } catch (err) {
      status = 'Error';
      lines.push(`${new Date().toISOString()} [ERROR] ${(err as Error).message}`);
    }
    const fresh = (await this.runs.get(run.id)) ?? run;
    await this.runs.update({ ...fresh, status, log: lines.join('\n') + '\n', ...(report && { report }), update_time: new Date().toISOString() });
  }
}
