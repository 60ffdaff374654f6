import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest } from '../../core/harbor-api/errors.js';
import { ok } from '../../core/harbor-api/responses.js';
import { ROBOT_PREFIX } from '../auth/records.js';
import type { Settings } from '../settings.js';
import { auditChange, requireSysadmin, type AdminDeps } from './context.js';

// Harbor's /configurations (system admins): every setting Harbor reports, each with whether it can be changed
// here. What Berth changes at run time (read_only, project_creation_restriction) is stored for every instance;
// the rest is Berth's configuration file, reported with editable: false, and a PUT of it says so.

const editable = z
  .object({
    read_only: z.boolean(),
    project_creation_restriction: z.enum(['everyone', 'adminonly']),
  })
  .partial();

/** Harbor's keys whose value comes from Berth's configuration file, with the variable that sets it. */
const FROM_FILE: Record<string, string> = {
  auth_mode: 'BERTH_AUTH',
  token_expiration: 'BERTH_TOKEN_TTL_SECONDS',
  robot_name_prefix: '(fixed: robot$)',
  quota_per_project_enable: '(always on: every project has a quota, -1 for none)',
  self_registration: '(not offered)',
  primary_auth_mode: '(not offered)',
  notification_enable: '(not offered)',
};

export function configurationRoutes(router: Router, a: AdminDeps): void {
  router.get('/configurations', (ctx) => getConfigurations(ctx, a));
  // Harbor's internal view of the same settings (its components read it); here the same answer.
  router.get('/internalconfig', (ctx) => getConfigurations(ctx, a));
  router.put('/configurations', (ctx) => putConfigurations(ctx, a));
}

async function getConfigurations(ctx: Context, a: AdminDeps): Promise<void> {
  await requireSysadmin(ctx, a);
  const s: Settings = await a.settings.get();
  const config = a.registry.config;
  const item = (value: unknown, canEdit: boolean) => ({ value, editable: canEdit });
  ctx.body = {
    auth_mode: item(config.auth === 'token' ? 'db_auth' : 'none', false),
    primary_auth_mode: item(false, false),
    self_registration: item(false, false),
    project_creation_restriction: item(s.project_creation_restriction, true),
    read_only: item(s.read_only, true),
    token_expiration: item(Math.round(config.token_ttl_seconds / 60), false),
    robot_name_prefix: item(ROBOT_PREFIX, false),
    // terraform-provider-harbor reads it before it updates a project's storage quota (Harbor's default: true)
    quota_per_project_enable: item(true, false),
    // Webhooks are delivered (registry/webhooks); they cannot be switched off system-wide here.
    notification_enable: item(true, false),
  };
}

async function putConfigurations(ctx: Context, a: AdminDeps): Promise<void> {
  await requireSysadmin(ctx, a);
  const raw = (await readBody(ctx, z.record(z.string(), z.unknown()))) as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (key in editable.shape) continue;
    const where = FROM_FILE[key];
    throw badRequest(where ? `${key} is not changed over the API: it is set by ${where}` : `${key} is not a configuration Berth has`);
  }
  const parsed = editable.safeParse(raw);
  if (!parsed.success) throw badRequest(`invalid request body: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  await a.settings.update(parsed.data);
  await auditChange(ctx, a, { operation: 'update', resource_type: 'configuration', resource: Object.keys(parsed.data).join(','), project_id: 0, operation_description: JSON.stringify(parsed.data) });
  ok(ctx);
}
