import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ConflictError } from '../../storage-adapters/meta/meta-store.js';
import type { Principal } from '../auth/principal.js';
import { memberKey, now, type ProjectRecord, type UserRecord } from '../auth/records.js';
import { PROJECT_ADMIN } from '../auth/roles.js';
import { auditChange, callerOf, projectParam, refuse, requireProject, requireUser, type AdminDeps } from './context.js';
import { readBody } from '../../core/harbor-api/body.js';
import { ApiError, badRequest, conflict, forbidden, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { sortBy, type SortKeys } from '../../core/harbor-api/sort.js';
import { queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields } from '../../core/harbor-api/query.js';
import { created, ok } from '../../core/harbor-api/responses.js';
import { quotaOf, storageLimit } from './quotas.js';

// Harbor's /projects. Visibility: system admins see every project, others the public ones and those they are
// members of. Only system admins create projects unless project_creation_restriction is `everyone`.

/** Harbor's project name rule; also a valid first component of an OCI repository name. */
export const projectNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'lowercase letters and digits, separated by single . _ or -');
const boolString = z.enum(['true', 'false']);
const projectReq = z.object({
  project_name: projectNameSchema.optional(),
  public: z.boolean().nullable().optional(),
  metadata: z
    .object({ public: boolString.optional() })
    .catchall(z.string())
    .superRefine((m, ctx) => {
      for (const key of Object.keys(m)) if (!HARBOR_METADATA.has(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'not a Harbor project metadata key' });
    })
    .optional(),
  storage_limit: storageLimit.nullable().optional(),
  registry_id: z.number().int().nullable().optional(),
  cve_allowlist: z.object({}).passthrough().optional(),
});

export const projectSchemas = { ProjectReq: projectReq };

/** Harbor's project metadata keys (swagger v2.15 ProjectMetadata; src/pkg/project/metadata/models). Berth stores every one. */
export const HARBOR_METADATA = new Set([
  'public', 'enable_content_trust', 'enable_content_trust_cosign', 'prevent_vul', 'severity', 'auto_scan',
  'auto_sbom_generation', 'reuse_sys_cve_allowlist', 'retention_id', 'proxy_speed_kb', 'max_upstream_conn',
  'proxy_cache_local_on_not_found',
]);
/** Settings Berth keeps but does not act on (no scanner, no content trust): reported, never dropped silently. */
const NOT_ENFORCED = ['enable_content_trust', 'enable_content_trust_cosign', 'prevent_vul', 'auto_scan', 'auto_sbom_generation'];

/** Metadata set to true that Berth stores but cannot act on, said in a header (the body keeps Harbor's shape). */
function reportNotEnforced(ctx: Context, metadata: Record<string, string> | undefined): void {
  const keys = NOT_ENFORCED.filter((k) => metadata?.[k] === 'true');
  if (keys.length > 0) ctx.set('Berth-Not-Enforced', keys.join(', '));
}

/** The metadata to keep from a request, on top of what the project has (`public` lives in its own field). */
function keptMetadata(current: Record<string, string> | undefined, sent: Record<string, string | undefined> | undefined): Record<string, string> | undefined {
  if (!sent) return current;
  const out: Record<string, string> = { ...current };
  for (const [k, v] of Object.entries(sent)) if (k !== 'public' && v !== undefined) out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

const projectFields: QueryFields<{ project: ProjectRecord; owner: string }> = {
  name: { type: 'string', get: (v) => v.project.name },
  public: { type: 'boolean', get: (v) => v.project.public },
  owner: { type: 'string', get: (v) => v.owner },
};

export function projectRoutes(router: Router, a: AdminDeps): void {
  // HEAD before GET: the router answers HEAD with the GET route otherwise.
  router.head('/projects', (ctx) => projectExists(ctx, a));
  router.get('/projects', (ctx) => listProjects(ctx, a));
  router.post('/projects', (ctx) => createProject(ctx, a));
  router.get('/projects/:project_name_or_id', (ctx) => getProject(ctx, a));
  router.put('/projects/:project_name_or_id', (ctx) => updateProject(ctx, a));
  router.delete('/projects/:project_name_or_id', (ctx) => deleteProject(ctx, a));
}

/** Harbor's Project. */
export async function projectResponse(a: AdminDeps, caller: Principal, project: ProjectRecord, owners: Map<number, UserRecord | undefined>) {
  if (!owners.has(project.owner_id)) owners.set(project.owner_id, await a.records.users.get(project.owner_id));
  const role = await a.policy.roleIn(caller, project);
  return {
    project_id: project.id,
    owner_id: project.owner_id,
    owner_name: owners.get(project.owner_id)?.username ?? '',
    name: project.name,
    registry_id: project.registry_id ?? 0,
    creation_time: project.creation_time,
    update_time: project.update_time,
    deleted: false,
    togglable: true,
    current_user_role_id: role ?? 0,
    current_user_role_ids: role === undefined ? [] : [role],
    repo_count: (await a.registry.registry.repositories.inProject(project.name)).length,
    metadata: { ...project.metadata, public: String(project.public) },
    cve_allowlist: { project_id: project.id, items: [], ...project.cve_allowlist },
  };
}

async function listProjects(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await callerOf(ctx, a);
  const terms = parseQuery(queryString(ctx, 'q'));
  // The plain parameters are shorthands for q terms: name is fuzzy, public and owner exact.
  const name = queryString(ctx, 'name');
  if (name) terms.push({ key: 'name', kind: 'fuzzy', value: name });
  const pub = queryString(ctx, 'public');
  if (pub !== undefined && pub !== '') {
    if (pub !== 'true' && pub !== 'false') throw badRequest('public must be true or false');
    terms.push({ key: 'public', kind: 'exact', value: pub });
  }
  const owner = queryString(ctx, 'owner');
  if (owner) terms.push({ key: 'owner', kind: 'exact', value: owner });
  checkTerms(terms, projectFields);
  const p = paging(ctx);

  const owners = new Map<number, UserRecord | undefined>();
  const visible: ProjectRecord[] = [];
  for (const project of await a.records.all(a.records.projects)) {
    if (!(await a.policy.can(caller, project, 'project.read'))) continue;
    if (terms.length > 0) {
      if (!owners.has(project.owner_id)) owners.set(project.owner_id, await a.records.users.get(project.owner_id));
      if (!matches({ project, owner: owners.get(project.owner_id)?.username ?? '' }, terms, projectFields)) continue;
    }
    visible.push(project);
  }
  const page = pageOf(ctx, sortBy(ctx, visible, projectSorts), p);
  const out = [];
  for (const project of page) out.push(await projectResponse(a, caller, project, owners));
  ctx.body = out;
}

async function projectExists(ctx: Context, a: AdminDeps): Promise<void> {
  await requireUser(ctx, a);
  const name = queryString(ctx, 'project_name');
  if (!name) throw badRequest('project_name is required');
  if (!(await a.records.projectByName(name))) throw notFound(`project ${name.slice(0, 255)} not found`);
  ok(ctx);
}

async function createProject(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await requireUser(ctx, a);
  if (caller.kind !== 'user') throw forbidden('robot accounts cannot create projects');
  if (!caller.sysadmin && (await a.settings.get()).project_creation_restriction !== 'everyone') throw forbidden('only system admins may create projects');
  const body = await readBody(ctx, projectReq);
  if (!body.project_name) throw badRequest('invalid request body: project_name: required');
  // A proxy-cache project reads what it lacks from this registry endpoint (registry/proxy-cache.ts).
  if (body.registry_id && !(await a.registry.registry.proxy.hasUpstream(body.registry_id))) {
    throw badRequest(`registry ${body.registry_id} not found: a proxy-cache project names an existing registry endpoint`);
  }
  const isPublic = body.metadata?.public !== undefined ? body.metadata.public === 'true' : (body.public ?? false);
  const t = now();
  let project: ProjectRecord;
  try {
    const metadata = keptMetadata(undefined, body.metadata);
    project = await a.records.projects.insert({
      name: body.project_name,
      public: isPublic,
      owner_id: caller.id,
      creation_time: t,
      update_time: t,
      ...(metadata && { metadata }),
      ...(body.cve_allowlist && { cve_allowlist: body.cve_allowlist }),
      ...(body.storage_limit != null && { storage_limit: body.storage_limit }),
      ...(body.registry_id && { registry_id: body.registry_id }),
    });
  } catch (e) {
    if (e instanceof ConflictError) throw conflict(`project ${body.project_name} already exists`);
    throw e;
  }
  // Harbor makes the creator the project's admin, and gives the project its quota. Nothing half-made: the
  // project goes if this fails.
  try {
    if (caller.id > 0) {
      await a.records.members.insert({ key: memberKey(project.id, caller.id), project_id: project.id, user_id: caller.id, role_id: PROJECT_ADMIN, creation_time: t, update_time: t });
    }
    await a.registry.registry.quotas.remove(project.name); // a quota left by an earlier project of this name
    await quotaOf(a, project);
  } catch (e) {
    await a.records.projects.delete(project.id);
    throw e;
  }
  await auditChange(ctx, a, { operation: 'create', resource_type: 'project', resource: project.name, project_id: project.id });
  const byName = ctx.get('X-Resource-Name-In-Location').toLowerCase() === 'true';
  created(ctx, `/api/v2.0/projects/${byName ? project.name : project.id}`);
  reportNotEnforced(ctx, project.metadata);
}

async function getProject(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  const caller = await requireProject(ctx, a, project, 'project.read');
  ctx.body = await projectResponse(a, caller, project, new Map());
  reportNotEnforced(ctx, project.metadata);
}

async function updateProject(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'project.update');
  const body = await readBody(ctx, projectReq);
  if (body.project_name !== undefined && body.project_name !== project.name) throw badRequest('a project cannot be renamed');
  const isPublic = body.metadata?.public !== undefined ? body.metadata.public === 'true' : (body.public ?? project.public);
  const metadata = keptMetadata(project.metadata, body.metadata);
  await a.records.projects.update({
    ...project,
    public: isPublic,
    update_time: now(),
    ...(metadata && { metadata }),
    ...(body.cve_allowlist && { cve_allowlist: body.cve_allowlist }),
    ...(body.storage_limit != null && { storage_limit: body.storage_limit }),
  });
  if (body.storage_limit != null) await a.registry.registry.quotas.setHard(await quotaOf(a, project), body.storage_limit);
  await auditChange(ctx, a, {
    operation: 'update',
    resource_type: 'project',
    resource: project.name,
    project_id: project.id,
    operation_description: `public=${isPublic}`,
  });
  ok(ctx);
  reportNotEnforced(ctx, metadata);
}

async function deleteProject(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  const caller = await callerOf(ctx, a);
  if (!(await a.policy.can(caller, project, 'project.delete'))) throw refuse(caller, `not allowed to delete project ${project.name}`);
  const repositories = await a.registry.registry.repositories.inProject(project.name);
  if (repositories.length > 0) {
    throw new ApiError(412, `project ${project.name} still holds ${repositories.length} repositories; delete them first`);
  }
  // Members and robots first: a project record left without them is harmless, the reverse would be orphans.
  for (const m of await a.records.all(a.records.members, { project_id: project.id })) await a.records.members.delete(m.id);
  for (const r of await a.records.all(a.records.robots, { project_id: project.id })) await a.records.robots.delete(r.id);
  // Its labels go with it, as in Harbor (a new project reusing the id must not inherit them).
  for (const l of await a.registry.registry.labels.list('p', project.id)) await a.registry.registry.labels.delete(l.id);
  await a.records.projects.delete(project.id);
  await a.registry.registry.quotas.remove(project.name);
  a.authenticator?.invalidate();
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'project', resource: project.name, project_id: project.id });
  ok(ctx);
}

/** What Harbor's project list sorts by (`sort=name`, `sort=-creation_time`, …). */
const projectSorts: SortKeys<ProjectRecord> = {
  name: (p) => p.name,
  project_id: (p) => p.id,
  creation_time: (p) => p.creation_time,
  update_time: (p) => p.update_time,
};
