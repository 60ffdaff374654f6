// Every operation Berth serves under /api/v2.0: Harbor's (with Harbor's operationIds and tags), replication's
// (mounted by the composing process) and Berth's own (/berth/…). test/auth/openapi.test.ts walks the running
// app's routes and fails when one is missing here, or listed here and not served.

export type Op = {
  /** Harbor's operationId where Harbor has the operation; Berth's own otherwise. */
  id: string;
  /** The OpenAPI tag (Harbor's API group; `berth` for Berth's own). */
  tag: string;
  summary: string;
  body?: string;
  /** Response: a schema name, `[Name]` for an array of it, or undefined for an empty body. */
  returns?: string;
  status?: number;
  /** A 201 that names what it made in a Location header (Harbor's createTag does not). */
  location?: boolean;
  paged?: boolean;
  query?: string[];
  auth?: 'none' | 'sysadmin';
  /** Failures beyond the ones every authenticated operation may answer (see openapi.ts). */
  errors?: number[];
};

const artifactQuery = ['q', 'sort', 'with_tag', 'with_label', 'with_scan_overview', 'with_sbom_overview', 'with_signature', 'with_immutable_status', 'with_accessory'];
const artifact = '/projects/{project_name}/repositories/{repository_name}/artifacts';

export const operations: Record<string, Record<string, Op>> = {
  '/ping': { get: { id: 'getPing', tag: 'ping', summary: 'Liveness: answers Pong', auth: 'none' } },
  '/health': { get: { id: 'getHealth', tag: 'health', summary: 'Health of core, database (MetaStore) and registry (BlobStore)', returns: 'OverallHealthStatus', auth: 'none' } },
  '/systeminfo': { get: { id: 'getSystemInfo', tag: 'systeminfo', summary: 'General system information (less for anonymous callers)', returns: 'GeneralInfo', auth: 'none', errors: [401, 429] } },
  '/openapi.json': { get: { id: 'getOpenApi', tag: 'berth', summary: 'This document', auth: 'none' } },
  '/users': {
    get: { id: 'listUsers', tag: 'user', summary: 'List users (system admins)', returns: '[UserResp]', paged: true, query: ['q'] },
    post: { id: 'createUser', tag: 'user', summary: 'Create a local user (system admins)', body: 'UserCreationReq', status: 201, location: true, errors: [409] },
  },
  '/users/current': { get: { id: 'getCurrentUserInfo', tag: 'user', summary: 'The calling user', returns: 'UserResp' } },
  '/users/search': { get: { id: 'searchUsers', tag: 'user', summary: 'Search users by name (any signed-in user)', returns: '[UserSearchRespItem]', paged: true, query: ['username'] } },
  '/users/{user_id}': {
    get: { id: 'getUser', tag: 'user', summary: "A user's profile (system admins, or the user)", returns: 'UserResp' },
    put: { id: 'updateUserProfile', tag: 'user', summary: 'Update email, realname, comment', body: 'UserProfile', errors: [409] },
    delete: { id: 'deleteUser', tag: 'user', summary: 'Delete a user and their memberships (system admins)' },
  },
  '/users/{user_id}/password': { put: { id: 'updateUserPassword', tag: 'user', summary: 'Change a password (old_password required for your own)', body: 'PasswordReq' } },
  '/users/{user_id}/sysadmin': { put: { id: 'setUserSysAdmin', tag: 'user', summary: 'Grant or revoke system admin (system admins)', body: 'UserSysAdminFlag' } },
  '/projects': {
    get: { id: 'listProjects', tag: 'project', summary: 'Projects visible to the caller', returns: '[Project]', paged: true, query: ['q', 'sort', 'name', 'public', 'owner'] },
    head: { id: 'headProject', tag: 'project', summary: 'Whether a project name exists (200 or 404)', query: ['project_name'] },
    post: { id: 'createProject', tag: 'project', summary: 'Create a project (system admins, or everyone with allow_user_projects)', body: 'ProjectReq', status: 201, location: true, errors: [409] },
  },
  '/projects/{project_name_or_id}': {
    get: { id: 'getProject', tag: 'project', summary: 'A project', returns: 'Project' },
    put: { id: 'updateProject', tag: 'project', summary: "Update a project's metadata (project admins)", body: 'ProjectReq' },
    delete: { id: 'deleteProject', tag: 'project', summary: 'Delete an empty project (412 while it holds repositories)', errors: [412] },
  },
  '/projects/{project_name_or_id}/members': {
    get: { id: 'listProjectMembers', tag: 'member', summary: 'Members (every role but limited guest)', returns: '[ProjectMemberEntity]', paged: true, query: ['entityname'] },
    post: { id: 'createProjectMember', tag: 'member', summary: 'Add a user with a role id (project admins)', body: 'ProjectMember', status: 201, location: true, errors: [409] },
  },
  '/projects/{project_name_or_id}/members/{mid}': {
    get: { id: 'getProjectMember', tag: 'member', summary: 'A member', returns: 'ProjectMemberEntity' },
    put: { id: 'updateProjectMember', tag: 'member', summary: "Change a member's role (project admins)", body: 'RoleRequest' },
    delete: { id: 'deleteProjectMember', tag: 'member', summary: 'Remove a member (project admins)' },
  },
  '/repositories': { get: { id: 'listAllRepositories', tag: 'repository', summary: 'Repositories of every project the caller may pull from', returns: '[Repository]', paged: true, query: ['q', 'sort'] } },
  '/projects/{project_name}/repositories': { get: { id: 'listRepositories', tag: 'repository', summary: "A project's repositories", returns: '[Repository]', paged: true, query: ['q', 'sort'] } },
  '/projects/{project_name}/repositories/{repository_name}': {
    get: { id: 'getRepository', tag: 'repository', summary: 'A repository (name inside the project, slashes URL-encoded twice)', returns: 'Repository' },
    put: { id: 'updateRepository', tag: 'repository', summary: "Set a repository's description (project admins, maintainers, developers)", body: 'RepositoryUpdate' },
    delete: { id: 'deleteRepository', tag: 'repository', summary: 'Delete a repository: its tags, manifests and blob links (project admins, maintainers)' },
  },
  '/projects/{project_name_or_id}/artifacts': {
    get: { id: 'listArtifactsOfProject', tag: 'project', summary: "Artifacts of every repository of a project; latest_in_repository (with q on exactly one of media_type, artifact_type) keeps each repository's newest", returns: '[Artifact]', paged: true, query: [...artifactQuery, 'latest_in_repository'] },
  },
  [artifact]: {
    get: { id: 'listArtifacts', tag: 'artifact', summary: 'Artifacts of a repository: top-level ones unless q=base=*; q on tags, digest, media_type, type, labels, push_time, pull_time', returns: '[Artifact]', paged: true, query: artifactQuery },
    post: { id: 'copyArtifact', tag: 'artifact', summary: 'Copy an artifact (from=project/repo:tag or @digest) with its children, accessories and tags', status: 201, location: true, query: ['from'], errors: [409] },
  },
  [`${artifact}/{reference}`]: {
    get: { id: 'getArtifact', tag: 'artifact', summary: 'An artifact by tag or digest', returns: 'Artifact', query: artifactQuery.slice(2) },
    delete: { id: 'deleteArtifact', tag: 'artifact', summary: 'Delete an artifact, its tags and accessories (412 while an index lists it)', errors: [412] },
  },
  [`${artifact}/{reference}/tags`]: {
    get: { id: 'listTags', tag: 'artifact', summary: "An artifact's tags", returns: '[Tag]', paged: true, query: ['q', 'sort', 'with_immutable_status'] },
    post: { id: 'createTag', tag: 'artifact', summary: 'Tag an artifact (409 when the tag exists); no Location, as Harbor', body: 'Tag', status: 201, errors: [409] },
  },
  [`${artifact}/{reference}/tags/{tag_name}`]: { delete: { id: 'deleteTag', tag: 'artifact', summary: 'Delete a tag of the artifact' } },
  [`${artifact}/{reference}/accessories`]: { get: { id: 'listAccessories', tag: 'artifact', summary: "An artifact's accessories: its referrers (signatures, SBOMs)", returns: '[Accessory]', paged: true, query: ['sort'] } },
  [`${artifact}/{reference}/additions/vulnerabilities`]: { get: { id: 'getVulnerabilitiesAddition', tag: 'artifact', summary: 'No scanner: an empty object' } },
  [`${artifact}/{reference}/additions/{addition}`]: { get: { id: 'getAddition', tag: 'artifact', summary: "build_history: the image config's history" } },
  [`${artifact}/{reference}/labels`]: { post: { id: 'addLabel', tag: 'artifact', summary: 'Put a label (global or of the project) on the artifact', body: 'LabelRef', errors: [409] } },
  [`${artifact}/{reference}/labels/{label_id}`]: { delete: { id: 'removeLabel', tag: 'artifact', summary: 'Take a label off the artifact' } },
  '/labels': {
    get: { id: 'ListLabels', tag: 'label', summary: 'Labels of a scope: g (anyone) or p with project_id', returns: '[Label]', paged: true, query: ['q', 'sort', 'scope', 'project_id', 'name'] },
    post: { id: 'CreateLabel', tag: 'label', summary: 'Create a label (global: system admins; project: its admins and maintainers)', body: 'Label', status: 201, location: true, errors: [409] },
  },
  '/labels/{label_id}': {
    get: { id: 'GetLabelByID', tag: 'label', summary: 'A label', returns: 'Label' },
    put: { id: 'UpdateLabel', tag: 'label', summary: "Rename, recolour or redescribe a label", body: 'LabelUpdate', errors: [409] },
    delete: { id: 'DeleteLabel', tag: 'label', summary: 'Delete a label and take it off every artifact' },
  },
  '/projects/{project_name}/logs': { get: { id: 'getLogs', tag: 'project', summary: 'Audit log entries of a project (project admins)', returns: '[AuditLog]', paged: true, query: ['q', 'sort'] } },
  '/robots': {
    get: { id: 'ListRobot', tag: 'robot', summary: 'Robots: system ones, or q=Level=project,ProjectID=<id>', returns: '[Robot]', paged: true, query: ['q'] },
    post: { id: 'CreateRobot', tag: 'robot', summary: 'Create a robot; the secret is in the answer, once', body: 'RobotCreate', returns: 'RobotCreated', status: 201, location: true, errors: [409] },
  },
  '/robots/{robot_id}': {
    get: { id: 'GetRobotByID', tag: 'robot', summary: 'A robot', returns: 'Robot' },
    put: { id: 'UpdateRobot', tag: 'robot', summary: 'Update description, disable, duration, permissions', body: 'RobotUpdate', errors: [409] },
    patch: { id: 'RefreshSec', tag: 'robot', summary: 'Refresh the secret (generated unless one is given)', body: 'RobotSec', returns: 'RobotSec' },
    delete: { id: 'DeleteRobot', tag: 'robot', summary: 'Delete a robot' },
  },
  '/audit-logs': { get: { id: 'listAuditLogs', tag: 'auditlog', summary: 'Audit log, newest first (system admins: all; project admins: their projects)', returns: '[AuditLog]', paged: true, query: ['q', 'sort'] } },

  // Replication (replicator/api), system admins only.
  '/replication/adapters': { get: { id: 'listRegistryProviderTypes', tag: 'registry', summary: 'Registry types Berth replicates with', auth: 'sysadmin' } },
  '/registries': {
    get: { id: 'listRegistries', tag: 'registry', summary: 'Registry endpoints', returns: '[Registry]', paged: true, query: ['q', 'name'], auth: 'sysadmin' },
    post: { id: 'createRegistry', tag: 'registry', summary: 'Add a registry endpoint', body: 'RegistryReq', status: 201, location: true, auth: 'sysadmin', errors: [409] },
  },
  '/registries/ping': { post: { id: 'pingRegistry', tag: 'registry', summary: 'Check a registry (by id, or url and credential) answers', body: 'RegistryPing', auth: 'sysadmin' } },
  '/registries/{id}': {
    get: { id: 'getRegistry', tag: 'registry', summary: 'A registry endpoint', returns: 'Registry', auth: 'sysadmin' },
    put: { id: 'updateRegistry', tag: 'registry', summary: 'Update a registry endpoint', body: 'RegistryUpdate', auth: 'sysadmin', errors: [409] },
    delete: { id: 'deleteRegistry', tag: 'registry', summary: 'Delete a registry endpoint (412 while policies use it)', auth: 'sysadmin', errors: [412] },
  },
  '/registries/{id}/info': { get: { id: 'getRegistryInfo', tag: 'registry', summary: 'What the endpoint supports (filters, triggers)', auth: 'sysadmin' } },
  '/replication/policies': {
    get: { id: 'listReplicationPolicies', tag: 'replication', summary: 'Replication policies', returns: '[ReplicationPolicy]', paged: true, query: ['q', 'name'], auth: 'sysadmin' },
    post: { id: 'createReplicationPolicy', tag: 'replication', summary: 'Create a policy (push: dest_registry; pull: src_registry)', body: 'ReplicationPolicyReq', status: 201, location: true, auth: 'sysadmin', errors: [409] },
  },
  '/replication/policies/{id}': {
    get: { id: 'getReplicationPolicy', tag: 'replication', summary: 'A policy', returns: 'ReplicationPolicy', auth: 'sysadmin' },
    put: { id: 'updateReplicationPolicy', tag: 'replication', summary: 'Update a policy', body: 'ReplicationPolicyReq', auth: 'sysadmin', errors: [409] },
    delete: { id: 'deleteReplicationPolicy', tag: 'replication', summary: 'Delete a policy (412 while it runs)', auth: 'sysadmin', errors: [412] },
  },
  '/replication/executions': {
    get: { id: 'listReplicationExecutions', tag: 'replication', summary: 'Executions, newest first', returns: '[ReplicationExecution]', paged: true, query: ['policy_id', 'status', 'trigger'], auth: 'sysadmin' },
    post: { id: 'startReplication', tag: 'replication', summary: 'Run a policy now (412 when disabled)', body: 'StartReplicationExecution', status: 201, location: true, auth: 'sysadmin', errors: [412] },
  },
  '/replication/executions/{id}': {
    get: { id: 'getReplicationExecution', tag: 'replication', summary: 'An execution', returns: 'ReplicationExecution', auth: 'sysadmin' },
    put: { id: 'stopReplication', tag: 'replication', summary: 'Stop an execution', auth: 'sysadmin' },
  },
  '/replication/executions/{id}/tasks': { get: { id: 'listReplicationTasks', tag: 'replication', summary: "An execution's tasks", returns: '[ReplicationTask]', paged: true, query: ['status', 'resource_type'], auth: 'sysadmin' } },
  '/replication/executions/{id}/tasks/{task_id}': { get: { id: 'getBerthReplicationTask', tag: 'berth', summary: 'One task (Berth)', returns: 'ReplicationTask', auth: 'sysadmin' } },
  '/replication/executions/{id}/tasks/{task_id}/log': { get: { id: 'getReplicationLog', tag: 'replication', summary: "A task's log (text)", auth: 'sysadmin' } },
  '/berth/replication/info': { get: { id: 'getBerthReplicationInfo', tag: 'berth', summary: "This registry's IDC and clock, for peers", auth: 'sysadmin' } },
  '/berth/replication/tags': { get: { id: 'listBerthReplicationTags', tag: 'berth', summary: "A repository's tag records with versions, tombstones included (anti-entropy)", query: ['repository'], auth: 'sysadmin' } },
  '/berth/replication/topology': { get: { id: 'getBerthReplicationTopology', tag: 'berth', summary: "The replication graph: this IDC's policies and, asked of its Berth peers with their stored credentials, theirs (depth hops, visited IDCs left out)", query: ['depth', 'visited'], auth: 'sysadmin' } },
  '/berth/replication/conflicts': { get: { id: 'listBerthReplicationConflicts', tag: 'berth', summary: 'Tag writes last-writer-wins overrode, newest first', paged: true, query: ['repository'], auth: 'sysadmin' } },
  '/berth/p2p/preheat': { post: { id: 'preheatBerthP2p', tag: 'berth', summary: "Ask the seed agents to fetch a tag's layers ahead of demand (pull and push on the repository)", body: 'PreheatReq', returns: 'PreheatTask', status: 201 } },
  // Search, statistics, configurations, project metadata, system settings.
  '/search': { get: { id: 'search', tag: 'search', summary: 'Projects and repositories whose names contain q, among those the caller may see', query: ['q'], auth: 'none' } },
  '/statistics': { get: { id: 'getStatistic', tag: 'statistic', summary: 'Project and repository counts (totals for system admins)', auth: 'none' } },
  '/configurations': {
    get: { id: 'getConfigurations', tag: 'configure', summary: 'Settings with whether each can be changed here (system admins)', auth: 'sysadmin' },
    put: { id: 'updateConfigurations', tag: 'configure', summary: 'Change read_only or project_creation_restriction (system admins)', auth: 'sysadmin', body: 'Configurations' },
  },
  '/systeminfo/volumes': { get: { id: 'getVolumes', tag: 'systeminfo', summary: "The data directory's volume: total and free bytes (system admins)", auth: 'sysadmin' } },
  '/systeminfo/getcert': { get: { id: 'getCert', tag: 'systeminfo', summary: 'The TLS certificate Berth serves (404 without TLS)' } },
  '/system/CVEAllowlist': {
    get: { id: 'getSystemCVEAllowlist', tag: 'SystemCVEAllowlist', summary: 'The system CVE allowlist, kept (no scanner applies it)' },
    put: { id: 'putSystemCVEAllowlist', tag: 'SystemCVEAllowlist', summary: 'Set the system CVE allowlist (system admins)', auth: 'sysadmin', body: 'CVEAllowlist' },
  },
  '/projects/{project_name_or_id}/_deletable': { get: { id: 'getProjectDeletable', tag: 'project', summary: 'Whether a delete would succeed, and why not' } },
  '/projects/{project_name_or_id}/metadatas/': {
    get: { id: 'listProjectMetadatas', tag: 'projectMetadata', summary: "A project's metadata" },
    post: { id: 'addProjectMetadatas', tag: 'projectMetadata', summary: 'Add metadata keys (project admins)', body: 'ProjectMetadata' },
  },
  '/projects/{project_name_or_id}/metadatas/{meta_name}': {
    get: { id: 'getProjectMetadata', tag: 'projectMetadata', summary: 'One metadata key' },
    put: { id: 'updateProjectMetadata', tag: 'projectMetadata', summary: 'Set one metadata key (project admins)', body: 'ProjectMetadata' },
    delete: { id: 'deleteProjectMetadata', tag: 'projectMetadata', summary: 'Remove one metadata key (project admins)' },
  },
  '/replication/adapterinfos': { get: { id: 'listRegistryProviderInfos', tag: 'registry', summary: 'Endpoint patterns per registry type', auth: 'sysadmin' } },
  // Preheat over Berth's own P2P (the built-in `berth` provider).
  '/p2p/preheat/providers': { get: { id: 'ListProviders', tag: 'preheat', summary: 'Preheat providers: berth', auth: 'sysadmin' } },
  '/projects/{project_name}/preheat/providers': { get: { id: 'ListProvidersUnderProject', tag: 'preheat', summary: 'Enabled provider instances for a project' } },
  '/p2p/preheat/instances/ping': { post: { id: 'PingInstances', tag: 'preheat', summary: 'Check an instance (vendor berth)', auth: 'sysadmin', body: 'PreheatInstance' } },
  '/p2p/preheat/instances': {
    get: { id: 'ListInstances', tag: 'preheat', summary: 'Provider instances (the built-in berth one first)', paged: true, auth: 'sysadmin' },
    post: { id: 'CreateInstance', tag: 'preheat', summary: 'Add an instance of vendor berth', body: 'PreheatInstance', status: 201, location: true, auth: 'sysadmin', errors: [409] },
  },
  '/p2p/preheat/instances/{preheat_instance_name}': {
    get: { id: 'GetInstance', tag: 'preheat', summary: 'An instance', auth: 'sysadmin' },
    put: { id: 'UpdateInstance', tag: 'preheat', summary: 'Enable, disable, make default', body: 'PreheatInstance', auth: 'sysadmin' },
    delete: { id: 'DeleteInstance', tag: 'preheat', summary: 'Delete an instance (412: built in, or used by policies)', auth: 'sysadmin', errors: [412] },
  },
  '/projects/{project_name}/preheat/policies': {
    get: { id: 'ListPolicies', tag: 'preheat', summary: "A project's preheat policies", paged: true },
    post: { id: 'CreatePolicy', tag: 'preheat', summary: 'Create a preheat policy (project admins)', body: 'PreheatPolicy', status: 201, location: true, errors: [409] },
  },
  '/projects/{project_name}/preheat/policies/{preheat_policy_name}': {
    get: { id: 'GetPolicy', tag: 'preheat', summary: 'A preheat policy' },
    put: { id: 'UpdatePolicy', tag: 'preheat', summary: 'Update a preheat policy (project admins)', body: 'PreheatPolicy', errors: [409] },
    post: { id: 'ManualPreheat', tag: 'preheat', summary: 'Run the policy now (project admins)', status: 201, location: true },
    delete: { id: 'DeletePolicy', tag: 'preheat', summary: 'Delete a preheat policy (project admins)' },
  },
  '/projects/{project_name}/preheat/policies/{preheat_policy_name}/executions': { get: { id: 'ListExecutions', tag: 'preheat', summary: "A policy's executions, newest first", paged: true } },
  '/projects/{project_name}/preheat/policies/{preheat_policy_name}/executions/{execution_id}': {
    get: { id: 'GetExecution', tag: 'preheat', summary: 'An execution, its status from the seed agents’ reports' },
    patch: { id: 'StopExecution', tag: 'preheat', summary: 'Stop an execution ({"status": "Stopped"})', body: 'ExecutionStop' },
  },
  '/projects/{project_name}/preheat/policies/{preheat_policy_name}/executions/{execution_id}/tasks': { get: { id: 'ListTasks', tag: 'preheat', summary: "An execution's tasks (one per artifact)", paged: true } },
  '/projects/{project_name}/preheat/policies/{preheat_policy_name}/executions/{execution_id}/tasks/{task_id}/logs': { get: { id: 'GetPreheatLog', tag: 'preheat', summary: "A task's log: the seed agents' reports (text)" } },
  // Tag retention (registry/retention.ts decides and deletes).
  '/retentions/metadatas': { get: { id: 'getRentenitionMetadata', tag: 'Retention', summary: 'Rule templates and selectors' } },
  '/retentions': { post: { id: 'createRetention', tag: 'Retention', summary: "A project's retention policy (project admins; one per project)", body: 'RetentionPolicy', status: 201, location: true, errors: [409] } },
  '/retentions/{id}': {
    get: { id: 'getRetention', tag: 'Retention', summary: 'A retention policy' },
    put: { id: 'updateRetention', tag: 'Retention', summary: 'Replace its rules and trigger (project admins)', body: 'RetentionPolicy', errors: [409] },
    delete: { id: 'deleteRetention', tag: 'Retention', summary: 'Delete it (project admins)' },
  },
  '/retentions/{id}/executions': {
    post: { id: 'triggerRetentionExecution', tag: 'Retention', summary: 'Run it now, or a dry run (project admins)', body: 'RetentionRun', status: 201, location: true },
    get: { id: 'listRetentionExecutions', tag: 'Retention', summary: 'Its executions, newest first', paged: true },
  },
  '/retentions/{id}/executions/{eid}': { patch: { id: 'operateRetentionExecution', tag: 'Retention', summary: 'Stop an execution ({"action": "stop"})', body: 'RetentionOperate' } },
  '/retentions/{id}/executions/{eid}/tasks': { get: { id: 'listRetentionTasks', tag: 'Retention', summary: 'One task per repository', paged: true } },
  '/retentions/{id}/executions/{eid}/tasks/{tid}': { get: { id: 'getRetentionTaskLog', tag: 'Retention', summary: 'What was retained, deleted (or would be) and kept, with why (text)' } },
  '/permissions': { get: { id: 'getPermissions', tag: 'permissions', summary: 'The resource/action pairs robot accounts may be granted' } },
  '/users/current/permissions': { get: { id: 'getCurrentUserPermissions', tag: 'user', summary: 'What the caller may do (scope /system or /project/{id}; relative)', query: ['scope', 'relative'] } },
  '/auditlog-exts': { get: { id: 'listAuditLogExts', tag: 'auditlog', summary: 'The audit log (extended view: the same entries)', returns: '[AuditLog]', paged: true, query: ['q', 'sort'] } },
  '/auditlog-exts/events': { get: { id: 'listAuditLogEventTypes', tag: 'auditlog', summary: 'Event types the log holds (operation_resource)' } },
  '/projects/{project_name}/auditlog-exts': { get: { id: 'listAuditLogExtsOfProject', tag: 'project', summary: "A project's audit log (extended view)", returns: '[AuditLog]', paged: true, query: ['q', 'sort'] } },
  // Governance: quotas, immutable tag rules, webhooks (registry/quotas.ts, immutability.ts, webhooks/).
  '/quotas': { get: { id: 'listQuotas', tag: 'quota', summary: "Projects' storage quotas (system admins)", returns: '[Quota]', paged: true, query: ['reference', 'reference_id', 'sort'] } },
  '/quotas/{id}': {
    get: { id: 'getQuota', tag: 'quota', summary: 'A quota: hard limit and usage in bytes (each blob and manifest once per project)', returns: 'Quota' },
    put: { id: 'updateQuota', tag: 'quota', summary: "Set a project's storage limit (-1: unlimited)", body: 'QuotaUpdateReq' },
  },
  '/projects/{project_name_or_id}/summary': { get: { id: 'getProjectSummary', tag: 'project', summary: 'Repository count, members by role and quota of a project', returns: 'ProjectSummary' } },
  '/projects/{project_name_or_id}/immutabletagrules': {
    get: { id: 'ListImmuRules', tag: 'immutable', summary: 'Immutable tag rules of a project (every role but limited guest)', returns: '[ImmutableRule]', paged: true, query: ['sort'] },
    post: { id: 'CreateImmuRule', tag: 'immutable', summary: 'Add a rule: repository and tag doublestar patterns, matches or excludes (project admins, maintainers)', body: 'ImmutableRule', status: 201, location: true },
  },
  '/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}': {
    put: { id: 'UpdateImmuRule', tag: 'immutable', summary: 'Change a rule, or enable/disable it (disabled)', body: 'ImmutableRule' },
    delete: { id: 'DeleteImmuRule', tag: 'immutable', summary: 'Delete a rule' },
  },
  '/projects/{project_name_or_id}/webhook/policies': {
    get: { id: 'ListWebhookPoliciesOfProject', tag: 'webhook', summary: 'Webhook policies of a project (project admins, maintainers)', returns: '[WebhookPolicy]', paged: true, query: ['sort'] },
    post: { id: 'CreateWebhookPolicyOfProject', tag: 'webhook', summary: 'Add a policy: HTTP targets (auth_header, skip_cert_verify, Default or CloudEvents) and event types (project admins)', body: 'WebhookPolicy', status: 201, location: true },
  },
  '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}': {
    get: { id: 'GetWebhookPolicyOfProject', tag: 'webhook', summary: 'A webhook policy (auth headers masked)', returns: 'WebhookPolicy' },
    put: { id: 'UpdateWebhookPolicyOfProject', tag: 'webhook', summary: 'Change a webhook policy', body: 'WebhookPolicy' },
    delete: { id: 'DeleteWebhookPolicyOfProject', tag: 'webhook', summary: 'Delete a webhook policy' },
  },
  '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions': { get: { id: 'ListExecutionsOfWebhookPolicy', tag: 'webhook', summary: 'Deliveries of a policy, newest first: one execution per event and target', paged: true, query: ['status'] } },
  '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks': { get: { id: 'ListTasksOfWebhookExecution', tag: 'webhook', summary: "An execution's task (attempts, status)" } },
  '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks/{task_id}/log': { get: { id: 'GetLogsOfWebhookTask', tag: 'webhook', summary: "A task's log (text)" } },
  '/projects/{project_name_or_id}/webhook/jobs': { get: { id: 'ListWebhookJobs', tag: 'webhookjob', summary: "Harbor's older job list of a policy", paged: true, query: ['policy_id', 'status'] } },
  '/projects/{project_name_or_id}/webhook/lasttrigger': { get: { id: 'LastTrigger', tag: 'webhook', summary: 'When each policy and event type last fired' } },
  '/projects/{project_name_or_id}/webhook/events': { get: { id: 'GetSupportedEventTypes', tag: 'webhook', summary: 'Supported event types, notify types and payload formats' } },
  '/system/gc': { get: { id: 'getGCHistory', tag: 'gc', summary: 'GC runs, newest first (system admins)', returns: '[GCHistory]', paged: true, auth: 'sysadmin' } },
  '/system/gc/{id}': {
    get: { id: 'getGC', tag: 'gc', summary: 'A GC run: status, parameters, freed bytes', returns: 'GCHistory', auth: 'sysadmin' },
    put: { id: 'stopGC', tag: 'gc', summary: 'Stop a pending GC run', auth: 'sysadmin' },
  },
  '/system/gc/{id}/log': { get: { id: 'getGCLog', tag: 'gc', summary: "A GC run's log (text)", auth: 'sysadmin' } },
  '/system/gc/schedule': {
    get: { id: 'getGCSchedule', tag: 'gc', summary: 'The GC schedule (None, Hourly, Daily, Weekly, Custom) and its parameters', auth: 'sysadmin' },
    post: { id: 'createGCSchedule', tag: 'gc', summary: 'Type Manual: run GC now (dry_run for a dry run); otherwise set the schedule', body: 'Schedule', status: 201, auth: 'sysadmin' },
    put: { id: 'updateGCSchedule', tag: 'gc', summary: 'Set the GC schedule', body: 'Schedule', auth: 'sysadmin' },
  },
  '/system/purgeaudit': { get: { id: 'getPurgeHistory', tag: 'purge', summary: 'Audit-log purge runs, newest first (system admins)', returns: '[GCHistory]', paged: true, auth: 'sysadmin' } },
  '/system/purgeaudit/{id}': {
    get: { id: 'getPurgeJob', tag: 'purge', summary: 'A purge run', returns: 'GCHistory', auth: 'sysadmin' },
    put: { id: 'stopPurge', tag: 'purge', summary: 'Stop a pending purge run', auth: 'sysadmin' },
  },
  '/system/purgeaudit/{id}/log': { get: { id: 'getPurgeJobLog', tag: 'purge', summary: "A purge run's log (text)", auth: 'sysadmin' } },
  '/system/purgeaudit/schedule': {
    get: { id: 'getPurgeSchedule', tag: 'purge', summary: 'The purge schedule and its parameters (audit_retention_hour, include_operations, dry_run)', auth: 'sysadmin' },
    post: { id: 'createPurgeSchedule', tag: 'purge', summary: 'Type Manual: purge now; otherwise set the schedule', body: 'PurgeSchedule', status: 201, auth: 'sysadmin' },
    put: { id: 'updatePurgeSchedule', tag: 'purge', summary: 'Set the purge schedule', body: 'PurgeSchedule', auth: 'sysadmin' },
  },
  '/berth/p2p/swarms/{digest}': { get: { id: 'getBerthP2pSwarm', tag: 'berth', summary: 'The nodes holding a blob in its P2P swarm, per IDC', auth: 'sysadmin' } },
  '/internalconfig': { get: { id: 'getInternalconfig', tag: 'configure', summary: 'The settings as /configurations reports them (system admins)', auth: 'sysadmin' } },
  '/schedules': { get: { id: 'listSchedules', tag: 'schedule', summary: 'Crons of GC, audit purge, retention and preheat (system admins)', paged: true, auth: 'sysadmin' } },
  '/schedules/{job_type}/paused': { get: { id: 'getSchedulePaused', tag: 'schedule', summary: 'Whether a job type is paused (never, in Berth)', auth: 'sysadmin' } },
};
