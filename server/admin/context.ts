import type { Context } from 'koa';
import type { AuditEntry, AuditLog } from '../auth/audit.js';
import { LoginFailed, type Authenticator } from '../auth/credentials.js';
import type { AccessPolicy } from '../auth/policy.js';
import { ANONYMOUS, principalName, type Principal } from '../auth/principal.js';
import type { AccessRecords, ProjectRecord } from '../auth/records.js';
import type { RefreshTokens } from '../auth/refresh-tokens.js';
import { sessionPrincipal } from '../auth/session-routes.js';
import type { ConsoleSessions } from '../auth/sessions.js';
import type { ProjectPermission } from '../auth/roles.js';
import type { RegistryDeps } from '../oci/deps.js';
import type { RuntimeSettings } from '../settings.js';
import type { WebhookRecords } from '../../registry/webhooks/records.js';
import type { SwarmView } from '../p2p/swarm-view.js';
import type { Digest } from '../../core/digest.js';
import type { GcParameters } from '../../registry/gc-schedule.js';
import type { ScheduledJob } from '../../registry/scheduled-job.js';
import type { PurgeParameters } from '../auth/audit-purge.js';
import { ApiError, forbidden, notFound, unauthorized } from '../../core/harbor-api/errors.js';

// What every admin route needs, and the checks they share: who is calling, may they, and the audit entry.

export interface AdminDeps {
  registry: RegistryDeps;
  records: AccessRecords;
  policy: AccessPolicy;
  audit: AuditLog;
  /** Absent with auth none: then nobody logs in and every caller may do everything. */
  authenticator?: Authenticator;
  refreshTokens?: RefreshTokens;
  /** What admins change at run time (/configurations, the system CVE allowlist). */
  settings: RuntimeSettings;
  /** Webhook policies and jobs (registry/webhooks); absent: no webhook routes. */
  webhooks?: WebhookRecords;
  /** The web console's sessions: a session cookie is a credential beside Basic (absent with auth none). */
  sessions?: ConsoleSessions;
  /** Who holds a blob in its P2P swarm, per IDC. */
  swarmOf?: (digest: Digest) => Promise<SwarmView | undefined>;
  /** Harbor-shaped GC runs and schedule; absent: no /system/gc routes. */
  gc?: ScheduledJob<GcParameters>;
  /** Harbor's audit-log purge job; absent: no /system/purgeaudit routes. */
  purgeAudit?: ScheduledJob<PurgeParameters>;
}

/** The caller with auth none: no access control, as on /v2. */
const UNRESTRICTED: Principal = Object.freeze({ kind: 'user', id: 0, name: 'anonymous', sysadmin: true });

export async function callerOf(ctx: Context, a: AdminDeps): Promise<Principal> {
  const known = ctx.state.adminCaller as Principal | undefined;
  if (known) return known;
  let caller: Principal;
  const header = ctx.get('Authorization');
  if (!a.authenticator) caller = UNRESTRICTED;
  else if (header === '') caller = (a.sessions && (await sessionPrincipal(ctx, { sessions: a.sessions, authenticator: a.authenticator }))) || ANONYMOUS;
  else if (/^Basic\s/i.test(header)) {
    try {
      caller = await a.authenticator.basic(header, ctx.ip);
    } catch (e) {
      if (!(e instanceof LoginFailed)) throw e;
      if (e.retryAfterSeconds !== undefined) throw new ApiError(429, e.message, { 'Retry-After': String(e.retryAfterSeconds) });
      throw unauthorized(e.message);
    }
  } else throw unauthorized('the admin API takes Basic credentials');
  ctx.state.adminCaller = caller;
  ctx.state.principalName = principalName(caller);
  return caller;
}

export async function requireUser(ctx: Context, a: AdminDeps): Promise<Principal> {
  const caller = await callerOf(ctx, a);
  if (caller.kind === 'anonymous') throw unauthorized('authentication required');
  return caller;
}

export async function requireSysadmin(ctx: Context, a: AdminDeps): Promise<Principal> {
  const caller = await requireUser(ctx, a);
  if (!(caller.kind === 'user' && caller.sysadmin)) throw forbidden('only system admins may do this');
  return caller;
}

/** 401 for the anonymous caller (signing in may help), 403 for a known one. */
export function refuse(caller: Principal, message = 'forbidden'): ApiError {
  return caller.kind === 'anonymous' ? unauthorized('authentication required') : forbidden(message);
}

/**
 * The project named by a `{project_name_or_id}` path parameter: an id when it is all digits, unless
 * `X-Is-Resource-Name: true` says it is a name (Harbor's parameters.isResourceName).
 */
export async function projectParam(ctx: Context, a: AdminDeps, param = 'project_name_or_id', allowId = true): Promise<ProjectRecord> {
  const raw = String(ctx.params[param] ?? '');
  const byName = !allowId || ctx.get('X-Is-Resource-Name').toLowerCase() === 'true' || !/^\d+$/.test(raw);
  const project = byName ? await a.records.projectByName(raw) : await a.records.projects.get(Number(raw));
  if (!project) throw notFound(`project ${raw.slice(0, 255)} not found`);
  return project;
}

export async function requireProject(ctx: Context, a: AdminDeps, project: ProjectRecord, permission: ProjectPermission): Promise<Principal> {
  const caller = await callerOf(ctx, a);
  if (!(await a.policy.can(caller, project, permission))) throw refuse(caller, `not allowed to ${permission.replace('.', ' ')} in project ${project.name}`);
  return caller;
}

/** Writes an admin change to the audit log as done by the caller, from the caller's address. */
export async function auditChange(
  ctx: Context,
  a: AdminDeps,
  entry: Omit<AuditEntry, 'username' | 'client_ip'>,
): Promise<void> {
  await a.audit.record({ ...entry, username: principalName(await callerOf(ctx, a)), client_ip: ctx.ip });
}
