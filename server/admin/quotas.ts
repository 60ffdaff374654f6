import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { idParam, queryString } from '../../core/harbor-api/params.js';
import { ok } from '../../core/harbor-api/responses.js';
import { sortBy, type SortKeys } from '../../core/harbor-api/sort.js';
import { UNLIMITED, type QuotaRecord } from '../../registry/quotas.js';
import type { ProjectRecord } from '../auth/records.js';
import { DEVELOPER, GUEST, LIMITED_GUEST, MAINTAINER, PROJECT_ADMIN } from '../auth/roles.js';
import { auditChange, projectParam, requireProject, requireSysadmin, type AdminDeps } from './context.js';

// Harbor's /quotas (system admins) and /projects/{p}/summary. The quota lives in registry/ (the domain layer
// enforces it on every push path); here it is shown and set in Harbor's shape.

/** -1 (unlimited) or a positive byte count, as Harbor's quota validation allows. */
export const storageLimit = z
  .number()
  .int()
  .refine((n) => n === UNLIMITED || n > 0, 'storage must be -1 (unlimited) or a positive number of bytes');
const quotaUpdateReq = z.object({ hard: z.object({ storage: storageLimit }).strict() });
export const quotaSchemas = { QuotaUpdateReq: quotaUpdateReq };

export function quotaRoutes(router: Router, a: AdminDeps): void {
  router.get('/quotas', (ctx) => listQuotas(ctx, a));
  router.get('/quotas/:id', (ctx) => getQuota(ctx, a));
  router.put('/quotas/:id', (ctx) => updateQuota(ctx, a));
  router.get('/projects/:project_name_or_id/summary', (ctx) => projectSummary(ctx, a));
}

/** The project's quota, made from its storage_limit (or the configured default) if it has none yet. */
export function quotaOf(a: AdminDeps, project: ProjectRecord): Promise<QuotaRecord> {
  const hard = project.storage_limit ?? a.registry.config.storage_per_project;
  return a.registry.registry.quotas.ensure(project.name, project.id, hard);
}

/** Gives every project its quota (those made before quotas existed, `library` at first start). */
export async function ensureQuotas(a: AdminDeps): Promise<void> {
  for (const project of await a.records.all(a.records.projects)) await quotaOf(a, project);
}

async function quotaResponse(a: AdminDeps, q: QuotaRecord) {
  const project = await a.records.projects.get(q.project_id);
  const owner = project && (await a.records.users.get(project.owner_id));
  return {
    id: q.id,
    ref: { id: q.project_id, name: q.project, owner_name: owner?.username ?? '' },
    hard: { storage: q.hard },
    used: { storage: await a.registry.registry.quotas.used(q.project) },
    creation_time: q.creation_time,
    update_time: q.update_time,
  };
}

type QuotaView = Awaited<ReturnType<typeof quotaResponse>>;
const quotaSorts: SortKeys<QuotaView> = {
  id: (q) => q.id,
  creation_time: (q) => q.creation_time,
  update_time: (q) => q.update_time,
  'hard.storage': (q) => q.hard.storage,
  'used.storage': (q) => q.used.storage,
};

async function listQuotas(ctx: Context, a: AdminDeps): Promise<void> {
  await requireSysadmin(ctx, a);
  const reference = queryString(ctx, 'reference');
  if (reference !== undefined && reference !== 'project') throw badRequest('reference must be project');
  const refId = queryString(ctx, 'reference_id');
  const p = paging(ctx);
  await ensureQuotas(a);
  const all = await a.records.all(a.registry.registry.quotas.records);
  const views: QuotaView[] = [];
  for (const q of all) if (refId === undefined || String(q.project_id) === refId) views.push(await quotaResponse(a, q));
  ctx.body = pageOf(ctx, sortBy(ctx, views, quotaSorts), p);
}

async function quotaParam(ctx: Context, a: AdminDeps): Promise<QuotaRecord> {
  const id = idParam(ctx, 'id');
  const q = await a.registry.registry.quotas.records.get(id);
  if (!q) throw notFound(`quota ${id} not found`);
  return q;
}

async function getQuota(ctx: Context, a: AdminDeps): Promise<void> {
  await requireSysadmin(ctx, a);
  ctx.body = await quotaResponse(a, await quotaParam(ctx, a));
}

async function updateQuota(ctx: Context, a: AdminDeps): Promise<void> {
  await requireSysadmin(ctx, a);
  const q = await quotaParam(ctx, a);
  const body = await readBody(ctx, quotaUpdateReq);
  await a.registry.registry.quotas.setHard(q, body.hard.storage);
  // Keep the project's own storage_limit in step (Harbor's ProjectReq reads it back).
  const project = await a.records.projects.get(q.project_id);
  if (project) await a.records.projects.update({ ...project, storage_limit: body.hard.storage });
  await auditChange(ctx, a, { operation: 'update', resource_type: 'quota', resource: q.project, project_id: q.project_id, operation_description: `storage=${body.hard.storage}` });
  ok(ctx);
}

/** Harbor's ProjectSummary: repository count, members by role, quota. */
async function projectSummary(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'project.read');
  const members = await a.records.all(a.records.members, { project_id: project.id });
  const count = (role: number) => members.filter((m) => m.role_id === role).length;
  const q = await quotaOf(a, project);
  ctx.body = {
    repo_count: (await a.registry.registry.repositories.inProject(project.name)).length,
    project_admin_count: count(PROJECT_ADMIN),
    maintainer_count: count(MAINTAINER),
    developer_count: count(DEVELOPER),
    guest_count: count(GUEST),
    limited_guest_count: count(LIMITED_GUEST),
    quota: { hard: { storage: q.hard }, used: { storage: await a.registry.registry.quotas.used(project.name) } },
  };
}
