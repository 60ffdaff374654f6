import type Router from '@koa/router';
import type { Context } from 'koa';
import { queryString } from '../../core/harbor-api/params.js';
import type { ProjectRecord, UserRecord } from '../auth/records.js';
import { callerOf, type AdminDeps } from './context.js';
import { projectResponse } from './projects.js';
import { repositoryResponse } from './repositories.js';

// Harbor's GET /search?q=: the projects and repositories whose names contain q, among those the caller may see
// (anonymous: public ones), and GET /statistics: how many projects and repositories there are, public and
// private (a system admin sees every count; others what they are members of, and the public ones).

export function searchRoutes(router: Router, a: AdminDeps): void {
  router.get('/search', (ctx) => search(ctx, a));
  router.get('/statistics', (ctx) => statistics(ctx, a));
}

/** The projects the caller may read, each with its repositories. */
async function visible(ctx: Context, a: AdminDeps): Promise<{ project: ProjectRecord; repositories: string[] }[]> {
  const caller = await callerOf(ctx, a);
  const out: { project: ProjectRecord; repositories: string[] }[] = [];
  for (const project of await a.records.all(a.records.projects)) {
    if (!(await a.policy.can(caller, project, 'project.read'))) continue;
    out.push({ project, repositories: await a.registry.registry.repositories.inProject(project.name) });
  }
  return out.sort((x, y) => (x.project.name < y.project.name ? -1 : 1));
}

async function search(ctx: Context, a: AdminDeps): Promise<void> {
  const q = (queryString(ctx, 'q') ?? '').toLowerCase();
  const caller = await callerOf(ctx, a);
  const owners = new Map<number, UserRecord | undefined>();
  const projects = [];
  const repositories = [];
  for (const { project, repositories: names } of await visible(ctx, a)) {
    if (project.name.includes(q)) projects.push(await projectResponse(a, caller, project, owners));
    for (const name of names) {
      if (!name.includes(q)) continue;
      const r = await repositoryResponse(a.registry.registry, project, name);
      repositories.push({
        project_id: project.id,
        project_name: project.name,
        project_public: project.public,
        repository_name: name,
        pull_count: r.pull_count,
        artifact_count: r.artifact_count,
      });
    }
  }
  ctx.body = { project: projects, repository: repositories };
}

async function statistics(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await callerOf(ctx, a);
  const rows = await visible(ctx, a);
  const count = (pub: boolean) => rows.filter((r) => r.project.public === pub);
  const repos = (list: typeof rows) => list.reduce((n, r) => n + r.repositories.length, 0);
  const body: Record<string, number> = {
    private_project_count: count(false).length,
    private_repo_count: repos(count(false)),
    public_project_count: count(true).length,
    public_repo_count: repos(count(true)),
  };
  // Harbor gives the totals to system admins only.
  if (caller.kind === 'user' && caller.sysadmin) {
    body.total_project_count = rows.length;
    body.total_repo_count = repos(rows);
  }
  ctx.body = body;
}
