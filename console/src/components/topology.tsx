import { get, list } from '../api';
import { ago } from '../format';
import type { Execution, Policy, RegistryEndpoint } from '../replication-types';
import { useInterval, useLoad } from '../use-load';
import { Empty, ErrorNote } from './notice';
import { TableHead } from './table-head';

// The IDC topology: this registry and the registries its policies reach, one arrow per policy in the direction
// images travel, labelled with the last execution's result and how long ago it ended (the replication lag a
// push policy can have at most, for a manual or scheduled one).

interface Edge {
  policy: Policy;
  remote: RegistryEndpoint;
  push: boolean;
  last?: Execution;
}

interface Picture {
  idc: string;
  remotes: RegistryEndpoint[];
  edges: Edge[];
}

async function loadPicture(): Promise<Picture> {
  const [info, registries, policies] = await Promise.all([
    get<{ idc: string }>('/berth/replication/info').catch(() => ({ idc: 'this IDC' })),
    list<RegistryEndpoint>('/registries?page_size=100'),
    list<Policy>('/replication/policies?page_size=100'),
  ]);
  const byId = new Map(registries.items.map((r) => [r.id, r]));
  const edges = await Promise.all(
    policies.items.map(async (policy): Promise<Edge> => {
      const push = policy.src_registry.id === 0;
      const remoteId = push ? policy.dest_registry.id : policy.src_registry.id;
      const last = (await list<Execution>(`/replication/executions?policy_id=${policy.id}&page_size=1`)).items[0];
      return { policy, push, remote: byId.get(remoteId) ?? { id: remoteId, name: '(deleted)', url: '', type: '' }, ...(last && { last }) };
    }),
  );
  return { idc: info.idc, remotes: registries.items, edges };
}

const W = 760;
const ROW = 110;
const colour: Record<string, string> = { Succeed: 'var(--ok)', Failed: 'var(--bad)', InProgress: 'var(--busy)', Stopped: 'var(--muted)' };

function label(e: Edge): string {
  if (!e.last) return `${e.policy.name}: never run`;
  const when = e.last.status === 'InProgress' ? 'running' : ago(e.last.end_time ?? e.last.start_time);
  return `${e.policy.name}: ${e.last.status}, ${when}`;
}

export function Topology() {
  const picture = useLoad(loadPicture, []);
  useInterval(picture.reload, 5000);
  const p = picture.data;
  return (
    <section>
      <h1>Topology</h1>
      <p class="muted">Registries and replication policies; each arrow is a policy, labelled with its last result.</p>
      <ErrorNote error={picture.error} />
      {p && p.remotes.length === 0 && <Empty>No registries yet: this registry replicates nowhere.</Empty>}
      {p && p.remotes.length > 0 && <Graph p={p} />}
      {p && p.edges.length > 0 && (
        <table>
          <caption>Policies on the picture</caption>
          <TableHead columns={['Policy', 'From', 'To', 'Last result']} />
          <tbody>
            {p.edges.map((e) => (
              <tr key={e.policy.id}>
                <td>{e.policy.name}</td>
                <td>{e.push ? `this registry (${p.idc})` : e.remote.name}</td>
                <td>{e.push ? e.remote.name : `this registry (${p.idc})`}</td>
                <td>{e.last ? `${e.last.status}, ${e.last.status === 'InProgress' ? 'running' : ago(e.last.end_time ?? e.last.start_time)}` : 'never run'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Graph({ p }: { p: Picture }) {
  const H = Math.max(220, p.remotes.length * ROW + 40);
  const local = { x: 130, y: H / 2 };
  const top = (H - p.remotes.length * ROW) / 2 + ROW / 2;
  const at = new Map(p.remotes.map((r, i) => [r.id, { x: W - 150, y: top + i * ROW }]));
  return (
    <figure class="topology">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="topo-title topo-desc" data-testid="topology">
        <title id="topo-title">Replication topology</title>
        <desc id="topo-desc">{p.edges.map(label).join('; ') || 'no policies'}</desc>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="context-stroke" />
          </marker>
        </defs>
        {p.edges.map((e, i) => {
          const r = at.get(e.remote.id);
          if (!r) return null;
          const [from, to] = e.push ? [local, r] : [r, local];
          // Push arrows bend one way and pull arrows the other, so a dual-master pair shows two arrows.
          const bend = (e.push ? -1 : 1) * (40 + (i % 3) * 14);
          const x1 = from.x + (e.push ? 90 : -90);
          const x2 = to.x + (e.push ? -90 : 90);
          const mx = (x1 + x2) / 2;
          const my = (from.y + to.y) / 2 + bend;
          // The curve's midpoint (t = ½ of the quadratic); the label sits just outside it.
          const ly = (from.y + 2 * my + to.y) / 4 + (e.push ? -8 : 18);
          const stroke = colour[e.last?.status ?? ''] ?? 'var(--muted)';
          return (
            <g key={e.policy.id} class="edge" data-policy={e.policy.name} data-status={e.last?.status ?? 'none'}>
              <path d={`M${x1},${from.y} Q${mx},${my} ${x2},${to.y}`} fill="none" stroke={stroke} stroke-width="2.5" marker-end="url(#arrow)" />
              <text x={mx} y={ly} text-anchor="middle" class="edge-label">
                {label(e)}
              </text>
            </g>
          );
        })}
        <Node x={local.x} y={local.y} title="This registry" sub={`IDC ${p.idc}`} local />
        {p.remotes.map((r) => {
          const pos = at.get(r.id)!;
          return <Node key={r.id} x={pos.x} y={pos.y} title={r.name} sub={`${r.type}${r.idc ? ` · IDC ${r.idc}` : ''}`} />;
        })}
      </svg>
    </figure>
  );
}

function Node({ x, y, title, sub, local }: { x: number; y: number; title: string; sub: string; local?: boolean }) {
  return (
    <g class={`node${local ? ' local' : ''}`}>
      <rect x={x - 90} y={y - 28} width="180" height="56" rx="8" />
      <text x={x} y={y - 4} text-anchor="middle" class="node-title">
        {title.length > 22 ? `${title.slice(0, 21)}…` : title}
      </text>
      <text x={x} y={y + 15} text-anchor="middle" class="node-sub">
        {sub}
      </text>
    </g>
  );
}
