import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ConflictError } from '../../storage-adapters/meta/meta-store.js';
import { memberKey, now, type MemberRecord, type ProjectRecord, type UserRecord } from '../auth/records.js';
import { isRoleId, roleNames, type RoleId } from '../auth/roles.js';
import { auditChange, projectParam, requireProject, type AdminDeps } from './context.js';
import { readBody, readOptionalBody } from '../../core/harbor-api/body.js';
import { badRequest, conflict, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { idParam, queryString } from '../../core/harbor-api/params.js';
import { created, ok } from '../../core/harbor-api/responses.js';

// Harbor's /projects/{project_name_or_id}/members: users and their role ids (1 project admin, 2 developer,
// 3 guest, 4 maintainer, 5 limited guest). Groups are not supported.

const roleId = z
  .number()
  .int()
  .refine(isRoleId, 'role_id must be 1 (project admin), 2 (developer), 3 (guest), 4 (maintainer) or 5 (limited guest)');
const projectMember = z.object({
  role_id: roleId,
  member_user: z.object({ user_id: z.number().int().positive().optional(), username: z.string().min(1).max(255).optional() }).optional(),
  member_group: z.unknown().optional(),
});
const roleRequest = z.object({ role_id: roleId });

export const memberSchemas = { ProjectMember: projectMember, RoleRequest: roleRequest };

/** Harbor's ProjectMemberEntity. */
function memberResponse(m: MemberRecord, user: UserRecord | undefined) {
  return {
    id: m.id,
    project_id: m.project_id,
    entity_name: user?.username ?? '',
    role_name: roleNames[m.role_id],
    role_id: m.role_id,
    entity_id: m.user_id,
    entity_type: 'u',
  };
}

export function memberRoutes(router: Router, a: AdminDeps): void {
  router.get('/projects/:project_name_or_id/members', (ctx) => listMembers(ctx, a));
  router.post('/projects/:project_name_or_id/members', (ctx) => addMember(ctx, a));
  router.get('/projects/:project_name_or_id/members/:mid', (ctx) => getMember(ctx, a));
  router.put('/projects/:project_name_or_id/members/:mid', (ctx) => updateMember(ctx, a));
  router.delete('/projects/:project_name_or_id/members/:mid', (ctx) => removeMember(ctx, a));
}

async function listMembers(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'member.list');
  const p = paging(ctx);
  const needle = queryString(ctx, 'entityname')?.toLowerCase();
  const rows: { m: MemberRecord; user: UserRecord | undefined }[] = [];
  for (const m of await a.records.all(a.records.members, { project_id: project.id })) {
    const user = await a.records.users.get(m.user_id);
    if (needle && !(user?.username.toLowerCase().includes(needle) ?? false)) continue;
    rows.push({ m, user });
  }
  ctx.body = pageOf(ctx, rows, p).map(({ m, user }) => memberResponse(m, user));
}

async function addMember(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'member.manage');
  // Harbor's swagger leaves this body optional; the handler then refuses it (handler/member.go).
  const body = await readOptionalBody(ctx, projectMember);
  if (!body) throw badRequest('the project member should provide');
  // terraform-provider-harbor always sends "member_group": {}; Harbor ignores an empty group.
  if (isGroup(body.member_group)) throw badRequest('group members are not supported; add users with member_user');
  const ref = body.member_user;
  if (!ref || (ref.user_id === undefined && ref.username === undefined)) throw badRequest('member_user with user_id or username is required');
  const user = ref.user_id !== undefined ? await a.records.users.get(ref.user_id) : await a.records.users.findOne('username', ref.username!);
  if (!user || (ref.username !== undefined && user.username !== ref.username)) {
    throw notFound(`user ${ref.username ?? ref.user_id} not found`);
  }
  const t = now();
  let member: MemberRecord;
  try {
    member = await a.records.members.insert({
      key: memberKey(project.id, user.id),
      project_id: project.id,
      user_id: user.id,
      role_id: body.role_id as RoleId,
      creation_time: t,
      update_time: t,
    });
  } catch (e) {
    if (e instanceof ConflictError) throw conflict(`user ${user.username} is already a member of project ${project.name}`);
    throw e;
  }
  await auditChange(ctx, a, {
    operation: 'create',
    resource_type: 'project_member',
    resource: user.username,
    project_id: project.id,
    operation_description: `${project.name}: ${roleNames[member.role_id]}`,
  });
  created(ctx, `/api/v2.0/projects/${encodeURIComponent(String(ctx.params.project_name_or_id))}/members/${member.id}`);
}

async function memberParam(ctx: Context, a: AdminDeps, project: ProjectRecord): Promise<MemberRecord> {
  const id = idParam(ctx, 'mid');
  // handler/member.go: a member id of 0 is a bad request there, where other ids of 0 are simply not found.
  if (id === 0) throw badRequest('the project member id is required');
  const m = await a.records.members.get(id);
  if (!m || m.project_id !== project.id) throw notFound(`member ${id} not found in project ${project.name}`);
  return m;
}

async function getMember(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'member.list');
  const m = await memberParam(ctx, a, project);
  ctx.body = memberResponse(m, await a.records.users.get(m.user_id));
}

async function updateMember(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'member.manage');
  const m = await memberParam(ctx, a, project);
  const body = await readBody(ctx, roleRequest);
  await a.records.members.update({ ...m, role_id: body.role_id as RoleId, update_time: now() });
  const user = await a.records.users.get(m.user_id);
  await auditChange(ctx, a, {
    operation: 'update',
    resource_type: 'project_member',
    resource: user?.username ?? String(m.user_id),
    project_id: project.id,
    operation_description: `${project.name}: ${roleNames[body.role_id as RoleId]}`,
  });
  ok(ctx);
}

async function removeMember(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'member.manage');
  const m = await memberParam(ctx, a, project);
  await a.records.members.delete(m.id);
  const user = await a.records.users.get(m.user_id);
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'project_member', resource: user?.username ?? String(m.user_id), project_id: project.id });
  ok(ctx);
}

/** A member_group naming a group (an id or a name); an empty object or null names none. */
function isGroup(group: unknown): boolean {
  if (group === undefined || group === null) return false;
  if (typeof group !== 'object') return true;
  const g = group as { id?: unknown; group_name?: unknown; ldap_group_dn?: unknown };
  return Boolean(g.id) || Boolean(g.group_name) || Boolean(g.ldap_group_dn);
}
