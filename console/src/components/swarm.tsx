import { useState } from 'preact/hooks';
import { get } from '../api';
import { bytes } from '../format';
import { navigate } from '../router';
import { useInterval, useLoad } from '../use-load';
import { ErrorNote } from './notice';

// How far a blob has spread through the P2P swarm: one circle per IDC, a dot per node (filled: holds it all;
// an arc: how much of it so far; ringed in blue: the origin's seed), from what the agents last announced.

interface SwarmPeer {
  peer_id: string;
  address: string;
  progress: number;
  complete: boolean;
  origin: boolean;
}

interface SwarmView {
  digest: string;
  size: number;
  idcs: { idc: string; complete: number; downloading: number; peers: SwarmPeer[] }[];
}

export function Swarm({ digest }: { digest: string }) {
  const swarm = useLoad(() => (digest ? get<SwarmView>(`/berth/p2p/swarms/${encodeURIComponent(digest)}`) : Promise.resolve(undefined)), [digest]);
  useInterval(swarm.reload, digest ? 3000 : null);
  const [draft, setDraft] = useState(digest);
  const s = swarm.data;
  const holders = s ? s.idcs.reduce((n, i) => n + i.complete, 0) : 0;
  return (
    <section>
      <h1>P2P swarm</h1>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`/p2p?digest=${encodeURIComponent(draft.trim())}`);
        }}
      >
        <label class="search wide">
          Blob digest
          <input value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} placeholder="sha256:…" required pattern="sha256:[a-f0-9]{64}" />
        </label>
        <button type="submit" class="primary">
          Show
        </button>
      </form>
      <ErrorNote error={swarm.error} />
      {s && (
        <>
          <p class="meta" role="status">
            <span>{bytes(s.size)}</span>
            <span>
              {holders} node{holders === 1 ? '' : 's'} hold it in {s.idcs.filter((i) => i.complete > 0).length} IDC(s)
            </span>
            <span>{s.idcs.reduce((n, i) => n + i.downloading, 0)} fetching</span>
          </p>
          {s.idcs.length === 0 ? <p class="empty">No agent has announced this blob.</p> : <SwarmPicture s={s} />}
        </>
      )}
    </section>
  );
}

const R = 110;

function SwarmPicture({ s }: { s: SwarmView }) {
  const W = Math.max(1, s.idcs.length) * (2 * R + 60);
  const H = 2 * R + 70;
  return (
    <figure class="topology">
      <svg viewBox={`0 0 ${W} ${H}`} width={W} role="img" aria-labelledby="swarm-title swarm-desc" data-testid="swarm">
        <title id="swarm-title">Nodes holding {s.digest}</title>
        <desc id="swarm-desc">{s.idcs.map((i) => `IDC ${i.idc}: ${i.complete} complete, ${i.downloading} fetching`).join('; ')}</desc>
        {s.idcs.map((i, k) => {
          const cx = R + 30 + k * (2 * R + 60);
          const cy = R + 20;
          return (
            <g key={i.idc} class="idc" data-idc={i.idc} data-complete={i.complete}>
              <circle cx={cx} cy={cy} r={R} class="idc-ring" />
              <text x={cx} y={H - 12} text-anchor="middle" class="node-title">
                IDC {i.idc}: {i.complete} of {i.complete + i.downloading} nodes
              </text>
              {i.peers.map((p, j) => {
                const angle = (2 * Math.PI * j) / Math.max(1, i.peers.length) - Math.PI / 2;
                const r = i.peers.length === 1 ? 0 : R * 0.62;
                return <Peer key={p.peer_id} x={cx + r * Math.cos(angle)} y={cy + r * Math.sin(angle)} p={p} />;
              })}
            </g>
          );
        })}
      </svg>
      <ul class="legend" aria-hidden="true">
        <li>● green: holds the whole blob</li>
        <li>◔ orange arc: fetching, the share so far</li>
        <li>blue ring: the origin's seed</li>
      </ul>
    </figure>
  );
}

function Peer({ x, y, p }: { x: number; y: number; p: SwarmPeer }) {
  const r = 14;
  // An arc for a partial copy: its length is the share held.
  const a = 2 * Math.PI * Math.min(p.progress, 0.999);
  const arc = `M${x},${y - r} A${r},${r} 0 ${a > Math.PI ? 1 : 0} 1 ${x + r * Math.sin(a)},${y - r * Math.cos(a)}`;
  return (
    <g class={`peer${p.complete ? ' complete' : ''}${p.origin ? ' origin' : ''}`} data-complete={String(p.complete)}>
      <title>
        {p.origin ? 'origin seed' : 'agent'} {p.address}: {Math.round(p.progress * 100)}%
      </title>
      <circle cx={x} cy={y} r={r} />
      {!p.complete && <path d={arc} class="progress" />}
    </g>
  );
}
