import type { Collection, ListQuery, MetaStore } from '../../storage-adapters/meta/meta-store.js';
import type { RoleId } from './roles.js';

// The access-control records, kept as MetaStore collections (so every MetaStore driver holds them unchanged).
// Field names follow Harbor's API where one exists, so the admin API maps them almost one to one.

export interface UserRecord {
  id: number;
  username: string;
  email: string;
  realname: string;
  comment: string;
  /** argon2id PHC string; the password itself is never stored. */
  password_hash: string;
  sysadmin_flag: boolean;
  creation_time: string;
  update_time: string;
}

export interface ProjectRecord {
  id: number;
  name: string;
  public: boolean;
  owner_id: number;
  creation_time: string;
  update_time: string;
  /** Harbor's other project metadata (auto_scan, severity, …), kept as sent; `public` is the field above. */
  metadata?: Record<string, string>;
  /** Harbor's project CVE allowlist, kept as sent. */
  cve_allowlist?: Record<string, unknown>;
  /** Bytes, -1 unlimited (Harbor's storage_limit); enforced by the governance work, kept meanwhile. */
  storage_limit?: number;
  /** A proxy-cache project: the registry endpoint it pulls what it lacks from (Harbor's registry_id). */
  registry_id?: number;
}

export interface MemberRecord {
  id: number;
  /** `<project_id>:<user_id>`: one membership per user and project (the collection's unique key). */
  key: string;
  project_id: number;
  user_id: number;
  role_id: RoleId;
  creation_time: string;
  update_time: string;
}

export interface RobotAccess {
  resource: string;
  action: string;
  effect?: string;
}

export interface RobotPermission {
  /** Harbor's only kind for repository access: "project". */
  kind: string;
  /** A project name, or "*" (every project) for a system robot. */
  namespace: string;
  access: RobotAccess[];
}

export type RobotLevel = 'system' | 'project';

export interface RobotRecord {
  id: number;
  /** The login name: `robot$<project>+<name>` (project level) or `robot$<name>` (system level). */
  name: string;
  description: string;
  level: RobotLevel;
  /** The project of a project-level robot; 0 for a system robot. */
  project_id: number;
  /** `sha256:<hex>` for a generated secret (high entropy), an argon2id PHC string for a chosen one. */
  secret_hash: string;
  disable: boolean;
  /** Days; -1 never expires. */
  duration: number;
  /** Unix seconds; -1 never. */
  expires_at: number;
  permissions: RobotPermission[];
  creator_ref: number;
  creation_time: string;
  update_time: string;
}

export const ROBOT_PREFIX = 'robot$';

export function memberKey(projectId: number, userId: number): string {
  return `${projectId}:${userId}`;
}

/** The collections, opened once per app. */
export class AccessRecords {
  readonly users: Collection<UserRecord>;
  readonly projects: Collection<ProjectRecord>;
  readonly members: Collection<MemberRecord>;
  readonly robots: Collection<RobotRecord>;

  constructor(meta: MetaStore) {
    this.users = meta.collection<UserRecord>('users', { unique: ['username'] });
    this.projects = meta.collection<ProjectRecord>('projects', { unique: ['name'] });
    this.members = meta.collection<MemberRecord>('members', { unique: ['key'] });
    this.robots = meta.collection<RobotRecord>('robots', { unique: ['name'] });
  }

  projectByName(name: string): Promise<ProjectRecord | undefined> {
    return this.projects.findOne('name', name);
  }

  membership(projectId: number, userId: number): Promise<MemberRecord | undefined> {
    return this.members.findOne('key', memberKey(projectId, userId));
  }

  /** Every document matching `where`, read in pages (collections here stay small: users, projects, members). */
  async all<T extends { id: number }>(collection: Collection<T>, where?: ListQuery<T>['where']): Promise<T[]> {
    const out: T[] = [];
    for (let offset = 0; ; offset += 500) {
      const { items } = await collection.list({ ...(where && { where }), offset, limit: 500 });
      out.push(...items);
      if (items.length < 500) return out;
    }
  }
}

export function now(): string {
  return new Date().toISOString();
}
