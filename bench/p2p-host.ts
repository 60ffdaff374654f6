// A benchmark host process (forked by bench/p2p.ts): runs several agents in one process, or plain HTTP pullers,
// and on "go" pulls one blob through each, reporting when each pull finished.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentSchema } from '../core/config.js';
import { createLogger } from '../core/log.js';
import { startAgent, type RunningAgent } from '../p2p-agent/run.js';

export type HostRequest =
  | { kind: 'start'; mode: 'p2p' | 'direct'; count: number; origin: string; stallMs?: number; peerIp?: string; idc?: string; dataDir?: string }
  | { kind: 'go'; path: string; size: number; digest?: string }
  | { kind: 'stop' };

export type HostReply =
  | { kind: 'ready' }
  | { kind: 'done'; times: number[]; failures: string[]; fromPeers: number; fromSeed: number; fromWebSeed: number; cpuMs: number; userMs: number }
  | { kind: 'error'; message: string };

const send = (m: HostReply) => process.send!(m);
let agents: RunningAgent[] = [];
let dirs: string[] = [];
let mode: 'p2p' | 'direct' = 'direct';
let count = 0;
let origin = '';

process.on('message', (m: HostRequest) => {
  void handle(m).catch((e: unknown) => send({ kind: 'error', message: (e as Error).stack ?? String(e) }));
});

async function handle(m: HostRequest): Promise<void> {
  if (m.kind === 'start') {
    mode = m.mode;
    count = m.count;
    origin = m.origin;
    if (mode === 'p2p') {
      const log = createLogger(process.env.BENCH_AGENT_LOG ?? 'error', { service: 'bench-agent' });
      for (let i = 0; i < count; i++) {
        // A given data dir outlives the process (a restarted agent finds its pieces there); the bench removes it.
        const dir = m.dataDir && count === 1 ? m.dataDir : await mkdtemp(join(tmpdir(), 'berth-bench-agent-'));
        if (dir !== m.dataDir) dirs.push(dir);
        const config = agentSchema.parse({
          agent_addr: '127.0.0.1:0',
          origin,
          agent_data_dir: dir,
          agent_peer_port: 0,
          ...(m.stallMs !== undefined && { agent_stall_ms: m.stallMs }),
          ...(m.peerIp && { agent_peer_ip: m.peerIp }),
          ...(m.idc && { idc: m.idc }),
        });
        // Several agents share this process: small piece memory each, no process-wide collectors.
        agents.push(await startAgent(config, log, { processMetrics: false, memoryBytes: Number(process.env.BENCH_AGENT_MEMORY_MIB ?? 16) * 1024 * 1024 }));
      }
    }
    // A real agent is a daemon that has talked to its origin before: the first fetch() in a process loads and
    // compiles undici, which with dozens of node processes starting on two cores would pass for a slow tracker.
    if (mode === 'p2p') await (await fetch(`${origin}/healthz`)).arrayBuffer();
    send({ kind: 'ready' });
  } else if (m.kind === 'go') {
    const cpu = process.cpuUsage();
    const started = Date.now();
    const bases = mode === 'p2p' ? agents.map((a) => a.url) : Array.from({ length: count }, () => origin);
    const failures: string[] = [];
    const times = await Promise.all(
      bases.map(async (base) => {
        try {
          const { status, bytes, digest } = await pull(`${base}${m.path}`, !!m.digest);
          if (status !== 200 || bytes !== m.size) failures.push(`${base}: ${status}, ${bytes} bytes`);
          else if (m.digest && digest !== m.digest) failures.push(`${base}: got ${digest}`);
        } catch (e) {
          failures.push(`${base}: ${(e as Error).message}`);
        }
        return Date.now() - started;
      }),
    );
    const c = process.cpuUsage(cpu);
    let fromPeers = 0;
    let fromSeed = 0;
    let fromWebSeed = 0;
    for (const a of agents) {
      const s = await a.agent.metrics.snapshot();
      fromPeers += s.berth_agent_bytes_from_peers_total ?? 0;
      fromSeed += s['berth_agent_bytes_from_origin_total{seed}'] ?? 0;
      fromWebSeed += s['berth_agent_bytes_from_origin_total{webseed}'] ?? 0;
    }
    if (process.env.BENCH_DIAG) for (const a of agents) console.error(JSON.stringify({ diag: a.agent.status().swarms }));
    send({ kind: 'done', times, failures, fromPeers, fromSeed, fromWebSeed, cpuMs: (c.user + c.system) / 1000, userMs: c.user / 1000 });
  } else if (m.kind === 'stop') {
    await Promise.allSettled(agents.map((a) => a.close()));
    await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
    agents = [];
    dirs = [];
    process.exit(0);
  }
}

/** A GET whose body is counted, optionally hashed (sha256, as a client checks a layer), and dropped — the same client for direct and P2P pulls. */
function pull(url: string, verify: boolean): Promise<{ status: number; bytes: number; digest?: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let bytes = 0;
      const hash = verify ? createHash('sha256') : undefined;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        hash?.update(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ...(hash && { digest: `sha256:${hash.digest('hex')}` }) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
