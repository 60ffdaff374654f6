import Router from '@koa/router';
import type { Context } from 'koa';
import type { PreheatQueue } from '../../p2p/preheat.js';
import type { AdminDeps } from '../context.js';
import { instanceRoutes } from './instances.js';
import { policyRoutes } from './policies.js';
import { PreheatRecords } from './records.js';
import { PreheatRunner } from './runner.js';
import { PreheatTriggers } from './triggers.js';

/** Harbor's preheat API over Berth's P2P (mounted at /api/v2.0), and the triggers that run its policies. */
export function preheatApi(a: AdminDeps, queue: PreheatQueue): { router: Router; close: () => void } {
  const { registry: deps } = a;
  const records = new PreheatRecords(deps.meta);
  const runner = new PreheatRunner(records, deps.registry, queue);
  const endpoint = (ctx: Context) => (deps.config.public_url ?? `${ctx.protocol}://${ctx.host}`).replace(/\/+$/, '');
  const router = new Router({ prefix: '/api/v2.0' });
  instanceRoutes(router, { admin: a, records, endpoint });
  policyRoutes(router, { admin: a, records, endpoint, runner });
  const triggers = new PreheatTriggers(deps.meta, records, a.records, runner, deps.log.child({ component: 'preheat' }));
  triggers.start();
  return { router, close: () => triggers.stop() };
}
