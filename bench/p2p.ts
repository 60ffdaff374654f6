// bench/p2p: N nodes pull one 64 MiB layer at once — through agents (P2P) or straight from the origin — and we
// print the origin's egress in copies of the layer and the p50/p99/max completion times. Run twice: uncapped
// (on one machine the CPU is the limit), and with the origin capped (BERTH_EGRESS_LIMIT) as a real link would be.
//
//   npm run build && node dist/bench/p2p.js [--agents 50,100,200] [--size 64MiB] [--limit 100MiB]
//                                           [--per-host 10] [--modes direct,p2p] [--caps none,limit] [--stall ms]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { digestOf } from '../core/digest.js';
import { OciClient } from '../core/oci-client.js';
import { Host } from './lib/p2p-hosts.js';
import type { HostReply } from './p2p-host.js';

const here = dirname(fileURLToPath(import.meta.url));
const berth = join(here, '..', 'cli', 'main.js');
const MiB = 1024 * 1024;

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}
const sizes: Record<string, number> = { KiB: 1024, MiB, GiB: 1024 * MiB };
function bytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(KiB|MiB|GiB)?(?:\/s)?$/.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Math.round(Number(m[1]) * (sizes[m[2] ?? ''] ?? 1));
}

const agentCounts = arg('agents', '50,100,200').split(',').map(Number);
const layerSize = bytes(arg('size', '64MiB'));
const limit = bytes(arg('limit', '100MiB'));
const perHost = Number(arg('per-host', '10'));
const modes = arg('modes', 'direct,p2p').split(',') as ('direct' | 'p2p')[];
const caps = arg('caps', 'none,limit').split(',');
/** The agents' stall time (BERTH_AGENT_STALL_MS); default: the agent's own default. */
const stallMs = process.argv.includes('--stall') ? Number(arg('stall', '5000')) : undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** utime + stime of a process and its threads, ms (Linux). */
function cpuMsOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

interface Origin {
  url: string;
  child: ChildProcess;
  dir: string;
  stop(): Promise<void>;
}

async function startOrigin(egressLimit: number): Promise<Origin> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-origin-'));
  const child = spawn(process.execPath, [berth, 'serve'], {
    env: { ...process.env, BERTH_AUTH: 'none', BERTH_ADDR: `127.0.0.1:${port}`, BERTH_DATA_DIR: dir, BERTH_LOG_LEVEL: 'warn', BERTH_EGRESS_LIMIT: String(egressLimit) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {
      /* starting */
    }
    if (i > 600) throw new Error('origin did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    child,
    dir,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The origin's blob bytes sent: in all, by its seed, by its web seed. */
async function servedBytes(origin: string): Promise<{ all: number; seed: number; webseed: number }> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const v = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { all: v('berth_blob_bytes_served_total'), seed: v('berth_p2p_seed_bytes_total'), webseed: v('berth_p2p_webseed_bytes_total') };
}

interface Row {
  nodes: number;
  mode: string;
  cap: string;
  copies: number;
  /** Of which: the origin's seed, its web seed (agents' fallback). */
  seedCopies: number;
  webSeedCopies: number;
  p50: number;
  p99: number;
  max: number;
  fromPeersPct: number;
  failures: number;
  cpuS: number;
  load: string;
}

async function scenario(origin: Origin, capLabel: string, nodes: number, mode: 'direct' | 'p2p'): Promise<Row> {
  // A fresh layer per scenario: no agent or origin cache carries over.
  const layer = randomBytes(layerSize);
  const digest = digestOf(layer);
  const repo = 'bench/p2p';
  await new OciClient({ baseUrl: origin.url }).uploadBlob(repo, digest, layer.length, async (o) => Readable.from([layer.subarray(o)]));
  if (mode === 'p2p') {
    // Metainfo is computed on first use; do it now so the pulls measure distribution, not hashing at the origin.
    const r = await fetch(`${origin.url}/p2p/v1/blobs/${digest}/torrent?repository=${repo}`);
    await r.arrayBuffer();
  }
  const hosts: Host[] = [];
  const per = mode === 'p2p' ? perHost : Math.max(perHost, Math.ceil(nodes / 8));
  for (let left = nodes; left > 0; left -= per) hosts.push(new Host());
  await Promise.all(hosts.map((h, i) => h.ask({ kind: 'start', mode, count: Math.min(per, nodes - i * per), origin: origin.url, stallMs })));
  const pids = [origin.child.pid!, ...hosts.map((h) => h.child.pid!)];
  const cpu0 = pids.reduce((s, p) => s + cpuMsOf(p), 0);
  const before = await servedBytes(origin.url);
  const load = loadavg()[0]!.toFixed(1);
  const replies = (await Promise.all(hosts.map((h) => h.ask({ kind: 'go', path: `/v2/${repo}/blobs/${digest}`, size: layerSize })))) as Extract<HostReply, { kind: 'done' }>[];
  const cpu1 = pids.reduce((s, p) => s + cpuMsOf(p), 0);
  const after = await servedBytes(origin.url);
  const served = after.all - before.all;
  await Promise.all(hosts.map((h) => h.stop()));
  const times = replies.flatMap((r) => r.times).sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)]!;
  const failures = replies.flatMap((r) => r.failures);
  if (failures.length) console.error(`  ${failures.length} failed pulls, e.g. ${failures.slice(0, 3).join('; ')}`);
  const fromPeers = replies.reduce((s, r) => s + r.fromPeers, 0);
  return {
    nodes,
    mode,
    cap: capLabel,
    copies: served / layerSize,
    seedCopies: (after.seed - before.seed) / layerSize,
    webSeedCopies: (after.webseed - before.webseed) / layerSize,
    p50: q(50) / 1000,
    p99: q(99) / 1000,
    max: times[times.length - 1]! / 1000,
    fromPeersPct: mode === 'p2p' ? (100 * fromPeers) / (nodes * layerSize) : 0,
    failures: failures.length,
    cpuS: (cpu1 - cpu0) / 1000,
    load: `${load} → ${loadavg()[0]!.toFixed(1)}`,
  };
}

const rows: Row[] = [];
const header = '| nodes | mode | origin cap | origin egress (copies) | p50 s | p99 s | max s | from peers | failed | CPU s | load 1m (before → after) |';
console.log(
  `bench/p2p: ${layerSize / MiB} MiB layer, ${cpus().length} CPUs, ${perHost} agents per host process, agent stall time ${stallMs ?? 'default'} ms, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
);
console.log(header);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const cap of caps) {
  const egress = cap === 'limit' ? limit : 0;
  const capLabel = egress ? `${egress / MiB} MiB/s` : 'none';
  const origin = await startOrigin(egress);
  try {
    for (const nodes of agentCounts) {
      for (const mode of modes) {
        const r = await scenario(origin, capLabel, nodes, mode);
        rows.push(r);
        console.log(
          `| ${r.nodes} | ${r.mode} | ${r.cap} | ${r.copies.toFixed(2)}${r.mode === 'p2p' ? ` (seed ${r.seedCopies.toFixed(2)}, web seed ${r.webSeedCopies.toFixed(2)})` : ''} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.mode === 'p2p' ? `${r.fromPeersPct.toFixed(0)} %` : '–'} | ${r.failures} | ${r.cpuS.toFixed(0)} | ${r.load} |`,
        );
      }
    }
  } finally {
    await origin.stop();
  }
}
