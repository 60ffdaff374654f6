import { get } from '../api';
import { ago } from '../format';
import type { Topology as Picture, TopologyLink, TopologyNode } from '../replication-types';
import { useInterval, useLoad } from '../use-load';
import { Empty, ErrorNote } from './notice';
import { TableHead } from './table-head';

// The IDC topology: every IDC and registry the replication graph reaches (this registry's policies and, asked of
// its Berth peers, theirs: master → IDCs → sub-IDCs), one arrow per policy in the direction images travel,
// labelled with its last execution's result and how long ago it ended (the replication lag a manual or scheduled
// policy can have at most). Columns are hops from this registry.

const COLUMN = 300;
const ROW = 110;
const colour: Record<string, string> = { Succeed: 'var(--ok)', Failed: 'var(--bad)', InProgress: 'var(--busy)', Stopped: 'var(--muted)' };

function result(l: TopologyLink): string {
  if (!l.last) return 'never run';
  return `${l.last.status}, ${l.last.status === 'InProgress' ? 'running' : ago(l.last.end_time ?? l.last.start_time)}`;
}

const label = (l: TopologyLink, here: string) => `${l.policy}: ${result(l)}${l.held_by === here ? '' : ` (on ${l.held_by})`}`;

/** Each node's column: hops from this registry over links in either direction. */
function columns(p: Picture): Map<string, number> {
  const col = new Map([[p.idc, 0]]);
  for (let frontier = [p.idc]; frontier.length > 0; ) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const l of p.links) {
        const other = l.from === id ? l.to : l.to === id ? l.from : undefined;
        if (other !== undefined && !col.has(other)) {
          col.set(other, col.get(id)! + 1);
          next.push(other);
        }
      }
    }
    frontier = next;
  }
  // Registries no policy uses yet: one hop away, as they would be.
  for (const n of p.nodes) if (!col.has(n.id)) col.set(n.id, 1);
  return col;
}

export function Topology() {
  const picture = useLoad(() => get<Picture>('/berth/replication/topology'), []);
  useInterval(picture.reload, 5000);
  const p = picture.data;
  const name = (id: string) => (p && id === p.idc ? `this registry (${id})` : (p?.nodes.find((n) => n.id === id)?.label ?? id));
  return (
    <section>
      <h1>Topology</h1>
      <p class="muted">IDCs and registries the replication policies reach, here and at Berth peers; each arrow is a policy, labelled with its last result.</p>
      <ErrorNote error={picture.error} />
      {p && p.nodes.length <= 1 && <Empty>No registries yet: this registry replicates nowhere.</Empty>}
      {p && p.nodes.length > 1 && <Graph p={p} />}
      {p && p.unreachable.length > 0 && (
        <ul class="muted">
          {p.unreachable.map((u) => (
            <li key={`${u.seen_from}/${u.node}`}>
              The policies of {u.node} (seen from {u.seen_from}) are not shown: {u.reason}
            </li>
          ))}
        </ul>
      )}
      {p && p.links.length > 0 && (
        <table>
          <caption>Policies on the picture</caption>
          <TableHead columns={['Policy', 'Held by', 'From', 'To', 'Trigger', 'Last result']} />
          <tbody>
            {p.links.map((l) => (
              <tr key={`${l.held_by}/${l.policy_id}`}>
                <td>{l.policy}</td>
                <td>{l.held_by === p.idc ? 'this registry' : l.held_by}</td>
                <td>{name(l.from)}</td>
                <td>{name(l.to)}</td>
                <td>{l.enabled ? l.trigger : `${l.trigger} (disabled)`}</td>
                <td>{result(l)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Graph({ p }: { p: Picture }) {
  const col = columns(p);
  const byColumn = new Map<number, TopologyNode[]>();
  for (const n of p.nodes) byColumn.set(col.get(n.id)!, [...(byColumn.get(col.get(n.id)!) ?? []), n]);
  const last = Math.max(...byColumn.keys());
  const W = Math.max(760, 260 + last * COLUMN);
  const H = Math.max(220, Math.max(...[...byColumn.values()].map((c) => c.length)) * ROW + 40);
  const at = new Map<string, { x: number; y: number }>();
  for (const [c, nodes] of byColumn) {
    const x = last === 0 ? W / 2 : 130 + (c * (W - 260)) / Math.max(last, 1);
    const top = (H - nodes.length * ROW) / 2 + ROW / 2;
    nodes.forEach((n, i) => at.set(n.id, { x, y: top + i * ROW }));
  }
  // Links between the same two nodes fan out; each bends to its left, so opposite directions bend opposite ways
  // (a dual-master pair shows two arrows).
  const fan = new Map<string, number>();
  return (
    <figure class="topology">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="topo-title topo-desc" data-testid="topology">
        <title id="topo-title">Replication topology</title>
        <desc id="topo-desc">{p.links.map((l) => `${label(l, p.idc)} from ${l.from} to ${l.to}`).join('; ') || 'no policies'}</desc>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="context-stroke" />
          </marker>
        </defs>
        {p.links.map((l) => {
          const from = at.get(l.from);
          const to = at.get(l.to);
          if (!from || !to) return null;
          const pair = [l.from, l.to].sort().join('\u0000');
          const k = fan.get(pair) ?? 0;
          fan.set(pair, k + 1);
          const { d, lx, ly } = curve(from, to, 40 + k * 36);
          return (
            <g key={`${l.held_by}/${l.policy_id}`} class="edge" data-policy={l.policy} data-held-by={l.held_by} data-status={l.last?.status ?? 'none'}>
              <path d={d} fill="none" stroke={colour[l.last?.status ?? ''] ?? 'var(--muted)'} stroke-width="2.5" stroke-dasharray={l.enabled ? undefined : '6 4'} marker-end="url(#arrow)" />
              <text x={lx} y={ly} text-anchor="middle" class="edge-label">
                {label(l, p.idc)}
              </text>
            </g>
          );
        })}
        {p.nodes.map((n) => {
          const pos = at.get(n.id)!;
          const local = n.id === p.idc;
          return <Node key={n.id} x={pos.x} y={pos.y} title={local ? 'This registry' : n.label} sub={local ? `IDC ${n.id}` : n.type === 'berth' ? `Berth · IDC ${n.id}` : n.type} local={local} />;
        })}
      </svg>
    </figure>
  );
}

/** A quadratic curve from box edge to box edge, bent `bend` px to one side of the straight line (the same side
 *  for the same direction), and where its label goes. */
function curve(a: { x: number; y: number }, b: { x: number; y: number }, bend: number) {
  const horizontal = Math.abs(b.x - a.x) > 1;
  const sx = Math.sign(b.x - a.x);
  const sy = Math.sign(b.y - a.y) || 1;
  const [x1, y1, x2, y2] = horizontal ? [a.x + sx * 90, a.y, b.x - sx * 90, b.y] : [a.x, a.y + sy * 28, b.x, b.y - sy * 28];
  const len = Math.hypot(x2 - x1, y2 - y1) || 1;
  // The perpendicular to the straight line, `bend` long.
  const cx = (x1 + x2) / 2 + (-(y2 - y1) / len) * bend;
  const cy = (y1 + y2) / 2 + ((x2 - x1) / len) * bend;
  // The curve's midpoint (t = ½), the label just outside it.
  const mx = (x1 + 2 * cx + x2) / 4;
  const my = (y1 + 2 * cy + y2) / 4;
  return { d: `M${x1},${y1} Q${cx},${cy} ${x2},${y2}`, lx: mx, ly: my + (cy < (y1 + y2) / 2 ? -8 : 18) };
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
