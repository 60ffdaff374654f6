import type Router from '@koa/router';
import { queryString } from '../../core/harbor-api/params.js';
import { RemoteRegistry } from '../endpoint.js';
import type { ExecutionRecord, PolicyRecord, RegistryRecord } from '../records.js';
import type { Topology, TopologyLink, TopologyNode } from '../topology-types.js';
import type { ReplicationApiDeps } from './deps.js';

// The replication graph beyond this IDC (GET /api/v2.0/berth/replication/topology): this IDC's policies as
// links, and, asked of every Berth peer with the credential stored for it, the peer's — so a console draws
// master → IDCs → sub-IDCs and both halves of a dual-master pair, not only the policies held here. Each IDC is
// expanded once (`visited` travels with the question) and at most `depth` hops away, so cycles end.

const DEFAULT_DEPTH = 3;
const PEER_TIMEOUT_MS = 5000;

export function topologyRoutes(router: Router, d: ReplicationApiDeps): void {
  router.get('/berth/replication/topology', async (ctx) => {
    const depth = Math.max(0, Math.min(8, Number(queryString(ctx, 'depth') ?? DEFAULT_DEPTH) || 0));
    const visited = new Set((queryString(ctx, 'visited') ?? '').split(',').filter(Boolean));
    ctx.body = await topology(d, depth, visited);
  });
}

const nodeOf = (r: RegistryRecord): TopologyNode => (r.idc ? { id: r.idc, label: r.idc, type: r.type } : { id: r.url, label: r.name, type: r.type });

async function localLinks(d: ReplicationApiDeps, byId: Map<number, RegistryRecord>): Promise<TopologyLink[]> {
  const links: TopologyLink[] = [];
  for (const p of await d.records.allPolicies()) {
    const remote = byId.get((p.dest_registry_id ?? p.src_registry_id)!);
    if (!remote) continue;
    const push = p.dest_registry_id !== null;
    const there = nodeOf(remote).id;
    const last = (await d.records.executions.list({ where: { policy_id: p.id }, order: 'desc', limit: 1 })).items[0];
    links.push({ from: push ? d.idc : there, to: push ? there : d.idc, ...linkFields(p, d.idc, last) });
  }
  return links;
}

function linkFields(p: PolicyRecord, heldBy: string, last: ExecutionRecord | undefined) {
  return {
    policy: p.name,
    policy_id: p.id,
    held_by: heldBy,
    mode: (p.dest_registry_id !== null ? 'push' : 'pull') as 'push' | 'pull',
    trigger: p.trigger.type,
    enabled: p.enabled,
    ...(last && { last: { status: last.status, start_time: last.start_time, end_time: last.end_time } }),
  };
}

export async function topology(d: ReplicationApiDeps, depth: number, visited: Set<string>): Promise<Topology> {
  const registries = (await d.records.registries.list()).items;
  const byId = new Map(registries.map((r) => [r.id, r]));
  const nodes = new Map<string, TopologyNode>([[d.idc, { id: d.idc, label: d.idc, type: 'berth' }]]);
  for (const r of registries) {
    const n = nodeOf(r);
    if (!nodes.has(n.id)) nodes.set(n.id, n);
  }
  const links = await localLinks(d, byId);
  const unreachable: Topology['unreachable'] = [];
  if (depth > 0) {
    // Every peer of this level is expanded here, so none of them is expanded again below another; two endpoints
    // for one peer (two names for one IDC) are asked once.
    const candidates = registries.filter((r) => r.type === 'berth' && !(r.idc && (visited.has(r.idc) || r.idc === d.idc)));
    const peers = [...new Map(candidates.map((r) => [nodeOf(r).id, r])).values()];
    const seen = new Set([...visited, d.idc, ...peers.flatMap((r) => (r.idc ? [r.idc] : []))]);
    const answers = await Promise.all(peers.map((r) => peerTopology(d, r, depth - 1, seen)));
    for (const [i, a] of answers.entries()) {
      if ('reason' in a) {
        unreachable.push({ node: nodeOf(peers[i]!).id, seen_from: d.idc, reason: a.reason });
        continue;
      }
      for (const n of a.nodes) if (!nodes.has(n.id)) nodes.set(n.id, n);
      links.push(...a.links);
      unreachable.push(...a.unreachable);
    }
  }
  // One link per policy, however many ways it was reached.
  const unique = new Map(links.map((l) => [`${l.held_by}\u0000${l.policy_id}`, l]));
  return { idc: d.idc, nodes: [...nodes.values()], links: [...unique.values()], unreachable };
}

async function peerTopology(d: ReplicationApiDeps, r: RegistryRecord, depth: number, visited: Set<string>): Promise<Topology | { reason: string }> {
  try {
    const remote = RemoteRegistry.fromRecord(r, d.cipher, PEER_TIMEOUT_MS, d.ca);
    const answer = await remote.topology(depth, [...visited], PEER_TIMEOUT_MS);
    return answer ?? { reason: 'the registry does not answer topology questions (an older Berth?)' };
  } catch (e) {
    return { reason: (e as Error).message };
  }
}
