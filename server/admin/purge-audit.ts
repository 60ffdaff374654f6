import type Router from '@koa/router';
import { z } from 'zod';
import type { ScheduledJob } from '../../registry/scheduled-job.js';
import { DEFAULT_PURGE_PARAMETERS, type PurgeParameters } from '../auth/audit-purge.js';
import type { AdminDeps } from './context.js';
import { scheduleBody, systemJobRoutes } from './system-jobs.js';

// Harbor's /system/purgeaudit (server/auth/audit-purge.ts does the purge).

const purgeParameters = z
  .object({
    audit_retention_hour: z.number().int().min(0).optional(),
    include_operations: z.string().max(512).optional(),
    include_event_types: z.string().max(512).optional(),
    dry_run: z.boolean().optional(),
  })
  .passthrough();
export const purgeSchemas = { PurgeSchedule: scheduleBody(purgeParameters) };

export function purgeAuditRoutes(router: Router, a: AdminDeps, job: ScheduledJob<PurgeParameters>): void {
  systemJobRoutes(router, a, {
    base: '/system/purgeaudit',
    jobName: 'PURGE_AUDIT_LOG',
    job,
    parameters: purgeParameters,
    read: (p) => ({
      audit_retention_hour: p?.audit_retention_hour ?? DEFAULT_PURGE_PARAMETERS.audit_retention_hour,
      include_operations: p?.include_event_types ?? p?.include_operations ?? '',
      dry_run: p?.dry_run ?? false,
    }),
  });
}
