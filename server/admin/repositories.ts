import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../core/errors.js';
import { parseRepositoryName } from '../../core/names.js';
import { z } from 'zod';
import type { Registry } from '../../registry/registry.js';
import type { ProjectRecord } from '../auth/records.js';
import { repositoryId } from './artifact-view.js';
import { auditChange, callerOf, projectParam, requireProject, type AdminDeps } from './context.js';
import { badRequest, notFound } from '../../core/harbor-api/errors.js';
import { paging, setPageHeaders, type Paging } from '../../core/harbor-api/paging.js';
import { sortBy } from '../../core/harbor-api/sort.js';
import { queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields } from '../../core/harbor-api/query.js';
import { ok } from '../../core/harbor-api/responses.js';
import { readBody } from '../../core/harbor-api/body.js';

// Harbor's /repositories and /projects/{project_name}/repositories: list, get, PUT (description), delete. A
// repository's path parameter is its name inside the project, URL-encoded twice when it holds a slash (swagger:
// parameters.repositoryName).

/**
 * Harbor's Repository. The id is derived from the name (see ./artifact-view.ts); artifact_count counts what
 * the artifact list shows by default (not an index's children nor accessories); times come from the manifests
 * and the last description edit, pulls from registry.pulls.
 */
export async function repositoryResponse(registry: Registry, project: ProjectRecord, name: string) {
  const [manifests, info, pulls] = await Promise.all([registry.repositories.manifests(name), registry.repositories.info(name), registry.pulls.of(name)]);
  const children = new Set(manifests.flatMap((m) => m.children));
  const times = manifests.map((m) => m.createdAt);
  if (info) times.push(Date.parse(info.update_time));
  const first = manifests.length ? new Date(Math.min(...manifests.map((m) => m.createdAt))).toISOString() : undefined;
  const latest = times.length ? new Date(Math.max(...times)).toISOString() : undefined;
  return {
    id: repositoryId(name),
    project_id: project.id,
    name,
    description: info?.description ?? '',
    artifact_count: manifests.filter((m) => !children.has(m.digest) && !m.subject).length,
    pull_count: pulls.pulls,
    ...(first && { creation_time: first }),
    ...(latest && { update_time: latest }),
  };
}

const repositoryUpdate = z.object({ description: z.string().max(65536).optional() }).passthrough();

export const repositorySchemas = { RepositoryUpdate: repositoryUpdate };

const repositoryFields: QueryFields<string> = { name: { type: 'string', get: (n) => n } };

export function repositoryRoutes(router: Router, a: AdminDeps): void {
  router.get('/repositories', (ctx) => listAllRepositories(ctx, a));
  router.get('/projects/:project_name/repositories', (ctx) => listRepositories(ctx, a));
  router.get('/projects/:project_name/repositories/:repository_name', (ctx) => getRepository(ctx, a));
  router.put('/projects/:project_name/repositories/:repository_name', (ctx) => updateRepository(ctx, a));
  router.delete('/projects/:project_name/repositories/:repository_name', (ctx) => deleteRepository(ctx, a));
}

/** Harbor's GET /repositories: the repositories of every project the caller may pull from (anonymous: public). */
async function listAllRepositories(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await callerOf(ctx, a);
  const terms = parseQuery(queryString(ctx, 'q'));
  checkTerms(terms, repositoryFields);
  const p = paging(ctx);
  const rows: { project: ProjectRecord; name: string }[] = [];
  for (const project of await a.records.all(a.records.projects)) {
    if (!(await a.policy.can(caller, project, 'repository.pull'))) continue;
    for (const name of await a.registry.registry.repositories.inProject(project.name)) if (matches(name, terms, repositoryFields)) rows.push({ project, name });
  }
  rows.sort((x, y) => (x.name < y.name ? -1 : 1));
  ctx.body = await responsePage(ctx, a, rows, p);
}

async function listRepositories(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a, 'project_name', false);
  await requireProject(ctx, a, project, 'repository.pull');
  const terms = parseQuery(queryString(ctx, 'q'));
  checkTerms(terms, repositoryFields);
  const p = paging(ctx);
  const names = (await a.registry.registry.repositories.inProject(project.name)).filter((n) => matches(n, terms, repositoryFields));
  ctx.body = await responsePage(ctx, a, names.map((name) => ({ project, name })), p);
}

/** One page of `rows` as responses, in `sort`'s order: by name alone, only the page is read; by anything
 *  else every repository is read first. */
async function responsePage(ctx: Context, a: AdminDeps, rows: { project: ProjectRecord; name: string }[], p: Paging) {
  type R = Awaited<ReturnType<typeof repositoryResponse>>;
  const read = (r: { project: ProjectRecord; name: string }) => repositoryResponse(a.registry.registry, r.project, r.name);
  setPageHeaders(ctx, rows.length, p);
  const byNameOnly = (queryString(ctx, 'sort') ?? '').split(',').every((k) => ['', 'name', '-name'].includes(k.trim()));
  if (byNameOnly) return Promise.all(sortBy(ctx, rows, { name: (r) => r.name }).slice(p.offset, p.offset + p.limit).map(read));
  const all = sortBy(ctx, await Promise.all(rows.map(read)), {
    name: (r: R) => r.name,
    id: (r: R) => r.id,
    artifact_count: (r: R) => r.artifact_count,
    pull_count: (r: R) => r.pull_count,
    creation_time: (r: R) => r.creation_time ?? '',
    update_time: (r: R) => r.update_time ?? '',
  });
  return all.slice(p.offset, p.offset + p.limit);
}

/** `a%252Fb` arrives decoded once by the router as `a%2Fb`; decode again, then check the grammar. */
export function repositoryParam(ctx: Context, project: ProjectRecord): string {
  let inner = String(ctx.params.repository_name ?? '');
  try {
    inner = decodeURIComponent(inner);
  } catch {
    throw badRequest('repository_name is not valid URL encoding');
  }
  try {
    return parseRepositoryName(`${project.name}/${inner}`);
  } catch (e) {
    if (e instanceof RegistryError) throw badRequest(`invalid repository name "${inner.slice(0, 255)}"`);
    throw e;
  }
}

async function getRepository(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a, 'project_name', false);
  await requireProject(ctx, a, project, 'repository.pull');
  const name = repositoryParam(ctx, project);
  if (!(await a.registry.registry.repositories.exists(name))) throw notFound(`repository ${name} not found`);
  ctx.body = await repositoryResponse(a.registry.registry, project, name);
}

async function updateRepository(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a, 'project_name', false);
  await requireProject(ctx, a, project, 'repository.update');
  const name = repositoryParam(ctx, project);
  const body = await readBody(ctx, repositoryUpdate);
  if (!(await a.registry.registry.repositories.exists(name))) throw notFound(`repository ${name} not found`);
  await a.registry.registry.repositories.describe(name, body.description ?? '');
  await auditChange(ctx, a, { operation: 'update', resource_type: 'repository', resource: name, project_id: project.id });
  ok(ctx);
}

async function deleteRepository(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a, 'project_name', false);
  await requireProject(ctx, a, project, 'repository.delete');
  const name = repositoryParam(ctx, project);
  if (!(await a.registry.registry.repositories.exists(name))) throw notFound(`repository ${name} not found`);
  await a.registry.registry.repositories.delete(name);
  await a.registry.registry.labels.forgetRepository(name);
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'repository', resource: name, project_id: project.id });
  ok(ctx);
}
