import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest, notFound } from '../../core/harbor-api/errors.js';
import { ok } from '../../core/harbor-api/responses.js';
import { now, type ProjectRecord } from '../auth/records.js';
import { auditChange, projectParam, requireProject, type AdminDeps } from './context.js';
import { HARBOR_METADATA } from './projects.js';

// Harbor's /projects/{p}/metadatas (one project's metadata, key by key) and /projects/{p}/_deletable (whether a
// delete would succeed, and why not). `public` lives in the project record itself; the rest in its metadata.

export function projectMetadataRoutes(router: Router, a: AdminDeps): void {
  router.get('/projects/:project_name_or_id/_deletable', (ctx) => deletable(ctx, a));
  router.get('/projects/:project_name_or_id/metadatas/', (ctx) => listMetadata(ctx, a));
  router.post('/projects/:project_name_or_id/metadatas/', (ctx) => addMetadata(ctx, a));
  router.get('/projects/:project_name_or_id/metadatas/:meta_name', (ctx) => getMetadata(ctx, a));
  router.put('/projects/:project_name_or_id/metadatas/:meta_name', (ctx) => putMetadata(ctx, a));
  router.delete('/projects/:project_name_or_id/metadatas/:meta_name', (ctx) => deleteMetadata(ctx, a));
}

const values = z.record(z.string(), z.string());

function metadataOf(p: ProjectRecord): Record<string, string> {
  return { ...p.metadata, public: String(p.public) };
}

function checkKeys(keys: string[]): void {
  const unknown = keys.filter((k) => !HARBOR_METADATA.has(k));
  if (unknown.length > 0) throw badRequest(`not a Harbor project metadata key: ${unknown.join(', ')}`);
  if (keys.length === 0) throw badRequest('invalid request body: no metadata given');
}

async function store(ctx: Context, a: AdminDeps, project: ProjectRecord, set: Record<string, string>, drop?: string): Promise<void> {
  if (set.public !== undefined && set.public !== 'true' && set.public !== 'false') throw badRequest('public: must be "true" or "false"');
  const metadata = { ...project.metadata };
  for (const [k, v] of Object.entries(set)) if (k !== 'public') metadata[k] = v;
  if (drop) delete metadata[drop];
  const next: ProjectRecord = { ...project, public: set.public !== undefined ? set.public === 'true' : project.public, metadata, update_time: now() };
  await a.records.projects.update(next);
  await auditChange(ctx, a, { operation: 'update', resource_type: 'project', resource: project.name, project_id: project.id, operation_description: drop ? `metadata ${drop} removed` : `metadata ${Object.keys(set).join(', ')}` });
  ok(ctx);
}

async function listMetadata(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'project.read');
  ctx.body = metadataOf(project);
}

async function getMetadata(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'project.read');
  const name = ctx.params.meta_name!;
  const value = metadataOf(project)[name];
  if (value === undefined) throw notFound(`project ${project.name} has no metadata ${name.slice(0, 100)}`);
  ctx.body = { [name]: value };
}

async function addMetadata(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'project.update');
  const body = await readBody(ctx, values);
  checkKeys(Object.keys(body));
  await store(ctx, a, project, body);
}

async function putMetadata(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'project.update');
  const name = ctx.params.meta_name!;
  const body = await readBody(ctx, values);
  // Harbor: the body names exactly the key in the path.
  if (Object.keys(body).length !== 1 || body[name] === undefined) throw badRequest(`invalid request body: give exactly {"${name.slice(0, 100)}": "<value>"}`);
  checkKeys([name]);
  await store(ctx, a, project, body);
}

async function deleteMetadata(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'project.update');
  const name = ctx.params.meta_name!;
  if (name === 'public') throw badRequest('public cannot be removed; set it to "true" or "false"');
  if (project.metadata?.[name] === undefined) throw notFound(`project ${project.name} has no metadata ${name.slice(0, 100)}`);
  await store(ctx, a, project, {}, name);
}

async function deletable(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'project.delete');
  const repositories = await a.registry.registry.repositories.inProject(project.name);
  ctx.body =
    repositories.length > 0
      ? { deletable: false, message: `the project still holds ${repositories.length} repositories; delete them first` }
      : { deletable: true };
}
