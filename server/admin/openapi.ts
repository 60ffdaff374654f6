import { z } from 'zod';
import { memberSchemas } from './members.js';
import { projectSchemas } from './projects.js';
import { quotaSchemas } from './quotas.js';
import { immutableRuleSchemas } from './immutable-rules.js';
import { webhookSchemas } from './webhooks.js';
import { gcSchemas } from './gc.js';
import { purgeSchemas } from './purge-audit.js';
import { robotSchemas } from './robots.js';
import { userSchemas } from './users.js';

// The OpenAPI document of what Berth implements of Harbor's /api/v2.0 (and the token service). Request bodies
// come from the zod schemas the routes validate with, so the document cannot drift from the checks.

type Op = {
  summary: string;
  body?: string;
  /** Response: a schema name, `[Name]` for an array of it, or undefined for an empty body. */
  returns?: string;
  status?: number;
  paged?: boolean;
  query?: string[];
  auth?: 'none';
};

const ops: Record<string, Record<string, Op>> = {
  '/ping': { get: { summary: 'Liveness: answers Pong', auth: 'none' } },
  '/health': { get: { summary: 'Health of core, database (MetaStore) and registry (BlobStore)', returns: 'OverallHealthStatus', auth: 'none' } },
  '/systeminfo': { get: { summary: 'General system information (less for anonymous callers)', returns: 'GeneralInfo', auth: 'none' } },
  '/users': {
    get: { summary: 'List users (system admins)', returns: '[UserResp]', paged: true, query: ['q'] },
    post: { summary: 'Create a local user (system admins)', body: 'UserCreationReq', status: 201 },
  },
  '/users/current': { get: { summary: 'The calling user', returns: 'UserResp' } },
  '/users/search': { get: { summary: 'Search users by name (any signed-in user)', returns: '[UserSearchRespItem]', paged: true, query: ['username'] } },
  '/users/{user_id}': {
    get: { summary: "A user's profile (system admins, or the user)", returns: 'UserResp' },
    put: { summary: 'Update email, realname, comment', body: 'UserProfile' },
    delete: { summary: 'Delete a user and their memberships (system admins)' },
  },
  '/users/{user_id}/password': { put: { summary: 'Change a password (old_password required for your own)', body: 'PasswordReq' } },
  '/users/{user_id}/sysadmin': { put: { summary: 'Grant or revoke system admin (system admins)', body: 'UserSysAdminFlag' } },
  '/projects': {
    get: { summary: 'Projects visible to the caller', returns: '[Project]', paged: true, query: ['q', 'name', 'public', 'owner'] },
    head: { summary: 'Whether a project name exists (200 or 404)', query: ['project_name'] },
    post: { summary: 'Create a project (system admins, or everyone with allow_user_projects)', body: 'ProjectReq', status: 201 },
  },
  '/projects/{project_name_or_id}': {
    get: { summary: 'A project', returns: 'Project' },
    put: { summary: "Update a project's metadata.public (project admins)", body: 'ProjectReq' },
    delete: { summary: 'Delete an empty project (412 while it holds repositories)' },
  },
  '/projects/{project_name_or_id}/members': {
    get: { summary: 'Members (every role but limited guest)', returns: '[ProjectMemberEntity]', paged: true, query: ['entityname'] },
    post: { summary: 'Add a user with a role id (project admins)', body: 'ProjectMember', status: 201 },
  },
  '/projects/{project_name_or_id}/members/{mid}': {
    get: { summary: 'A member', returns: 'ProjectMemberEntity' },
    put: { summary: "Change a member's role (project admins)", body: 'RoleRequest' },
    delete: { summary: 'Remove a member (project admins)' },
  },
  '/repositories': { get: { summary: 'Repositories of every project the caller may pull from', returns: '[Repository]', paged: true, query: ['q', 'sort'] } },
  '/projects/{project_name}/repositories': { get: { summary: "A project's repositories", returns: '[Repository]', paged: true, query: ['q', 'sort'] } },
  '/projects/{project_name}/repositories/{repository_name}': {
    get: { summary: 'A repository (name inside the project, slashes URL-encoded twice)', returns: 'Repository' },
    delete: { summary: 'Delete a repository: its tags, manifests and blob links (project admins, maintainers)' },
  },
  '/projects/{project_name}/logs': { get: { summary: "Audit log entries of a project (project admins)", returns: '[AuditLog]', paged: true, query: ['q', 'sort'] } },
  '/robots': {
    get: { summary: 'Robots: system ones, or q=Level=project,ProjectID=<id>', returns: '[Robot]', paged: true, query: ['q'] },
    post: { summary: 'Create a robot; the secret is in the answer, once', body: 'RobotCreate', returns: 'RobotCreated', status: 201 },
  },
  '/robots/{robot_id}': {
    get: { summary: 'A robot', returns: 'Robot' },
    put: { summary: 'Update description, disable, duration, permissions', body: 'RobotUpdate' },
    patch: { summary: 'Refresh the secret (generated unless one is given)', body: 'RobotSec', returns: 'RobotSec' },
    delete: { summary: 'Delete a robot' },
  },
  '/quotas': { get: { summary: "Projects' storage quotas (system admins)", returns: '[Quota]', paged: true, query: ['reference', 'reference_id', 'sort'] } },
  '/quotas/{id}': {
    get: { summary: 'A quota: hard limit and usage in bytes (each blob and manifest once per project)', returns: 'Quota' },
    put: { summary: "Set a project's storage limit (-1: unlimited)", body: 'QuotaUpdateReq' },
  },
  '/projects/{project_name_or_id}/summary': { get: { summary: 'Repository count, members by role and quota of a project', returns: 'ProjectSummary' } },
  '/projects/{project_name_or_id}/immutabletagrules': {
    get: { summary: 'Immutable tag rules of a project (every role but limited guest)', returns: '[ImmutableRule]', paged: true, query: ['sort'] },
    post: { summary: 'Add a rule: repository and tag doublestar patterns, matches or excludes (project admins, maintainers)', body: 'ImmutableRule', status: 201 },
  },
  '/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}': {
    put: { summary: 'Change a rule, or enable/disable it (disabled)', body: 'ImmutableRule' },
    delete: { summary: 'Delete a rule' },
  },
  '/projects/{project_name_or_id}/webhook/policies': {
    get: { summary: 'Webhook policies of a project (project admins, maintainers)', returns: '[WebhookPolicy]', paged: true, query: ['sort'] },
    post: { summary: 'Add a policy: HTTP targets (auth_header, skip_cert_verify, Default or CloudEvents) and event types (project admins)', body: 'WebhookPolicy', status: 201 },
  },
  '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}': {
    get: { summary: 'A webhook policy (auth headers masked)', returns: 'WebhookPolicy' },
    put: { summary: 'Change a webhook policy', body: 'WebhookPolicy' },
    delete: { summary: 'Delete a webhook policy' },
  },
  '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions': { get: { summary: 'Deliveries of a policy, newest first: one execution per event and target', paged: true, query: ['status'] } },
  '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks': { get: { summary: "An execution's task (attempts, status)" } },
  '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks/{task_id}/log': { get: { summary: "A task's log (text)" } },
  '/projects/{project_name_or_id}/webhook/jobs': { get: { summary: "Harbor's older job list of a policy", paged: true, query: ['policy_id', 'status'] } },
  '/projects/{project_name_or_id}/webhook/lasttrigger': { get: { summary: 'When each policy and event type last fired' } },
  '/projects/{project_name_or_id}/webhook/events': { get: { summary: 'Supported event types, notify types and payload formats' } },
  '/system/gc': { get: { summary: 'GC runs, newest first (system admins)', returns: '[GCHistory]', paged: true } },
  '/system/gc/{id}': {
    get: { summary: 'A GC run: status, parameters, freed bytes', returns: 'GCHistory' },
    put: { summary: 'Stop a pending GC run' },
  },
  '/system/gc/{id}/log': { get: { summary: "A GC run's log (text)" } },
  '/system/gc/schedule': {
    get: { summary: 'The GC schedule (None, Hourly, Daily, Weekly, Custom) and its parameters' },
    post: { summary: 'Type Manual: run GC now (dry_run for a dry run); otherwise set the schedule', body: 'Schedule', status: 201 },
    put: { summary: 'Set the GC schedule', body: 'Schedule' },
  },
  '/system/purgeaudit': { get: { summary: 'Audit-log purge runs, newest first (system admins)', returns: '[GCHistory]', paged: true } },
  '/system/purgeaudit/{id}': {
    get: { summary: 'A purge run', returns: 'GCHistory' },
    put: { summary: 'Stop a pending purge run' },
  },
  '/system/purgeaudit/{id}/log': { get: { summary: "A purge run's log (text)" } },
  '/system/purgeaudit/schedule': {
    get: { summary: 'The purge schedule and its parameters (audit_retention_hour, include_operations, dry_run)' },
    post: { summary: 'Type Manual: purge now; otherwise set the schedule', body: 'PurgeSchedule', status: 201 },
    put: { summary: 'Set the purge schedule', body: 'PurgeSchedule' },
  },
  '/audit-logs': { get: { summary: 'Audit log, newest first (system admins: all; project admins: their projects)', returns: '[AuditLog]', paged: true, query: ['q', 'sort'] } },
};

const str = { type: 'string' };
const int = { type: 'integer' };
const bool = { type: 'boolean' };
const time = { type: 'string', format: 'date-time' };
const obj = (properties: Record<string, unknown>) => ({ type: 'object', properties });

const responseSchemas: Record<string, unknown> = {
  Errors: obj({ errors: { type: 'array', items: obj({ code: str, message: str }) } }),
  OverallHealthStatus: obj({ status: str, components: { type: 'array', items: obj({ name: str, status: str, error: str }) } }),
  GeneralInfo: obj({
    auth_mode: str,
    primary_auth_mode: bool,
    self_registration: bool,
    harbor_version: str,
    current_time: time,
    external_url: str,
    registry_url: str,
    project_creation_restriction: str,
    has_ca_root: bool,
    read_only: bool,
    notification_enable: bool,
    registry_storage_provider_name: str,
  }),
  UserResp: obj({ user_id: int, username: str, email: str, realname: str, comment: str, sysadmin_flag: bool, admin_role_in_auth: bool, creation_time: time, update_time: time }),
  UserSearchRespItem: obj({ user_id: int, username: str }),
  Project: obj({
    project_id: int,
    owner_id: int,
    owner_name: str,
    name: str,
    registry_id: int,
    creation_time: time,
    update_time: time,
    deleted: bool,
    togglable: bool,
    current_user_role_id: int,
    current_user_role_ids: { type: 'array', items: int },
    repo_count: int,
    metadata: obj({ public: { type: 'string', enum: ['true', 'false'] } }),
  }),
  ProjectMemberEntity: obj({ id: int, project_id: int, entity_name: str, role_name: str, role_id: int, entity_id: int, entity_type: str }),
  Repository: obj({ project_id: int, name: str, description: str, artifact_count: int, pull_count: int, creation_time: time, update_time: time }),
  Quota: obj({ id: int, ref: obj({ id: int, name: str, owner_name: str }), hard: obj({ storage: int }), used: obj({ storage: int }), creation_time: time, update_time: time }),
  GCHistory: obj({ id: int, job_name: str, job_kind: str, job_parameters: str, schedule: obj({ type: str, cron: str }), job_status: str, deleted: bool, creation_time: time, update_time: time }),
  ProjectSummary: obj({
    repo_count: int, project_admin_count: int, maintainer_count: int, developer_count: int, guest_count: int, limited_guest_count: int,
    quota: obj({ hard: obj({ storage: int }), used: obj({ storage: int }) }),
  }),
  RobotPermission: obj({ kind: str, namespace: str, access: { type: 'array', items: obj({ resource: str, action: str, effect: str }) } }),
  RobotCreated: obj({ id: int, name: str, secret: str, creation_time: time, expires_at: int }),
  Robot: obj({
    id: int,
    name: str,
    description: str,
    level: str,
    duration: int,
    editable: bool,
    disable: bool,
    expires_at: int,
    permissions: { type: 'array', items: { $ref: '#/components/schemas/RobotPermission' } },
    creator_type: str,
    creator_ref: int,
    creation_time: time,
    update_time: time,
  }),
  AuditLog: obj({
    id: int,
    username: str,
    resource: str,
    resource_type: str,
    operation: str,
    op_time: time,
    operation_result: bool,
    operation_description: str,
    client_ip: str,
    project_id: int,
  }),
};

const requestSchemas: Record<string, z.ZodType> = { ...userSchemas, ...projectSchemas, ...memberSchemas, ...robotSchemas, ...quotaSchemas, ...immutableRuleSchemas, ...webhookSchemas, ...gcSchemas, ...purgeSchemas };

function jsonSchema(s: z.ZodType): unknown {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

function ref(name: string): unknown {
  return { $ref: `#/components/schemas/${name}` };
}

const queryDocs: Record<string, string> = {
  q: 'Harbor query: k=v (exact), k=~v (fuzzy), k=[min~max] (range), k={v1 v2} (union), comma-separated',
  sort: 'op_time or -op_time (default)',
  name: 'fuzzy match on the project name',
  public: 'true or false',
  owner: "the owner's username",
  project_name: 'the project name to check',
  username: 'part of a username',
  entityname: 'part of a member name',
};

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(ops)) {
    paths[path] = {};
    for (const [method, op] of Object.entries(methods)) {
      const parameters: unknown[] = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: str }));
      for (const q of op.query ?? []) parameters.push({ name: q, in: 'query', required: q === 'project_name' || q === 'username', schema: str, description: queryDocs[q] });
      if (op.paged) {
        parameters.push({ name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } });
        parameters.push({ name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 } });
      }
      const status = String(op.status ?? 200);
      const success: Record<string, unknown> = { description: status === '201' ? 'Created (Location header names it)' : 'Success' };
      if (op.returns) {
        const array = op.returns.startsWith('[');
        const schema = array ? { type: 'array', items: ref(op.returns.slice(1, -1)) } : ref(op.returns);
        success.content = { 'application/json': { schema } };
      }
      if (op.paged) success.headers = { 'X-Total-Count': { schema: int }, Link: { schema: str } };
      if (path === '/ping') success.content = { 'text/plain': { schema: str } };
      const error = (description: string) => ({ description, content: { 'application/json': { schema: ref('Errors') } } });
      paths[path][method] = {
        summary: op.summary,
        ...(parameters.length > 0 && { parameters }),
        ...(op.body && { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body) } } } }),
        ...(op.auth === 'none' ? { security: [] } : {}),
        responses: {
          [status]: success,
          ...(op.auth !== 'none' && { '400': error('Bad request'), '401': error('Authentication required'), '403': error('Forbidden'), '404': error('Not found') }),
          ...(method === 'post' && { '409': error('Already exists') }),
        },
      };
    }
  }
  const schemas: Record<string, unknown> = { ...responseSchemas };
  for (const [name, s] of Object.entries(requestSchemas)) schemas[name] = jsonSchema(s);
  return {
    openapi: '3.1.0',
    info: { title: 'Berth admin API (Harbor /api/v2.0 compatible subset)', version: '2.0' },
    servers: [{ url: '/api/v2.0' }],
    security: [{ basic: [] }],
    paths,
    components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } }, schemas },
    'x-token-service': {
      'GET /service/token': 'Docker token auth: Basic or anonymous; scope (repeatable), service, offline_token → {token, access_token, expires_in, issued_at, refresh_token?}',
      'POST /service/token': 'OAuth2 form: grant_type=password|refresh_token, scope, access_type=offline',
      'GET /service/jwks.json': 'ES256 public keys (kid) that verify registry tokens',
    },
  };
}
