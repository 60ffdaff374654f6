import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../core/errors.js';
import { parseRepositoryName } from '../../core/names.js';
import type { Registry } from '../../registry/registry.js';
import type { ProjectRecord } from '../auth/records.js';
import { auditChange, callerOf, projectParam, requireProject, type AdminDeps } from './context.js';
import { badRequest, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { sortBy } from '../../core/harbor-api/sort.js';
import { queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields } from '../../core/harbor-api/query.js';
import { ok } from '../../core/harbor-api/responses.js';

// Harbor's /projects/{project_name}/repositories: list, get, delete. A repository's path parameter is its name
// inside the project, URL-encoded twice when it holds a slash (swagger: parameters.repositoryName).

/** Harbor's Repository. Berth keeps no repository ids; times come from the manifests, pulls from registry.pulls. */
export async function repositoryResponse(registry: Registry, project: ProjectRecord, name: string) {
  const manifests = await registry.repositories.manifests(name);
  const times = manifests.map((m) => m.createdAt);
  const first = times.length ? new Date(Math.min(...times)).toISOString() : undefined;
  const latest = times.length ? new Date(Math.max(...times)).toISOString() : undefined;
  return {
    project_id: project.id,
    name,
    description: '',
    artifact_count: manifests.length,
    pull_count: (await registry.pulls.of(name)).pulls,
    ...(first && { creation_time: first }),
    ...(latest && { update_time: latest }),
  };
}

const repositoryFields: QueryFields<string> = { name: { type: 'string', get: (n) => n } };

export function repositoryRoutes(router: Router, a: AdminDeps): void {
  router.get('/repositories', (ctx) => listAllRepositories(ctx, a));
  router.get('/projects/:project_name/repositories', (ctx) => listRepositories(ctx, a));
  router.get('/projects/:project_name/repositories/:repository_name', (ctx) => getRepository(ctx, a));
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
  const sorted = sortBy(ctx, rows.sort((x, y) => (x.name < y.name ? -1 : 1)), { name: (r) => r.name });
  ctx.body = await Promise.all(pageOf(ctx, sorted, p).map((r) => repositoryResponse(a.registry.registry, r.project, r.name)));
}

async function listRepositories(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a, 'project_name', false);
  await requireProject(ctx, a, project, 'repository.pull');
  const terms = parseQuery(queryString(ctx, 'q'));
  checkTerms(terms, repositoryFields);
  const p = paging(ctx);
  const names = (await a.registry.registry.repositories.inProject(project.name)).filter((n) => matches(n, terms, repositoryFields));
  ctx.body = await Promise.all(pageOf(ctx, sortBy(ctx, names, { name: (n) => n }), p).map((n) => repositoryResponse(a.registry.registry, project, n)));
}

/** `a%252Fb` arrives decoded once by the router as `a%2Fb`; decode again, then check the grammar. */
function repositoryParam(ctx: Context, project: ProjectRecord): string {
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

async function deleteRepository(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a, 'project_name', false);
  await requireProject(ctx, a, project, 'repository.delete');
  const name = repositoryParam(ctx, project);
  if (!(await a.registry.registry.repositories.exists(name))) throw notFound(`repository ${name} not found`);
  await a.registry.registry.repositories.delete(name);
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'repository', resource: name, project_id: project.id });
  ok(ctx);
}
