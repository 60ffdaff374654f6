import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ConflictError } from '../../storage-adapters/meta/meta-store.js';
import { generateSecret, hashRobotSecret, passwordProblem } from '../auth/passwords.js';
import type { Principal } from '../auth/principal.js';
import { now, ROBOT_PREFIX, type ProjectRecord, type RobotPermission, type RobotRecord } from '../auth/records.js';
import { auditChange, refuse, requireUser, type AdminDeps } from './context.js';
import { readBody, readJson } from '../../core/harbor-api/body.js';
import { badRequest, conflict, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { idParam, queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields } from '../../core/harbor-api/query.js';
import { created, ok } from '../../core/harbor-api/responses.js';

// Harbor's /robots: robot accounts named `robot$<project>+<name>` (project level) or `robot$<name>` (system
// level), with Harbor's permission shape. The secret is shown once, at creation or refresh.

const robotName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'lowercase letters and digits, separated by single . _ or -');
const duration = z
  .number()
  .int()
  .refine((d) => d === -1 || (d > 0 && d <= 365 * 1000), 'duration must be -1 (never expires) or a positive number of days');
const access = z.object({ resource: z.string().min(1).max(64), action: z.string().min(1).max(64), effect: z.enum(['allow', 'deny']).optional() });
const permission = z.object({ kind: z.string(), namespace: z.string().min(1).max(255), access: z.array(access).min(1).max(100) });
const robotCreate = z.object({
  name: robotName,
  description: z.string().max(1024).optional(),
  secret: z.string().optional(),
  level: z.enum(['system', 'project']),
  disable: z.boolean().optional(),
  duration,
  permissions: z.array(permission).min(1).max(100),
});
const robotUpdate = z.object({
  name: z.string().optional(),
  description: z.string().max(1024).optional(),
  level: z.enum(['system', 'project']).optional(),
  disable: z.boolean().optional(),
  duration: duration.optional(),
  permissions: z.array(permission).min(1).max(100).optional(),
});
const robotSec = z.object({ secret: z.string().optional() });

export const robotSchemas = { RobotCreate: robotCreate, RobotUpdate: robotUpdate, RobotSec: robotSec };

const robotFields: QueryFields<RobotRecord> = {
  Level: { type: 'string', get: (r) => r.level },
  ProjectID: { type: 'number', get: (r) => r.project_id },
  // Harbor stores the name without the prefix and matches q there: harbor-cli's `robot view` sends
  // name=<project>+<name> (project level) or name=<name> (system level)
  name: { type: 'string', get: (r) => (r.name.startsWith(ROBOT_PREFIX) ? r.name.slice(ROBOT_PREFIX.length) : r.name) },
};

/** Harbor's Robot (never the secret). */
function robotResponse(r: RobotRecord) {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    level: r.level,
    duration: r.duration,
    editable: true,
    disable: r.disable,
    expires_at: r.expires_at,
    permissions: r.permissions,
    creator_type: 'local',
    creator_ref: r.creator_ref,
    creation_time: r.creation_time,
    update_time: r.update_time,
  };
}

export function robotRoutes(router: Router, a: AdminDeps): void {
  router.get('/robots', (ctx) => listRobots(ctx, a));
  router.post('/robots', (ctx) => createRobot(ctx, a));
  router.get('/robots/:robot_id', (ctx) => getRobot(ctx, a));
  router.put('/robots/:robot_id', (ctx) => updateRobot(ctx, a));
  router.patch('/robots/:robot_id', (ctx) => refreshSecret(ctx, a));
  router.delete('/robots/:robot_id', (ctx) => deleteRobot(ctx, a));
}

/** System robots are the system admins' business; a project robot its project admins'. */
async function mayManage(a: AdminDeps, caller: Principal, level: string, project: ProjectRecord | undefined): Promise<boolean> {
  if (caller.kind === 'user' && caller.sysadmin) return true;
  if (level !== 'project' || !project) return false;
  return a.policy.can(caller, project, 'robot.manage');
}

/**
 * Checks permissions against the level: a project robot has exactly one, for its own project; a system robot's
 * name projects that exist, or "*". Returns the robot's project (project level).
 */
async function checkPermissions(a: AdminDeps, level: 'system' | 'project', permissions: RobotPermission[]): Promise<ProjectRecord | undefined> {
  for (const p of permissions) {
    // Harbor's system robots carry one `system` entry (namespace "/") for system resources beside their project
    // entries; it is stored and shown as sent (Berth's system APIs are for system admins only).
    if (p.kind === 'system' && level === 'system') {
      if (p.namespace !== '/') throw badRequest('a system permission has namespace "/"');
      continue;
    }
    if (p.kind !== 'project') throw badRequest(`permission kind "${p.kind.slice(0, 50)}" is not supported here; use "project"${level === 'system' ? ' or "system"' : ''}`);
  }
  if (level === 'project') {
    if (permissions.length !== 1) throw badRequest('a project robot has exactly one permission, for its project');
    const project = await a.records.projectByName(permissions[0]!.namespace);
    if (!project) throw notFound(`project ${permissions[0]!.namespace} not found`);
    return project;
  }
  for (const p of permissions) {
    if (p.kind === 'project' && p.namespace !== '*' && !(await a.records.projectByName(p.namespace))) throw notFound(`project ${p.namespace} not found`);
  }
  return undefined;
}

function expiry(creationTime: string, days: number): number {
  return days === -1 ? -1 : Math.floor(Date.parse(creationTime) / 1000) + days * 86_400;
}

async function listRobots(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await requireUser(ctx, a);
  const terms = parseQuery(queryString(ctx, 'q'));
  checkTerms(terms, robotFields);
  const level = terms.find((t) => t.key.toLowerCase() === 'level');
  let project: ProjectRecord | undefined;
  if (level?.kind === 'exact' && level.value === 'project') {
    const pid = terms.find((t) => t.key.toLowerCase() === 'projectid');
    if (pid?.kind !== 'exact' || !/^\d+$/.test(pid.value)) throw badRequest('listing project robots needs q=Level=project,ProjectID=<id>');
    project = await a.records.projects.get(Number(pid.value));
    if (!project) throw notFound(`project ${pid.value} not found`);
  } else if (level && !(level.kind === 'exact' && level.value === 'system')) {
    throw badRequest('Level must be system or project');
  } else if (!level) {
    // Harbor: without a level, the system robots.
    terms.push({ key: 'Level', kind: 'exact', value: 'system' });
  }
  if (!(await mayManage(a, caller, project ? 'project' : 'system', project))) throw refuse(caller, 'not allowed to list these robots');
  const p = paging(ctx);
  const all = (await a.records.all(a.records.robots)).filter((r) => matches(r, terms, robotFields));
  ctx.body = pageOf(ctx, all, p).map(robotResponse);
}

async function createRobot(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await requireUser(ctx, a);
  const body = await readBody(ctx, robotCreate);
  const project = await checkPermissions(a, body.level, body.permissions);
  if (!(await mayManage(a, caller, body.level, project))) throw refuse(caller, 'not allowed to create this robot');
  if (body.secret !== undefined) {
    const problem = passwordProblem(body.secret);
    if (problem) throw badRequest(`secret ${problem}`);
  }
  const secret = body.secret ?? generateSecret();
  const name = project ? `${ROBOT_PREFIX}${project.name}+${body.name}` : `${ROBOT_PREFIX}${body.name}`;
  const t = now();
  let robot: RobotRecord;
  try {
    robot = await a.records.robots.insert({
      name,
      description: body.description ?? '',
      level: body.level,
      project_id: project?.id ?? 0,
      secret_hash: await hashRobotSecret(secret, body.secret === undefined),
      disable: body.disable ?? false,
      duration: body.duration,
      expires_at: expiry(t, body.duration),
      permissions: body.permissions,
      creator_ref: caller.kind === 'user' ? caller.id : 0,
      creation_time: t,
      update_time: t,
    });
  } catch (e) {
    if (e instanceof ConflictError) throw conflict(`robot ${name} already exists`);
    throw e;
  }
  await auditChange(ctx, a, { operation: 'create', resource_type: 'robot', resource: robot.name, project_id: robot.project_id });
  created(ctx, `/api/v2.0/robots/${robot.id}`, { id: robot.id, name: robot.name, secret, creation_time: robot.creation_time, expires_at: robot.expires_at });
}

/** The robot in the path, when the caller may manage it (404 before 403 only for those who may see robots). */
async function robotParam(ctx: Context, a: AdminDeps): Promise<RobotRecord> {
  const caller = await requireUser(ctx, a);
  const id = idParam(ctx, 'robot_id');
  const robot = await a.records.robots.get(id);
  if (!robot) throw notFound(`robot ${id} not found`);
  const project = robot.project_id ? await a.records.projects.get(robot.project_id) : undefined;
  if (!(await mayManage(a, caller, robot.level, project))) throw refuse(caller, 'not allowed to manage this robot');
  return robot;
}

async function getRobot(ctx: Context, a: AdminDeps): Promise<void> {
  ctx.body = robotResponse(await robotParam(ctx, a));
}

async function updateRobot(ctx: Context, a: AdminDeps): Promise<void> {
  const robot = await robotParam(ctx, a);
  const body = await readBody(ctx, robotUpdate);
  if (body.name !== undefined && body.name !== robot.name && `${robot.name.slice(0, robot.name.lastIndexOf('+') + 1)}${body.name}` !== robot.name) {
    throw badRequest('a robot cannot be renamed');
  }
  if (body.level !== undefined && body.level !== robot.level) throw badRequest('a robot cannot change level');
  if (body.permissions) {
    const project = await checkPermissions(a, robot.level, body.permissions);
    if (robot.level === 'project' && project?.id !== robot.project_id) throw badRequest('a project robot keeps its project');
  }
  const durationDays = body.duration ?? robot.duration;
  await a.records.robots.update({
    ...robot,
    description: body.description ?? robot.description,
    disable: body.disable ?? robot.disable,
    duration: durationDays,
    expires_at: expiry(robot.creation_time, durationDays),
    permissions: body.permissions ?? robot.permissions,
    update_time: now(),
  });
  a.authenticator?.invalidate();
  const what = body.disable === undefined ? '' : body.disable ? 'disabled' : 'enabled';
  await auditChange(ctx, a, { operation: 'update', resource_type: 'robot', resource: robot.name, project_id: robot.project_id, operation_description: what });
  ok(ctx);
}

async function refreshSecret(ctx: Context, a: AdminDeps): Promise<void> {
  const robot = await robotParam(ctx, a);
  // Harbor sends {} (or no secret) to have one generated.
  const raw = ctx.get('Content-Length') === '0' ? {} : await readJson(ctx);
  const parsed = robotSec.safeParse(raw);
  if (!parsed.success) throw badRequest('invalid request body: secret must be a string');
  const chosen = parsed.data.secret !== undefined && parsed.data.secret !== '' ? parsed.data.secret : undefined;
  if (chosen !== undefined) {
    const problem = passwordProblem(chosen);
    if (problem) throw badRequest(`secret ${problem}`);
  }
  const secret = chosen ?? generateSecret();
  await a.records.robots.update({ ...robot, secret_hash: await hashRobotSecret(secret, chosen === undefined), update_time: now() });
  await a.refreshTokens?.revokeSubject(robot.name);
  a.authenticator?.invalidate();
  await auditChange(ctx, a, { operation: 'update', resource_type: 'robot', resource: robot.name, project_id: robot.project_id, operation_description: 'secret refreshed' });
  // A chosen secret is not echoed back (Harbor answers it empty).
  ctx.body = { secret: chosen === undefined ? secret : '' };
}

async function deleteRobot(ctx: Context, a: AdminDeps): Promise<void> {
  const robot = await robotParam(ctx, a);
  await a.records.robots.delete(robot.id);
  await a.refreshTokens?.revokeSubject(robot.name);
  a.authenticator?.invalidate();
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'robot', resource: robot.name, project_id: robot.project_id });
  ok(ctx);
}

