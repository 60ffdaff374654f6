import Router from '@koa/router';
import { CronSchedules } from '../cron-schedules.js';
import type { AdminDeps } from '../context.js';
import { RetentionRecords } from './records.js';
import { retentionRoutes } from './routes.js';
import { RetentionRunner } from './runner.js';

/** Harbor's retention API (mounted at /api/v2.0) and the cron triggers of its policies. */
export function retentionApi(a: AdminDeps): { router: Router; close: () => void } {
  const { registry: deps } = a;
  const log = deps.log.child({ component: 'retention' });
  const records = new RetentionRecords(deps.meta);
  const runner = new RetentionRunner(records, deps.registry.retention, deps.registry.repositories, log);
  const router = new Router({ prefix: '/api/v2.0' });
  retentionRoutes(router, { admin: a, records, runner });

  const crons = new CronSchedules(
    deps.meta,
    'retention',
    async (id) => {
      const policy = await records.policies.get(id);
      const project = policy && (await a.records.projects.get(policy.project_id));
      if (!policy || !project) return;
      const execution = await runner.start(policy, project.name, 'SCHEDULE', false);
      log.info({ project: project.name, execution }, 'retention: scheduled run');
    },
    log,
  );
  const sync = async () => {
    const { items } = await records.policies.list({ limit: 10_000 });
    crons.sync(items.flatMap((p) => (p.trigger.settings.cron ? [{ id: p.id, cron: p.trigger.settings.cron }] : [])));
  };
  const timer = setInterval(() => void sync().catch((err: unknown) => log.warn({ err }, 'retention schedules')), 2000);
  timer.unref();
  return {
    router,
    close: () => {
      clearInterval(timer);
      crons.stop();
    },
  };
}
