// The replication graph as Berth IDCs tell it to each other and to the console (replicator/api/topology.ts).

export interface TopologyNode {
  /** The IDC of a Berth registry, else the registry's URL. */
  id: string;
  label: string;
  type: string;
}

export interface TopologyLink {
  /** Node ids, in the direction images travel. */
  from: string;
  to: string;
  policy: string;
  policy_id: number;
  /** The IDC whose policy this is (where its executions run). */
  held_by: string;
  mode: 'push' | 'pull';
  trigger: string;
  enabled: boolean;
  last?: { status: string; start_time: string; end_time: string | null };
}

export interface Topology {
  idc: string;
  nodes: TopologyNode[];
  links: TopologyLink[];
  /** Berth peers whose own policies could not be read (down, or the stored credential may not). */
  unreachable: { node: string; seen_from: string; reason: string }[];
}
