import type Router from '@koa/router';
import { badRequest } from '../../core/harbor-api/errors.js';
import { pageOf } from '../../core/harbor-api/paging.js';
import { PreheatRecords } from './preheat/records.js';
import { RetentionRecords } from './retention/records.js';
import { requireSysadmin, type AdminDeps } from './context.js';

// Harbor's GET /schedules (every cron a system job or policy runs on: GC, audit-log purge, tag retention,
// preheat) and GET /schedules/{job_type}/paused (Berth never pauses a job type: always false). Replication's
// scheduled policies are listed by its own API (/replication/policies), which this folder may not read.

const JOB_TYPES = new Set(['all', 'GARBAGE_COLLECTION', 'PURGE_AUDIT_LOG', 'RETENTION', 'P2P_PREHEAT', 'REPLICATION', 'SCAN_ALL', 'EXECUTION_SWEEP', 'SYSTEM_ARTIFACT_CLEANUP']);

interface ScheduleTask {
  id: number;
  vendor_type: string;
  vendor_id: number;
  cron: string;
  update_time: string;
  extra_attrs: Record<string, unknown>;
}

export function scheduleRoutes(router: Router, a: AdminDeps): void {
  const retention = new RetentionRecords(a.registry.meta);
  const preheat = new PreheatRecords(a.registry.meta);

  router.get('/schedules', async (ctx) => {
    await requireSysadmin(ctx, a);
    const found: Omit<ScheduleTask, 'id'>[] = [];
    for (const [type, job] of [['GARBAGE_COLLECTION', a.gc], ['PURGE_AUDIT_LOG', a.purgeAudit]] as const) {
      const s = await job?.schedule();
      if (s && s.type !== 'None') found.push({ vendor_type: type, vendor_id: -1, cron: s.cron, update_time: s.update_time, extra_attrs: { ...s.parameters } });
    }
    for (const p of (await retention.policies.list({ limit: 10_000 })).items) {
      if (p.trigger.settings.cron) found.push({ vendor_type: 'RETENTION', vendor_id: p.id, cron: p.trigger.settings.cron, update_time: '', extra_attrs: { project_id: p.project_id } });
    }
    for (const p of (await preheat.policies.list({ limit: 10_000 })).items) {
      const cron = p.trigger.trigger_setting?.cron;
      if (p.trigger.type === 'scheduled' && cron) found.push({ vendor_type: 'P2P_PREHEAT', vendor_id: p.id, cron, update_time: p.update_time, extra_attrs: { project_id: p.project_id, name: p.name } });
    }
    ctx.body = pageOf(ctx, found.map((s, i) => ({ id: i + 1, ...s })));
  });

  router.get('/schedules/:job_type/paused', async (ctx) => {
    await requireSysadmin(ctx, a);
    const type = ctx.params.job_type ?? '';
    if (!JOB_TYPES.has(type)) throw badRequest(`job type ${type.slice(0, 64)}: one of ${[...JOB_TYPES].join(', ')}`);
    ctx.body = { paused: false };
  });
}
