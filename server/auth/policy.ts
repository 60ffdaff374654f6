import type { RepositoryAction } from './authorizer.js';
import type { Principal } from './principal.js';
import type { AccessRecords, ProjectRecord, RobotPermission } from './records.js';
import { PROJECT_PERMISSIONS, rolePermissions, type ProjectPermission, type RoleId } from './roles.js';

// Who may do what: the one place that reads roles, robot permissions and project visibility. The token
// service, the /v2 authorizer and the admin API all ask here.

export interface RepositoryDecision {
  actions: Set<RepositoryAction>;
  /** Why nothing (or less) was granted, when the cause is not the caller's role: shown in DENIED errors. */
  reason?: string;
}

const repositoryPermission: Record<RepositoryAction, ProjectPermission> = {
  pull: 'repository.pull',
  push: 'repository.push',
  delete: 'artifact.delete',
};

/** The project a repository lives in: its first path component (every repository is `<project>/<path>`). */
export function projectOf(repository: string): string | undefined {
  const i = repository.indexOf('/');
  return i > 0 ? repository.slice(0, i) : undefined;
}

export class AccessPolicy {
  constructor(private readonly records: AccessRecords) {}

  /** The caller's role in the project, when it is a member. */
  async roleIn(principal: Principal, project: ProjectRecord): Promise<RoleId | undefined> {
    if (principal.kind !== 'user') return undefined;
    return (await this.records.membership(project.id, principal.id))?.role_id;
  }

  async projectPermissions(principal: Principal, project: ProjectRecord): Promise<Set<ProjectPermission>> {
    if (principal.kind === 'user' && principal.sysadmin) return new Set(PROJECT_PERMISSIONS);
    const granted = new Set<ProjectPermission>();
    if (project.public) {
      // Harbor's public-project policies: anyone reads the content and its labels.
      for (const p of ['project.read', 'repository.pull', 'artifact.read', 'tag.list', 'label.read'] as const) granted.add(p);
    }
    if (principal.kind === 'user') {
      const role = await this.roleIn(principal, project);
      if (role !== undefined) for (const p of rolePermissions(role)) granted.add(p);
    } else if (principal.kind === 'robot') {
      for (const p of robotProjectPermissions(principal.permissions, project.name)) granted.add(p);
    }
    return granted;
  }

  async can(principal: Principal, project: ProjectRecord, permission: ProjectPermission): Promise<boolean> {
    return (await this.projectPermissions(principal, project)).has(permission);
  }

  async repositoryActions(principal: Principal, repository: string): Promise<RepositoryDecision> {
    const projectName = projectOf(repository);
    if (projectName === undefined) {
      return { actions: new Set(), reason: `repository names are <project>/<path>; "${repository}" names no project` };
    }
    const project = await this.records.projectByName(projectName);
    if (!project) return { actions: new Set(), reason: `project ${projectName} does not exist` };
    const permissions = await this.projectPermissions(principal, project);
    const actions = new Set<RepositoryAction>();
    for (const [action, permission] of Object.entries(repositoryPermission) as [RepositoryAction, ProjectPermission][]) {
      if (permissions.has(permission)) actions.add(action);
    }
    // An OCI DELETE by tag removes a tag: Harbor's tag:delete allows it as artifact:delete does.
    if (permissions.has('tag.delete')) actions.add('delete');
    return { actions };
  }
}

/** Harbor's rbac resource:action pairs a robot may hold, beyond repository pull/push/delete. */
export const robotGrants: Record<string, ProjectPermission> = {
  'repository:update': 'repository.update',
  'artifact:read': 'artifact.read',
  'artifact:list': 'artifact.read',
  'artifact:create': 'artifact.create',
  'artifact:delete': 'artifact.delete',
  'tag:list': 'tag.list',
  'tag:create': 'tag.create',
  'tag:delete': 'tag.delete',
  'artifact-label:create': 'artifact-label.create',
  'artifact-label:delete': 'artifact-label.delete',
  'label:read': 'label.read',
  'label:list': 'label.read',
  'label:create': 'label.manage',
  'label:update': 'label.manage',
  'label:delete': 'label.manage',
};

/**
 * What a robot's Harbor-style permissions grant in one project (Harbor's rbac resources and actions):
 * repository pull/push map directly; repository delete is the whole repository (admin API) and what is in it;
 * artifact or tag delete is the OCI DELETE inside the repository, never the repository; artifact, tag and label
 * actions are each their own permission. Entries Berth does not know grant nothing.
 */
export function robotProjectPermissions(permissions: RobotPermission[], projectName: string): Set<ProjectPermission> {
  const granted = new Set<ProjectPermission>();
  for (const perm of permissions) {
    if (perm.kind !== 'project' || (perm.namespace !== projectName && perm.namespace !== '*')) continue;
    for (const a of perm.access) {
      if (a.effect !== undefined && a.effect !== 'allow') continue;
      if (a.resource === 'repository' && (a.action === 'pull' || a.action === 'push' || a.action === 'delete')) {
        granted.add(repositoryPermission[a.action]);
        if (a.action === 'delete') granted.add('repository.delete');
        granted.add('project.read');
      } else {
        const permission = robotGrants[`${a.resource}:${a.action}`];
        if (permission) granted.add(permission);
      }
    }
  }
  return granted;
}
