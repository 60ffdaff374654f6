import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { ReplicationApiDeps } from './deps.js';
import { executionRoutes } from './executions.js';
import { peerRoutes } from './peers.js';
import { policyRoutes } from './policies.js';
import { registryRoutes } from './registries.js';
import { topologyRoutes } from './topology.js';

// The replication configuration API in Harbor's shapes (api/v2.0: /registries, /replication/policies,
// /replication/executions), system admins only, plus Berth's own /berth/replication/* (the IDC, tag records
// with versions for anti-entropy, and the conflicts last-writer-wins resolved). Routes throw the Harbor-API
// toolkit's errors; the app that mounts this router renders them (core/harbor-api/render.ts).

export type { ReplicationApiDeps } from './deps.js';

export function replicationRouter(d: ReplicationApiDeps): Router {
  const router = new Router({ prefix: '/api/v2.0' });
  router.use(async (ctx: Context, next: Next) => {
    await d.requireSysadmin?.(ctx);
    await next();
  });
  registryRoutes(router, d);
  policyRoutes(router, d);
  executionRoutes(router, d);
  peerRoutes(router, d);
  topologyRoutes(router, d);
  return router;
}
