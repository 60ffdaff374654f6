// Harbor's project roles, with Harbor's ids (clients send these numbers), and what each may do in a project.

export const ROLE_IDS = [1, 2, 3, 4, 5] as const;
export type RoleId = (typeof ROLE_IDS)[number];

export const PROJECT_ADMIN: RoleId = 1;
export const DEVELOPER: RoleId = 2;
export const GUEST: RoleId = 3;
export const MAINTAINER: RoleId = 4;
export const LIMITED_GUEST: RoleId = 5;

/** Harbor's role names, as its member API reports them. */
export const roleNames: Record<RoleId, string> = {
  1: 'projectAdmin',
  2: 'developer',
  3: 'guest',
  4: 'maintainer',
  5: 'limitedGuest',
};

export function isRoleId(n: unknown): n is RoleId {
  return typeof n === 'number' && (ROLE_IDS as readonly number[]).includes(n);
}

/** What can be done inside one project. */
export type ProjectPermission =
  | 'project.read'
  | 'project.update'
  | 'project.delete'
  | 'member.list'
  | 'member.manage'
  | 'robot.manage'
  | 'repository.pull'
  | 'repository.push'
  | 'repository.delete'
  /** Harbor's repository update: a repository's description. */
  | 'repository.update'
  /** Reading and listing artifacts (and their additions and accessories). */
  | 'artifact.read'
  /** Copying an artifact into the project. */
  | 'artifact.create'
  /** Deleting manifests, tags and blobs inside a repository (the OCI DELETEs); not the repository itself. */
  | 'artifact.delete'
  | 'tag.list'
  | 'tag.create'
  | 'tag.delete'
  /** Putting a label on an artifact and taking it off. */
  | 'artifact-label.create'
  | 'artifact-label.delete'
  /** The project's own labels. */
  | 'label.read'
  | 'label.manage'
  | 'log.list'
  /** Harbor's immutable-tag resource: rules listed by every role but limited guest, managed by admin and maintainer. */
  | 'immutable-tag.list'
  | 'immutable-tag.manage'
  /** Harbor's notification-policy resource: webhooks listed by admin and maintainer, managed by the admin. */
  | 'webhook.list'
  | 'webhook.manage';

export const PROJECT_PERMISSIONS: readonly ProjectPermission[] = [
  'project.read',
  'project.update',
  'project.delete',
  'member.list',
  'member.manage',
  'robot.manage',
  'repository.pull',
  'repository.push',
  'repository.delete',
  'repository.update',
  'artifact.read',
  'artifact.create',
  'artifact.delete',
  'tag.list',
  'tag.create',
  'tag.delete',
  'artifact-label.create',
  'artifact-label.delete',
  'label.read',
  'label.manage',
  'log.list',
  'immutable-tag.list',
  'immutable-tag.manage',
  'webhook.list',
  'webhook.manage',
];

// Harbor's matrix: pull for all five; push for admin, maintainer, developer; delete for admin and maintainer;
// members and robots are managed by the project admin; every role but limited guest may list members.
// Artifacts, tags and labels as Harbor's rbac_role.go: developers copy, tag and label; maintainers also delete
// and manage the project's labels; guests read labels, limited guests do not.
const matrix: Record<ProjectPermission, readonly RoleId[]> = {
  'project.read': [1, 2, 3, 4, 5],
  'project.update': [1],
  'project.delete': [1],
  'member.list': [1, 2, 3, 4],
  'member.manage': [1],
  'robot.manage': [1],
  'repository.pull': [1, 2, 3, 4, 5],
  'repository.push': [1, 2, 4],
  'repository.delete': [1, 4],
  'repository.update': [1, 2, 4],
  'artifact.read': [1, 2, 3, 4, 5],
  'artifact.create': [1, 2, 4],
  'artifact.delete': [1, 4],
  'tag.list': [1, 2, 3, 4, 5],
  'tag.create': [1, 2, 4],
  'tag.delete': [1, 4],
  'artifact-label.create': [1, 2, 4],
  'artifact-label.delete': [1, 2, 4],
  'label.read': [1, 2, 3, 4],
  'label.manage': [1, 4],
  'log.list': [1],
  'immutable-tag.list': [1, 2, 3, 4],
  'immutable-tag.manage': [1, 4],
  'webhook.list': [1, 4],
  'webhook.manage': [1],
};

export function roleAllows(role: RoleId, permission: ProjectPermission): boolean {
  return matrix[permission].includes(role);
}

export function rolePermissions(role: RoleId): Set<ProjectPermission> {
  return new Set(PROJECT_PERMISSIONS.filter((p) => roleAllows(role, p)));
}
