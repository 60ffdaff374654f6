import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { LabelRecord } from '../../registry/labels.js';
import { ConflictError } from '../../storage-adapters/meta/meta-store.js';
import { labelResponse } from './artifact-view.js';
import { auditChange, requireProject, requireSysadmin, type AdminDeps } from './context.js';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest, conflict, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { idParam, parseInteger, queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields } from '../../core/harbor-api/query.js';
import { created, ok } from '../../core/harbor-api/responses.js';
import { sortBy } from '../../core/harbor-api/sort.js';
import type { ProjectPermission } from '../auth/roles.js';

// Harbor's /labels (handler/label.go): global labels (scope g) are the system admins'; a project's labels (scope
// p) are its admins' and maintainers' to manage and its members' to read. Anyone may list the global ones.

const labelReq = z
  .object({
    name: z.string().min(1).max(128),
    description: z.string().max(1024).optional(),
    color: z.string().max(32).optional(),
    scope: z.enum(['g', 'p']),
    project_id: z.number().int().optional(),
  })
  .passthrough();
const labelUpdate = z
  .object({ name: z.string().min(1).max(128), description: z.string().max(1024).optional(), color: z.string().max(32).optional() })
  .passthrough();

export const labelSchemas = { Label: labelReq, LabelUpdate: labelUpdate };

export function labelRoutes(router: Router, a: AdminDeps): void {
  router.get('/labels', (ctx) => listLabels(ctx, a));
  router.post('/labels', (ctx) => createLabel(ctx, a));
  router.get('/labels/:label_id', (ctx) => getLabel(ctx, a));
  router.put('/labels/:label_id', (ctx) => updateLabel(ctx, a));
  router.delete('/labels/:label_id', (ctx) => deleteLabel(ctx, a));
}

/** Harbor's requireAccess: a global label is a system resource, a project label its project's. */
async function requireLabelAccess(ctx: Context, a: AdminDeps, scope: string, projectId: number, permission: ProjectPermission): Promise<void> {
  if (scope === 'g') {
    await requireSysadmin(ctx, a);
    return;
  }
  const project = await a.records.projects.get(projectId);
  if (!project) throw notFound(`project ${projectId} not found`);
  await requireProject(ctx, a, project, permission);
}

async function labelParam(ctx: Context, a: AdminDeps): Promise<LabelRecord> {
  const id = idParam(ctx, 'label_id');
  const label = await a.registry.registry.labels.get(id);
  if (!label) throw notFound(`label ${id} not found`);
  return label;
}

const labelFields: QueryFields<LabelRecord> = {
  name: { type: 'string', get: (l) => l.name },
  description: { type: 'string', get: (l) => l.description },
  color: { type: 'string', get: (l) => l.color },
  id: { type: 'number', get: (l) => l.id },
  creation_time: { type: 'time', get: (l) => l.creation_time },
  update_time: { type: 'time', get: (l) => l.update_time },
};

async function listLabels(ctx: Context, a: AdminDeps): Promise<void> {
  const terms = parseQuery(queryString(ctx, 'q'));
  checkTerms(terms, labelFields);
  const p = paging(ctx);
  const scope = queryString(ctx, 'scope') ?? '';
  if (scope !== 'g' && scope !== 'p') throw badRequest(`invalid scope: ${scope.slice(0, 40)}`);
  let projectId = 0;
  if (scope === 'p') {
    const raw = queryString(ctx, 'project_id');
    projectId = raw === undefined ? 0 : parseInteger(raw, 'project_id', 'query');
    if (projectId === 0) throw badRequest('must with project ID when to query project labels');
    await requireLabelAccess(ctx, a, 'p', projectId, 'label.read');
  }
  const name = queryString(ctx, 'name')?.toLowerCase();
  const labels = (await a.registry.registry.labels.list(scope, projectId)).filter((l) => (name === undefined || l.name.toLowerCase().includes(name)) && matches(l, terms, labelFields));
  const sorted = sortBy(ctx, labels, { name: (l) => l.name, id: (l) => l.id, creation_time: (l) => l.creation_time, update_time: (l) => l.update_time });
  ctx.body = pageOf(ctx, sorted, p).map(labelResponse);
}

async function createLabel(ctx: Context, a: AdminDeps): Promise<void> {
  const body = await readBody(ctx, labelReq);
  const projectId = body.scope === 'g' ? 0 : (body.project_id ?? 0);
  if (body.scope === 'p' && projectId <= 0) throw badRequest('project_id is required for a project label');
  await requireLabelAccess(ctx, a, body.scope, projectId, 'label.manage');
  let label: LabelRecord;
  try {
    label = await a.registry.registry.labels.create({ name: body.name, description: body.description ?? '', color: body.color ?? '', scope: body.scope, project_id: projectId });
  } catch (e) {
    if (e instanceof ConflictError) throw conflict(`label ${body.name} already exists`);
    throw e;
  }
  await auditChange(ctx, a, { operation: 'create', resource_type: 'label', resource: label.name, ...(projectId > 0 && { project_id: projectId }) });
  created(ctx, `${ctx.path.replace(/\/$/, '')}/${label.id}`);
}

async function getLabel(ctx: Context, a: AdminDeps): Promise<void> {
  const label = await labelParam(ctx, a);
  await requireLabelAccess(ctx, a, label.scope, label.project_id, 'label.read');
  ctx.body = labelResponse(label);
}

async function updateLabel(ctx: Context, a: AdminDeps): Promise<void> {
  const body = await readBody(ctx, labelUpdate);
  const label = await labelParam(ctx, a);
  await requireLabelAccess(ctx, a, label.scope, label.project_id, 'label.manage');
  try {
    await a.registry.registry.labels.update(label, { name: body.name, description: body.description ?? '', color: body.color ?? '' });
  } catch (e) {
    if (e instanceof ConflictError) throw conflict(`label ${body.name} already exists`);
    throw e;
  }
  await auditChange(ctx, a, { operation: 'update', resource_type: 'label', resource: body.name, ...(label.project_id > 0 && { project_id: label.project_id }) });
  ok(ctx);
}

async function deleteLabel(ctx: Context, a: AdminDeps): Promise<void> {
  const label = await labelParam(ctx, a);
  await requireLabelAccess(ctx, a, label.scope, label.project_id, 'label.manage');
  await a.registry.registry.labels.delete(label.id);
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'label', resource: label.name, ...(label.project_id > 0 && { project_id: label.project_id }) });
  ok(ctx);
}
