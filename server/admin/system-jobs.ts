import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { idParam } from '../../core/harbor-api/params.js';
import { created, ok } from '../../core/harbor-api/responses.js';
import type { RunRecord, ScheduledJob, ScheduleType } from '../../registry/scheduled-job.js';
import { auditChange, requireSysadmin, type AdminDeps } from './context.js';

// Harbor's scheduled system jobs, one route family each (system admins): /system/gc and /system/purgeaudit —
// the schedule, manual runs (POST schedule with type Manual), history, one run, its log, stopping a pending run.
// The runs are registry/scheduled-job.ts.

export const scheduleBody = <S extends z.ZodTypeAny>(parameters: S) =>
  z.object({
    schedule: z.object({ type: z.enum(['None', 'Hourly', 'Daily', 'Weekly', 'Custom', 'Manual', 'Schedule']), cron: z.string().max(256).optional() }),
    parameters: parameters.optional(),
  });

export interface SystemJob<P extends object, S extends z.ZodTypeAny> {
  base: string;
  /** Harbor's job_name in the history. */
  jobName: string;
  job: ScheduledJob<P>;
  parameters: S;
  /** The parameters to store from what was sent (defaults filled in). */
  read: (sent: z.infer<S> | undefined) => P;
}

export function systemJobRoutes<P extends object, S extends z.ZodTypeAny>(router: Router, a: AdminDeps, s: SystemJob<P, S>): void {
  const body = scheduleBody(s.parameters);
  const response = (r: RunRecord<P>) => ({
    id: r.id,
    job_name: s.jobName,
    job_kind: r.kind,
    job_parameters: JSON.stringify({ ...r.parameters, ...r.report }),
    schedule: r.schedule,
    job_status: r.status,
    deleted: false,
    creation_time: r.creation_time,
    update_time: r.update_time,
  });
  const runParam = async (ctx: Context): Promise<RunRecord<P>> => {
    const id = idParam(ctx, 'id');
    const run = await s.job.runs.get(id);
    if (!run) throw notFound(`${s.jobName} run ${id} not found`);
    return run;
  };
  const setSchedule = async (ctx: Context, isPost: boolean) => {
    await requireSysadmin(ctx, a);
    const sent = await readBody(ctx, body);
    const parameters = s.read(sent.parameters as z.infer<S> | undefined);
    const type = sent.schedule.type;
    if (type === 'Manual') {
      if (!isPost) throw badRequest('a manual run is started with POST');
      const run = await s.job.request('MANUAL', parameters);
      await auditChange(ctx, a, { operation: 'create', resource_type: s.job.name, resource: `run ${run.id}`, operation_description: JSON.stringify(parameters) });
      created(ctx, `/api/v2.0${s.base}/${run.id}`);
      return;
    }
    if (type === 'Schedule') throw badRequest('schedule type must be None, Hourly, Daily, Weekly, Custom or Manual');
    if (type === 'Custom' && !sent.schedule.cron) throw badRequest('a Custom schedule needs a cron');
    try {
      await s.job.setSchedule(type as ScheduleType, sent.schedule.cron ?? '', parameters);
    } catch (e) {
      throw badRequest(`invalid cron ${JSON.stringify(sent.schedule.cron)}: ${(e as Error).message}`);
    }
    await auditChange(ctx, a, { operation: 'update', resource_type: s.job.name, resource: 'schedule', operation_description: `${type} ${sent.schedule.cron ?? ''}` });
    if (isPost) created(ctx, `/api/v2.0${s.base}/schedule`);
    else ok(ctx);
  };

  router.get(s.base, async (ctx) => {
    await requireSysadmin(ctx, a);
    const p = paging(ctx);
    const { items, total } = await s.job.runs.list({ order: 'desc', offset: p.offset, limit: p.limit });
    pageOf(ctx, new Array<number>(total).fill(0), p); // the paging headers for `total`
    ctx.body = items.map(response);
  });
  router.get(`${s.base}/schedule`, async (ctx) => {
    await requireSysadmin(ctx, a);
    const sch = await s.job.schedule();
    const next = s.job.nextRun(sch);
    ctx.body = {
      schedule: { type: sch?.type ?? 'None', cron: sch?.cron ?? '', ...(next && { next_scheduled_time: next.toISOString() }) },
      parameters: sch?.parameters ?? s.job.defaults,
      ...(sch && { update_time: sch.update_time }),
    };
  });
  router.post(`${s.base}/schedule`, (ctx) => setSchedule(ctx, true));
  router.put(`${s.base}/schedule`, (ctx) => setSchedule(ctx, false));
  router.get(`${s.base}/:id`, async (ctx) => {
    await requireSysadmin(ctx, a);
    ctx.body = response(await runParam(ctx));
  });
  router.put(`${s.base}/:id`, async (ctx) => {
    await requireSysadmin(ctx, a);
    const run = await runParam(ctx);
    if (!(await s.job.stopRun(run))) throw badRequest(`run ${run.id} is ${run.status}: only a pending run can be stopped`);
    ok(ctx);
  });
  router.get(`${s.base}/:id/log`, async (ctx) => {
    await requireSysadmin(ctx, a);
    ctx.type = 'text/plain';
    ctx.body = (await runParam(ctx)).log;
  });
}
