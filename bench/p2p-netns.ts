// bench/p2p-netns: P2P on real links. A datacenter in network namespaces (bench/lib/netns.ts, root only): the
// origin and every node its own host with one NIC capped at R in both directions, all on one switch — or two
// IDCs, two switches joined by one capped link. N nodes pull one blob of S bytes through their agents at once;
// we report the origin's egress in copies (its seed and its web seed apart), p50/p99/max completion against the
// physical bound S/R, the bytes over the inter-IDC link and the agents' CPU per GiB delivered. N direct pulls
// would share the origin's one link: their bound, N·S/R, is printed beside (running them takes that long).
//
//   npm run build && node dist/bench/p2p-netns.js [--nodes 10,25] [--size 16MiB] [--rate 8] (Mbit/s per NIC)
//        [--idcs 1|2] [--inter-idc 8] (Mbit/s) [--stall ms] [--out bench/results/p2p-netns.md]
//        [--fault none|churn|cut|flap] [--direct K] [--arp] [--prefix bp2p]
//
// Faults, during the pulls: churn kills 10 % of the node processes (agent and client) mid-download and starts
// them again on the same data dir, their client pulling again; cut takes one node's link down for 20 s; flap
// takes the origin's link down 2 s and up 4 s, five times. --direct K: K direct pulls from the origin over the
// same capped links too, for the client CPU per GiB a node spends without an agent. Every client checks the
// sha256 of what it received.
//
// Every process is stopped and every namespace (bp2p-*) deleted at the end, on failure and on Ctrl-C too.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { digestOf } from '../core/digest.js';
import { OciClient } from '../core/oci-client.js';
import { canMakeNamespaces, Datacenter, deleteNamespace, deviceBytes, namespacesNamed, qdiscDrops, setLink, tcpCounters } from './lib/netns.js';
import { Host } from './lib/p2p-hosts.js';
import type { HostReply, HostRequest } from './p2p-host.js';

const here = dirname(fileURLToPath(import.meta.url));
const berth = join(here, '..', 'cli', 'main.js');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Namespace names start with it (`--prefix`: a test's datacenter does not touch a bench run's). */
let prefix = 'bp2p';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}
function bytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(KiB|MiB|GiB)?$/.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Math.round(Number(m[1]) * ({ KiB: 1024, MiB, GiB }[m[2] ?? ''] ?? 1));
}

const nodeCounts = arg('nodes', '10').split(',').map(Number);
const size = bytes(arg('size', '16MiB'));
const rateMbit = Number(arg('rate', '8'));
const idcCount = Number(arg('idcs', '1'));
const interIdcMbit = Number(arg('inter-idc', String(rateMbit)));
const stallMs = process.argv.includes('--stall') ? Number(arg('stall', '5000')) : undefined;
const out = process.argv.includes('--out') ? arg('out', '') : undefined;
const fault = arg('fault', 'none') as 'none' | 'churn' | 'cut' | 'flap';
if (!['none', 'churn', 'cut', 'flap'].includes(fault)) throw new Error(`unknown fault ${fault}`);
const directPulls = Number(arg('direct', '0'));
/** --arp: hosts resolve each other by ARP over the capped links instead of knowing each other's MACs (see Datacenter.staticNeighbours). */
const dynamicArp = process.argv.includes('--arp');
prefix = arg('prefix', prefix);
if (!/^[a-z][a-z0-9]{1,7}$/.test(prefix)) throw new Error('--prefix: 2 to 8 lowercase letters and digits');
const rate = (rateMbit * 1e6) / 8; // bytes per second
const bound = size / rate; // S/R: one node's NIC receiving the blob once

// --- cleanup: whatever happens, no process and no namespace is left behind ---
const children = new Set<ChildProcess>();
let datacenter: Datacenter | undefined;
const runDir = mkdtempSync(join(tmpdir(), 'berth-bench-netns-'));
function cleanUp(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  datacenter?.remove();
  datacenter = undefined;
  rmSync(runDir, { recursive: true, force: true });
}
process.on('exit', cleanUp);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => process.exit(130));

function cpuMsOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error('origin exited while starting');
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) return;
    } catch {
      /* starting */
    }
    if (i > 600) throw new Error('origin did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metricsText(url: string): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return await (await fetch(`${url}/metrics`)).text();
    } catch (e) {
      if (i >= 5) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function servedBytes(url: string): Promise<{ all: number; seed: number; webseed: number }> {
  const text = await metricsText(url);
  const v = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { all: v('berth_blob_bytes_served_total'), seed: v('berth_p2p_seed_bytes_total'), webseed: v('berth_p2p_webseed_bytes_total') };
}

interface Faults {
  /** Pulls replaced by a restarted node's, by node index (churn). */
  replaced: Map<number, Promise<Extract<HostReply, { kind: 'done' }>>>;
  killed: Host[];
  /** Resolves once every fault is over (links back up). */
  done: Promise<void>;
}

/** Starts the chosen fault during the pulls (see the header). */
function injectFault(
  fault: 'none' | 'churn' | 'cut' | 'flap',
  dc: Datacenter,
  nodeHosts: { switchPort: string }[],
  originHost: { switchPort: string },
  hosts: Host[],
  pulls: Promise<unknown>[],
  restart: (i: number) => Promise<Extract<HostReply, { kind: 'done' }>>,
): Faults {
  const f: Faults = { replaced: new Map(), killed: [], done: Promise.resolve() };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const log = (what: string) => console.error(`  fault at ${((Date.now() - faultStart) / 1000).toFixed(1)} s: ${what}`);
  const faultStart = Date.now();
  if (fault === 'churn') {
    // Mid-download: 40 % of the way to the physical bound.
    const victims = nodeHosts.map((_, i) => i).filter((i) => i % 10 === 5 || (nodeHosts.length < 10 && i === 0));
    for (const i of victims) {
      let resolveReplaced!: (p: Promise<Extract<HostReply, { kind: 'done' }>>) => void;
      f.replaced.set(i, new Promise((r) => (resolveReplaced = r)));
      void pulls[i]!.catch(() => undefined);
      void (async () => {
        await sleep(0.4 * bound * 1000);
        const h = hosts[i]!;
        f.killed.push(h);
        h.child.kill('SIGKILL');
        log(`node ${i} killed`);
        await sleep(2000);
        log(`node ${i} restarting`);
        resolveReplaced(restart(i));
      })();
    }
  } else if (fault === 'cut') {
    const port = nodeHosts[1 % nodeHosts.length]!.switchPort;
    f.done = (async () => {
      await sleep(0.3 * bound * 1000);
      setLink(dc.switchNs, port, false);
      log('node 1 link down');
      await sleep(20_000);
      setLink(dc.switchNs, port, true);
      log('node 1 link up');
    })();
  } else if (fault === 'flap') {
    f.done = (async () => {
      await sleep(2000);
      for (let k = 0; k < 5; k++) {
        setLink(dc.switchNs, originHost.switchPort, false);
        await sleep(2000);
        setLink(dc.switchNs, originHost.switchPort, true);
        await sleep(4000);
      }
      log('origin link flapped 5 times (2 s down, 4 s up)');
    })();
  }
  return f;
}

/** Drops at every capped NIC's queue and the TCP counters of every host, summed. */
function network(dc: Datacenter): { drops: number; txBytes: number; synRetrans: number; listenOverflows: number } {
  const n = { drops: qdiscDrops(dc.switchNs), txBytes: 0, synRetrans: 0, listenOverflows: 0 };
  for (const h of dc.hosts) {
    n.drops += qdiscDrops(h.ns);
    n.txBytes += deviceBytes(h.ns, 'eth0').tx;
    const c = tcpCounters(h.ns);
    n.synRetrans += c['TcpExt.TCPSynRetrans'] ?? 0;
    n.listenOverflows += c['TcpExt.ListenOverflows'] ?? 0;
  }
  return n;
}

interface Row {
  nodes: number;
  copies: number;
  seed: number;
  webSeed: number;
  nicCopies: number;
  p50: number;
  p99: number;
  max: number;
  /** Copies into IDC a and into IDC b over the inter-IDC link. */
  interIdc?: [number, number];
  fromPeersPct: number;
  failures: number;
  agentCpuPerGiB: number;
  originCpuS: number;
  load: string;
}

async function scenario(nodes: number, mode: 'p2p' | 'direct' = 'p2p'): Promise<Row> {
  const idcs = idcCount > 1 ? ['a', 'b'] : ['a'];
  const dc = new Datacenter({ prefix, nicBitsPerSecond: rateMbit * 1e6, idcs, interIdcBitsPerSecond: interIdcMbit * 1e6 });
  datacenter = dc;
  const originHost = dc.addHost('o', 'a');
  const mgmt = dc.manage(originHost);
  const nodeHosts = Array.from({ length: nodes }, (_, i) => dc.addHost(`n${i}`, idcs[i % idcs.length]!));
  if (!dynamicArp) dc.staticNeighbours();

  const originDir = join(runDir, `origin-${nodes}`);
  // The origin is a host of its own in a real deployment: here it runs at a higher priority than the nodes, so
  // 2 shared cores starving it does not pass for a scheduling problem (its CPU time is reported).
  const origin = spawn('nice', ['-n', '-5', 'ip', 'netns', 'exec', originHost.ns, process.execPath, berth, 'serve'], {
    env: {
      ...process.env,
      BERTH_AUTH: 'none',
      BERTH_ADDR: '0.0.0.0:5000',
      BERTH_DATA_DIR: originDir,
      BERTH_LOG_LEVEL: process.env.BENCH_ORIGIN_LOG ?? 'warn',
      BERTH_IDC: 'a',
      BERTH_P2P_SEED_IP: originHost.address,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(origin);
  const adminUrl = `http://${mgmt.hostAddress}:5000`;
  const originUrl = `http://${originHost.address}:5000`;
  await waitHealthy(adminUrl, origin);

  // A fresh blob, uploaded and hashed into metainfo over the management link, so the pulls measure distribution.
  const layer = randomBytes(size);
  const digest = digestOf(layer);
  const repo = 'bench/p2p';
  await new OciClient({ baseUrl: adminUrl }).uploadBlob(repo, digest, layer.length, async (o) => Readable.from([layer.subarray(o)]));
  await (await fetch(`${adminUrl}/p2p/v1/blobs/${digest}/torrent?repository=${repo}`)).arrayBuffer();

  const startHost = async (i: number): Promise<Host> => {
    const host = new Host(nodeHosts[i]!.ns, { ...process.env, TMPDIR: runDir });
    children.add(host.child);
    const dataDir = join(runDir, `agent-${nodes}-${i}`);
    mkdirSync(dataDir, { recursive: true });
    await host.ask({ kind: 'start', mode, count: 1, origin: originUrl, stallMs, peerIp: nodeHosts[i]!.address, idc: nodeHosts[i]!.idc, dataDir });
    return host;
  };
  // Every agent started and listening before any pull; then a moment for the machine to settle.
  const hosts = await Promise.all(nodeHosts.map((_, i) => startHost(i)));
  await new Promise((r) => setTimeout(r, 2000));
  const before = await servedBytes(adminUrl);
  const nic0 = deviceBytes(originHost.ns, 'eth0').tx;
  const net0 = network(dc);
  const inter0 = dc.interIdcDevice ? deviceBytes(dc.switchNs, dc.interIdcDevice) : undefined;
  const originCpu0 = cpuMsOf(origin.pid!);
  const load = loadavg()[0]!.toFixed(1);
  // The origin's link over time: when did it stop sending (its one copy out, or still busy at the end)?
  const started = Date.now();
  const samples: [number, number][] = [];
  const sampler = setInterval(() => samples.push([(Date.now() - started) / 1000, deviceBytes(originHost.ns, 'eth0').tx - nic0]), 500);
  type Done = Extract<HostReply, { kind: 'done' }>;
  const go: HostRequest = { kind: 'go', path: `/v2/${repo}/blobs/${digest}`, size, digest };
  const pulls: Promise<Done>[] = hosts.map((h) => h.ask(go) as Promise<Done>);
  const faults = injectFault(mode === 'p2p' ? fault : 'none', dc, nodeHosts, originHost, hosts, pulls, async (i) => {
    // The restarted node: its agent on the same data dir, its client pulling again; times from the row's start.
    const host = await startHost(i);
    hosts[i] = host;
    const offset = Date.now() - started;
    const r = (await host.ask(go)) as Done;
    return { ...r, times: r.times.map((t) => t + offset) };
  });
  const replies = await Promise.all(pulls.map((p, i) => faults.replaced.get(i) ?? p));
  await faults.done;
  clearInterval(sampler);
  const after = await servedBytes(adminUrl);
  const nic1 = deviceBytes(originHost.ns, 'eth0').tx;
  const net1 = network(dc);
  const unresolved = dc.unresolvedNeighbours();
  const inter1 = dc.interIdcDevice ? deviceBytes(dc.switchNs, dc.interIdcDevice) : undefined;
  const originCpuS = (cpuMsOf(origin.pid!) - originCpu0) / 1000;

  await Promise.all(hosts.map((h) => h.stop()));
  for (const h of faults.killed) children.delete(h.child);
  origin.kill('SIGTERM');
  await new Promise((r) => (origin.exitCode !== null ? r(undefined) : origin.once('exit', r)));
  for (const h of hosts) children.delete(h.child);
  children.delete(origin);
  dc.remove();
  datacenter = undefined;

  const times = replies.flatMap((r) => r.times).sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)]! / 1000;
  const failures = replies.flatMap((r) => r.failures);
  if (failures.length) console.error(`  ${failures.length} failed pulls, e.g. ${failures.slice(0, 3).join('; ')}`);
  const sum = (f: (r: Extract<HostReply, { kind: 'done' }>) => number) => replies.reduce((s, r) => s + f(r), 0);
  const fromPeers = sum((r) => r.fromPeers);
  const agentSeed = sum((r) => r.fromSeed);
  const agentWebSeed = sum((r) => r.fromWebSeed);
  const sent = nic1 - nic0;
  const busyUntil = samples.find(([, b]) => b >= 0.95 * sent)?.[0] ?? 0;
  const half = samples.find(([, b]) => b >= 0.5 * sent)?.[0] ?? 0;
  console.error(`  origin NIC: half its bytes out at ${half.toFixed(1)} s, 95 % at ${busyUntil.toFixed(1)} s (its link alone: one copy in ${bound.toFixed(1)} s)`);
  const d = (k: keyof typeof net0) => net1[k] - net0[k];
  console.error(
    `  network: ${d('drops')} packets dropped at full NIC queues, SYN retransmits ${d('synRetrans')}, listen overflows ${d('listenOverflows')}, unresolved neighbours at the end ${unresolved}${dynamicArp ? ' (ARP)' : ' (static neighbours)'}, all NICs sent ${(d('txBytes') / size).toFixed(1)} copies for ${nodes} delivered`,
  );
  const wallS = times[times.length - 1]! / 1000;
  console.error(
    `  agent CPU: user ${(sum((r) => r.userMs) / 1000).toFixed(1)} s, system ${(sum((r) => r.cpuMs - r.userMs) / 1000).toFixed(1)} s; ${(sum((r) => r.cpuMs) / 1000 / wallS).toFixed(2)} of ${cpus().length} cores over the ${wallS.toFixed(1)} s to the last node`,
  );
  if (idcs.length > 1) {
    // Per IDC: which side is slow, and who fell back to the web seed.
    const perIdc = idcs.map((idc) => {
      const t = replies.flatMap((r, i) => (nodeHosts[i]!.idc === idc ? r.times : [])).sort((a, b) => a - b);
      return `${idc}: p50 ${(t[Math.ceil(t.length / 2) - 1]! / 1000).toFixed(1)} s, max ${(t[t.length - 1]! / 1000).toFixed(1)} s`;
    });
    console.error(`  per IDC: ${perIdc.join('; ')}`);
  }
  const webSeeded = replies.flatMap((r, i) => (r.fromWebSeed > 0 ? [`n${i}${idcs.length > 1 ? `/${nodeHosts[i]!.idc}` : ''} ${(r.fromWebSeed / MiB).toFixed(1)} MiB`] : []));
  if (webSeeded.length) console.error(`  web seed used by: ${webSeeded.join(', ')}`);
  console.error(`  agents counted: from peers ${(fromPeers / size).toFixed(2)} copies, from the origin's seed ${(agentSeed / size).toFixed(2)}, web seed ${(agentWebSeed / size).toFixed(2)}`);
  return {
    nodes,
    copies: (after.all - before.all) / size,
    seed: (after.seed - before.seed) / size,
    webSeed: (after.webseed - before.webseed) / size,
    nicCopies: (nic1 - nic0) / size,
    p50: q(50),
    p99: q(99),
    max: times[times.length - 1]! / 1000,
    ...(inter0 && inter1 && { interIdc: [(inter1.rx - inter0.rx) / size, (inter1.tx - inter0.tx) / size] as [number, number] }),
    fromPeersPct: (100 * fromPeers) / (nodes * size),
    failures: failures.length,
    agentCpuPerGiB: sum((r) => r.cpuMs) / 1000 / ((nodes * size) / GiB),
    originCpuS,
    load: `${load} → ${loadavg()[0]!.toFixed(1)}`,
  };
}

if (!canMakeNamespaces()) {
  console.error('bench/p2p-netns needs root (network namespaces)');
  process.exit(2);
}
// A run killed with SIGKILL cannot clean up after itself: its namespaces go now.
for (const ns of namespacesNamed(`${prefix}-`)) deleteNamespace(ns);

const title = `bench/p2p-netns: ${size / MiB} MiB blob, NIC cap R = ${rateMbit} Mbit/s both ways, S/R = ${bound.toFixed(1)} s, ${idcCount > 1 ? `2 IDCs joined by ${interIdcMbit} Mbit/s, ` : ''}${cpus().length} CPUs, agent stall time ${stallMs ?? 'default'} ms, fault ${fault}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`;
const header = `| nodes | origin egress (copies) | origin NIC tx (copies) | p50 s (×S/R) | p99 s (×S/R) | max s (×S/R) | direct bound N·S/R s |${idcCount > 1 ? ' inter-IDC (copies) |' : ''} from peers | failed | agent CPU s/GiB | origin CPU s | load 1m |`;
const lines = [title, '', header, `|${'---|'.repeat(header.split('|').length - 2)}`];
for (const l of lines) console.log(l);
if (out) appendFileSync(out, `\n${lines.join('\n')}\n`);
const x = (s: number) => `${s.toFixed(1)} (${(s / bound).toFixed(2)}×)`;
try {
  const uptime = () => console.error(`  uptime: ${execFileSync('uptime').toString().trim()}`);
  for (const nodes of nodeCounts) {
    uptime();
    const r = await scenario(nodes);
    uptime();
    const line = `| ${r.nodes} | ${r.copies.toFixed(2)} (seed ${r.seed.toFixed(2)}, web seed ${r.webSeed.toFixed(2)}) | ${r.nicCopies.toFixed(2)} | ${x(r.p50)} | ${x(r.p99)} | ${x(r.max)} | ${(r.nodes * bound).toFixed(0)} |${r.interIdc !== undefined ? ` into a ${r.interIdc[0].toFixed(2)}, into b ${r.interIdc[1].toFixed(2)} |` : ''} ${r.fromPeersPct.toFixed(0)} % | ${r.failures} | ${r.agentCpuPerGiB.toFixed(1)} | ${r.originCpuS.toFixed(1)} | ${r.load} |`;
    console.log(line);
    if (out) appendFileSync(out, `${line}\n`);
  }
  if (directPulls > 0) {
    uptime();
    const r = await scenario(directPulls, 'direct');
    uptime();
    const line = `| ${r.nodes} direct pulls | ${r.copies.toFixed(2)} | ${r.nicCopies.toFixed(2)} | ${x(r.p50)} | ${x(r.p99)} | ${x(r.max)} | ${(r.nodes * bound).toFixed(0)} |${idcCount > 1 ? ' – |' : ''} – | ${r.failures} | ${r.agentCpuPerGiB.toFixed(1)} (client) | ${r.originCpuS.toFixed(1)} | ${r.load} |`;
    console.log(line);
    if (out) appendFileSync(out, `${line}\n`);
  }
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  cleanUp();
}
process.exit();
