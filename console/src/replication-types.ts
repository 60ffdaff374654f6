// Harbor's Registry, ReplicationPolicy, ReplicationExecution and ReplicationTask, as Berth answers them.

export interface RegistryEndpoint {
  id: number;
  name: string;
  url: string;
  type: string;
  description?: string;
  insecure?: boolean;
  status?: string;
  idc?: string | null;
  credential?: { access_key: string };
}

export interface Policy {
  id: number;
  name: string;
  description: string;
  src_registry: RegistryEndpoint;
  dest_registry: RegistryEndpoint;
  dest_namespace: string;
  filters: { type: string; value: string; decoration?: string }[];
  trigger: { type: string; trigger_settings?: { cron?: string } };
  replicate_deletion: boolean;
  enabled: boolean;
  override?: boolean;
  speed?: number;
}

export interface Execution {
  id: number;
  policy_id: number;
  status: string;
  status_text?: string;
  trigger: string;
  start_time: string;
  end_time?: string;
  total: number;
  succeed: number;
  failed: number;
  in_progress: number;
  stopped: number;
}

export interface Task {
  id: number;
  status: string;
  operation: string;
  resource_type: string;
  src_resource: string;
  dst_resource: string;
  start_time?: string;
  end_time?: string;
  bytes: number;
  attempts: number;
  error?: string | null;
  note?: string | null;
}

/** GET /berth/replication/topology: the replication graph, as the server defines it (type-only, erased in the build). */
export type { Topology, TopologyLink, TopologyNode } from '../../replicator/topology-types';
