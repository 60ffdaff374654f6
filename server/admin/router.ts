import Router from '@koa/router';
import { artifactRoutes } from './artifacts.js';
import { auditLogRoutes } from './audit-logs.js';
import type { AdminDeps } from './context.js';
import { labelRoutes } from './labels.js';
import { memberRoutes } from './members.js';
import { openApiDocument } from './openapi.js';
import { p2pSwarmRoutes } from './p2p-swarms.js';
import { projectRoutes } from './projects.js';
import { quotaRoutes } from './quotas.js';
import { immutableRuleRoutes } from './immutable-rules.js';
import { webhookRoutes } from './webhooks.js';
import { gcRoutes } from './gc.js';
import { purgeAuditRoutes } from './purge-audit.js';
import { repositoryRoutes } from './repositories.js';
import { robotRoutes } from './robots.js';
import { systemRoutes } from './system.js';
import { configurationRoutes } from './configurations.js';
import { projectMetadataRoutes } from './project-metadata.js';
import { searchRoutes } from './search.js';
import { permissionRoutes } from './permissions.js';
import { scheduleRoutes } from './schedules.js';
import { userRoutes } from './users.js';

/** Harbor-compatible admin API under /api/v2.0, and Harbor's /api/version (errors are shaped by the Harbor
 *  error middleware, mounted app-wide). */
export function adminRouter(a: AdminDeps): Router {
  const root = new Router();
  // A Harbor adding Berth as a `harbor`-type endpoint asks which API version it speaks.
  root.get('/api/version', (ctx) => {
    ctx.body = { version: 'v2.0' };
  });
  const router = new Router({ prefix: '/api/v2.0' });
  const openapi = openApiDocument();
  router.get('/openapi.json', (ctx) => {
    ctx.body = openapi;
  });
  systemRoutes(router, a);
  configurationRoutes(router, a);
  searchRoutes(router, a);
  permissionRoutes(router, a);
  scheduleRoutes(router, a);
  userRoutes(router, a);
  // Members, repositories and logs before the bare /projects/{id} routes they extend.
  memberRoutes(router, a);
  repositoryRoutes(router, a);
  artifactRoutes(router, a);
  labelRoutes(router, a);
  auditLogRoutes(router, a);
  projectMetadataRoutes(router, a);
  quotaRoutes(router, a);
  immutableRuleRoutes(router, a);
  if (a.webhooks) webhookRoutes(router, a, a.webhooks);
  if (a.gc) gcRoutes(router, a, a.gc);
  if (a.purgeAudit) purgeAuditRoutes(router, a, a.purgeAudit);
  projectRoutes(router, a);
  robotRoutes(router, a);
  p2pSwarmRoutes(router, a);
  root.use(router.routes(), router.allowedMethods());
  return root;
}
