import type Router from '@koa/router';
import type { Context } from 'koa';
import { badRequest } from '../../core/harbor-api/errors.js';
import { queryString } from '../../core/harbor-api/params.js';
import { robotGrants } from '../auth/policy.js';
import type { ProjectPermission } from '../auth/roles.js';
import { callerOf, requireUser, type AdminDeps } from './context.js';

// Harbor's GET /permissions (what robot accounts may be granted: the resource/action pairs Berth honours) and
// GET /users/current/permissions (what the caller may do in a project or system-wide, as Harbor's UI asks to
// decide which buttons to show). Pairs are Harbor's rbac resources and actions.

type Pair = { resource: string; action: string };

/** The Harbor pairs each of Berth's project permissions stands for. */
const pairsOf: Partial<Record<ProjectPermission, Pair[]>> = {
  'project.read': [{ resource: 'project', action: 'read' }, { resource: 'metadata', action: 'read' }, { resource: 'metadata', action: 'list' }, { resource: 'repository', action: 'list' }, { resource: 'repository', action: 'read' }],
  'project.update': [{ resource: 'project', action: 'update' }, { resource: 'metadata', action: 'create' }, { resource: 'metadata', action: 'update' }, { resource: 'metadata', action: 'delete' }, { resource: 'tag-retention', action: 'create' }, { resource: 'tag-retention', action: 'update' }, { resource: 'tag-retention', action: 'operate' }, { resource: 'preheat-policy', action: 'create' }, { resource: 'preheat-policy', action: 'update' }, { resource: 'preheat-policy', action: 'delete' }],
  'project.delete': [{ resource: 'project', action: 'delete' }],
  'member.list': [{ resource: 'member', action: 'list' }, { resource: 'member', action: 'read' }],
  'member.manage': [{ resource: 'member', action: 'create' }, { resource: 'member', action: 'update' }, { resource: 'member', action: 'delete' }],
  'robot.manage': ['create', 'read', 'update', 'delete', 'list'].map((action) => ({ resource: 'robot', action })),
  'repository.pull': [{ resource: 'repository', action: 'pull' }],
  'repository.push': [{ resource: 'repository', action: 'push' }],
  'repository.delete': [{ resource: 'repository', action: 'delete' }],
  'log.list': [{ resource: 'log', action: 'list' }],
};

function pairs(permission: ProjectPermission): Pair[] {
  const known = pairsOf[permission];
  if (known) return known;
  // The rest are named as Harbor's pairs already (artifact.read, tag.create, artifact-label.delete, …) or are
  // covered by robotGrants.
  const granted = Object.entries(robotGrants).filter(([, p]) => p === permission).map(([k]) => ({ resource: k.split(':')[0]!, action: k.split(':')[1]! }));
  if (granted.length > 0) return granted;
  const [resource, action] = permission.split('.') as [string, string];
  return [{ resource, action }];
}

function unique(list: Pair[]): Pair[] {
  return [...new Map(list.map((p) => [`${p.resource}:${p.action}`, p])).values()];
}

export function permissionRoutes(router: Router, a: AdminDeps): void {
  router.get('/permissions', async (ctx) => {
    await requireUser(ctx, a);
    const project = unique([
      { resource: 'repository', action: 'pull' },
      { resource: 'repository', action: 'push' },
      { resource: 'repository', action: 'delete' },
      ...Object.keys(robotGrants).map((k) => ({ resource: k.split(':')[0]!, action: k.split(':')[1]! })),
    ]);
    // System robots are granted project permissions across projects; no system-level resource is honoured.
    ctx.body = { system: [], project };
  });
  router.get('/users/current/permissions', (ctx) => currentPermissions(ctx, a));
}

async function currentPermissions(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await callerOf(ctx, a);
  const scope = queryString(ctx, 'scope') ?? '/system';
  const relative = queryString(ctx, 'relative') === 'true';
  if (scope === '/system') {
    const admin = caller.kind === 'user' && caller.sysadmin;
    // A system admin may do everything; others nothing at system level (Harbor answers the same way).
    ctx.body = admin ? [{ resource: relative ? '*' : '/system/*', action: '*' }] : [];
    return;
  }
  const m = /^\/project\/(\d+)$/.exec(scope);
  if (!m) throw badRequest('scope: /system or /project/{id}');
  const project = await a.records.projects.get(Number(m[1]));
  if (!project) {
    ctx.body = [];
    return;
  }
  const granted = await a.policy.projectPermissions(caller, project);
  const list = unique([...granted].flatMap(pairs));
  ctx.body = list.map((p) => ({ resource: relative ? p.resource : `${scope}/${p.resource}`, action: p.action }));
}
