import type Router from '@koa/router';
import { z } from 'zod';
import { DEFAULT_GC_PARAMETERS, type GcParameters } from '../../registry/gc-schedule.js';
import type { ScheduledJob } from '../../registry/scheduled-job.js';
import type { AdminDeps } from './context.js';
import { scheduleBody, systemJobRoutes } from './system-jobs.js';

// Harbor's /system/gc over the online collector (registry/gc-schedule.ts).

const gcParameters = z
  .object({ delete_untagged: z.boolean().optional(), dry_run: z.boolean().optional(), workers: z.number().int().min(1).max(5).optional() })
  .passthrough();
export const gcSchemas = { Schedule: scheduleBody(gcParameters) };

export function gcRoutes(router: Router, a: AdminDeps, job: ScheduledJob<GcParameters>): void {
  systemJobRoutes(router, a, {
    base: '/system/gc',
    jobName: 'GARBAGE_COLLECTION',
    job,
    parameters: gcParameters,
    read: (p) => ({
      delete_untagged: p?.delete_untagged ?? DEFAULT_GC_PARAMETERS.delete_untagged,
      dry_run: p?.dry_run ?? false,
      workers: p?.workers ?? DEFAULT_GC_PARAMETERS.workers,
    }),
  });
}
