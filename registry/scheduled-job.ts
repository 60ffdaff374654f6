import { Cron } from 'croner';
import type { Logger } from '../core/log.js';
import type { Collection, MetaStore } from '../storage-adapters/meta/meta-store.js';
import { Lease } from './lease.js';

// A job as Harbor schedules its system jobs (GC, audit-log purge): a schedule (None, Hourly, Daily, Weekly,
// Custom cron) and manual runs, each a run record with status and log. Runs are made by whoever asks (any
// instance) and executed, one at a time, by the one instance per IDC holding the job's lease; the schedule's
// checked_until is stored, so a restart neither repeats nor skips a fire time.

export type RunStatus = 'Pending' | 'Running' | 'Success' | 'Error' | 'Stopped';

export interface RunRecord<P> {
  id: number;
  kind: 'MANUAL' | 'SCHEDULE';
  parameters: P;
  schedule: { type: string; cron: string };
  status: RunStatus;
  log: string;
  /** What the run reports (freed bytes, purged rows), shown with the parameters. */
  report?: Record<string, number>;
  creation_time: string;
  update_time: string;
}

/** What one run did: log lines and numbers; throwing, or ok false, makes the run Error. */
export interface RunOutcome {
  ok: boolean;
  lines: string[];
  report?: Record<string, number>;
}

export type ScheduleType = 'None' | 'Hourly' | 'Daily' | 'Weekly' | 'Custom';

export interface ScheduleRecord<P> {
  id: number;
  name: string;
  type: ScheduleType;
  /** Harbor's six-field cron (seconds first). */
  cron: string;
  parameters: P;
  /** Epoch ms up to which fire times were looked at: a restart neither repeats nor skips one. */
  checked_until: number;
  update_time: string;
}

export const PRESET_CRON: Record<Exclude<ScheduleType, 'None' | 'Custom'>, string> = {
  Hourly: '0 0 * * * *',
  Daily: '0 0 0 * * *',
  Weekly: '0 0 0 * * 0',
};

/** Throws on a cron croner cannot read (the admin API answers 400). */
export function checkCron(cron: string): void {
  new Cron(cron, { paused: true }).stop();
}

export class ScheduledJob<P extends object> {
  readonly runs: Collection<RunRecord<P>>;
  private readonly schedules: Collection<ScheduleRecord<P>>;
  private readonly lease: Lease;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(
    /** The job's name: its runs' collection, its schedule, its lease. */
    readonly name: string,
    private readonly meta: MetaStore,
    private readonly log: Logger,
    private readonly run: (parameters: P) => Promise<RunOutcome>,
    readonly defaults: P,
    private readonly pollMs = 1000,
  ) {
    this.runs = meta.collection<RunRecord<P>>(`${name}_runs`);
    this.schedules = meta.collection<ScheduleRecord<P>>('schedules', { unique: ['name'] });
    this.lease = new Lease(`schedule:${name}`, meta, log, () => undefined);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.lease.relinquish()?.release().catch(() => undefined);
  }

  async schedule(): Promise<ScheduleRecord<P> | undefined> {
    return this.schedules.findOne('name', this.name);
  }

  async setSchedule(type: ScheduleType, cron: string, parameters: P): Promise<ScheduleRecord<P>> {
    const effective = type === 'None' ? '' : type === 'Custom' ? cron : PRESET_CRON[type];
    if (effective) checkCron(effective);
    const next = { name: this.name, type, cron: effective, parameters, checked_until: Date.now(), update_time: new Date().toISOString() };
    const found = await this.schedule();
    if (found) {
      await this.schedules.update({ ...found, ...next });
      return { ...found, ...next };
    }
    return this.schedules.insert(next);
  }

  /** The next time the schedule fires, if it does. */
  nextRun(s: ScheduleRecord<P> | undefined): Date | undefined {
    if (!s?.cron) return undefined;
    return new Cron(s.cron, { paused: true }).nextRun() ?? undefined;
  }

  /** A run, executed by the lease holder at its next poll. */
  request(kind: RunRecord<P>['kind'], parameters: P, schedule: { type: string; cron: string } = { type: 'Manual', cron: '' }): Promise<RunRecord<P>> {
    const t = new Date().toISOString();
    return this.runs.insert({ kind, parameters, schedule, status: 'Pending', log: '', creation_time: t, update_time: t });
  }

  /** A Pending run is stopped before it starts; a Running one finishes (the collector has no stop point). */
  async stopRun(run: RunRecord<P>): Promise<boolean> {
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
      this.log.warn({ err, job: this.name }, 'scheduled job round failed');
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

  private async execute(run: RunRecord<P>): Promise<void> {
    const started = new Date();
    const lines = [`${started.toISOString()} [INFO] ${this.name} started: ${JSON.stringify(run.parameters)}`];
    await this.runs.update({ ...run, status: 'Running', log: lines.join('\n'), update_time: started.toISOString() });
    let status: RunStatus = 'Success';
    let report: Record<string, number> | undefined;
    try {
      const outcome = await this.run(run.parameters);
      for (const l of outcome.lines) lines.push(`${new Date().toISOString()} [${outcome.ok ? 'INFO' : 'ERROR'}] ${l}`);
      report = outcome.report;
      if (!outcome.ok) status = 'Error';
    } catch (err) {
      status = 'Error';
      lines.push(`${new Date().toISOString()} [ERROR] ${(err as Error).message}`);
    }
    const fresh = (await this.runs.get(run.id)) ?? run;
    await this.runs.update({ ...fresh, status, log: lines.join('\n') + '\n', ...(report && { report }), update_time: new Date().toISOString() });
  }
}
