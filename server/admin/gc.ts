import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { idParam } from '../../core/harbor-api/params.js';
import { created, ok } from '../../core/harbor-api/responses.js';
import { DEFAULT_GC_PARAMETERS, type GcRunRecord, type GcSchedule, type ScheduleType } from '../../registry/gc-schedule.js';
import { auditChange, requireSysadmin, type AdminDeps } from './context.js';

// Harbor's /system/gc: the schedule, manual runs, history and logs (system admins). The runs are
// registry/gc-schedule.ts over the online collector.

const schedule = z.object({
  schedule: z.object({ type: z.enum(['None', 'Hourly', 'Daily', 'Weekly', 'Custom', 'Manual', 'Schedule']), cron: z.string().max(256).optional() }),
  parameters: z
    .object({ delete_untagged: z.boolean().optional(), dry_run: z.boolean().optional(), workers: z.number().int().min(1).max(5).optional() })
    .passthrough()
    .optional(),
});
export const gcSchemas = { Schedule: schedule };

export function gcRoutes(router: Router, a: AdminDeps, gc: GcSchedule): void {
  router.get('/system/gc', (ctx) => history(ctx, a, gc));
  router.get('/system/gc/schedule', (ctx) => getSchedule(ctx, a, gc));
  router.post('/system/gc/schedule', (ctx) => setSchedule(ctx, a, gc, true));
  router.put('/system/gc/schedule', (ctx) => setSchedule(ctx, a, gc, false));
  router.get('/system/gc/:gc_id', async (ctx) => {
    await requireSysadmin(ctx, a);
    ctx.body = runResponse(await runParam(ctx, gc));
  });
  router.put('/system/gc/:gc_id', async (ctx) => {
    await requireSysadmin(ctx, a);
    const run = await runParam(ctx, gc);
    if (!(await gc.stopRun(run))) throw badRequest(`gc run ${run.id} is ${run.status}: only a pending run can be stopped`);
    ok(ctx);
  });
  router.get('/system/gc/:gc_id/log', async (ctx) => {
    await requireSysadmin(ctx, a);
    ctx.type = 'text/plain';
    ctx.body = (await runParam(ctx, gc)).log;
  });
}

/** Harbor's GCHistory. */
function runResponse(r: GcRunRecord) {
  return {
    id: r.id,
    job_name: 'GARBAGE_COLLECTION',
    job_kind: r.kind,
    job_parameters: JSON.stringify({ ...r.parameters, ...(r.report && { freed_space: r.report.bytesFreed, purged_manifests: r.report.manifestsDeleted, purged_blobs: r.report.blobsDeleted }) }),
    schedule: r.schedule,
    job_status: r.status,
    deleted: false,
    creation_time: r.creation_time,
    update_time: r.update_time,
  };
}

async function runParam(ctx: Context, gc: GcSchedule): Promise<GcRunRecord> {
  const id = idParam(ctx, 'gc_id');
  const run = await gc.runs.get(id);
  if (!run) throw notFound(`gc run ${id} not found`);
  return run;
}

async function history(ctx: Context, a: AdminDeps, gc: GcSchedule): Promise<void> {
  await requireSysadmin(ctx, a);
  const p = paging(ctx);
  const { items, total } = await gc.runs.list({ order: 'desc', offset: p.offset, limit: p.limit });
  pageOf(ctx, new Array(total).fill(0), p); // the paging headers for `total`
  ctx.body = items.map(runResponse);
}

async function getSchedule(ctx: Context, a: AdminDeps, gc: GcSchedule): Promise<void> {
  await requireSysadmin(ctx, a);
  const s = await gc.schedule();
  const next = gc.nextRun(s);
  ctx.body = {
    schedule: { type: s?.type ?? 'None', cron: s?.cron ?? '', ...(next && { next_scheduled_time: next.toISOString() }) },
    parameters: s?.parameters ?? DEFAULT_GC_PARAMETERS,
    ...(s && { update_time: s.update_time }),
  };
}

/** POST with type Manual runs now (Harbor's "GC Now" / "Dry run"); otherwise POST and PUT set the schedule. */
async function setSchedule(ctx: Context, a: AdminDeps, gc: GcSchedule, isPost: boolean): Promise<void> {
  await requireSysadmin(ctx, a);
  const body = await readBody(ctx, schedule);
  const parameters = {
    delete_untagged: body.parameters?.delete_untagged ?? DEFAULT_GC_PARAMETERS.delete_untagged,
    dry_run: body.parameters?.dry_run ?? false,
    workers: body.parameters?.workers ?? 1,
  };
  const type = body.schedule.type;
  if (type === 'Manual') {
    if (!isPost) throw badRequest('a manual run is started with POST');
    const run = await gc.request('MANUAL', parameters);
    await auditChange(ctx, a, { operation: 'create', resource_type: 'gc', resource: `run ${run.id}`, operation_description: JSON.stringify(parameters) });
    created(ctx, `/api/v2.0/system/gc/${run.id}`);
    return;
  }
  if (type === 'Schedule') throw badRequest('schedule type must be None, Hourly, Daily, Weekly, Custom or Manual');
  if (type === 'Custom' && !body.schedule.cron) throw badRequest('a Custom schedule needs a cron');
  try {
    await gc.setSchedule(type as ScheduleType, body.schedule.cron ?? '', parameters);
  } catch (e) {
    throw badRequest(`invalid cron ${JSON.stringify(body.schedule.cron)}: ${(e as Error).message}`);
  }
  await auditChange(ctx, a, { operation: 'update', resource_type: 'gc', resource: 'schedule', operation_description: `${type} ${body.schedule.cron ?? ''}` });
  if (isPost) created(ctx, '/api/v2.0/system/gc/schedule');
  else ok(ctx);
}
