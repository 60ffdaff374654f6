import { z } from 'zod';
import { artifactSchemas } from './artifacts.js';
import { labelSchemas } from './labels.js';
import { memberSchemas } from './members.js';
import { operations, type Op } from './openapi-operations.js';
import { projectSchemas } from './projects.js';
import { repositorySchemas } from './repositories.js';
import { quotaSchemas } from './quotas.js';
import { gcSchemas } from './gc.js';
import { purgeSchemas } from './purge-audit.js';
import { immutableRuleSchemas } from './immutable-rules.js';
import { webhookSchemas } from './webhooks.js';
import { robotSchemas } from './robots.js';
import { userSchemas } from './users.js';

// The OpenAPI document of everything Berth serves under /api/v2.0 (operations in ./openapi-operations.ts) and
// the token service. Request bodies of the admin API come from the zod schemas its routes validate with, so
// the document cannot drift from the checks; replication's (a sibling folder this one may not import) are
// described by name and point at Harbor's definitions.

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
  GCHistory: obj({ id: int, job_name: str, job_kind: str, job_parameters: str, schedule: obj({ type: str, cron: str }), job_status: str, deleted: bool, creation_time: time, update_time: time }),
  Quota: obj({ id: int, ref: obj({ id: int, name: str, owner_name: str }), hard: obj({ storage: int }), used: obj({ storage: int }), creation_time: time, update_time: time }),
  ProjectSummary: obj({
    repo_count: int, project_admin_count: int, maintainer_count: int, developer_count: int, guest_count: int, limited_guest_count: int,
    quota: obj({ hard: obj({ storage: int }), used: obj({ storage: int }) }),
  }),
  ProjectMemberEntity: obj({ id: int, project_id: int, entity_name: str, role_name: str, role_id: int, entity_id: int, entity_type: str }),
  Repository: obj({ id: int, project_id: int, name: str, description: str, artifact_count: int, pull_count: int, creation_time: time, update_time: time }),
  Tag: obj({ id: int, repository_id: int, artifact_id: int, name: str, push_time: time, pull_time: time, immutable: bool }),
  Label: obj({ id: int, name: str, description: str, color: str, scope: { type: 'string', enum: ['g', 'p'] }, project_id: int, creation_time: time, update_time: time }),
  Accessory: obj({ id: int, artifact_id: int, subject_artifact_id: int, subject_artifact_digest: str, subject_artifact_repo: str, size: int, digest: str, type: str, icon: str, creation_time: time }),
  Reference: obj({ parent_id: int, child_id: int, child_digest: str, platform: obj({ architecture: str, os: str, variant: str }), annotations: { type: 'object' }, urls: { type: 'array', items: str } }),
  Artifact: obj({
    id: int,
    type: str,
    media_type: str,
    manifest_media_type: str,
    artifact_type: str,
    project_id: int,
    repository_id: int,
    repository_name: str,
    digest: str,
    size: int,
    icon: str,
    push_time: time,
    pull_time: time,
    extra_attrs: obj({ architecture: str, author: str, config: { type: 'object' }, created: time, os: str }),
    annotations: { type: 'object', additionalProperties: str },
    references: { type: 'array', items: { $ref: '#/components/schemas/Reference' } },
    tags: { type: 'array', items: { $ref: '#/components/schemas/Tag' } },
    addition_links: { type: 'object' },
    labels: { type: 'array', items: { $ref: '#/components/schemas/Label' } },
    accessories: { type: 'array', items: { $ref: '#/components/schemas/Accessory' } },
    scan_overview: { type: 'object' },
    sbom_overview: { type: 'object' },
  }),
  PreheatTask: obj({ id: int, repository: str, tag: str, blobs: { type: 'array', items: str } }),
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

const requestSchemas: Record<string, z.ZodType> = {
  ...userSchemas,
  ...projectSchemas,
  ...memberSchemas,
  ...robotSchemas,
  ...repositorySchemas,
  ...artifactSchemas,
  ...labelSchemas,
  ...quotaSchemas,
  ...immutableRuleSchemas,
  ...webhookSchemas,
  ...gcSchemas,
  ...purgeSchemas,
};

/** Replication's bodies and answers, as Harbor defines them (replicator/api validates them). */
const harborDefined = (name: string) => ({ type: 'object', description: `Harbor's ${name} (api/v2.0/swagger.yaml definitions)`, additionalProperties: true });
const replicationSchemas: Record<string, unknown> = {
  Registry: harborDefined('Registry'),
  RegistryReq: harborDefined('Registry'),
  RegistryUpdate: harborDefined('RegistryUpdate'),
  RegistryPing: harborDefined('RegistryPing'),
  ReplicationPolicy: harborDefined('ReplicationPolicy'),
  ReplicationPolicyReq: harborDefined('ReplicationPolicy'),
  ReplicationExecution: harborDefined('ReplicationExecution'),
  StartReplicationExecution: obj({ policy_id: int }),
  ReplicationTask: harborDefined('ReplicationTask'),
  PreheatReq: obj({ repository: str, tag: str }),
  Configurations: obj({ read_only: bool, project_creation_restriction: str }),
  CVEAllowlist: harborDefined('CVEAllowlist'),
  ProjectMetadata: { type: 'object', additionalProperties: { type: 'string' } },
  PreheatInstance: harborDefined('Instance'),
  PreheatPolicy: harborDefined('PreheatPolicy'),
  ExecutionStop: obj({ status: str }),
  RetentionPolicy: harborDefined('RetentionPolicy'),
  RetentionRun: obj({ dry_run: bool }),
  RetentionOperate: obj({ action: str }),
};

function jsonSchema(s: z.ZodType): unknown {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

function ref(name: string): unknown {
  return { $ref: `#/components/schemas/${name}` };
}

const queryDocs: Record<string, string> = {
  from: 'the artifact to copy: project/repository:tag or project/repository@digest',
  scope: 'g (global) or p (project)',
  project_id: 'the project of scope p labels',
  with_tag: 'include tags (default true)',
  with_label: 'include labels',
  with_accessory: 'include accessories (referrers)',
  with_immutable_status: 'report whether each tag is immutable',
  with_scan_overview: 'no scanner: an empty overview',
  with_sbom_overview: 'no scanner: an empty overview',
  latest_in_repository: 'only the newest push of each repository',
  with_signature: 'deprecated by Harbor (signatures are accessories); accepted',
  repository: 'a repository name',
  policy_id: 'executions of this policy',
  status: 'by status',
  trigger: 'by trigger',
  resource_type: 'by resource type',
  q: 'Harbor query: k=v (exact), k=~v (fuzzy), k=[min~max] (range), k={v1 v2} (union), comma-separated',
  sort: 'comma-separated keys, - for descending',
  name: 'fuzzy match on the project name',
  public: 'true or false',
  owner: "the owner's username",
  project_name: 'the project name to check',
  username: 'part of a username',
  entityname: 'part of a member name',
};

/** The statuses an operation may answer beyond its success: what every operation of its kind may, and its own. */
function failureStatuses(path: string, method: string, op: Op): number[] {
  const out = new Set<number>([500, ...(op.errors ?? [])]);
  if (op.auth !== 'none') for (const s of [400, 401, 403, 429]) out.add(s);
  // A path parameter names something that may not exist; a bad integer, a paging value or a missing body is
  // go-swagger's 422.
  if (/\{/.test(path) && op.auth !== 'none') out.add(404);
  if (op.paged || op.body || /_id\}|\{id\}|\{mid\}/.test(path)) out.add(422);
  if (op.body) for (const s of [400, 413, 415]) out.add(s);
  if (op.id === 'preheatBerthP2p') out.add(404);
  return [...out].sort((x, y) => x - y);
}

const statusText: Record<number, string> = {
  400: 'Bad request',
  401: 'Authentication required',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict: already exists',
  412: 'Precondition failed',
  413: 'Body too large',
  415: 'Body is not JSON',
  422: 'Validation failure (parameters, paging, missing body)',
  429: 'Too many failed logins',
  500: 'Internal error',
};

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(operations)) {
    paths[path] = {};
    for (const [method, op] of Object.entries(methods)) {
      const parameters: unknown[] = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: str }));
      for (const q of op.query ?? []) parameters.push({ name: q, in: 'query', required: ['project_name', 'username', 'from', 'repository', 'scope'].includes(q), schema: str, description: queryDocs[q] });
      if (op.paged) {
        parameters.push({ name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } });
        parameters.push({ name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 } });
      }
      const status = String(op.status ?? 200);
      const success: Record<string, unknown> = { description: op.location ? 'Created (the Location header names it)' : status === '201' ? 'Created' : 'Success' };
      if (op.returns) {
        const array = op.returns.startsWith('[');
        const schema = array ? { type: 'array', items: ref(op.returns.slice(1, -1)) } : ref(op.returns);
        success.content = { 'application/json': { schema } };
      }
      const headers: Record<string, unknown> = {};
      if (op.paged) Object.assign(headers, { 'X-Total-Count': { schema: int }, Link: { schema: str } });
      if (op.location) headers.Location = { description: 'The path of what was created', schema: str };
      if (Object.keys(headers).length > 0) success.headers = headers;
      if (path === '/ping') success.content = { 'text/plain': { schema: str } };
      const error = (description: string) => ({ description, content: { 'application/json': { schema: ref('Errors') } } });
      const responses: Record<string, unknown> = { [status]: success };
      for (const s of failureStatuses(path, method, op)) responses[String(s)] = error(statusText[s] ?? 'Error');
      paths[path][method] = {
        operationId: op.id,
        tags: [op.tag],
        summary: op.summary,
        ...(parameters.length > 0 && { parameters }),
        ...(op.body && { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body) } } } }),
        ...(op.auth === 'none' ? { security: [] } : {}),
        responses,
      };
    }
  }
  const schemas: Record<string, unknown> = { ...responseSchemas, ...replicationSchemas };
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
