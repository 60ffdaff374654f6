import { LRUCache } from 'lru-cache';
import type { Collection, MetaStore } from '../storage-adapters/meta/meta-store.js';

// Replication's records, kept as MetaStore collections (only the generic collection API, so every MetaStore
// driver holds them). Field names follow Harbor's API (api/v2.0: Registry, ReplicationPolicy,
// ReplicationExecution, ReplicationTask) so the REST layer maps them almost one to one.

export type RegistryType = 'berth' | 'docker-registry' | 'harbor' | 'docker-hub';

export interface RegistryRecord {
  id: number;
  name: string;
  url: string;
  type: RegistryType;
  description: string;
  /** Basic credentials; the secret is encrypted (replicator/credentials.ts), never stored in clear. */
  credential: { type: 'basic'; access_key: string; access_secret_enc: string } | null;
  insecure: boolean;
  /** Harbor's ca_certificate: a PEM CA the registry's certificate may chain to (absent: none). */
  ca_certificate?: string;
  /** The IDC a Berth peer belongs to (learned from it), so events never go back where they came from. */
  idc: string | null;
  creation_time: string;
  update_time: string;
}

export interface PolicyFilter {
  /** `resource` (image or artifact) is kept as Harbor keeps it: Harbor v2.15 filters by name, tag and label
   *  only (pkg/reg/filter), the resource type merely has to be one the registry supports — every OCI artifact.
   *  `label`: the artifact a tag points to carries (matches: all of) or lacks (excludes: any of) these labels. */
  type: 'name' | 'tag' | 'resource' | 'label';
  /** A doublestar glob (`library/**`, `v1.*`, `{a,b}`); for `resource`, image or artifact; for `label`, the
   *  label names (as Harbor sends them). */
  value: string | string[];
  decoration: 'matches' | 'excludes';
}

export type TriggerType = 'manual' | 'scheduled' | 'event_based';

export interface PolicyRecord {
  id: number;
  name: string;
  description: string;
  /** Exactly one of the two is set: a destination makes a push policy, a source a pull policy. */
  src_registry_id: number | null;
  dest_registry_id: number | null;
  dest_namespace: string;
  /** How many leading path components of the source repository dest_namespace replaces; -1: legacy (all but
   *  the last, i.e. `a/b/c` → `<ns>/c`), 0: prefix. */
  dest_namespace_replace_count: number;
  filters: PolicyFilter[];
  trigger: { type: TriggerType; trigger_settings: { cron: string } };
  replicate_deletion: boolean;
  override: boolean;
  /** KB/s for the whole policy; -1 or 0: unlimited. */
  speed: number;
  /** Transfers at once for this policy; 0: the configured default. */
  concurrency: number;
  enabled: boolean;
  /** Harbor's copy_by_chunk as the client set it (absent on older records: false). Berth uploads blobs above
   *  replication_chunk_mb in chunks either way. */
  copy_by_chunk?: boolean;
  /** Harbor's single_active_replication: a manual or scheduled start while one runs is recorded as skipped. */
  single_active_replication?: boolean;
  creation_time: string;
  update_time: string;
}

export type ExecutionStatus = 'InProgress' | 'Succeed' | 'Failed' | 'Stopped';
export type ExecutionTrigger = 'manual' | 'scheduled' | 'event_based' | 'reconcile';

export interface ExecutionRecord {
  id: number;
  policy_id: number;
  status: ExecutionStatus;
  status_text: string;
  trigger: ExecutionTrigger;
  /** False until the engine has listed what to copy (manual, scheduled and reconcile executions). */
  planned: boolean;
  /** Event executions collect tasks for a while; closed once no more will be added. */
  open: boolean;
  /** A stop was asked for (by the API, possibly on another instance). */
  stop_requested: boolean;
  start_time: string;
  end_time: string | null;
  /** Counts as of the end (while running they are computed from the tasks). */
  total: number;
  succeed: number;
  failed: number;
  in_progress: number;
  stopped: number;
}

export type TaskStatus = 'Pending' | 'InProgress' | 'Succeed' | 'Failed' | 'Stopped';
export type TaskOperation = 'copy' | 'deletion';

export interface TaskRecord {
  id: number;
  execution_id: number;
  policy_id: number;
  status: TaskStatus;
  operation: TaskOperation;
  /** 'artifact' for a tag, 'manifest' for an untagged manifest (a referrer) addressed by digest. */
  resource_type: 'artifact' | 'manifest';
  src_repository: string;
  dst_repository: string;
  /** The tag, or null when the task addresses a digest. */
  tag: string | null;
  digest: string | null;
  /** The tag's version when the task was made ("<wall>.<logical>@<idc>"), for lag and ordering. */
  version: string | null;
  /** When the change happened at the source (outbox time), ms; lag is measured from it. */
  event_at: number | null;
  attempts: number;
  next_attempt_at: number;
  bytes: number;
  error: string;
  /** Why a task succeeded without copying (already there, superseded by a newer write, …). */
  note: string;
  start_time: string | null;
  end_time: string | null;
}

/** What a task is to do, before it is a record. */
export type TaskSpec = Pick<TaskRecord, 'operation' | 'resource_type' | 'src_repository' | 'dst_repository' | 'tag' | 'digest' | 'version' | 'event_at'>;

/** A new execution, in progress and with no task counted yet (the API creates manual ones the same way). */
export function newExecution(policyId: number, trigger: ExecutionTrigger, planned: boolean): Omit<ExecutionRecord, 'id'> {
  return {
    policy_id: policyId,
    status: 'InProgress',
    status_text: '',
    trigger,
    planned,
    open: false,
    stop_requested: false,
    start_time: nowIso(),
    end_time: null,
    total: 0,
    succeed: 0,
    failed: 0,
    in_progress: 0,
    stopped: 0,
  };
}

/** A new task of execution `executionId`, pending and never tried. */
export function pendingTask(spec: TaskSpec, executionId: number, policyId: number): Omit<TaskRecord, 'id'> {
  return {
    ...spec,
    execution_id: executionId,
    policy_id: policyId,
    status: 'Pending',
    attempts: 0,
    next_attempt_at: 0,
    bytes: 0,
    error: '',
    note: '',
    start_time: null,
    end_time: null,
  };
}

export interface CursorRecord {
  id: number;
  /** `policy:<id>`: the last outbox seq a policy has turned into tasks. */
  key: string;
  seq: number;
}

/** Opens the collections; tasks live in one collection per execution so listing them stays cheap. */
export class ReplicationRecords {
  readonly registries: Collection<RegistryRecord>;
  readonly policies: Collection<PolicyRecord>;
  readonly executions: Collection<ExecutionRecord>;
  readonly cursors: Collection<CursorRecord>;
  private readonly taskCollections = new LRUCache<number, Collection<TaskRecord>>({ max: 2000 });

  constructor(private readonly meta: MetaStore) {
    this.registries = meta.collection<RegistryRecord>('replication_registries', { unique: ['name'] });
    this.policies = meta.collection<PolicyRecord>('replication_policies', { unique: ['name'] });
    this.executions = meta.collection<ExecutionRecord>('replication_executions');
    this.cursors = meta.collection<CursorRecord>('replication_cursors', { unique: ['key'] });
  }

  tasks(executionId: number): Collection<TaskRecord> {
    let c = this.taskCollections.get(executionId);
    if (!c) {
      c = this.meta.collection<TaskRecord>(`replication_tasks_${executionId}`);
      this.taskCollections.set(executionId, c);
    }
    return c;
  }

  /** Removes an execution and its tasks. */
  async deleteExecution(executionId: number): Promise<void> {
    const tasks = this.tasks(executionId);
    for (const t of await all(tasks)) await tasks.delete(t.id);
    await this.executions.delete(executionId);
    this.taskCollections.delete(executionId);
  }

  async allTasks(executionId: number): Promise<TaskRecord[]> {
    return all(this.tasks(executionId));
  }

  async allPolicies(): Promise<PolicyRecord[]> {
    return all(this.policies);
  }

  async cursor(policyId: number): Promise<CursorRecord | undefined> {
    return this.cursors.findOne('key', `policy:${policyId}`);
  }

  async saveCursor(policyId: number, seq: number): Promise<void> {
    const c = await this.cursor(policyId);
    if (c) await this.cursors.update({ ...c, seq });
    else await this.cursors.insert({ key: `policy:${policyId}`, seq });
  }
}

/** Every document of a collection, read in pages. */
export async function all<T extends { id: number }>(c: Collection<T>): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += 500) {
    const { items } = await c.list({ offset, limit: 500 });
    out.push(...items);
    if (items.length < 500) return out;
  }
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** Counts of an execution's tasks (Harbor's ReplicationExecution fields). */
export function countTasks(tasks: TaskRecord[]): Pick<ExecutionRecord, 'total' | 'succeed' | 'failed' | 'in_progress' | 'stopped'> {
  const c = { total: tasks.length, succeed: 0, failed: 0, in_progress: 0, stopped: 0 };
  for (const t of tasks) {
    if (t.status === 'Succeed') c.succeed++;
    else if (t.status === 'Failed') c.failed++;
    else if (t.status === 'Stopped') c.stopped++;
    else c.in_progress++;
  }
  return c;
}
