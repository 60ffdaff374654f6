import type { Collection, MetaStore } from '../../../storage-adapters/meta/meta-store.js';

// Harbor's preheat records (api/v2.0 Instance, PreheatPolicy, Execution, Task), kept as MetaStore collections.
// Berth's own P2P is the one provider: an instance names it (the built-in one, `berth`, always exists), a
// policy selects a project's artifacts and a trigger, an execution turns the selection into seed-agent tasks.

export const PROVIDER = 'berth';
export const BUILT_IN_INSTANCE = 'berth';

export interface InstanceRecord {
  id: number;
  name: string;
  description: string;
  vendor: typeof PROVIDER;
  endpoint: string;
  enabled: boolean;
  default: boolean;
  insecure: boolean;
  setup_timestamp: number;
}

export interface PolicyFilter {
  type: 'repository' | 'tag' | 'label' | 'vulnerability' | 'signature';
  value: unknown;
}

export interface PolicyTrigger {
  type: 'manual' | 'scheduled' | 'event_based';
  trigger_setting?: { cron?: string };
}

export interface PreheatPolicyRecord {
  id: number;
  /** `<project_id>:<name>`: names are unique within a project. */
  key: string;
  name: string;
  description: string;
  project_id: number;
  provider_id: number;
  filters: PolicyFilter[];
  trigger: PolicyTrigger;
  enabled: boolean;
  scope: string;
  creation_time: string;
  update_time: string;
}

export type RunStatus = 'Pending' | 'Running' | 'Success' | 'Error' | 'Stopped';

export interface PreheatExecutionRecord {
  id: number;
  policy_id: number;
  trigger: 'MANUAL' | 'SCHEDULE' | 'EVENT';
  status: RunStatus;
  status_message: string;
  stop_requested: boolean;
  start_time: string;
  end_time: string | null;
}

export interface PreheatTaskRecord {
  id: number;
  execution_id: number;
  /** The seed-agent task (server/p2p/preheat.ts) this one waits on. */
  queue_task_id: number;
  artifact: string;
  digest: string;
  blobs: number;
  status: RunStatus;
  status_message: string;
  creation_time: string;
  end_time: string | null;
}

export class PreheatRecords {
  readonly instances: Collection<InstanceRecord>;
  readonly policies: Collection<PreheatPolicyRecord>;
  readonly executions: Collection<PreheatExecutionRecord>;
  readonly tasks: Collection<PreheatTaskRecord>;

  constructor(meta: MetaStore) {
    this.instances = meta.collection<InstanceRecord>('preheat_instances', { unique: ['name'] });
    this.policies = meta.collection<PreheatPolicyRecord>('preheat_policies', { unique: ['key'] });
    this.executions = meta.collection<PreheatExecutionRecord>('preheat_executions');
    this.tasks = meta.collection<PreheatTaskRecord>('preheat_tasks');
  }

  /** The built-in instance, created on first use (two instances racing: the second finds the first's). */
  async builtIn(endpoint: string): Promise<InstanceRecord> {
    const found = await this.instances.findOne('name', BUILT_IN_INSTANCE);
    if (found) return found;
    try {
      return await this.instances.insert({
        name: BUILT_IN_INSTANCE,
        description: "Berth's own P2P distribution: seed agents fetch the artifacts ahead of the nodes",
        vendor: PROVIDER,
        endpoint,
        enabled: true,
        default: true,
        insecure: false,
        setup_timestamp: Math.floor(Date.now() / 1000),
      });
    } catch {
      const again = await this.instances.findOne('name', BUILT_IN_INSTANCE);
      if (!again) throw new Error('preheat: the built-in instance could not be created');
      return again;
    }
  }
}

export const policyKey = (projectId: number, name: string) => `${projectId}:${name}`;
export const nowIso = () => new Date().toISOString();
