import type { RetentionRule } from '../../../registry/retention.js';
import type { Collection, MetaStore } from '../../../storage-adapters/meta/meta-store.js';

// Harbor's retention records (api/v2.0 RetentionPolicy, RetentionExecution, RetentionExecutionTask) as MetaStore
// collections. A policy belongs to one project (scope level project, ref = project id); the project's metadata
// `retention_id` names it, as in Harbor.

export interface RetentionPolicyRecord {
  id: number;
  project_id: number;
  algorithm: 'or';
  rules: (RetentionRule & { id?: number; priority?: number; action?: string })[];
  trigger: { kind: 'Schedule'; settings: { cron?: string }; references?: Record<string, unknown> };
}

export type RetentionStatus = 'Running' | 'Success' | 'Error' | 'Stopped';

export interface RetentionExecutionRecord {
  id: number;
  policy_id: number;
  status: RetentionStatus;
  trigger: 'MANUAL' | 'SCHEDULE';
  dry_run: boolean;
  stop_requested: boolean;
  start_time: string;
  end_time: string | null;
}

export interface RetentionTaskRecord {
  id: number;
  execution_id: number;
  repository: string;
  status: RetentionStatus;
  total: number;
  retained: number;
  log: string;
  start_time: string;
  end_time: string | null;
}

export class RetentionRecords {
  readonly policies: Collection<RetentionPolicyRecord>;
  readonly executions: Collection<RetentionExecutionRecord>;
  readonly tasks: Collection<RetentionTaskRecord>;

  constructor(meta: MetaStore) {
    this.policies = meta.collection<RetentionPolicyRecord>('retention_policies', { unique: ['project_id'] });
    this.executions = meta.collection<RetentionExecutionRecord>('retention_executions');
    this.tasks = meta.collection<RetentionTaskRecord>('retention_tasks');
  }
}
