import type Router from '@koa/router';
import type { Context } from 'koa';
import type { FieldValue } from '../../storage-adapters/meta/meta-store.js';
import type { AuditRecord } from '../auth/audit.js';
import { PROJECT_ADMIN } from '../auth/roles.js';
import { projectParam, requireProject, requireUser, type AdminDeps } from './context.js';
import { listMatching } from './listing.js';
import { badRequest } from '../../core/harbor-api/errors.js';
import { paging, setPageHeaders } from '../../core/harbor-api/paging.js';
import { queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields, type QueryTerm } from '../../core/harbor-api/query.js';

// Harbor's /audit-logs and /projects/{project_name}/logs (and the same as /auditlog-exts): newest first, queryable with q (operation,
// resource, resource_type, username, op_time range, …). System admins read everything, project admins the
// entries of their projects.

const auditFields: QueryFields<AuditRecord> = {
  operation: { type: 'string', get: (r) => r.operation },
  resource: { type: 'string', get: (r) => r.resource },
  resource_type: { type: 'string', get: (r) => r.resource_type },
  username: { type: 'string', get: (r) => r.username },
  op_time: { type: 'time', get: (r) => r.op_time },
  operation_result: { type: 'boolean', get: (r) => r.operation_result },
  client_ip: { type: 'string', get: (r) => r.client_ip },
  project_id: { type: 'number', get: (r) => r.project_id },
};

/** Harbor's AuditLog, plus the AuditLogExt fields and where the request came from. */
function auditResponse(r: AuditRecord) {
  return {
    id: r.id,
    username: r.username,
    resource: r.resource,
    resource_type: r.resource_type,
    operation: r.operation,
    op_time: r.op_time,
    operation_result: r.operation_result,
    operation_description: r.operation_description,
    client_ip: r.client_ip,
    project_id: r.project_id,
  };
}

export function auditLogRoutes(router: Router, a: AdminDeps): void {
  router.get('/audit-logs', (ctx) => listAuditLogs(ctx, a));
  router.get('/projects/:project_name/logs', (ctx) => listProjectLogs(ctx, a));
  // Harbor 2.13's extended audit log: the same entries (AuditLogExt has AuditLog's fields), and its event types.
  router.get('/auditlog-exts/events', (ctx) => eventTypes(ctx, a));
  router.get('/auditlog-exts', (ctx) => listAuditLogs(ctx, a));
  router.get('/projects/:project_name/auditlog-exts', (ctx) => listProjectLogs(ctx, a));
}

/** The event types (`create_project`, `delete_robot`, …) the log holds, from its most recent entries. */
async function eventTypes(ctx: Context, a: AdminDeps): Promise<void> {
  await requireUser(ctx, a);
  const { items } = await a.audit.records.list({ order: 'desc', limit: 10_000 });
  const types = new Set(items.map((r) => `${r.operation}_${r.resource_type}`));
  ctx.body = [...types].sort().map((event_type) => ({ event_type }));
}

async function listAuditLogs(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await requireUser(ctx, a);
  let projects: Set<number> | undefined;
  if (!(caller.kind === 'user' && caller.sysadmin)) {
    if (caller.kind !== 'user') {
      projects = new Set();
    } else {
      const admin = await a.records.all(a.records.members, { user_id: caller.id, role_id: PROJECT_ADMIN });
      projects = new Set(admin.map((m) => m.project_id));
    }
  }
  await respond(ctx, a, projects);
}

async function listProjectLogs(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a, 'project_name', false);
  await requireProject(ctx, a, project, 'log.list');
  await respond(ctx, a, new Set([project.id]));
}

async function respond(ctx: Context, a: AdminDeps, projects: Set<number> | undefined): Promise<void> {
  const terms = parseQuery(queryString(ctx, 'q'));
  checkTerms(terms, auditFields);
  const sort = queryString(ctx, 'sort') ?? '-op_time';
  if (!['op_time', '-op_time', 'id', '-id'].includes(sort)) throw badRequest('sort must be op_time or -op_time');
  const p = paging(ctx);
  if (projects?.size === 0) {
    setPageHeaders(ctx, 0, p);
    ctx.body = [];
    return;
  }
  // Exact terms on stored fields go to the store; the rest is matched while reading.
  const where: Partial<Record<keyof AuditRecord & string, FieldValue>> = {};
  const rest: QueryTerm[] = [];
  for (const t of terms) {
    const field = Object.keys(auditFields).find((f) => f === t.key.toLowerCase()) as keyof AuditRecord | undefined;
    if (t.kind === 'exact' && field && auditFields[field]!.type === 'string') where[field] = t.value;
    else rest.push(t);
  }
  if (projects?.size === 1) where.project_id = [...projects][0]!;
  const keep =
    rest.length > 0 || (projects && projects.size !== 1)
      ? (r: AuditRecord) => (!projects || projects.has(r.project_id)) && matches(r, rest, auditFields)
      : undefined;
  const { items, total } = await listMatching(a.audit.records, {
    where,
    ...(keep && { keep }),
    order: sort.startsWith('-') ? 'desc' : 'asc',
    offset: p.offset,
    limit: p.limit,
  });
  setPageHeaders(ctx, total, p);
  ctx.body = items.map(auditResponse);
}
